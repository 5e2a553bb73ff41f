package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acme/user-service/testkit/gobuild"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
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
