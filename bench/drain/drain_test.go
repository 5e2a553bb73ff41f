package drain

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/testkit"
	"github.com/acme/user-service/testkit/gobuild"
	"github.com/acme/user-service/testkit/proc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

const (
	token           = "drain-test-token"
	shutdownTimeout = 5 * time.Second
	conns           = 4
	workersPerConn  = 8
	maxRPCs         = 300_000                // hard bound on the load, whatever the timing
	afterExit       = 200 * time.Millisecond // keep calling once the server is gone
)

// outcome is one RPC as the client saw it.
type outcome struct {
	start, end time.Time
	code       codes.Code
}

// TestDrainUnderLoad builds the real server, drives it with steady
// concurrent unary load, sends SIGTERM mid-run and checks every RPC:
//   - every outcome is OK or Unavailable, never another code, never a hang
//     (each RPC has a deadline well past the shutdown timeout);
//   - every RPC that finished before the signal is OK; every RPC started
//     after the process exited is Unavailable;
//   - the server's access log holds exactly as many OK RPCs as the client
//     received and no failed one: every RPC the server accepted completed OK
//     at the client, so the Unavailable ones were never accepted;
//   - the process exits 0 within --shutdown-timeout.
func TestMain(m *testing.M) { testkit.Main(m) }

func TestDrainUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	dir := t.TempDir()
	// Plain, as it runs in production: the race detector would slow the
	// server under the load this test measures.
	bin := gobuild.PlainBinary(t, "../../services/user-server")
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "server.log")
	var out testkit.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	p := proc.StartT(t, proc.Spec{
		Path: bin,
		Args: []string{"--auth-tokens-file", tokens, "--log-file", logFile, "--log-format", "json",
			"--shutdown-timeout", shutdownTimeout.String()},
		Stdout: &out, Stderr: &out,
	})

	var (
		mu       sync.Mutex
		outcomes []outcome
		issued   atomic.Int64
		okCount  atomic.Int64
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	req := &userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: token}
	for range conns {
		cc, err := grpc.NewClient("passthrough:///"+p.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cc.Close() })
		client := userv1.NewUserServiceClient(cc)
		for range workersPerConn {
			wg.Go(func() {
				var local []outcome
				defer func() { mu.Lock(); outcomes = append(outcomes, local...); mu.Unlock() }()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if issued.Add(1) > maxRPCs {
						return
					}
					start := time.Now()
					rctx, rcancel := context.WithTimeout(ctx, 2*shutdownTimeout)
					resp, err := client.GetUserDetails(rctx, req)
					rcancel()
					o := outcome{start: start, end: time.Now(), code: status.Code(err)}
					if err == nil && resp.GetStatus() != "Success" {
						o.code = codes.Unknown // an OK reply must be the real one
					}
					local = append(local, o)
					if o.code == codes.OK {
						okCount.Add(1)
					} else {
						time.Sleep(time.Millisecond) // no hot loop against a closed port
					}
				}
			})
		}
	}

	// Steady load first, then the signal mid-run.
	for deadline := time.Now().Add(5 * time.Second); okCount.Load() < 5000 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	sigAt := time.Now()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exitErr := p.Wait(shutdownTimeout)
	exitedAt := time.Now()
	time.Sleep(afterExit)
	close(stop)
	wg.Wait()

	if exitErr != nil {
		t.Fatalf("server did not exit 0 within --shutdown-timeout %v: %v\nserver output:\n%s", shutdownTimeout, exitErr, out.String())
	}
	t.Logf("server exited 0 %v after SIGTERM", exitedAt.Sub(sigAt).Round(time.Millisecond))

	var okBefore, drained, okAfter, unavailable, afterExitCount int
	for _, o := range outcomes {
		switch {
		case o.code != codes.OK && o.code != codes.Unavailable:
			t.Errorf("RPC started %v after SIGTERM ended with %v; want only OK or Unavailable", o.start.Sub(sigAt), o.code)
		case o.end.Before(sigAt) && o.code != codes.OK:
			t.Errorf("RPC that finished before SIGTERM ended with %v", o.code)
		case o.start.After(exitedAt) && o.code != codes.Unavailable:
			t.Errorf("RPC started after the server exited ended with %v, want Unavailable", o.code)
		}
		switch {
		case o.code == codes.OK && o.end.Before(sigAt):
			okBefore++
		case o.code == codes.OK && o.start.Before(sigAt):
			drained++
		case o.code == codes.OK:
			okAfter++
		default:
			unavailable++
		}
		if o.start.After(exitedAt) {
			afterExitCount++
		}
	}
	t.Logf("%d RPCs: %d OK before SIGTERM, %d in flight at SIGTERM drained OK, %d started after SIGTERM OK, %d Unavailable (%d started after exit)",
		len(outcomes), okBefore, drained, okAfter, unavailable, afterExitCount)
	if drained == 0 {
		t.Error("no RPC was in flight at SIGTERM: the test did not exercise draining")
	}
	if afterExitCount == 0 {
		t.Error("no RPC started after the server exited: the test did not exercise refusal")
	}

	// Server side: every RPC it accepted was logged with its code.
	logged := readAccessLog(t, logFile)
	clientOK := okBefore + drained + okAfter
	if logged[codes.OK.String()] != clientOK {
		t.Errorf("server logged %d OK RPCs, client received %d OK: an accepted RPC was lost", logged[codes.OK.String()], clientOK)
	}
	for code, n := range logged {
		if code != codes.OK.String() {
			t.Errorf("server logged %d RPCs with %s", n, code)
		}
	}
}

// readAccessLog counts the server's JSON access-log lines by code.
func readAccessLog(t *testing.T, path string) map[string]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line struct {
			Msg, Method, Code string
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("%s: not a JSON log line: %q", path, sc.Text())
		}
		if line.Msg == "rpc" && line.Method == userv1.UserService_GetUserDetails_FullMethodName {
			counts[line.Code]++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return counts
}
