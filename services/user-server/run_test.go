package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/acme/user-service/testkit"
	"github.com/acme/user-service/testkit/pki"
)

// TestRunGCPercent: run raises the GC target unless GOGC is set. Not
// parallel: the target is the process's, and parallel tests (which start
// servers too) only run once the sequential ones are done.
func TestRunGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tt := range []struct {
		env  map[string]string
		want int
	}{
		{nil, defaultGCPercent},
		{map[string]string{"GOGC": "100"}, 100},
	} {
		debug.SetGCPercent(100)
		srv := startRun(t, tt.env)
		if got := debug.SetGCPercent(100); got != tt.want {
			t.Errorf("GOGC=%q: GC percent %d, want %d", tt.env["GOGC"], got, tt.want)
		}
		if err := srv.stop(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRunMemoryLimit: run sets a soft memory limit unless GOMEMLIMIT is
// set, whose value (the runtime's to apply, "off" included) it leaves.
// Not parallel, as TestRunGCPercent.
func TestRunMemoryLimit(t *testing.T) {
	const unset = math.MaxInt64 // the runtime's default: no limit
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(unset))
	for _, tt := range []struct {
		env  map[string]string
		was  int64 // the limit before run: what the runtime took from GOMEMLIMIT
		want int64
	}{
		{nil, unset, defaultMemoryLimit},
		{map[string]string{"GOMEMLIMIT": "off"}, unset, unset},
		{map[string]string{"GOMEMLIMIT": "1GiB"}, 1 << 30, 1 << 30},
	} {
		debug.SetMemoryLimit(tt.was)
		srv := startRun(t, tt.env)
		if got := debug.SetMemoryLimit(-1); got != tt.want {
			t.Errorf("GOMEMLIMIT=%q: memory limit %d, want %d", tt.env["GOMEMLIMIT"], got, tt.want)
		}
		if err := srv.stop(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRunServes(t *testing.T) {
	t.Parallel()
	logFile := filepath.Join(t.TempDir(), "server.log")
	srv := startRun(t, map[string]string{"USER_SERVER_AUTH_TOKENS": "tok-alpha-1\ntok-beta-2", "USER_SERVER_LOG_FORMAT": "json"},
		"--log-file", logFile, "--reflection")
	conn := dial(t, srv.addr, nil)
	waitServing(t, conn)
	ctx := t.Context()

	resp, err := getUser(ctx, conn, "tok-beta-2")
	if err != nil || resp.GetName() != "John Doe" || resp.GetEmail() != "john123@example.com" || resp.GetStatus() != "Success" {
		t.Fatalf("GetUserDetails = %v, %v", resp, err)
	}
	if _, err := getUser(ctx, conn, "valid-token"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("demo token with tokens configured: %v", err)
	}

	// Reflection, with --reflection, lists the services to callers with
	// a token.
	rc, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(bearer(ctx, "tok-alpha-1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	rr, err := rc.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var services []string
	for _, s := range rr.GetListServicesResponse().GetService() {
		services = append(services, s.GetName())
	}
	for _, want := range []string{"user.v1.UserService", "grpc.health.v1.Health"} {
		if !slices.Contains(services, want) {
			t.Errorf("reflection services = %v, missing %s", services, want)
		}
	}
	_ = rc.CloseSend()

	if err := srv.stop(); err != nil {
		t.Fatalf("run returned %v after cancel", err)
	}
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var listening, rpcs int
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		switch m["msg"] {
		case "listening":
			listening++
			if m["addr"] != srv.addr {
				t.Errorf("listening addr = %v, want %s", m["addr"], srv.addr)
			}
			// The in-memory directory gives its size; no tracing asked for.
			if _, ok := m["users"].(float64); !ok || m["directory"] != nil || m["tracing"] != false {
				t.Errorf("listening line %v: want users=N, no directory, tracing=false", m)
			}
		case "rpc":
			rpcs++
		}
	}
	if listening != 1 || rpcs < 2 {
		t.Errorf("log has %d listening and %d rpc lines:\n%s", listening, rpcs, data)
	}
	for _, tok := range []string{"tok-alpha-1", "tok-beta-2", "valid-token"} {
		if strings.Contains(string(data), tok) {
			t.Errorf("log holds token %q", tok)
		}
	}
	if srv.stderr.String() != "" {
		t.Errorf("stderr not empty with --log-file: %s", srv.stderr)
	}
}

func TestRunDevModeWarns(t *testing.T) {
	t.Parallel()
	srv := startRun(t, nil)
	conn := dial(t, srv.addr, nil)
	if _, err := getUser(t.Context(), conn, "valid-token"); err != nil {
		t.Fatal(err)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	logs := srv.stderr.String()
	if !strings.Contains(logs, " tls=false mtls=false ") {
		t.Errorf("start-up line does not say plaintext:\n%s", logs)
	}
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "development mode") {
		t.Errorf("no development-mode warning:\n%s", logs)
	}
	if strings.Contains(logs, "valid-token") {
		t.Errorf("log holds the demo token:\n%s", logs)
	}
}

func TestRunHelp(t *testing.T) {
	t.Parallel()
	var stdout, stderr testkit.Buffer
	// Bounded: a --help that starts the server instead must not hang.
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	if err := run(ctx, []string{"--help"}, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, flag := range []string{"listen", "users", "auth-tokens-file", "tls-cert", "tls-key", "tls-client-ca",
		"log-level", "log-format", "log-file", "max-recv-msg-size", "shutdown-timeout", "max-concurrent-streams", "stream-workers",
		"keepalive-min-time", "keepalive-time", "keepalive-timeout", "max-connection-idle", "max-connection-age", "max-connection-age-grace",
		"max-header-list-size", "request-timeout", "handshake-timeout", "max-connections"} {
		env := "USER_SERVER_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
		if !strings.Contains(stdout.String(), "-"+flag+" ") || !strings.Contains(stdout.String(), "(env "+env+")") {
			t.Errorf("--help does not document --%s and %s", flag, env)
		}
	}
	if !strings.Contains(stdout.String(), "USER_SERVER_AUTH_TOKENS ") {
		t.Error("--help does not mention USER_SERVER_AUTH_TOKENS")
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tokens := writeFile(t, "tokens", "tok-1\n")
	emptyTokens := writeFile(t, "empty-tokens", "# no tokens here\n\n")
	badUsers := writeFile(t, "users.json", `{"users": [{"id": "a", "name": "A", "email": "a@example.com"},`+"\n"+
		`{"id": "a", "name": "B", "email": "b@example.com"}]}`)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"non-loopback without tokens", []string{"--listen", "0.0.0.0:0"}, nil, "refusing to listen on 0.0.0.0:0"},
		{"unspecified IPv6 without tokens", []string{"--listen", "[::]:0"}, nil, "refusing to listen"},
		{"empty host without tokens", []string{"--listen", ":0"}, nil, "refusing to listen"},
		{"hostname without tokens", []string{"--listen", "example.com:0"}, nil, "refusing to listen"},
		{"non-loopback from env", nil, map[string]string{"USER_SERVER_LISTEN": "0.0.0.0:0"}, "refusing to listen"},
		{"bad log level", []string{"--log-level", "loud"}, nil, `--log-level: unknown log level "loud"`},
		{"bad log level from env", nil, map[string]string{"USER_SERVER_LOG_LEVEL": "loud"}, "--log-level"},
		{"bad log format", []string{"--log-format", "xml"}, nil, `--log-format: unknown format "xml"`},
		{"bad duration from env", nil, map[string]string{"USER_SERVER_SHUTDOWN_TIMEOUT": "soon"}, `USER_SERVER_SHUTDOWN_TIMEOUT="soon"`},
		{"negative shutdown timeout", []string{"--shutdown-timeout", "-1s"}, nil, "--shutdown-timeout must be positive"},
		{"zero max recv size", []string{"--max-recv-msg-size", "0"}, nil, "--max-recv-msg-size must be positive"},
		{"zero streams", []string{"--max-concurrent-streams", "0"}, nil, "--max-concurrent-streams"},
		{"too many stream workers", []string{"--stream-workers", "4097"}, nil, "--stream-workers must be between 0 and 4096, got 4097"},
		{"listen without port", []string{"--listen", "127.0.0.1"}, nil, `--listen "127.0.0.1"`},
		{"unknown flag", []string{"--nope"}, nil, "flag provided but not defined: -nope"},
		{"stray argument", []string{"serve"}, nil, `unexpected argument "serve"`},
		{"cert without key", []string{"--tls-cert", "c.pem"}, nil, "--tls-cert and --tls-key must be given together"},
		{"client CA without cert", []string{"--tls-client-ca", "ca.pem"}, nil, "--tls-client-ca (mTLS) needs --tls-cert"},
		{"missing cert files", []string{"--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"}, nil, "loading TLS key pair"},
		{"missing users file", []string{"--users", "/nonexistent/users.json"}, nil, "users file"},
		{"duplicate users", []string{"--users", badUsers}, nil, badUsers + `:2:1: users[1]: duplicate id "a" (first in users[0])`},
		{"missing tokens file", []string{"--auth-tokens-file", "/nonexistent/tokens"}, nil, "auth tokens file"},
		{"tokens file without tokens", []string{"--auth-tokens-file", emptyTokens}, nil, "no tokens"},
		{"both token sources", []string{"--auth-tokens-file", tokens}, map[string]string{"USER_SERVER_AUTH_TOKENS": "x"}, "use one"},
		{"token env without tokens", nil, map[string]string{"USER_SERVER_AUTH_TOKENS": " , \n"}, "holds no tokens"},
		{"unwritable log file", []string{"--log-file", "/nonexistent/dir/log"}, nil, "--log-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runFails(t, tt.args, tt.env, tt.want)
		})
	}
}

// runFails calls run with args and env and checks it fails before serving,
// with a one-line error containing want.
func runFails(t *testing.T, args []string, env map[string]string, want string) {
	t.Helper()
	var stdout, stderr testkit.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err := run(ctx, args, func(k string) string { return env[k] }, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("run error = %v, want one containing %q", err, want)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
	if stdout.String() != "" {
		t.Errorf("stdout = %q: the server started", stdout.String())
	}
}

// TestRunTokensAllowNonLoopback: with tokens configured the loopback
// restriction is lifted (listening on all interfaces, port 0).
func TestRunTokensAllowNonLoopback(t *testing.T) {
	t.Parallel()
	tokens := writeFile(t, "tokens", "# deploy tokens\ntok-file-1\n\n  tok-file-2  \n")
	srv := startRun(t, nil, "--listen", "0.0.0.0:0", "--auth-tokens-file", tokens)
	if !strings.HasPrefix(srv.addr, "0.0.0.0:") && !strings.HasPrefix(srv.addr, "[::]:") {
		t.Fatalf("addr = %s", srv.addr)
	}
	_, port, _ := strings.Cut(srv.addr, "]:")
	if port == "" {
		_, port, _ = strings.Cut(srv.addr, ":")
	}
	conn := dial(t, "127.0.0.1:"+port, nil)
	if _, err := getUser(t.Context(), conn, "tok-file-2"); err != nil {
		t.Fatal(err)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	ca, other := pki.NewCA(t, "test CA"), pki.NewCA(t, "untrusted CA")
	certPEM, keyPEM := ca.Issue(t, "server", x509.ExtKeyUsageServerAuth)
	srv := startRun(t, nil, "--tls-cert", writeFile(t, "server.pem", string(certPEM)), "--tls-key", writeFile(t, "server-key.pem", string(keyPEM)))
	if l := srv.stderr.String(); !strings.Contains(l, " tls=true mtls=false ") {
		t.Errorf("start-up line does not say TLS without mTLS:\n%s", l)
	}

	if _, err := getUser(t.Context(), dial(t, srv.addr, clientTLS(ca.Pool())), "valid-token"); err != nil {
		t.Fatalf("trusting client: %v", err)
	}
	if _, err := getUser(t.Context(), dial(t, srv.addr, clientTLS(other.Pool())), "valid-token"); status.Code(err) != codes.Unavailable {
		t.Fatalf("client trusting another CA: %v, want Unavailable", err)
	}
	if _, err := getUser(t.Context(), dial(t, srv.addr, nil), "valid-token"); status.Code(err) != codes.Unavailable {
		t.Fatalf("plaintext client: %v, want Unavailable", err)
	}
}

func TestMTLS(t *testing.T) {
	t.Parallel()
	ca, clientCA, other := pki.NewCA(t, "server CA"), pki.NewCA(t, "client CA"), pki.NewCA(t, "untrusted CA")
	certPEM, keyPEM := ca.Issue(t, "server", x509.ExtKeyUsageServerAuth)
	srv := startRun(t, nil,
		"--tls-cert", writeFile(t, "server.pem", string(certPEM)),
		"--tls-key", writeFile(t, "server-key.pem", string(keyPEM)),
		"--tls-client-ca", writeFile(t, "client-ca.pem", string(clientCA.CertPEM)))
	if l := srv.stderr.String(); !strings.Contains(l, " tls=true mtls=true ") {
		t.Errorf("start-up line does not say mTLS:\n%s", l)
	}

	keyPair := func(ca *pki.CA) tls.Certificate { return ca.KeyPair(t, "client", x509.ExtKeyUsageClientAuth) }
	good, untrusted := keyPair(clientCA), keyPair(other)
	ctx := t.Context()
	if _, err := getUser(ctx, dial(t, srv.addr, clientTLS(ca.Pool(), good)), "valid-token"); err != nil {
		t.Fatalf("client with a trusted certificate: %v", err)
	}
	for name, creds := range map[string]struct {
		roots *x509.CertPool
		certs []tls.Certificate
	}{
		"no client certificate":                 {ca.Pool(), nil},
		"client certificate untrusted":          {ca.Pool(), []tls.Certificate{untrusted}},
		"client does not trust server":          {other.Pool(), []tls.Certificate{good}},
		"client certificate from the server CA": {ca.Pool(), []tls.Certificate{keyPair(ca)}},
	} {
		if _, err := getUser(ctx, dial(t, srv.addr, clientTLS(creds.roots, creds.certs...)), "valid-token"); status.Code(err) != codes.Unavailable {
			t.Errorf("%s: %v, want Unavailable", name, err)
		}
	}
}

// failingListener accepts nothing and fails for good once fail is closed,
// as a listener whose socket broke would.
type failingListener struct {
	net.Listener
	fail      <-chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
}

var errListenerBroke = errors.New("listener broke (injected)")

func (l *failingListener) Accept() (net.Conn, error) {
	select {
	case <-l.fail:
		return nil, errListenerBroke
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *failingListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// TestRunStopsWhenHTTPFails: when the HTTP listener fails, run shuts the
// gRPC server down gracefully and returns the error, rather than serving
// gRPC alone. Not parallel: it replaces wrapHTTPListener.
func TestRunStopsWhenHTTPFails(t *testing.T) {
	fail := make(chan struct{})
	defer func(w func(net.Listener) net.Listener) { wrapHTTPListener = w }(wrapHTTPListener)
	wrapHTTPListener = func(l net.Listener) net.Listener {
		return &failingListener{Listener: l, fail: fail, closed: make(chan struct{})}
	}
	srv := startRun(t, nil, "--http-listen", "127.0.0.1:0")
	conn := dial(t, srv.addr, nil)
	waitServing(t, conn)
	close(fail)
	// stdout closes when run returns; no cancel needed.
	deadline := time.After(waitFor)
	for open := true; open; {
		select {
		case _, open = <-srv.lines:
		case <-deadline:
			t.Fatalf("run still serving %v after the HTTP listener failed; log:\n%s", waitFor, srv.stderr)
		}
	}
	err := srv.stop()
	if !errors.Is(err, errListenerBroke) {
		t.Fatalf("run returned %v, want the HTTP listener's error", err)
	}
	// Graceful: the same shutdown as on a signal.
	logs := srv.stderr.String()
	for _, want := range []string{"HTTP server stopped", "shutting down", "stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if _, err := getUser(t.Context(), conn, "valid-token"); status.Code(err) != codes.Unavailable {
		t.Errorf("gRPC call after run returned: %v, want Unavailable", err)
	}
}
