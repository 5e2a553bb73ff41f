// Package limits holds the server's transport limits and their defaults:
// what the server enforces (internal/server) and what its flags set
// (internal/config), kept apart from both so that neither imports the
// other.
package limits

import "time"

// Limits are the transport limits. The zero value of a field means the
// default from Default.
type Limits struct {
	// MaxRecvMsgSize bounds a request message, in bytes.
	MaxRecvMsgSize int
	// MaxConcurrentStreams bounds concurrent RPCs per connection.
	MaxConcurrentStreams uint32
	// KeepaliveMinTime is the shortest client ping interval tolerated; a
	// client pinging more often is disconnected (GOAWAY too_many_pings).
	KeepaliveMinTime time.Duration
	// KeepaliveTime and KeepaliveTimeout: the server pings a connection idle
	// for KeepaliveTime and closes it if no answer comes within
	// KeepaliveTimeout.
	KeepaliveTime    time.Duration
	KeepaliveTimeout time.Duration
	// MaxConnectionIdle closes connections without RPCs for this long.
	MaxConnectionIdle time.Duration
	// MaxConnectionAge and MaxConnectionAgeGrace bound a connection's life
	// (so clients rebalance), then give its RPCs time to finish.
	MaxConnectionAge      time.Duration
	MaxConnectionAgeGrace time.Duration
	// StreamWorkers is the number of goroutines grpc-go keeps to run RPCs
	// (grpc.NumStreamWorkers); 0 starts a new goroutine per RPC, grpc-go's
	// default. Reusing goroutines saves growing a fresh 2 KiB stack on
	// every RPC, which the load benchmark measured at about a fifth of
	// the server's CPU per RPC. Unlike the other limits, 0 is not replaced
	// by the default: it turns the workers off.
	StreamWorkers uint32
	// MaxHeaderListSize bounds a request's header list (HTTP/2
	// SETTINGS_MAX_HEADER_LIST_SIZE, counted as names plus values plus 32
	// bytes a field); a larger one is refused with RST_STREAM. Headers stay
	// in memory while their stream is open, so this and
	// MaxConcurrentStreams bound what one connection can make the server
	// hold.
	MaxHeaderListSize uint32
	// RequestTimeout bounds how long a stream may wait for its request (see
	// streams): a unary RPC's deadline, a streaming RPC's first message.
	RequestTimeout time.Duration
	// HandshakeTimeout closes connections that have not completed the TLS
	// and HTTP/2 handshakes in time (grpc.ConnectionTimeout, 120s in
	// grpc-go).
	HandshakeTimeout time.Duration
	// ReflectionStreams bounds the server reflection streams open at once,
	// server-wide. A reflection response holds a whole file descriptor set
	// (hundreds of KB with buf/validate's descriptors), queued in full for
	// a client that does not read; this bounds what all such clients
	// together can make the server hold (ReflectionStreams × the largest
	// response) whatever their number of connections.
	ReflectionStreams int
	// WatchStreams bounds the health Watch streams open at once,
	// server-wide. Watch is public (probes need no token) and a stream
	// lives as long as its client wants, holding its request headers (up
	// to MaxHeaderListSize): this bounds what all watchers together hold
	// (WatchStreams × MaxHeaderListSize, 16 MiB by default), where
	// MaxConcurrentStreams bounds only one connection.
	WatchStreams int
	// PendingStreams bounds, per connection, the unary RPCs whose request
	// headers have arrived and whose request message has not been read
	// yet, once the server holds PendingStreamsFree of them in all; more
	// are refused with RESOURCE_EXHAUSTED. Such a stream holds its headers
	// (up to MaxHeaderListSize) until RequestTimeout, and
	// MaxConcurrentStreams allows 256 of them a connection: with no
	// connection cap, 100 connections of them took the server past 450 MB.
	// Streaming RPCs are not counted: they are bounded server-wide
	// (WatchStreams, ReflectionStreams).
	PendingStreams int
	// PendingStreamsFree is the number of such streams, server-wide, below
	// which PendingStreams is not enforced: a client starting many calls
	// at once on one connection has them all waiting for a moment (see
	// internal/server's pendingStreams), which only a flood should cost.
	// No flag sets it.
	PendingStreamsFree int
	// FirstStreamTimeout closes a connection that has opened no stream
	// this long after it was accepted: a connection that only completed
	// the handshake (and answers pings) otherwise holds a file descriptor,
	// and a --max-connections slot, until MaxConnectionIdle.
	FirstStreamTimeout time.Duration
}

