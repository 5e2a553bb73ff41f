package server

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/acme/user-service/services/user-server/internal/logging"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// accessLog is the access log: one line per RPC (method, code, duration,
// peer), INFO for OK, WARN for errors the caller caused, ERROR for
// server-side failures.
//
// grpc-go answers some bad requests before the unary interceptor runs, so
// the line is not written there but around it:
//   - unary RPCs: the registered method handlers are wrapped (see
//     registrar), so the line covers grpc-go's reading and decoding of the
//     request (an oversized, truncated, missing or undecodable message) as
//     well as the interceptor chain and the handler;
//   - streaming RPCs (health Watch, reflection) and unknown methods and
//     services (answered by unknownService): the outermost stream
//     interceptor.
//
// A grpc.StatsHandler would also see the rest, but having one makes grpc-go
// build an event for every step of every RPC (allocations, clock reads,
// metadata copies), which the load benchmark measured at a large fraction
// of the server's per-RPC cost. What it alone would add: an unsupported
// grpc-encoding is answered before any handler or interceptor, and requests
// grpc-go refuses before it starts an RPC (a malformed grpc-timeout, :path
// or binary header, a non-gRPC content-type, a missing :authority) reach no
// hook at all. Those are not logged.
//
// The line is written before grpc-go sends the reply's status.
type accessLog struct{ log *logging.AccessLogger }

// rpcDone writes the access line of an RPC of method that started at start
// and ended with err.
func (a accessLog) rpcDone(ctx context.Context, method string, start time.Time, err error) {
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
	if !a.log.Enabled(level) {
		return
	}
	now := time.Now()
	line := logging.AccessLine{
		Time:     now,
		Level:    level,
		Method:   method,
		Code:     code.String(),
		Duration: now.Sub(start),
		Error:    msg,
	}
	if p, ok := peer.FromContext(ctx); ok {
		line.Peer = p.Addr
	}
	a.log.Log(&line)
}

// registrar registers services with each unary method's handler wrapped
// to write the access line.
type registrar struct {
	grpc   *grpc.Server
	access accessLog
}

func (r registrar) RegisterService(desc *grpc.ServiceDesc, impl any) {
	r.grpc.RegisterService(r.access.wrapUnary(desc), impl)
}

// wrapUnary returns a copy of desc whose unary handlers write the line.
func (a accessLog) wrapUnary(desc *grpc.ServiceDesc) *grpc.ServiceDesc {
	d := *desc
	d.Methods = slices.Clone(desc.Methods)
	for i, m := range d.Methods {
		method := "/" + desc.ServiceName + "/" + m.MethodName
		handler := m.Handler
		d.Methods[i].Handler = func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			start := time.Now()
			resp, err := handler(srv, ctx, dec, ic)
			a.rpcDone(ctx, method, start, err)
			return resp, err
		}
	}
	return &d
}

// stream is the outermost stream interceptor: the access line of streaming
// RPCs and of unknown methods.
func (a accessLog) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	err := handler(srv, ss)
	a.rpcDone(ss.Context(), info.FullMethod, start, err)
	return err
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
