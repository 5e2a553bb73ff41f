package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-server/internal/signals"
	"github.com/acme/user-service/services/user-server/internal/testwait"
	"github.com/acme/user-service/testkit"
	"github.com/acme/user-service/testkit/proc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
)

// waitFor is the test's bound on anything that should happen promptly; it
// only fails a test that would otherwise hang.
var waitFor = testwait.Bound()

// runErr runs the server with args and env and returns run's error; it
// fails the test if the server started.
func runErr(t *testing.T, ctx context.Context, args []string, env map[string]string) error {
	t.Helper()
	stdout, err := runReturns(t, ctx, args, env)
	if stdout != "" {
		t.Errorf("stdout = %q: the server started", stdout)
	}
	return err
}

// runReturns runs a command that should return by itself (a subcommand, or
// the server refusing its configuration) and returns its stdout and error;
// one still running after waitFor (a server that started) is stopped and
// fails the test.
func runReturns(t *testing.T, ctx context.Context, args []string, env map[string]string) (string, error) {
	t.Helper()
	var stdout, stderr testkit.Buffer
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, func(k string) string { return env[k] }, &stdout, &stderr) }()
	select {
	case err := <-done:
		return stdout.String(), err
	case <-time.After(waitFor):
		cancel()
		<-done
		t.Fatalf("run %v did not return within %v", args, waitFor)
		return "", nil
	}
}

func TestRunRejectsHostileConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.json")
	if err := os.WriteFile(huge, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, 64<<20+1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	escUsers := writeFile(t, "users.json", `{"users": [{"id": "a", "name": "\u001b]0;pwned\u0007\u001b[2J\nStatus: Success\r", "email": "a@example.com"}]}`)
	longEmail := writeFile(t, "users.json", `{"users": [{"id": "a", "name": "A", "email": "`+strings.Repeat("x", 300)+`@example.com"}]}`)
	inlineComment := writeFile(t, "tokens", "s3cr3t-tok1   # for service A\n")
	demoTokenFile := writeFile(t, "tokens", "valid-token\n")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"users from a device", []string{"--users", "/dev/zero"}, nil, "/dev/zero: not a regular file"},
		{"users from a FIFO", []string{"--users", fifo}, nil, "not a regular file"},
		{"users over the size cap", []string{"--users", huge}, nil, "larger than the 67108864-byte limit"},
		{"tokens from a device", []string{"--auth-tokens-file", "/dev/zero"}, nil, "auth tokens file: /dev/zero: not a regular file"},
		{"tokens from a FIFO", []string{"--auth-tokens-file", fifo}, nil, "not a regular file"},
		{"TLS cert from a device", []string{"--tls-cert", "/dev/zero", "--tls-key", "/dev/zero"}, nil, "not a regular file"},
		{"client CA from a FIFO", []string{"--tls-cert", "c", "--tls-key", "k", "--tls-client-ca", fifo}, nil, "--tls-cert"},
		{"control characters in a name", []string{"--users", escUsers}, nil, `holds a control character`},
		{"email too long", []string{"--users", longEmail}, nil, "email is longer than 254 bytes"},
		{"inline comment in tokens file", []string{"--auth-tokens-file", inlineComment}, nil, ":1: token holds white space"},
		{"demo token in tokens file", []string{"--auth-tokens-file", demoTokenFile}, nil, "public demo token"},
		{"demo token in env", nil, map[string]string{"USER_SERVER_AUTH_TOKENS": "valid-token"}, "public demo token"},
		{"empty tokens file flag", []string{"--auth-tokens-file", ""}, nil, "--auth-tokens-file is empty"},
		{"empty tokens file flag, form =", []string{"--auth-tokens-file="}, nil, "--auth-tokens-file is empty"},
		{"header list too small", []string{"--max-header-list-size", "10"}, nil, "--max-header-list-size must be between 1024"},
		{"zero request timeout", []string{"--request-timeout", "0s"}, nil, "--request-timeout must be positive"},
		{"zero handshake timeout", []string{"--handshake-timeout", "0s"}, nil, "--handshake-timeout must be positive"},
		{"negative connection cap", []string{"--max-connections", "-1"}, nil, "--max-connections must be 0"},
		{"bad env without its flag", nil, map[string]string{"USER_SERVER_MAX_RECV_MSG_SIZE": "abc"}, `USER_SERVER_MAX_RECV_MSG_SIZE="abc"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := runErr(t, t.Context(), tt.args, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run error = %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error echoes a token: %q", err)
			}
		})
	}
}

// TestRunStartupHonoursCancel: a signal during start-up (here: a context
// cancelled before the users file is read) stops run with the cancellation,
// instead of reading on and serving.
func TestRunStartupHonoursCancel(t *testing.T) {
	t.Parallel()
	users := writeFile(t, "users.json", `{"users": [{"id": "a", "name": "A", "email": "a@example.com"}]}`)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := runErr(t, ctx, []string{"--listen", "127.0.0.1:0", "--users", users}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run with a cancelled context = %v, want context.Canceled", err)
	}
}

// TestRunFlagWinsOverBadEnv: a flag overrides its environment variable
// even when the variable would not parse.
func TestRunFlagWinsOverBadEnv(t *testing.T) {
	t.Parallel()
	srv := startRun(t, map[string]string{"USER_SERVER_MAX_RECV_MSG_SIZE": "abc", "USER_SERVER_REQUEST_TIMEOUT": "soon"},
		"--max-recv-msg-size", "1000", "--request-timeout", "5s")
	if _, err := getUser(t.Context(), dial(t, srv.addr, nil), "valid-token"); err != nil {
		t.Fatal(err)
	}
}

// TestRunLocalhostResolved (not parallel: it replaces lookupNetIP, which
// parallel tests, paused until the sequential ones finish, never see).
func TestRunLocalhostResolved(t *testing.T) {
	defer func(old func(context.Context, string, string) ([]netip.Addr, error)) { lookupNetIP = old }(lookupNetIP)
	var asked []string
	lookupNetIP = func(_ context.Context, _, host string) ([]netip.Addr, error) {
		asked = append(asked, host)
		return []netip.Addr{netip.MustParseAddr("192.0.2.10")}, nil
	}
	err := runErr(t, t.Context(), []string{"--listen", "localhost:0"}, nil)
	if err == nil || !strings.Contains(err.Error(), "refusing to listen on localhost:0") || !strings.Contains(err.Error(), "192.0.2.10") {
		t.Fatalf("localhost mapped to 192.0.2.10: run = %v, want a refusal naming the address", err)
	}
	if len(asked) != 1 || asked[0] != "localhost" {
		t.Errorf("resolved %q, want localhost once", asked)
	}

	// Mapped to loopback: the checked address itself is bound.
	lookupNetIP = func(context.Context, string, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")}, nil
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "localhost:0"}, func(string) string { return "" }, pw, io.Discard)
		pw.Close()
	}()
	addr, err := proc.ListenAddr(bufio.NewReader(pr))
	if err != nil {
		t.Fatalf("server did not start: %v, %v", err, <-done)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("bound %s, want the checked 127.0.0.1", addr)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRunHandshakeTimeout: a connection that does not complete the HTTP/2
// handshake (nothing sent, part of the preface, the preface without
// SETTINGS) is closed after --handshake-timeout (grpc-go's default: 120s).
func TestRunHandshakeTimeout(t *testing.T) {
	t.Parallel()
	srv := startRun(t, nil, "--handshake-timeout", "100ms")
	const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	for name, sent := range map[string]string{
		"nothing":                      "",
		"part of the preface":          preface[:10],
		"the preface without SETTINGS": preface,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := net.Dial("tcp", srv.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, sent); err != nil {
				t.Fatal(err)
			}
			// Bounds the test only: the server closes the connection long before.
			_ = c.SetReadDeadline(time.Now().Add(waitFor))
			if _, err := io.Copy(io.Discard, c); err != nil { // the server's SETTINGS, then EOF
				t.Fatalf("connection not closed by the server: %v", err)
			}
		})
	}
}

// TestRunMaxConnections: with --max-connections 1, a second connection is
// served only once the first closes.
func TestRunMaxConnections(t *testing.T) {
	t.Parallel()
	srv := startRun(t, nil, "--max-connections", "1", "--handshake-timeout", "10m")
	raw, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	// The server writes its SETTINGS once it accepted the connection.
	_ = raw.SetReadDeadline(time.Now().Add(waitFor))
	if _, err := raw.Read(make([]byte, 1)); err != nil {
		t.Fatalf("first connection not accepted: %v", err)
	}
	conn := dial(t, srv.addr, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	_, err = userv1.NewUserServiceClient(conn).GetUserDetails(ctx, &userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: "valid-token"})
	cancel()
	if code := status.Code(err); code != codes.DeadlineExceeded && code != codes.Unavailable {
		t.Fatalf("RPC over a second connection while the cap is reached: %v, want it to wait", err)
	}
	raw.Close()
	if _, err := getUser(t.Context(), conn, "valid-token"); err != nil {
		t.Fatalf("after the first connection closed: %v", err)
	}
}

// TestRunRequestTimeout: a stream whose request message never comes is
// ended by the server (the client here sets no deadline, or a later one).
func TestRunRequestTimeout(t *testing.T) {
	t.Parallel()
	srv := startRun(t, nil, "--request-timeout", "200ms", "--reflection")
	conn := dial(t, srv.addr, nil)
	recvErr := func(s grpc.ClientStream, m any) error {
		t.Helper()
		errc := make(chan error, 1)
		go func() { errc <- s.RecvMsg(m) }()
		select {
		case err := <-errc:
			return err
		case <-time.After(waitFor):
			t.Fatal("the server did not end a stream without a request")
			return nil
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), time.Hour) // longer than the bound
	defer cancel()
	for _, clientCtx := range []context.Context{t.Context(), ctx} {
		s, err := conn.NewStream(clientCtx, &grpc.StreamDesc{StreamName: "GetUserDetails"}, userv1.UserService_GetUserDetails_FullMethodName)
		if err != nil {
			t.Fatal(err)
		}
		if err := recvErr(s, &userv1.GetUserDetailsResponse{}); status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("unary stream without its message: %v, want DeadlineExceeded", err)
		}
	}

	// A streaming RPC must send its first message in time, too.
	rs, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(bearer(t.Context(), "valid-token"))
	if err != nil {
		t.Fatal(err)
	}
	if err := recvErr(rs, &reflectionpb.ServerReflectionResponse{}); status.Code(err) != codes.Canceled {
		t.Fatalf("reflection stream without a request: %v, want Canceled", err)
	}

	// Requests that come in time are served.
	if _, err := getUser(t.Context(), conn, "valid-token"); err != nil {
		t.Fatal(err)
	}
}

// openWatch starts a health Watch and returns it once it reported SERVING.
// Its deadline only keeps a broken shutdown from hanging the test.
func openWatch(t *testing.T, conn *grpc.ClientConn) healthpb.Health_WatchClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	t.Cleanup(cancel)
	w, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := w.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch: %v, %v", r, err)
	}
	return w
}

// TestRunShutdownEndsStreams: open health Watch and reflection streams do
// not hold the shutdown for --shutdown-timeout; the watcher is told
// NOT_SERVING first, then its stream ends with Unavailable.
func TestRunShutdownEndsStreams(t *testing.T) {
	t.Parallel()
	logFile := filepath.Join(t.TempDir(), "server.log")
	srv := startRun(t, nil, "--shutdown-timeout", "10m", "--log-file", logFile, "--reflection")
	conn := dial(t, srv.addr, nil)
	watch := openWatch(t, conn)
	bounded, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	svcWatch, err := healthpb.NewHealthClient(conn).Watch(bounded, &healthpb.HealthCheckRequest{Service: "no.such.Service"})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := svcWatch.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVICE_UNKNOWN {
		t.Fatalf("Watch of an unknown service: %v, %v", r, err)
	}
	refl, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(bearer(bounded, "valid-token"))
	if err != nil {
		t.Fatal(err)
	}
	if err := refl.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := refl.Recv(); err != nil {
		t.Fatal(err)
	}

	stopped := make(chan error, 1)
	go func() { stopped <- srv.stop() }()
	if r, err := watch.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("watcher not told NOT_SERVING: %v, %v", r, err)
	}
	if _, err := watch.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("watch after NOT_SERVING: %v, want Unavailable", err)
	}
	if _, err := svcWatch.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("watch of an unknown service: %v, want Unavailable", err)
	}
	if _, err := refl.Recv(); status.Code(err) != codes.Canceled && status.Code(err) != codes.Unavailable {
		t.Errorf("reflection stream: %v, want it ended", err)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitFor):
		t.Fatal("run still draining open streams")
	}
	logs, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logs), "msg=stopped") || strings.Contains(string(logs), "shutdown timeout") {
		t.Errorf("shutdown did not drain cleanly:\n%s", logs)
	}
}

// TestRunForcedStop: a second signal (the Forced channel) stops a drain
// that waits for an RPC at once, and the log says so.
func TestRunForcedStop(t *testing.T) {
	t.Parallel()
	logFile := filepath.Join(t.TempDir(), "server.log")
	force := make(chan struct{})
	srv := startRunCtx(t, signals.WithForce(t.Context(), force), nil,
		"--shutdown-timeout", "10m", "--request-timeout", "10m", "--log-file", logFile)
	conn := dial(t, srv.addr, nil)
	watch := openWatch(t, conn)
	// A unary RPC whose message never comes: the drain waits for it.
	if _, err := conn.NewStream(t.Context(), &grpc.StreamDesc{StreamName: "GetUserDetails"}, userv1.UserService_GetUserDetails_FullMethodName); err != nil {
		t.Fatal(err)
	}
	if _, err := getUser(t.Context(), conn, "valid-token"); err != nil { // the held stream is registered
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- srv.stop() }()
	if r, err := watch.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("shutdown did not start: %v, %v", r, err)
	}
	close(force)
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitFor):
		t.Fatal("run still draining after the second signal")
	}
	logs, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logs), "second signal: stopping now") {
		t.Errorf("log lacks the forced stop:\n%s", logs)
	}
}
