package main

import (
	"context"
	"errors"
	"fmt"
	"io"
)

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := parseFlags(args, getenv)
	if err != nil {
		return err
	}
	lock, err := readLock(cfg.lockPath)
	if err != nil {
		return err
	}
	for _, dep := range lock.Deps {
		src, ok := sources[dep.Name+"@"+dep.Commit]
		if !ok {
			return fmt.Errorf("%s: dependency %s commit %s has no known offline source; add it to tools/seed-buf-cache/sources.go",
				cfg.lockPath, dep.Name, dep.Commit)
		}
		files, err := fetchFiles(ctx, cfg.goBin, src)
		if err != nil {
			return fmt.Errorf("%s commit %s: %w", dep.Name, dep.Commit, err)
		}
		if got := b5Digest(files); got != dep.Digest {
			return fmt.Errorf("%s: digest mismatch for %s commit %s: buf.lock says %s, files of %s@%s hash to %s",
				cfg.lockPath, dep.Name, dep.Commit, dep.Digest, src.goModule, src.goVersion, got)
		}
		written, err := writeCache(cfg.cacheDir, dep, src, files)
		if err != nil {
			return fmt.Errorf("seed %s commit %s: %w", dep.Name, dep.Commit, err)
		}
		state := "already cached"
		if written {
			state = "seeded"
		}
		fmt.Fprintf(stdout, "%s %s (%s@%s, %s)\n", state, dep.Name, src.goModule, src.goVersion, dep.Digest[:15]+"…")
	}
	if cfg.bufBin != "" {
		if err := verifyWithBuf(ctx, cfg); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "buf builds %s from the seeded cache %s\n", cfg.workspace, cfg.cacheDir)
	}
	return nil
}
