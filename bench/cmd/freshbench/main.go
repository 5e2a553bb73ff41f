// Command freshbench measures how fresh three user-server replicas on one
// PostgreSQL database stay, and what a reconnection and a big import cost:
//
//   - freshness: the time from the COMMIT of `UPDATE users SET name = ...
//     WHERE id = ...` (a user every replica has cached) until all three
//     replicas answer the new name, over -changes single-row changes in
//     each of four cases: alone; right after a bulk UPDATE of -rows rows
//     (updated_at only: the "changes nothing visible" case); right
//     after an INSERT ... generate_series of -rows rows; right after a
//     `user-server import` changing -import-users users. In the bulk cases
//     a bulk change precedes every -bulk-every changes, which are committed
//     one after the other straight after it;
//   - terminate: a fourth replica with -cached users in its cache has its
//     database sessions terminated (pg_terminate_backend) under load: the
//     time it reported NOT_SERVING (health Watch), the time until its log
//     says the cache caught up, and the calls that failed meanwhile;
//   - big import: `user-server import` of a -big-import-user file: wall
//     time and the process's peak RSS (VmHWM).
//
// It starts a throwaway PostgreSQL server (testkit/pgtest: initdb, pg_ctl;
// as the postgres user when run as root) unless -database-url names an
// empty database, migrates it with `user-server migrate`, and seeds -rows
// users (u1, u2, ...) with generate_series.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/acme/user-service/bench/internal/h2load"
	"github.com/acme/user-service/bench/internal/procstat"
	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/testkit/pgtest"
	"github.com/acme/user-service/testkit/proc"
	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "freshbench:", err)
		os.Exit(1)
	}
}

// The cases, in the order they run.
var allCases = []string{"alone", "bulk-update", "bulk-insert", "import", "terminate", "big-import"}

// freshnessGoal is the bound on the p99 of every freshness case.
const freshnessGoal = 100 * time.Millisecond

// pollEvery is how often a replica is asked for the changed user: the
// resolution of the freshness figures.
const pollEvery = time.Millisecond

// giveUp bounds one wait for a replica (a change never seen is an error).
const giveUp = 60 * time.Second

type bench struct {
	userServer, out, url string
	token, tokensFile    string
	rows, importUsers    int
	bigImport, cached    int
	changes, bulkEvery   int
	warmup               int
	stdout               io.Writer

	db       *pgx.Conn
	replicas []*replica
	nextUser int // targets are drawn from u<nextUser> down, never twice
	seq      int // makes every new name unique
}

type replica struct {
	name   string // its application_name in pg_stat_activity
	log    string // its log file
	p      *proc.Proc
	conn   *grpc.ClientConn
	client userv1.UserServiceClient
}

// change is one measured single-row change.
type change struct {
	id          string
	afterBulk   int           // its place after the last bulk change: 1 is right after
	all         time.Duration // until the last replica answered the new name
	perReplica  []time.Duration
	failedPolls int
}

type terminateResult struct {
	cached               int
	notServing, caughtUp time.Duration
	calls, failed        int64
}

