package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/acme/user-service/services/user-server/internal/logging"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// outermost is the outermost layer of every RPC: its span and metrics when
// telemetry is on, and the access log: one line per RPC (method, code,
// duration, peer, and trace_id for a sampled call), INFO for OK, WARN for
// errors the caller caused, ERROR for server-side failures.
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
	if code == codes.Unavailable && errors.Is(context.Cause(ctx), errShuttingDown) {
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
	line := logging.AccessLine{
		Time:     start.Add(d),
		Level:    level,
		Method:   method,
		Code:     code.String(),
		Duration: d,
		Error:    msg,
	}
	if p, ok := peer.FromContext(ctx); ok {
		line.Peer = p.Addr
	}
	if c, ok := httpCallFrom(ctx, line.Peer); ok {
		line.Protocol = c.Protocol
	}
	if a.spans != nil {
		if sc := trace.SpanContextFromContext(ctx); sc.IsSampled() {
			line.TraceID = sc.TraceID().String()
		}
	}
	a.log.Log(&line)
}

// registrar registers services with each unary method's handler wrapped
// to write the access line.
type registrar struct {
	grpc  *grpc.Server
	outer outermost
}

func (r registrar) RegisterService(desc *grpc.ServiceDesc, impl any) {
	r.grpc.RegisterService(r.outer.wrapUnary(desc), impl)
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
			start := time.Now()
			if a.markSeen {
				markSeen(ctx)
			}
			if a.spans != nil {
				ctx = a.spans.Start(ctx, method)
			}
			if a.metrics != nil {
				var req any
				decode := dec
				dec = func(m any) error { req = m; return decode(m) }
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
	start := time.Now()
	if a.markSeen {
		markSeen(ss.Context())
	}
	if a.spans != nil || a.metrics != nil {
		ts := &telemetryStream{ServerStream: ss, ctx: ss.Context()}
		ss = ts
		if a.spans != nil {
			ts.ctx = a.spans.Start(ts.ctx, info.FullMethod)
			defer func() { a.spans.End(ts.ctx, err) }()
		}
		if a.metrics != nil {
			a.metrics.Started(info.FullMethod)
			defer func() { a.metrics.Ended(info.FullMethod, err, time.Since(start), ts.rcvd, ts.sent) }()
		}
	}
	err = handler(srv, ss)
	a.rpcDone(ss.Context(), info.FullMethod, start, err)
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
	case codes.Canceled, codes.InvalidArgument, codes.NotFound, codes.AlreadyExists,
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
