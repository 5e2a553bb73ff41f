package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-server/internal/directory/file"
	"github.com/acme/user-service/services/user-server/internal/testwait"
	"github.com/acme/user-service/testkit"
	"github.com/acme/user-service/testkit/pgtest"
	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// runCmd runs a subcommand in process (see runReturns).
func runCmd(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	return runReturns(t, t.Context(), args, env)
}

func countUsers(t *testing.T, url string) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM users").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func lookup(ctx context.Context, conn *grpc.ClientConn, id string) (*userv1.GetUserDetailsResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return userv1.NewUserServiceClient(conn).GetUserDetails(ctx, &userv1.GetUserDetailsRequest{UserId: id, AuthToken: "valid-token"})
}

func health(ctx context.Context, conn *grpc.ClientConn) healthpb.HealthCheckResponse_ServingStatus {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	resp, _ := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return resp.GetStatus()
}

func TestSubcommandErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, want string
		args       []string
	}{
		{"migrate without URL", "migrate: --database-url or USER_SERVER_DATABASE_URL is required", []string{"migrate"}},
		{"import without URL", "import: --database-url", []string{"import", "--users", "u.json"}},
		{"import without users", "import: --users FILE is required", []string{"import", "--database-url", "postgres://127.0.0.1:1/x"}},
		{"unknown flag", "migrate: flag provided but not defined: -nope", []string{"migrate", "--nope"}},
		{"stray argument", `unexpected argument "now"`, []string{"migrate", "--database-url", "postgres://127.0.0.1:1/x", "now"}},
		{"bad URL", "migrate:", []string{"migrate", "--database-url", "postgres://%zz"}},
		{"unreachable", "migrate: connecting:", []string{"migrate", "--database-url", "postgres://127.0.0.1:1/x?connect_timeout=5"}},
		{"users with database", "--users and --database-url exclude each other", []string{"--users", "u.json", "--database-url", "postgres://127.0.0.1:1/x"}},
		{"zero cache", "--database-cache-size must be positive", []string{"--database-url", "postgres://127.0.0.1:1/x", "--database-cache-size", "0"}},
		{"bad server URL", "database URL", []string{"--database-url", "postgres://%zz"}},
		// A password in a bad URL is never echoed (checked for every case).
		{"password in bad URL", "migrate:", []string{"migrate", "--database-url", "postgres://u:s3cret-pw@host:99999999/db"}},
		{"password in bad server URL", "database URL", []string{"--database-url", "postgres://u:s3cret-pw@host/db?sslmode=bogus"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := runCmd(t, nil, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("run %v = %v, want one line containing %q", tt.args, err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cret-pw") {
				t.Errorf("error holds the password: %v", err)
			}
		})
	}
}

