package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

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

// fakeUsers implements user.v1 the way user-server does, in the same order
// and with the same status messages: validation first (a missing token is
// Unauthenticated; any other violation is InvalidArgument carrying
// buf.validate.Violations), then the token, then the lookup. A few extra
// users trigger outcomes user-server cannot be made to produce on demand.
// TestE2EFakeMatchesServer holds it to the real server's answers.
type fakeUsers struct {
	userv1.UnimplementedUserServiceServer
	name  string // display name of john123, to tell replicas apart
	leaky bool   // misbehave: echo the token in messages and violations
	calls atomic.Int64
	// script, when set, answers every call instead (cli_cases_test.go).
	script *scriptedUsers
}

var userIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// The messages user-server sends.
const (
	msgUnauthenticated = "missing or invalid auth token"
	msgNotFound        = "user not found"
	msgInvalid         = "invalid request: "
)

func violation(field, ruleID, msg string) *validate.Violation {
	return validate.Violation_builder{
		Field: validate.FieldPath_builder{Elements: []*validate.FieldPathElement{
			validate.FieldPathElement_builder{FieldName: proto.String(field)}.Build(),
		}}.Build(),
		RuleId:  proto.String(ruleID),
		Message: proto.String(msg),
	}.Build()
}

// violations applies the schema's rules, in the order protovalidate reports
// them: fields in number order, a field's rules in declaration order.
func violations(req *userv1.GetUserDetailsRequest) (vs []*validate.Violation, tokenMissing bool) {
	id, token := req.GetUserId(), req.GetAuthToken()
	if id == "" {
		vs = append(vs, violation("user_id", "required", "value is required"))
	} else {
		if utf8.RuneCountInString(id) > 64 {
			vs = append(vs, violation("user_id", "string.max_len", "must be at most 64 characters"))
		}
		if !userIDPattern.MatchString(id) {
			vs = append(vs, violation("user_id", "string.pattern", "does not match regex pattern `^[A-Za-z0-9._-]+$`"))
		}
	}
	if token == "" {
		return vs, true
	}
	if utf8.RuneCountInString(token) > 512 {
		vs = append(vs, violation("auth_token", "string.max_len", "must be at most 512 characters"))
	}
	return vs, false
}

func (f *fakeUsers) GetUserDetails(ctx context.Context, req *userv1.GetUserDetailsRequest) (*userv1.GetUserDetailsResponse, error) {
	f.calls.Add(1)
	if f.script != nil {
		return f.script.GetUserDetails(ctx, req)
	}
	token := req.GetAuthToken()
	unauthenticated := status.Error(codes.Unauthenticated, msgUnauthenticated)
	if f.leaky {
		unauthenticated = status.Errorf(codes.Unauthenticated, "token %s is not accepted", token)
	}
	vs, tokenMissing := violations(req)
	if tokenMissing {
		return nil, unauthenticated
	}
	if len(vs) > 0 {
		var msg []string
		for _, v := range vs {
			if f.leaky {
				v.SetMessage(v.GetMessage() + " (token " + token + ")")
			}
			msg = append(msg, v.GetField().GetElements()[0].GetFieldName()+": "+v.GetMessage())
		}
		st, err := status.New(codes.InvalidArgument, msgInvalid+strings.Join(msg, "; ")).
			WithDetails(validate.Violations_builder{Violations: vs}.Build())
		if err != nil {
			return nil, err
		}
		return nil, st.Err()
	}
	if token != "valid-token" {
		return nil, unauthenticated
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
	case "nobody-home":
		// An OK response whose fields are all empty.
		return &userv1.GetUserDetailsResponse{}, nil
	}
	return nil, status.Error(codes.NotFound, msgNotFound)
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
