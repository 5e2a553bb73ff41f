package telemetry

import (
	"context"
	"fmt"
	"strings"

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
func newTracerProvider(ctx context.Context, endpoint string, ratio float64) (*sdktrace.TracerProvider, error) {
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
		sdktrace.WithBatcher(exp),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
		sdktrace.WithResource(resourceFor()),
	), nil
}
