package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"regexp"
	"sync/atomic"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
)

// fakeUsers implements user.v1 with the real server's semantics
// (Unauthenticated, then InvalidArgument with buf.validate.Violations, then
// NotFound), plus a few users that trigger other outcomes.
type fakeUsers struct {
	userv1.UnimplementedUserServiceServer
	name  string // display name of john123, to tell replicas apart
	leaky bool   // misbehave: echo the token in errors
	calls atomic.Int64
}

var userIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

func violation(field, ruleID, msg string) *validate.Violation {
	return validate.Violation_builder{
		Field: validate.FieldPath_builder{Elements: []*validate.FieldPathElement{
			validate.FieldPathElement_builder{FieldName: proto.String(field)}.Build(),
		}}.Build(),
		RuleId:  proto.String(ruleID),
		Message: proto.String(msg),
	}.Build()
}

func (f *fakeUsers) GetUserDetails(ctx context.Context, req *userv1.GetUserDetailsRequest) (*userv1.GetUserDetailsResponse, error) {
	f.calls.Add(1)
	// Like user-server: the token is checked first, so unauthenticated
	// callers learn nothing about the request rules.
	if req.GetAuthToken() != "valid-token" {
		if f.leaky {
			return nil, status.Errorf(codes.Unauthenticated, "token %s is not accepted", req.GetAuthToken())
		}
		return nil, status.Error(codes.Unauthenticated, "invalid auth token")
	}
	var vs []*validate.Violation
	id := req.GetUserId()
	if id == "" {
		vs = append(vs, violation("user_id", "required", "value is required"))
	}
	if len(id) > 64 {
		vs = append(vs, violation("user_id", "string.max_len", "must be at most 64 characters"))
	}
	if id != "" && !userIDPattern.MatchString(id) {
		vs = append(vs, violation("user_id", "string.pattern", "does not match regex pattern `^[A-Za-z0-9._-]+$`"))
	}
	if len(vs) > 0 {
		st, err := status.New(codes.InvalidArgument, "invalid request").
			WithDetails(validate.Violations_builder{Violations: vs}.Build())
		if err != nil {
			return nil, err
		}
		return nil, st.Err()
	}
	switch req.GetUserId() {
	case "john123":
		name := f.name
		if name == "" {
			name = "John Doe"
		}
		return &userv1.GetUserDetailsResponse{Name: name, Email: "john123@example.com", Status: "Success"}, nil
	case "slow":
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	case "boom":
		return nil, status.Error(codes.Internal, "something broke")
	}
	return nil, status.Errorf(codes.NotFound, "user %q not found", req.GetUserId())
}

type fakeServer struct {
	addr   string
	users  *fakeUsers
	health *health.Server
}

// startFake serves fakeUsers and the health service on a loopback port; the
// client is tested through the same dialling code the real binary uses.
func startFake(t *testing.T, users *fakeUsers, tlsCfg *tls.Config) fakeServer {
	t.Helper()
	if users == nil {
		users = &fakeUsers{}
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var opts []grpc.ServerOption
	if tlsCfg != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsCfg)))
	}
	s := grpc.NewServer(opts...)
	userv1.RegisterUserServiceServer(s, users)
	hs := health.NewServer()
	hs.SetServingStatus(userv1.UserService_ServiceDesc.ServiceName, grpc_health_v1.HealthCheckResponse_SERVING)
	grpc_health_v1.RegisterHealthServer(s, hs)
	go func() {
		if err := s.Serve(lis); err != nil {
			panic(fmt.Sprintf("serve: %v", err))
		}
	}()
	t.Cleanup(s.Stop)
	return fakeServer{addr: lis.Addr().String(), users: users, health: hs}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}
