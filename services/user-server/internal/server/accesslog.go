package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/acme/user-service/services/user-server/internal/logging"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// accessLog is the access log: one line per RPC (method, code, duration,
// peer), INFO for OK, WARN for errors the caller caused, ERROR for
// server-side failures.
//
// It is a stats.Handler, not an interceptor, because grpc-go answers many
// bad requests before any interceptor runs: an oversized or undecodable
// message, an unsupported grpc-encoding, an unknown method (see
// unknownService), and streaming RPCs have no unary interceptor at all.
// grpc-go reports the end of every RPC it dispatched to a stats handler, so
// each gets exactly one line. Requests grpc-go refuses before it starts an
// RPC (a malformed grpc-timeout, :path or binary header, a non-gRPC
// content-type, a missing :authority) reach no hook, so they are not
// logged.
//
// The line is written at the End event: the duration is grpc-go's own,
// from the RPC's start (before the request is read) to its end (after the
// reply is written).
type accessLog struct{ log *logging.AccessLogger }

func (accessLog) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (accessLog) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (accessLog) HandleConn(context.Context, stats.ConnStats)                       {}

func (a accessLog) HandleRPC(ctx context.Context, rs stats.RPCStats) {
	end, ok := rs.(*stats.End)
	if !ok {
		return
	}
	code, msg := codes.OK, ""
	if end.Error != nil {
		// Status messages are written by this server or by grpc-go and never
		// hold a token (see validationStatus and authenticate).
		st := status.Convert(end.Error)
		code, msg = st.Code(), st.Message()
	}
	level := levelFor(code)
	if !a.log.Enabled(level) {
		return
	}
	// The End event's context is the RPC's, which carries its stream.
	method, _ := grpc.Method(ctx)
	line := logging.AccessLine{
		Time:     end.EndTime,
		Level:    level,
		Method:   method,
		Code:     code.String(),
		Duration: end.EndTime.Sub(end.BeginTime),
		Error:    msg,
	}
	if p, ok := peer.FromContext(ctx); ok {
		line.Peer = p.Addr
	}
	a.log.Log(&line)
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
// call is an RPC grpc-go reports to the access log (without it, grpc-go
// answers before any stats handler sees the end of the call).
func (s *Server) unknownService(_ any, stream grpc.ServerStream) error {
	m, _ := grpc.MethodFromServerStream(stream)
	svc, method := "", ""
	if i := strings.LastIndex(m, "/"); i > 0 {
		svc, method = m[1:i], m[i+1:]
	}
	if _, ok := s.services[svc]; ok {
		return status.Error(codes.Unimplemented, fmt.Sprintf("unknown method %v for service %v", method, svc))
	}
	return status.Error(codes.Unimplemented, fmt.Sprintf("unknown service %v", svc))
}
