package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-server/internal/auth"
	"github.com/acme/user-service/services/user-server/internal/directory/file"
	"github.com/acme/user-service/services/user-server/internal/logging"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/test/bufconn"
)

// BenchmarkUnary measures one serial in-process unary RPC over bufconn,
// client included, through:
//   - bare: the same handler with no interceptors (the baseline);
//   - validation: the protovalidate interceptor alone;
//   - chain/log=off: the full chain (recovery, logging, validation, auth),
//     health and reflection, with the access log filtered out by level;
//   - chain/log=text, chain/log=json: the same with the access log on,
//     written to a file through the server's buffered writer;
//   - chain/log=text,log-rejected-rpcs: with the stats handler that
//     --log-rejected-rpcs adds.
//
// Besides ns/op it reports cpu-ns/op: the process's CPU time per RPC
// (client and server), steadier than wall time on a shared machine.
//
// Run from services/user-server:
//
//	go test -run '^$' -bench BenchmarkUnary -benchmem -count 8 ./internal/server/
func BenchmarkUnary(b *testing.B) {
	authn, err := auth.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	full := func(format string, level slog.Level, opts ...func(*Config)) func(b *testing.B) *grpc.Server {
		return func(b *testing.B) *grpc.Server {
			s, _ := newFileLoggedServer(b, authn, format, level, opts...)
			return s.grpc
		}
	}
	only := func(ics ...func(s *Server) grpc.UnaryServerInterceptor) func(b *testing.B) *grpc.Server {
		return func(b *testing.B) *grpc.Server {
			s, err := New(Config{Users: file.Embedded(), Auth: authn, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			var opts []grpc.ServerOption
			for _, ic := range ics {
				opts = append(opts, grpc.ChainUnaryInterceptor(ic(s)))
			}
			g := grpc.NewServer(opts...)
			userv1.RegisterUserServiceServer(g, s.svc)
			return g
		}
	}
	cases := []struct {
		name   string
		server func(b *testing.B) *grpc.Server
	}{
		{"bare", only()},
		{"validation", only(func(s *Server) grpc.UnaryServerInterceptor {
			return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
				if err := s.validate(req); err != nil {
					return nil, err
				}
				return handler(ctx, req)
			}
		})},
		{"chain/log=off", full("text", slog.LevelWarn)},
		{"chain/log=text", full("text", slog.LevelInfo)},
		{"chain/log=json", full("json", slog.LevelInfo)},
		{"chain/log=text,log-rejected-rpcs", full("text", slog.LevelInfo, func(c *Config) { c.LogRejected = true })},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			g := c.server(b)
			lis := bufconn.Listen(1 << 20)
			go func() { _ = g.Serve(lis) }()
			defer g.Stop()
			conn, err := grpc.NewClient("passthrough:///bufnet",
				grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
				grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			client := userv1.NewUserServiceClient(conn)
			req := &userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: auth.DevToken}
			ctx := context.Background()
			if _, err := client.GetUserDetails(ctx, req); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu0, ok := processCPU()
			for b.Loop() {
				if _, err := client.GetUserDetails(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
			// CPU time per RPC (client and server, this process) is steadier
			// than wall time on a shared machine.
			if cpu1, ok1 := processCPU(); ok && ok1 {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

// BenchmarkChain isolates the interceptors and the access log from the
// transport: it calls the handler directly (bare), and as grpc-go would call
// the registered handler: the access-log wrapper, decoding (here a copy of
// the request), the interceptor chain, with the access log off and on (to a
// file through the buffered writer). Much less noisy than BenchmarkUnary on
// a shared machine.
func BenchmarkChain(b *testing.B) {
	authn, err := auth.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	// A TCP peer, as in production (bufconn's address formats for free).
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40404}})
	req := &userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: auth.DevToken}

	b.Run("bare", func(b *testing.B) {
		s, _ := newFileLoggedServer(b, authn, "text", slog.LevelInfo)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.svc.GetUserDetails(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, c := range []struct {
		name   string
		level  slog.Level
		format string
	}{
		{"log=off", slog.LevelWarn, "text"},
		{"log=text", slog.LevelInfo, "text"},
		{"log=json", slog.LevelInfo, "json"},
	} {
		b.Run("chain/"+c.name, func(b *testing.B) {
			s, access := newFileLoggedServer(b, authn, c.format, c.level)
			// The handler as registered: access log, grpc-go's decoding
			// (here a copy of the request), the interceptor chain.
			handler := outermost{log: access, running: new(atomic.Int64)}.wrapUnary(&userv1.UserService_ServiceDesc).Methods[0].Handler
			dec := func(v any) error {
				r := v.(*userv1.GetUserDetailsRequest)
				r.UserId, r.AuthToken = req.UserId, req.AuthToken
				return nil
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := handler(s.svc, ctx, dec, s.intercept); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// newFileLoggedServer builds the real server with its logs written to a
// file through the server's buffered writer, as in production.
func newFileLoggedServer(b *testing.B, authn *auth.Authenticator, format string, level slog.Level, opts ...func(*Config)) (*Server, *logging.AccessLogger) {
	b.Helper()
	f, err := os.Create(filepath.Join(b.TempDir(), "access.log"))
	if err != nil {
		b.Fatal(err)
	}
	w := logging.NewBufferedWriter(f, 64<<10, logging.DefaultFlushInterval)
	b.Cleanup(func() { w.Close(); f.Close() })
	h, err := logging.NewHandler(w, format, level)
	if err != nil {
		b.Fatal(err)
	}
	access, err := logging.NewAccessLogger(w, format, level)
	if err != nil {
		b.Fatal(err)
	}
	cfg := Config{Users: file.Embedded(), Auth: authn, Logger: slog.New(h), AccessLog: access}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return s, access
}
