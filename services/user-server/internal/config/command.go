package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"
)

// Commands are the server's subcommands, which prepare and fill a
// PostgreSQL directory: `user-server migrate`, `user-server import`.
var Commands = []string{"migrate", "import"}

// Command is a parsed subcommand.
type Command struct {
	Name        string // migrate or import
	DatabaseURL string
	// UsersFile is import's users JSON file.
	UsersFile string
	// ConnectTimeout bounds connecting to the database (as the server's
	// does); StatementTimeout each statement (statement_timeout, 0 leaves
	// the database's).
	ConnectTimeout, StatementTimeout time.Duration
}

// Defaults of the commands' timeouts, kept equal to
// internal/directory/postgres's (not imported here, so the flag package
// stays free of pgx).
const (
	defaultConnectTimeout          = 5 * time.Second
	defaultCommandStatementTimeout = 10 * time.Minute
)

// ParseCommand parses the subcommand args[0] (one of Commands) and its
// flags, with environment fallbacks as for the server. --help writes the
// usage to stdout and returns ErrHelp. Errors start with the command's name.
func ParseCommand(args []string, getenv func(string) string, stdout io.Writer) (Command, error) {
	c := Command{Name: args[0]}
	flags := newFlagSet("user-server " + c.Name)
	flags.help = "user-server " + c.Name + " --help"
	flags.fs.StringVar(&c.DatabaseURL, "database-url", "", databaseURLUsage)
	flags.fs.DurationVar(&c.ConnectTimeout, "database-connect-timeout", defaultConnectTimeout, "give up connecting to the database after this (a connect_timeout in the URL wins)")
	flags.fs.DurationVar(&c.StatementTimeout, "database-statement-timeout", defaultCommandStatementTimeout, "server-side limit on each statement (statement_timeout), so a held lock cannot make the command wait forever; 0 leaves the database's")
	if c.Name == "import" {
		flags.fs.StringVar(&c.UsersFile, "users", "", "users JSON `file` to upsert, in one transaction")
	}
	// The variable is read only after parsing, so --help never shows its
	// value (a URL may hold a password).
	_, err := flags.parse(args[1:], getenv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stdout, "Usage: user-server %s [flags]\n\nFlags:\n", c.Name)
		flags.printDefaults(stdout)
		return Command{}, ErrHelp
	}
	if err != nil {
		return Command{}, fmt.Errorf("%s: %v", c.Name, err)
	}
	if c.DatabaseURL == "" {
		return Command{}, fmt.Errorf("%s: --database-url or %s is required", c.Name, DatabaseURLEnv)
	}
	if c.ConnectTimeout <= 0 {
		return Command{}, fmt.Errorf("%s: --database-connect-timeout must be positive, got %v", c.Name, c.ConnectTimeout)
	}
	if c.StatementTimeout < 0 {
		return Command{}, fmt.Errorf("%s: --database-statement-timeout must not be negative, got %v", c.Name, c.StatementTimeout)
	}
	if c.Name == "import" && c.UsersFile == "" {
		return Command{}, errors.New("import: --users FILE is required")
	}
	return c, nil
}
