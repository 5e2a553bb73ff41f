// Package reference holds the walkthrough's reference call, which the
// harnesses make against a server before loading it.
package reference

import (
	"context"
	"fmt"
	"time"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// UserID is the walkthrough's user.
const UserID = "john123"

// Response is the walkthrough's reference reply for UserID.
var Response = &userv1.GetUserDetailsResponse{Name: "John Doe", Email: "john123@example.com", Status: "Success"}

// Check makes the reference call with token and fails unless the reply is
// exactly Response.
func Check(ctx context.Context, conn grpc.ClientConnInterface, token string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := userv1.NewUserServiceClient(conn).GetUserDetails(ctx, &userv1.GetUserDetailsRequest{UserId: UserID, AuthToken: token})
	if err != nil {
		return fmt.Errorf("reference call: %w", err)
	}
	if !proto.Equal(resp, Response) {
		return fmt.Errorf("reference call returned %v, want %v", resp, Response)
	}
	return nil
}
