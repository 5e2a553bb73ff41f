package server

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"strings"

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
//  2. validation: protovalidate rules (internal/validation), before any
//     credential check or handler code sees the request; InvalidArgument
//     with every violation in the details (a missing token is reported as
//     Unauthenticated).
//  3. auth:       the request's auth_token, compared in constant time.
//
// The access log and telemetry are not stages here but wrap the registered
// handler (see outermost), outside grpc-go's decoding of the request, so it also logs
// requests that fail to decode. A panicking RPC gets the panic line and its
// access line (code Internal).
//
// The stages are plain calls in one interceptor rather than interceptors in
// grpc.ChainUnaryInterceptor, which allocates a closure per stage per RPC.
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
	return s.checkRequest(ctx, req, info, handler)          // 2 and 3
}

// recoverPanic converts a panic into codes.Internal; the server keeps
// serving. It must be deferred directly, for recover to see the panic.
func (s *Server) recoverPanic(ctx context.Context, method string, resp *any, err *error) {
	if r := recover(); r != nil {
		logPanic(ctx, s.log, method, r)
		*resp, *err = nil, errInternal
	}
}

// checkRequest is stages 2 and 3, then the handler.
func (s *Server) checkRequest(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := s.bearer(ctx, req); err != nil { // the token's source (httpcall.go)
		return nil, err
	}
	if err := s.validate(req); err != nil { // 2
		return nil, err
	}
	if err := s.authenticate(info.FullMethod, req); err != nil { // 3
		return nil, err
	}
	return handler(ctx, req)
}

// streamIntercept recovers a streaming RPC's panic (health Watch,
// reflection); the stream's telemetry and access line are outermost's.
func (s *Server) streamIntercept(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			logPanic(ss.Context(), s.log, info.FullMethod, r)
			err = errInternal
		}
	}()
	if info.FullMethod == watchMethod {
		if !s.watchers.TryAcquire() {
			return errWatchBusy
		}
		defer s.watchers.Release()
	}
	if s.reflection != nil && strings.HasPrefix(info.FullMethod, reflectionPrefix) {
		if err := s.authorizeMetadata(ss.Context()); err != nil {
			return err
		}
		if !s.reflection.TryAcquire() {
			return errReflectionBusy
		}
		defer s.reflection.Release()
	}
	return handler(srv, ss)
}

// reflectionPrefix starts the reflection service's methods (v1 and
// v1alpha).
const reflectionPrefix = "/grpc.reflection."

const watchMethod = "/grpc.health.v1.Health/Watch"

var errWatchBusy = status.Error(codes.ResourceExhausted, "too many health Watch streams open; try again later")

var errReflectionBusy = status.Error(codes.ResourceExhausted, "too many server reflection streams open; try again later")

// authorizeMetadata accepts a call whose "authorization" metadata is
// "Bearer TOKEN" with an accepted token: the credential of services whose
// requests have no auth_token field (reflection).
func (s *Server) authorizeMetadata(ctx context.Context) error {
	tok := bearerToken(ctx)
	if tok == "" || !s.auth.Allow(tok) {
		if s.obs != nil {
			s.obs.AuthFailure(tok == "")
		}
		return errUnauthenticated
	}
	return nil
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

// peerAddr is the caller's address, for the panic line.
func peerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}

// validate runs the protovalidate rules of the request message.
func (s *Server) validate(req any) error {
	if m, ok := req.(proto.Message); ok {
		if err := s.validator.Validate(m); err != nil {
			return validationStatus(err, s.obs)
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
//
// obs, if not nil, counts the auth failure or each violation.
func validationStatus(err error, obs Observer) error {
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) {
		return status.Error(codes.Internal, "request validation failed")
	}
	for _, v := range ve.Violations {
		if fieldPath(v) == tokenField && v.Proto.GetRuleId() == "required" {
			if obs != nil {
				obs.AuthFailure(true)
			}
			return errUnauthenticated
		}
	}
	var msg strings.Builder
	msg.WriteString("invalid request: ")
	for i, v := range ve.Violations {
		field := fieldPath(v)
		if obs != nil {
			obs.ValidationFailure(field, v.Proto.GetRuleId())
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
		if s.obs != nil {
			s.obs.AuthFailure(!ok || tc.GetAuthToken() == "")
		}
		return errUnauthenticated
	}
	return nil
}

// isPublic reports methods served without a token: health checks, so probes
// work unconfigured. (Reflection is a streaming service and does not pass
// through the unary chain: streamIntercept checks its bearer token.)
func isPublic(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/")
}
