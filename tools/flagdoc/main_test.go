package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeBin writes shell scripts standing in for the binaries.
func fakeBin(t *testing.T, scripts map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRender(t *testing.T) {
	t.Parallel()
	bin := fakeBin(t, map[string]string{
		// Prints its arguments and a variable it must not see.
		"srv": `echo "Usage: srv $*"; echo "home=[$HOME]"`,
		"cli": `echo "Usage: cli"`,
	})
	out := filepath.Join(t.TempDir(), "flags.md")
	if err := run(t.Context(), []string{"-bin", bin, "-o", out, "srv", "srv migrate", "cli"}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# Command-line flags\n",
		"Do not edit",
		"- [`srv`](#srv)\n- [`srv migrate`](#srv-migrate)\n- [`cli`](#cli)\n",
		"\n## srv\n\n```text\nUsage: srv --help\nhome=[]\n```\n",
		"\n## srv migrate\n\n```text\nUsage: srv migrate --help\nhome=[]\n```\n",
		"\n## cli\n\n```text\nUsage: cli\n```\n",
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("reference lacks %q:\n%s", want, got)
		}
	}
	if !strings.HasSuffix(string(got), "```\n") {
		t.Errorf("reference does not end with its last block:\n%s", got)
	}
}

// TestFailuresLeaveTheFile: a command that fails or prints nothing is an
// error naming it, and the reference already there is left as it was.
func TestFailuresLeaveTheFile(t *testing.T) {
	t.Parallel()
	bin := fakeBin(t, map[string]string{
		"ok":     `echo "Usage: ok"`,
		"broken": `echo "no such flag" >&2; exit 2`,
		"silent": `exit 0`,
		"fenced": "echo '```'",
	})
	for cmd, want := range map[string]string{
		"broken":  "broken --help: exit status 2: no such flag",
		"silent":  "silent --help printed nothing",
		"fenced":  "holds a Markdown fence",
		"missing": "missing --help:",
	} {
		out := filepath.Join(t.TempDir(), "flags.md")
		if err := os.WriteFile(out, []byte("old\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		err := run(t.Context(), []string{"-bin", bin, "-o", out, "ok", cmd})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", cmd, err, want)
		}
		if got, _ := os.ReadFile(out); string(got) != "old\n" {
			t.Errorf("%s: the file was changed to %q", cmd, got)
		}
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{nil, {"-bin", "x"}, {"-o", "y", "cmd"}, {"-bin", "x", "-o", "y"}, {"-nope"}} {
		if err := run(t.Context(), args); err == nil || !strings.Contains(err.Error(), "usage: flagdoc") {
			t.Errorf("run(%q) = %v, want the usage", args, err)
		}
	}
	bin := fakeBin(t, nil)
	if err := run(t.Context(), []string{"-bin", bin, "-o", filepath.Join(t.TempDir(), "f.md"), " "}); err == nil {
		t.Error("an empty command was accepted")
	}
}
