package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Layout of buf's module cache, as read by buf v1.75.0 (cache format "v3"):
//
//	v3/modules/b5/<registry>/<owner>/<module>/<commit>/module.yaml
//	v3/modules/b5/<registry>/<owner>/<module>/<commit>/files/...
//	v3/commits/b5/<registry>/<commit>.json
func moduleDir(cacheDir string, dep lockDep) string {
	registry, owner, module := dep.parts()
	return filepath.Join(cacheDir, "v3", "modules", "b5", registry, owner, module, dep.Commit)
}

func commitFile(cacheDir string, dep lockDep) string {
	registry, _, _ := dep.parts()
	return filepath.Join(cacheDir, "v3", "commits", "b5", registry, dep.Commit+".json")
}

// writeCache stores the module's files and commit record. An entry already
// present with the same digest is left alone (so a warm run does nothing);
// one with other content is replaced. It reports whether it wrote anything.
func writeCache(cacheDir string, dep lockDep, src source, files map[string][]byte) (bool, error) {
	dir := moduleDir(cacheDir, dep)
	commitPath := commitFile(cacheDir, dep)
	commit, err := commitJSON(dep, src)
	if err != nil {
		return false, err
	}
	everyFile := func(string) bool { return true }
	if cached, err := readTree(filepath.Join(dir, "files"), everyFile); err == nil && b5Digest(cached) == dep.Digest {
		if old, err := os.ReadFile(commitPath); err == nil && string(old) == string(commit) {
			return false, nil
		}
	}
	// Build the module directory beside its final place and rename it in,
	// so buf never sees a half-written module.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return false, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+dep.Commit+".tmp-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)
	for name, data := range files {
		p := filepath.Join(tmp, "files", filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return false, err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return false, err
		}
	}
	// buf treats module.yaml as the "complete" marker; write it last.
	if err := os.WriteFile(filepath.Join(tmp, "module.yaml"), []byte("version: v1\nfiles_dir: files\n"), 0o644); err != nil {
		return false, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(commitPath), 0o755); err != nil {
		return false, err
	}
	return true, writeFileAtomic(commitPath, commit)
}

func commitJSON(dep lockDep, src source) ([]byte, error) {
	_, owner, module := dep.parts()
	return json.Marshal(struct {
		Version    string `json:"version"`
		Owner      string `json:"owner"`
		Module     string `json:"module"`
		CreateTime string `json:"create_time"`
		Digest     string `json:"digest"`
	}{"v1", owner, module, src.createTime, dep.Digest})
}

// readTree reads the files below root that keep says to keep, keyed by
// their slash-separated path relative to root.
func readTree(root string, keep func(path string) bool) (map[string][]byte, error) {
	files := make(map[string][]byte)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !keep(path) {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		files[filepath.ToSlash(rel)] = data
		return err
	})
	return files, err
}

func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// verifyWithBuf has the pinned buf build the workspace from the seeded
// cache. buf checks the cached module against buf.lock's digest; any
// disagreement (a changed cache layout in a newer buf, a bad seed) fails here
// instead of later, in the middle of generate or lint.
func verifyWithBuf(ctx context.Context, cfg config) error {
	cmd := exec.CommandContext(ctx, cfg.bufBin, "build", cfg.workspace)
	cmd.Env = append(os.Environ(), "BUF_CACHE_DIR="+cfg.cacheDir)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	msg := strings.TrimSpace(string(out))
	// buf's own words for the common case: a dependency added to buf.yaml
	// without `buf dep update`. The seeder has nothing to seed for it.
	if strings.Contains(msg, "not present in buf.lock") {
		return fmt.Errorf("%s: buf.yaml declares a dependency that buf.lock does not pin, so there is nothing to seed for it:\n%s\n"+
			"pin it with `buf dep update` (needs the Buf Schema Registry), commit buf.lock, and add the new entry's source to tools/seed-buf-cache/sources.go",
			cfg.workspace, msg)
	}
	return fmt.Errorf("%s cannot build %s from the seeded cache %s: %w\n%s\n"+
		"(if buf's message is about the cache rather than the workspace, check buf is the pinned version: the cache layout is internal to buf)",
		cfg.bufBin, cfg.workspace, cfg.cacheDir, err, msg)
}
