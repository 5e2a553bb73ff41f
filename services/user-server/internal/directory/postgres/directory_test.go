package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/user-service/services/user-server/internal/directory"
	"github.com/acme/user-service/services/user-server/internal/testwait"
	"github.com/acme/user-service/testkit"
	"github.com/acme/user-service/testkit/pgtest"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func TestMigrationsWellFormed(t *testing.T) {
	t.Parallel()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || SchemaVersion() != ms[len(ms)-1].version {
		t.Fatalf("SchemaVersion() = %d with migrations %v", SchemaVersion(), ms)
	}
}

// migrated returns a fresh, migrated database.
func migrated(t *testing.T) string {
	t.Helper()
	url := pgtest.NewDatabase(t)
	if _, err := Migrate(t.Context(), url, Timeouts{}); err != nil {
		t.Fatal(err)
	}
	return url
}

// sqlExec runs statements on a connection of its own.
func sqlExec(t *testing.T, url string, stmts ...string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, s := range stmts {
		if _, err := conn.Exec(t.Context(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// open opens a Directory and waits until it is up.
func open(t *testing.T, cfg Config) *Directory {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	testwait.Until(t, "store up", s.Up)
	return s
}

func TestMigrateTwiceAndConcurrently(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	// Two migrators at once, each on a connection (a server process) of
	// its own: the advisory lock lets exactly one apply.
	var wg sync.WaitGroup
	results := make([][]string, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Go(func() { results[i], errs[i] = Migrate(t.Context(), url, Timeouts{}) })
	}
	wg.Wait()
	applied := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("migrator %d: %v", i, err)
		}
		applied += len(results[i])
	}
	if applied != SchemaVersion() {
		t.Fatalf("concurrent migrators applied %d migrations in all, want %d: %v", applied, SchemaVersion(), results)
	}
	// Once more: nothing to do, nothing changed.
	if again, err := Migrate(t.Context(), url, Timeouts{}); err != nil || len(again) != 0 {
		t.Fatalf("second Migrate = %v, %v; want nothing applied", again, err)
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if v, err := appliedVersion(t.Context(), conn); err != nil || v != SchemaVersion() {
		t.Fatalf("schema version = %d, %v; want %d", v, err, SchemaVersion())
	}
}

func TestConstraintsMatchContract(t *testing.T) {
	t.Parallel()
	url := migrated(t)
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	long := func(n int) string { return string(slices.Repeat([]byte("a"), n)) }
	tests := []struct {
		id, name, email string
		ok              bool
	}{
		{"john123", "John Doe", "john@example.com", true},
		{long(64), "Max", "max@example.com", true},
		{"a.b_c-D9", "Ø Unicode", "u@example.com", true},
		{"", "Empty", "e@example.com", false},
		{long(65), "Long", "l@example.com", false},
		{"bad id", "Space", "s@example.com", false},
		{"bad/id", "Slash", "s@example.com", false},
		{"é", "Accent", "a@example.com", false},
		{"noname", "", "n@example.com", false},
		{"ctrl", "Bell\a", "c@example.com", false},
		{"noemail", "No Email", "", false},
		{"bademail", "Bad Email", "not-an-address", false},
		{"ctrlemail", "Ctrl", "a\n@example.com", false},
		{"longemail", "Long", long(250) + "@example.com", false},
	}
	for _, tt := range tests {
		_, err := conn.Exec(t.Context(), "INSERT INTO users (id, name, email) VALUES ($1, $2, $3)", tt.id, tt.name, tt.email)
		if (err == nil) != tt.ok {
			t.Errorf("insert (%q, %q, %q): err = %v, want ok=%v", tt.id, tt.name, tt.email, err, tt.ok)
		}
	}
}

func users(n int, prefix string) []directory.User {
	out := make([]directory.User, n)
	for i := range out {
		id := fmt.Sprintf("%s%d", prefix, i)
		out[i] = directory.User{ID: id, Name: "User " + id, Email: id + "@example.com"}
	}
	return out
}

func TestImport(t *testing.T) {
	t.Parallel()
	url := migrated(t)
	res, err := Import(t.Context(), url, Timeouts{}, Slice(users(500, "u")))
	if err != nil || res.Read != 500 || res.Changed != 500 {
		t.Fatalf("Import = %+v, %v", res, err)
	}
	// Same again with one change: only that row is written (and notified).
	again := users(500, "u")
	again[7].Name = "Renamed"
	if res, err := Import(t.Context(), url, Timeouts{}, Slice(again)); err != nil || res.Changed != 1 {
		t.Fatalf("second Import = %+v, %v; want 1 changed", res, err)
	}
	// All or nothing: a row the table refuses, last, leaves everything as
	// it was, new rows and updates alike.
	bad := append(users(10, "new"), directory.User{ID: "u1", Name: "Changed", Email: "u1@example.com"},
		directory.User{ID: "x", Name: "Bad\x01", Email: "x@example.com"})
	var rej *RejectedError
	if _, err := Import(t.Context(), url, Timeouts{}, Slice(bad)); !errors.As(err, &rej) || rej.Index != 11 || rej.Err.ConstraintName != "users_name_valid" {
		t.Fatalf("Import with an invalid row = %v, want a RejectedError for users[11] (users_name_valid)", err)
	}
	// An id given twice is the database's refusal too, at the second one.
	dup := append(users(3, "d"), users(1, "d")...)
	if _, err := Import(t.Context(), url, Timeouts{}, Slice(dup)); !errors.As(err, &rej) || rej.Index != 3 {
		t.Fatalf("Import with a repeated id = %v, want a RejectedError for users[3]", err)
	}
	s := open(t, Config{URL: url})
	if n, err := s.Count(t.Context()); err != nil || n != 500 {
		t.Fatalf("users after the failed import = %d, %v; want 500", n, err)
	}
	if u, err := s.Lookup(t.Context(), "u1"); err != nil || u.Name != "User u1" {
		t.Fatalf("u1 after the failed import = %+v, %v", u, err)
	}
	if u, err := s.Lookup(t.Context(), "u7"); err != nil || u.Name != "Renamed" {
		t.Fatalf("u7 = %+v, %v", u, err)
	}
	// Import refuses an unmigrated database.
	if _, err := Import(t.Context(), pgtest.NewDatabase(t), Timeouts{}, Slice(users(1, "z"))); err == nil {
		t.Fatal("Import into an unmigrated database succeeded")
	}
}

func TestLookupHitMissNegative(t *testing.T) {
	t.Parallel()
	url := migrated(t)
	if _, err := Import(t.Context(), url, Timeouts{}, Slice(users(3, "u"))); err != nil {
		t.Fatal(err)
	}
	s := open(t, Config{URL: url, CacheSize: 2})
	ctx := t.Context()
	want := func(id string, wantErr error, stats directory.CacheStats) {
		t.Helper()
		u, err := s.Lookup(ctx, id)
		if !errors.Is(err, wantErr) || (err == nil && (u.ID != id || u.Name != "User "+id || u.Email != id+"@example.com")) {
			t.Fatalf("Lookup(%q) = %+v, %v; want err %v", id, u, err, wantErr)
		}
		got := *s.Stats().Cache
		if got.Hits != stats.Hits || got.Misses != stats.Misses || got.Entries != stats.Entries || got.DBErrors != 0 {
			t.Fatalf("after Lookup(%q): stats = %+v, want %+v", id, got, stats)
		}
	}
	want("u0", nil, directory.CacheStats{Misses: 1, Entries: 1})
	want("u0", nil, directory.CacheStats{Hits: 1, Misses: 1, Entries: 1})
	// Negative answers are cached too, and bound parameters keep SQL out.
	want("x' OR '1'='1", directory.ErrNotFound, directory.CacheStats{Hits: 1, Misses: 2, Entries: 2})
	want("x' OR '1'='1", directory.ErrNotFound, directory.CacheStats{Hits: 2, Misses: 2, Entries: 2})
	// The cache is bounded: a third entry evicts the least recent.
	want("u1", nil, directory.CacheStats{Hits: 2, Misses: 3, Entries: 2})
	want("u0", nil, directory.CacheStats{Hits: 2, Misses: 4, Entries: 2})
	// An insert invalidates a cached "not found".
	want("late", directory.ErrNotFound, directory.CacheStats{Hits: 2, Misses: 5, Entries: 2})
	sqlExec(t, url, "INSERT INTO users (id, name, email) VALUES ('late', 'User late', 'late@example.com')")
	testwait.Until(t, "insert visible", func() bool { _, err := s.Lookup(ctx, "late"); return err == nil })
}

// TestFreshnessAcrossReplicas: three stores (three replicas) with warm
// caches see every committed update and delete. It asserts visibility;
// the latency is logged (go test -v) as the freshness figure.
func TestFreshnessAcrossReplicas(t *testing.T) {
	t.Parallel()
	url := migrated(t)
	if _, err := Import(t.Context(), url, Timeouts{}, Slice(users(1, "f"))); err != nil {
		t.Fatal(err)
	}
	replicas := []*Directory{open(t, Config{URL: url}), open(t, Config{URL: url}), open(t, Config{URL: url})}
	ctx := t.Context()
	nameOf := func(s *Directory) string {
		u, err := s.Lookup(ctx, "f0")
		if errors.Is(err, directory.ErrNotFound) {
			return "<deleted>"
		}
		if err != nil {
			t.Fatal(err)
		}
		return u.Name
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var lat []time.Duration
	const rounds = 40
	for i := range rounds {
		for _, r := range replicas {
			nameOf(r) // warm: the answer is cached
		}
		want := fmt.Sprintf("Name %d", i)
		stmt, args := "UPDATE users SET name = $1 WHERE id = 'f0'", []any{want}
		if i%4 == 3 { // every fourth change is a delete, then the row comes back
			want, stmt, args = "<deleted>", "DELETE FROM users WHERE id = 'f0'", nil
		}
		if _, err := conn.Exec(ctx, stmt, args...); err != nil {
			t.Fatal(err)
		}
		committed := time.Now()
		for _, r := range replicas {
			testwait.Until(t, "replica sees "+want, func() bool { return nameOf(r) == want })
			lat = append(lat, time.Since(committed))
		}
		if want == "<deleted>" {
			if _, err := conn.Exec(ctx, "INSERT INTO users (id, name, email) VALUES ('f0', 'back', 'f0@example.com')"); err != nil {
				t.Fatal(err)
			}
		}
	}
	slices.Sort(lat)
	t.Logf("freshness over %d changes x 3 replicas: p50 %v, p99 %v, max %v",
		rounds, lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
}

func TestDatabaseOutageUnderLoad(t *testing.T) {
	t.Parallel()
	cluster := pgtest.NewCluster(t)
	url := cluster.CreateDatabase(t)
	if _, err := Migrate(t.Context(), url, Timeouts{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Import(t.Context(), url, Timeouts{}, Slice(users(100, "o"))); err != nil {
		t.Fatal(err)
	}
	var changes []bool
	var mu sync.Mutex
	s := open(t, Config{URL: url, MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	s.Watch(func(up bool) { mu.Lock(); changes = append(changes, up); mu.Unlock() })
	ctx := t.Context()
	for i := range 50 { // o0..o49 cached; o50..o99 only in the table
		if _, err := s.Lookup(ctx, fmt.Sprintf("o%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	var cachedFail, missNotFound, missUnavailable, missOK, lookups atomic.Int64
	stopLoad := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				cached := i%2 == 0
				id := fmt.Sprintf("o%d", (w*13+i)%50)
				if !cached {
					id = fmt.Sprintf("o%d", 50+(w*13+i)%50)
				}
				lctx, cancel := context.WithTimeout(ctx, time.Second)
				_, err := s.Lookup(lctx, id)
				cancel()
				lookups.Add(1)
				switch {
				case cached && err != nil:
					cachedFail.Add(1)
				case cached:
				case err == nil:
					missOK.Add(1)
				case errors.Is(err, directory.ErrNotFound):
					missNotFound.Add(1)
				default:
					missUnavailable.Add(1)
				}
				time.Sleep(time.Millisecond) // steady load, not a spin
			}
		})
	}
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, "store down", func() bool { return !s.Up() })
	// While down: a fresh miss is UNAVAILABLE, a cached user still answers.
	dbErrors := s.Stats().Cache.DBErrors
	if _, err := s.Lookup(ctx, "never-cached"); !errors.Is(err, directory.ErrOutage) || !errors.Is(err, directory.ErrUnavailable) {
		t.Fatalf("miss while down: %v, want ErrOutage", err)
	}
	if st := s.Stats(); st.Up || st.Cache.DBErrors <= dbErrors || st.Cache.LastSync.IsZero() {
		t.Fatalf("stats while down = %+v: want down, the UNAVAILABLE miss counted as a db error, a last sync", st.Cache)
	}
	if _, err := s.Lookup(ctx, "o1"); err != nil {
		t.Fatalf("cached user while down: %v", err)
	}
	// The load goes on while down. (Not "until a miss fails": on a slow
	// machine the load may have cached every id before the database
	// stopped, leaving no miss to fail; the never-cached lookup above is
	// the miss that must.)
	n := lookups.Load()
	testwait.Until(t, "load while down", func() bool { return lookups.Load() >= n+100 })
	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, "store up again", s.Up)
	before := missOK.Load()
	testwait.Until(t, "misses answered again", func() bool { return missOK.Load() > before })
	close(stopLoad)
	wg.Wait()
	if n := cachedFail.Load(); n != 0 {
		t.Errorf("%d lookups of cached users failed during the outage", n)
	}
	if n := missNotFound.Load(); n != 0 {
		t.Errorf("%d misses got NotFound during the outage (want Unavailable)", n)
	}
	mu.Lock()
	defer mu.Unlock()
	// up, down, up: each transition reported once.
	if !slices.Equal(changes, []bool{true, false, true}) {
		t.Errorf("state changes = %v, want [true false true]", changes)
	}
	t.Logf("misses during the run: %d ok, %d unavailable", missOK.Load(), missUnavailable.Load())
}

func TestStartsWithDatabaseAway(t *testing.T) {
	t.Parallel()
	cluster := pgtest.NewCluster(t)
	url := cluster.CreateDatabase(t)
	if _, err := Migrate(t.Context(), url, Timeouts{}); err != nil {
		t.Fatal(err)
	}
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Config{URL: url, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Lookup(t.Context(), "anyone"); !errors.Is(err, directory.ErrOutage) {
		t.Fatalf("lookup before the database came: %v, want ErrOutage", err)
	}
	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, "store up once the database starts", s.Up)
	if _, err := s.Lookup(t.Context(), "anyone"); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("lookup after: %v, want ErrNotFound", err)
	}
}

func TestUnmigratedDatabaseStaysDown(t *testing.T) {
	t.Parallel()
	var logs testkit.Buffer
	s, err := Open(Config{URL: pgtest.NewDatabase(t), MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	testwait.Until(t, "down reported", func() bool { return strings.Contains(logs.String(), "run user-server migrate") })
	if s.Up() {
		t.Fatal("store up on a database without the schema")
	}
}

// TestQueryOutlivesDeadline: a lookup stuck behind another transaction's
// lock ends when the RPC's deadline does, with the context's error, and
// statement_timeout bounds it on the server side as well.
func TestQueryOutlivesDeadline(t *testing.T) {
	t.Parallel()
	url := migrated(t)
	unlock := pgtest.LockTable(t, url, "users")
	s := open(t, Config{URL: url, StatementTimeout: time.Hour})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := s.Lookup(ctx, "blocked")
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("lookup behind a lock = %v, want context.DeadlineExceeded", err)
	}
	st := open(t, Config{URL: url, StatementTimeout: 50 * time.Millisecond})
	_, err = st.Lookup(t.Context(), "blocked")
	if err == nil || errors.Is(err, directory.ErrNotFound) || !errors.Is(err, directory.ErrUnavailable) {
		t.Fatalf("lookup past statement_timeout = %v, want ErrUnavailable", err)
	}
	unlock()
	if _, err := s.Lookup(t.Context(), "blocked"); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("lookup once the lock is gone = %v, want ErrNotFound", err)
	}
}

// TestCatchesUpAfterReconnect: the store's connections are terminated (the
// database stays reachable) while its reconnection is held back (a lock on
// schema_migrations, which it reads first) and rows change. The store never
// goes down: until it has caught up it answers from the database, not from
// its cache; then the log's changes are applied and the cache answers
// again, current.
func TestCatchesUpAfterReconnect(t *testing.T) {
	t.Parallel()
	url := migrated(t)
	if _, err := Import(t.Context(), url, Timeouts{}, Slice(users(3, "r"))); err != nil {
		t.Fatal(err)
	}
	var logs testkit.Buffer
	s := open(t, Config{URL: url, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	var downs atomic.Int32
	s.Watch(func(up bool) {
		if !up {
			downs.Add(1)
		}
	})
	ctx := t.Context()
	for _, id := range []string{"r0", "r1", "r2", "later"} {
		_, _ = s.Lookup(ctx, id) // cached: three users, one "not found"
	}
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	tx, err := admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	// The store's sessions (the listener and the pool's): all but ours.
	sqlExec(t, url, fmt.Sprintf("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid NOT IN (pg_backend_pid(), %d)", admin.PgConn().PID()))
	testwait.Until(t, "store catching up", s.stale.Load)
	sqlExec(t, url,
		"UPDATE users SET name = 'Changed' WHERE id = 'r0'",
		"DELETE FROM users WHERE id = 'r1'",
		"INSERT INTO users (id, name, email) VALUES ('later', 'Later', 'later@example.com')")
	// Catching up: up, and every answer from the database.
	check := func(when string) {
		t.Helper()
		if u, err := s.Lookup(ctx, "r0"); err != nil || u.Name != "Changed" {
			t.Errorf("r0 %s = %+v, %v; want the update", when, u, err)
		}
		if _, err := s.Lookup(ctx, "r1"); !errors.Is(err, directory.ErrNotFound) {
			t.Errorf("r1 %s: %v, want ErrNotFound (deleted)", when, err)
		}
		if u, err := s.Lookup(ctx, "later"); err != nil || u.Name != "Later" {
			t.Errorf("later %s = %+v, %v; want the insert", when, u, err)
		}
	}
	if !s.Up() || !s.stale.Load() {
		t.Fatalf("up = %v, catching up = %v; want both while the reconnection is held", s.Up(), s.stale.Load())
	}
	check("while catching up")
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, "caught up", func() bool { return !s.stale.Load() })
	// r2 did not change: still cached, a hit. The changed ids were dropped
	// (or refreshed meanwhile): current at once.
	misses := s.Stats().Cache.Misses
	if u, err := s.Lookup(ctx, "r2"); err != nil || u.Name != "User r2" || s.Stats().Cache.Misses != misses {
		t.Errorf("r2 after catching up = %+v, %v (misses %d -> %d); want a hit", u, err, misses, s.Stats().Cache.Misses)
	}
	check("after catching up")
	if n := downs.Load(); n != 0 {
		t.Errorf("the store went down %d times while its database was reachable", n)
	}
	// The loss and the catch-up are one line each.
	if l, c := strings.Count(logs.String(), "listener connection lost"), strings.Count(logs.String(), "listener reconnected, cache caught up"); l != 1 || c != 1 {
		t.Errorf("%d \"lost\" and %d \"caught up\" lines, want 1 and 1:\n%s", l, c, &logs)
	}
}

// TestBulkChangeThenUpdate: a statement changing more users than the
// trigger's bound logs "anything changed" once; a replica empties its cache
// instead of walking a million ids, and the single update committed right
// after is seen (by every replica) as promptly as any other. An update that
// changes no returned field logs nothing.
func TestBulkChangeThenUpdate(t *testing.T) {
	t.Parallel()
	url := migrated(t)
	if _, err := Import(t.Context(), url, Timeouts{}, Slice(users(5000, "b"))); err != nil {
		t.Fatal(err)
	}
	replicas := []*Directory{open(t, Config{URL: url}), open(t, Config{URL: url}), open(t, Config{URL: url})}
	ctx := t.Context()
	for _, r := range replicas {
		for _, id := range []string{"b1", "b2", "b3"} {
			if _, err := r.Lookup(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	logged := func() (n int64, all int64) {
		t.Helper()
		if err := conn.QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE id IS NULL) FROM users_changes").Scan(&n, &all); err != nil {
			t.Fatal(err)
		}
		return n, all
	}
	n0, all0 := logged()
	// Touches every row, changes nothing a lookup returns.
	if _, err := conn.Exec(ctx, "UPDATE users SET updated_at = now(), name = name"); err != nil {
		t.Fatal(err)
	}
	if n, _ := logged(); n != n0 {
		t.Fatalf("an update of updated_at only logged %d changes, want none", n-n0)
	}
	// A bulk change: one "anything" entry, not 5000.
	if _, err := conn.Exec(ctx, "UPDATE users SET name = name || '.' WHERE id LIKE 'b%'"); err != nil {
		t.Fatal(err)
	}
	if n, all := logged(); n != n0+1 || all != all0+1 {
		t.Fatalf("a 5000-row update logged %d entries (%d for anything), want 1", n-n0, all)
	}
	if _, err := conn.Exec(ctx, "UPDATE users SET name = 'X' WHERE id = 'b1'"); err != nil {
		t.Fatal(err)
	}
	for i, r := range replicas {
		testwait.Until(t, fmt.Sprintf("replica %d sees the update", i), func() bool {
			u, err := r.Lookup(ctx, "b1")
			return err == nil && u.Name == "X"
		})
		if u, err := r.Lookup(ctx, "b2"); err != nil || u.Name != "User b2." {
			t.Errorf("replica %d: b2 = %+v, %v; want the bulk change", i, u, err)
		}
	}
}

// TestConcurrentMissesShareOneQuery: lookups of one id that miss together
// wait on one query (held here behind a lock on the table), not one each;
// a caller that gives up leaves the others their answer.
func TestConcurrentMissesShareOneQuery(t *testing.T) {
	t.Parallel()
	url := migrated(t)
	s := open(t, Config{URL: url})
	unlock := pgtest.LockTable(t, url, "users")
	const callers = 20
	var wg sync.WaitGroup
	errs := make([]error, callers)
	gaveUp, cancel := context.WithCancel(t.Context())
	for i := range callers {
		ctx := t.Context()
		if i == 0 {
			ctx = gaveUp
		}
		wg.Go(func() { _, errs[i] = s.Lookup(ctx, "shared") })
	}
	waiters := func() int {
		s.flightMu.Lock()
		defer s.flightMu.Unlock()
		if f := s.flights["shared"]; f != nil {
			return f.waiters
		}
		return 0
	}
	testwait.Until(t, "every caller waiting", func() bool { return waiters() == callers })
	cancel()
	testwait.Until(t, "the first caller gone", func() bool { return waiters() == callers-1 })
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// Every caller has joined the flight, but its one query may not have
	// reached the server yet (seen under make test-stress): wait for it to
	// be there, blocked on the lock, then count. Only this test's database
	// and running queries: pg_stat_activity holds every backend of the
	// server (parallel tests' too) with its last query, idle or not.
	var queries int
	testwait.Until(t, "the shared query at the server", func() bool {
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE 'SELECT name, email FROM users%'").Scan(&queries); err != nil {
			t.Fatal(err)
		}
		return queries > 0
	})
	if queries != 1 {
		t.Errorf("%d queries for %d concurrent misses of one id, want 1", queries, callers)
	}
	unlock()
	wg.Wait()
	if !errors.Is(errs[0], context.Canceled) {
		t.Errorf("the caller that gave up: %v, want context.Canceled", errs[0])
	}
	for i, err := range errs[1:] {
		if !errors.Is(err, directory.ErrNotFound) {
			t.Errorf("caller %d: %v, want ErrNotFound", i+1, err)
		}
	}
	if st := s.Stats().Cache; st.DBErrors != 0 {
		t.Errorf("db errors = %d, want 0", st.DBErrors)
	}
}
