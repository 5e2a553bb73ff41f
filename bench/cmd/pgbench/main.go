// Command pgbench measures user-server with its directory in PostgreSQL
// against the in-memory directory, in the same run:
//
//   - memory and postgres-warm: h2load asks for john123 over and over (as
//     bench/cmd/loadbench does), so the PostgreSQL store answers from its
//     warm cache; server CPU per RPC from /proc/PID/stat;
//   - memory-client: the in-memory directory under the Go client below,
//     its baseline;
//   - postgres-miss: a Go client asks for distinct ids, none cached yet,
//     so every lookup is a query: CPU per RPC and p99;
//   - postgres-uniform: uniformly random ids over the whole table (a
//     million users by default) at the default cache cap: the replica's
//     RSS at the end, and its CPU per RPC with that hit rate.
//
// It starts a throwaway PostgreSQL server (testkit/pgtest: initdb, pg_ctl;
// as the postgres user when run as root), migrates it with `user-server
// migrate`, seeds it with generate_series, and removes it at the end. Configurations are
// interleaved round by round and each run starts a fresh server process.
// It pins itself, and with it the database and h2load it starts, to
// -load-cpu, and each user-server to -server-cpu (taskset, as loadbench
// pins h2load and the servers), so the server measured has a CPU of its own.
package main

import (
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
	"syscall"
	"time"

	"github.com/acme/user-service/bench/internal/h2load"
	"github.com/acme/user-service/bench/internal/procstat"
	"github.com/acme/user-service/bench/internal/reference"
	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/testkit/pgtest"
	"github.com/acme/user-service/testkit/proc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pgbench:", err)
		os.Exit(1)
	}
}

var allConfigs = []string{"memory", "postgres-warm", "memory-client", "postgres-miss", "postgres-uniform"}

type bench struct {
	userServer, out, url string
	token, tokensFile    string
	users, n, missN      int
	uniformN, conc       int
	serverCPU, loadCPU   int
}

type result struct {
	config    string
	round     int
	rps       float64
	p50, p99  time.Duration
	cpuPerRPC float64 // µs
	rssMiB    float64
	errors    int
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pgbench", flag.ContinueOnError)
	b := &bench{}
	fs.StringVar(&b.userServer, "user-server", "", "path to the user-server binary (required)")
	fs.StringVar(&b.out, "out", "bench/results/postgres", "directory for logs and the report")
	fs.IntVar(&b.users, "users", 1_000_000, "users in the table")
	fs.IntVar(&b.n, "n", 200_000, "h2load requests per memory / postgres-warm run")
	fs.IntVar(&b.missN, "miss-n", 50_000, "requests per postgres-miss run (distinct ids)")
	fs.IntVar(&b.uniformN, "uniform-n", 300_000, "requests per postgres-uniform run")
	fs.IntVar(&b.conc, "concurrency", 32, "concurrent calls of the Go client")
	fs.IntVar(&b.serverCPU, "server-cpu", 0, "CPU the user-server is pinned to")
	fs.IntVar(&b.loadCPU, "load-cpu", 1, "CPU this process, its Go client, h2load and the database are pinned to")
	rounds := fs.Int("rounds", 3, "rounds; each runs every configuration once")
	configs := fs.String("configs", strings.Join(allConfigs, ","), "configurations to run, in order")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if b.userServer == "" {
		return errors.New("-user-server is required")
	}
	cfgs := strings.Split(*configs, ",")
	for _, c := range cfgs {
		if !slices.Contains(allConfigs, c) {
			return fmt.Errorf("unknown configuration %q (want some of %v)", c, allConfigs)
		}
	}
	if b.missN > b.users || b.users < 1 {
		return errors.New("-miss-n must not exceed -users")
	}
	if b.serverCPU == b.loadCPU {
		return errors.New("-server-cpu and -load-cpu must differ: the server measured needs a CPU of its own")
	}
	if err := pinSelf(b.loadCPU); err != nil {
		return err
	}
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

	pg, err := pgtest.StartCluster()
	if err != nil {
		return err
	}
	defer pg.Destroy()
	b.url = pg.URL("postgres")
	if out, err := exec.CommandContext(ctx, b.userServer, "migrate", "--database-url", b.url).CombinedOutput(); err != nil {
		return fmt.Errorf("migrate: %v\n%s", err, out)
	}
	start := time.Now()
	// Seeding is not a change replicas need to hear about: no replica runs
	// yet, and a million notifications would only slow it down.
	seed := fmt.Sprintf(`SET session_replication_role = replica;
		INSERT INTO users (id, name, email) VALUES ('john123', 'John Doe', 'john123@example.com');
		INSERT INTO users (id, name, email) SELECT 'u' || i, 'User ' || i, 'u' || i || '@example.com' FROM generate_series(1, %d) i;
		ANALYZE users;`, b.users)
	if err := psql(ctx, pg, b.url, seed); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pgbench: %d users seeded in %v; %d rounds; user-server on CPU %d, load and database on CPU %d\n", b.users+1, time.Since(start).Round(time.Millisecond), *rounds, b.serverCPU, b.loadCPU)

	var results []result
	for r := 1; r <= *rounds; r++ {
		for _, cfg := range cfgs {
			res, err := b.runOne(ctx, cfg, r)
			if err != nil {
				return fmt.Errorf("%s round %d: %w", cfg, r, err)
			}
			fmt.Fprintf(stdout, "  %-16s round %d: %8.0f req/s  p50 %-9v p99 %-9v %6.2f µs CPU/RPC  RSS %.1f MiB  errors %d\n",
				res.config, r, res.rps, res.p50, res.p99, res.cpuPerRPC, res.rssMiB, res.errors)
			results = append(results, res)
		}
	}
	report(stdout, results)
	return nil
}

