package config

import (
	"fmt"
	"math"
	"time"
)

// DatabaseURLEnv holds the libpq URL of the user directory's database, for
// the server and for its migrate and import subcommands.
const DatabaseURLEnv = EnvPrefix + "DATABASE_URL"

// Database configures the user directory in PostgreSQL. An empty URL means
// the in-memory directory (embedded or --users).
type Database struct {
	URL              string
	CacheSize        int
	PoolSize         int
	StatementTimeout time.Duration
}

// Defaults, kept equal to internal/directory/postgres's (not imported here,
// so the flag package stays free of pgx).
const (
	defaultCacheSize = 100_000
	defaultPoolSize  = 8
)

func (d *Database) addFlags(flags *flagSet) {
	fs := flags.fs
	fs.StringVar(&d.URL, "database-url", "", databaseURLUsage+" shared by replicas (postgres://user@host:5432/db); default: the in-memory directory. prepare it with user-server migrate and user-server import; a password is better kept in the environment than on the command line")
	fs.IntVar(&d.CacheSize, "database-cache-size", defaultCacheSize, "with --database-url: users (found or not) kept in this replica's cache")
	fs.IntVar(&d.PoolSize, "database-pool-size", defaultPoolSize, "with --database-url: connections for lookups")
	fs.DurationVar(&d.StatementTimeout, "database-statement-timeout", 2*time.Second, "with --database-url: server-side limit on a lookup query (statement_timeout); 0 leaves the database's; the RPC's deadline bounds it in any case")
	// Names before the database flags shared their prefix.
	flags.renamedFrom("database-cache-size", "cache-size")
	flags.renamedFrom("database-pool-size", "db-pool-size")
	flags.renamedFrom("database-statement-timeout", "db-statement-timeout")
}

// databaseURLUsage starts --database-url's usage in every command.
const databaseURLUsage = "libpq `URL` of a PostgreSQL user directory"

func (d *Database) check(usersFile string) error {
	if d.URL != "" && usersFile != "" {
		return fmt.Errorf("--users and --database-url exclude each other (load a file into the database with user-server import)")
	}
	if d.CacheSize <= 0 {
		return fmt.Errorf("--database-cache-size must be positive, got %d", d.CacheSize)
	}
	if d.PoolSize <= 0 || d.PoolSize > math.MaxInt32 {
		return fmt.Errorf("--database-pool-size must be positive, got %d", d.PoolSize)
	}
	if d.StatementTimeout < 0 {
		return fmt.Errorf("--database-statement-timeout must not be negative, got %v", d.StatementTimeout)
	}
	return nil
}
