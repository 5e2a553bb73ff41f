package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/testkit/gobuild"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// status reads a field of /proc/PID/status in KiB (VmRSS, VmHWM).
func (p *binProc) status(t *testing.T, field string) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.PID))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, p.PID)
	return 0
}

// padding returns n copies of one 4,000-byte header: HPACK sends the value
// once and then one byte a copy, so the wire stays small while the decoded
// header list grows by about 4 KiB a copy.
func padding(n int) []hpack.HeaderField {
	f := hpack.HeaderField{Name: "x-pad", Value: strings.Repeat("p", 4000)}
	out := make([]hpack.HeaderField, n)
	for i := range out {
		out[i] = f
	}
	return out
}

const getUserMethod = userv1.UserService_GetUserDetails_FullMethodName

// TestBinaryHardening runs the real binary against hostile clients: raw
// HTTP/2 frames test the header limit (advertised and enforced; a flood of
// streams with huge headers and no body leaves memory bounded while a
// normal client is served); open streams and signals test the shutdown.
func TestBinaryHardening(t *testing.T) {
	t.Parallel()
	// Without the race detector, whose shadow memory would swamp the
	// memory measurement.
	bin := gobuild.PlainBinary(t, ".")

	t.Run("open Watch does not hold the shutdown", func(t *testing.T) {
		t.Parallel()
		p := startBinary(t, bin, nil, "--shutdown-timeout", "10m")
		conn := dial(t, p.addr, nil)
		watch := openWatch(t, conn)
		if err := p.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if r, err := watch.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("watcher not told NOT_SERVING: %v, %v", r, err)
		}
		if _, err := watch.Recv(); status.Code(err) != codes.Unavailable {
			t.Errorf("Watch after NOT_SERVING: %v, want Unavailable", err)
		}
		if err := p.waitExit(t); err != nil {
			t.Fatalf("exit: %v; stderr:\n%s", err, p.stderr)
		}
		logs := p.logs(t)
		if !strings.Contains(logs, "msg=stopped") || strings.Contains(logs, "shutdown timeout") {
			t.Errorf("shutdown did not drain cleanly:\n%s", logs)
		}
	})

	t.Run("second signal stops at once", func(t *testing.T) {
		t.Parallel()
		p := startBinary(t, bin, nil, "--shutdown-timeout", "10m", "--request-timeout", "10m")
		conn := dial(t, p.addr, nil)
		watch := openWatch(t, conn)
		// A unary RPC whose message never comes: the drain waits for it.
		if _, err := conn.NewStream(t.Context(), &grpc.StreamDesc{StreamName: "GetUserDetails"}, getUserMethod); err != nil {
			t.Fatal(err)
		}
		if _, err := getUser(t.Context(), conn, "valid-token"); err != nil {
			t.Fatal(err)
		}
		if err := p.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		// NOT_SERVING: the first signal was handled, the drain is waiting.
		if r, err := watch.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("shutdown did not start: %v, %v", r, err)
		}
		if err := p.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		if err := p.waitExit(t); err != nil {
			t.Fatalf("exit: %v; stderr:\n%s", err, p.stderr)
		}
		logs := p.logs(t)
		if !strings.Contains(logs, "second signal: stopping now") {
			t.Errorf("log lacks the forced stop (flushed before exit):\n%s", logs)
		}
	})

	t.Run("oversized headers refused", func(t *testing.T) {
		t.Parallel()
		p := startBinary(t, bin, nil)
		h := dialH2(t, p.addr)
		if v, ok := h.setting(http2.SettingMaxHeaderListSize); !ok || v != 16<<10 {
			t.Errorf("server SETTINGS_MAX_HEADER_LIST_SIZE = %d (sent: %v), want %d", v, ok, 16<<10)
		}
		big := h.openStream(h.grpcHeaders(getUserMethod, padding(5)...)) // ~20 KB decoded
		ok := h.openStream(h.grpcHeaders(getUserMethod, padding(3)...))  // ~12 KB: within the limit
		h.sendRequest(ok, "valid-token")
		if how := h.waitEnd(ok); how != "grpc-status:0" {
			t.Fatalf("request within the limit ended %q, want OK", how)
		}
		// The refusal was queued when the oversized HEADERS were read,
		// before the later stream was even seen.
		how, ended := h.endOf(big)
		if !ended || !strings.HasPrefix(how, "rst:") {
			t.Fatalf("oversized headers: stream ended %q (%v), want RST_STREAM", how, ended)
		}
	})

	t.Run("flood keeps memory bounded", func(t *testing.T) {
		t.Parallel()
		p := startBinary(t, bin, nil)
		conn := dial(t, p.addr, nil)
		waitServing(t, conn)
		base := p.status(t, "VmRSS")

		normal := startNormalClient(t, conn)

		// Per connection, 200 streams (under the 256 allowed) of 4,000
		// header copies: 16 MB decoded each, just under grpc-go's own
		// default limit, 8 KB on the wire.
		const conns, streams, copies, held = 2, 200, 4000, 50
		fields := h2headers(p.addr, padding(copies))
		within := h2headers(p.addr, padding(3))
		var cwg sync.WaitGroup
		for range conns {
			cwg.Add(1)
			go func() {
				defer cwg.Done()
				h := dialH2(t, p.addr)
				for range streams {
					h.openStream(fields)
				}
				// Streams just within the limit are held (until
				// --request-timeout): what a connection can still pin.
				for range held {
					h.openStream(within)
				}
				h.sync()
			}()
		}
		cwg.Wait()
		served := normal.stop(t)
		peak := p.status(t, "VmHWM")
		t.Logf("RSS: %d KiB before, peak %d KiB after %d streams with %d MB of headers each; %d calls served meanwhile",
			base, peak, conns*streams, copies*4037/1_000_000, served)
		// Without the limit (--max-header-list-size 16777216, grpc-go's
		// default) the peak measured 266 MB; with it, 25 MB.
		const bound = 64 << 10
		if peak > bound {
			t.Errorf("peak RSS %d KiB, want at most %d KiB", peak, bound)
		}
	})
}

