package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

type config struct {
	lockPath  string
	cacheDir  string
	bufBin    string
	goBin     string
	workspace string
}

func parseFlags(args []string, getenv func(string) string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("seed-buf-cache", flag.ContinueOnError)
	fs.StringVar(&cfg.lockPath, "lock", "buf.lock", "the buf.lock whose dependencies to seed")
	fs.StringVar(&cfg.cacheDir, "cache-dir", defaultCacheDir(getenv),
		"buf's cache directory (default: $BUF_CACHE_DIR, else $XDG_CACHE_HOME/buf, else ~/.cache/buf, as buf itself)")
	fs.StringVar(&cfg.bufBin, "buf", "", "if set, the buf binary that must then build the workspace from the cache")
	fs.StringVar(&cfg.goBin, "go", "go", "the go command used to fetch modules from the Go module proxy")
	if err := fs.Parse(args); err != nil {
		return cfg, errUsage
	}
	if fs.NArg() != 0 {
		return cfg, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if cfg.cacheDir == "" {
		return cfg, fmt.Errorf("no cache directory: set BUF_CACHE_DIR or -cache-dir")
	}
	abs, err := filepath.Abs(cfg.cacheDir)
	if err != nil {
		return cfg, fmt.Errorf("cache dir: %w", err)
	}
	cfg.cacheDir = abs
	cfg.workspace = filepath.Dir(cfg.lockPath)
	return cfg, nil
}

// defaultCacheDir mirrors where buf looks for its cache.
func defaultCacheDir(getenv func(string) string) string {
	if d := getenv("BUF_CACHE_DIR"); d != "" {
		return d
	}
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "buf")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".cache", "buf")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "buf")
	}
	return ""
}
