package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/acme/user-service/services/user-server/internal/logging"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// outermost is the outermost layer of every RPC: its span and metrics when
// telemetry is on, and the access log: one line per RPC (method, code,
// duration, peer, and trace_id for a sampled call), INFO for OK, WARN for
// errors the caller caused and for misses during a directory outage
// (sampled, as are cancellations), ERROR for server-side failures.
//
// grpc-go answers some bad requests before the unary interceptor runs, so
// this is not done there but around it:
//   - unary RPCs: the registered method handlers are wrapped (see
//     registrar), so the line covers grpc-go's reading and decoding of the
//     request (an oversized, truncated, missing or undecodable message) as
//     well as the interceptor chain and the handler;
//   - streaming RPCs (health Watch, reflection) and unknown methods and
//     services (answered by unknownService): the outermost stream
//     interceptor.
//
// What this cannot see:
//   - a malformed :path is refused by grpc-go before any stats handler or
//     interceptor; the tap sees it first and answers and logs it (Server.tap);
//   - an unsupported grpc-encoding is answered after the stats handlers'
//     first events but before any handler or interceptor: it is logged only
//     with Config.LogRejected, which installs a stats handler for it
//     (rejectedRPCs; opt-in for its cost);
//   - requests grpc-go's transport refuses while reading the headers (a
//     malformed grpc-timeout or binary header, a non-gRPC content-type, a
//     missing :authority, a method other than POST) reach no hook at all,
//     neither tap nor stats handler, and are not logged.
//
// The line is written before grpc-go sends the reply's status.
type outermost struct {
	log     *logging.AccessLogger
	spans   Spans      // nil: no tracing
	metrics RPCMetrics // nil: no metrics
	// markSeen: rejectedRPCs is installed; tell it which RPCs are logged
	// here.
	markSeen bool
	// methods are the methods served ("/pkg.Service/Method"), filled in
	// by New once every service is registered.
	methods map[string]bool
	// running counts the handlers running (unary and streaming), so a
	// shutdown knows when only unsent replies are left (Server.Shutdown).
	running *atomic.Int64
	// cancelled samples the lines of RPCs the client cancelled: a client
	// can reset streams as fast as it can write frames (see Sampler).
	cancelled *logging.Sampler
	// outage samples the lines of lookups failed by a directory outage
	// (errOutage): the outage is one event, logged by the directory; its
	// misses come as fast as clients call.
	outage *logging.Sampler
	// pendingRefused samples the lines of RPCs refused for too many
	// pending streams on their connection (errTooManyPending): a client
	// can open streams as fast as it can write frames, too.
	pendingRefused *logging.Sampler
}

// rpcDone writes the access line of an RPC of method that started at start
// and ended with err.
func (a outermost) rpcDone(ctx context.Context, method string, start time.Time, err error) {
	code, msg := codes.OK, ""
	if err != nil {
		// The status grpc-go sends for err. Status messages are written by
		// this server or by grpc-go and never hold a token (see
		// validationStatus and authenticate).
		st, ok := status.FromError(err)
		if !ok {
			st = status.FromContextError(err)
		}
		code, msg = st.Code(), st.Message()
	}
	level := levelFor(code)
	var bad *badRequest
	if code == codes.Internal && errors.As(err, &bad) {
		level = slog.LevelWarn // the caller's fault (see callerFault)
	}
	var sampler *logging.Sampler
	switch {
	case code == codes.Canceled:
		sampler = a.cancelled
	case code == codes.ResourceExhausted && errors.Is(err, errTooManyPending):
		sampler = a.pendingRefused
	case code == codes.Unavailable && errors.Is(err, errOutage):
		// A miss while the directory's database is away: expected until
		// it is back, and counted in the metrics; the outage itself is
		// the directory's one ERROR line.
		level, sampler = slog.LevelWarn, a.outage
	case code == codes.Unavailable && errors.Is(context.Cause(ctx), errShuttingDown):
		// A streaming RPC ended by a planned shutdown (see streams): the
		// client reconnects elsewhere; not a fault.
		level = slog.LevelInfo
	}
	if !a.log.Enabled(level) {
		return
	}
	// The end, as start plus the monotonic time since: one clock read
	// instead of time.Now's two (wall and monotonic).
	d := time.Since(start)
	suppressed := 0
	if sampler != nil {
		var ok bool
		if ok, suppressed = sampler.Allow(start.Add(d)); !ok {
			return
		}
	}
	line := logging.AccessLine{
		Suppressed: suppressed,
		Time:       start.Add(d),
		Level:      level,
		Method:     method,
		Code:       code.String(),
		Duration:   d,
		Error:      msg,
	}
	if p, ok := peer.FromContext(ctx); ok {
		line.Peer = p.Addr
	}
	if c, ok := httpCallFrom(ctx, line.Peer); ok {
		line.Protocol = c.Protocol
	}
	line.TraceID = a.traceID(ctx)
	a.log.Log(&line)
}

