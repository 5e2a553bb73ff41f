package telemetry

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The server metrics of gRFC A66, under the names OpenTelemetry's
// Prometheus exporter gives them (grpc.server.call.duration in seconds
// becomes grpc_server_call_duration_seconds), so dashboards written for
// grpc-go's OpenTelemetry plugin read them unchanged.
const (
	callStartedName  = "grpc_server_call_started_total"
	callDurationName = "grpc_server_call_duration_seconds"
	callSentName     = "grpc_server_call_sent_total_compressed_message_size_bytes"
	callRcvdName     = "grpc_server_call_rcvd_total_compressed_message_size_bytes"
	otherMethod      = "other"
)

// SizeBounds are the buckets of the message size histograms, in bytes
// (gRPC's defaults: 0, 1 KiB, 2 KiB, 4 KiB, 16 KiB, ... 4 GiB).
var SizeBounds = []float64{0, 1024, 2048, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864, 268435456, 1073741824, 4294967296}

// grpcMetrics records gRFC A66's server metrics with client_golang
// collectors. The server calls it from its interceptors: a grpc
// stats.Handler would see every RPC (A66 counts from the transport), but
// registering any stats handler makes grpc-go build about 18 event objects
// per RPC, and grpc-go's OpenTelemetry plugin adds about 12 more of its own
// (attribute sets and record options); the load benchmark measured that at
// several µs per RPC (see README). Here a call costs two map lookups, one
// counter and three histogram updates, and two proto.Size calls.
//
// Label values are bounded: grpc_method is a method registered on the
// server or "other" (callers choose the :path, not the label), and
// grpc_status is one of the 17 canonical codes.
type grpcMetrics struct {
	started    *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	sent, rcvd *prometheus.HistogramVec
	methods    atomic.Pointer[map[string]*methodMetrics]
	other      *methodMetrics
}

type methodMetrics struct {
	name    string
	started prometheus.Counter
	// byCode holds the histograms of one (method, status) pair, created
	// on first use so that /metrics lists only statuses that occurred.
	byCode [numCodes]atomic.Pointer[codeMetrics]
}

type codeMetrics struct{ duration, sent, rcvd prometheus.Observer }

const numCodes = int(codes.Unauthenticated) + 1

// canonicalCodes are the status names gRFC A66 uses as grpc_status values.
var canonicalCodes = [numCodes]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
	"UNAUTHENTICATED",
}

func newGRPCMetrics(reg prometheus.Registerer) *grpcMetrics {
	m := &grpcMetrics{
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: callStartedName, Help: "Number of server calls started.",
		}, []string{"grpc_method"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: callDurationName, Help: "End-to-end time taken to complete a call from server transport's perspective.",
			Buckets: DurationBounds,
		}, []string{"grpc_method", "grpc_status"}),
		sent: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: callSentName, Help: "Compressed message bytes sent per server call.", Buckets: SizeBounds,
		}, []string{"grpc_method", "grpc_status"}),
		rcvd: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: callRcvdName, Help: "Compressed message bytes received per server call.", Buckets: SizeBounds,
		}, []string{"grpc_method", "grpc_status"}),
	}
	reg.MustRegister(m.started, m.duration, m.sent, m.rcvd)
	m.other = m.newMethod(otherMethod)
	m.methods.Store(&map[string]*methodMetrics{})
	return m
}

func (m *grpcMetrics) newMethod(name string) *methodMetrics {
	return &methodMetrics{name: name, started: m.started.WithLabelValues(name)}
}

// setMethods names the methods registered on the server, as
// "/package.Service/Method"; every other :path is counted as "other".
func (m *grpcMetrics) setMethods(fullNames []string) {
	methods := make(map[string]*methodMetrics, len(fullNames))
	for _, n := range fullNames {
		// The label omits the leading slash, as in gRFC A66.
		methods[n] = m.newMethod(n[1:])
	}
	m.methods.Store(&methods)
}

func (m *grpcMetrics) method(fullMethod string) *methodMetrics {
	if mm := (*m.methods.Load())[fullMethod]; mm != nil {
		return mm
	}
	return m.other
}

// Started counts a call of fullMethod.
func (m *grpcMetrics) Started(fullMethod string) {
	m.method(fullMethod).started.Inc()
}

// Ended records a finished call: its status, duration, and the bytes of
// the messages it received and sent.
func (m *grpcMetrics) Ended(fullMethod string, err error, d time.Duration, rcvd, sent int) {
	cm := m.codeMetrics(m.method(fullMethod), status.Code(err))
	cm.duration.Observe(d.Seconds())
	cm.rcvd.Observe(float64(rcvd))
	cm.sent.Observe(float64(sent))
}

func (m *grpcMetrics) codeMetrics(mm *methodMetrics, code codes.Code) *codeMetrics {
	if int(code) >= numCodes {
		code = codes.Unknown
	}
	if cm := mm.byCode[code].Load(); cm != nil {
		return cm
	}
	st := canonicalCodes[code]
	cm := &codeMetrics{
		duration: m.duration.WithLabelValues(mm.name, st),
		sent:     m.sent.WithLabelValues(mm.name, st),
		rcvd:     m.rcvd.WithLabelValues(mm.name, st),
	}
	// A racing first call may store an equal value: the same collector
	// children.
	mm.byCode[code].Store(cm)
	return cm
}
