package main

import (
	"strings"
	"testing"
	"time"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-server/internal/config"
	"github.com/acme/user-service/services/user-server/internal/telemetry/otlptest"
	"github.com/acme/user-service/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestAccessLogTraceID: the access line carries the trace id of any call
// whose traceparent is valid, sampled or not, with tracing off or on; an
// invalid one gives none.
func TestAccessLogTraceID(t *testing.T) {
	t.Parallel()
	const (
		unsampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
		sampled   = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		invalid   = "00-00000000000000000000000000000000-b7ad6b7169203331-01"
	)
	for _, tracing := range []bool{false, true} {
		var args []string
		if tracing {
			args = []string{"--otlp-endpoint", otlptest.Start(t).Addr, "--trace-sample-ratio", "0"}
		}
		addr, _, stderr, stop := startTelemetryRun(t, nil, args...)
		client := userv1.NewUserServiceClient(dial(t, addr, nil))
		for _, tp := range []string{unsampled, sampled, invalid} {
			ctx := metadata.AppendToOutgoingContext(t.Context(), "traceparent", tp)
			if _, err := client.GetUserDetails(ctx, &userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: "valid-token"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		logs := stderr.String()
		for _, id := range []string{"0af7651916cd43dd8448eb211c80319c", "4bf92f3577b34da6a3ce929d0e0e4736"} {
			if !strings.Contains(logs, "trace_id="+id) {
				t.Errorf("tracing=%v: no access line with trace_id=%s:\n%s", tracing, id, logs)
			}
		}
		if n := strings.Count(logs, "trace_id="); n != 2 {
			t.Errorf("tracing=%v: %d lines with a trace_id, want 2 (the invalid traceparent has none):\n%s", tracing, n, logs)
		}
	}
}

// TestUnknownMethodNotRecorded: a caller-chosen :path (which may hold a
// token or a user id) reaches neither the span nor the access line: both
// record a fixed name ("other" for the span, as in the metrics;
// "unknown" in the log) and a fixed message.
func TestUnknownMethodNotRecorded(t *testing.T) {
	t.Parallel()
	rcv := otlptest.Start(t)
	const token = "tok-path-3e9a"
	addr, _, stderr, stop := startTelemetryRun(t, map[string]string{config.TokensEnv: token}, "--otlp-endpoint", rcv.Addr)
	conn := dial(t, addr, nil)
	for _, path := range []string{"/" + token + ".Svc/john123", "/user.v1.UserService/" + token} {
		err := conn.Invoke(t.Context(), path, &userv1.GetUserDetailsRequest{}, &userv1.GetUserDetailsResponse{})
		if status.Code(err) != codes.Unimplemented {
			t.Fatalf("%s: %v, want Unimplemented", path, err)
		}
	}
	if err := stop(); err != nil { // flushes the spans
		t.Fatal(err)
	}
	logs := stderr.String()
	if strings.Contains(logs, token) || strings.Contains(logs, "john123") {
		t.Errorf("the log holds the caller's path:\n%s", logs)
	}
	if n := strings.Count(logs, "method=unknown code=Unimplemented"); n != 2 {
		t.Errorf("%d access lines with method=unknown, want 2:\n%s", n, logs)
	}
	spans := rcv.Spans()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	for _, s := range spans {
		text := s.String()
		if strings.Contains(text, token) || strings.Contains(text, "john123") {
			t.Errorf("span %q holds the caller's path: %s", s.GetName(), text)
		}
		if s.GetName() != "other" {
			t.Errorf("span name %q, want other", s.GetName())
		}
	}
}

// TestShutdownCollectorDown: with the collector unreachable, the spans'
// flush at shutdown ends within --shutdown-timeout and the log says how
// many spans were dropped.
func TestShutdownCollectorDown(t *testing.T) {
	t.Parallel()
	dead := testkit.ClosedAddr(t)
	addr, _, stderr, stop := startTelemetryRun(t, nil, "--otlp-endpoint", dead, "--shutdown-timeout", "1s")
	client := userv1.NewUserServiceClient(dial(t, addr, nil))
	for range 3 {
		if _, err := client.GetUserDetails(t.Context(), &userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: "valid-token"}); err != nil {
			t.Fatal(err)
		}
	}
	began := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("shutdown took %v with --shutdown-timeout 1s", time.Since(began))
	if logs := stderr.String(); !strings.Contains(logs, "spans dropped at shutdown") || !strings.Contains(logs, "spans=3") {
		t.Errorf("no line counting the 3 dropped spans:\n%s", logs)
	}
}
