package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/acme/user-service/testkit"
	"github.com/acme/user-service/testkit/gobuild"
	"github.com/acme/user-service/testkit/pgtest"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// TestHarnessSmall runs every case at a tiny scale against the real
// user-server and PostgreSQL: the harness works end to end and prints its
// table. The figures themselves are not judged (a busy machine).
func TestHarnessSmall(t *testing.T) {
	t.Parallel()
	bin := gobuild.PlainBinary(t, "../../../services/user-server")
	url := pgtest.NewDatabase(t)
	var out strings.Builder
	err := run(t.Context(), []string{"-user-server", bin, "-out", filepath.Join(t.TempDir(), "out"), "-database-url", url,
		"-rows", "300", "-import-users", "50", "-big-import", "500", "-cached", "100", "-changes", "6", "-bulk-every", "3", "-warmup", "1"}, &out)
	t.Logf("output:\n%s", &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"alone", "bulk-update", "bulk-insert", "import"} {
		if !regexp.MustCompile(`(?m)^  ` + c + ` +6 `).MatchString(out.String()) {
			t.Errorf("no row of 6 changes for %s", c)
		}
	}
	for _, want := range []string{"Terminated sessions, 100 users cached: NOT_SERVING ", "Import of 500 users: ", "load average"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestFlagErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{},
		{"-user-server", "x", "-cases", "alone,nope"},
		{"-user-server", "x", "-rows", "10"},
		{"-user-server", "x", "-changes", "0"},
		{"-user-server", "x", "stray"},
	} {
		if err := run(t.Context(), args, &strings.Builder{}); err == nil {
			t.Errorf("run(%q) accepted", args)
		}
	}
}
