package gobuild

import (
	"os/exec"
	"testing"

	"github.com/acme/user-service/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// TestBuiltOnce: a command is built once per process and flavour, and runs.
func TestBuiltOnce(t *testing.T) {
	t.Parallel()
	a, b := Binary(t, "testdata/hello"), Binary(t, "./testdata/hello")
	if a != b {
		t.Errorf("two builds of one command: %s, %s", a, b)
	}
	if plain := PlainBinary(t, "testdata/hello"); plain == a && raceEnabled {
		t.Error("the plain build is the race build")
	}
	out, err := exec.Command(a).Output()
	if err != nil || string(out) != "hello\n" {
		t.Fatalf("%s: %q, %v", a, out, err)
	}
}
