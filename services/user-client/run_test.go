package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-client/internal/exitcode"
	testpki "github.com/acme/user-service/testkit/pki"
)

const reference = "Response:\nName: John Doe\nEmail: john123@example.com\nStatus: Success\n"

// mapEnv is a getenv over a fixed map: tests never see the real environment.
func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

type result struct {
	err            error
	code           int
	stdout, stderr string
}

func runCLI(ctx context.Context, env map[string]string, args ...string) result {
	var stdout, stderr bytes.Buffer
	err := run(ctx, args, mapEnv(env), &stdout, &stderr)
	return result{err: err, code: exitcode.For(err), stdout: stdout.String(), stderr: stderr.String()}
}

func TestRunReference(t *testing.T) {
	t.Parallel()
	srv := startFake(t, nil, nil)
	r := runCLI(t.Context(), nil, "--addr", srv.addr)
	if r.err != nil || r.stdout != reference || r.stderr != "" {
		t.Fatalf("run = %v\nstdout:\n%s\nstderr:\n%s\nwant stdout:\n%s", r.err, r.stdout, r.stderr, reference)
	}
}

func TestRunJSON(t *testing.T) {
	t.Parallel()
	srv := startFake(t, nil, nil)
	r := runCLI(t.Context(), nil, "--addr", srv.addr, "--output", "json")
	if r.err != nil {
		t.Fatalf("run: %v\n%s", r.err, r.stderr)
	}
	if strings.Count(r.stdout, "\n") != 1 || !strings.HasSuffix(r.stdout, "\n") {
		t.Errorf("JSON output is not one line: %q", r.stdout)
	}
	var got userv1.GetUserDetailsResponse
	if err := protojson.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stdout is not protojson: %v\n%s", err, r.stdout)
	}
	want := &userv1.GetUserDetailsResponse{Name: "John Doe", Email: "john123@example.com", Status: "Success"}
	if !proto.Equal(&got, want) {
		t.Errorf("got %v, want %v", &got, want)
	}
}

func TestRunJSONKeepsEmptyFields(t *testing.T) {
	t.Parallel()
	// Scripts can rely on every key being present, even when the server
	// leaves a field empty.
	srv := startFake(t, nil, nil)
	r := runCLI(t.Context(), nil, "--addr", srv.addr, "--user", "nobody-home", "--output", "json")
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); r.err != nil || err != nil {
		t.Fatalf("run: %v, stdout %q (%v)", r.err, r.stdout, err)
	}
	want := map[string]any{"name": "", "email": "", "status": ""}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JSON %s, want the keys %v", r.stdout, want)
	}
}

