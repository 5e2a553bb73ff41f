package main

import (
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-server/internal/config"
	"github.com/acme/user-service/services/user-server/internal/telemetry"
	"github.com/acme/user-service/services/user-server/internal/telemetry/otlptest"
	"github.com/acme/user-service/testkit"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	experimental "google.golang.org/grpc/experimental/opentelemetry"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	grpcotel "google.golang.org/grpc/stats/opentelemetry"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// startTelemetryRun calls run in process and returns the gRPC address and
// the rest of stdout's lines (e.g. "metrics on URL").
func startTelemetryRun(t *testing.T, env map[string]string, args ...string) (addr string, lines <-chan string, stderr *testkit.Buffer, stop func() error) {
	t.Helper()
	r := startRun(t, env, args...)
	return r.addr, r.lines, r.stderr, r.stop
}

// TestMetrics makes a known mix of calls, scrapes /metrics, parses it with
// the Prometheus text parser and checks the counts per method and status,
// the service's own counters, and that no label value holds a token or a
// user id.
func TestMetrics(t *testing.T) {
	t.Parallel()
	const token, wrongToken = "metrics-test-secret-7f3a", "wrong-token-9c1e"
	env := map[string]string{config.TokensEnv: token}
	addr, lines, _, _ := startTelemetryRun(t, env, "--metrics-listen", "127.0.0.1:0", "--reflection")
	url := metricsURL(t, lines)
	conn := dial(t, addr, nil)
	client := userv1.NewUserServiceClient(conn)
	calls := []struct {
		user, token string
		want        codes.Code
	}{
		{"john123", token, codes.OK},
		{"john123", token, codes.OK},
		{"john123", token, codes.OK},
		{"ghost-user-41", token, codes.NotFound},
		{"ghost-user-42", token, codes.NotFound},
		{"john123", wrongToken, codes.Unauthenticated},
		{"john123", "", codes.Unauthenticated},
		{"john123", "", codes.Unauthenticated},
		{"bad id!", token, codes.InvalidArgument},
		{strings.Repeat("x", 65) + "!", token, codes.InvalidArgument}, // two violations
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, c := range calls {
		_, err := client.GetUserDetails(ctx, &userv1.GetUserDetailsRequest{UserId: c.user, AuthToken: c.token})
		if status.Code(err) != c.want {
			t.Fatalf("GetUserDetails(%q) = %v, want %v", c.user, err, c.want)
		}
	}
	// A method the server does not serve, with a caller-chosen name.
	err := conn.Invoke(ctx, "/evil.Service/ghost-user-43", &userv1.GetUserDetailsRequest{}, &userv1.GetUserDetailsResponse{})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("unknown method: %v", err)
	}

	// A streaming RPC (reflection): one request in, one response out.
	// The client sees the stream end only after the server's interceptor
	// returned, which is when it records the call.
	rs, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(bearer(ctx, token))
	if err != nil {
		t.Fatal(err)
	}
	reflReq := &reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}
	if err := rs.Send(reflReq); err != nil {
		t.Fatal(err)
	}
	reflResp, err := rs.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.Recv(); err != io.EOF {
		t.Fatalf("reflection stream ended with %v, want io.EOF", err)
	}

	families := scrape(t, url)
	const getUser = "user.v1.UserService/GetUserDetails"
	const reflection = "grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
	streamSizes := []struct {
		family string
		want   int
	}{
		{"grpc_server_call_rcvd_total_compressed_message_size_bytes", proto.Size(reflReq)},
		{"grpc_server_call_sent_total_compressed_message_size_bytes", proto.Size(reflResp)},
	}
	for _, c := range streamSizes {
		labels := map[string]string{"grpc_method": reflection, "grpc_status": "OK"}
		if got := histogramSum(t, families, c.family, labels); got != float64(c.want) {
			t.Errorf("%s%v sum = %v bytes, want %d", c.family, labels, got, c.want)
		}
	}
	checks := []struct {
		family string
		labels map[string]string
		want   float64
	}{
		{"grpc_server_call_started_total", map[string]string{"grpc_method": getUser}, 10},
		// A method the server does not serve is counted (it passes the
		// unknown-service handler), under "other": its caller-chosen name
		// becomes no label.
		{"grpc_server_call_started_total", map[string]string{"grpc_method": "other"}, 1},
		{"grpc_server_call_duration_seconds", map[string]string{"grpc_method": "other", "grpc_status": "UNIMPLEMENTED"}, 1},
		{"grpc_server_call_duration_seconds", map[string]string{"grpc_method": getUser, "grpc_status": "OK"}, 3},
		{"grpc_server_call_duration_seconds", map[string]string{"grpc_method": getUser, "grpc_status": "NOT_FOUND"}, 2},
		{"grpc_server_call_duration_seconds", map[string]string{"grpc_method": getUser, "grpc_status": "UNAUTHENTICATED"}, 3},
		{"grpc_server_call_duration_seconds", map[string]string{"grpc_method": getUser, "grpc_status": "INVALID_ARGUMENT"}, 2},
		{"grpc_server_call_rcvd_total_compressed_message_size_bytes", map[string]string{"grpc_method": getUser, "grpc_status": "OK"}, 3},
		{"grpc_server_call_sent_total_compressed_message_size_bytes", map[string]string{"grpc_method": getUser, "grpc_status": "NOT_FOUND"}, 2},
		{"user_server_auth_failures_total", map[string]string{"reason": "missing"}, 2},
		{"user_server_auth_failures_total", map[string]string{"reason": "wrong"}, 1},
		{"user_server_validation_failures_total", map[string]string{"field": "user_id", "rule": "string.pattern"}, 2},
		{"user_server_validation_failures_total", map[string]string{"field": "user_id", "rule": "string.max_len"}, 1},
		{"user_server_validation_failures_total", map[string]string{"field": "user_id", "rule": "required"}, 0},
		{"user_server_directory_users", nil, 1},
	}
	for _, c := range checks {
		if got := value(t, families, c.family, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.family, c.labels, got, c.want)
		}
	}
	// The histograms resolve tens of µs: the first bucket bound is 10 µs.
	if b := families["grpc_server_call_duration_seconds"].GetMetric()[0].GetHistogram().GetBucket()[0].GetUpperBound(); b != 0.00001 {
		t.Errorf("first duration bucket = %v, want 1e-05", b)
	}
	for _, f := range []string{"go_goroutines", "go_gc_duration_seconds", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if families[f] == nil {
			t.Errorf("no %s (Go runtime and process metrics)", f)
		}
	}
	secrets := []string{token, wrongToken, "john123", "ghost-user", "bad id", "xxxxx", "evil"}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				for _, s := range secrets {
					if strings.Contains(l.GetValue(), s) {
						t.Errorf("%s label %s=%q holds caller data %q", name, l.GetName(), l.GetValue(), s)
					}
				}
			}
		}
	}
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return families
}

