package listen

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// FirstStream closes connections that open no stream (RPC, HTTP request)
// within a bound of being accepted. A client that completes the handshake
// and then only answers pings would otherwise hold its file descriptor,
// and a --max-connections slot, until the idle bound (minutes): enough of
// them lock every other client out. The server reports each new stream
// with Opened; a connection is checked once, so after its first stream it
// costs nothing.
type FirstStream struct {
	timeout time.Duration
	pending atomic.Int64 // connections accepted and not yet seen open a stream
	conns   sync.Map     // remote address (string) -> *firstStreamConn
}

// NewFirstStream returns a FirstStream closing connections without a
// stream after timeout; timeout <= 0 returns nil, which bounds nothing.
func NewFirstStream(timeout time.Duration) *FirstStream {
	if timeout <= 0 {
		return nil
	}
	return &FirstStream{timeout: timeout}
}

// Listener wraps lis so that its connections are bounded; nil f returns
// lis.
func (f *FirstStream) Listener(lis net.Listener) net.Listener {
	if f == nil {
		return lis
	}
	return &firstStreamListener{Listener: lis, f: f}
}

// Opened records that the connection from remote opened a stream. It is
// cheap when no connection is waiting for its first stream (one atomic
// load), so it can be called on every stream.
func (f *FirstStream) Opened(remote net.Addr) {
	if f == nil || remote == nil || f.pending.Load() == 0 {
		return
	}
	if v, ok := f.conns.Load(remote.String()); ok {
		v.(*firstStreamConn).settle(false)
	}
}

// Pending is the number of accepted connections not yet seen open a
// stream.
func (f *FirstStream) Pending() int {
	if f == nil {
		return 0
	}
	return int(f.pending.Load())
}

type firstStreamListener struct {
	net.Listener
	f *FirstStream
}

func (l *firstStreamListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	fc := &firstStreamConn{Conn: c, f: l.f, key: c.RemoteAddr().String()}
	// The timer is set before fc is published; its own callback does not
	// read it.
	fc.timer = time.AfterFunc(l.f.timeout, func() { fc.settle(true) })
	l.f.pending.Add(1)
	l.f.conns.Store(fc.key, fc)
	return fc, nil
}

// firstStreamConn is an accepted connection; settled once it opened a
// stream, was closed, or timed out.
type firstStreamConn struct {
	net.Conn
	f       *FirstStream
	key     string
	timer   *time.Timer
	settled atomic.Bool
}

// settle stops watching the connection, closing it if it timed out. Only
// the first call counts.
func (c *firstStreamConn) settle(timedOut bool) {
	if !c.settled.CompareAndSwap(false, true) {
		return
	}
	if !timedOut {
		c.timer.Stop()
	}
	c.f.conns.CompareAndDelete(c.key, c)
	c.f.pending.Add(-1)
	if timedOut {
		_ = c.Conn.Close()
	}
}

func (c *firstStreamConn) Close() error {
	c.settle(false)
	return c.Conn.Close()
}
