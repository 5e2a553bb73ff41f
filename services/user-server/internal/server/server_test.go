package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-server/internal/auth"
	"github.com/acme/user-service/services/user-server/internal/directory"
	"github.com/acme/user-service/services/user-server/internal/directory/file"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protowire"
)

// logBuffer collects JSON log lines; safe for concurrent use.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{} // closed by the next Write, if not nil
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.written != nil {
		close(l.written)
		l.written = nil
	}
	return l.buf.Write(p)
}

// waitAccessLines waits until the log holds at least n access lines: grpc-go
// reports the end of an RPC, which writes its line, after it has sent the
// reply, so the caller can see the reply first.
// A line missing after a minute fails the test rather than hanging it.
func (l *logBuffer) waitAccessLines(t *testing.T, n int) {
	t.Helper()
	giveUp := time.NewTimer(time.Minute)
	defer giveUp.Stop()
	for {
		l.mu.Lock()
		if strings.Count(l.buf.String(), `"msg":"rpc"`) >= n {
			l.mu.Unlock()
			return
		}
		if l.written == nil {
			l.written = make(chan struct{})
		}
		written := l.written
		l.mu.Unlock()
		select {
		case <-written:
		case <-giveUp.C:
			t.Fatalf("no %d access lines after a minute:\n%s", n, l)
		}
	}
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// lines returns the decoded log records.
func (l *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

type testServer struct {
	srv    *Server
	conn   *grpc.ClientConn
	client userv1.UserServiceClient
	logs   *logBuffer
}

type option func(*Config)

func withLevel(level slog.Level, logs *logBuffer) option {
	return func(c *Config) { c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level})) }
}

// start serves a Server over bufconn; the default is the embedded
// directory, development-mode auth and a JSON logger at DEBUG.
func start(t *testing.T, opts ...option) *testServer {
	t.Helper()
	logs := &logBuffer{}
	authn, err := auth.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Users:  file.Embedded(),
		Auth:   authn,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		// The raw cases include a reflection stream.
		Reflection: true,
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	conn := serveBufconn(t, srv)
	return &testServer{srv: srv, conn: conn, client: userv1.NewUserServiceClient(conn), logs: logs}
}