func (b *bench) runOne(ctx context.Context, cfg string, round int) (result, error) {
	res := result{config: cfg, round: round}
	logFile := filepath.Join(b.out, fmt.Sprintf("%s-%d.log", cfg, round))
	_ = os.Remove(logFile)
	args := []string{"--auth-tokens-file", b.tokensFile, "--log-file", logFile, "--log-level", "warn"}
	if !strings.HasPrefix(cfg, "memory") {
		args = append(args, "--database-url", b.url)
	}
	p, err := proc.Start(ctx, proc.Spec{Path: b.userServer, Args: args, CPUs: strconv.Itoa(b.serverCPU)})
	if err != nil {
		return res, err
	}
	defer func() {
		if !p.Exited() {
			p.Kill()
		}
	}()
	conn, err := grpc.NewClient("passthrough:///"+p.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return res, err
	}
	defer conn.Close()
	// The database store starts NOT_SERVING until connected; the check
	// retries until the reference call succeeds.
	if err := waitReference(ctx, conn, b.token); err != nil {
		return res, err
	}
	var measure func() error
	switch cfg {
	case "memory", "postgres-warm":
		measure = func() error { return b.h2load(ctx, p.Addr, cfg, round, &res) }
	case "memory-client":
		// The Go client's baseline: the in-memory directory, john123.
		measure = func() error {
			return b.client(ctx, conn, b.missN, func(int) string { return reference.UserID }, &res)
		}
	case "postgres-miss":
		// Ids never asked of this process: every lookup misses the cache.
		measure = func() error {
			return b.client(ctx, conn, b.missN, func(i int) string { return "u" + strconv.Itoa(1+i) }, &res)
		}
	case "postgres-uniform":
		measure = func() error {
			return b.client(ctx, conn, b.uniformN, func(int) string { return "u" + strconv.Itoa(1+mrand.IntN(b.users)) }, &res)
		}
	}
	before, err := procstat.CPU(p.PID)
	if err != nil {
		return res, err
	}
	if err := measure(); err != nil {
		return res, err
	}
	time.Sleep(100 * time.Millisecond)
	after, err := procstat.CPU(p.PID)
	if err != nil {
		return res, err
	}
	st, err := procstat.ReadStatus(p.PID)
	if err != nil {
		return res, err
	}
	res.rssMiB = float64(st.RSSKiB) / 1024
	requests := b.n
	switch cfg {
	case "postgres-miss", "memory-client":
		requests = b.missN
	case "postgres-uniform":
		requests = b.uniformN
	}
	res.cpuPerRPC = float64((after - before).Microseconds()) / float64(requests)
	return res, p.Stop(10 * time.Second)
}

