package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"github.com/acme/user-service/services/user-server/internal/server"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// A unary method's Connect and gRPC-Web calls are served by a connect-go
// handler that calls the server's registered handler directly
// (server.Unary): the same wrapped handler and interceptor chain grpc-go
// runs for a native call, without vanguard's transcoding and grpc-go's
// ServeHTTP transport, which together cost as much again as connect-go
// (docs/http.md). connect-go does not decode the request: its codecs keep
// the bytes (rawMessage) and the server's handler decodes them, as
// grpc-go's does, so a message that does not decode or is too big is
// refused inside the access line and the metrics, as a native call's is.

// rawMessage is a request as it came: protobuf or JSON bytes.
type rawMessage struct {
	data []byte
	json bool
}

// reply is a response message, for the codecs to encode.
type reply struct{ msg proto.Message }

// codec is connect-go's codec for the protobuf ("proto") or JSON ("json")
// form of messages.
type codec struct{ json bool }

func (c codec) Name() string {
	if c.json {
		return "json"
	}
	return "proto"
}

func (c codec) Marshal(m any) ([]byte, error) { return c.MarshalAppend(nil, m) }

// MarshalAppend lets connect-go encode into its pooled buffers.
func (c codec) MarshalAppend(b []byte, m any) ([]byte, error) {
	var msg proto.Message
	switch m := m.(type) {
	case *reply:
		msg = m.msg
	case proto.Message: // connect-go's own: a gRPC-Web error's status
		msg = m
	default:
		return nil, fmt.Errorf("httpapi: cannot encode %T", m)
	}
	if c.json {
		return protojson.MarshalOptions{}.MarshalAppend(b, msg)
	}
	return proto.MarshalOptions{}.MarshalAppend(b, msg)
}

// Unmarshal keeps a copy of the bytes (connect-go reuses its buffer).
func (c codec) Unmarshal(data []byte, m any) error {
	r, ok := m.(*rawMessage)
	if !ok {
		return fmt.Errorf("httpapi: cannot decode into %T", m)
	}
	r.data, r.json = append(r.data[:0], data...), c.json
	return nil
}

// decode decodes the request into m: grpc-go's own checks and statuses for
// a size over maxRecv, but InvalidArgument, not INTERNAL, for a message
// that does not decode (grpc-go cannot change the status it has sent; an
// HTTP caller's fault gets a 400, not a 500).
func (r *rawMessage) decode(m any, maxRecv int) error {
	pm, ok := m.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "httpapi: cannot decode into %T", m)
	}
	if !r.json && len(r.data) > maxRecv {
		return status.Errorf(codes.ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", len(r.data), maxRecv)
	}
	var err error
	if r.json {
		err = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(r.data, pm)
	} else {
		err = proto.Unmarshal(r.data, pm)
	}
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "invalid request message: %v", err)
	}
	if r.json {
		if n := proto.Size(pm); n > maxRecv {
			return status.Errorf(codes.ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", n, maxRecv)
		}
	}
	return nil
}

// directHandlers are the connect-go handlers of the server's unary
// methods, by path.
func directHandlers(srv *server.Server, maxRecv int, bodyLimit int64) (map[string]http.Handler, error) {
	handlers := map[string]http.Handler{}
	for _, method := range srv.Methods() {
		call, ok := srv.Unary(method)
		if !ok {
			continue // streaming: through vanguard and grpc-go
		}
		idempotency, err := idempotencyOf(method)
		if err != nil {
			return nil, err
		}
		handlers[method] = connect.NewUnaryHandler(method,
			func(ctx context.Context, req *connect.Request[rawMessage]) (*connect.Response[reply], error) {
				ctx = peer.NewContext(ctx, &peer.Peer{Addr: remoteAddr(req.Peer().Addr)})
				ctx = metadata.NewIncomingContext(ctx, incomingMetadata(req.Header()))
				raw := req.Msg
				resp, err := call(ctx, func(m any) error { return raw.decode(m, maxRecv) })
				if err != nil {
					return nil, connectError(err)
				}
				return connect.NewResponse(&reply{resp.(proto.Message)}), nil
			},
			connect.WithCodec(codec{}), connect.WithCodec(codec{json: true}),
			connect.WithIdempotency(idempotency),
			connect.WithReadMaxBytes(int(bodyLimit)),
			// Replies this small cost more to compress than to send.
			connect.WithCompressMinBytes(1024),
		)
	}
	return handlers, nil
}

// idempotencyOf is the method's idempotency_level option: a method marked
// free of side effects may be called with a Connect GET.
func idempotencyOf(method string) (connect.IdempotencyLevel, error) {
	name := protoreflect.FullName(strings.ReplaceAll(strings.TrimPrefix(method, "/"), "/", "."))
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(name)
	if err != nil {
		return 0, fmt.Errorf("httpapi: %s: %w", method, err)
	}
	md, ok := d.(protoreflect.MethodDescriptor)
	if !ok {
		return 0, fmt.Errorf("httpapi: %s is not a method", method)
	}
	opts, _ := md.Options().(*descriptorpb.MethodOptions)
	return connect.IdempotencyLevel(opts.GetIdempotencyLevel()), nil
}

// remoteAddr is an HTTP caller's address. It is not a *net.TCPAddr, which
// tells the server the call did not come by native gRPC (see
// server.HTTPCall), as the address grpc-go's ServeHTTP gives does.
type remoteAddr string

func (a remoteAddr) Network() string { return "tcp" }
func (a remoteAddr) String() string  { return string(a) }

// incomingMetadata is the request's headers as gRPC metadata (lower-case
// keys), as grpc-go's ServeHTTP gives them to a handler.
func incomingMetadata(h http.Header) metadata.MD {
	md := make(metadata.MD, len(h))
	for k, v := range h {
		md[strings.ToLower(k)] = v
	}
	return md
}

// connectError is err, a gRPC status (or a context's error), as the
// connect-go error with the same code, message and details.
func connectError(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		st = status.FromContextError(err)
	}
	ce := connect.NewError(connect.Code(st.Code()), errors.New(st.Message()))
	for _, d := range st.Proto().GetDetails() {
		if detail, err := connect.NewErrorDetail(d); err == nil {
			ce.AddDetail(detail)
		}
	}
	return ce
}