type importResult struct {
	users  int
	wall   time.Duration
	rssMiB float64
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("freshbench", flag.ContinueOnError)
	b := &bench{stdout: stdout}
	fs.StringVar(&b.userServer, "user-server", "", "path to the user-server binary (required)")
	fs.StringVar(&b.out, "out", "bench/results/freshness", "directory for logs, users files and the report")
	fs.StringVar(&b.url, "database-url", "", "an empty database to use instead of a throwaway PostgreSQL server (its user must be a superuser: seeding skips the triggers)")
	fs.IntVar(&b.rows, "rows", 1_000_000, "users seeded, and rows of each bulk UPDATE and INSERT")
	fs.IntVar(&b.importUsers, "import-users", 200_000, "users of each import in the import case")
	fs.IntVar(&b.bigImport, "big-import", 1_000_000, "users of the big import")
	fs.IntVar(&b.cached, "cached", 100_000, "users cached by the replica whose connections are terminated (its --database-cache-size)")
	fs.IntVar(&b.changes, "changes", 100, "single-row changes measured per freshness case")
	fs.IntVar(&b.bulkEvery, "bulk-every", 20, "in the bulk cases, changes measured after each bulk change")
	fs.IntVar(&b.warmup, "warmup", 5, "changes made, not measured, before the first case")
	casesFlag := fs.String("cases", strings.Join(allCases, ","), "cases to run, in this order")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if b.userServer == "" {
		return errors.New("-user-server is required")
	}
	cases := strings.Split(*casesFlag, ",")
	for _, c := range cases {
		if !slices.Contains(allCases, c) {
			return fmt.Errorf("unknown case %q (want some of %v)", c, allCases)
		}
	}
	if b.changes < 1 || b.bulkEvery < 1 || b.warmup < 0 || b.importUsers < 1 || b.bigImport < 1 || b.cached < 1 {
		return errors.New("-changes, -bulk-every, -import-users, -big-import and -cached must be positive")
	}
	// Targets come from the seeded users above the import's, and the
	// cached replica's fill from the seeded users too.
	if b.rows < b.importUsers+b.warmup+4*b.changes || b.rows < b.cached {
		return fmt.Errorf("-rows %d is too small: it must hold -import-users + -warmup + 4 × -changes (%d) and -cached (%d)",
			b.rows, b.importUsers+b.warmup+4*b.changes, b.cached)
	}
	b.nextUser = b.rows
	startLoad := loadAvg()
	if err := os.MkdirAll(b.out, 0o755); err != nil {
		return err
	}
	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	b.token = "bench-" + hex.EncodeToString(raw)
	b.tokensFile = filepath.Join(b.out, "tokens")
	if err := os.WriteFile(b.tokensFile, []byte(b.token+"\n"), 0o600); err != nil {
		return err
	}

	if b.url == "" {
		pg, err := pgtest.StartCluster()
		if err != nil {
			return err
		}
		defer pg.Destroy()
		b.url = pg.URL("postgres")
	}
	if out, err := exec.CommandContext(ctx, b.userServer, "migrate", "--database-url", b.url).CombinedOutput(); err != nil {
		return fmt.Errorf("migrate: %v\n%s", err, out)
	}
	db, err := pgx.Connect(ctx, b.url)
	if err != nil {
		return err
	}
	defer db.Close(context.Background())
	b.db = db
	start := time.Now()
	// Seeding is not a change replicas need to hear about: none runs yet.
	for _, sql := range []string{
		"SET session_replication_role = replica",
		fmt.Sprintf(`INSERT INTO users (id, name, email) SELECT 'u' || i, 'User ' || i, 'u' || i || '@example.com' FROM generate_series(1, %d) i`, b.rows),
		"RESET session_replication_role",
		"ANALYZE users",
	} {
		if _, err := db.Exec(ctx, sql); err != nil {
			return fmt.Errorf("seeding: %w", err)
		}
	}
	fmt.Fprintf(stdout, "freshbench: %d users seeded in %v\n", b.rows, time.Since(start).Round(time.Millisecond))

	defer b.stopReplicas()
	for i := range 3 {
		r, err := b.startReplica(ctx, i+1, "--log-level", "warn")
		if err != nil {
			return err
		}
		b.replicas = append(b.replicas, r)
	}
	for range b.warmup {
		if _, err := b.group(ctx, 1, nil); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}

	freshness := map[string][]change{}
	var term *terminateResult
	var big *importResult
	for _, c := range cases {
		start := time.Now()
		var err error
		switch c {
		case "alone":
			freshness[c], err = b.freshness(ctx, 1, nil, nil)
		case "bulk-update":
			freshness[c], err = b.freshness(ctx, b.bulkEvery, b.bulkUpdate, nil)
		case "bulk-insert":
			freshness[c], err = b.freshness(ctx, b.bulkEvery, b.bulkInsert, b.deleteInserted)
		case "import":
			freshness[c], err = b.freshness(ctx, b.bulkEvery, b.importGroup, nil)
		case "terminate":
			term, err = b.terminate(ctx)
		case "big-import":
			big, err = b.bigImportCase(ctx)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", c, err)
		}
		fmt.Fprintf(stdout, "  %s done in %v\n", c, time.Since(start).Round(time.Millisecond))
	}
	report(stdout, b, cases, freshness, term, big)
	fmt.Fprintf(stdout, "load average (1, 5, 15 min): %s at the start, %s at the end\n", startLoad, loadAvg())
	return nil
}

