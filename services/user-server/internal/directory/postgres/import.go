package postgres

import (
	"context"
	"fmt"

	"github.com/acme/user-service/services/user-server/internal/directory"
	"github.com/jackc/pgx/v5"
)

// ImportResult counts what Import changed.
type ImportResult struct {
	Read    int // users in the file
	Changed int // rows inserted or updated; identical rows are left alone
}

// Import upserts users into the database at url in one transaction: all of
// them or, on any error, none. The users come from file.Load, so a
// file with an invalid entry never gets here (its error names the file,
// line and entry); the table's constraints stand behind that.
func Import(ctx context.Context, url string, t Timeouts, users []directory.User) (ImportResult, error) {
	res := ImportResult{Read: len(users)}
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
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// COPY into a scratch table, then one upsert: a million users take
		// seconds, not a million round trips.
		if _, err := tx.Exec(ctx, "CREATE TEMP TABLE import_users (id text, name text, email text) ON COMMIT DROP"); err != nil {
			return err
		}
		rows := pgx.CopyFromSlice(len(users), func(i int) ([]any, error) {
			return []any{users[i].ID, users[i].Name, users[i].Email}, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_users"}, []string{"id", "name", "email"}, rows); err != nil {
			return fmt.Errorf("copying: %w", err)
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
		return ImportResult{Read: len(users)}, fmt.Errorf("import (nothing written): %w", err)
	}
	return res, nil
}
