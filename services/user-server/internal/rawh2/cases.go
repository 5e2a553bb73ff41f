package rawh2

import (
	"encoding/binary"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/codes"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"
)

// Case is one request to user-server and the status it must end with.
type Case struct {
	Name   string
	Req    Request
	Method string     // the access line's method (Unknown for a method not served)
	Code   codes.Code // the status, and the access line's code
	// Logged says when the request has an access line (see outermost in
	// internal/server).
	Logged Logged
	// Message, if set, is the grpc-message the reply must carry.
	Message string
}

// Unknown is the access line's method for a path the server does not
// serve: the caller chose it, so it is not recorded.
const Unknown = "unknown"

// Logged says which server configurations write a request's access line.
type Logged int

const (
	// Always: every configuration.
	Always Logged = iota
	// WithRejected: only with --log-rejected-rpcs, for requests grpc-go
	// answers after its stats handlers saw them but before any handler
	// or interceptor runs.
	WithRejected
	// Never: grpc-go's transport refuses the request while reading its
	// headers, before any hook (tap or stats handler) runs.
	Never
)

// LoggedBy reports whether a server with --log-rejected-rpcs set or not
// writes the line.
func (l Logged) LoggedBy(logRejected bool) bool {
	return l == Always || (l == WithRejected && logRejected)
}

// Cases are one well-formed call and one of each class of bad request a
// hostile client can send, for a server whose largest accepted message is
// below 1 MiB and which accepts token.
func Cases(token string) []Case {
	const get = userv1.UserService_GetUserDetails_FullMethodName
	ok, _ := proto.Marshal(&userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: token})
	compressed := Message(ok)
	compressed[0] = 1 // compressed flag, with an encoding the server lacks
	oversized := make([]byte, 5)
	binary.BigEndian.PutUint32(oversized[1:], 1<<20)
	truncated := Message(ok)[:10]
	refl, _ := proto.Marshal(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
	hdr := func(k, v string) []hpack.HeaderField { return []hpack.HeaderField{{Name: k, Value: v}} }
	return []Case{
		{"ok", Request{Path: get, Body: Message(ok)}, get, codes.OK, Always, ""},
		{"oversized message", Request{Path: get, Body: oversized}, get, codes.ResourceExhausted, Always, ""},
		{"undecodable message", Request{Path: get, Body: Message([]byte{0xff, 0xff, 0xff})}, get, codes.Internal, Always, ""},
		{"truncated message", Request{Path: get, Body: truncated}, get, codes.Internal, Always, ""},
		{"no message", Request{Path: get}, get, codes.Internal, Always, ""},
		{"unsupported grpc-encoding", Request{Path: get, Headers: hdr("grpc-encoding", "x-none"), Body: compressed}, get, codes.Unimplemented, WithRejected, `grpc: Decompressor is not installed for grpc-encoding "x-none"`},
		{"malformed method name", Request{Path: "user.v1.UserService.GetUserDetails", Body: Message(ok)}, Unknown, codes.Unimplemented, Always, `malformed method name: "user.v1.UserService.GetUserDetails"`},
		// The messages grpc-go gives without an UnknownServiceHandler.
		{"unknown method", Request{Path: "/user.v1.UserService/Nope", Body: Message(ok)}, Unknown, codes.Unimplemented, Always, "unknown method Nope for service user.v1.UserService"},
		{"unknown service", Request{Path: "/no.such.Service/Get", Body: Message(ok)}, Unknown, codes.Unimplemented, Always, "unknown service no.such.Service"},
		{"missing token", Request{Path: get, Body: Message([]byte{0x0a, 0x07, 'j', 'o', 'h', 'n', '1', '2', '3'})}, get, codes.Unauthenticated, Always, ""},
		{"health check", Request{Path: "/grpc.health.v1.Health/Check", Body: Message(nil)}, "/grpc.health.v1.Health/Check", codes.OK, Always, ""},
		{"reflection stream", Request{Path: "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", Headers: hdr("authorization", "Bearer "+token), Body: Message(refl)}, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", codes.OK, Always, ""},
		{"health watch, cancelled", Request{Path: "/grpc.health.v1.Health/Watch", Body: Message(nil), Cancel: true}, "/grpc.health.v1.Health/Watch", codes.Canceled, Always, ""},
		{"malformed grpc-timeout", Request{Path: get, Headers: hdr("grpc-timeout", "1x"), Body: Message(ok)}, get, codes.Internal, Never, ""},
	}
}

// Level is the level of the case's access line: INFO for OK and for a call
// the client cancelled; WARN for the caller's faults, including a request
// message grpc-go could not read (INTERNAL on the wire, since grpc-go
// sends that status itself); ERROR for server faults.
func (c Case) Level() string {
	switch c.Code {
	case codes.OK, codes.Canceled:
		return "INFO"
	case codes.Internal:
		if c.Logged != Never { // every logged INTERNAL case is an unreadable message
			return "WARN"
		}
		return "ERROR"
	case codes.Unknown, codes.Unavailable, codes.DataLoss:
		return "ERROR"
	}
	return "WARN"
}
