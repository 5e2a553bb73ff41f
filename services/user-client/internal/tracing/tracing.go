// Package tracing traces the client's calls: grpc-go's OpenTelemetry plugin
// makes a span per call (and per attempt), exported over OTLP/gRPC, and
// sends the W3C trace context (traceparent) to the server, so one trace
// shows the client's call and the server's work.
package tracing

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	experimental "google.golang.org/grpc/experimental/opentelemetry"
	grpcotel "google.golang.org/grpc/stats/opentelemetry"
)

// Setup returns the dial option that traces calls, and the function that
// flushes the spans before the program exits, waiting until its ctx is
// done at most, and returns the number of spans it could not export (best
// effort: a failed export changes nothing else the command reports).
// endpoint is host:port (plaintext) or an http:// or https:// URL. Every
// call is sampled: a one-shot command line is traced when asked to be.
func Setup(ctx context.Context, endpoint string) (grpc.DialOption, func(context.Context) int, error) {
	opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithInsecure()}
	if strings.Contains(endpoint, "://") {
		opts = []otlptracegrpc.Option{otlptracegrpc.WithEndpointURL(endpoint)}
	}
	// One attempt: a command that exits has no time to back off and retry
	// (a refused connection fails at once instead of retrying until the
	// deadline).
	opts = append(opts, otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("--otlp-endpoint %s: %w", endpoint, err)
	}
	failures := &countingExporter{SpanExporter: exp}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(failures),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "user-client"))),
	)
	dial := grpcotel.DialOption(grpcotel.Options{TraceOptions: experimental.TraceOptions{
		TracerProvider:    tp,
		TextMapPropagator: propagation.TraceContext{},
	}})
	flush := func(ctx context.Context) int {
		_ = tp.Shutdown(ctx)
		return int(failures.failed.Load())
	}
	return dial, flush, nil
}

// countingExporter counts the spans whose export failed.
type countingExporter struct {
	sdktrace.SpanExporter
	failed atomic.Int64
}

func (e *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	if err != nil {
		e.failed.Add(int64(len(spans)))
	}
	return err
}
