package server

import (
	"context"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-server/internal/userstore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Directory looks users up by id. *userstore.Store implements it; tests use
// a second implementation to make the handler panic.
type Directory interface {
	Lookup(id string) (userstore.User, bool)
}

// statusSuccess is the walkthrough's status field on every OK response.
const statusSuccess = "Success"

var errNotFound = status.Error(codes.NotFound, "user not found")

// userService implements user.v1.UserService. Requests reach it validated
// and authenticated by the interceptor chain.
type userService struct {
	userv1.UnimplementedUserServiceServer
	users Directory
}

func (s *userService) GetUserDetails(_ context.Context, req *userv1.GetUserDetailsRequest) (*userv1.GetUserDetailsResponse, error) {
	u, ok := s.users.Lookup(req.GetUserId())
	if !ok {
		// The id is not echoed: the message stays small and log-safe
		// whatever the caller sent.
		return nil, errNotFound
	}
	return &userv1.GetUserDetailsResponse{Name: u.Name, Email: u.Email, Status: statusSuccess}, nil
}
