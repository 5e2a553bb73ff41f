package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyTree copies the repository's vendored googleapis module into a
// scratch directory the test may damage.
func copyTree(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "..", "third_party", "googleapis")
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestRepositoryMatchesRecord(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{filepath.Join("..", "..", "third_party", "googleapis")}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "3 files match") {
		t.Errorf("output %q", out.String())
	}
}

// Each case seeds one defect the gate exists for and expects it named.
func TestGateFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   string
	}{
		{"edited file", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "google", "api", "http.proto")
			b, _ := os.ReadFile(p)
			write(t, p, append(b, "// local edit\n"...))
		}, "google/api/http.proto: sha256"},
		{"missing file", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "google", "api", "annotations.proto")); err != nil {
				t.Fatal(err)
			}
		}, "google/api/annotations.proto: listed but unreadable"},
		{"unrecorded file", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "google", "api", "extra.proto"), []byte("syntax = \"proto3\";\n"))
		}, "google/api/extra.proto: not in the provenance record"},
		{"no version", func(t *testing.T, dir string) {
			p := filepath.Join(dir, recordName)
			b, _ := os.ReadFile(p)
			write(t, p, []byte(strings.Replace(string(b), "version: 6.0.1\n", "", 1)))
		}, `no "version" line`},
		{"no record", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, recordName)); err != nil {
				t.Fatal(err)
			}
		}, "no provenance record"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyTree(t)
			if err := run([]string{dir}, &bytes.Buffer{}); err != nil {
				t.Fatalf("undamaged copy: %v", err)
			}
			tc.damage(t, dir)
			err := run([]string{dir}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func write(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
