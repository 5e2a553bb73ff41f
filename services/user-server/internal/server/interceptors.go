package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"time"

	"buf.build/go/protovalidate"
	"github.com/acme/user-service/services/user-server/internal/auth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// The unary interceptor chain, outermost first:
//
//  1. recovery:   turns a panic anywhere below (including the other
//     interceptors) into codes.Internal and logs it with its stack at ERROR.
//  2. logging:    one access-log line per RPC (method, code, duration, peer);
//     it sees every outcome of validation, auth and the handler.
//  3. validation: protovalidate rules, before any credential check or
//     handler code sees the request; InvalidArgument with every violation in
//     the details (a missing token is reported as Unauthenticated).
//  4. auth:       the request's auth_token, compared in constant time.
//
// A panicking RPC gets the recovery line instead of an access-log line: the
// panic unwinds through the logging interceptor before it is recovered.
//
// grpc-go decodes the request before it calls any interceptor, so a request
// that does not unmarshal (for example a string field holding invalid UTF-8
// on the wire) fails with codes.Internal ("grpc: error unmarshalling
// request") without reaching this chain; in-process callers, such as the fuzz
// test, can still hand the chain such strings, and it classifies them
// (InvalidArgument for user_id, Unauthenticated for auth_token).
func (s *Server) unaryInterceptors() []grpc.UnaryServerInterceptor {
	return []grpc.UnaryServerInterceptor{
		recovery(s.log),
		accessLog(s.log.Handler()),
		validation(s.validator),
		authenticate(s.auth),
	}
}

// recovery converts a panic into codes.Internal; the server keeps serving.
func recovery(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				logPanic(ctx, log, info.FullMethod, r)
				resp, err = nil, errInternal
			}
		}()
		return handler(ctx, req)
	}
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

// accessLog writes one line per RPC: INFO for OK, WARN for errors the caller
// caused, ERROR for server-side failures. It asks the handler whether the
// line's level is enabled before it builds anything, and builds the record
// directly (four or five attributes fit in slog.Record without allocating).
func accessLog(h slog.Handler) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if !h.Enabled(ctx, slog.LevelError) {
			return handler(ctx, req)
		}
		start := time.Now()
		resp, err := handler(ctx, req)
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
			// token (see validationStatus and the auth interceptor).
			r.AddAttrs(slog.String("error", status.Convert(err).Message()))
		}
		_ = h.Handle(ctx, r)
		return resp, err
	}
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

// peerAddr formats the caller's address with a single allocation for TCP
// peers (net.TCPAddr.String takes several).
func peerAddr(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	if ta, ok := p.Addr.(*net.TCPAddr); ok && ta.Zone == "" {
		var buf [48]byte
		return string(ta.AddrPort().AppendTo(buf[:0]))
	}
	return p.Addr.String()
}

// validation runs the protovalidate rules of the request message.
func validation(v protovalidate.Validator) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if m, ok := req.(proto.Message); ok {
			if err := v.Validate(m); err != nil {
				return nil, validationStatus(err)
			}
		}
		return handler(ctx, req)
	}
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
func authenticate(a *auth.Authenticator) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if !isPublic(info.FullMethod) {
			tc, ok := req.(tokenCarrier)
			if !ok || !a.Allow(tc.GetAuthToken()) {
				return nil, errUnauthenticated
			}
		}
		return handler(ctx, req)
	}
}

// isPublic reports methods served without a token: health checks, so probes
// work unconfigured. (Reflection is a streaming service and does not pass
// through the unary chain.)
func isPublic(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/")
}
