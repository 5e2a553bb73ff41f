package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/acme/user-service/tools/internal/testrepo"
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

// A scratch workspace: gen/go and user-client copied from the repository,
// tied by a go.work holding extra (a seeded defect, or nothing). testkit,
// which user-client's tests use (go.mod replaces it with ../../testkit),
// is copied too.
func scratchWorkspace(t *testing.T, extra string) string {
	t.Helper()
	dir := testrepo.Copy(t, testrepo.Root(t), "gen/go", "services/user-client", "testkit")
	work := "go 1.26.8\n\nuse (\n\t./gen/go\n\t./services/user-client\n)\n" + extra
	if err := os.WriteFile(filepath.Join(dir, "go.work"), []byte(work), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The seeded drift: the workspace pins an older genproto rpc than the
// service requires (the drift this check found on main). Its sums go into
// go.work.sum, as `go work sync` would write them.
const (
	oldRPC     = "google.golang.org/genproto/googleapis/rpc v0.0.0-20260817212433-ac3dfec99bb1"
	driftWork  = "\nreplace google.golang.org/genproto/googleapis/rpc => " + oldRPC + "\n"
	driftSums  = oldRPC + " h1:utmqiUzZAEINbLmRyAt1QjVkMyLQ+lvIwCpLaB1rZfw=\n" + oldRPC + "/go.mod h1:4Hqkh8ycfw05ld/3BWL7rJOSfebL2Q+DVDeRgYgxUU8=\n"
	rpcModule  = "google.golang.org/genproto/googleapis/rpc"
	oldVersion = "v0.0.0-20260817212433-ac3dfec99bb1"
)

func TestRunFindsWorkspaceDrift(t *testing.T) {
	t.Parallel()
	// The caller's GOWORK must not matter: the Makefile runs this program
	// with GOWORK=off, which once made both builds standalone.
	for _, gowork := range []string{"off", "", "/nonexistent/go.work"} {
		t.Run("GOWORK="+gowork, func(t *testing.T) {
			t.Parallel()
			dir := scratchWorkspace(t, driftWork)
			if err := os.WriteFile(filepath.Join(dir, "go.work.sum"), []byte(driftSums), 0o644); err != nil {
				t.Fatal(err)
			}
			env := append(os.Environ(), "GOWORK="+gowork, "GOFLAGS=-mod=readonly", "GOPROXY=off")
			var out bytes.Buffer
			// No -work: the go.work above the module directory.
			err := run(t.Context(), []string{filepath.Join(dir, "services/user-client")}, env, &out)
			if err == nil {
				t.Fatalf("check passed with a seeded drift:\n%s", out.String())
			}
			wantVersion, err2 := requiredVersion(filepath.Join(dir, "services/user-client/go.mod"), rpcModule)
			if err2 != nil {
				t.Fatal(err2)
			}
			for _, want := range []string{"services/user-client: workspace and standalone builds link different modules",
				rpcModule + ": " + oldVersion, "in the workspace, " + wantVersion} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output does not say %q:\n%s", want, out.String())
				}
			}
			if !strings.Contains(err.Error(), "services/user-client") {
				t.Errorf("error %q does not name the module", err)
			}
		})
	}
}

func TestRunPassesWithoutDrift(t *testing.T) {
	t.Parallel()
	dir := scratchWorkspace(t, "")
	env := append(os.Environ(), "GOWORK=off", "GOPROXY=off")
	var out bytes.Buffer
	err := run(t.Context(), []string{"-work", filepath.Join(dir, "go.work"), filepath.Join(dir, "services/user-client")}, env, &out)
	if err != nil {
		t.Fatalf("check failed on the repository's own modules: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "link the same") {
		t.Errorf("output does not report the agreement:\n%s", out.String())
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

// requiredVersion reads the version go.mod requires of module.
func requiredVersion(goMod, module string) (string, error) {
	data, err := os.ReadFile(goMod)
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == module {
			return f[1], nil
		}
	}
	return "", fmt.Errorf("%s does not require %s", goMod, module)
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
