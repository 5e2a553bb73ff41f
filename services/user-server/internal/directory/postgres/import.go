package postgres

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"regexp"
	"strconv"

	"github.com/acme/user-service/services/user-server/internal/directory"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ImportResult counts what Import changed.
type ImportResult struct {
	Read    int // users in the file
	Changed int // rows inserted or updated; identical rows are left alone
}

// RejectedError is the database's refusal of one user of an import (a
// constraint the file's own checks did not catch, an id given twice).
type RejectedError struct {
	Index int // of the user in the order given, from 0
	Err   *pgconn.PgError
}

func (e *RejectedError) Error() string {
	msg := e.Err.Message
	if e.Err.Detail != "" {
		msg += " (" + e.Err.Detail + ")"
	}
	return "the database rejected it: " + msg
}

func (e *RejectedError) Unwrap() error { return e.Err }

// copyLine finds the row of a COPY error: "COPY import_users, line 3".
var copyLine = regexp.MustCompile(`^COPY import_users, line (\d+)`)

// Import upserts users into the database at url in one transaction: all of
// them or, on any error, none. users is read once, streamed into the
// database as it is read, so memory does not depend on how many there are;
// an error it yields ends the import. A user the database refuses is
// reported as a *RejectedError naming its position in users.
func Import(ctx context.Context, url string, t Timeouts, users iter.Seq2[directory.User, error]) (ImportResult, error) {
	var res ImportResult
	conn, err := connect(ctx, url, t)
	if err != nil {
		return res, err
	}
	defer closeConn(ctx, conn)
	if v, err := appliedVersion(ctx, conn); err != nil {
		return res, fmt.Errorf("reading the schema version: %w", err)
	} else if v < SchemaVersion() {
		return res, fmt.Errorf("database schema is at version %d, this binary needs %d: run user-server migrate first", v, SchemaVersion())
	}
	next, stop := iter.Pull2(users)
	defer stop()
	var srcErr error // an error of users, not of the database
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// COPY into a scratch table with the table's constraints and key
		// (so a bad or repeated user fails there, at its row), then one
		// upsert: a million users take seconds, not a million round trips.
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE import_users
			(LIKE users INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES) ON COMMIT DROP`); err != nil {
			return err
		}
		rows := pgx.CopyFromFunc(func() ([]any, error) {
			u, err, ok := next()
			if !ok {
				return nil, nil
			}
			if err != nil {
				srcErr = err
				return nil, err
			}
			return []any{u.ID, u.Name, u.Email}, nil
		})
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"import_users"}, []string{"id", "name", "email"}, rows)
		res.Read = int(n)
		if err != nil {
			if srcErr != nil {
				return srcErr
			}
			var pe *pgconn.PgError
			if errors.As(err, &pe) {
				if m := copyLine.FindStringSubmatch(pe.Where); m != nil {
					line, _ := strconv.Atoi(m[1])
					return &RejectedError{Index: line - 1, Err: pe}
				}
			}
			return fmt.Errorf("copying: %w", err)
		}
		if n == 0 {
			return errors.New("no users")
		}
		// Unchanged rows are not rewritten, so they notify no replica.
		tag, err := tx.Exec(ctx, `INSERT INTO users (id, name, email)
			SELECT id, name, email FROM import_users
			ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, updated_at = now()
			WHERE (users.name, users.email) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.email)`)
		if err != nil {
			return fmt.Errorf("upserting: %w", err)
		}
		res.Changed = int(tag.RowsAffected())
		return nil
	})
	if err != nil {
		if srcErr != nil {
			return ImportResult{}, srcErr
		}
		return ImportResult{}, fmt.Errorf("import (nothing written): %w", err)
	}
	return res, nil
}

// Slice yields users, for Import.
func Slice(users []directory.User) iter.Seq2[directory.User, error] {
	return func(yield func(directory.User, error) bool) {
		for _, u := range users {
			if !yield(u, nil) {
				return
			}
		}
	}
}
