package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	pvName   = "buf.build/bufbuild/protovalidate"
	pvCommit = "50325440f8f24053b047484a6bf60b76"
)

// TestMain keeps the seeder's `go mod download` off the network: the Go
// module it reads (buf.lock's source, github.com/bufbuild/protovalidate)
// must already be in the module cache, put there by `make deps`, which
// `make test` runs first. Without it the tests fail saying the lookup is
// disabled, rather than depending on the network.
func TestMain(m *testing.M) {
	os.Setenv("GOPROXY", "off")
	os.Exit(m.Run())
}

// The repository's own buf.lock: the entries the seeder must handle.
func repoLock(t *testing.T) bufLock {
	t.Helper()
	lock, err := readLock(filepath.Join("..", "..", "buf.lock"))
	if err != nil {
		t.Fatal(err)
	}
	return lock
}

func writeLock(t *testing.T, deps ...lockDep) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("version: v2\ndeps:\n")
	for _, d := range deps {
		b.WriteString("  - name: " + d.Name + "\n    commit: " + d.Commit + "\n    digest: " + d.Digest + "\n")
	}
	dir := t.TempDir()
	// The workspace buf verifies against: the repository's module with this lock.
	for _, f := range []string{"buf.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "..", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Every module of the workspace buf.yaml declares: the contract and
	// the vendored googleapis.
	for _, m := range []string{"proto", filepath.Join("third_party", "googleapis")} {
		if err := os.CopyFS(filepath.Join(dir, m), os.DirFS(filepath.Join("..", "..", m))); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "buf.lock")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func seed(t *testing.T, lockPath, cacheDir string, withBuf bool) (string, error) {
	t.Helper()
	args := []string{"-lock", lockPath, "-cache-dir", cacheDir}
	if withBuf {
		bufBin, err := filepath.Abs(filepath.Join("..", "..", "bin", "buf"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(bufBin); err != nil {
			t.Fatalf("bin/buf is missing: run `make tools` first (%v)", err)
		}
		args = append(args, "-buf", bufBin)
	}
	var out bytes.Buffer
	err := run(t.Context(), args, func(string) string { return "" }, &out)
	return out.String(), err
}

func TestSeedsCacheThatBufAccepts(t *testing.T) {
	t.Parallel()
	lock := repoLock(t)
	lockPath := writeLock(t, lock.Deps...)
	cache := t.TempDir()

	out, err := seed(t, lockPath, cache, true)
	if err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	if !strings.Contains(out, "seeded "+pvName) || !strings.Contains(out, "buf builds") {
		t.Errorf("unexpected output:\n%s", out)
	}
	dep := lockDep{Name: pvName, Commit: pvCommit}
	for _, p := range []string{
		filepath.Join(moduleDir(cache, dep), "module.yaml"),
		filepath.Join(moduleDir(cache, dep), "files", "buf", "validate", "validate.proto"),
		commitFile(cache, dep),
	} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("expected %s in the cache: %v", p, err)
		}
	}

	// A second run finds everything in place and writes nothing.
	out, err = seed(t, lockPath, cache, false)
	if err != nil || !strings.Contains(out, "already cached "+pvName) {
		t.Fatalf("second run: %v\n%s", err, out)
	}

	// A tampered cache entry is replaced, and buf accepts the result.
	proto := filepath.Join(moduleDir(cache, dep), "files", "buf", "validate", "validate.proto")
	if err := os.WriteFile(proto, []byte("// tampered\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = seed(t, lockPath, cache, true)
	if err != nil || !strings.Contains(out, "seeded "+pvName) {
		t.Fatalf("repair run: %v\n%s", err, out)
	}
}

func TestRejectsDigestMismatch(t *testing.T) {
	t.Parallel()
	bad := lockDep{Name: pvName, Commit: pvCommit, Digest: "b5:" + strings.Repeat("ab", 64)}
	lockPath := writeLock(t, bad)
	cache := t.TempDir()
	out, err := seed(t, lockPath, cache, false)
	if err == nil {
		t.Fatalf("seeding with a wrong digest succeeded:\n%s", out)
	}
	for _, want := range []string{"digest mismatch", pvName, pvCommit, bad.Digest, repoLock(t).Deps[0].Digest} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, statErr := os.Stat(moduleDir(cache, bad)); !os.IsNotExist(statErr) {
		t.Errorf("a mismatching module was written to the cache")
	}
}

func TestRejectsUnknownEntry(t *testing.T) {
	t.Parallel()
	unknown := lockDep{Name: "buf.build/acme/unknown", Commit: strings.Repeat("0", 32), Digest: "b5:00"}
	_, err := seed(t, writeLock(t, unknown), t.TempDir(), false)
	if err == nil {
		t.Fatal("seeding an unknown buf.lock entry succeeded")
	}
	for _, want := range []string{"buf.build/acme/unknown", unknown.Commit, "no known offline source"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// A dependency declared in buf.yaml but missing from buf.lock: the seeder
// seeds what buf.lock pins, and buf's verification names the real cause.
func TestReportsDependencyMissingFromLock(t *testing.T) {
	t.Parallel()
	lockPath := writeLock(t, repoLock(t).Deps...)
	yamlPath := filepath.Join(filepath.Dir(lockPath), "buf.yaml")
	data, err := os.ReadFile(yamlPath)
	if err != nil {
		t.Fatal(err)
	}
	const pin = "  - buf.build/bufbuild/protovalidate:v1.2.0\n"
	if !strings.Contains(string(data), pin) {
		t.Fatalf("buf.yaml no longer pins %q: update this test", pin)
	}
	data = []byte(strings.Replace(string(data), pin, pin+"  - buf.build/googleapis/googleapis\n", 1))
	if err := os.WriteFile(yamlPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := seed(t, lockPath, t.TempDir(), true)
	if err == nil {
		t.Fatalf("seeding succeeded with a dependency missing from buf.lock:\n%s", out)
	}
	for _, want := range []string{"buf.lock does not pin", "buf.build/googleapis/googleapis", "buf dep update"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "pinned version") {
		t.Errorf("error %q blames the buf version", err)
	}
}

// TestReportsBufFailure: when buf cannot build the workspace for another
// reason (here a syntax error in a proto), the error carries buf's message
// and the hint about the cache layout, and blames no missing lock entry.
func TestReportsBufFailure(t *testing.T) {
	t.Parallel()
	lockPath := writeLock(t, repoLock(t).Deps...)
	broken := filepath.Join(filepath.Dir(lockPath), "proto", "broken.proto")
	if err := os.WriteFile(broken, []byte("syntax = \"proto3\";\nmessage {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := seed(t, lockPath, t.TempDir(), true)
	if err == nil {
		t.Fatalf("seeding succeeded with a proto buf cannot build:\n%s", out)
	}
	for _, want := range []string{"cannot build", "from the seeded cache", "broken.proto", "check buf is the pinned version"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "buf.lock does not pin") {
		t.Errorf("error %q blames buf.lock", err)
	}
}

func TestReadLockRejectsMalformedLocks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, content, want string
	}{
		{"not yaml", "version: [v2\n", "buf.lock"},
		{"v1 lock", "version: v1\n", `version "v1" is not supported`},
		{"bad name", "version: v2\ndeps:\n  - name: protovalidate\n    commit: " + pvCommit + "\n    digest: b5:00\n", "is not registry/owner/module"},
		{"bad commit", "version: v2\ndeps:\n  - name: " + pvName + "\n    commit: main\n    digest: b5:00\n", "not a 32-digit hex id"},
		{"b4 digest", "version: v2\ndeps:\n  - name: " + pvName + "\n    commit: " + pvCommit + "\n    digest: shake256:00\n", "not a b5 digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "buf.lock")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := readLock(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("readLock() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestB5DigestFormat(t *testing.T) {
	t.Parallel()
	a := b5Digest(map[string][]byte{"a.proto": []byte("x"), "b.proto": []byte("y")})
	if !strings.HasPrefix(a, "b5:") || len(a) != len("b5:")+128 {
		t.Fatalf("b5Digest = %q, want b5: and 128 hex digits", a)
	}
	if b := b5Digest(map[string][]byte{"b.proto": []byte("y"), "a.proto": []byte("x")}); a != b {
		t.Errorf("digest depends on map order: %s vs %s", a, b)
	}
	if c := b5Digest(map[string][]byte{"a.proto": []byte("y"), "b.proto": []byte("x")}); a == c {
		t.Errorf("digest ignores which file holds which content")
	}
}
