// Command user-client calls user.v1.UserService; see `user-client --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/acme/user-service/services/user-client/internal/exitcode"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitcode.For(err))
}
