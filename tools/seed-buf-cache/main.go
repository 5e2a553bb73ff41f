// Command seed-buf-cache fills buf's module cache with the dependencies
// pinned in buf.lock, without the Buf Schema Registry.
//
// For each buf.lock entry it fetches the module's files from the Go module
// proxy (see sources.go), checks that they hash to the digest recorded in
// buf.lock, and writes them where buf looks for cached modules. It then runs
// the pinned buf against the workspace so that buf itself confirms it can
// build from the seeded cache.
//
// The cache layout is a buf internal detail (measured with buf v1.75.0): if
// a future buf reads it differently, the final buf check fails loudly.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintf(os.Stderr, "seed-buf-cache: %v\n", err)
		}
		os.Exit(1)
	}
}
