package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// run checks the module directories in args; environ is the environment
// the builds start from (GOWORK in it is overridden).
func run(ctx context.Context, args []string, environ []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("check-versions", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	workFile := fs.String("work", "", "the go.work of the workspace build (default: the go.work above the first MODULE_DIR)")
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		return errors.New("usage: check-versions [-work GO_WORK_FILE] MODULE_DIR...")
	}
	dirs := fs.Args()
	if *workFile == "" {
		found, err := findWorkFile(dirs[0])
		if err != nil {
			return err
		}
		*workFile = found
	}
	work, err := filepath.Abs(*workFile)
	if err != nil {
		return err
	}
	if _, err := os.Stat(work); err != nil {
		return fmt.Errorf("workspace file: %w", err)
	}
	tmp, err := os.MkdirTemp("", "check-versions-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var failed []string
	for _, dir := range dirs {
		name := filepath.Base(dir)
		ws, err := buildDeps(ctx, environ, dir, filepath.Join(tmp, name+"-workspace"), work)
		if err != nil {
			return err
		}
		alone, err := buildDeps(ctx, environ, dir, filepath.Join(tmp, name+"-standalone"), "off")
		if err != nil {
			return err
		}
		if diffs := compare(ws, alone); len(diffs) > 0 {
			failed = append(failed, dir)
			fmt.Fprintf(stdout, "%s: workspace and standalone builds link different modules:\n", dir)
			for _, d := range diffs {
				fmt.Fprintf(stdout, "  %s\n", d)
			}
			continue
		}
		fmt.Fprintf(stdout, "%s: workspace (%s) and standalone builds link the same %d modules\n", dir, work, len(ws))
	}
	if len(failed) > 0 {
		return fmt.Errorf("module versions differ for %s", strings.Join(failed, ", "))
	}
	return nil
}

// findWorkFile returns the go.work in dir or its nearest parent, as go
// finds it when GOWORK is unset.
func findWorkFile(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return filepath.Join(d, "go.work"), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.work in %s or above: give one with -work", abs)
		}
	}
}

// buildDeps builds the main package in dir with GOWORK=gowork (a go.work
// path, or "off") and returns its linked modules, path -> "version sum",
// from `go version -m`.
func buildDeps(ctx context.Context, environ []string, dir, out, gowork string) (map[string]string, error) {
	mode := "workspace"
	if gowork == "off" {
		mode = "standalone"
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	build.Dir = dir
	// The last GOWORK in the environment wins.
	build.Env = append(slices.Clone(environ), "GOWORK="+gowork)
	if msg, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s: %s build: %w\n%s", dir, mode, err, msg)
	}
	info, err := exec.CommandContext(ctx, "go", "version", "-m", out).Output()
	if err != nil {
		return nil, fmt.Errorf("go version -m %s: %w", out, err)
	}
	return parseDeps(info), nil
}

// parseDeps reads the dep lines of `go version -m`. A module replaced by a
// local directory (and a workspace module, which go reports as "(devel)")
// has no version to compare: both are recorded as "local".
func parseDeps(info []byte) map[string]string {
	deps := make(map[string]string)
	var last string
	sc := bufio.NewScanner(bytes.NewReader(info))
	for sc.Scan() {
		f := strings.Split(strings.TrimSpace(sc.Text()), "\t")
		if len(f) >= 3 && f[0] == "dep" {
			last = f[1]
			v := f[2]
			if len(f) > 3 && f[3] != "" {
				v += " " + f[3]
			}
			if f[2] == "(devel)" {
				v = "local"
			}
			deps[last] = v
		} else if len(f) >= 2 && f[0] == "=>" {
			if strings.HasPrefix(f[1], ".") || strings.HasPrefix(f[1], "/") {
				deps[last] = "local"
			} else if f[1] == last { // another version of the same module
				deps[last] = strings.TrimSpace(strings.Join(f[2:], " "))
			} else {
				deps[last] = strings.TrimSpace(strings.Join(f[1:], " "))
			}
		}
	}
	return deps
}

func compare(ws, alone map[string]string) []string {
	var diffs []string
	for path, v := range ws {
		if av, ok := alone[path]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: %s in the workspace, absent standalone", path, v))
		} else if av != v {
			diffs = append(diffs, fmt.Sprintf("%s: %s in the workspace, %s standalone", path, v, av))
		}
	}
	for path, v := range alone {
		if _, ok := ws[path]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: absent in the workspace, %s standalone", path, v))
		}
	}
	sort.Strings(diffs)
	return diffs
}