// value returns the counter, gauge or histogram sample count of the one
// series of family with exactly labels.
func value(t *testing.T, families map[string]*dto.MetricFamily, family string, labels map[string]string) float64 {
	t.Helper()
	m := series(t, families, family, labels)
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetHistogram() != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	t.Fatalf("series %s%v is no counter, gauge or histogram", family, labels)
	return 0
}

// histogramSum returns the sum of the observations of the one series of
// family with exactly labels.
func histogramSum(t *testing.T, families map[string]*dto.MetricFamily, family string, labels map[string]string) float64 {
	t.Helper()
	return series(t, families, family, labels).GetHistogram().GetSampleSum()
}

// series returns the one series of family with exactly labels.
func series(t *testing.T, families map[string]*dto.MetricFamily, family string, labels map[string]string) *dto.Metric {
	t.Helper()
	f := families[family]
	if f == nil {
		t.Fatalf("no metric family %s", family)
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			match = match && labels[l.GetName()] == l.GetValue()
		}
		if match {
			return m
		}
	}
	t.Fatalf("no series %s%v", family, labels)
	return nil
}

// TestTracing: a traced client's call and the server's span arrive at an
// OTLP collector as one trace, the server span a child of the client's,
// even at --trace-sample-ratio 0 (the caller sampled it); a call without
// trace context is not traced at ratio 0; the access line carries the
// trace id; no span attribute holds the token.
func TestTracing(t *testing.T) {
	t.Parallel()
	rcv := otlptest.Start(t)
	const token = "trace-test-secret-5d2b"
	env := map[string]string{config.TokensEnv: token}
	addr, _, stderr, stop := startTelemetryRun(t, env, "--otlp-endpoint", rcv.Addr, "--trace-sample-ratio", "0")

	exp, err := otlptracegrpc.New(t.Context(), otlptracegrpc.WithEndpoint(rcv.Addr), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	traced, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpcotel.DialOption(grpcotel.Options{TraceOptions: experimental.TraceOptions{
			TracerProvider: tp, TextMapPropagator: telemetry.Propagator,
		}}))
	if err != nil {
		t.Fatal(err)
	}
	defer traced.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req := &userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: token}
	if _, err := userv1.NewUserServiceClient(traced).GetUserDetails(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := userv1.NewUserServiceClient(dial(t, addr, nil)).GetUserDetails(ctx, req); err != nil {
		t.Fatal(err)
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil { // flushes the server's spans
		t.Fatal(err)
	}

	// grpc-go's client plugin makes a call span (kind CLIENT) and, under
	// it, one span per attempt: the attempt's context is what goes on the
	// wire, so the server span's parent is the attempt span.
	var client, server []otlptest.Span
	for _, s := range rcv.Spans() {
		for _, a := range s.GetAttributes() {
			if strings.Contains(a.GetValue().String(), token) {
				t.Errorf("span %q attribute %s holds the token", s.GetName(), a.GetKey())
			}
		}
		if s.Service == "user-server" {
			server = append(server, s)
		} else {
			client = append(client, s)
		}
	}
	if len(server) != 1 || len(client) != 2 {
		logSpans(t, rcv)
		t.Fatalf("got %d server and %d client spans, want 1 and 2 (the untraced call at ratio 0 has none)", len(server), len(client))
	}
	s := server[0]
	if s.GetName() != "user.v1.UserService/GetUserDetails" || s.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("server span %q kind %v", s.GetName(), s.GetKind())
	}
	var call, attempt otlptest.Span
	for _, c := range client {
		if string(c.GetTraceId()) != string(s.GetTraceId()) {
			t.Errorf("client span %q trace id %x, server's %x: not one trace", c.GetName(), c.GetTraceId(), s.GetTraceId())
		}
		if c.GetKind() == tracepb.Span_SPAN_KIND_CLIENT {
			call = c
		} else {
			attempt = c
		}
	}
	if string(s.GetParentSpanId()) != string(attempt.GetSpanId()) || string(attempt.GetParentSpanId()) != string(call.GetSpanId()) {
		logSpans(t, rcv)
		t.Errorf("server span's parent %x is not the client's attempt span %x under its call span %x",
			s.GetParentSpanId(), attempt.GetSpanId(), call.GetSpanId())
	}
	traceID := hex.EncodeToString(s.GetTraceId())
	if n := strings.Count(stderr.String(), "trace_id="+traceID); n != 1 {
		t.Errorf("access log has trace_id=%s %d times, want once:\n%s", traceID, n, stderr)
	}
	if !strings.Contains(stderr.String(), "tracing=true") {
		t.Errorf("the listening line does not say tracing=true:\n%s", stderr)
	}
	if n := strings.Count(stderr.String(), "trace_id="); n != 1 {
		t.Errorf("%d access lines with a trace_id, want 1 (the untraced call has none)", n)
	}
}