// serveBufconn serves srv on an in-memory listener until the test ends and
// returns a client connection to it.
func serveBufconn(t *testing.T, srv *Server) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.grpc.Serve(lis) }()
	t.Cleanup(srv.grpc.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// violation is a (field path, rule id) pair expected in the status details.
type violation struct{ field, rule string }

func violationsOf(t *testing.T, st *status.Status) []violation {
	t.Helper()
	var out []violation
	for _, d := range st.Details() {
		vs, ok := d.(*validate.Violations)
		if !ok {
			t.Fatalf("unexpected detail %T", d)
		}
		for _, v := range vs.GetViolations() {
			var names []string
			for _, e := range v.GetField().GetElements() {
				names = append(names, e.GetFieldName())
			}
			if v.GetMessage() == "" {
				t.Errorf("violation of %v has no message", names)
			}
			out = append(out, violation{strings.Join(names, "."), v.GetRuleId()})
		}
	}
	return out
}

const secretToken = "s3cret-Token-ZQX"

func TestGetUserDetails(t *testing.T) {
	t.Parallel()
	dev := start(t)
	authn, err := auth.New([]string{secretToken, "second-token"})
	if err != nil {
		t.Fatal(err)
	}
	prod := start(t, func(c *Config) { c.Auth = authn })

	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name       string
		srv        *testServer
		userID     string
		token      string
		code       codes.Code
		violations []violation
	}{
		{name: "success dev token", srv: dev, userID: "john123", token: auth.DevToken, code: codes.OK},
		{name: "success configured token", srv: prod, userID: "john123", token: secretToken, code: codes.OK},
		{name: "success second configured token", srv: prod, userID: "john123", token: "second-token", code: codes.OK},
		{name: "unknown user", srv: dev, userID: "jane456", token: auth.DevToken, code: codes.NotFound},
		{name: "user id is case-sensitive", srv: dev, userID: "John123", token: auth.DevToken, code: codes.NotFound},
		{name: "missing token", srv: dev, userID: "john123", token: "", code: codes.Unauthenticated},
		{name: "wrong token", srv: dev, userID: "john123", token: "not-the-token", code: codes.Unauthenticated},
		{name: "near-miss token last char", srv: dev, userID: "john123", token: "valid-tokem", code: codes.Unauthenticated},
		{name: "near-miss token prefix", srv: dev, userID: "john123", token: "valid-toke", code: codes.Unauthenticated},
		{name: "near-miss token suffix", srv: dev, userID: "john123", token: "valid-token!", code: codes.Unauthenticated},
		{name: "near-miss token case", srv: dev, userID: "john123", token: "Valid-token", code: codes.Unauthenticated},
		{name: "near-miss token space", srv: dev, userID: "john123", token: "valid-token ", code: codes.Unauthenticated},
		{name: "dev token refused once tokens are configured", srv: prod, userID: "john123", token: auth.DevToken, code: codes.Unauthenticated},
		{name: "near-miss configured token", srv: prod, userID: "john123", token: secretToken[:len(secretToken)-1], code: codes.Unauthenticated},
		{name: "user_id required", srv: dev, userID: "", token: auth.DevToken, code: codes.InvalidArgument,
			violations: []violation{{"user_id", "required"}}},
		{name: "user_id max_len", srv: dev, userID: long(65), token: auth.DevToken, code: codes.InvalidArgument,
			violations: []violation{{"user_id", "string.max_len"}}},
		{name: "user_id at max_len is valid", srv: dev, userID: long(64), token: auth.DevToken, code: codes.NotFound},
		{name: "user_id pattern space", srv: dev, userID: "john 123", token: auth.DevToken, code: codes.InvalidArgument,
			violations: []violation{{"user_id", "string.pattern"}}},
		{name: "user_id pattern slash", srv: dev, userID: "../etc", token: auth.DevToken, code: codes.InvalidArgument,
			violations: []violation{{"user_id", "string.pattern"}}},
		{name: "user_id pattern non-ASCII", srv: dev, userID: "jöhn", token: auth.DevToken, code: codes.InvalidArgument,
			violations: []violation{{"user_id", "string.pattern"}}},
		{name: "user_id max_len and pattern", srv: dev, userID: strings.Repeat("!", 65), token: auth.DevToken, code: codes.InvalidArgument,
			violations: []violation{{"user_id", "string.max_len"}, {"user_id", "string.pattern"}}},
		{name: "auth_token max_len", srv: dev, userID: "john123", token: long(513), code: codes.InvalidArgument,
			violations: []violation{{"auth_token", "string.max_len"}}},
		{name: "every violation reported", srv: dev, userID: "", token: long(513), code: codes.InvalidArgument,
			violations: []violation{{"user_id", "required"}, {"auth_token", "string.max_len"}}},
		// Order: validation runs before auth, auth before the handler.
		{name: "invalid request with wrong token is InvalidArgument", srv: dev, userID: "john 123", token: "wrong", code: codes.InvalidArgument,
			violations: []violation{{"user_id", "string.pattern"}}},
		{name: "unknown user with wrong token is Unauthenticated", srv: dev, userID: "jane456", token: "wrong", code: codes.Unauthenticated},
		{name: "missing token wins over invalid user_id", srv: dev, userID: "", token: "", code: codes.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := tt.srv.client.GetUserDetails(t.Context(), &userv1.GetUserDetailsRequest{UserId: tt.userID, AuthToken: tt.token})
			st := status.Convert(err)
			if st.Code() != tt.code {
				t.Fatalf("code = %v (%q), want %v", st.Code(), st.Message(), tt.code)
			}
			if tt.code == codes.OK {
				if resp.GetName() != "John Doe" || resp.GetEmail() != "john123@example.com" || resp.GetStatus() != "Success" {
					t.Fatalf("response = %v", resp)
				}
				return
			}
			if st.Message() == "" {
				t.Error("empty status message")
			}
			if tt.token != "" && strings.Contains(st.Message(), tt.token) {
				t.Errorf("status message %q echoes the token", st.Message())
			}
			got := violationsOf(t, st)
			if !slices.Equal(got, tt.violations) {
				t.Errorf("violations = %v, want %v", got, tt.violations)
			}
		})
	}
	t.Cleanup(func() {
		// Runs after the parallel subtests: no log line holds a token.
		for _, logs := range []*logBuffer{dev.logs, prod.logs} {
			s := logs.String()
			for _, tok := range []string{secretToken, "second-token", auth.DevToken, "valid-tokem", "not-the-token"} {
				if strings.Contains(s, tok) {
					t.Errorf("log holds token %q:\n%s", tok, s)
				}
			}
		}
	})
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	ts := start(t)
	ctx := t.Context()
	calls := []struct {
		userID, token string
		code          codes.Code
		level         string
	}{
		{"john123", auth.DevToken, codes.OK, "INFO"},
		{"nobody", auth.DevToken, codes.NotFound, "WARN"},
		{"", auth.DevToken, codes.InvalidArgument, "WARN"},
		{"john123", "wrong-token", codes.Unauthenticated, "WARN"},
	}
	for _, c := range calls {
		_, err := ts.client.GetUserDetails(ctx, &userv1.GetUserDetailsRequest{UserId: c.userID, AuthToken: c.token})
		if status.Code(err) != c.code {
			t.Fatalf("code = %v, want %v", status.Code(err), c.code)
		}
	}
	ts.logs.waitAccessLines(t, len(calls))
	// Lines are written as RPCs end, not necessarily in call order; each
	// call has its own code.
	rpcs := map[string]map[string]any{}
	for _, l := range ts.logs.lines(t) {
		if l["msg"] == "rpc" {
			code, _ := l["code"].(string)
			if rpcs[code] != nil {
				t.Fatalf("two access lines with code %s:\n%s", code, ts.logs)
			}
			rpcs[code] = l
		}
	}
	if len(rpcs) != len(calls) {
		t.Fatalf("got %d access-log lines, want %d:\n%s", len(rpcs), len(calls), ts.logs)
	}
	for i, c := range calls {
		l := rpcs[c.code.String()]
		if l["level"] != c.level || l["code"] != c.code.String() || l["method"] != userv1.UserService_GetUserDetails_FullMethodName {
			t.Errorf("line %d = %v, want level %s code %s", i, l, c.level, c.code)
		}
		if _, ok := l["duration"].(float64); !ok {
			t.Errorf("line %d has no duration: %v", i, l)
		}
		if _, ok := l["peer"]; !ok {
			t.Errorf("line %d has no peer: %v", i, l)
		}
		if _, hasErr := l["error"]; hasErr != (c.code != codes.OK) {
			t.Errorf("line %d: error attribute present = %v for code %v", i, hasErr, c.code)
		}
	}
	if strings.Contains(ts.logs.String(), "wrong-token") || strings.Contains(ts.logs.String(), auth.DevToken) {
		t.Errorf("log holds a token:\n%s", ts.logs)
	}
}

