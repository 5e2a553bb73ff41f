// Package bareserver is the ceiling the load benchmark compares the real
// user-server against: the same user.v1 contract and the same handler logic
// (a map lookup and a constant-time token compare) on a plain grpc.Server,
// with no interceptors, no validation, no logging, no health, no reflection.
package bareserver

import (
	"context"
	"crypto/subtle"
	"sync/atomic"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type user struct{ name, email string }

// Service implements user.v1.UserService with the walkthrough's one user.
type Service struct {
	userv1.UnimplementedUserServiceServer
	token []byte
	users map[string]user
	// errors counts non-OK replies, so a benchmark run can report
	// server-side errors; it is touched only on the error paths, never on
	// the OK path being measured.
	errors atomic.Int64
}

// New returns a Service that accepts exactly token.
func New(token string) *Service {
	return &Service{
		token: []byte(token),
		users: map[string]user{"john123": {name: "John Doe", email: "john123@example.com"}},
	}
}

// Errors reports how many RPCs this Service answered with a non-OK status.
func (s *Service) Errors() int64 { return s.errors.Load() }

// GetUserDetails authenticates the caller and looks the user up.
func (s *Service) GetUserDetails(_ context.Context, req *userv1.GetUserDetailsRequest) (*userv1.GetUserDetailsResponse, error) {
	if subtle.ConstantTimeCompare([]byte(req.GetAuthToken()), s.token) != 1 {
		s.errors.Add(1)
		return nil, status.Error(codes.Unauthenticated, "invalid auth token")
	}
	u, ok := s.users[req.GetUserId()]
	if !ok {
		s.errors.Add(1)
		return nil, status.Error(codes.NotFound, "user not found")
	}
	return &userv1.GetUserDetailsResponse{Name: u.name, Email: u.email, Status: "Success"}, nil
}
