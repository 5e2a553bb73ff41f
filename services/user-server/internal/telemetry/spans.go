package telemetry

import (
	"context"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// spanHandler starts a server span per RPC, child of the caller's W3C
// trace context when it sent one. The server calls it from its
// interceptors rather than as a grpc stats.Handler: any stats handler makes
// grpc-go build about 18 event objects per RPC, and grpc-go's OpenTelemetry
// plugin adds about 18 more of its own (tracer lookup, a metadata copy, a
// span and attributes per message) whatever the sampling decision. Here an
// RPC that cannot be sampled (ratio 0 and no traceparent from the caller)
// costs one metadata lookup; one that can goes through the SDK's
// parent-based sampler as usual.
type spanHandler struct {
	tracer trace.Tracer
	// mayStart: new traces can be sampled (ratio > 0), so every RPC needs
	// a span even without a caller's trace context.
	mayStart bool
	methods  atomic.Pointer[map[string]*spanMethod]
	other    *spanMethod
}

// spanMethod is the span name and attributes of one registered method; a
// :path the server does not serve gets "other", so callers cannot choose
// span names.
type spanMethod struct {
	name  string
	attrs []attribute.KeyValue
}

func newSpanHandler(tp trace.TracerProvider, ratio float64) *spanHandler {
	h := &spanHandler{
		tracer:   tp.Tracer(scopeName),
		mayStart: ratio > 0,
		other:    &spanMethod{name: otherMethod, attrs: []attribute.KeyValue{attribute.String("rpc.system", "grpc")}},
	}
	h.methods.Store(&map[string]*spanMethod{})
	return h
}

func (h *spanHandler) setMethods(fullNames []string) {
	methods := make(map[string]*spanMethod, len(fullNames))
	for _, n := range fullNames {
		service, method, _ := strings.Cut(n[1:], "/")
		methods[n] = &spanMethod{name: n[1:], attrs: []attribute.KeyValue{
			attribute.String("rpc.system", "grpc"),
			attribute.String("rpc.service", service),
			attribute.String("rpc.method", method),
		}}
	}
	h.methods.Store(&methods)
}

const (
	traceparentHeader = "traceparent"
	tracestateHeader  = "tracestate"
)

// Start returns ctx with the RPC's span, or ctx itself when the RPC cannot
// be sampled.
func (h *spanHandler) Start(ctx context.Context, fullMethod string) context.Context {
	parent := metadata.ValueFromIncomingContext(ctx, traceparentHeader)
	if len(parent) == 0 && !h.mayStart {
		return ctx
	}
	if len(parent) > 0 {
		carrier := propagation.MapCarrier{traceparentHeader: parent[0]}
		if state := metadata.ValueFromIncomingContext(ctx, tracestateHeader); len(state) > 0 {
			carrier[tracestateHeader] = strings.Join(state, ",")
		}
		ctx = Propagator.Extract(ctx, carrier)
	}
	m := (*h.methods.Load())[fullMethod]
	if m == nil {
		m = h.other
	}
	ctx, _ = h.tracer.Start(ctx, m.name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(m.attrs...))
	return ctx
}

// End ends the span Start put in ctx (if any) with the RPC's outcome.
func (h *spanHandler) End(ctx context.Context, err error) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	code := status.Code(err)
	span.SetAttributes(attribute.Int("rpc.grpc.status_code", int(code)))
	// Server spans mark only server faults as errors (OpenTelemetry's RPC
	// conventions); the status message is the server's own text, which
	// never holds the token.
	if serverFault(code) {
		span.SetStatus(otelcodes.Error, status.Convert(err).Message())
	}
	span.End()
}

func serverFault(c codes.Code) bool {
	switch c {
	case codes.Unknown, codes.DeadlineExceeded, codes.Unimplemented, codes.Internal,
		codes.Unavailable, codes.DataLoss:
		return true
	}
	return false
}