// TestDatabaseDirectory: migrate (twice), import (a bad file writes
// nothing), then replicas serving from the table.
func TestDatabaseDirectory(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	env := map[string]string{"USER_SERVER_DATABASE_URL": url} // the URL from the environment
	out, err := runCmd(t, env, "migrate")
	if err != nil || !strings.Contains(out, "migration(s) 0001_users.sql") {
		t.Fatalf("migrate = %q, %v", out, err)
	}
	if out, err := runCmd(t, env, "migrate"); err != nil || !strings.Contains(out, "applied 0 migration(s)") {
		t.Fatalf("second migrate = %q, %v", out, err)
	}
	good := writeFile(t, "users.json", usersJSON("alice", "bob", "john123"))
	if out, err := runCmd(t, nil, "import", "--users", good, "--database-url", url); err != nil || !strings.Contains(out, "3 users read, 3 inserted or changed") {
		t.Fatalf("import = %q, %v", out, err)
	}
	bad := writeFile(t, "bad.json", `{"users": [{"id": "carol", "name": "Carol", "email": "carol@example.com"},`+"\n"+
		`{"id": "bad id", "name": "x", "email": "x@example.com"}]}`)
	_, err = runCmd(t, env, "import", "--users", bad)
	if err == nil || !strings.Contains(err.Error(), bad+`:2:1: users[1]: id "bad id" must match`) {
		t.Fatalf("import of a bad file = %v, want its FILE:LINE:COL error", err)
	}
	if n := countUsers(t, url); n != 3 {
		t.Fatalf("%d users after the failed import, want 3", n)
	}

	srv := startRun(t, nil, "--database-url", url, "--metrics-listen", "127.0.0.1:0")
	scrapeURL := metricsURL(t, srv.lines)
	conn := dial(t, srv.addr, nil)
	waitServing(t, conn)
	if !strings.Contains(srv.stderr.String(), "directory=postgres") {
		t.Errorf("the listening line does not name the directory:\n%s", srv.stderr)
	}
	if resp, err := lookup(t.Context(), conn, "bob"); err != nil || resp.GetEmail() != "bob@example.com" {
		t.Fatalf("bob = %v, %v", resp, err)
	}
	if _, err := lookup(t.Context(), conn, "nobody"); status.Code(err) != codes.NotFound {
		t.Fatalf("nobody: %v, want NotFound", err)
	}
	// The directory's size is the table's, counted at each scrape.
	if n := value(t, scrape(t, scrapeURL), "user_server_directory_users", nil); n != 3 {
		t.Errorf("user_server_directory_users = %v, want 3", n)
	}

	// A query stuck behind another transaction's lock ends with the RPC's
	// deadline.
	unlock := pgtest.LockTable(t, url, "users")
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	_, err = userv1.NewUserServiceClient(conn).GetUserDetails(ctx, &userv1.GetUserDetailsRequest{UserId: "locked-out", AuthToken: "valid-token"})
	cancel()
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("lookup behind a lock: %v, want DeadlineExceeded", err)
	}
	unlock()
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestDatabaseOutage: a replica that starts without its database reports
// NOT_SERVING and waits for it; losing it under load keeps cached users
// answering and turns misses into UNAVAILABLE (never NOT_FOUND), and the
// replica recovers alone. Each transition is logged once.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	cluster := pgtest.NewCluster(t)
	url := cluster.CreateDatabase(t)
	if _, err := runCmd(t, nil, "migrate", "--database-url", url); err != nil {
		t.Fatal(err)
	}
	ids := []string{"john123"}
	for i := range 20 {
		ids = append(ids, "u"+string(rune('a'+i)))
	}
	if _, err := runCmd(t, nil, "import", "--database-url", url, "--users", writeFile(t, "users.json", usersJSON(ids...))); err != nil {
		t.Fatal(err)
	}
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}

	srv := startRun(t, nil, "--database-url", url)
	conn := dial(t, srv.addr, nil)
	if st := health(t.Context(), conn); st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health without the database = %v, want NOT_SERVING", st)
	}
	if _, err := lookup(t.Context(), conn, "john123"); status.Code(err) != codes.Unavailable {
		t.Fatalf("lookup without the database: %v, want Unavailable", err)
	}
	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	waitServing(t, conn)

	if _, err := lookup(t.Context(), conn, "john123"); err != nil { // now cached
		t.Fatal(err)
	}
	var cachedFailed, missNotFound atomic.Int64
	var cachedOK atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				_, err := lookup(t.Context(), conn, "john123")
				if err != nil {
					cachedFailed.Add(1)
				} else {
					cachedOK.Add(1)
				}
				if _, err := lookup(t.Context(), conn, ids[1+(w*5+i)%20]); status.Code(err) == codes.NotFound {
					missNotFound.Add(1)
				}
			}
		})
	}
	testwait.Until(t, "load running", func() bool { return cachedOK.Load() > 50 })
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, "NOT_SERVING", func() bool { return health(t.Context(), conn) == healthpb.HealthCheckResponse_NOT_SERVING })
	_, err := lookup(t.Context(), conn, "never-cached")
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("miss while the database is down: %v, want Unavailable", err)
	}
	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	waitServing(t, conn)
	testwait.Until(t, "misses answered again", func() bool { _, err := lookup(t.Context(), conn, "ut"); return err == nil })
	close(stop)
	wg.Wait()
	if n := cachedFailed.Load(); n != 0 {
		t.Errorf("%d lookups of a cached user failed during the outage", n)
	}
	if n := missNotFound.Load(); n != 0 {
		t.Errorf("%d lookups of existing users got NotFound", n)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	logs := srv.stderr.String()
	// Down at start, up, down, up: two "unreachable" and two "connected"
	// lines, however many RPCs failed.
	if d, u := strings.Count(logs, "user database unreachable"), strings.Count(logs, "user database connected"); d != 2 || u != 2 {
		t.Errorf("log has %d down and %d up lines, want 2 and 2:\n%s", d, u, logs)
	}
}