// Default are sized for a small, fast unary service.
var Default = Limits{
	MaxRecvMsgSize:        64 << 10,
	MaxConcurrentStreams:  256,
	KeepaliveMinTime:      10 * time.Second,
	KeepaliveTime:         2 * time.Minute,
	KeepaliveTimeout:      20 * time.Second,
	MaxConnectionIdle:     15 * time.Minute,
	MaxConnectionAge:      30 * time.Minute,
	MaxConnectionAgeGrace: 30 * time.Second,
	// Enough to cover the concurrent RPCs of a busy process: an RPC that
	// finds every worker busy still gets a goroutine of its own.
	StreamWorkers: 64,
	// gRPC metadata is a few hundred bytes (path, authority, content-type,
	// te, user-agent, grpc-timeout, tracing); 16 KiB leaves room for large
	// bearer tokens or proxy headers and matches gRPC C++'s hard limit
	// (grpc-java's default is 8 KiB). 256 streams × 16 KiB bound one
	// connection's headers to 4 MiB, instead of grpc-go's 16 MiB a stream.
	MaxHeaderListSize: 16 << 10,
	// Lookups take microseconds: 10s is generous for any client yet frees a
	// stream whose message never comes long before the connection's max age.
	RequestTimeout: 10 * time.Second,
	// A handshake is a few round trips: 5s tolerates slow links while
	// freeing a half-open connection's file descriptor quickly.
	HandshakeTimeout: 5 * time.Second,
	// grpcurl and similar tools open one stream at a time.
	ReflectionStreams: 4,
	// Far more than the watchers (load balancers, sidecars) of a replica.
	WatchStreams: 1024,
	// A client's calls wait for their message only between its HEADERS
	// and DATA frames. A proxy that keeps more than this many streams a
	// connection waiting on their messages (it forwards the headers
	// first, and the body as it comes) needs a higher bound.
	PendingStreams: 32,
	// 1024 streams of 16 KiB headers: 16 MiB, the same as WatchStreams.
	PendingStreamsFree: 1024,
	// Twice the handshake bound: a real client opens its first stream
	// right after the handshake (or, if it dials ahead, reconnects
	// transparently when closed).
	FirstStreamTimeout: 10 * time.Second,
}

// WithDefaults returns l with every zero field but StreamWorkers set to
// its default.
func (l Limits) WithDefaults() Limits {
	d := Default
	set := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	if l.MaxRecvMsgSize == 0 {
		l.MaxRecvMsgSize = d.MaxRecvMsgSize
	}
	if l.MaxConcurrentStreams == 0 {
		l.MaxConcurrentStreams = d.MaxConcurrentStreams
	}
	set(&l.KeepaliveMinTime, d.KeepaliveMinTime)
	set(&l.KeepaliveTime, d.KeepaliveTime)
	set(&l.KeepaliveTimeout, d.KeepaliveTimeout)
	set(&l.MaxConnectionIdle, d.MaxConnectionIdle)
	set(&l.MaxConnectionAge, d.MaxConnectionAge)
	set(&l.MaxConnectionAgeGrace, d.MaxConnectionAgeGrace)
	if l.MaxHeaderListSize == 0 {
		l.MaxHeaderListSize = d.MaxHeaderListSize
	}
	set(&l.RequestTimeout, d.RequestTimeout)
	set(&l.HandshakeTimeout, d.HandshakeTimeout)
	set(&l.FirstStreamTimeout, d.FirstStreamTimeout)
	if l.ReflectionStreams == 0 {
		l.ReflectionStreams = d.ReflectionStreams
	}
	if l.WatchStreams == 0 {
		l.WatchStreams = d.WatchStreams
	}
	if l.PendingStreams == 0 {
		l.PendingStreams = d.PendingStreams
	}
	if l.PendingStreamsFree == 0 {
		l.PendingStreamsFree = d.PendingStreamsFree
	}
	return l
}

// Slots is a server-wide count of something held at once (streams of a
// costly kind, say): TryAcquire takes a slot if one is free, Release gives
// it back. It never waits, so a full Slots refuses instead of queueing
// what a hostile client sends. Any listener's handlers can share one.
type Slots struct{ ch chan struct{} }

// NewSlots returns n slots; n <= 0 returns nil, which TryAcquire always
// grants (no bound).
func NewSlots(n int) *Slots {
	if n <= 0 {
		return nil
	}
	return &Slots{ch: make(chan struct{}, n)}
}

// TryAcquire takes a slot and reports whether it got one.
func (s *Slots) TryAcquire() bool {
	if s == nil {
		return true
	}
	select {
	case s.ch <- struct{}{}:
		return true
	default:
		return false
	}
}

// Release returns a slot taken by TryAcquire.
func (s *Slots) Release() {
	if s != nil {
		<-s.ch
	}
}

// InUse is the number of slots taken.
func (s *Slots) InUse() int {
	if s == nil {
		return 0
	}
	return len(s.ch)
}