// startReplica starts user-server number n on the database; its sessions
// carry application_name freshbench-n.
func (b *bench) startReplica(ctx context.Context, n int, extra ...string) (*replica, error) {
	sep := "?"
	if strings.Contains(b.url, "?") {
		sep = "&"
	}
	r := &replica{name: fmt.Sprintf("freshbench-%d", n), log: filepath.Join(b.out, fmt.Sprintf("replica-%d.log", n))}
	_ = os.Remove(r.log)
	args := append([]string{"--auth-tokens-file", b.tokensFile, "--log-file", r.log,
		"--database-url", b.url + sep + "application_name=" + r.name}, extra...)
	p, err := proc.Start(ctx, proc.Spec{Path: b.userServer, Args: args})
	if err != nil {
		return nil, err
	}
	r.p = p
	r.conn, err = grpc.NewClient("passthrough:///"+p.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		p.Kill()
		return nil, err
	}
	r.client = userv1.NewUserServiceClient(r.conn)
	// NOT_SERVING until its database is reached.
	for deadline := time.Now().Add(giveUp); ; time.Sleep(20 * time.Millisecond) {
		hctx, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := healthpb.NewHealthClient(r.conn).Check(hctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return r, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			r.stop()
			return nil, fmt.Errorf("replica %d not SERVING: %v, %v", n, resp.GetStatus(), err)
		}
	}
}

func (r *replica) stop() {
	r.conn.Close()
	if err := r.p.Stop(10 * time.Second); err != nil {
		r.p.Kill()
	}
}

func (b *bench) stopReplicas() {
	for _, r := range b.replicas {
		r.stop()
	}
	b.replicas = nil
}

func (b *bench) lookup(ctx context.Context, r *replica, id string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := r.client.GetUserDetails(ctx, &userv1.GetUserDetailsRequest{UserId: id, AuthToken: b.token})
	return resp.GetName(), err
}

// freshness measures b.changes changes in groups of size; bulk, if not
// nil, makes the bulk change that precedes each group, and cleanup, if not
// nil, undoes it after the group, out of the measurement.
func (b *bench) freshness(ctx context.Context, size int, bulk func(ctx context.Context, round int) error, cleanup func(context.Context) error) ([]change, error) {
	var all []change
	for round := 1; len(all) < b.changes; round++ {
		bulkRound := func(ctx context.Context) error { return bulk(ctx, round) }
		if bulk == nil {
			bulkRound = nil
		}
		cs, err := b.group(ctx, min(size, b.changes-len(all)), bulkRound)
		if err != nil {
			return nil, err
		}
		all = append(all, cs...)
		if cleanup != nil {
			if err := cleanup(ctx); err != nil {
				return nil, err
			}
		}
	}
	return all, nil
}

// group picks n users, has every replica cache them, makes the bulk
// change (if any), and then changes each user's name in turn, measuring
// each change until every replica answers it.
func (b *bench) group(ctx context.Context, n int, bulk func(context.Context) error) ([]change, error) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "u" + strconv.Itoa(b.nextUser)
		b.nextUser--
		for _, r := range b.replicas {
			if _, err := b.lookup(ctx, r, ids[i]); err != nil {
				return nil, fmt.Errorf("caching %s on %s: %w", ids[i], r.name, err)
			}
		}
	}
	if bulk != nil {
		if err := bulk(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]change, n)
	for i, id := range ids {
		c, err := b.change(ctx, id)
		if err != nil {
			return nil, err
		}
		c.afterBulk = i + 1
		out[i] = c
	}
	return out, nil
}