// refused records a call to method refused in the tap with err, before
// any handler: counted in the RPC metrics with its status, as refusals
// later on are, and its access line written (sampled, see sampler).
func (a outermost) refused(ctx context.Context, method string, err error) {
	start := time.Now()
	if a.metrics != nil {
		a.metrics.Started(method)
		a.metrics.Ended(method, err, time.Since(start), 0, 0)
	}
	a.rpcDone(ctx, method, start, err)
}

// traceID is the trace of the call: its span's, if sampled, else the one
// in the W3C traceparent it carries, if valid, whether or not the server
// traces (so the line joins the caller's logs even when this server's span
// is not exported); "" for neither.
func (a outermost) traceID(ctx context.Context) string {
	if a.spans != nil {
		if sc := trace.SpanContextFromContext(ctx); sc.IsSampled() {
			return sc.TraceID().String()
		}
	}
	v := metadata.ValueFromIncomingContext(ctx, "traceparent")
	if len(v) == 0 {
		return ""
	}
	parent := trace.SpanContextFromContext(traceContext.Extract(context.Background(), propagation.MapCarrier{"traceparent": v[0]}))
	if !parent.IsValid() {
		return ""
	}
	return parent.TraceID().String()
}

// traceContext parses traceparent headers (W3C Trace Context).
var traceContext propagation.TraceContext

// unknownMethod is what the span and access line of a call to a method
// the server does not serve record instead of its path: the path is
// chosen by the caller and may hold anything (a token, a user id), as
// may the status message naming it. The metrics use "other" likewise.
const unknownMethod = "unknown"

var errUnknownMethod = status.Error(codes.Unimplemented, "unknown method")

// known reports whether the server serves method; set once all services
// are registered, before serving.
func (a outermost) known(method string) bool { return a.methods[method] }

// registrar registers services with each unary method's handler wrapped
// to write the access line, and keeps the wrapped handlers for callers
// that do not come through grpc-go's transport (Server.Unary).
type registrar struct {
	grpc  *grpc.Server
	outer outermost
	unary map[string]registered
}

// registered is a wrapped unary handler and its service's implementation.
type registered struct {
	handler grpc.MethodHandler
	impl    any
}

func (r registrar) RegisterService(desc *grpc.ServiceDesc, impl any) {
	d := r.outer.wrapUnary(desc)
	for _, m := range d.Methods {
		r.unary["/"+d.ServiceName+"/"+m.MethodName] = registered{m.Handler, impl}
	}
	r.grpc.RegisterService(d, impl)
}

// wrapUnary returns a copy of desc whose unary handlers start the span and
// metrics and write the line.
func (a outermost) wrapUnary(desc *grpc.ServiceDesc) *grpc.ServiceDesc {
	d := *desc
	d.Methods = slices.Clone(desc.Methods)
	for i, m := range d.Methods {
		method := "/" + desc.ServiceName + "/" + m.MethodName
		handler := m.Handler
		d.Methods[i].Handler = func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (resp any, err error) {
			a.running.Add(1)
			defer a.running.Add(-1)
			start := time.Now()
			if a.markSeen {
				markSeen(ctx)
			}
			if a.spans != nil {
				ctx = a.spans.Start(ctx, method)
			}
			var req any
			decode := dec
			dec = func(m any) error {
				req = m
				err := decode(m)
				messageRead(ctx)
				return callerFault(err)
			}
			if a.metrics != nil {
				a.metrics.Started(method)
				defer func() { a.metrics.Ended(method, err, time.Since(start), msgSize(req), msgSize(resp)) }()
			}
			resp, err = handler(srv, ctx, dec, ic)
			if a.spans != nil {
				a.spans.End(ctx, err)
			}
			a.rpcDone(ctx, method, start, err)
			return resp, err
		}
	}
	return &d
}