func TestAccessLogFilteredByLevel(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	ts := start(t, withLevel(slog.LevelWarn, logs))
	ctx := t.Context()
	if _, err := ts.client.GetUserDetails(ctx, &userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: auth.DevToken}); err != nil {
		t.Fatal(err)
	}
	if s := logs.String(); s != "" {
		t.Fatalf("successful RPC logged at level WARN:\n%s", s)
	}
	if _, err := ts.client.GetUserDetails(ctx, &userv1.GetUserDetailsRequest{UserId: "nobody", AuthToken: auth.DevToken}); status.Code(err) != codes.NotFound {
		t.Fatalf("err = %v", err)
	}
	logs.waitAccessLines(t, 1)
	lines := logs.lines(t)
	if len(lines) != 1 || lines[0]["level"] != "WARN" || lines[0]["code"] != "NotFound" {
		t.Fatalf("lines = %v", lines)
	}
}

// panickingDirectory panics on one id, to exercise recovery.
type panickingDirectory struct{ directory.Directory }

func (d panickingDirectory) Lookup(ctx context.Context, id string) (directory.User, error) {
	if id == "boom" {
		panic("directory exploded")
	}
	return d.Directory.Lookup(ctx, id)
}

func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	ts := start(t, func(c *Config) { c.Users = panickingDirectory{file.Embedded()} })
	ctx := t.Context()
	_, err := ts.client.GetUserDetails(ctx, &userv1.GetUserDetailsRequest{UserId: "boom", AuthToken: auth.DevToken})
	if st := status.Convert(err); st.Code() != codes.Internal || strings.Contains(st.Message(), "exploded") {
		t.Fatalf("err = %v, want Internal without the panic value", err)
	}
	// The server keeps serving.
	resp, err := ts.client.GetUserDetails(ctx, &userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: auth.DevToken})
	if err != nil || resp.GetName() != "John Doe" {
		t.Fatalf("after panic: %v, %v", resp, err)
	}
	ts.logs.waitAccessLines(t, 2)
	var panics, rpcs, internal int
	for _, l := range ts.logs.lines(t) {
		switch l["msg"] {
		case "panic in handler":
			panics++
			stack, _ := l["stack"].(string)
			if l["level"] != "ERROR" || l["panic"] != "directory exploded" || l["code"] != "Internal" ||
				!strings.Contains(stack, "panickingDirectory.Lookup") {
				t.Errorf("panic line = %v", l)
			}
		case "rpc":
			rpcs++
			if l["code"] == "Internal" && l["level"] == "ERROR" {
				internal++
			}
		}
	}
	// The panicking RPC has the panic line and its access line.
	if panics != 1 || rpcs != 2 || internal != 1 {
		t.Fatalf("panic lines = %d, access lines = %d (Internal at ERROR: %d), want 1, 2 (1):\n%s", panics, rpcs, internal, ts.logs)
	}
}