// normalClient is a well-behaved client calling GetUserDetails in a loop
// on a connection of its own while a test floods the server.
type normalClient struct {
	conn     *grpc.ClientConn
	done     chan struct{}
	stopping chan struct{}
	served   int
	failed   int
	firstErr error
}

func startNormalClient(t *testing.T, conn *grpc.ClientConn) *normalClient {
	c := &normalClient{conn: conn, done: make(chan struct{}), stopping: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			select {
			case <-c.stopping:
				return
			default:
			}
			if _, err := getUser(t.Context(), conn, "valid-token"); err != nil {
				c.failed++
				if c.firstErr == nil {
					c.firstErr = err
				}
			} else {
				c.served++
			}
		}
	}()
	return c
}

// stop ends the loop and fails t unless every call was served, and one
// more after the flood is; it returns the calls served.
func (c *normalClient) stop(t *testing.T) int {
	t.Helper()
	close(c.stopping)
	<-c.done
	if _, err := getUser(t.Context(), c.conn, "valid-token"); err != nil {
		t.Fatalf("normal client after the flood: %v", err)
	}
	if c.failed > 0 || c.served == 0 {
		t.Errorf("normal client during the flood: %d served, %d failed (first: %v)", c.served, c.failed, c.firstErr)
	}
	return c.served
}

var floodMaxPending = flag.Int("flood-max-pending-streams", 0,
	"TestBinaryPendingStreams: run the server with this --max-pending-streams (0: the default) and report its peak RSS without asserting it")

// TestBinaryPendingStreams: one client's connections (100, no cap by
// default) each open 250 unary streams with 12 KB of headers and never
// send their messages. Past --max-pending-streams a connection (once 1024
// wait server-wide) they are refused with RESOURCE_EXHAUSTED, a normal
// client on a connection of its own keeps being served, and the server's
// RSS, with its default soft memory limit, stays under 200 MB (without the
// bound and the limit it peaked at about 465 MB).
//
// The streams are held by a --request-timeout longer than the test, so
// that all of them wait at once however slowly the flood is sent. The
// RSS is not asserted when GOMEMLIMIT is set in the environment (the
// binary inherits it) or -flood-max-pending-streams is given: run those
// to measure what each protection does on its own, e.g.
//
//	GOMEMLIMIT=off go test -run TestBinaryPendingStreams -v .
//	go test -run TestBinaryPendingStreams -v . -flood-max-pending-streams 1000
func TestBinaryPendingStreams(t *testing.T) {
	t.Parallel()
	// Without the race detector, whose shadow memory would swamp the
	// memory measurement.
	bin := gobuild.PlainBinary(t, ".")
	args := []string{"--request-timeout", "1h"}
	if *floodMaxPending > 0 {
		args = append(args, "--max-pending-streams", fmt.Sprint(*floodMaxPending))
	}
	p := startBinary(t, bin, nil, args...)
	conn := dial(t, p.addr, nil)
	waitServing(t, conn)
	base := p.status(t, "VmRSS")
	normal := startNormalClient(t, conn)

	const conns, streams = 100, 250
	fields := h2headers(p.addr, padding(3)) // ~12 KB decoded, within the 16 KiB limit
	hs := make([]*h2conn, conns)
	ids := make([][]uint32, conns)
	var wg sync.WaitGroup
	for i := range hs {
		wg.Go(func() {
			h := dialH2(t, p.addr)
			for range streams {
				ids[i] = append(ids[i], h.openStream(fields))
			}
			// Once the PING is answered every stream was seen, and the
			// refusals (answered as the streams come) were read.
			h.sync()
			hs[i] = h
		})
	}
	wg.Wait()
	served := normal.stop(t)
	peak := p.status(t, "VmHWM")

	refused := 0
	for i, h := range hs {
		for _, id := range ids[i] {
			how, ended := h.endOf(id)
			switch {
			case !ended:
			case how == "grpc-status:8":
				refused++
			default:
				t.Fatalf("held stream ended %q, want RESOURCE_EXHAUSTED (8) or open", how)
			}
		}
	}
	limit := os.Getenv("GOMEMLIMIT")
	t.Logf("RSS: %d KiB before, peak %d KiB with %d connections × %d streams of 12 KB headers (%d refused; --max-pending-streams %d, GOMEMLIMIT=%q); %d calls served meanwhile",
		base, peak, conns, streams, refused, *floodMaxPending, limit, served)
	if *floodMaxPending > 0 {
		return
	}
	// At most 1024 streams, then 32 a connection, are held.
	if held := conns*streams - refused; held > 1024+conns*32 {
		t.Errorf("%d streams held, want at most %d", held, 1024+conns*32)
	}
	const bound = 200_000_000 / 1024 // KiB: 200 MB
	if limit != "" {
		t.Logf("GOMEMLIMIT is set: peak RSS not checked against %d KiB", bound)
	} else if peak > bound {
		t.Errorf("peak RSS %d KiB, want under %d KiB", peak, bound)
	}
}

// h2headers is grpcHeaders without a connection.
func h2headers(addr string, extra []hpack.HeaderField) []hpack.HeaderField {
	return (&h2conn{addr: addr}).grpcHeaders(getUserMethod, extra...)
}