func TestRunEnvironment(t *testing.T) {
	t.Parallel()
	srv := startFake(t, nil, nil)
	env := map[string]string{
		"USER_CLIENT_ADDR":    srv.addr,
		"USER_CLIENT_USER":    "nobody",
		"USER_CLIENT_OUTPUT":  "json",
		"USER_CLIENT_TIMEOUT": "3s",
	}
	// The environment alone selects server, user and format.
	r := runCLI(t.Context(), env)
	if r.code != exitcode.NotFound || r.stderr != "error: NotFound: user not found\n" {
		t.Errorf("env only: code %d, stderr %q; want NotFound", r.code, r.stderr)
	}
	// Flags win over the environment.
	r = runCLI(t.Context(), env, "--user", "john123", "--output", "text")
	if r.err != nil || r.stdout != reference {
		t.Errorf("flags over env: %v, stdout %q", r.err, r.stdout)
	}
	// A bad token from the environment is used (and rejected by the server).
	env["USER_CLIENT_TOKEN"] = "env-secret-token"
	r = runCLI(t.Context(), env, "--user", "john123")
	if r.code != exitcode.Unauthenticated {
		t.Errorf("env token: code %d, stderr %q; want Unauthenticated", r.code, r.stderr)
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	srv := startFake(t, nil, nil)
	down := closedAddr(t)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		// The documented exit code, as a number: scripts rely on the
		// numbers, not on exitcode's names for them.
		code int
		// stderr must be exactly these lines.
		stderr []string
	}{
		{
			name: "unauthenticated", args: []string{"--token", "wrong-token"},
			code: 3, stderr: []string{"error: Unauthenticated: missing or invalid auth token"},
		},
		{
			name: "not found", args: []string{"--user", "jane"},
			code: 4, stderr: []string{"error: NotFound: user not found"},
		},
		{
			name: "invalid user id", args: []string{"--user", "bad user!"},
			code: 5, stderr: []string{
				"error: InvalidArgument: invalid request: user_id: does not match regex pattern `^[A-Za-z0-9._-]+$`",
				"  user_id: does not match regex pattern `^[A-Za-z0-9._-]+$` [string.pattern]",
			},
		},
		{
			name: "empty user id", args: []string{"--user", ""},
			code: 5, stderr: []string{
				"error: InvalidArgument: invalid request: user_id: value is required",
				"  user_id: value is required [required]",
			},
		},
		{
			name: "two violations", args: []string{"--user", strings.Repeat("x", 64) + "!"},
			code: 5, stderr: []string{
				"error: InvalidArgument: invalid request: user_id: must be at most 64 characters; user_id: does not match regex pattern `^[A-Za-z0-9._-]+$`",
				"  user_id: must be at most 64 characters [string.max_len]",
				"  user_id: does not match regex pattern `^[A-Za-z0-9._-]+$` [string.pattern]",
			},
		},
		{
			// Validated before the token is checked, as user-server does.
			name: "invalid user id, wrong token", args: []string{"--user", "", "--token", "wrong-token"},
			code: 5, stderr: []string{
				"error: InvalidArgument: invalid request: user_id: value is required",
				"  user_id: value is required [required]",
			},
		},
		{
			name: "empty token", args: []string{"--token", ""},
			code: 3, stderr: []string{"error: Unauthenticated: missing or invalid auth token"},
		},
		{
			// A missing token is Unauthenticated even when the rest is invalid too.
			name: "empty token, invalid user id", args: []string{"--token", "", "--user", "bad user!"},
			code: 3, stderr: []string{"error: Unauthenticated: missing or invalid auth token"},
		},
		{
			name: "internal", args: []string{"--user", "boom"},
			code: 1, stderr: []string{"error: Internal: something broke"},
		},
		{name: "unknown flag", args: []string{"--nope"}, code: 2,
			stderr: []string{"error: usage: flag provided but not defined: -nope (see --help)"}},
		{name: "positional argument", args: []string{"john123"}, code: 2,
			stderr: []string{`error: usage: unexpected argument "john123" (see --help)`}},
		{name: "bad output", args: []string{"--output", "xml"}, code: 2,
			stderr: []string{`error: usage: --output must be "text" or "json", got "xml" (see --help)`}},
		{name: "zero timeout", args: []string{"--timeout", "0s"}, code: 2,
			stderr: []string{"error: usage: --timeout must be positive, got 0s (see --help)"}},
		{name: "bad timeout env", env: map[string]string{"USER_CLIENT_TIMEOUT": "soon"}, code: 2,
			stderr: []string{`error: usage: invalid USER_CLIENT_TIMEOUT="soon": parse error (see --help)`}},
		{name: "cert without key", args: []string{"--cert", "c.pem"}, code: 2,
			stderr: []string{"error: usage: --cert and --key must be given together (see --help)"}},
		{name: "bad address list", args: []string{"--addr", "127.0.0.1:1,dns:///x:2"}, code: 2,
			stderr: []string{`error: usage: --addr list entry "dns:///x:2": want host:port (targets with a scheme work only on their own) (see --help)`}},
		{name: "zero count", args: []string{"--count", "0"}, code: 2,
			stderr: []string{"error: usage: --count must be at least 1, got 0 (see --help)"}},
		{name: "missing CA file", args: []string{"--ca", "/nonexistent/ca.pem"}, code: 1,
			stderr: []string{"error: read CA file: open /nonexistent/ca.pem: no such file or directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"--addr", srv.addr}, tt.args...)
			r := runCLI(t.Context(), tt.env, args...)
			if r.code != tt.code {
				t.Errorf("exit code %d, want %d (err %v)", r.code, tt.code, r.err)
			}
			if want := strings.Join(tt.stderr, "\n") + "\n"; r.stderr != want {
				t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}

	t.Run("deadline", func(t *testing.T) {
		t.Parallel()
		// What the client promises: DeadlineExceeded, exit code 6, one
		// line. The message is grpc-go's, and it varies: on a busy machine
		// the expiry can surface as "stream terminated by RST_STREAM with
		// error code: CANCEL" rather than "context deadline exceeded".
		r := runCLI(t.Context(), nil, "--addr", srv.addr, "--user", "slow", "--timeout", "100ms")
		if status.Code(r.err) != codes.DeadlineExceeded || r.code != 6 || r.stdout != "" ||
			!strings.HasPrefix(r.stderr, "error: DeadlineExceeded: ") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("err %v, code %d, stdout %q, stderr %q; want DeadlineExceeded, exit 6, one error line", r.err, r.code, r.stdout, r.stderr)
		}
	})
	t.Run("server down", func(t *testing.T) {
		t.Parallel()
		// Fails fast with Unavailable, long before the deadline.
		r := runCLI(t.Context(), nil, "--addr", down, "--timeout", "30s")
		if status.Code(r.err) != codes.Unavailable || r.code != 6 || !strings.HasPrefix(r.stderr, "error: Unavailable: ") ||
			strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("code %d, stderr %q; want one Unavailable line", r.code, r.stderr)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		t.Parallel()
		// Ctrl-C cancels the context main passes in.
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		r := runCLI(ctx, nil, "--addr", srv.addr)
		if status.Code(r.err) != codes.Canceled || r.code != 1 || !strings.HasPrefix(r.stderr, "error: Canceled: ") ||
			strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("code %d, stderr %q; want Canceled", r.code, r.stderr)
		}
	})
}

func TestRunTokenNeverPrinted(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-t0ken-value"
	leaky := startFake(t, &fakeUsers{leaky: true}, nil)
	honest := startFake(t, nil, nil)
	runs := map[string]result{
		"help (token in env)":  runCLI(t.Context(), map[string]string{"USER_CLIENT_TOKEN": secret}, "--help"),
		"help (token as flag)": runCLI(t.Context(), nil, "--token", secret, "--help"),
		"rejected":             runCLI(t.Context(), nil, "--addr", honest.addr, "--token", secret),
		"rejected, json":       runCLI(t.Context(), nil, "--addr", honest.addr, "--token", secret, "--output", "json"),
		"server echoes token":  runCLI(t.Context(), map[string]string{"USER_CLIENT_TOKEN": secret}, "--addr", leaky.addr),
		"usage error":          runCLI(t.Context(), map[string]string{"USER_CLIENT_TOKEN": secret}, "--bogus"),
		"invalid argument":     runCLI(t.Context(), nil, "--addr", honest.addr, "--token", secret, "--user", "x y"),
		"server echoes token in violations": runCLI(t.Context(), map[string]string{"USER_CLIENT_TOKEN": secret},
			"--addr", leaky.addr, "--user", "x y"),
	}
	for name, r := range runs {
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("%s: token printed:\nstdout: %s\nstderr: %s", name, r.stdout, r.stderr)
		}
	}
	// The leaky server's message is kept, minus the secret.
	if got, want := runs["server echoes token"].stderr, "error: Unauthenticated: token [REDACTED] is not accepted\n"; got != want {
		t.Errorf("leaky server: stderr %q, want %q", got, want)
	}
	// So are its violation lines.
	pattern := "does not match regex pattern `^[A-Za-z0-9._-]+$` (token [REDACTED])"
	if got, want := runs["server echoes token in violations"].stderr,
		"error: InvalidArgument: invalid request: user_id: "+pattern+"\n  user_id: "+pattern+" [string.pattern]\n"; got != want {
		t.Errorf("leaky server, violations: stderr\n%s\nwant\n%s", got, want)
	}
	// The default token is not shown either.
	if h := runs["help (token as flag)"]; h.err != nil || strings.Contains(h.stdout, "valid-token") {
		t.Errorf("help: err %v, shows a token:\n%s", h.err, h.stdout)
	}
}

