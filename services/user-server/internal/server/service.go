package server

import (
	"context"
	"errors"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-server/internal/directory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// statusSuccess is the walkthrough's status field on every OK response.
const statusSuccess = "Success"

var (
	errNotFound    = status.Error(codes.NotFound, "user not found")
	errUnavailable = status.Error(codes.Unavailable, "user directory unavailable, retry later")
	// errOutage is errUnavailable, to the caller, for a lookup failed by
	// an outage the directory has reported itself (directory.ErrOutage):
	// the access log writes it at WARN, sampled, not as a new fault.
	errOutage error = &outage{status.Convert(errUnavailable)}
)

// outage is errOutage's type: a status grpc-go sends as it is, and that the
// access log can tell from any other UNAVAILABLE.
type outage struct{ st *status.Status }

func (e *outage) Error() string              { return e.st.Err().Error() }
func (e *outage) GRPCStatus() *status.Status { return e.st }

// userService implements user.v1.UserService. Requests reach it validated
// and authenticated by the interceptor chain.
type userService struct {
	userv1.UnimplementedUserServiceServer
	users directory.Directory
}

func (s *userService) GetUserDetails(ctx context.Context, req *userv1.GetUserDetailsRequest) (*userv1.GetUserDetailsResponse, error) {
	u, err := s.users.Lookup(ctx, req.GetUserId())
	if err != nil {
		return nil, lookupStatus(ctx, err)
	}
	return &userv1.GetUserDetailsResponse{Name: u.Name, Email: u.Email, Status: statusSuccess}, nil
}

// lookupStatus maps a failed lookup to its status. Only the directory's own
// "no such user" is NOT_FOUND: a user is not missing because the database
// is unreachable or the RPC ran out of time.
func lookupStatus(ctx context.Context, err error) error {
	if errors.Is(err, directory.ErrNotFound) {
		// The id is not echoed: the message stays small and log-safe
		// whatever the caller sent.
		return errNotFound
	}
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return status.Error(codes.DeadlineExceeded, "user directory query timed out")
	}
	if errors.Is(err, directory.ErrOutage) {
		return errOutage
	}
	return errUnavailable
}
