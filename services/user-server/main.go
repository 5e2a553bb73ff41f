// Command user-server serves user.v1.UserService over gRPC.
//
// Run it with --help for its flags and their environment variables.
package main

import (
	"context"
	"fmt"
	"os"
	"syscall"

	"github.com/acme/user-service/services/user-server/internal/signals"
)

func main() {
	// The first signal drains gracefully, a second stops at once.
	ctx, stop := signals.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "user-server: %v\n", err)
		os.Exit(1)
	}
}
