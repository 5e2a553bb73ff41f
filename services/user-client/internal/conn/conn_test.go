package conn_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-client/internal/conn"
)

// flaky fails the first `failures` calls with the given code.
type flaky struct {
	userv1.UnimplementedUserServiceServer
	failures int64
	code     codes.Code
	calls    atomic.Int64
}

func (f *flaky) GetUserDetails(context.Context, *userv1.GetUserDetailsRequest) (*userv1.GetUserDetailsResponse, error) {
	if f.calls.Add(1) <= f.failures {
		return nil, status.Error(f.code, "not now")
	}
	return &userv1.GetUserDetailsResponse{Status: "Success"}, nil
}

func serve(t *testing.T, impl userv1.UserServiceServer) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	userv1.RegisterUserServiceServer(s, impl)
	go func() { _ = s.Serve(lis) }() // returns when Cleanup stops s
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		failures  int64
		code      codes.Code
		wantCode  codes.Code
		wantCalls int64
	}{
		{"unavailable then ok", 2, codes.Unavailable, codes.OK, 3},
		{"unavailable is retried at most 4 times", 100, codes.Unavailable, codes.Unavailable, 4},
		{"other codes are not retried", 100, codes.NotFound, codes.NotFound, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &flaky{failures: tt.failures, code: tt.code}
			cc, err := conn.New([]string{serve(t, f)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			_, err = userv1.NewUserServiceClient(cc).GetUserDetails(t.Context(), &userv1.GetUserDetailsRequest{})
			if got := status.Code(err); got != tt.wantCode {
				t.Errorf("code %v, want %v (%v)", got, tt.wantCode, err)
			}
			if got := f.calls.Load(); got != tt.wantCalls {
				t.Errorf("server saw %d attempts, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestNewRejectsNoAddress(t *testing.T) {
	t.Parallel()
	if _, err := conn.New(nil, nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}

func TestKeepaliveWithinServerPolicy(t *testing.T) {
	t.Parallel()
	// user-server (like most servers) sends away a client that pings more
	// often than every 10s, and the client must not ping idle connections.
	if conn.Keepalive.Time < 10*time.Second || conn.Keepalive.PermitWithoutStream {
		t.Errorf("keepalive %+v: pings more often than every 10s, or without calls", conn.Keepalive)
	}
	// A dead peer is noticed: an unanswered ping closes the connection.
	if conn.Keepalive.Timeout <= 0 || conn.Keepalive.Timeout > conn.Keepalive.Time {
		t.Errorf("keepalive timeout %v: want positive, at most the interval %v", conn.Keepalive.Timeout, conn.Keepalive.Time)
	}
}
