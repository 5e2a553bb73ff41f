package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/acme/user-service/services/user-server/internal/config"
	"github.com/acme/user-service/services/user-server/internal/directory/file"
	"github.com/acme/user-service/services/user-server/internal/directory/postgres"
)

// subcommand runs `user-server migrate` or `user-server import`; ok is
// false when args name neither, so the server runs.
func subcommand(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) (ok bool, err error) {
	if len(args) == 0 || !slices.Contains(config.Commands, args[0]) {
		return false, nil
	}
	cmd, err := config.ParseCommand(args, getenv, stdout)
	if errors.Is(err, config.ErrHelp) {
		return true, nil
	}
	if err != nil {
		return true, err
	}
	return true, oneLine(runCommand(ctx, cmd, stdout))
}

// oneLine joins a multi-line error (pgx lists every address it tried, one
// per line) into the one line a command prints.
func oneLine(err error) error {
	if err == nil || !strings.Contains(err.Error(), "\n") {
		return err
	}
	return errors.New(strings.Join(strings.Fields(err.Error()), " "))
}

// runCommand runs a parsed subcommand.
func runCommand(ctx context.Context, cmd config.Command, stdout io.Writer) error {
	if cmd.Name == "migrate" {
		applied, err := postgres.Migrate(ctx, cmd.DatabaseURL, timeouts(cmd))
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		fmt.Fprintf(stdout, "schema at version %d; applied %d migration(s)%s\n", postgres.SchemaVersion(), len(applied), strings.Join(append([]string{""}, applied...), " "))
		return nil
	}
	users, err := file.Load(ctx, cmd.UsersFile)
	if err != nil {
		return fmt.Errorf("import: %w (nothing written)", err)
	}
	res, err := postgres.Import(ctx, cmd.DatabaseURL, timeouts(cmd), users.All())
	if err != nil {
		return fmt.Errorf("import %s: %w", cmd.UsersFile, err)
	}
	fmt.Fprintf(stdout, "imported %s: %d users read, %d inserted or changed\n", cmd.UsersFile, res.Read, res.Changed)
	return nil
}

// timeouts maps the command's flags to the directory's: a zero statement
// timeout (leave the database's) is negative there.
func timeouts(cmd config.Command) postgres.Timeouts {
	t := postgres.Timeouts{Connect: cmd.ConnectTimeout, Statement: cmd.StatementTimeout}
	if t.Statement == 0 {
		t.Statement = -1
	}
	return t
}
