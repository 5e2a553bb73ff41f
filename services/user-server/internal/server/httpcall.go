package server

import (
	"context"
	"net"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// HTTPCall describes a call that came in on the HTTP listener
// (internal/httpapi), which hands it to this server either through Unary
// or through grpc-go's ServeHTTP: either way every unary protection
// (validation, auth, telemetry, the access line) runs as for a native gRPC
// call.
type HTTPCall struct {
	// Protocol is the caller's protocol: "connect", "grpc-web", "rest" or
	// "grpc"; the access line carries it.
	Protocol string
	// InURL: the request message came in the URL (an HTTP GET: a REST
	// route's path and query, or a Connect GET), so it must not carry the
	// auth token, which would end up in proxies' and servers' logs.
	InURL bool
}

type httpCallKey struct{}

// WithHTTPCall returns ctx carrying c.
func WithHTTPCall(ctx context.Context, c HTTPCall) context.Context {
	return context.WithValue(ctx, httpCallKey{}, c)
}

// httpCallFrom returns the HTTPCall in ctx. A native gRPC call has none;
// its peer is a *net.TCPAddr (grpc-go's ServeHTTP path and the HTTP
// listener's direct path give other types), so it costs native calls one
// type check, not a context walk.
func httpCallFrom(ctx context.Context, p net.Addr) (HTTPCall, bool) {
	if _, native := p.(*net.TCPAddr); native {
		return HTTPCall{}, false
	}
	c, ok := ctx.Value(httpCallKey{}).(HTTPCall)
	return c, ok
}

// GRPC is the grpc-go server, for the HTTP listener to wrap (its
// ServeHTTP runs the same registered handlers and interceptors).
func (s *Server) GRPC() *grpc.Server { return s.grpc }

// UnaryFunc calls a unary method as grpc-go does once it has read the
// request from its transport: dec decodes the request message into the
// message it is given, and fails with a gRPC status for a caller's fault.
type UnaryFunc func(ctx context.Context, dec func(any) error) (any, error)

// Unary returns the unary method ("/package.Service/Method") as grpc-go
// calls it: the registered handler wrapped by outermost (span, metrics,
// access line, decoding) around the interceptor chain (recovery, bearer,
// validation, auth) and the service. No copy of any protection: the very
// code native calls run.
//
// ctx must carry what grpc-go's transport gives a call and the chain
// reads: the peer (peer.NewContext, with an address that is not a
// *net.TCPAddr) with WithHTTPCall, and the request's headers as incoming
// metadata (the authorization and traceparent headers are read from it).
func (s *Server) Unary(method string) (UnaryFunc, bool) {
	r, ok := s.unary[method]
	if !ok {
		return nil, false
	}
	return func(ctx context.Context, dec func(any) error) (any, error) {
		return r.handler(r.impl, ctx, dec, s.intercept)
	}, true
}

var errTokenInURL = status.Error(codes.InvalidArgument, "the auth token must not travel in a URL: send it in an Authorization: Bearer header")

// bearer applies the token rules that are not protovalidate's: a request
// that came in a URL must not carry a token, and a request without one
// takes it from an "authorization: Bearer <token>" header (gRPC metadata
// or the HTTP header), which every protocol may send. The token in the
// message wins, so existing clients are unchanged.
func (s *Server) bearer(ctx context.Context, req any) error {
	tc, ok := req.(tokenCarrier)
	if !ok {
		return nil
	}
	var addr net.Addr
	if p, ok := peer.FromContext(ctx); ok {
		addr = p.Addr
	}
	if tc.GetAuthToken() != "" {
		if c, ok := httpCallFrom(ctx, addr); ok && c.InURL {
			if s.obs != nil {
				s.obs.ValidationFailure(tokenField, "not_in_url")
			}
			return errTokenInURL
		}
		return nil
	}
	if token := bearerToken(ctx); token != "" {
		m := req.(proto.Message).ProtoReflect()
		if fd := m.Descriptor().Fields().ByName(tokenField); fd != nil && fd.Kind() == protoreflect.StringKind {
			m.Set(fd, protoreflect.ValueOfString(token))
		}
	}
	return nil
}

// bearerToken is the token of the call's "authorization: Bearer TOKEN"
// metadata (the scheme in any case), or "": the one reading of the header
// for every protocol and every service.
func bearerToken(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		scheme, token, ok := strings.Cut(v, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			continue
		}
		if token = strings.TrimSpace(token); token != "" {
			return token
		}
	}
	return ""
}
