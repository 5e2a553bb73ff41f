package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/acme/user-service/services/user-server/internal/limits"
	"github.com/acme/user-service/testkit"
	"github.com/acme/user-service/testkit/gobuild"
	"github.com/acme/user-service/testkit/proc"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

const reflectionMethod = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"

// deafConn opens a connection that advertises the largest flow-control
// windows, sends one reflection request on each of streams streams (with
// extra headers), and never reads: the server may send it everything at
// once, and whatever it cannot hands to the kernel stays queued in the
// server.
func deafConn(t *testing.T, addr string, streams int, extra ...hpack.HeaderField) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var out bytes.Buffer
	fr := http2.NewFramer(&out, nil)
	out.WriteString(http2.ClientPreface)
	if err := fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1}); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteWindowUpdate(0, 1<<31-1-65535); err != nil {
		t.Fatal(err)
	}
	msg, err := proto.Marshal(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "user.v1.UserService"}})
	if err != nil {
		t.Fatal(err)
	}
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	for i := range streams {
		id := uint32(2*i + 1)
		hbuf.Reset()
		for _, f := range h2headers(addr, extra) {
			if f.Name == ":path" {
				f.Value = reflectionMethod
			}
			if err := enc.WriteField(f); err != nil {
				t.Fatal(err)
			}
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hbuf.Bytes(), EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		frame := append([]byte{0, 0, 0, 0, byte(len(msg))}, msg...)
		if err := fr.WriteData(id, false, frame); err != nil {
			t.Fatal(err)
		}
	}
	// A SETTINGS ACK, so the server's SETTINGS never time out.
	if err := fr.WriteSettingsAck(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(out.Bytes()); err != nil {
		t.Fatal(err)
	}
}

// countInLog waits until the server's log holds at least n lines
// containing s, or fails once the peak RSS passes maxKiB (the defect the
// test looks for) or waitFor passes.
func countInLog(t *testing.T, p *binProc, s string, n, maxKiB int) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		if got := strings.Count(p.logs(t), s); got >= n {
			return
		}
		if hwm := p.status(t, "VmHWM"); hwm > maxKiB {
			t.Fatalf("peak RSS %d KiB (bound %d KiB) before the log held %d lines with %q", hwm, maxKiB, n, s)
		}
		if time.Now().After(deadline) {
			t.Fatalf("log has %d lines with %q, want %d:\n%s", strings.Count(p.logs(t), s), s, n, tail(p.logs(t), 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string { return s[max(0, len(s)-n):] }

// fdCount is the number of open file descriptors of the process.
func (p *binProc) fdCount(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.PID))
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// TestBinaryReflection: reflection is off unless --reflection; on, it needs
// a token, and clients that ask for the largest response on every stream
// they may open and never read make the server hold only what
// limits.ReflectionStreams allows, however many connections they open.
func TestBinaryReflection(t *testing.T) {
	t.Parallel()
	bin := gobuild.PlainBinary(t, ".")
	const token = "tok-refl-5b2e"
	env := []string{"USER_SERVER_AUTH_TOKENS=" + token}
	auth := hpack.HeaderField{Name: "authorization", Value: "Bearer " + token}

	t.Run("off by default", func(t *testing.T) {
		t.Parallel()
		p := startBinary(t, bin, env)
		h := dialH2(t, p.addr)
		id := h.openStream((&h2conn{addr: p.addr}).grpcHeaders(reflectionMethod, auth))
		if how := h.waitEnd(id); how != "grpc-status:12" {
			t.Errorf("reflection without --reflection ended %q, want UNIMPLEMENTED (12)", how)
		}
	})

	t.Run("needs a token", func(t *testing.T) {
		t.Parallel()
		p := startBinary(t, bin, env, "--reflection")
		h := dialH2(t, p.addr)
		for _, extra := range [][]hpack.HeaderField{nil, {{Name: "authorization", Value: "Bearer wrong"}}, {{Name: "authorization", Value: token}}} {
			id := h.openStream(h.grpcHeaders(reflectionMethod, extra...))
			if how := h.waitEnd(id); how != "grpc-status:16" {
				t.Errorf("reflection with %v ended %q, want UNAUTHENTICATED (16)", extra, how)
			}
		}
	})

	t.Run("deaf clients hold bounded memory", func(t *testing.T) {
		t.Parallel()
		p := startBinary(t, bin, env, "--reflection")
		conn := dial(t, p.addr, nil)
		waitServing(t, conn)
		base := p.status(t, "VmRSS")
		// Measured on the tree before the bound: one such connection
		// added about 89 MB, ten about 1 GB.
		const conns, streams, bound = 10, 256, 100 << 10
		var wg sync.WaitGroup
		for range conns {
			wg.Go(func() { deafConn(t, p.addr, streams, auth) })
		}
		wg.Wait()
		// All but the streams the server-wide bound admits are refused.
		countInLog(t, p, "code=ResourceExhausted", conns*streams-4, bound)
		if _, err := getUser(t.Context(), conn, token); err != nil {
			t.Errorf("normal client during the flood: %v", err)
		}
		peak := p.status(t, "VmHWM")
		t.Logf("RSS %d KiB before, peak %d KiB with %d deaf connections × %d reflection streams", base, peak, conns, streams)
		if peak > bound {
			t.Errorf("peak RSS %d KiB, want at most %d KiB", peak, bound)
		}
	})
}

// TestBinaryIdleConnections: connections that complete the handshake, answer
// pings and open no stream are closed after --first-stream-timeout (default
// 10 s), so they cannot fill --max-connections or the descriptor table.
func TestBinaryIdleConnections(t *testing.T) {
	t.Parallel()
	bin := gobuild.PlainBinary(t, ".")
	const capConns = 8
	p := startBinary(t, bin, nil, "--max-connections", fmt.Sprint(capConns))
	conn := dial(t, p.addr, nil)
	waitServing(t, conn)
	base := p.fdCount(t)
	idle := make([]*h2conn, capConns)
	for i := range idle {
		idle[i] = dialH2(t, p.addr)
	}
	for i, h := range idle {
		select {
		case err := <-h.readErr:
			t.Logf("idle connection %d closed by the server: %v", i, err)
		case <-time.After(waitFor):
			t.Fatalf("idle connection %d still open after %v", i, waitFor)
		}
	}
	// The slots are free again: a new client is served.
	fresh := dial(t, p.addr, nil)
	if _, err := getUser(t.Context(), fresh, "valid-token"); err != nil {
		t.Fatalf("new client after the idle connections: %v", err)
	}
	if n := p.fdCount(t); n > base+1 {
		t.Errorf("%d file descriptors open, %d before the idle connections (+1 new client)", n, base)
	}
	// A connection that did open a stream is not closed by the bound.
	if _, err := getUser(t.Context(), conn, "valid-token"); err != nil {
		t.Errorf("busy connection: %v", err)
	}
}

// TestBinaryMetricsKeepAlive: keep-alive clients that scrape /metrics once
// and then hold their connection idle take at most
// limits.MetricsHTTP.MaxConns descriptors, and are closed after its
// IdleTimeout, so they cannot exhaust the descriptors gRPC shares.
func TestBinaryMetricsKeepAlive(t *testing.T) {
	t.Parallel()
	bin := gobuild.PlainBinary(t, ".")
	var stdout testkit.Buffer
	p := &binProc{logFile: filepath.Join(t.TempDir(), "server.log"), stderr: &testkit.Buffer{}}
	p.Proc = proc.StartT(t, proc.Spec{
		Path: bin, Args: []string{"--log-file", p.logFile, "--metrics-listen", "127.0.0.1:0"},
		Env: withoutServerEnv(), Stdout: &stdout, Stderr: p.stderr,
	})
	p.addr = p.Addr
	var metricsAddr string
	for deadline := time.Now().Add(waitFor); metricsAddr == ""; time.Sleep(20 * time.Millisecond) {
		for l := range strings.Lines(stdout.String()) {
			if a, ok := strings.CutPrefix(strings.TrimSpace(l), "metrics on http://"); ok {
				metricsAddr = strings.TrimSuffix(a, "/metrics")
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no metrics address on stdout: %q", stdout.String())
		}
	}
	base := p.fdCount(t)
	const clients = 64 // twice the cap
	served := make(chan struct{}, clients)
	for range clients {
		go func() {
			c, err := net.Dial("tcp", metricsAddr)
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			fmt.Fprintf(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			served <- struct{}{} // then idle, keeping the connection
		}()
	}
	// The server serves the first MaxConns at once; wait for them.
	limit := limits.MetricsHTTP.MaxConns
	for i := range limit {
		select {
		case <-served:
		case <-time.After(waitFor):
			t.Fatalf("%d of %d keep-alive clients served", i, limit)
		}
	}
	peak := p.fdCount(t)
	// Idle connections are closed: a fresh scrape gets through.
	client := &http.Client{Timeout: waitFor}
	resp, err := client.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatalf("scrape while idle keep-alive connections wait: %v", err)
	}
	resp.Body.Close()
	peak = max(peak, p.fdCount(t))
	t.Logf("descriptors: %d before, %d with %d keep-alive clients", base, peak, clients)
	if peak > base+limit+2 {
		t.Errorf("%d descriptors open with %d idle keep-alive clients, %d before (cap %d)", peak, clients, base, limit)
	}
}

// TestBinaryWatchStreamsBounded: health Watch needs no token and each open
// stream holds its headers; beyond --max-watch-streams, server-wide, new
// ones are refused with RESOURCE_EXHAUSTED (the bound spans connections,
// which --max-concurrent-streams does not), and freed slots are reused.
func TestBinaryWatchStreamsBounded(t *testing.T) {
	t.Parallel()
	bin := gobuild.PlainBinary(t, ".")
	const maxWatch, conns, per = 20, 3, 10
	p := startBinary(t, bin, nil, "--max-watch-streams", fmt.Sprint(maxWatch))
	var hs []*h2conn
	var ids [][]uint32
	for range conns {
		h := dialH2(t, p.addr)
		var mine []uint32
		for range per {
			id := h.openStream(h.grpcHeaders("/grpc.health.v1.Health/Watch", padding(3)...))
			h.write(func() error { return h.fr.WriteData(id, false, []byte{0, 0, 0, 0, 0}) })
			mine = append(mine, id)
		}
		h.sync()
		hs, ids = append(hs, h), append(ids, mine)
	}
	// 30 watchers asked, 20 admitted: wait for the 10 refusals.
	refused := 0
	for deadline := time.Now().Add(waitFor); refused < conns*per-maxWatch; time.Sleep(20 * time.Millisecond) {
		refused = 0
		for i, h := range hs {
			for _, id := range ids[i] {
				if how, ok := h.endOf(id); ok {
					if how != "grpc-status:8" {
						t.Fatalf("Watch stream ended %q, want RESOURCE_EXHAUSTED (8) or open", how)
					}
					refused++
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d Watch streams refused, want %d", refused, conns*per-maxWatch)
		}
	}
	// A slot freed by a watcher that leaves is given to the next one.
	h := hs[0]
	for _, id := range ids[0] {
		if _, ended := h.endOf(id); !ended {
			h.write(func() error { return h.fr.WriteRSTStream(id, http2.ErrCodeCancel) })
			break
		}
	}
	conn := dial(t, p.addr, nil)
	for deadline := time.Now().Add(waitFor); ; time.Sleep(50 * time.Millisecond) {
		ctx, cancel := context.WithCancel(t.Context())
		w, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{})
		if err == nil {
			_, err = w.Recv()
		}
		cancel()
		if err == nil {
			break
		}
		if status.Code(err) != codes.ResourceExhausted || time.Now().After(deadline) {
			t.Fatalf("Watch after a watcher left: %v", err)
		}
	}
}

// TestBinaryOversizedHeaderField documents what the docs say of oversized
// headers: a header list over --max-header-list-size made of fields each
// within it gets RST_STREAM (TestBinaryHardening), but a single field
// longer than the limit closes the whole connection: HPACK decoding
// refuses the string (a connection error in HTTP/2), before any stream
// exists to reset.
func TestBinaryOversizedHeaderField(t *testing.T) {
	t.Parallel()
	bin := gobuild.PlainBinary(t, ".")
	p := startBinary(t, bin, nil)
	h := dialH2(t, p.addr)
	h.openStream(h.grpcHeaders(getUserMethod, hpack.HeaderField{Name: "x-big", Value: strings.Repeat("b", 20<<10)}))
	select {
	case err := <-h.readErr:
		t.Logf("connection closed: %v", err)
	case <-time.After(waitFor):
		t.Fatal("a header field over the limit did not close the connection")
	}
	// Other clients are unaffected.
	if _, err := getUser(t.Context(), dial(t, p.addr, nil), "valid-token"); err != nil {
		t.Fatal(err)
	}
}

// TestBinaryShutdownZeroWindow: a client advertising a zero flow-control
// window never receives its Watch's NOT_SERVING nor the stream's end; once
// every handler has returned, the shutdown closes such connections
// instead of waiting out --shutdown-timeout.
func TestBinaryShutdownZeroWindow(t *testing.T) {
	t.Parallel()
	bin := gobuild.PlainBinary(t, ".")
	p := startBinary(t, bin, nil, "--shutdown-timeout", "10m")
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out bytes.Buffer
	fr := http2.NewFramer(&out, nil)
	out.WriteString(http2.ClientPreface)
	if err := fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}); err != nil {
		t.Fatal(err)
	}
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	for _, f := range h2headers(p.addr, nil) {
		if f.Name == ":path" {
			f.Value = "/grpc.health.v1.Health/Watch"
		}
		if err := enc.WriteField(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hbuf.Bytes(), EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteData(1, true, []byte{0, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteSettingsAck(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(out.Bytes()); err != nil {
		t.Fatal(err)
	}
	// The Watch runs once its response headers come (HEADERS are not
	// flow-controlled; its messages are, and never come).
	if err := c.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	rd := http2.NewFramer(nil, c)
	rd.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	for {
		f, err := rd.ReadFrame()
		if err != nil {
			t.Fatalf("no response headers for the Watch: %v", err)
		}
		if h, ok := f.(*http2.MetaHeadersFrame); ok && h.StreamID == 1 {
			break
		}
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.waitExit(t); err != nil {
		t.Fatalf("exit: %v; stderr:\n%s", err, p.stderr)
	}
	if logs := p.logs(t); strings.Contains(logs, "shutdown timeout") || !strings.Contains(logs, "msg=stopped") {
		t.Errorf("shutdown did not end once drained:\n%s", logs)
	}
}
