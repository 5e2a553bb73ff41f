package server

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-server/internal/auth"
	"github.com/acme/user-service/services/user-server/internal/directory"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// failingDirectory answers every lookup with err, after waiting for the
// RPC's context to end when wait is set.
type failingDirectory struct {
	directory.Directory // nil: the service only looks users up
	err                 error
	wait                bool
}

func (d failingDirectory) Lookup(ctx context.Context, _ string) (directory.User, error) {
	if d.wait {
		<-ctx.Done()
		return directory.User{}, fmt.Errorf("query: %w", ctx.Err())
	}
	return directory.User{}, d.err
}

func TestLookupErrorCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		dir   failingDirectory
		want  codes.Code
		level string // of the access line; "" unchecked
	}{
		{"not found", failingDirectory{err: fmt.Errorf("wrapped: %w", directory.ErrNotFound)}, codes.NotFound, "WARN"},
		{"query failed", failingDirectory{err: errors.New("dial tcp: connection refused")}, codes.Unavailable, "ERROR"},
		// An outage the directory has reported itself: the same status,
		// but not a fault of its own.
		{"database down", failingDirectory{err: fmt.Errorf("%w: dial tcp: connection refused", directory.ErrOutage)}, codes.Unavailable, "WARN"},
		{"query timeout", failingDirectory{err: fmt.Errorf("statement timeout: %w", context.DeadlineExceeded)}, codes.DeadlineExceeded, "WARN"},
		// The server may see the deadline or the client's reset first.
		{"rpc deadline", failingDirectory{wait: true}, codes.DeadlineExceeded, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := start(t, func(c *Config) { c.Users = tt.dir })
			ctx := t.Context()
			if tt.dir.wait { // only this case needs a deadline to pass
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
				defer cancel()
			}
			_, err := ts.client.GetUserDetails(ctx, &userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: auth.DevToken})
			if got := status.Code(err); got != tt.want {
				t.Fatalf("code = %v (%v), want %v", got, err, tt.want)
			}
			if got := status.Convert(err).Message(); tt.want == codes.Unavailable && got != "user directory unavailable, retry later" {
				t.Errorf("message = %q", got)
			}
			if tt.level == "" {
				return
			}
			ts.logs.waitAccessLines(t, 1)
			for _, l := range ts.logs.lines(t) {
				if l["msg"] == "rpc" && (l["code"] != tt.want.String() || l["level"] != tt.level) {
					t.Errorf("access line %v, want code %v at %s", l, tt.want, tt.level)
				}
			}
		})
	}
}

func TestSetServing(t *testing.T) {
	t.Parallel()
	ts := start(t)
	hc := healthpb.NewHealthClient(ts.conn)
	check := func(want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		for _, svc := range []string{"", userv1.UserService_ServiceDesc.ServiceName} {
			resp, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{Service: svc})
			if err != nil || resp.GetStatus() != want {
				t.Fatalf("health(%q) = %v, %v; want %v", svc, resp.GetStatus(), err, want)
			}
		}
	}
	check(healthpb.HealthCheckResponse_SERVING)
	ts.srv.SetServing(false)
	check(healthpb.HealthCheckResponse_NOT_SERVING)
	ts.srv.SetServing(true)
	check(healthpb.HealthCheckResponse_SERVING)
}
