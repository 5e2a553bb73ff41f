package postgres

import (
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/user-service/services/user-server/internal/testwait"
	"github.com/acme/user-service/testkit"
)

// TestSilentDatabaseLoss: a database that stops answering without closing
// the connection (a crashed host, a dropped route) is noticed by the idle
// listener's ping: the listener reconnects over a new connection at once
// (the database itself is reachable), logging the ping's error, and the
// store catches up without going down.
func TestSilentDatabaseLoss(t *testing.T) {
	t.Parallel()
	dbURL := migrated(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, u.Host)
	u.Host = p.addr()
	var logs testkit.Buffer
	s := open(t, Config{URL: u.String(), Liveness: 20 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	// The listener's connection is the proxy's first (lookups would open
	// others). Up means its start-up queries are answered; the next answer
	// on it is a ping's, after an idle Liveness.
	var listener *proxyConn
	testwait.Until(t, "the listener connected", func() bool { listener = p.conn(0); return listener != nil })
	answered := listener.answers.Load()
	testwait.Until(t, "a ping answered", func() bool { return listener.answers.Load() > answered })
	var downs atomic.Int32
	s.Watch(func(up bool) {
		if !up {
			downs.Add(1)
		}
	})
	listener.freeze()
	defer func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	}()
	testwait.Until(t, "the loss logged", func() bool { return strings.Contains(logs.String(), "listener connection lost") })
	if strings.Contains(logs.String(), "error=<nil>") {
		t.Errorf("the loss is not logged with the ping's error:\n%s", logs.String())
	}
	testwait.Until(t, "caught up over a new connection", func() bool { return s.Up() && !s.stale.Load() })
	if n := downs.Load(); n != 0 || strings.Contains(logs.String(), "unreachable") {
		t.Errorf("the store went down %d times while its database was reachable:\n%s", n, logs.String())
	}
}

// proxy forwards TCP connections to a backend; freezing one of them stops
// its traffic both ways without closing it, as a dead host would.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []*proxyConn
}

type proxyConn struct {
	frozen  chan struct{}
	once    sync.Once
	answers atomic.Int64 // reads from the backend forwarded to the client
}

func (c *proxyConn) freeze() { c.once.Do(func() { close(c.frozen) }) }

func startProxy(t *testing.T, backend string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	var wg sync.WaitGroup
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range open {
			c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", backend)
			if err != nil {
				client.Close()
				continue
			}
			pc := &proxyConn{frozen: make(chan struct{})}
			p.mu.Lock()
			p.conns = append(p.conns, pc)
			open = append(open, client, server)
			p.mu.Unlock()
			wg.Go(func() { pipe(server, client, pc, nil) })
			wg.Go(func() { pipe(client, server, pc, &pc.answers) })
		}
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// conn returns the i-th connection the proxy accepted, or nil.
func (p *proxy) conn(i int) *proxyConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i < len(p.conns) {
		return p.conns[i]
	}
	return nil
}

// pipe copies src to dst until either fails or the connection freezes;
// frozen, it leaves both open (the test's cleanup closes them).
func pipe(dst, src net.Conn, pc *proxyConn, reads *atomic.Int64) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-pc.frozen:
			return
		default:
		}
		if n > 0 {
			if reads != nil {
				reads.Add(1)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				return
			}
			// Half-close: the other direction may still carry data.
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			return
		}
	}
}
