package main

import (
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/acme/user-service/testkit"
	"github.com/acme/user-service/testkit/gobuild"
)

func TestVariants(t *testing.T) {
	t.Parallel()
	var v variants
	for _, s := range []string{"metrics=--metrics-listen 127.0.0.1:0", "before@/tmp/old/user-server=", "warn=--log-level warn"} {
		if err := v.Set(s); err != nil {
			t.Fatalf("Set(%q): %v", s, err)
		}
	}
	want := []config{
		{name: "metrics", full: true, args: []string{"--metrics-listen", "127.0.0.1:0"}},
		{name: "before", full: true, args: []string{}, binary: "/tmp/old/user-server"},
		{name: "warn", full: true, args: []string{"--log-level", "warn"}},
	}
	if len(v) != len(want) {
		t.Fatalf("got %d variants, want %d", len(v), len(want))
	}
	for i := range want {
		if v[i].name != want[i].name || v[i].binary != want[i].binary || !slices.Equal(v[i].args, want[i].args) || !v[i].full {
			t.Errorf("variant %d = %+v, want %+v", i, v[i], want[i])
		}
	}
	// Access lines are counted only where every OK RPC is logged.
	if !v[0].countsLines() || !v[1].countsLines() || v[2].countsLines() {
		t.Error("countsLines wrong")
	}
	for _, bad := range []string{"noflags", "=--x", "a,b=--x"} {
		if err := v.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}

func TestMain(m *testing.M) { testkit.Main(m) }

// TestHTTPConfigs runs the HTTP configurations at a tiny scale against the
// real binaries: each server answers the load's request with the reference
// reply (the correctness check), h2load's requests all succeed, and the
// report counts no error.
func TestHTTPConfigs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and loads the servers")
	}
	for _, tool := range []string{"h2load", "taskset"} {
		if _, err := exec.LookPath(tool); err != nil {
			// CI installs them (.ci/run): there the test must run.
			if os.Getenv("CI") == "true" {
				t.Fatalf("CI=true: %s: %v", tool, err)
			}
			t.Skipf("%s: %v (Debian: apt-get install nghttp2-client)", tool, err)
		}
	}
	t.Parallel()
	userServer := gobuild.PlainBinary(t, "../../../services/user-server")
	bareServer := gobuild.PlainBinary(t, "../bare-server")
	names := []string{"full-info-serial", "http-on", "connect-proto", "connect-json", "rest-json", "bare-vanguard-proto", "bare-connectgo-proto", "bare-connectgo-json"}
	var stdout, stderr bytes.Buffer
	// Both on CPU 0: a CI machine may have one.
	err := run(t.Context(), []string{
		"-user-server", userServer, "-bare-server", bareServer, "-out", t.TempDir(),
		"-rounds", "1", "-n", "200", "-warmup", "20", "-c", "2", "-m", "2", "-server-cpu", "0", "-load-cpu", "0",
		"-configs", "full-info," + strings.Join(names, ","),
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("loadbench: %v\n%s", err, &stderr)
	}
	// Median over rounds: config req/s p50 p99 errors CPU ratio.
	_, medians, ok := strings.Cut(stdout.String(), "Median over rounds:")
	if !ok {
		t.Fatalf("no medians in the report:\n%s", &stdout)
	}
	seen := map[string]bool{}
	for line := range strings.Lines(medians) {
		f := strings.Fields(line)
		if len(f) < 6 || !slices.Contains(names, f[0]) {
			continue
		}
		seen[f[0]] = true
		if f[4] != "0" {
			t.Errorf("%s: %s errors:\n%s\n%s", f[0], f[4], &stdout, &stderr)
		}
	}
	for _, n := range names {
		if !seen[n] {
			t.Errorf("%s missing from the report:\n%s", n, &stdout)
		}
	}
	// The HTTP listener's configurations are compared with the
	// user-server's native gRPC (in both shapes), the bare servers with
	// bare only.
	for n, want := range map[string]bool{
		"http-on/full-info": true, "connect-proto/full-info": true, "rest-json/full-info": true, "bare-connectgo-json/full-info": false,
		"connect-proto/full-info-serial": true, "connect-json/full-info-serial": true, "bare-connectgo-proto/full-info-serial": false, "full-info-serial/full-info": false,
	} {
		if strings.Contains(stdout.String(), "\n"+n+" ") != want {
			t.Errorf("ratio %s printed: %v, want %v:\n%s", n, !want, want, &stdout)
		}
	}
	if strings.Contains(stderr.String(), "access-log lines, want") {
		t.Errorf("access lines missing:\n%s", &stderr)
	}
}
