// Command flagdoc writes the flag reference, docs/flags.md, from each
// binary's own --help: the server's and the client's help are written from
// their flag definitions, so the reference cannot say what the code does
// not. `make generate` runs it on freshly built binaries and `make
// check-generated` fails when the committed file differs.
//
//	flagdoc -bin DIR -o FILE 'user-server' 'user-server migrate' 'user-client'
//
// Each argument is a command line without --help: its first word is a
// binary in DIR. Each runs with an empty environment, so no variable of
// the machine's can show up as a default.
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
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "flagdoc: %v\n", err)
		os.Exit(1)
	}
}