func waitReference(ctx context.Context, conn *grpc.ClientConn, token string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := reference.Check(ctx, conn, token)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// h2load runs a warm-up and a measured run of the reference request.
func (b *bench) h2load(ctx context.Context, addr, cfg string, round int, res *result) error {
	frame, err := h2load.Frame(&userv1.GetUserDetailsRequest{UserId: reference.UserID, AuthToken: b.token})
	if err != nil {
		return err
	}
	body := filepath.Join(b.out, "request.bin")
	if err := os.WriteFile(body, frame, 0o644); err != nil {
		return err
	}
	tsv := filepath.Join(b.out, fmt.Sprintf("%s-%d.h2load.tsv", cfg, round))
	o := h2load.Options{URL: "http://" + addr + "/user.v1.UserService/GetUserDetails", BodyFile: body, Requests: b.n, Connections: 4, Streams: 13, LogFile: tsv}
	out, err := exec.CommandContext(ctx, "h2load", o.Args()...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("h2load: %w\n%s", err, out)
	}
	r, err := h2load.Parse(string(out))
	if err != nil {
		return err
	}
	ok, err := r.OKCount(5 + proto.Size(reference.Response))
	if err != nil {
		return err
	}
	lat, err := h2load.Latencies(tsv)
	if err != nil {
		return err
	}
	_ = os.Remove(tsv)
	res.rps, res.errors = r.ReqPerSec, r.Failed+r.Errored+r.Timeout+(b.n-ok)
	res.p50, res.p99 = h2load.Percentile(lat, 50), h2load.Percentile(lat, 99)
	return nil
}

// client makes n calls, b.conc at a time, asking for idAt(i).
func (b *bench) client(ctx context.Context, conn *grpc.ClientConn, n int, idAt func(int) string, res *result) error {
	c := userv1.NewUserServiceClient(conn)
	lat := make([]time.Duration, n)
	var next, failed int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range b.conc {
		wg.Go(func() {
			for {
				mu.Lock()
				i := int(next)
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				t0 := time.Now()
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				_, err := c.GetUserDetails(cctx, &userv1.GetUserDetailsRequest{UserId: idAt(i), AuthToken: b.token})
				cancel()
				lat[i] = time.Since(t0)
				if err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	slices.Sort(lat)
	res.rps = float64(n) / time.Since(start).Seconds()
	res.p50 = h2load.Percentile(lat, 50).Round(time.Microsecond)
	res.p99 = h2load.Percentile(lat, 99).Round(time.Microsecond)
	res.errors = int(failed)
	return ctx.Err()
}

func report(w io.Writer, rs []result) {
	med := func(cfg string, f func(result) float64) float64 {
		var xs []float64
		for _, r := range rs {
			if r.config == cfg {
				xs = append(xs, f(r))
			}
		}
		slices.Sort(xs)
		if len(xs) == 0 {
			return 0
		}
		return xs[len(xs)/2]
	}
	fmt.Fprintln(w, "\nMedian over rounds:")
	for _, cfg := range allConfigs {
		if !slices.ContainsFunc(rs, func(r result) bool { return r.config == cfg }) {
			continue
		}
		fmt.Fprintf(w, "  %-16s %8.0f req/s  p50 %-9v p99 %-9v %6.2f µs CPU/RPC  RSS %.1f MiB\n", cfg,
			med(cfg, func(r result) float64 { return r.rps }),
			time.Duration(med(cfg, func(r result) float64 { return float64(r.p50) })).Round(time.Microsecond),
			time.Duration(med(cfg, func(r result) float64 { return float64(r.p99) })).Round(time.Microsecond),
			med(cfg, func(r result) float64 { return r.cpuPerRPC }),
			med(cfg, func(r result) float64 { return r.rssMiB }))
	}
	// Same-round ratios, as loadbench: runs made close together in time.
	var ratios []float64
	for _, r := range rs {
		for _, m := range rs {
			if r.config == "postgres-warm" && m.config == "memory" && m.round == r.round && m.cpuPerRPC > 0 {
				ratios = append(ratios, r.cpuPerRPC/m.cpuPerRPC)
			}
		}
	}
	slices.Sort(ratios)
	if len(ratios) > 0 {
		fmt.Fprintf(w, "postgres-warm/memory CPU per RPC, per round: %.2f; median %.2fx\n", ratios, ratios[len(ratios)/2])
	}
}

// pinSelf pins every thread of this process to cpu; the threads and
// processes it starts from now on inherit it (user-servers are pinned
// apart by proc.Spec.CPUs).
func pinSelf(cpu int) error {
	out, err := exec.Command("taskset", "-a", "-p", "-c", strconv.Itoa(cpu), strconv.Itoa(os.Getpid())).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pinning to CPU %d (taskset, util-linux): %v: %s", cpu, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// psql runs sql in the database at url with the cluster's psql: several
// statements, one session.
func psql(ctx context.Context, pg *pgtest.Cluster, url, sql string) error {
	out, err := exec.CommandContext(ctx, pg.Bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql).CombinedOutput()
	if err != nil {
		return fmt.Errorf("psql: %v\n%s", err, out)
	}
	return nil
}
