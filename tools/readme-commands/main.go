// Command readme-commands runs the commands the READMEs tell a reader to
// type, as written, and fails when one does not do what the README says.
//
//	readme-commands [-C DIR] README...
//
// A fenced code block is checked when an HTML comment marks it, on the line
// before its opening fence:
//
//	<!-- checked: readme-commands -->                    commands
//	<!-- checked: readme-commands needs=user-server -->  commands run against a user-server
//	<!-- checked: readme-output -->                      output
//
// A command block runs as one bash script (set -e -o pipefail) from its
// README's directory, so cd and export carry from line to line; every
// command must exit 0, or N when its trailing comment ends with "(exit N)",
// the README's convention for a call that fails on purpose. With
// needs=user-server the check first starts user-server as the README says
// (no flags), but on a free loopback port, and points the commands at it
// with USER_CLIENT_ADDR. An output block must appear in what the command
// block before it printed on stdout.
//
// READMEs run in the order given, each block in file order, stopping at the
// first failure; a README may be given more than once. The commands run
// without the caller's make variables and with DEMO_ADDR=127.0.0.1:0 (unless
// set), so `make demo` serves on a free port rather than 127.0.0.1:50051.
// A README given with no marked block is an error.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "readme-commands: %v\n", err)
		os.Exit(1)
	}
}
