// Package testrepo makes scratch copies of this repository for the tests of
// its CI gates, so a test can seed a defect and run the real Makefile target
// without ever touching the working tree.
package testrepo

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Root returns the repository root (the tests run two levels below it, in
// tools/<name>) and fails the test when bin/ lacks the tools.
func Root(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "buf")); err != nil {
		t.Fatalf("bin/buf is missing: run `make tools deps` first (%v)", err)
	}
	return root
}

// Copy copies the working tree's files (tracked and untracked, not ignored)
// under the given paths (all of them when none is given) into a new
// temporary directory, keeping modification times so make sees the tools
// in bin/ as up to date, and links bin/ (and node_modules/, when installed)
// to the repository's. It returns the copy's root.
func Copy(t testing.TB, root string, paths ...string) string {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"ls-files", "-co", "--exclude-standard", "-z", "--"}, paths...)
	for _, f := range strings.Split(Git(t, root, args...), "\x00") {
		if f == "" {
			continue
		}
		src := filepath.Join(root, f)
		info, err := os.Lstat(src)
		if os.IsNotExist(err) { // deleted in the working tree
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(dst, info.ModTime(), info.ModTime()); err != nil {
			t.Fatal(err)
		}
	}
	// The tools and the npm packages (protoc-gen-es, tsc) are shared with
	// the repository rather than rebuilt or reinstalled in every copy.
	if err := os.Symlink(filepath.Join(root, "bin"), filepath.Join(dir, "bin")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "node_modules")); err == nil {
		if err := os.Symlink(filepath.Join(root, "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// New is Copy made into a git repository with one commit on branch main.
func New(t testing.TB, root string) string {
	t.Helper()
	repo := Copy(t, root)
	Git(t, repo, "init", "-q", "-b", "main")
	Git(t, repo, "add", "-A")
	Git(t, repo, "commit", "-q", "-m", "baseline")
	return repo
}

// Git runs git in dir with a fixed identity and fails the test on error.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@example.com")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("git %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), stderr.String())
	}
	return out.String()
}

// Make runs `make -s ARGS...` in dir with env added to the environment and
// returns its combined output.
func Make(t testing.TB, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "make", append([]string{"-s"}, args...)...)
	cmd.Dir = dir
	// MAKEFLAGS= so that a `make test` running these tests does not pass
	// its own flags and variables down.
	cmd.Env = append(append(os.Environ(), "MAKEFLAGS=", "MAKELEVEL="), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// Edit replaces from with to in the file at path (relative to dir); from
// must occur, so an edit that silently stops applying fails the test.
func Edit(t testing.TB, dir, path, from, to string) {
	t.Helper()
	p := filepath.Join(dir, path)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(from)) {
		t.Fatalf("%s no longer contains %q: update this test", path, from)
	}
	if err := os.WriteFile(p, bytes.ReplaceAll(data, []byte(from), []byte(to)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// WriteFiles writes files (slash paths relative to dir, mapped to their
// contents) under dir, creating directories as needed.
func WriteFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
