// Package gobuild builds commands for end-to-end tests, once per test
// process however many tests ask, into a directory removed when the tests
// end (the package's TestMain must call testkit.Main).
package gobuild

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/acme/user-service/testkit"
)

// Binary builds the main package in dir (absolute, or relative to the
// test's package directory) and returns the binary's path. It is built
// with the race detector when the test binary is, so the build reuses the
// packages the test already compiled and races in the binary are found too.
// It is built from dir itself, so it works with the workspace on and off.
func Binary(tb testing.TB, dir string) string {
	tb.Helper()
	return build(tb, dir, raceEnabled)
}

// PlainBinary is Binary without the race detector, for tests that measure
// memory (the detector's shadow memory would swamp it) or load the binary
// as hard as production would.
func PlainBinary(tb testing.TB, dir string) string {
	tb.Helper()
	return build(tb, dir, false)
}

type key struct {
	dir  string
	race bool
}

type result struct {
	once sync.Once
	path string
	err  error
}

var (
	mu      sync.Mutex
	outDir  string
	results = map[key]*result{}
)

func build(tb testing.TB, dir string, race bool) string {
	tb.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		tb.Fatal(err)
	}
	k := key{abs, race}
	testkit.RequireMain(tb)
	mu.Lock()
	if outDir == "" {
		if outDir, err = os.MkdirTemp("", "gobuild-"); err != nil {
			mu.Unlock()
			tb.Fatal(err)
		}
		dir := outDir
		testkit.AtExit(tb, func() { os.RemoveAll(dir) })
	}
	r := results[k]
	if r == nil {
		r = &result{path: filepath.Join(outDir, fmt.Sprintf("%d", len(results)), filepath.Base(abs))}
		results[k] = r
	}
	mu.Unlock()
	r.once.Do(func() {
		args := []string{"build", "-o", r.path}
		if race {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, ".")...)
		cmd.Dir = abs
		if out, err := cmd.CombinedOutput(); err != nil {
			r.err = fmt.Errorf("go build %s: %v\n%s", abs, err, out)
		}
	})
	if r.err != nil {
		tb.Fatal(r.err)
	}
	return r.path
}
