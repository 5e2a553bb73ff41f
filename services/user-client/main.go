// Command user-client calls user.v1.UserService.
package main

import (
	"fmt"
	"os"

	userv1 "github.com/acme/user-service/gen/user/v1"
)

func main() {
	_ = userv1.NewUserServiceClient
	fmt.Fprintln(os.Stderr, "user-client: not implemented yet")
	os.Exit(1)
}
