// Package pgtest runs throwaway PostgreSQL servers for tests and
// benchmarks: initdb and pg_ctl into a temporary directory, listening on a
// free loopback port, and stopped when the test (or the package's tests)
// end. Tests get a real database, never a mock.
//
// Without PostgreSQL's server binaries (/usr/lib/postgresql/*/bin or PATH)
// a test is skipped, unless CI=true: there a missing server is a failure,
// so the database tests cannot silently stop running.
package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/acme/user-service/testkit"
	"github.com/jackc/pgx/v5"
)

// Cluster is one running (or stopped) PostgreSQL server.
type Cluster struct {
	bin  string // directory holding initdb, pg_ctl
	dir  string // holds data/, the socket and the log
	port int
	// asPostgres runs the server binaries as the postgres user: initdb
	// refuses to run as root.
	asPostgres bool
}

// binDir finds the server binaries: the newest Debian-packaged version,
// else initdb on PATH.
func binDir() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(matches, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(matches[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(matches[j]))))
		return vi > vj
	})
	if len(matches) > 0 {
		return filepath.Dir(matches[0]), nil
	}
	p, err := exec.LookPath("initdb")
	if err != nil {
		return "", fmt.Errorf("PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin or PATH; install the postgresql package")
	}
	return filepath.Dir(p), nil
}

// skipOrFail skips the test when PostgreSQL is not installed, except on CI.
func skipOrFail(tb testing.TB, err error) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("CI=true: %v", err)
		return
	}
	tb.Skipf("skipping: %v", err)
}

// NewCluster initialises and starts a server of the test's own, stopped and
// removed when the test ends. Use it when the test stops or restarts the
// server; otherwise NewDatabase is cheaper.
func NewCluster(tb testing.TB) *Cluster {
	tb.Helper()
	c, err := newCluster()
	if err != nil {
		if c == nil {
			skipOrFail(tb, err)
		}
		tb.Fatal(err)
	}
	tb.Cleanup(c.Destroy)
	if err := c.Start(); err != nil {
		tb.Fatal(err)
	}
	return c
}

// StartCluster initialises and starts a server outside a test (a
// benchmark): the caller Destroys it. A missing installation is an error.
func StartCluster() (*Cluster, error) {
	c, err := newCluster()
	if err != nil {
		if c != nil {
			c.Destroy()
		}
		return nil, err
	}
	if err := c.Start(); err != nil {
		c.Destroy()
		return nil, err
	}
	return c, nil
}

// newCluster runs initdb; a nil Cluster with an error means the binaries are
// missing.
func newCluster() (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return &Cluster{}, err
	}
	c := &Cluster{bin: bin, dir: dir, asPostgres: os.Geteuid() == 0}
	if c.asPostgres {
		u, err := user.Lookup("postgres")
		if err != nil {
			return c, fmt.Errorf("running as root, initdb needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return c, err
		}
	}
	out, err := c.command("initdb", "-D", c.dataDir(), "-A", "trust", "-U", "postgres",
		"-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput()
	if err != nil {
		return c, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return c, nil
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(c.bin, name)
	if c.asPostgres {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

// Start starts the server (again) and waits until it accepts connections.
// The first start picks a free loopback port; a restart keeps it, so
// clients reconnect to the same address.
func (c *Cluster) Start() error {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if c.port == 0 || attempt > 0 {
			p, err := freePort()
			if err != nil {
				return err
			}
			c.port = p
		}
		// Durability is pointless for a throwaway server; without it tests
		// run faster on a busy disk.
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off", c.port, c.dir)
		out, err := c.command("pg_ctl", "-D", c.dataDir(), "-l", filepath.Join(c.dir, "log"), "-o", opts, "-w", "-t", "60", "start").CombinedOutput()
		if err == nil {
			return nil
		}
		lastErr = fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, c.Log())
	}
	return lastErr
}

// Stop stops the server at once (fast mode: sessions are disconnected).
func (c *Cluster) Stop() error {
	out, err := c.command("pg_ctl", "-D", c.dataDir(), "-m", "fast", "-w", "stop").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// Destroy stops the server if it runs and removes its files.
func (c *Cluster) Destroy() {
	_ = c.command("pg_ctl", "-D", c.dataDir(), "-m", "immediate", "-w", "stop").Run()
	_ = os.RemoveAll(c.dir)
}

// Log returns the server's log, for failure messages.
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "log"))
	return string(b)
}

// Port is the server's TCP port on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// Bin returns the path of one of the server's programs (psql, pg_ctl).
func (c *Cluster) Bin(name string) string { return filepath.Join(c.bin, name) }

// URL is a libpq URL of database db.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

var dbSeq atomic.Int64

// CreateDatabase creates an empty database and returns its URL.
func (c *Cluster) CreateDatabase(tb testing.TB) string {
	tb.Helper()
	return c.CreateDatabaseWith(tb, "")
}

// CreateDatabaseWith creates an empty database with CREATE DATABASE's
// options (e.g. "ENCODING 'SQL_ASCII' TEMPLATE template0") and returns its
// URL.
func (c *Cluster) CreateDatabaseWith(tb testing.TB, options string) string {
	tb.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" "+options); err != nil {
		tb.Fatal(err)
	}
	return c.URL(name)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// shared is the package's server behind NewDatabase, started on first use.
var shared struct {
	once sync.Once
	c    *Cluster
	err  error
	miss bool // binaries missing
}

// NewDatabase returns the URL of a fresh, empty database in a server shared
// by the package's tests (started on first use, stopped once they end: the
// package's TestMain must call testkit.Main).
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	return NewDatabaseWith(tb, "")
}

// NewDatabaseWith is NewDatabase with CREATE DATABASE's options (see
// CreateDatabaseWith).
func NewDatabaseWith(tb testing.TB, options string) string {
	tb.Helper()
	testkit.RequireMain(tb)
	shared.once.Do(func() {
		c, err := newCluster()
		switch {
		case c == nil:
			shared.miss, shared.err = true, err
		case err != nil:
			shared.err = err
			c.Destroy()
		default:
			if err := c.Start(); err != nil {
				shared.err = err
				c.Destroy()
				return
			}
			shared.c = c
			testkit.AtExit(tb, c.Destroy)
		}
	})
	if shared.miss {
		skipOrFail(tb, shared.err)
	}
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.c.CreateDatabaseWith(tb, options)
}

// LockTable holds an ACCESS EXCLUSIVE lock on table in the database at url,
// from a transaction of its own, until the returned release is called (or
// the test ends): every query on the table waits meanwhile, as behind a
// long migration.
func LockTable(tb testing.TB, url, table string) (release func()) {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		conn.Close(ctx)
		tb.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier{table}.Sanitize()+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		conn.Close(ctx)
		tb.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			_ = tx.Rollback(ctx)
			_ = conn.Close(ctx)
		})
	}
	tb.Cleanup(release)
	return release
}
