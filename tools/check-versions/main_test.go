package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseDepsAndCompare(t *testing.T) {
	t.Parallel()
	workspace := parseDeps([]byte("/tmp/x: go1.26.8\n\tpath\texample.com/svc\n\tmod\texample.com/svc\t(devel)\t\n" +
		"\tdep\texample.com/gen\t(devel)\t\n" +
		"\tdep\tgoogle.golang.org/grpc\tv1.85.0\th1:aaa=\n" +
		"\tdep\tgolang.org/x/net\tv0.61.0\th1:new=\n"))
	standalone := parseDeps([]byte("/tmp/y: go1.26.8\n" +
		"\tdep\texample.com/gen\tv0.0.0\t\n\t=>\t../../gen\t(devel)\t\n" +
		"\tdep\tgoogle.golang.org/grpc\tv1.85.0\th1:aaa=\n" +
		"\tdep\tgolang.org/x/net\tv0.60.0\th1:old=\n" +
		"\tdep\tgolang.org/x/text\tv0.42.0\th1:t=\n"))
	if got := workspace["example.com/gen"]; got != "local" {
		t.Errorf("workspace module recorded as %q, want local", got)
	}
	if got := standalone["example.com/gen"]; got != "local" {
		t.Errorf("locally replaced module recorded as %q, want local", got)
	}
	got := compare(workspace, standalone)
	want := []string{
		"golang.org/x/net: v0.61.0 h1:new= in the workspace, v0.60.0 h1:old= standalone",
		"golang.org/x/text: absent in the workspace, v0.42.0 h1:t= standalone",
	}
	if !slices.Equal(got, want) {
		t.Errorf("compare() =\n%q\nwant\n%q", got, want)
	}
	if d := compare(workspace, workspace); len(d) != 0 {
		t.Errorf("compare(same) = %q, want none", d)
	}
}

func TestRunFindsWorkspaceDrift(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, gowork string
		// other: the version the second workspace module requires;
		// workExtra: what go.work adds after its use block.
		other, workExtra string
		want             string
	}{
		// The drift this check found on main: another workspace module
		// requires a newer version of a module the service links, and the
		// workspace's build list (one for all its modules) takes it. The
		// caller's GOWORK must not matter: the Makefile runs this program
		// with GOWORK=off, which once made both builds standalone.
		{name: "newer requirement elsewhere/GOWORK=off", gowork: "off", other: "v1.1.0", want: "v1.1.0"},
		{name: "newer requirement elsewhere/GOWORK=", gowork: "", other: "v1.1.0", want: "v1.1.0"},
		{name: "newer requirement elsewhere/GOWORK=nonexistent", gowork: "/nonexistent/go.work", other: "v1.1.0", want: "v1.1.0"},
		{name: "replace with a version", gowork: "off", other: "v1.0.0", workExtra: "replace example.com/dep => example.com/dep v1.1.0\n", want: "v1.1.0"},
		{name: "replace with a directory", gowork: "off", other: "v1.0.0", workExtra: "replace example.com/dep => ./fork\n", want: "local"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, tt.other, tt.workExtra)
			var out bytes.Buffer
			// No -work: the go.work above the module directory.
			err := run(t.Context(), []string{w.svc}, w.env("GOWORK="+tt.gowork), &out)
			if err == nil {
				t.Fatalf("check passed with a seeded drift:\n%s", out.String())
			}
			want := []string{w.svc + ": workspace and standalone builds link different modules",
				"example.com/dep: " + w.sums[tt.want] + " in the workspace, " + w.sums["v1.0.0"] + " standalone"}
			for _, want := range want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output does not say %q:\n%s", want, out.String())
				}
			}
			if !strings.Contains(err.Error(), w.svc) {
				t.Errorf("error %q does not name the module", err)
			}
		})
	}
}

func TestRunPassesWithoutDrift(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "v1.0.0", "")
	var out bytes.Buffer
	err := run(t.Context(), []string{"-work", filepath.Join(w.dir, "go.work"), w.svc}, w.env("GOWORK=off"), &out)
	if err != nil {
		t.Fatalf("check failed on a workspace that changes nothing: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "link the same 1 modules") {
		t.Errorf("output does not report the agreement on example.com/dep:\n%s", out.String())
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no module", nil, "usage"},
		{"bad flag", []string{"-nope", "x"}, "usage"},
		{"missing work file", []string{"-work", "/nonexistent/go.work", "."}, "workspace file"},
		{"no work file found", []string{t.TempDir()}, "no go.work"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := run(t.Context(), tt.args, os.Environ(), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestParseDepsReplacements(t *testing.T) {
	t.Parallel()
	deps := parseDeps([]byte("/tmp/x: go1.26.8\n" +
		"\tdep\tgolang.org/x/sys\tv0.2.0\t\n\t=>\tgolang.org/x/sys\tv0.1.0\th1:old=\n" +
		"\tdep\tgolang.org/x/net\tv0.2.0\t\n\t=>\texample.com/fork/net\tv0.9.0\th1:fork=\n" +
		"\tdep\texample.com/lib\tv0.0.0\t\n\t=>\t/abs/lib\t(devel)\t\n"))
	want := map[string]string{
		"golang.org/x/sys": "v0.1.0 h1:old=",
		"golang.org/x/net": "example.com/fork/net v0.9.0 h1:fork=",
		"example.com/lib":  "local",
	}
	for path, v := range want {
		if deps[path] != v {
			t.Errorf("parseDeps()[%s] = %q, want %q", path, deps[path], v)
		}
	}
}
