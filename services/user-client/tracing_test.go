package main

import (
	"context"
	"encoding/hex"
	"net"
	"strings"
	"sync"
	"testing"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/testkit"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// spanReceiver is an OTLP/gRPC trace collector served in the test.
type spanReceiver struct {
	collectortrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (r *spanReceiver) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// serve starts a gRPC server on a loopback port until the test ends.
func serve(t *testing.T, register func(*grpc.Server), opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(opts...)
	register(s)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

// TestRunTracing: with --otlp-endpoint (or its environment variable) the
// client's spans reach the collector before run returns, and the call
// carries their W3C trace context to the server; no span attribute holds
// the token. Without either, nothing is traced.
func TestRunTracing(t *testing.T) {
	t.Parallel()
	for _, via := range []string{"flag", "env", "off"} {
		t.Run(via, func(t *testing.T) {
			t.Parallel()
			rcv := &spanReceiver{}
			collector := serve(t, func(s *grpc.Server) { collectortrace.RegisterTraceServiceServer(s, rcv) })
			var mu sync.Mutex
			var traceparent []string
			server := serve(t, func(s *grpc.Server) { userv1.RegisterUserServiceServer(s, &fakeUsers{}) },
				grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
					md, _ := metadata.FromIncomingContext(ctx)
					mu.Lock()
					traceparent = append(traceparent, md.Get("traceparent")...)
					mu.Unlock()
					return h(ctx, req)
				}))
			args, env := []string{"--addr", server}, map[string]string{}
			switch via {
			case "env":
				env["USER_CLIENT_OTLP_ENDPOINT"] = collector
			case "flag":
				args = append(args, "--otlp-endpoint", collector)
			}
			if r := runCLI(t.Context(), env, args...); r.err != nil || r.stdout != reference {
				t.Fatalf("run = %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
			}
			rcv.mu.Lock()
			spans := rcv.spans
			rcv.mu.Unlock()
			mu.Lock()
			defer mu.Unlock()
			if via == "off" {
				if len(traceparent) != 0 || len(spans) != 0 {
					t.Fatalf("untraced run: server got traceparent %q, collector %d spans; want none", traceparent, len(spans))
				}
				return
			}
			if len(traceparent) != 1 {
				t.Fatalf("server got traceparent %q, want one", traceparent)
			}
			// traceparent: version-traceid-parentid-flags
			parts := strings.Split(traceparent[0], "-")
			if len(parts) != 4 || parts[3] != "01" {
				t.Fatalf("traceparent %q is not a sampled W3C trace context", traceparent[0])
			}
			var sentFrom *tracepb.Span
			for _, s := range spans {
				if hex.EncodeToString(s.GetTraceId()) != parts[1] {
					t.Errorf("span %q trace id %x, traceparent %s", s.GetName(), s.GetTraceId(), parts[1])
				}
				if hex.EncodeToString(s.GetSpanId()) == parts[2] {
					sentFrom = s
				}
				for _, a := range s.GetAttributes() {
					if strings.Contains(a.GetValue().String(), "valid-token") {
						t.Errorf("span %q attribute %s holds the token", s.GetName(), a.GetKey())
					}
				}
			}
			if len(spans) != 2 || sentFrom == nil {
				t.Errorf("collector got %d spans (want the call's and its attempt's), none the traceparent's parent %s: %v", len(spans), parts[2], spans)
			}
		})
	}
}

// TestE2ETracing: the real client and the real server, both exporting to
// one collector, make one trace: the server's span (at ratio 0, so only
// because the client sampled the call) is a child of the client's attempt
// span, and the server's access line names the trace.
func TestE2ETracing(t *testing.T) {
	t.Parallel()
	rcv := &spanReceiver{}
	collector := serve(t, func(s *grpc.Server) { collectortrace.RegisterTraceServiceServer(s, rcv) })
	srv := startServer(t, "--otlp-endpoint", collector, "--trace-sample-ratio", "0")
	if r := client(t, nil, "--addr", srv.addr, "--otlp-endpoint", collector); r.code != 0 || r.stdout != reference {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	srv.stop(t) // flushes the server's spans

	rcv.mu.Lock()
	spans := rcv.spans
	rcv.mu.Unlock()
	byKind := map[tracepb.Span_SpanKind][]*tracepb.Span{}
	for _, s := range spans {
		byKind[s.GetKind()] = append(byKind[s.GetKind()], s)
	}
	server, call, attempt := byKind[tracepb.Span_SPAN_KIND_SERVER], byKind[tracepb.Span_SPAN_KIND_CLIENT], byKind[tracepb.Span_SPAN_KIND_INTERNAL]
	if len(spans) != 3 || len(server) != 1 || len(call) != 1 || len(attempt) != 1 {
		t.Fatalf("collector got %v, want the client's call and attempt spans and the server's span", spans)
	}
	s, a, c := server[0], attempt[0], call[0]
	if string(s.GetTraceId()) != string(c.GetTraceId()) || string(a.GetTraceId()) != string(c.GetTraceId()) {
		t.Errorf("trace ids differ: server %x, attempt %x, call %x", s.GetTraceId(), a.GetTraceId(), c.GetTraceId())
	}
	if string(s.GetParentSpanId()) != string(a.GetSpanId()) || string(a.GetParentSpanId()) != string(c.GetSpanId()) {
		t.Errorf("server span's parent %x, attempt %x (parent %x), call %x", s.GetParentSpanId(), a.GetSpanId(), a.GetParentSpanId(), c.GetSpanId())
	}
	if want := "trace_id=" + hex.EncodeToString(c.GetTraceId()); !strings.Contains(srv.logs.String(), want) {
		t.Errorf("server log lacks %s:\n%s", want, srv.logs)
	}
}

// TestRunTracingCollectorDown: with the collector unreachable the call
// still succeeds, the flush does not wait out a fixed delay (one attempt,
// within --timeout), and stderr counts the spans not exported.
func TestRunTracingCollectorDown(t *testing.T) {
	t.Parallel()
	dead := testkit.ClosedAddr(t)
	server := serve(t, func(s *grpc.Server) { userv1.RegisterUserServiceServer(s, &fakeUsers{}) })
	r := runCLI(t.Context(), nil, "--addr", server, "--otlp-endpoint", dead)
	if r.err != nil || r.stdout != reference {
		t.Fatalf("run = %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "user-client: 2 trace spans not exported") {
		t.Errorf("stderr does not count the 2 spans dropped (call and attempt):\n%s", r.stderr)
	}
}