// TestInterceptorOrder pins the documented order recovery -> validation ->
// auth -> handler by behaviour: each case can only pass with the stages in
// that order. Every RPC, the recovered one included, has one access line.
func TestInterceptorOrder(t *testing.T) {
	t.Parallel()
	ts := start(t, func(c *Config) { c.Users = panickingDirectory{file.Embedded()} })
	tests := []struct {
		name, userID, token string
		code                codes.Code
	}{
		// validation before auth: a bad request with a bad token is InvalidArgument.
		{"validation before auth", "bad id", "wrong", codes.InvalidArgument},
		// auth before the handler: the panicking lookup is never reached.
		{"auth before handler", "boom", "wrong", codes.Unauthenticated},
		// validation before the handler: the panicking lookup is never reached.
		{"validation before handler", "boom!", auth.DevToken, codes.InvalidArgument},
		// recovery around the handler: the panic becomes Internal.
		{"recovery", "boom", auth.DevToken, codes.Internal},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ts.client.GetUserDetails(t.Context(), &userv1.GetUserDetailsRequest{UserId: tt.userID, AuthToken: tt.token})
			if status.Code(err) != tt.code {
				t.Fatalf("code = %v, want %v", status.Code(err), tt.code)
			}
			ts.logs.waitAccessLines(t, i+1)
			if !strings.Contains(ts.logs.String(), `"code":"`+tt.code.String()+`"`) {
				t.Fatalf("no access line with code %v:\n%s", tt.code, ts.logs)
			}
		})
	}
	if n := strings.Count(ts.logs.String(), "panic in handler"); n != 1 {
		t.Fatalf("%d panic lines, want 1", n)
	}
}

