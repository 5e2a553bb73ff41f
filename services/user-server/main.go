// Command user-server serves user.v1.UserService.
package main

import (
	"fmt"
	"os"

	userv1 "github.com/acme/user-service/gen/user/v1"
	"google.golang.org/grpc"
)

func main() {
	s := grpc.NewServer()
	userv1.RegisterUserServiceServer(s, userv1.UnimplementedUserServiceServer{})
	fmt.Fprintln(os.Stderr, "user-server: not implemented yet")
	os.Exit(1)
}
