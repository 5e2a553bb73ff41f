package main

import (
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// frameConn is a synchronous raw HTTP/2 connection to the server
// (h2raw_test.go has a concurrent one, for floods): it shows what the
// transport limits make the server do, frame by frame, where a grpc-go
// client would hide it.
type frameConn struct {
	t  *testing.T
	fr *http2.Framer
	// settings is the server's first SETTINGS frame.
	settings map[http2.SettingID]uint32
}

func dialFrames(t *testing.T, addr string) *frameConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// Guards against a hang only: every expected frame comes long before.
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	h := &frameConn{t: t, fr: http2.NewFramer(c, c), settings: map[http2.SettingID]uint32{}}
	if err := h.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	f := h.next()
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		t.Fatalf("first frame from the server is %v, want SETTINGS", f)
	}
	_ = sf.ForeachSetting(func(s http2.Setting) error {
		h.settings[s.ID] = s.Val
		return nil
	})
	if err := h.fr.WriteSettingsAck(); err != nil {
		t.Fatal(err)
	}
	return h
}

// next returns the next frame other than SETTINGS acks and window updates.
func (h *frameConn) next() http2.Frame {
	h.t.Helper()
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			h.t.Fatalf("reading from the server: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if f.IsAck() {
				continue
			}
		case *http2.WindowUpdateFrame:
			continue
		}
		return f
	}
}

// goAwayReason waits for the server's GOAWAY and returns its debug data
// (grpc-go names the limit there: max_idle, max_age, too_many_pings).
func (h *frameConn) goAwayReason() string {
	h.t.Helper()
	for {
		switch f := h.next().(type) {
		case *http2.GoAwayFrame:
			return string(f.DebugData())
		case *http2.PingFrame:
			if !f.IsAck() {
				_ = h.fr.WritePing(true, f.Data)
			}
		}
	}
}

func pingData(i int) (d [8]byte) {
	binary.BigEndian.PutUint64(d[:], uint64(i)+1)
	return d
}

// TestRunLimitFlags starts the server through run with each limit flag and
// watches the connection: the flag must reach the gRPC server, not just the
// parsed configuration.
func TestRunLimitFlags(t *testing.T) {
	t.Parallel()

	t.Run("max-concurrent-streams", func(t *testing.T) {
		t.Parallel()
		srv := startRun(t, nil, "--max-concurrent-streams", "7")
		if got := dialFrames(t, srv.addr).settings[http2.SettingMaxConcurrentStreams]; got != 7 {
			t.Errorf("SETTINGS_MAX_CONCURRENT_STREAMS = %d, want 7", got)
		}
		if got := dialFrames(t, startRun(t, nil).addr).settings[http2.SettingMaxConcurrentStreams]; got != 256 {
			t.Errorf("default SETTINGS_MAX_CONCURRENT_STREAMS = %d, want 256", got)
		}
	})

	// A client pinging more often than the tolerated interval is sent away
	// after a few pings; one within it never is. Frames are handled in
	// order, so the answer to the last ping settles it without a clock:
	// its ack, or a GOAWAY before it.
	pings := func(t *testing.T, addr string) (goAway string) {
		h := dialFrames(t, addr)
		const n = 6
		for i := range n {
			if err := h.fr.WritePing(false, pingData(i)); err != nil {
				t.Fatal(err)
			}
		}
		for {
			switch f := h.next().(type) {
			case *http2.GoAwayFrame:
				return string(f.DebugData())
			case *http2.PingFrame:
				if f.IsAck() && f.Data == pingData(n-1) {
					return ""
				}
			}
		}
	}
	t.Run("keepalive-min-time", func(t *testing.T) {
		t.Parallel()
		// 1ns: any two pings are further apart than that.
		if reason := pings(t, startRun(t, nil, "--keepalive-min-time", "1ns").addr); reason != "" {
			t.Errorf("pings within --keepalive-min-time 1ns: GOAWAY %q", reason)
		}
		// The default, 10s: six pings in a row are too many.
		if reason := pings(t, startRun(t, nil).addr); reason != "too_many_pings" {
			t.Errorf("six pings at once with the default 10s: GOAWAY %q, want too_many_pings", reason)
		}
	})

	// The name before the rename (--max-conn-idle) still works, and the
	// server warns that it is deprecated.
	for _, name := range []string{"max-connection-idle", "max-conn-idle"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := startRun(t, nil, "--"+name, "50ms")
			if reason := dialFrames(t, srv.addr).goAwayReason(); reason != "max_idle" {
				t.Errorf("idle connection: GOAWAY %q, want max_idle", reason)
			}
			warned := strings.Contains(srv.stderr.String(), `level=WARN msg="--max-conn-idle is deprecated: use --max-connection-idle"`)
			if warned != (name == "max-conn-idle") {
				t.Errorf("deprecation warning given: %v, want %v:\n%s", warned, !warned, srv.stderr)
			}
		})
	}

	t.Run("max-connection-age", func(t *testing.T) {
		t.Parallel()
		srv := startRun(t, nil, "--max-connection-age", "50ms")
		if reason := dialFrames(t, srv.addr).goAwayReason(); reason != "max_age" {
			t.Errorf("old connection: GOAWAY %q, want max_age", reason)
		}
	})

	t.Run("keepalive-time", func(t *testing.T) {
		t.Parallel()
		// An idle connection gets the server's ping.
		h := dialFrames(t, startRun(t, nil, "--keepalive-time", "50ms").addr)
		for {
			if p, ok := h.next().(*http2.PingFrame); ok && !p.IsAck() {
				return
			}
		}
	})
}

// TestRunShutdownTimeout: with a unary RPC that never ends (its request
// headers came, its message never does, and --request-timeout is long),
// the drain gives up after --shutdown-timeout, not the default.
func TestRunShutdownTimeout(t *testing.T) {
	t.Parallel()
	srv := startRun(t, nil, "--shutdown-timeout", "1500ms", "--request-timeout", "1h")
	h := dialH2(t, srv.addr)
	h.openStream(h.grpcHeaders("/user.v1.UserService/GetUserDetails"))
	h.sync() // the server has the stream
	if err := srv.stop(); err != nil {
		t.Fatalf("run returned %v", err)
	}
	var timeoutLines []string
	for _, line := range strings.Split(srv.stderr.String(), "\n") {
		if strings.Contains(line, "shutting down") || strings.Contains(line, "shutdown timeout") {
			timeoutLines = append(timeoutLines, line)
			if !strings.Contains(line, "timeout=1.5s") {
				t.Errorf("log line %q: want timeout=1.5s", line)
			}
		}
	}
	if len(timeoutLines) != 2 || !strings.Contains(timeoutLines[1], "level=WARN") {
		t.Errorf("want a shutting-down line, then a WARN shutdown-timeout line, got:\n%s", srv.stderr)
	}
}
