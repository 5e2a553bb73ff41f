package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultCacheDir(t *testing.T) {
	t.Parallel()
	// The same precedence as buf's own.
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"BUF_CACHE_DIR wins", map[string]string{"BUF_CACHE_DIR": "/b", "XDG_CACHE_HOME": "/x", "HOME": "/h"}, "/b"},
		{"then XDG_CACHE_HOME", map[string]string{"XDG_CACHE_HOME": "/x", "HOME": "/h"}, filepath.Join("/x", "buf")},
		{"then HOME", map[string]string{"HOME": "/h"}, filepath.Join("/h", ".cache", "buf")},
	}
	for _, tt := range tests {
		if got := defaultCacheDir(func(k string) string { return tt.env[k] }); got != tt.want {
			t.Errorf("%s: defaultCacheDir = %q, want %q", tt.name, got, tt.want)
		}
		cfg, err := parseFlags(nil, func(k string) string { return tt.env[k] })
		if err != nil || cfg.cacheDir != tt.want {
			t.Errorf("%s: parseFlags = %+v, %v; want cache dir %q", tt.name, cfg, err, tt.want)
		}
	}
	// With none of them, the OS's user cache directory, if it has one.
	if d, err := os.UserCacheDir(); err == nil {
		if got := defaultCacheDir(func(string) string { return "" }); got != filepath.Join(d, "buf") {
			t.Errorf("no environment: %q, want %q", got, filepath.Join(d, "buf"))
		}
	}
}

// fakeGo writes an executable standing in for `go mod download -json`.
func fakeGo(t *testing.T, stdout string, exit int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "go")
	script := "#!/bin/sh\nprintf '%s' '" + stdout + "'\necho 'go: something went wrong' >&2\nexit " + string(rune('0'+exit)) + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGoModDownloadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, stdout string
		exit         int
		want         string
	}{
		// go failed: its own message, not a JSON complaint.
		{"go fails without JSON", "not json", 1, "go mod download m@v1: exit status 1: go: something went wrong"},
		{"go reports an error", `{"Error": "module not found"}`, 1, "go mod download m@v1: module not found"},
		// go succeeded but printed garbage.
		{"bad JSON", "not json", 0, "go mod download m@v1: invalid character"},
	}
	for _, tt := range tests {
		_, err := goModDownload(t.Context(), fakeGo(t, tt.stdout, tt.exit), "m@v1")
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one starting %q", tt.name, err, tt.want)
		}
	}
	dir, err := goModDownload(t.Context(), fakeGo(t, `{"Dir": "/mod/cache/m@v1"}`, 0), "m@v1")
	if err != nil || dir != "/mod/cache/m@v1" {
		t.Errorf("success: %q, %v", dir, err)
	}
}
