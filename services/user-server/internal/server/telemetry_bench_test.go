package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-server/internal/auth"
	"github.com/acme/user-service/services/user-server/internal/directory/file"
	"github.com/acme/user-service/services/user-server/internal/logging"
	"github.com/acme/user-service/services/user-server/internal/telemetry"
	"github.com/acme/user-service/services/user-server/internal/telemetry/otlptest"
	"google.golang.org/grpc/peer"
)

// BenchmarkChainTelemetry is BenchmarkChain's full chain (access log on,
// to io.Discard) with telemetry off, metrics on, and tracing at ratio 0
// and 1 (spans batched to an in-process OTLP collector; cpu-ns/op includes
// exporting them). The differences are what telemetry adds to each RPC, to
// the nanosecond, without the transport's noise. Run from
// services/user-server:
//
//	go test -run '^$' -bench BenchmarkChainTelemetry -benchmem -count 8 ./internal/server/
func BenchmarkChainTelemetry(b *testing.B) {
	authn, err := auth.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	rcv := otlptest.Start(b)
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40404}})
	req := &userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: auth.DevToken}
	for _, c := range []struct {
		name string
		cfg  telemetry.Config
	}{
		{"off", telemetry.Config{}},
		{"metrics", telemetry.Config{MetricsListen: "127.0.0.1:0"}},
		{"trace-ratio-0", telemetry.Config{OTLPEndpoint: rcv.Addr, TraceSampleRatio: 0}},
		{"trace-ratio-1", telemetry.Config{OTLPEndpoint: rcv.Addr, TraceSampleRatio: 1}},
	} {
		b.Run(c.name, func(b *testing.B) {
			tel, err := telemetry.New(b.Context(), c.cfg, telemetry.Sources{Requests: ValidatedRequests})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
			s, err := New(Config{
				Users: file.Embedded(), Auth: authn,
				Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
				Metrics: tel.RPCMetrics(), Observer: tel.Observer(), Spans: tel.Spans(),
			})
			if err != nil {
				b.Fatal(err)
			}
			tel.SetMethods(s.Methods())
			// The handler as registered: telemetry and the access log,
			// grpc-go's decoding (here a copy of the request), the chain.
			outer := outermost{log: logging.SlogAccessLogger(slog.NewTextHandler(io.Discard, nil)), spans: tel.Spans(), metrics: tel.RPCMetrics(), running: new(atomic.Int64)}
			handler := outer.wrapUnary(&userv1.UserService_ServiceDesc).Methods[0].Handler
			dec := func(v any) error {
				r := v.(*userv1.GetUserDetailsRequest)
				r.UserId, r.AuthToken = req.UserId, req.AuthToken
				return nil
			}
			b.ReportAllocs()
			cpu0, ok := processCPU()
			for b.Loop() {
				if _, err := handler(s.svc, ctx, dec, s.intercept); err != nil {
					b.Fatal(err)
				}
			}
			if cpu1, ok1 := processCPU(); ok && ok1 {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}
