// Command check-versions builds each named service module twice, in the
// workspace (go.work) and standalone (GOWORK=off), and fails unless both
// binaries link exactly the same module versions.
//
// Both builds set GOWORK themselves, whatever the caller's environment says:
// the workspace build uses the go.work given by -work (default: the one found
// above the first module directory, as go would without GOWORK), the
// standalone build GOWORK=off. Inheriting GOWORK=off (as the Makefile runs
// the tools module) would otherwise make both builds standalone.
//
// The workspace adds the other modules' requirements to every module's
// build list; this check keeps that from silently changing what a service
// links (for example a tools or test dependency raising a shared module).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Environ(), os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "check-versions: %v\n", err)
		os.Exit(1)
	}
}
