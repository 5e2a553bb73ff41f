package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acme/user-service/services/user-server/internal/auth"
	"github.com/acme/user-service/services/user-server/internal/config"
	"github.com/acme/user-service/services/user-server/internal/directory"
	"github.com/acme/user-service/services/user-server/internal/directory/postgres"
	"github.com/acme/user-service/services/user-server/internal/server"
	"github.com/acme/user-service/services/user-server/internal/telemetry"
	"github.com/acme/user-service/services/user-server/internal/userstore"
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
	users, err := userstore.Load(ctx, *usersFile)
	if err != nil {
		return fmt.Errorf("import: %w (nothing written)", err)
	}
	res, err := postgres.Import(ctx, *url, users.Users())
	if err != nil {
		return fmt.Errorf("import %s: %w", *usersFile, err)
	}
	fmt.Fprintf(stdout, "imported %s: %d users read, %d inserted or changed\n", *usersFile, res.Read, res.Changed)
	return nil
}

// liveDirectory is the server's directory and how it follows changes:
// a database store, or an in-memory one that SIGHUP reloads.
type liveDirectory struct {
	dir    server.Directory
	memory *directory.Memory // nil with a database
	store  *postgres.Store   // nil without
	health healthLink

	lastCount atomic.Int64 // the table's last user count (UserCount)
}

// openDirectory opens the configured directory. users is the in-memory
// directory already loaded (ignored with --database-url).
func openDirectory(cfg config.Config, users *userstore.Store, log *slog.Logger) (*liveDirectory, error) {
	d := &liveDirectory{}
	if cfg.Database.URL == "" {
		d.memory = directory.NewMemory(users)
		d.dir = d.memory
		d.health.up = true
		return d, nil
	}
	store, err := postgres.Open(postgres.Config{
		URL:              cfg.Database.URL,
		CacheSize:        cfg.Database.CacheSize,
		PoolSize:         int32(cfg.Database.PoolSize),
		StatementTimeout: cfg.Database.StatementTimeout,
		Logger:           log,
		OnStateChange:    d.health.set,
	})
	if err != nil {
		return nil, err
	}
	d.store, d.dir = store, store
	return d, nil
}

// telemetrySources feeds the directory's metrics: its user count, and with
// a database the cache's counters. Both are read at scrape time.
func (d *liveDirectory) telemetrySources() telemetry.Sources {
	src := telemetry.Sources{Users: d, Requests: server.ValidatedRequests}
	if d.store != nil {
		src.Cache = telemetry.CacheStatsFunc(func() telemetry.CacheStats {
			st := d.store.Stats()
			return telemetry.CacheStats{Hits: st.Hits, Misses: st.Misses, DBErrors: st.DBErrors}
		})
	}
	return src
}

// UserCount is the number of users in the directory. With a database it
// counts the table, for 2s at most; when that fails, the last count
// stands.
func (d *liveDirectory) UserCount() int {
	if d.memory != nil {
		return d.memory.Len()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if n, err := d.store.CountUsers(ctx); err == nil {
		d.lastCount.Store(n)
	}
	return int(d.lastCount.Load())
}

func (d *liveDirectory) Close() {
	if d.store != nil {
		d.store.Close()
	}
}

// healthLink carries the directory's state to the server's health, which
// exists only once the server is built: the state may change before.
type healthLink struct {
	mu  sync.Mutex
	srv *server.Server
	up  bool
}

func (h *healthLink) set(up bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.up = up
	if h.srv != nil {
		h.srv.SetServing(up)
	}
}

func (h *healthLink) attach(srv *server.Server) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.srv = srv
	srv.SetServing(h.up)
}

// reload re-reads --users (in-memory directory only) and --auth-tokens-file
// on SIGHUP. Each is swapped in whole and atomically, so an RPC sees the
// old set or the new one; a file that fails to load leaves the old one in
// force. Tokens from the environment cannot change in a running process.
func (d *liveDirectory) reload(ctx context.Context, cfg config.Config, tokens *auth.Reloadable, log *slog.Logger) {
	did := false
	if cfg.UsersFile != "" && d.memory != nil {
		did = true
		if users, err := userstore.Load(ctx, cfg.UsersFile); err != nil {
			log.Error("reload: keeping the users in force", slog.String("error", err.Error()))
		} else {
			d.memory.Replace(users)
			log.Info("reload: users replaced", slog.String("file", cfg.UsersFile), slog.Int("users", users.Len()))
		}
	}
	if cfg.AuthTokensFile != "" {
		did = true
		list, err := auth.LoadTokensFile(ctx, cfg.AuthTokensFile)
		var a *auth.Authenticator
		if err == nil {
			a, err = auth.New(list)
		}
		if err != nil {
			// The error names the file and line, never a token.
			log.Error("reload: keeping the auth tokens in force", slog.String("error", err.Error()))
		} else {
			tokens.Replace(a)
			log.Info("reload: auth tokens replaced", slog.String("file", cfg.AuthTokensFile), slog.Int("tokens", len(list)))
		}
	}
	if !did {
		log.Info("reload: nothing to reload (SIGHUP re-reads --users and --auth-tokens-file)")
	}
}

// followReloads reloads on every value from hup until ctx is done.
func (d *liveDirectory) followReloads(ctx context.Context, hup <-chan os.Signal, cfg config.Config, tokens *auth.Reloadable, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			d.reload(ctx, cfg, tokens, log)
		}
	}
}

// logAttr describes the directory on the "listening" line.
func (d *liveDirectory) logAttr(users *userstore.Store) slog.Attr {
	if d.store != nil {
		return slog.String("directory", "postgres")
	}
	return slog.Int("users", users.Len())
}
