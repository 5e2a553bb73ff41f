// Package telemetry sets up the server's metrics and traces: gRPC's own
// metrics (gRFC A66) and the service's metrics, exposed in the Prometheus
// text format on /metrics, and one span per RPC exported over OTLP/gRPC.
//
// The server records both from its own interceptors, through the small
// interfaces RPCMetrics, Spans and Observer, rather than as grpc stats
// handlers (see grpcMetrics for why). Both are off by default, and then
// each of them is nil: a server without telemetry pays nothing for it.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/acme/user-service/services/user-server/internal/directory"
	"github.com/acme/user-service/services/user-server/internal/limits"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/protobuf/proto"
)

// Config selects what is on. The zero value turns everything off.
type Config struct {
	// MetricsListen is the host:port of the /metrics endpoint; "" is off.
	MetricsListen string
	// OTLPEndpoint receives spans over OTLP/gRPC: host:port (plaintext) or
	// a URL, http://host:port or https://host:port (TLS); "" is off.
	OTLPEndpoint string
	// TraceSampleRatio is the share of new traces sampled (0 to 1). A call
	// whose caller sent a trace context follows the caller's decision.
	TraceSampleRatio float64
	// ErrorLog receives failed span exports (set by the server, not a
	// flag); nil discards them.
	ErrorLog *slog.Logger
}

// Sources are what the service metrics read. Every field is optional.
type Sources struct {
	// Directory is counted (gauge user_server_directory_users) and, if it
	// has a cache, its counters read (user_server_cache_*,
	// user_server_db_errors_total), at every scrape.
	Directory directory.Directory
	// Requests are the request messages whose protovalidate rules bound the
	// validation-failure labels: only their field paths and rule ids are
	// label values, anything else is counted as "other".
	Requests []proto.Message
}

// Telemetry is the configured telemetry of one server.
type Telemetry struct {
	metrics  http.Handler
	grpcm    *grpcMetrics
	spans    *spanHandler
	service  *ServiceMetrics
	listen   string
	http     *http.Server
	shutdown []func(context.Context) error
}

// New builds what cfg turns on. It binds nothing and connects to nothing:
// the OTLP exporter connects on its first export, and Listen binds /metrics.
// Call SetMethods with the server's methods before serving.
func New(ctx context.Context, cfg Config, src Sources) (*Telemetry, error) {
	t := &Telemetry{listen: cfg.MetricsListen}
	if cfg.MetricsListen != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		)
		t.grpcm = newGRPCMetrics(reg)
		t.service = newServiceMetrics(reg, src)
		t.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	}
	if cfg.OTLPEndpoint != "" {
		count := &spanCount{}
		tp, err := newTracerProvider(ctx, cfg.OTLPEndpoint, cfg.TraceSampleRatio, cfg.ErrorLog, count)
		if err != nil {
			return nil, err
		}
		t.shutdown = append(t.shutdown, func(ctx context.Context) error {
			err := tp.Shutdown(ctx)
			if n := count.dropped(); n > 0 && cfg.ErrorLog != nil {
				cfg.ErrorLog.Warn("spans dropped at shutdown: the OTLP collector did not take them in time", slog.Int64("spans", n))
			}
			return err
		})
		t.spans = newSpanHandler(tp, cfg.TraceSampleRatio)
	}
	return t, nil
}

// Propagator carries trace context on the wire: W3C Trace Context
// (traceparent, tracestate), what OpenTelemetry SDKs send by default.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// scopeName is the instrumentation scope of the server's spans.
const scopeName = "github.com/acme/user-service/services/user-server"

// DurationBounds are the buckets of grpc_server_call_duration_seconds:
// this service answers in tens of microseconds, so they resolve 10 µs to a
// few ms finely (gRPC's defaults jump from 100 µs to 300 µs and 600 µs) and
// still cover slow calls up to 10 s.
var DurationBounds = []float64{
	0.00001, 0.00002, 0.00003, 0.00005, 0.000075,
	0.0001, 0.00015, 0.0002, 0.0003, 0.0005, 0.00075,
	0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075,
	0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
}

// SetMethods names the methods the server serves ("/package.Service/Method",
// see grpc.Server.GetServiceInfo): they label metrics and name spans, and
// any other :path a caller sends is "other".
func (t *Telemetry) SetMethods(fullNames []string) {
	if t.grpcm != nil {
		t.grpcm.setMethods(fullNames)
	}
	if t.spans != nil {
		t.spans.setMethods(fullNames)
	}
}

// RPCMetrics records gRFC A66's per-call metrics; the server calls it from
// its interceptors.
type RPCMetrics interface {
	// Started counts a call to fullMethod.
	Started(fullMethod string)
	// Ended records the call's outcome, duration and message bytes.
	Ended(fullMethod string, err error, d time.Duration, rcvd, sent int)
}

// RPCMetrics returns the per-call metrics, or nil when metrics are off.
func (t *Telemetry) RPCMetrics() RPCMetrics {
	if t.grpcm == nil {
		return nil
	}
	return t.grpcm
}

// Observer counts the service's auth and validation failures.
type Observer interface {
	AuthFailure(missing bool)
	ValidationFailure(field, rule string)
}

// Observer returns the service metrics, or nil when metrics are off.
func (t *Telemetry) Observer() Observer {
	if t.service == nil {
		return nil
	}
	return t.service
}

// Spans starts and ends a span per RPC: the server calls it from its
// interceptors. nil when tracing is off.
type Spans interface {
	// Start returns ctx carrying the RPC's span (if it may be sampled).
	Start(ctx context.Context, fullMethod string) context.Context
	// End ends the span in ctx with the RPC's outcome.
	End(ctx context.Context, err error)
}

// Spans returns the span starter, or nil when tracing is off.
func (t *Telemetry) Spans() Spans {
	if t.spans == nil {
		return nil
	}
	return t.spans
}

// MetricsHandler serves /metrics; nil when metrics are off.
func (t *Telemetry) MetricsHandler() http.Handler { return t.metrics }

// Listen binds the metrics endpoint and serves /metrics on it until
// Shutdown. It returns the bound address, or "" when metrics are off.
func (t *Telemetry) Listen() (string, error) {
	if t.metrics == nil {
		return "", nil
	}
	lis, err := net.Listen("tcp", t.listen)
	if err != nil {
		return "", fmt.Errorf("--metrics-listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", t.metrics)
	t.http = limits.MetricsHTTP.Server(mux)
	go func() { _ = t.http.Serve(limits.MetricsHTTP.Listener(lis)) }()
	t.shutdown = append(t.shutdown, t.http.Shutdown)
	return lis.Addr().String(), nil
}

// Shutdown stops the metrics endpoint and flushes buffered spans, waiting
// at most until ctx is done.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for i := len(t.shutdown) - 1; i >= 0; i-- {
		errs = append(errs, t.shutdown[i](ctx))
	}
	t.shutdown = nil
	return errors.Join(errs...)
}
