// Package tracing traces the client's calls: grpc-go's OpenTelemetry plugin
// makes a span per call (and per attempt), exported over OTLP/gRPC, and
// sends the W3C trace context (traceparent) to the server, so one trace
// shows the client's call and the server's work.
package tracing

import (
	"context"
	"fmt"
	"strings"
	"time"

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
// flushes the spans before the program exits (best effort: a failed export
// changes nothing the command reports). endpoint is host:port
// (plaintext) or an http:// or https:// URL. Every call is sampled: a
// one-shot command line is traced when asked to be.
func Setup(ctx context.Context, endpoint string) (grpc.DialOption, func(), error) {
	opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithInsecure()}
	if strings.Contains(endpoint, "://") {
		opts = []otlptracegrpc.Option{otlptracegrpc.WithEndpointURL(endpoint)}
	}
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("--otlp-endpoint %s: %w", endpoint, err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "user-client"))),
	)
	dial := grpcotel.DialOption(grpcotel.Options{TraceOptions: experimental.TraceOptions{
		TracerProvider:    tp,
		TextMapPropagator: propagation.TraceContext{},
	}})
	flush := func() {
		// An unreachable collector gets a few seconds at most.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(ctx)
	}
	return dial, flush, nil
}
