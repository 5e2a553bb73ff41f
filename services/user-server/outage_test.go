package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/user-service/services/user-server/internal/testwait"
	"github.com/acme/user-service/testkit/pgtest"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// TestOutageIsOneEvent: losing the database is one ERROR line (down) and
// one INFO line (up again), however many lookups it fails meanwhile. Those
// misses are UNAVAILABLE, counted in full by the metrics, and logged at WARN
// through a sampler (bursts of 100, then 10 a second), so an outage under
// load neither pages twice nor fills the disk.
func TestOutageIsOneEvent(t *testing.T) {
	t.Parallel()
	cluster := pgtest.NewCluster(t)
	url := cluster.CreateDatabase(t)
	if _, err := runCmd(t, nil, "migrate", "--database-url", url); err != nil {
		t.Fatal(err)
	}
	if _, err := runCmd(t, nil, "import", "--database-url", url, "--users", writeFile(t, "users.json", usersJSON("ann"))); err != nil {
		t.Fatal(err)
	}
	srv := startRun(t, nil, "--database-url", url, "--metrics-listen", "127.0.0.1:0")
	scrapeURL := metricsURL(t, srv.lines)
	conn := dial(t, srv.addr, nil)
	waitServing(t, conn)
	if _, err := lookup(t.Context(), conn, "ann"); err != nil { // now cached
		t.Fatal(err)
	}

	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, "NOT_SERVING", func() bool { return health(t.Context(), conn) == healthpb.HealthCheckResponse_NOT_SERVING })
	// More misses than the sampler's burst, from several callers at once.
	const misses = 400
	var next, wrong atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := next.Add(1); i <= misses; i = next.Add(1) {
				if _, err := lookup(t.Context(), conn, fmt.Sprintf("missing-%d", i)); status.Code(err) != codes.Unavailable {
					wrong.Add(1)
					t.Errorf("miss during the outage: %v, want Unavailable", err)
				}
			}
		})
	}
	wg.Wait()
	if wrong.Load() != 0 {
		t.FailNow()
	}
	// (Fail at once, not after the wait below, if misses are errors.)
	testwait.Until(t, "the misses' lines flushed", func() bool { return strings.Contains(srv.stderr.String(), "code=Unavailable") })
	if l := regexp.MustCompile(`level=ERROR msg=rpc .* code=Unavailable .*`).FindString(srv.stderr.String()); l != "" {
		t.Fatalf("a miss during the outage logged at ERROR: %s", l)
	}
	// The sampler says how many lines it left out on the next line it lets
	// through (a tenth of a second later at 10 a second); the log is
	// flushed every 100 ms.
	total := misses
	suppressed := regexp.MustCompile(`code=Unavailable .* suppressed=\d+`)
	testwait.Until(t, "a line saying how many misses were left out", func() bool {
		total++
		if _, err := lookup(t.Context(), conn, fmt.Sprintf("missing-%d", total)); status.Code(err) != codes.Unavailable {
			t.Fatalf("miss during the outage: %v, want Unavailable", err)
		}
		return suppressed.MatchString(srv.stderr.String())
	})
	elapsed := time.Since(start)
	if _, err := lookup(t.Context(), conn, "ann"); err != nil {
		t.Fatalf("cached user during the outage: %v", err)
	}
	// Every miss is counted, logged or not.
	families := scrape(t, scrapeURL)
	if n := value(t, families, "user_server_db_errors_total", nil); n != float64(total) {
		t.Errorf("user_server_db_errors_total = %v, want %d", n, total)
	}
	if n := value(t, families, "grpc_server_call_duration_seconds", map[string]string{"grpc_method": strings.TrimPrefix(getUserMethod, "/"), "grpc_status": "UNAVAILABLE"}); n != float64(total) {
		t.Errorf("UNAVAILABLE calls counted = %v, want %d", n, total)
	}

	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	waitServing(t, conn)
	testwait.Until(t, "misses answered again", func() bool {
		_, err := lookup(t.Context(), conn, "missing-1")
		return status.Code(err) == codes.NotFound
	})
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}

	logs := srv.stderr.String()
	if n := strings.Count(logs, "level=ERROR"); n != 1 {
		t.Errorf("%d ERROR lines for one outage, want 1 (the transition):\n%s", n, logs)
	}
	if !strings.Contains(logs, "level=ERROR msg=\"user database unreachable") {
		t.Errorf("the ERROR line is not the outage's:\n%s", logs)
	}
	if n := strings.Count(logs, "user database connected"); n != 2 {
		t.Errorf("%d \"connected\" lines, want 2 (start, recovery):\n%s", n, logs)
	}
	unavailable := regexp.MustCompile(`(?m)^time=\S+ level=(\w+) msg=rpc method=` + regexp.QuoteMeta(getUserMethod) + ` code=Unavailable .*$`)
	lines := unavailable.FindAllStringSubmatch(logs, -1)
	for _, l := range lines {
		if l[1] != "WARN" {
			t.Errorf("a miss during the outage logged at %s: %s", l[1], l[0])
			break
		}
	}
	// What the sampler can let through in the time the misses took, plus
	// one second's worth of slack.
	bound := min(total-1, 100+10*int(elapsed.Seconds()+1)+10)
	t.Logf("%d misses in %v: %d access lines", total, elapsed, len(lines))
	if len(lines) == 0 || len(lines) > bound {
		t.Errorf("%d access lines for %d misses in %v, want 1 to %d", len(lines), total, elapsed, bound)
	}
}

// TestOutageWhileConnecting: a replica whose database has not answered yet
// (here: a host that accepts and never replies) answers misses UNAVAILABLE
// like an outage, at WARN: it is NOT_SERVING, nothing is broken yet.
func TestOutageWhileConnecting(t *testing.T) {
	t.Parallel()
	silent := silentListener(t)
	// Connecting waits long enough for the lookup to land while it does.
	url := "postgres://u:p@" + silent + "/postgres?sslmode=disable&connect_timeout=600"
	srv := startRun(t, nil, "--database-url", url)
	conn := dial(t, srv.addr, nil)
	if st := health(t.Context(), conn); st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health while connecting = %v, want NOT_SERVING", st)
	}
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	if _, err := lookup(ctx, conn, "ann"); status.Code(err) != codes.Unavailable {
		t.Fatalf("lookup while connecting: %v, want Unavailable", err)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	logs := srv.stderr.String()
	if !strings.Contains(logs, "level=WARN msg=rpc method="+getUserMethod+" code=Unavailable") {
		t.Errorf("the miss while connecting is not a WARN access line:\n%s", logs)
	}
	if strings.Contains(logs, "level=ERROR") {
		t.Errorf("an ERROR line while the database is still being reached:\n%s", logs)
	}
}
