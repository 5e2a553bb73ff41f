package server

import (
	"runtime"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// pendingStreams bounds the unary RPCs whose headers have arrived and whose
// request message has not been read yet: each holds its headers, up to
// Limits.MaxHeaderListSize, until the request timeout, and without a bound
// a client could make every connection hold MaxConcurrentStreams of them,
// over as many connections as it likes.
//
// Once the server holds free such streams in all (Limits.PendingStreamsFree),
// a connection holding max of them (Limits.PendingStreams) has its further
// streams refused. Below that total nothing is refused: a grpc-go client
// that starts many calls at once on one connection writes their HEADERS
// frames ahead of their DATA frames, so the server reads a burst of such
// streams before any of their messages (TestPendingPipelinedClient: with
// the per-connection bound alone, 200 calls at once had about 3% refused).
// A flood, however, takes the total past free at once; from then on each
// connection holds at most max, so all together hold at most free plus
// max a connection.
//
// A stream takes its slot in the tap (streams.tap) and gives it back,
// exactly once, through its context (deadline.WithTimeoutHold): when the
// handler's decode of the message returns (wrapUnary), or when the
// watchdog ends the context (the deadline passed, or the stream ended
// without its message being read).
//
// Connections are told apart by the *peer.Peer grpc-go puts in each
// connection's context (one per connection, shared by its streams). A
// connection is in the map only while it has pending streams, so closed
// connections leave nothing behind.
type pendingStreams struct {
	max, free int

	mu    sync.Mutex
	total int
	conns map[*peer.Peer]int
}

func newPendingStreams(max, free int) *pendingStreams {
	return &pendingStreams{max: max, free: free, conns: map[*peer.Peer]int{}}
}

var errTooManyPending = status.Error(codes.ResourceExhausted, "too many streams on this connection waiting for their request message; send each request's message with its headers")

// acquire takes a slot for a stream of conn, and reports whether it got
// one. It runs in the tap, on conn's reader goroutine, which reads frames
// ahead of the goroutines running the handlers: a client that writes each
// call's HEADERS and DATA frames together (h2load) can have more than max
// read, with their messages waiting in the stream buffers, before any
// handler has run. Before refusing, acquire yields once so those handlers
// read their messages and give their slots back.
func (p *pendingStreams) acquire(conn *peer.Peer) bool {
	if p.tryAcquire(conn) {
		return true
	}
	runtime.Gosched()
	return p.tryAcquire(conn)
}

func (p *pendingStreams) tryAcquire(conn *peer.Peer) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.conns[conn]
	if n >= p.max && p.total >= p.free {
		return false
	}
	p.conns[conn] = n + 1
	p.total++
	return true
}

// Release gives back a slot of the connection key (a *peer.Peer); it is
// the streams' contexts' deadline.Holder, which calls it once a slot.
func (p *pendingStreams) Release(key any) {
	conn := key.(*peer.Peer)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total--
	if n := p.conns[conn]; n > 1 {
		p.conns[conn] = n - 1
	} else {
		delete(p.conns, conn)
	}
}

// held is the number of streams holding a slot, server-wide.
func (p *pendingStreams) held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total
}