func TestHealthGoesNotServingOnShutdown(t *testing.T) {
	t.Parallel()
	ts := start(t)
	ctx := t.Context()
	hc := healthpb.NewHealthClient(ts.conn)
	for _, svc := range []string{"", "user.v1.UserService"} {
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("Check(%q) = %v, %v", svc, resp, err)
		}
	}
	watchCtx, cancelWatch := context.WithCancel(ctx)
	defer cancelWatch()
	w, err := hc.Watch(watchCtx, &healthpb.HealthCheckRequest{Service: "user.v1.UserService"})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := w.Recv(); err != nil || m.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first Watch status = %v, %v", m, err)
	}
	graceful := make(chan bool, 1)
	go func() { graceful <- ts.srv.Shutdown(time.Hour) }()
	if m, err := w.Recv(); err != nil || m.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Watch status after shutdown = %v, %v", m, err)
	}
	// Once told, the watcher's stream is ended: it does not hold the drain.
	if _, err := w.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("Watch after NOT_SERVING: %v, want Unavailable", err)
	}
	if !<-graceful {
		t.Fatal("shutdown was not graceful")
	}
	// Ending a watcher is part of a planned shutdown, not a server fault:
	// its access line is INFO, not ERROR.
	var watch []string
	for _, l := range ts.logs.lines(t) {
		if l["msg"] == "rpc" && l["method"] == healthpb.Health_Watch_FullMethodName {
			watch = append(watch, fmt.Sprintf("%v %v", l["level"], l["code"]))
		}
	}
	if !slices.Equal(watch, []string{"INFO Unavailable"}) {
		t.Errorf("Watch access lines (level code) = %q, want [INFO Unavailable]", watch)
	}
}

func TestShutdownTimeoutForcesStop(t *testing.T) {
	t.Parallel()
	ts := start(t, func(c *Config) { c.Limits.RequestTimeout = time.Hour })
	// A unary RPC whose message never comes holds the drain.
	s, err := ts.conn.NewStream(t.Context(), &grpc.StreamDesc{StreamName: "GetUserDetails"}, userv1.UserService_GetUserDetails_FullMethodName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.client.GetUserDetails(t.Context(), &userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: auth.DevToken}); err != nil {
		t.Fatal(err) // answered after the held stream was registered
	}
	if ts.srv.Shutdown(50 * time.Millisecond) {
		t.Fatal("Shutdown reported a complete drain with an RPC still open")
	}
	if !strings.Contains(ts.logs.String(), "shutdown timeout") {
		t.Errorf("no shutdown-timeout warning:\n%s", ts.logs)
	}
	if err := s.RecvMsg(&userv1.GetUserDetailsResponse{}); status.Code(err) != codes.Unavailable && status.Code(err) != codes.Canceled {
		t.Errorf("held RPC after Stop: %v", err)
	}
}

func TestForcedStop(t *testing.T) {
	t.Parallel()
	force := make(chan struct{})
	ts := start(t, func(c *Config) { c.Limits.RequestTimeout = time.Hour; c.Forced = force })
	if _, err := ts.conn.NewStream(t.Context(), &grpc.StreamDesc{StreamName: "GetUserDetails"}, userv1.UserService_GetUserDetails_FullMethodName); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.client.GetUserDetails(t.Context(), &userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: auth.DevToken}); err != nil {
		t.Fatal(err)
	}
	close(force)
	if ts.srv.Shutdown(time.Hour) {
		t.Fatal("Shutdown reported a complete drain with an RPC still open")
	}
	if !strings.Contains(ts.logs.String(), "second signal") {
		t.Errorf("no forced-stop warning:\n%s", ts.logs)
	}
}

