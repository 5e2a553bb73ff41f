package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/acme/user-service/services/user-server/internal/cfgfile"
	"github.com/acme/user-service/services/user-server/internal/config"
	"github.com/acme/user-service/services/user-server/internal/directory"
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
	res, err := importFile(ctx, cmd)
	if err != nil {
		return fmt.Errorf("import: %w (nothing written)", err)
	}
	fmt.Fprintf(stdout, "imported %s: %d users read, %d inserted or changed\n", cmd.UsersFile, res.Read, res.Changed)
	return nil
}

// importFile streams the users file into the database: neither the file
// nor the users are held in memory, so its size is not bounded. A user the
// database refuses is reported at its FILE:LINE:COL like the file's own
// errors (found by scanning the file again up to it).
func importFile(ctx context.Context, cmd config.Command) (postgres.ImportResult, error) {
	scan := func(f func(file.Entry) error) error {
		r, _, err := cfgfile.Open(cmd.UsersFile)
		if err != nil {
			return fmt.Errorf("users file: %w", err)
		}
		defer r.Close()
		return file.Scan(ctx, cmd.UsersFile, bufio.NewReaderSize(r, 1<<20), f)
	}
	errStop := errors.New("stop")
	users := func(yield func(directory.User, error) bool) {
		err := scan(func(e file.Entry) error {
			if !yield(e.User, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(directory.User{}, err)
		}
	}
	res, err := postgres.Import(ctx, cmd.DatabaseURL, timeouts(cmd), users)
	var rej *postgres.RejectedError
	if !errors.As(err, &rej) {
		return res, err
	}
	where := fmt.Sprintf("%s: users[%d]", cmd.UsersFile, rej.Index)
	_ = scan(func(e file.Entry) error {
		if e.Index == rej.Index {
			where = e.Where(cmd.UsersFile)
			return errStop
		}
		return nil
	})
	return res, fmt.Errorf("%s: %w", where, rej)
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
