package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/acme/user-service/services/user-server/internal/config"
	"github.com/acme/user-service/services/user-server/internal/directory/file"
	"github.com/acme/user-service/services/user-server/internal/directory/postgres"
)

// subcommand runs `user-server migrate` or `user-server import`; ok is
// false when args name neither, so the server runs.
func subcommand(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) (ok bool, err error) {
	if len(args) == 0 || (args[0] != "migrate" && args[0] != "import") {
		return false, nil
	}
	return true, oneLine(databaseCommand(ctx, args, getenv, stdout))
}

// oneLine joins a multi-line error (pgx lists every address it tried, one
// per line) into the one line a command prints.
func oneLine(err error) error {
	if err == nil || !strings.Contains(err.Error(), "\n") {
		return err
	}
	return errors.New(strings.Join(strings.Fields(err.Error()), " "))
}

func databaseCommand(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	name := args[0]
	fs := flag.NewFlagSet("user-server "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	url := fs.String("database-url", getenv(config.DatabaseURLEnv), "libpq `URL` of the user directory's database (env "+config.DatabaseURLEnv+")")
	var usersFile *string
	if name == "import" {
		usersFile = fs.String("users", getenv(config.EnvName("users")), "users JSON `file` to upsert, in one transaction (env "+config.EnvName("users")+")")
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "Usage: user-server %s [flags]\n\nFlags:\n", name)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil
		}
		return fmt.Errorf("%s: %v (see user-server %s --help)", name, err, name)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", name, fs.Arg(0))
	}
	if *url == "" {
		return fmt.Errorf("%s: --database-url or %s is required", name, config.DatabaseURLEnv)
	}
	if name == "migrate" {
		applied, err := postgres.Migrate(ctx, *url)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		fmt.Fprintf(stdout, "schema at version %d; applied %d migration(s)%s\n", postgres.SchemaVersion(), len(applied), strings.Join(append([]string{""}, applied...), " "))
		return nil
	}
	if *usersFile == "" {
		return errors.New("import: --users FILE is required")
	}
	users, err := file.Load(ctx, *usersFile)
	if err != nil {
		return fmt.Errorf("import: %w (nothing written)", err)
	}
	res, err := postgres.Import(ctx, *url, users.All())
	if err != nil {
		return fmt.Errorf("import %s: %w", *usersFile, err)
	}
	fmt.Fprintf(stdout, "imported %s: %d users read, %d inserted or changed\n", *usersFile, res.Read, res.Changed)
	return nil
}
