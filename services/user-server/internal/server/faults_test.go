package server

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-server/internal/auth"
	"github.com/acme/user-service/services/user-server/internal/logging"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// TestStatusMessages pins the messages clients see (the README and
// user-client's docs show them): changing one is a change of the contract.
func TestStatusMessages(t *testing.T) {
	t.Parallel()
	ts := start(t)
	tests := []struct {
		userID, token string
		want          string
	}{
		{"nobody", auth.DevToken, "rpc error: code = NotFound desc = user not found"},
		{"john123", "wrong", "rpc error: code = Unauthenticated desc = missing or invalid auth token"},
		{"john123", "", "rpc error: code = Unauthenticated desc = missing or invalid auth token"},
		{"", auth.DevToken, "rpc error: code = InvalidArgument desc = invalid request: user_id: value is required"},
		{strings.Repeat("!", 65), strings.Repeat("t", 513), "rpc error: code = InvalidArgument desc = invalid request: " +
			"user_id: must be at most 64 characters; user_id: does not match regex pattern `^[A-Za-z0-9._-]+$`; " +
			"auth_token: must be at most 512 characters"},
	}
	for _, tt := range tests {
		_, err := ts.client.GetUserDetails(t.Context(), &userv1.GetUserDetailsRequest{UserId: tt.userID, AuthToken: tt.token})
		if err == nil || err.Error() != tt.want {
			t.Errorf("GetUserDetails(%q) = %v\nwant %s", tt.userID, err, tt.want)
		}
	}
}

// TestAccessLogLevels: OK at INFO, errors the caller caused at WARN, server
// faults at ERROR (what an operator alerts on), for every code.
func TestAccessLogLevels(t *testing.T) {
	t.Parallel()
	levels := map[codes.Code]string{
		codes.OK:       "INFO",
		codes.Canceled: "INFO", codes.InvalidArgument: "WARN", codes.NotFound: "WARN", codes.AlreadyExists: "WARN",
		codes.PermissionDenied: "WARN", codes.Unauthenticated: "WARN", codes.ResourceExhausted: "WARN",
		codes.FailedPrecondition: "WARN", codes.OutOfRange: "WARN", codes.Aborted: "WARN", codes.DeadlineExceeded: "WARN",
		codes.Unimplemented: "WARN",
		codes.Unknown:       "ERROR", codes.Internal: "ERROR", codes.Unavailable: "ERROR",
		codes.DataLoss: "ERROR",
	}
	ts := start(t)
	// Health's Check as registered: the access line is written around the
	// method handler; the interceptor given to it answers with each code.
	outer := outermost{log: logging.SlogAccessLogger(ts.srv.log.Handler()), running: new(atomic.Int64)}
	var check grpc.MethodHandler
	for _, m := range outer.wrapUnary(&healthpb.Health_ServiceDesc).Methods {
		if m.MethodName == "Check" {
			check = m.Handler
		}
	}
	dec := func(any) error { return nil }
	for c, want := range levels {
		before := len(ts.logs.lines(t))
		answer := func(context.Context, any, *grpc.UnaryServerInfo, grpc.UnaryHandler) (any, error) {
			if c == codes.OK {
				return &healthpb.HealthCheckResponse{}, nil
			}
			return nil, status.Error(c, "from the handler")
		}
		if _, err := check(ts.srv.health, t.Context(), dec, answer); status.Code(err) != c {
			t.Fatalf("%v: the handler returned %v", c, err)
		}
		lines := ts.logs.lines(t)
		if len(lines) != before+1 {
			t.Fatalf("%v: %d new log lines, want 1", c, len(lines)-before)
		}
		if l := lines[before]; l["msg"] != "rpc" || l["level"] != want || l["code"] != c.String() {
			t.Errorf("%v: log line %v, want level %s", c, l, want)
		}
	}
}

// TestStreamPanicRecovery: a panic in a streaming handler (health Watch and
// reflection are the streaming services) is Internal and logged at ERROR,
// and the server keeps serving. Without the stream interceptor the panic
// would take the process down.
func TestStreamPanicRecovery(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	var cfg Config
	withLevel(slog.LevelDebug, logs)(&cfg)
	authn, err := auth.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Users, cfg.Auth = panickingDirectory{}, authn
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.grpc.RegisterService(&grpc.ServiceDesc{
		ServiceName: "test.Panicker",
		HandlerType: (*any)(nil),
		Streams: []grpc.StreamDesc{{
			StreamName:    "Watch",
			ServerStreams: true,
			Handler:       func(any, grpc.ServerStream) error { panic("stream exploded") },
		}},
	}, struct{}{})
	conn := serveBufconn(t, srv)

	s, err := conn.NewStream(t.Context(), &grpc.StreamDesc{ServerStreams: true}, "/test.Panicker/Watch")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg(&healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	_ = s.CloseSend()
	err = s.RecvMsg(&healthpb.HealthCheckResponse{})
	if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != "internal error" {
		t.Fatalf("stream error = %v, want Internal \"internal error\"", err)
	}
	// Still serving.
	if _, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("after the panic: %v", err)
	}
	var panics int
	for _, l := range logs.lines(t) {
		if l["msg"] == "panic in handler" {
			panics++
			if l["level"] != "ERROR" || l["panic"] != "stream exploded" || l["method"] != "/test.Panicker/Watch" || l["code"] != "Internal" {
				t.Errorf("panic line = %v", l)
			}
		}
	}
	if panics != 1 {
		t.Errorf("%d panic lines, want 1:\n%s", panics, logs)
	}
}

func TestPeerAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		addr net.Addr
		want string
	}{
		{"no peer", nil, ""},
		{"IPv4", &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1).To4(), Port: 5000}, "192.0.2.1:5000"},
		// What an IPv4 caller of a wildcard (dual-stack) listener looks like.
		{"IPv4-mapped IPv6", &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 5000}, "192.0.2.1:5000"},
		{"IPv6", &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 5000}, "[2001:db8::1]:5000"},
		{"IPv6 with zone", &net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 5000, Zone: "eth0"}, "[fe80::1%eth0]:5000"},
		{"not TCP", &net.UnixAddr{Name: "/run/user.sock", Net: "unix"}, "/run/user.sock"},
	}
	for _, tt := range tests {
		ctx := t.Context()
		if tt.addr != nil {
			ctx = peer.NewContext(ctx, &peer.Peer{Addr: tt.addr})
			if ta, ok := tt.addr.(*net.TCPAddr); ok && ta.String() != tt.want {
				t.Fatalf("%s: the test expects %q, net.TCPAddr.String gives %q", tt.name, tt.want, ta.String())
			}
		}
		if got := peerAddr(ctx); got != tt.want {
			t.Errorf("%s: peerAddr = %q, want %q", tt.name, got, tt.want)
		}
	}
	// A peer without an address.
	if got := peerAddr(peer.NewContext(t.Context(), &peer.Peer{})); got != "" {
		t.Errorf("peer without address: %q", got)
	}
}