func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	ts := start(t, func(c *Config) { c.Limits.RequestTimeout = 50 * time.Millisecond })
	// A Watch whose request came keeps running past the bound (which the
	// held streams below take to be ended): shutdown ends it, not the
	// request timeout.
	wc, err := healthpb.NewHealthClient(ts.conn).Watch(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wc.Recv(); err != nil {
		t.Fatal(err)
	}
	// Without a client deadline, and with a later one, the server ends a
	// stream whose message never comes.
	later, cancel := context.WithTimeout(t.Context(), time.Hour)
	defer cancel()
	for _, ctx := range []context.Context{t.Context(), later} {
		s, err := ts.conn.NewStream(ctx, &grpc.StreamDesc{StreamName: "GetUserDetails"}, userv1.UserService_GetUserDetails_FullMethodName)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RecvMsg(&userv1.GetUserDetailsResponse{}); status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("held unary RPC: %v, want DeadlineExceeded", err)
		}
	}
	w, err := ts.conn.NewStream(t.Context(), &grpc.StreamDesc{StreamName: "Watch", ServerStreams: true}, healthpb.Health_Watch_FullMethodName)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.RecvMsg(&healthpb.HealthCheckResponse{}); status.Code(err) != codes.Canceled {
		t.Fatalf("Watch without its request: %v, want Canceled", err)
	}
	if !ts.srv.Shutdown(time.Hour) {
		t.Fatal("shutdown not graceful")
	}
	if m, err := wc.Recv(); err != nil || m.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Watch = %v, %v; want NOT_SERVING (not ended by the request timeout)", m, err)
	}
}

func TestMaxRecvMsgSize(t *testing.T) {
	t.Parallel()
	ts := start(t, func(c *Config) { c.Limits.MaxRecvMsgSize = 1024 })
	_, err := ts.client.GetUserDetails(t.Context(), &userv1.GetUserDetailsRequest{UserId: strings.Repeat("a", 2000), AuthToken: auth.DevToken})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("err = %v, want ResourceExhausted", err)
	}
	ts.logs.waitAccessLines(t, 1)
	if !strings.Contains(ts.logs.String(), `"code":"ResourceExhausted"`) {
		t.Errorf("no ResourceExhausted access line:\n%s", ts.logs)
	}
}

// rawCodec sends pre-encoded bytes, so a test can put what a Go client
// refuses to encode (invalid UTF-8) on the wire.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// TestInvalidUTF8OnTheWire documents grpc-go's behaviour: it fails to decode
// the request before any interceptor runs, with codes.Internal; the access
// log still records it.
func TestInvalidUTF8OnTheWire(t *testing.T) {
	t.Parallel()
	ts := start(t)
	req := protowire.AppendTag(nil, 1, protowire.BytesType)
	req = protowire.AppendString(req, "jo\xffhn")
	req = protowire.AppendTag(req, 2, protowire.BytesType)
	req = protowire.AppendString(req, auth.DevToken)
	var resp []byte
	//lint:ignore SA1019 the raw codec is the point of this test.
	err := ts.conn.Invoke(t.Context(), userv1.UserService_GetUserDetails_FullMethodName, req, &resp, grpc.ForceCodec(rawCodec{}))
	if st := status.Convert(err); st.Code() != codes.Internal || !strings.Contains(st.Message(), "unmarshal") {
		t.Fatalf("err = %v, want Internal unmarshalling error", err)
	}
	// grpc-go answers it, and the access log still has its line.
	ts.logs.waitAccessLines(t, 1)
	// At WARN: the caller's fault, not the server's.
	if !strings.Contains(ts.logs.String(), `"level":"WARN","msg":"rpc","method":"/user.v1.UserService/GetUserDetails","code":"Internal"`) {
		t.Errorf("undecodable request has no Internal access line at WARN:\n%s", ts.logs)
	}
	// The same encoding with valid UTF-8 goes through.
	ok := protowire.AppendTag(nil, 1, protowire.BytesType)
	ok = protowire.AppendString(ok, "john123")
	ok = protowire.AppendTag(ok, 2, protowire.BytesType)
	ok = protowire.AppendString(ok, auth.DevToken)
	if err := ts.conn.Invoke(t.Context(), userv1.UserService_GetUserDetails_FullMethodName, ok, &resp, grpc.ForceCodec(rawCodec{})); err != nil {
		t.Fatalf("valid raw request: %v", err)
	}
}

func TestNewRequiresDependencies(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{Users: file.Embedded(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err == nil {
		t.Fatal("New without Auth succeeded")
	}
}