func TestHelpDocumentsDatabase(t *testing.T) {
	t.Parallel()
	out, err := runCmd(t, nil, "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"user-server migrate|import", "-database-url", "USER_SERVER_DATABASE_URL", "-database-cache-size", "-database-pool-size", "-database-statement-timeout",
		// The names before the rename, still accepted, are listed.
		"-cache-size (env USER_SERVER_CACHE_SIZE): use -database-cache-size", "-db-pool-size", "-db-statement-timeout"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	// The variable's value is never shown as a default: a URL may hold a
	// password.
	env := map[string]string{"USER_SERVER_DATABASE_URL": "postgres://u:s3cret-pw@host/db"}
	for _, cmd := range []string{"migrate", "import"} {
		out, err := runCmd(t, env, cmd, "--help")
		if err != nil || !strings.Contains(out, "Usage: user-server "+cmd) || !strings.Contains(out, "USER_SERVER_DATABASE_URL") {
			t.Errorf("%s --help = %q, %v", cmd, out, err)
		}
		if strings.Contains(out, "s3cret-pw") {
			t.Errorf("%s --help shows the database URL's password:\n%s", cmd, out)
		}
	}
}

// TestThreeReplicas: three servers on one database; an update and a delete
// committed in the table are answered by every replica (each had the old
// answer cached). The time from commit to each replica's new answer is
// logged, not asserted.
func TestThreeReplicas(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	if _, err := runCmd(t, nil, "migrate", "--database-url", url); err != nil {
		t.Fatal(err)
	}
	if _, err := runCmd(t, nil, "import", "--database-url", url, "--users", writeFile(t, "users.json", usersJSON("ann"))); err != nil {
		t.Fatal(err)
	}
	var conns []*grpc.ClientConn
	for range 3 {
		srv := startRun(t, nil, "--database-url", url)
		c := dial(t, srv.addr, nil)
		waitServing(t, c)
		conns = append(conns, c)
	}
	answer := func(c *grpc.ClientConn) string {
		resp, err := lookup(t.Context(), c, "ann")
		if status.Code(err) == codes.NotFound {
			return "<deleted>"
		}
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetName()
	}
	db, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	for _, step := range []struct{ sql, want string }{
		{"UPDATE users SET name = 'Ann Updated' WHERE id = 'ann'", "Ann Updated"},
		{"DELETE FROM users WHERE id = 'ann'", "<deleted>"},
	} {
		for _, c := range conns {
			answer(c) // the current answer is cached on every replica
		}
		if _, err := db.Exec(t.Context(), step.sql); err != nil {
			t.Fatal(err)
		}
		committed := time.Now()
		for i, c := range conns {
			testwait.Until(t, fmt.Sprintf("replica %d answers %q", i, step.want), func() bool { return answer(c) == step.want })
			t.Logf("%s: replica %d answered after %v", step.want, i, time.Since(committed))
		}
	}
}

// TestCommandsAgainstSilentListener: a listener that accepts and never
// answers ends migrate and import with a timeout error (at the default
// connect timeout, far inside runReturns's bound) instead of hanging.
func TestCommandsAgainstSilentListener(t *testing.T) {
	t.Parallel()
	silent := silentListener(t)
	users := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(users, []byte(`{"users":[{"id":"a","name":"A","email":"a@example.com"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	url := "postgres://u:s3cret-pw@" + silent + "/postgres?sslmode=disable"
	for _, args := range [][]string{
		{"migrate", "--database-url", url},
		{"import", "--database-url", url, "--users", users},
	} {
		_, err := runCmd(t, nil, args...)
		if err == nil || !strings.Contains(err.Error(), "connecting") || !strings.Contains(err.Error(), "timeout") {
			t.Errorf("%s against a silent listener = %v, want a connect timeout", args[0], err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("error holds the password: %v", err)
		}
	}
}

// TestImportStatementTimeout: a table somebody holds locked ends import
// with the database's statement timeout, not a wait without end.
func TestImportStatementTimeout(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	if _, err := runCmd(t, nil, "migrate", "--database-url", url); err != nil {
		t.Fatal(err)
	}
	pgtest.LockTable(t, url, "users")
	users := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(users, []byte(`{"users":[{"id":"a","name":"A","email":"a@example.com"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := runCmd(t, nil, "import", "--database-url", url, "--users", users, "--database-statement-timeout", "300ms")
	if err == nil || !strings.Contains(err.Error(), "statement timeout") {
		t.Fatalf("import against a locked table = %v, want a statement timeout", err)
	}
}

// TestMigrateRefusesSQLASCII: in a SQL_ASCII database the table's checks
// let through bytes that are not UTF-8, which the API cannot return.
func TestMigrateRefusesSQLASCII(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabaseWith(t, "ENCODING 'SQL_ASCII' TEMPLATE template0")
	_, err := runCmd(t, nil, "migrate", "--database-url", url)
	if err == nil || !strings.Contains(err.Error(), "encoding is SQL_ASCII") {
		t.Fatalf("migrate of a SQL_ASCII database = %v, want a refusal naming the encoding", err)
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(t.Context(), "SELECT to_regclass('users') IS NOT NULL").Scan(&exists); err != nil || exists {
		t.Fatalf("users table exists = %v, %v; want nothing created", exists, err)
	}
}

// TestImportDatabaseRejectionPosition: a user the file's checks pass but
// the database refuses (here a constraint an operator added; an id given
// twice) is reported at FILE:LINE:COL, and nothing is written.
func TestImportDatabaseRejectionPosition(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	if _, err := runCmd(t, nil, "migrate", "--database-url", url); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "ALTER TABLE users ADD CONSTRAINT users_no_x CHECK (name <> 'X')"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tt := range []struct{ name, data, want string }{
		{"check", "{\"users\": [\n  {\"id\": \"a\", \"name\": \"A\", \"email\": \"a@example.com\"},\n  {\"id\": \"b\", \"name\": \"X\", \"email\": \"b@example.com\"}\n]}",
			`check.json:3:3: users[1]: the database rejected it: new row for relation "import_users" violates check constraint`},
		{"dup", "{\"users\": [\n  {\"id\": \"a\", \"name\": \"A\", \"email\": \"a@example.com\"},\n\n    {\"id\": \"a\", \"name\": \"B\", \"email\": \"b@example.com\"}\n]}",
			`dup.json:4:5: users[1]: the database rejected it: duplicate key value`},
	} {
		path := filepath.Join(dir, tt.name+".json")
		if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := runCmd(t, nil, "import", "--database-url", url, "--users", path)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, tt.want)) {
			t.Errorf("import %s = %v, want %q", tt.name, err, tt.want)
		}
	}
	if n := countUsers(t, url); n != 0 {
		t.Fatalf("%d users after failed imports, want 0", n)
	}
}

// TestImportLargerThan64MiB: import streams its file (the server's
// in-memory --users keeps file.MaxFileSize), so a file beyond that cap
// imports, in one transaction.
func TestImportLargerThan64MiB(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	if _, err := runCmd(t, nil, "migrate", "--database-url", url); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "big.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	name := strings.Repeat("N", 250)
	n := 0
	fmt.Fprint(w, `{"users": [`)
	for written := int64(0); written <= file.MaxFileSize; n++ {
		sep := ",\n"
		if n == 0 {
			sep = "\n"
		}
		k, _ := fmt.Fprintf(w, `%s{"id": "big%07d", "name": "%s", "email": "big%07d@example.com"}`, sep, n, name, n)
		written += int64(k)
	}
	fmt.Fprint(w, "\n]}\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := runCmd(t, nil, "import", "--database-url", url, "--users", path)
	if err != nil || !strings.Contains(out, fmt.Sprintf("%d users read, %d inserted or changed", n, n)) {
		t.Fatalf("import of a file over %d bytes = %q, %v", file.MaxFileSize, out, err)
	}
	if got := countUsers(t, url); got != n {
		t.Fatalf("%d users in the table, want %d", got, n)
	}
}
