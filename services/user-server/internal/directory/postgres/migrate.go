package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The schema is versioned SQL in migrations/NNNN_name.sql, embedded in the
// binary. Migrate is a small runner of its own rather than a library: the
// schema is one table and its trigger, and the runner's whole contract is
// four lines — hold an advisory lock, read the applied versions, apply each
// newer file in its own transaction together with its version row, release.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrateLockKey is the pg_advisory_lock key serialising migrations of
// every replica ("user-srv" in ASCII).
const migrateLockKey int64 = 0x757365722d737276

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) { return readMigrations(migrationFiles) }

// readMigrations reads fsys's migrations/ (a parameter so that tests can
// give it sets of files the binary does not hold).
func readMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", out[i-1].name, out[i].name, out[i].version)
		}
	}
	return out, nil
}

// SchemaVersion is the newest migration embedded in this binary: the
// version a server needs before it serves from the database.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0 // caught by TestMigrationsWellFormed
	}
	return ms[len(ms)-1].version
}

// Migrate brings the database at url to SchemaVersion and returns the
// migrations it applied (none when it already was). Replicas may run it
// at the same time: an advisory lock lets one apply while the others wait,
// then find nothing left to do.
func Migrate(ctx context.Context, url string, t Timeouts) (applied []string, err error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	conn, err := connect(ctx, url, t)
	if err != nil {
		return nil, err
	}
	defer closeConn(ctx, conn)
	if err := checkEncoding(ctx, conn); err != nil {
		return nil, err
	}
	// A session lock, released explicitly or when the connection closes
	// (even if this process dies).
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
		return nil, fmt.Errorf("taking the migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockKey) //nolint:errcheck // closing the connection releases it too
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY,
		name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("creating schema_migrations: %w", err)
	}
	var current int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return nil, fmt.Errorf("reading the schema version: %w", err)
	}
	for _, m := range ms {
		if m.version <= current {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.name, err)
		}
		applied = append(applied, m.name)
	}
	return applied, nil
}

// appliedVersion returns the database's schema version; 0 when it was
// never migrated.
func appliedVersion(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int, error) {
	var exists bool
	if err := q.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil || !exists {
		return 0, err
	}
	var v int
	err := q.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}

// checkEncoding refuses a database that is not UTF-8: in SQL_ASCII any
// bytes pass the table's checks (and char_length counts bytes), so the
// table could hold a user the API cannot return.
func checkEncoding(ctx context.Context, conn *pgx.Conn) error {
	var enc string
	if err := conn.QueryRow(ctx, "SHOW server_encoding").Scan(&enc); err != nil {
		return fmt.Errorf("reading the database's encoding: %w", err)
	}
	if enc != "UTF8" {
		return fmt.Errorf("the database's encoding is %s, the user directory needs UTF8: create it with CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0", enc)
	}
	return nil
}