// change commits one rename of id and waits until every replica answers it.
func (b *bench) change(ctx context.Context, id string) (change, error) {
	b.seq++
	name := "Fresh " + strconv.Itoa(b.seq)
	c := change{id: id, perReplica: make([]time.Duration, len(b.replicas))}
	tag, err := b.db.Exec(ctx, "UPDATE users SET name = $1 WHERE id = $2", name, id)
	if err != nil {
		return c, err
	}
	if tag.RowsAffected() != 1 {
		return c, fmt.Errorf("UPDATE of %s changed %d rows", id, tag.RowsAffected())
	}
	committed := time.Now()
	var failed atomic.Int64
	errs := make([]error, len(b.replicas))
	var wg sync.WaitGroup
	for i, r := range b.replicas {
		wg.Go(func() {
			for {
				got, err := b.lookup(ctx, r, id)
				if err == nil && got == name {
					c.perReplica[i] = time.Since(committed)
					return
				}
				if err != nil {
					failed.Add(1)
				}
				if time.Since(committed) > giveUp || ctx.Err() != nil {
					errs[i] = fmt.Errorf("%s still answers %q, not %q, %v after the commit (last error %v)", r.name, got, name, giveUp, err)
					return
				}
				time.Sleep(pollEvery)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	c.all = slices.Max(c.perReplica)
	c.failedPolls = int(failed.Load())
	return c, nil
}

// bulkUpdate touches every seeded row without changing what a lookup
// returns (the issue's `SET updated_at = now()`).
func (b *bench) bulkUpdate(ctx context.Context, _ int) error {
	tag, err := b.db.Exec(ctx, "UPDATE users SET updated_at = now() WHERE id LIKE 'u%'")
	if err == nil && tag.RowsAffected() < int64(b.rows) {
		err = fmt.Errorf("bulk UPDATE changed %d rows, want %d", tag.RowsAffected(), b.rows)
	}
	return err
}

// bulkInsert inserts -rows new users (deleteInserted removes them after
// the group).
func (b *bench) bulkInsert(ctx context.Context, round int) error {
	_, err := b.db.Exec(ctx, fmt.Sprintf(`INSERT INTO users (id, name, email)
		SELECT 'g%d-' || i, 'Bulk ' || i, 'g%d-' || i || '@example.com' FROM generate_series(1, %d) i`, round, round, b.rows))
	return err
}

func (b *bench) deleteInserted(ctx context.Context) error {
	_, err := b.db.Exec(ctx, "DELETE FROM users WHERE id LIKE 'g%'")
	return err
}

// importGroup imports -import-users users (u1, u2, ...), every one renamed
// (an import leaves unchanged users alone, which would be no change at all).
func (b *bench) importGroup(ctx context.Context, round int) error {
	file := filepath.Join(b.out, "import.json")
	if err := writeUsers(file, b.importUsers, fmt.Sprintf("Import %d user ", round)); err != nil {
		return err
	}
	defer os.Remove(file)
	out, err := exec.CommandContext(ctx, b.userServer, "import", "--database-url", b.url, "--users", file).CombinedOutput()
	if err != nil {
		return fmt.Errorf("import: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("%d users read, %d inserted or changed", b.importUsers, b.importUsers); !strings.Contains(string(out), want) {
		return fmt.Errorf("import said %q, want %q", strings.TrimSpace(string(out)), want)
	}
	return nil
}

// writeUsers writes a users file of n users u1…un named prefix+i.
func writeUsers(path string, n int, prefix string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	_, _ = w.WriteString(`{"users": [`)
	for i := 1; i <= n; i++ {
		if i > 1 {
			_, _ = w.WriteString(",\n")
		}
		fmt.Fprintf(w, `{"id": "u%d", "name": "%s%d", "email": "u%d@example.com"}`, i, prefix, i, i)
	}
	_, _ = w.WriteString("]}\n")
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// terminate fills a fourth replica's cache, then terminates its database
// sessions under load.
func (b *bench) terminate(ctx context.Context) (*terminateResult, error) {
	res := &terminateResult{cached: b.cached}
	r, err := b.startReplica(ctx, 4, "--database-cache-size", strconv.Itoa(b.cached))
	if err != nil {
		return nil, err
	}
	defer r.stop()
	// Fill the cache: u1…u<cached>, 32 calls at a time.
	var next atomic.Int64
	var fillErr atomic.Value
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.cached); i = next.Add(1) {
				if _, err := b.lookup(ctx, r, "u"+strconv.FormatInt(i, 10)); err != nil {
					fillErr.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := fillErr.Load().(error); err != nil {
		return nil, fmt.Errorf("filling the cache: %w", err)
	}

	// Health as the replica reports it, on a Watch stream.
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watch, err := healthpb.NewHealthClient(r.conn).Watch(wctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return nil, err
	}
	type event struct {
		at      time.Time
		serving bool
	}
	events := make(chan event, 64)
	first := make(chan struct{})
	go func() {
		defer close(events)
		for once := false; ; once = true {
			resp, err := watch.Recv()
			if err != nil {
				return
			}
			if !once {
				close(first)
			}
			events <- event{time.Now(), resp.GetStatus() == healthpb.HealthCheckResponse_SERVING}
		}
	}()
	select {
	case <-first:
	case <-time.After(giveUp):
		return nil, errors.New("no health Watch reply")
	}

	// Load: cached users, 4 callers, until the catch-up is logged.
	lctx, stopLoad := context.WithCancel(ctx)
	var calls, failed atomic.Int64
	var load sync.WaitGroup
	for range 4 {
		load.Go(func() {
			for lctx.Err() == nil {
				_, err := b.lookup(lctx, r, "u"+strconv.Itoa(1+mrand.IntN(b.cached)))
				if lctx.Err() != nil {
					return
				}
				calls.Add(1)
				if err != nil {
					failed.Add(1)
				}
			}
		})
	}
	time.Sleep(200 * time.Millisecond) // the load under way
	// The log (at INFO: an access line per call) is read from here on.
	logFrom, err := fileSize(r.log)
	if err != nil {
		stopLoad()
		return nil, err
	}
	start := time.Now()
	var n int
	if err := b.db.QueryRow(ctx, "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE application_name = $1", r.name).Scan(&n); err != nil {
		stopLoad()
		return nil, err
	}
	if n == 0 {
		stopLoad()
		return nil, fmt.Errorf("no session of %s to terminate", r.name)
	}
	caughtUp, err := waitLogLine(ctx, r.log, logFrom, start, "listener reconnected, cache caught up")
	time.Sleep(200 * time.Millisecond) // and a little more load after
	stopLoad()
	load.Wait()
	if err != nil {
		return nil, err
	}
	res.caughtUp = caughtUp.Sub(start)
	res.calls, res.failed = calls.Load(), failed.Load()
	stopWatch()
	var down time.Time
	for e := range events {
		switch {
		case !e.serving && down.IsZero():
			down = e.at
		case e.serving && !down.IsZero():
			res.notServing += e.at.Sub(down)
			down = time.Time{}
		}
	}
	if !down.IsZero() {
		return nil, errors.New("the replica was still NOT_SERVING at the end")
	}
	return res, nil
}

func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// waitLogLine waits until the text log at path has, past offset, a line
// holding msg written at or after since, and returns the line's time (the
// log is flushed every 100 ms).
func waitLogLine(ctx context.Context, path string, offset int64, since time.Time, msg string) (time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	var text []byte
	for deadline := time.Now().Add(giveUp); ; time.Sleep(20 * time.Millisecond) {
		more, err := io.ReadAll(io.NewSectionReader(f, offset, 1<<62))
		if err != nil {
			return time.Time{}, err
		}
		offset += int64(len(more))
		text = append(text, more...)
		// Only whole lines; the rest waits for the next read.
		end := strings.LastIndexByte(string(text), '\n') + 1
		lines := string(text[:end])
		text = text[end:]
		for line := range strings.Lines(lines) {
			if !strings.Contains(line, msg) {
				continue
			}
			ts, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
			at, err := time.Parse(time.RFC3339Nano, ts)
			if err != nil {
				return time.Time{}, fmt.Errorf("log line %q: %w", line, err)
			}
			// The log's times are to the millisecond.
			if !at.Before(since.Truncate(time.Millisecond)) {
				return at, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return time.Time{}, fmt.Errorf("no %q line in %s within %v", msg, path, giveUp)
		}
	}
}

// bigImportCase imports a -big-import-user file, every user new or
// renamed, while the replicas run.
func (b *bench) bigImportCase(ctx context.Context) (*importResult, error) {
	file := filepath.Join(b.out, "big-import.json")
	if err := writeUsers(file, b.bigImport, "Big import user "); err != nil {
		return nil, err
	}
	defer os.Remove(file)
	cmd := exec.CommandContext(ctx, b.userServer, "import", "--database-url", b.url, "--users", file)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// The peak RSS is the process's VmHWM, read until it exits (the last
	// reading misses at most the final pollEvery*20). Not getrusage's
	// ru_maxrss: os/exec starts the child sharing this process's memory
	// until exec, and ru_maxrss counts that too.
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var peakKiB int64
	var err error
	for waiting := true; waiting; {
		if st, serr := procstat.ReadStatus(cmd.Process.Pid); serr == nil {
			peakKiB = max(peakKiB, st.PeakRSSKiB)
		}
		select {
		case err = <-done:
			waiting = false
		case <-time.After(20 * pollEvery):
		}
	}
	wall := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("import: %v\n%s", err, &out)
	}
	if peakKiB == 0 {
		return nil, errors.New("no VmHWM read for the import process")
	}
	return &importResult{users: b.bigImport, wall: wall, rssMiB: float64(peakKiB) / 1024}, nil
}

func report(w io.Writer, b *bench, cases []string, fresh map[string][]change, term *terminateResult, big *importResult) {
	if len(fresh) > 0 {
		fmt.Fprintln(w, "\nFreshness through 3 replicas (COMMIT until all answer the new name):")
		fmt.Fprintf(w, "  %-12s %7s %9s %9s %9s %s\n", "case", "changes", "p50", "p99", "max", "slowest (user: place after the bulk change, per replica)")
	}
	for _, c := range cases {
		cs, ok := fresh[c]
		if !ok {
			continue
		}
		lat := make([]time.Duration, len(cs))
		for i, x := range cs {
			lat[i] = x.all
		}
		slices.Sort(lat)
		slowest := slices.MaxFunc(cs, func(a, b change) int { return int(a.all - b.all) })
		mark := ""
		if h2load.Percentile(lat, 99) > freshnessGoal {
			mark = "  > goal"
		}
		fmt.Fprintf(w, "  %-12s %7d %9v %9v %9v %s: #%d, %v%s\n", c, len(cs),
			ms(h2load.Percentile(lat, 50)), ms(h2load.Percentile(lat, 99)), ms(lat[len(lat)-1]),
			slowest.id, slowest.afterBulk, msAll(slowest.perReplica), mark)
	}
	if term != nil {
		fmt.Fprintf(w, "\nTerminated sessions, %d users cached: NOT_SERVING %v, caught up after %v, %d of %d calls failed\n",
			term.cached, ms(term.notServing), ms(term.caughtUp), term.failed, term.calls)
	}
	if big != nil {
		fmt.Fprintf(w, "\nImport of %d users: %v wall, %.0f MiB peak RSS\n", big.users, big.wall.Round(100*time.Millisecond), big.rssMiB)
	}
	// Every change, for a closer look.
	var sb strings.Builder
	for _, c := range cases {
		for i, x := range fresh[c] {
			fmt.Fprintf(&sb, "%s\t%d\t%s\t%d\t%v\t%v\t%d\n", c, i+1, x.id, x.afterBulk, ms(x.all), msAll(x.perReplica), x.failedPolls)
		}
	}
	if sb.Len() > 0 {
		path := filepath.Join(b.out, "changes.tsv")
		if err := os.WriteFile(path, []byte("case\tn\tuser\tafter_bulk\tall\tper_replica\tfailed_polls\n"+sb.String()), 0o644); err == nil {
			fmt.Fprintf(w, "\nEvery change: %s\n", path)
		}
	}
}

// ms rounds d for display: to 0.1 ms.
func ms(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }

func msAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = ms(d)
	}
	return out
}

// loadAvg is the machine's load average, the first three fields of
// /proc/loadavg: the figures depend on what else runs.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