func logSpans(t *testing.T, rcv *otlptest.Receiver) {
	for _, s := range rcv.Spans() {
		t.Logf("%s %q kind %v trace %x span %x parent %x", s.Service, s.GetName(), s.GetKind(), s.GetTraceId(), s.GetSpanId(), s.GetParentSpanId())
	}
}

// TestTelemetryOffByDefault: without --metrics-listen and --otlp-endpoint
// the server gets no metrics recorder, span starter or failure observer
// (and telemetry never installs a grpc stats handler or interceptor).
func TestTelemetryOffByDefault(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	tel, err := telemetry.New(t.Context(), cfg.Telemetry, telemetry.Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if tel.RPCMetrics() != nil || tel.Spans() != nil || tel.Observer() != nil || tel.MetricsHandler() != nil {
		t.Errorf("telemetry off, yet RPC metrics %v, spans %v, service metrics %v, /metrics %v", tel.RPCMetrics(), tel.Spans(), tel.Observer(), tel.MetricsHandler())
	}
	if addr, err := tel.Listen(); addr != "" || err != nil {
		t.Errorf("Listen() = %q, %v with metrics off", addr, err)
	}
}

// TestTelemetryConfigErrors: /metrics is refused on a non-loopback address
// unless asked for, and the ratio is checked.
func TestTelemetryConfigErrors(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() })
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"non-loopback metrics", []string{"--metrics-listen", "0.0.0.0:0"}, nil, "--metrics-listen: 0.0.0.0 is not a loopback address"},
		{"non-loopback metrics from env", nil, map[string]string{"USER_SERVER_METRICS_LISTEN": "[::]:9090"}, "add --metrics-allow-remote"},
		{"metrics without port", []string{"--metrics-listen", "127.0.0.1"}, nil, `--metrics-listen "127.0.0.1"`},
		{"ratio above 1", []string{"--trace-sample-ratio", "1.5"}, nil, "--trace-sample-ratio must be between 0 and 1, got 1.5"},
		{"negative ratio from env", nil, map[string]string{"USER_SERVER_TRACE_SAMPLE_RATIO": "-0.1"}, "--trace-sample-ratio must be between 0 and 1"},
		{"ratio not a number", []string{"--trace-sample-ratio", "half"}, nil, "trace-sample-ratio"},
		{"metrics port taken", []string{"--metrics-listen", taken.Addr().String()}, nil, "--metrics-listen: listen tcp " + taken.Addr().String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runFails(t, tt.args, tt.env, tt.want)
		})
	}
}

// TestMetricsAllowRemote: the opt-in lifts the loopback restriction.
func TestMetricsAllowRemote(t *testing.T) {
	t.Parallel()
	_, lines, _, _ := startTelemetryRun(t, nil, "--metrics-listen", "0.0.0.0:0", "--metrics-allow-remote")
	if l := <-lines; !strings.HasPrefix(l, "metrics on http://") || strings.Contains(l, "127.0.0.1") {
		t.Errorf("second stdout line = %q", l)
	}
}
