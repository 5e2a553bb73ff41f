package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// serviceName is the service.name resource attribute of spans and of the
// target_info metric.
const serviceName = "user-server"

func resourceFor() *resource.Resource {
	return resource.NewSchemaless(attribute.String("service.name", serviceName))
}

// newTracerProvider exports spans in batches to endpoint over OTLP/gRPC.
// The sampler is parent-based: a call whose caller sent a sampled (or
// unsampled) trace context follows that decision, and ratio applies to
// calls that start a trace.
func newTracerProvider(ctx context.Context, endpoint string, ratio float64, log *slog.Logger, count *spanCount) (*sdktrace.TracerProvider, error) {
	opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithInsecure()}
	if strings.Contains(endpoint, "://") {
		// http:// is plaintext, https:// is TLS with the system roots.
		opts = []otlptracegrpc.Option{otlptracegrpc.WithEndpointURL(endpoint)}
	}
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("--otlp-endpoint %s: %w", endpoint, err)
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(loggedExporter{exp, log, count}),
		sdktrace.WithSpanProcessor(count),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
		sdktrace.WithResource(resourceFor()),
	), nil
}

// loggedExporter reports a failed export in the server's log, in its
// format, instead of handing it to OpenTelemetry's global error handler
// (the standard library's log, in a format of its own, on stderr).
type loggedExporter struct {
	sdktrace.SpanExporter
	log   *slog.Logger // nil: discard
	count *spanCount
}

func (e loggedExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	if err == nil {
		e.count.exported.Add(int64(len(spans)))
	} else if e.log != nil {
		e.log.Warn("span export failed", slog.Int("spans", len(spans)), slog.String("error", err.Error()))
	}
	return nil
}

// spanCount counts the sampled spans ended and those exported, so that a
// shutdown that could not reach the collector in time says how many were
// lost instead of dropping them silently.
type spanCount struct{ ended, exported atomic.Int64 }

func (c *spanCount) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (c *spanCount) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.SpanContext().IsSampled() {
		c.ended.Add(1)
	}
}
func (c *spanCount) Shutdown(context.Context) error   { return nil }
func (c *spanCount) ForceFlush(context.Context) error { return nil }

// dropped is the number of sampled spans ended and not exported.
func (c *spanCount) dropped() int64 { return c.ended.Load() - c.exported.Load() }
