package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"buf.build/go/protovalidate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// intercept is the unary interceptor chain. Its stages, outermost first:
//
//  1. recovery:   turns a panic anywhere below (including the other stages)
//     into codes.Internal and logs it with its stack at ERROR.
//  2. logging:    one access-log line per RPC (method, code, duration, peer);
//     it sees every outcome of validation, auth and the handler.
//  3. validation: protovalidate rules, before any credential check or
//     handler code sees the request; InvalidArgument with every violation in
//     the details (a missing token is reported as Unauthenticated).
//  4. auth:       the request's auth_token, compared in constant time.
//
// The stages are plain calls in one interceptor rather than four
// interceptors in grpc.ChainUnaryInterceptor, which allocates a closure per
// stage per RPC. A panicking RPC gets the recovery line instead of an
// access-log line: the panic unwinds through the logging stage before it is
// recovered.
//
// grpc-go decodes the request before it calls any interceptor, so a request
// that does not unmarshal (for example a string field holding invalid UTF-8
// on the wire) fails with codes.Internal ("grpc: error unmarshalling
// request") without reaching this chain; in-process callers, such as the fuzz
// test, can still hand the chain such strings, and it classifies them
// (a user_id breaks its pattern: InvalidArgument; a token matches no
// accepted token: Unauthenticated).
func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer s.recoverPanic(ctx, info.FullMethod, &resp, &err) // 1
	return s.logAccess(ctx, req, info, handler)             // 2, then 3 and 4
}

// recoverPanic converts a panic into codes.Internal; the server keeps
// serving. It must be deferred directly, for recover to see the panic.
func (s *Server) recoverPanic(ctx context.Context, method string, resp *any, err *error) {
	if r := recover(); r != nil {
		logPanic(ctx, s.log, method, r)
		*resp, *err = nil, errInternal
	}
}

// checkRequest is stages 3 and 4, then the handler.
func (s *Server) checkRequest(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := s.validate(req); err != nil { // 3
		return nil, err
	}
	if err := s.authenticate(info.FullMethod, req); err != nil { // 4
		return nil, err
	}
	return handler(ctx, req)
}

// streamRecovery covers the streaming services (health Watch, reflection).
func streamRecovery(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				logPanic(ss.Context(), log, info.FullMethod, r)
				err = errInternal
			}
		}()
		return handler(srv, ss)
	}
}

var errInternal = status.Error(codes.Internal, "internal error")

func logPanic(ctx context.Context, log *slog.Logger, method string, r any) {
	// %v of the panic value, not the request: the request holds the token.
	log.LogAttrs(ctx, slog.LevelError, "panic in handler",
		slog.String("method", method),
		slog.String("code", codes.Internal.String()),
		slog.String("peer", peerAddr(ctx)),
		slog.Any("panic", r),
		slog.String("stack", string(debug.Stack())),
	)
}

// logAccess writes one line per RPC: INFO for OK, WARN for errors the caller
// caused, ERROR for server-side failures. It asks the handler whether the
// line's level is enabled before it builds anything, and builds the record
// directly (four or five attributes fit in slog.Record without allocating).
func (s *Server) logAccess(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	h := s.logHandler
	if !h.Enabled(ctx, slog.LevelError) {
		return s.checkRequest(ctx, req, info, handler)
	}
	start := time.Now()
	resp, err := s.checkRequest(ctx, req, info, handler)
	code := codes.OK
	if err != nil {
		code = status.Code(err)
	}
	level := levelFor(code)
	if !h.Enabled(ctx, level) {
		return resp, err
	}
	now := time.Now()
	r := slog.NewRecord(now, level, "rpc", 0)
	r.AddAttrs(
		slog.String("method", info.FullMethod),
		slog.String("code", code.String()),
		slog.Duration("duration", now.Sub(start)),
		slog.String("peer", peerAddr(ctx)),
	)
	if err != nil {
		// Status messages are written by this server and never hold a
		// token (see validationStatus and authenticate).
		r.AddAttrs(slog.String("error", status.Convert(err).Message()))
	}
	_ = h.Handle(ctx, r)
	return resp, err
}

func levelFor(c codes.Code) slog.Level {
	switch c {
	case codes.OK:
		return slog.LevelInfo
	case codes.Canceled, codes.InvalidArgument, codes.NotFound, codes.AlreadyExists,
		codes.PermissionDenied, codes.Unauthenticated, codes.ResourceExhausted,
		codes.FailedPrecondition, codes.OutOfRange, codes.Aborted, codes.DeadlineExceeded:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

// peerAddr formats the caller's address as net.TCPAddr.String does, with a
// single allocation for TCP peers (String takes several). IPv4 callers of a
// dual-stack listener (a wildcard --listen) arrive as IPv4-mapped IPv6
// addresses: they are written as IPv4, not as [::ffff:a.b.c.d].
func peerAddr(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	if ta, ok := p.Addr.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		var buf [64]byte
		return string(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).AppendTo(buf[:0]))
	}
	return p.Addr.String()
}

// validate runs the protovalidate rules of the request message.
func (s *Server) validate(req any) error {
	if m, ok := req.(proto.Message); ok {
		if err := s.validator.Validate(m); err != nil {
			return validationStatus(err)
		}
	}
	return nil
}

// tokenField is the request field that carries the caller's credential.
const tokenField = "auth_token"

// validationStatus maps a protovalidate error to a status:
//   - a missing auth_token is an authentication failure (the contract says
//     UNAUTHENTICATED for a missing token), and an unauthenticated caller gets
//     no validation feedback about the rest of the request;
//   - any other violation is InvalidArgument carrying buf.validate.Violations
//     with every violated field, rule and message;
//   - a validator failure (compilation or runtime error) is Internal.
func validationStatus(err error) error {
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) {
		return status.Error(codes.Internal, "request validation failed")
	}
	var msg strings.Builder
	msg.WriteString("invalid request: ")
	for i, v := range ve.Violations {
		field := fieldPath(v)
		if field == tokenField && v.Proto.GetRuleId() == "required" {
			return errUnauthenticated
		}
		if i > 0 {
			msg.WriteString("; ")
		}
		msg.WriteString(field)
		msg.WriteString(": ")
		msg.WriteString(v.Proto.GetMessage())
	}
	st, derr := status.New(codes.InvalidArgument, msg.String()).WithDetails(ve.ToProto())
	if derr != nil {
		return status.Error(codes.InvalidArgument, msg.String())
	}
	return st.Err()
}

func fieldPath(v *protovalidate.Violation) string {
	els := v.Proto.GetField().GetElements()
	names := make([]string, len(els))
	for i, e := range els {
		names[i] = e.GetFieldName()
	}
	return strings.Join(names, ".")
}

// errUnauthenticated never says which of missing or wrong it was, nor echoes
// the token.
var errUnauthenticated = status.Error(codes.Unauthenticated, "missing or invalid auth token")

// tokenCarrier is implemented by every user.v1 request message.
type tokenCarrier interface{ GetAuthToken() string }

// authenticate rejects a request unless it carries an accepted token. It
// denies by default: any method except the public health service needs one.
func (s *Server) authenticate(method string, req any) error {
	if isPublic(method) {
		return nil
	}
	if tc, ok := req.(tokenCarrier); !ok || !s.auth.Allow(tc.GetAuthToken()) {
		return errUnauthenticated
	}
	return nil
}

// isPublic reports methods served without a token: health checks, so probes
// work unconfigured. (Reflection is a streaming service and does not pass
// through the unary chain.)
func isPublic(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/")
}