func TestRunHelp(t *testing.T) {
	t.Parallel()
	r := runCLI(t.Context(), nil, "--help")
	if r.err != nil || r.stderr != "" {
		t.Fatalf("--help: %v, stderr %q", r.err, r.stderr)
	}
	// Every flag and every exit code is documented.
	for _, s := range []string{
		"--addr", "--user", "--token", "--timeout", "--tls", "--ca", "--cert", "--key", "--server-name",
		"--output", "--health", "--count", "--help", "USER_CLIENT_TOKEN",
		"0  success", "1  any other", "2  usage", "3  Unauthenticated", "4  NotFound",
		"5  InvalidArgument", "6  Unavailable or DeadlineExceeded",
	} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("--help does not mention %q", s)
		}
	}
}

func TestRunHealth(t *testing.T) {
	t.Parallel()
	srv := startFake(t, nil, nil)
	r := runCLI(t.Context(), nil, "--addr", srv.addr, "--health")
	if r.err != nil || r.stdout != "Status: SERVING\n" {
		t.Errorf("health: %v, stdout %q", r.err, r.stdout)
	}
	r = runCLI(t.Context(), nil, "--addr", srv.addr, "--health", "--health-service", "user.v1.UserService", "--output", "json")
	var hr grpc_health_v1.HealthCheckResponse
	if r.err != nil || protojson.Unmarshal([]byte(r.stdout), &hr) != nil || hr.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Errorf("health json: %v, stdout %q", r.err, r.stdout)
	}
	r = runCLI(t.Context(), nil, "--addr", srv.addr, "--health", "--health-service", "no.such.Service")
	if r.code != exitcode.NotFound {
		t.Errorf("unknown service: code %d, stderr %q; want NotFound", r.code, r.stderr)
	}

	srv.health.SetServingStatus("", grpc_health_v1.HealthCheckResponse_NOT_SERVING)
	r = runCLI(t.Context(), nil, "--addr", srv.addr, "--health")
	if r.code != exitcode.Other || r.stdout != "Status: NOT_SERVING\n" || r.stderr != "error: health: server is NOT_SERVING\n" {
		t.Errorf("not serving: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestRunRoundRobin(t *testing.T) {
	t.Parallel()
	names := []string{"Replica A", "Replica B", "Replica C"}
	var addrs []string
	var fakes []*fakeUsers
	for _, n := range names {
		f := &fakeUsers{name: n}
		fakes = append(fakes, f)
		addrs = append(addrs, startFake(t, f, nil).addr)
	}
	// round_robin sends calls only to replicas whose connection is up, so
	// on a busy machine one replica may still be connecting when a run's
	// calls are done. Each run must spread its calls exactly as the
	// replies say; some run must reach all three (bounded: pick_first
	// would send every call of every run to the first replica).
	const calls, maxRuns = 150, 10
	for attempt := 1; ; attempt++ {
		before := make([]int64, len(fakes))
		for i, f := range fakes {
			before[i] = f.calls.Load()
		}
		r := runCLI(t.Context(), nil, "--addr", strings.Join(addrs, ","), "--count", fmt.Sprint(calls))
		if r.err != nil {
			t.Fatalf("run: %v\n%s", r.err, r.stderr)
		}
		total, reached := 0, 0
		for i, f := range fakes {
			n := int(f.calls.Load() - before[i])
			total += n
			t.Logf("run %d: %s served %d calls", attempt, names[i], n)
			// Each reply names the replica that served it.
			if printed := strings.Count(r.stdout, "Name: "+names[i]+"\n"); printed != n {
				t.Errorf("%s: served %d calls, %d printed", names[i], n, printed)
			}
			if n > 0 {
				reached++
			}
		}
		if total != calls {
			t.Fatalf("replicas served %d calls, want %d", total, calls)
		}
		if reached == len(fakes) {
			return
		}
		if attempt == maxRuns {
			t.Fatalf("in %d runs, no run reached all %d replicas", maxRuns, len(fakes))
		}
	}
}

func TestRunRetriesUnavailable(t *testing.T) {
	t.Parallel()
	// One replica of the list is down: its calls fail with UNAVAILABLE and
	// are retried on the live one, so every call succeeds.
	srv := startFake(t, nil, nil)
	r := runCLI(t.Context(), nil, "--addr", closedAddr(t)+","+srv.addr, "--count", "20")
	if r.err != nil || r.stdout != strings.Repeat(reference, 20) {
		t.Errorf("run: %v\nstderr: %s", r.err, r.stderr)
	}
}

func TestRunTLS(t *testing.T) {
	t.Parallel()
	pki := testpki.NewFiles(t)
	other := testpki.NewFiles(t)
	tlsSrv := startFake(t, nil, pki.ServerTLS(t, false))
	mtlsSrv := startFake(t, nil, pki.ServerTLS(t, true))
	plainSrv := startFake(t, nil, nil)
	clientCert := []string{"--cert", pki.ClientCert, "--key", pki.ClientKey}

	tests := []struct {
		name string
		addr string
		args []string
		ok   bool
		hint string // the start of the hint line after a failure
	}{
		{"tls", tlsSrv.addr, []string{"--tls", "--ca", pki.CA}, true, ""},
		{"tls by localhost name", strings.Replace(tlsSrv.addr, "127.0.0.1", "localhost", 1), []string{"--ca", pki.CA}, true, ""},
		{"server name override", tlsSrv.addr, []string{"--ca", pki.CA, "--server-name", testpki.ServerName}, true, ""},
		{"wrong server name", tlsSrv.addr, []string{"--ca", pki.CA, "--server-name", "evil.test"}, false, ""},
		{"untrusted CA", tlsSrv.addr, []string{"--ca", other.CA}, false, ""},
		{"system roots", tlsSrv.addr, []string{"--tls"}, false, ""},
		{"plaintext to TLS server", tlsSrv.addr, nil, false, "hint: the server may require TLS: try --tls"},
		{"TLS to plaintext server", plainSrv.addr, []string{"--ca", pki.CA}, false, "hint: the server does not seem to use TLS"},
		{"mtls", mtlsSrv.addr, append([]string{"--ca", pki.CA}, clientCert...), true, ""},
		{"mtls without client cert", mtlsSrv.addr, []string{"--ca", pki.CA}, false, "hint: the server may require a client certificate (mTLS): pass --cert and --key"},
		{"mtls with untrusted client cert", mtlsSrv.addr, []string{"--ca", pki.CA, "--cert", other.ClientCert, "--key", other.ClientKey}, false, "hint: the server may not accept this client certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t.Context(), nil, append([]string{"--addr", tt.addr, "--timeout", "10s"}, tt.args...)...)
			if tt.ok {
				if r.err != nil || r.stdout != reference {
					t.Errorf("run: %v\nstderr: %s", r.err, r.stderr)
				}
				return
			}
			// A failed handshake is a connection failure: Unavailable, on
			// one line, and a hint line where the cause is clear.
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if r.code != exitcode.Unavailable || r.stdout != "" || !strings.HasPrefix(lines[0], "error: Unavailable: ") {
				t.Errorf("code %d, stdout %q, stderr %q; want an Unavailable line", r.code, r.stdout, r.stderr)
			}
			hint := ""
			if len(lines) > 1 {
				hint = lines[1]
			}
			if !strings.HasPrefix(hint, tt.hint) || len(lines) > 2 || (tt.hint == "" && hint != "") {
				t.Errorf("hint %q, want one starting %q", hint, tt.hint)
			}
		})
	}

	t.Run("round robin over tls", func(t *testing.T) {
		t.Parallel()
		// Each list entry is verified against its own host name.
		srv2 := startFake(t, nil, pki.ServerTLS(t, false))
		local := strings.Replace(srv2.addr, "127.0.0.1", "localhost", 1)
		r := runCLI(t.Context(), nil, "--addr", tlsSrv.addr+","+local, "--ca", pki.CA, "--count", "4")
		if r.err != nil || r.stdout != strings.Repeat(reference, 4) {
			t.Errorf("run: %v\nstderr: %s", r.err, r.stderr)
		}
	})
}

func TestRunCountStopsAtFirstError(t *testing.T) {
	t.Parallel()
	srv := startFake(t, nil, nil)
	r := runCLI(t.Context(), nil, "--addr", srv.addr, "--user", "jane", "--count", "5")
	if n := srv.users.calls.Load(); n != 1 || r.code != exitcode.NotFound {
		t.Errorf("calls %d, code %d; want 1 call and NotFound", n, r.code)
	}
}

func TestRunTargetForms(t *testing.T) {
	t.Parallel()
	srv := startFake(t, nil, nil)
	_, port, _ := strings.Cut(srv.addr, ":")
	for _, addr := range []string{
		srv.addr,
		"dns:///" + srv.addr,
		"localhost:" + port,
		"passthrough:///" + srv.addr,
		" " + srv.addr + " ,localhost:" + port, // a list, with spaces
	} {
		t.Run(addr, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t.Context(), nil, "--addr", addr)
			if r.err != nil || r.stdout != reference {
				t.Errorf("--addr %q: %v\nstderr: %s", addr, r.err, r.stderr)
			}
		})
	}
}