// stream is the outermost stream interceptor: telemetry and the access
// line of streaming RPCs and of unknown methods.
func (a outermost) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	a.running.Add(1)
	defer a.running.Add(-1)
	start := time.Now()
	if a.markSeen {
		markSeen(ss.Context())
	}
	// What the span and the access line record: a fixed name and message
	// for a method not served.
	method, recorded := info.FullMethod, func(err error) error { return err }
	if !a.known(method) {
		method, recorded = unknownMethod, func(err error) error {
			if status.Code(err) == codes.Unimplemented {
				return errUnknownMethod
			}
			return err
		}
	}
	if a.spans != nil || a.metrics != nil {
		ts := &telemetryStream{ServerStream: ss, ctx: ss.Context()}
		ss = ts
		if a.spans != nil {
			ts.ctx = a.spans.Start(ts.ctx, method)
			defer func() { a.spans.End(ts.ctx, recorded(err)) }()
		}
		if a.metrics != nil {
			a.metrics.Started(info.FullMethod)
			defer func() { a.metrics.Ended(info.FullMethod, err, time.Since(start), ts.rcvd, ts.sent) }()
		}
	}
	err = handler(srv, ss)
	a.rpcDone(ss.Context(), method, start, recorded(err))
	return err
}

// telemetryStream hands the stream's handler the context carrying its
// span, and adds up its message bytes.
type telemetryStream struct {
	grpc.ServerStream
	ctx        context.Context
	rcvd, sent int
}

func (s *telemetryStream) Context() context.Context { return s.ctx }

func (s *telemetryStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil {
		s.rcvd += msgSize(m)
	}
	return err
}

func (s *telemetryStream) SendMsg(m any) error {
	err := s.ServerStream.SendMsg(m)
	if err == nil {
		s.sent += msgSize(m)
	}
	return err
}

// msgSize is a message's encoded size: its bytes on the wire, since the
// server registers no compressor. 0 for nil.
func msgSize(m any) int {
	if pm, ok := m.(proto.Message); ok {
		return proto.Size(pm)
	}
	return 0
}

func levelFor(c codes.Code) slog.Level {
	switch c {
	case codes.OK:
		return slog.LevelInfo
	case codes.Canceled:
		// The caller gave up: nothing for an operator to act on. Counted
		// in the RPC metrics (grpc_status="Canceled"); lines sampled.
		return slog.LevelInfo
	case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists,
		codes.PermissionDenied, codes.Unauthenticated, codes.ResourceExhausted,
		codes.FailedPrecondition, codes.OutOfRange, codes.Aborted, codes.DeadlineExceeded,
		codes.Unimplemented:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

// unknownService answers a method no service implements, with the status
// grpc-go itself gives; installed as grpc.UnknownServiceHandler so that the
// call passes through the stream interceptors and the access log (without
// it, grpc-go answers before any interceptor).
func (s *Server) unknownService(_ any, stream grpc.ServerStream) error {
	m, _ := grpc.MethodFromServerStream(stream)
	svc, method := "", ""
	if i := strings.LastIndex(m, "/"); i > 0 {
		svc, method = m[1:i], m[i+1:]
	}
	if _, ok := s.registered[svc]; ok {
		return status.Error(codes.Unimplemented, fmt.Sprintf("unknown method %v for service %v", method, svc))
	}
	return status.Error(codes.Unimplemented, fmt.Sprintf("unknown service %v", svc))
}

// callerFault marks an error grpc-go gave for a request message it could
// not read (undecodable, truncated, missing, a compression flag without an
// encoding, invalid UTF-8 in a string): grpc-go has already sent INTERNAL
// for it (serverStream.RecvMsg writes the status itself, so the status
// cannot be changed), but the caller sent it, so its access line is WARN,
// not ERROR, and sets off no alert on server errors. Other errors, and
// codes other than INTERNAL, are returned as they are.
func callerFault(err error) error {
	if err == nil {
		return nil
	}
	if st, ok := status.FromError(err); ok && st.Code() == codes.Internal {
		return &badRequest{st}
	}
	return err
}

// badRequest is grpc-go's INTERNAL status for a request it could not read.
type badRequest struct{ st *status.Status }

func (e *badRequest) Error() string              { return e.st.Err().Error() }
func (e *badRequest) GRPCStatus() *status.Status { return e.st }
