// Command generate regenerates the generated code under gen/ with
// `buf generate`, so that a failed generation leaves gen/ exactly as it was.
//
// buf writes into a temporary directory (`buf generate -o DIR` prefixes the
// template's out directories with DIR). Only when buf succeeds are the new
// files copied into place and the generated files buf no longer produces
// (their proto was deleted or renamed) removed. Which files are generated
// is decided by one list, generated: everything else in gen/ (go.mod,
// go.sum, tools.go, package.json...) is hand-written and never touched.
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
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "generate: %v\n", err)
		os.Exit(1)
	}
}
