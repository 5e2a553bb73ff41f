package main

// End-to-end tests: the real user-server and user-client binaries, built
// once per test run, talking over loopback.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acme/user-service/services/user-client/internal/exitcode"
	"github.com/acme/user-service/testkit"
	"github.com/acme/user-service/testkit/gobuild"
	testpki "github.com/acme/user-service/testkit/pki"
	"github.com/acme/user-service/testkit/proc"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// The binaries, built once per test run from each module's directory (so
// this works with the workspace on or off); plain, as users run them.
func serverBinary(t *testing.T) string { return gobuild.PlainBinary(t, "../user-server") }
func clientBinary(t *testing.T) string { return gobuild.PlainBinary(t, ".") }

type serverProc struct {
	*proc.Proc
	addr string
	logs *testkit.Buffer
}

// startServer runs user-server on a free loopback port and waits for its
// "listening on ADDR" line. It is stopped at the end of the test.
func startServer(t *testing.T, args ...string) *serverProc {
	t.Helper()
	s := &serverProc{logs: &testkit.Buffer{}}
	s.Proc = proc.StartT(t, proc.Spec{
		Path: serverBinary(t), Args: args,
		Env:    []string{}, // no USER_SERVER_* from the developer's shell
		Stderr: s.logs,
	})
	s.addr = s.Addr
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop sends SIGTERM and waits for a clean exit (killing it as a last
// resort, so no server outlives the test).
func (s *serverProc) stop(t *testing.T) {
	t.Helper()
	if err := s.Stop(20 * time.Second); err != nil {
		t.Errorf("user-server: %v after SIGTERM\n%s", err, s.logs)
	}
}

// client runs the user-client binary; the deadline only guards against a
// hang, which is itself a failure.
func client(t *testing.T, env []string, args ...string) result {
	t.Helper()
	bin := clientBinary(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	// Never nil, which would mean the developer's own environment.
	cmd.Env = append([]string{}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("user-client %v hung", args)
	}
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("user-client %v: %v", args, err)
	}
	return result{err: err, code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func TestE2EReference(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	// The reference run, pointed at the test's port.
	r := client(t, nil, "--addr", srv.addr)
	if r.code != 0 || r.stdout != reference || r.stderr != "" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant stdout:\n%s", r.code, r.stdout, r.stderr, reference)
	}
	// The same through the environment.
	r = client(t, []string{"USER_CLIENT_ADDR=" + srv.addr})
	if r.code != 0 || r.stdout != reference {
		t.Errorf("via USER_CLIENT_ADDR: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = client(t, nil, "--addr", srv.addr, "--health")
	if r.code != 0 || r.stdout != "Status: SERVING\n" {
		t.Errorf("--health: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestE2EErrors(t *testing.T) {
	t.Parallel()
	const secret = "e2e-secret-token-4711"
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("good-token-for-e2e\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, "--auth-tokens-file", tokens)
	good := []string{"USER_CLIENT_TOKEN=good-token-for-e2e"}
	tests := []struct {
		name       string
		env        []string
		args       []string
		code       int
		stderrHead string   // first line's prefix
		more       []string // following lines, exactly
	}{
		{"ok", good, nil, 0, "", nil},
		{"demo token not accepted with a tokens file", nil, nil, exitcode.Unauthenticated, "error: Unauthenticated: ", nil},
		{"wrong token", []string{"USER_CLIENT_TOKEN=" + secret}, nil, exitcode.Unauthenticated, "error: Unauthenticated: ", nil},
		{"wrong token as flag", nil, []string{"--token", secret}, exitcode.Unauthenticated, "error: Unauthenticated: ", nil},
		{"unknown user", good, []string{"--user", "nobody"}, exitcode.NotFound, "error: NotFound: ", nil},
		{"bad user id", good, []string{"--user", "bad user!"}, exitcode.InvalidArgument, "error: InvalidArgument: ",
			[]string{"  user_id: does not match regex pattern `^[A-Za-z0-9._-]+$` [string.pattern]"}},
		{"user id too long", good, []string{"--user", strings.Repeat("x", 65)}, exitcode.InvalidArgument, "error: InvalidArgument: ",
			[]string{"  user_id: must be at most 64 characters [string.max_len]"}},
		{"two violations", good, []string{"--user", strings.Repeat("x", 64) + "!"}, exitcode.InvalidArgument, "error: InvalidArgument: ",
			[]string{
				"  user_id: must be at most 64 characters [string.max_len]",
				"  user_id: does not match regex pattern `^[A-Za-z0-9._-]+$` [string.pattern]",
			}},
		{"empty user id", good, []string{"--user", ""}, exitcode.InvalidArgument, "error: InvalidArgument: ",
			[]string{"  user_id: value is required [required]"}},
		{"usage", good, []string{"--output", "yaml"}, exitcode.Usage, "error: usage: ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := client(t, tt.env, append([]string{"--addr", srv.addr}, tt.args...)...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstderr: %s", r.code, tt.code, r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Errorf("token printed:\n%s%s", r.stdout, r.stderr)
			}
			if tt.code == 0 {
				if r.stdout != reference || r.stderr != "" {
					t.Errorf("stdout %q, stderr %q", r.stdout, r.stderr)
				}
				return
			}
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if !strings.HasPrefix(lines[0], tt.stderrHead) || strings.Join(lines[1:], "\n") != strings.Join(tt.more, "\n") {
				t.Errorf("stderr:\n%s\nwant first line %q... then %q", r.stderr, tt.stderrHead, tt.more)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}
}

func TestE2ERoundRobin(t *testing.T) {
	t.Parallel()
	// Each replica knows john123 under its own name, so every reply shows
	// which replica served it.
	dir := t.TempDir()
	names := []string{"Replica One", "Replica Two", "Replica Three"}
	var addrs []string
	for i, name := range names {
		users := filepath.Join(dir, fmt.Sprintf("users-%d.json", i))
		body := fmt.Sprintf(`{"users": [{"id": "john123", "name": %q, "email": "john123@example.com"}]}`, name)
		if err := os.WriteFile(users, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, startServer(t, "--users", users).addr)
	}
	// round_robin only picks replicas whose connection is up: on a busy
	// machine one may still be connecting when a run's calls are done.
	// Every run's replies must come from the replicas; some run must reach
	// all three (bounded: pick_first would never reach a second one).
	const calls, maxRuns = 300, 5
	for attempt := 1; ; attempt++ {
		r := client(t, nil, "--addr", strings.Join(addrs, ","), "--count", fmt.Sprint(calls))
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		total, reached := 0, 0
		for _, name := range names {
			n := strings.Count(r.stdout, "Name: "+name+"\n")
			t.Logf("run %d: %s served %d of %d calls", attempt, name, n, calls)
			total += n
			if n > 0 {
				reached++
			}
		}
		if total != calls {
			t.Fatalf("%d replies from the replicas, want %d:\n%s", total, calls, r.stdout)
		}
		if reached == len(names) {
			return
		}
		if attempt == maxRuns {
			t.Fatalf("in %d runs, no run reached all %d replicas", maxRuns, len(names))
		}
	}
}

func TestE2EServerDown(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	srv.stop(t)
	// A stopped server: Unavailable, well before the deadline (a deadline
	// would be DeadlineExceeded).
	r := client(t, nil, "--addr", srv.addr, "--timeout", "20s")
	if r.code != exitcode.Unavailable || !strings.HasPrefix(r.stderr, "error: Unavailable: ") {
		t.Errorf("stopped server: exit %d, stderr %q; want Unavailable", r.code, r.stderr)
	}
	r = client(t, nil, "--addr", srv.addr, "--health", "--timeout", "20s")
	if r.code != exitcode.Unavailable {
		t.Errorf("health of stopped server: exit %d, stderr %q; want Unavailable", r.code, r.stderr)
	}

	// A peer that accepts connections but never speaks gRPC: the deadline
	// ends the call.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, silent, until the listener closes
		}
	}()
	r = client(t, nil, "--addr", lis.Addr().String(), "--timeout", "500ms")
	if r.code != exitcode.Unavailable || !strings.HasPrefix(r.stderr, "error: DeadlineExceeded: ") {
		t.Errorf("silent peer: exit %d, stderr %q; want DeadlineExceeded", r.code, r.stderr)
	}
}

func TestE2ETLS(t *testing.T) {
	t.Parallel()
	pki := testpki.NewFiles(t)
	other := testpki.NewFiles(t)
	tlsSrv := startServer(t, "--tls-cert", pki.ServerCert, "--tls-key", pki.ServerKey)
	mtlsSrv := startServer(t, "--tls-cert", pki.ServerCert, "--tls-key", pki.ServerKey, "--tls-client-ca", pki.CA)
	tests := []struct {
		name string
		addr string
		args []string
		ok   bool
	}{
		{"tls", tlsSrv.addr, []string{"--tls", "--ca", pki.CA}, true},
		{"tls with server name", tlsSrv.addr, []string{"--ca", pki.CA, "--server-name", testpki.ServerName}, true},
		{"tls, untrusted server", tlsSrv.addr, []string{"--ca", other.CA}, false},
		{"tls, wrong server name", tlsSrv.addr, []string{"--ca", pki.CA, "--server-name", "other.test"}, false},
		{"plaintext to tls server", tlsSrv.addr, nil, false},
		{"tls to plaintext server", startServer(t).addr, []string{"--ca", pki.CA}, false},
		{"mtls", mtlsSrv.addr, []string{"--ca", pki.CA, "--cert", pki.ClientCert, "--key", pki.ClientKey}, true},
		{"mtls, no client certificate", mtlsSrv.addr, []string{"--ca", pki.CA}, false},
		{"mtls, untrusted client certificate", mtlsSrv.addr, []string{"--ca", pki.CA, "--cert", other.ClientCert, "--key", other.ClientKey}, false},
		{"round robin over tls and mtls replicas", tlsSrv.addr + "," + mtlsSrv.addr,
			[]string{"--ca", pki.CA, "--cert", pki.ClientCert, "--key", pki.ClientKey, "--count", "4"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := client(t, nil, append([]string{"--addr", tt.addr, "--timeout", "10s"}, tt.args...)...)
			if tt.ok {
				want := reference
				if strings.Contains(tt.addr, ",") {
					want = strings.Repeat(reference, 4)
				}
				if r.code != 0 || r.stdout != want {
					t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
				}
				return
			}
			// One Unavailable line, then at most a hint line.
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if r.code != exitcode.Unavailable || r.stdout != "" || !strings.HasPrefix(lines[0], "error: Unavailable: ") ||
				len(lines) > 2 || (len(lines) == 2 && !strings.HasPrefix(lines[1], "hint: ")) {
				t.Errorf("exit %d, stdout %q, stderr %q; want an Unavailable line and at most a hint", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// TestE2EFakeMatchesServer holds the in-process tests' fake server (see
// fakeUsers) to the real one: the same requests get the same exit code and
// byte for byte the same output from both, so the order of checks and every
// message the fake sends are user-server's.
func TestE2EFakeMatchesServer(t *testing.T) {
	t.Parallel()
	srv := startServer(t) // development mode: the demo token valid-token
	fake := startFake(t, nil, nil)
	tooLong := strings.Repeat("x", 65)
	for _, args := range [][]string{
		nil,
		{"--output", "json"},
		{"--user", "nobody"},
		{"--user", "nobody", "--output", "json"},
		{"--token", "wrong-token"},
		{"--token", ""},
		{"--token", "", "--user", "bad user!"},
		{"--token", strings.Repeat("t", 513)},
		{"--token", strings.Repeat("t", 513), "--user", ""},
		{"--user", ""},
		{"--user", "", "--token", "wrong-token"},
		{"--user", "bad user!"},
		{"--user", "bad user!", "--token", "wrong-token"},
		{"--user", tooLong},
		{"--user", tooLong + "!"},
		{"--user", "ünïcode"},
		{"--health"},
		{"--health", "--health-service", "user.v1.UserService", "--output", "json"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			want := client(t, nil, append([]string{"--addr", srv.addr}, args...)...)
			got := runCLI(t.Context(), nil, append([]string{"--addr", fake.addr}, args...)...)
			// protojson varies its spacing from build to build on purpose.
			if got.code != want.code || compactJSON(got.stdout) != compactJSON(want.stdout) || got.stderr != want.stderr {
				t.Errorf("fake server: exit %d\nstdout:\n%s\nstderr:\n%s\nuser-server: exit %d\nstdout:\n%s\nstderr:\n%s",
					got.code, got.stdout, got.stderr, want.code, want.stdout, want.stderr)
			}
		})
	}
}

// compactJSON removes the insignificant whitespace of a JSON document; any
// other text is returned as it is.
func compactJSON(s string) string {
	var b bytes.Buffer
	if json.Compact(&b, []byte(s)) != nil {
		return s
	}
	return b.String()
}
