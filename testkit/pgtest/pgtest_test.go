package pgtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/acme/user-service/testkit"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func TestDatabaseRestart(t *testing.T) {
	t.Parallel()
	c := NewCluster(t)
	ping := func() error {
		conn, err := pgx.Connect(context.Background(), c.URL("postgres"))
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		return conn.Ping(context.Background())
	}
	if err := ping(); err != nil {
		t.Fatalf("running server: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := ping(); err == nil {
		t.Fatal("stopped server still answers")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := ping(); err != nil {
		t.Fatalf("restarted server: %v", err)
	}
}

func TestNewDatabaseIsolated(t *testing.T) {
	t.Parallel()
	a, b := NewDatabase(t), NewDatabase(t)
	if a == b {
		t.Fatalf("two databases share the URL %s", a)
	}
	conn, err := pgx.Connect(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "CREATE TABLE x (i int)"); err != nil {
		t.Fatal(err)
	}
}

// recorder notes whether a test would have failed or been skipped.
type recorder struct {
	testing.TB
	failed, skipped bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Fatalf(string, ...any) { r.failed = true }
func (r *recorder) Skipf(string, ...any)  { r.skipped = true }

// TestMissingBinariesFailOnCI: without PostgreSQL a test skips, except
// with CI=true, where the database tests must not silently stop running.
// Not parallel: it sets CI.
func TestMissingBinariesFailOnCI(t *testing.T) {
	for _, tt := range []struct {
		ci                 string
		wantFail, wantSkip bool
	}{{"true", true, false}, {"", false, true}} {
		t.Setenv("CI", tt.ci)
		r := &recorder{TB: t}
		skipOrFail(r, errors.New("initdb not found"))
		if r.failed != tt.wantFail || r.skipped != tt.wantSkip {
			t.Errorf("CI=%q: failed %v skipped %v, want %v %v", tt.ci, r.failed, r.skipped, tt.wantFail, tt.wantSkip)
		}
	}
}

// TestLockTable: a query on a locked table waits until the lock is
// released.
func TestLockTable(t *testing.T) {
	t.Parallel()
	url := NewDatabase(t)
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "CREATE TABLE users (id text)"); err != nil {
		t.Fatal(err)
	}
	release := LockTable(t, url, "users")
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	_, err = conn.Exec(ctx, "SELECT count(*) FROM users")
	cancel()
	if err == nil {
		t.Fatal("a query on the locked table did not wait for the lock")
	}
	release()
	other, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	if _, err := other.Exec(t.Context(), "SELECT count(*) FROM users"); err != nil {
		t.Fatalf("query after release: %v", err)
	}
}
