package server

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/acme/user-service/services/user-server/internal/deadline"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// streams bounds how long an RPC may hold its stream (and its request
// headers, in memory) and ends long-lived streams at shutdown:
//
//   - a unary RPC gets the deadline Limits.RequestTimeout unless the client
//     sent an earlier one, so a stream whose message never comes is ended
//     with DEADLINE_EXCEEDED instead of living as long as its connection;
//   - a streaming RPC (health Watch, reflection) must deliver its first
//     message within the same time, or is cancelled (CANCELLED: grpc-go
//     turns the end of a stream's context into that code);
//   - at shutdown, streaming RPCs are ended (health watchers once they were
//     sent NOT_SERVING), so GracefulStop waits only for unary calls.
//
// The bounds are applied in grpc-go's tap handle (grpc.InTapHandle), the one
// hook that runs between a stream's headers and its first message and whose
// context the transport uses to read that message. A unary RPC gets a
// context from a deadline.Watchdog, a fraction of the cost of
// context.WithTimeout (and no clock read while the watchdog is busy), ending
// within deadlineTick of the bound or of the client's earlier deadline; the
// context also holds the RPC's slot among its connection's pending streams
// (pendingStreams) until its message is read.
type streams struct {
	timeout   time.Duration
	deadlines *deadline.Watchdog
	pending   *pendingStreams
	unary     map[string]bool // full method names
	streaming map[string]bool

	mu     sync.Mutex
	ending bool
	live   map[*liveStream]struct{}
}

// deadlineTick is how often, at least, the unary RPCs' deadlines are
// checked (or a quarter of the request timeout, if shorter): how far from
// the bound one may end, and how late a client's cancellation may reach a
// handler. Under load the watchdog checks more often (deadline.checkBatch).
const deadlineTick = 20 * time.Millisecond

var (
	errShuttingDown = errors.New("server is shutting down")
	errNoRequest    = errors.New("no request message in time")
)

// liveStreamKey carries a streaming RPC's *liveStream in its context.
type liveStreamKey struct{}

// liveStream is a streaming RPC in progress.
type liveStream struct {
	cancel context.CancelCauseFunc
	first  *time.Timer // ends the stream unless its first message arrives

	mu     sync.Mutex
	owed   func(m any) bool // set if the stream owes its client a last message at shutdown
	told   bool             // owed message sent
	ending bool
}

func newStreams(srv *grpc.Server, timeout time.Duration, pending, pendingFree int) *streams {
	tick := max(min(timeout/4, deadlineTick), time.Millisecond)
	t := &streams{
		timeout: timeout, deadlines: deadline.New(tick), pending: newPendingStreams(pending, pendingFree),
		unary: map[string]bool{}, streaming: map[string]bool{}, live: map[*liveStream]struct{}{},
	}
	for svc, info := range srv.GetServiceInfo() {
		for _, m := range info.Methods {
			name := "/" + svc + "/" + m.Name
			if m.IsClientStream || m.IsServerStream {
				t.streaming[name] = true
			} else {
				t.unary[name] = true
			}
		}
	}
	return t
}

// tap applies the bounds to a new stream of method on the connection conn
// (nil if unknown), and reports whether the method is served; err refuses
// the stream (errTooManyPending). It runs in grpc-go's tap handle (see
// Server.tap), on the connection's reader goroutine for every new stream,
// so it must stay cheap.
func (t *streams) tap(ctx context.Context, conn *peer.Peer, method string) (_ context.Context, known bool, err error) {
	if t.unary[method] {
		if conn == nil { // not from grpc-go's transport: nothing to count by
			return t.deadlines.WithTimeout(ctx, t.timeout), true, nil
		}
		if !t.pending.acquire(conn) {
			return nil, true, errTooManyPending
		}
		// The transport cancels the stream's context (this one's parent)
		// when the stream ends, which ends this one and gives back its
		// slot if the message was never read. A client deadline within
		// the bound is kept: the watchdog's context takes the earlier.
		return t.deadlines.WithTimeoutHold(ctx, t.timeout, t.pending, conn), true, nil
	}
	if t.streaming[method] {
		ctx, cancel := context.WithCancelCause(ctx)
		ls := &liveStream{cancel: cancel}
		ls.first = time.AfterFunc(t.timeout, func() { cancel(errNoRequest) })
		return context.WithValue(ctx, liveStreamKey{}, ls), true, nil
	}
	return ctx, false, nil
}

// messageRead gives back the pending-stream slot of the unary RPC whose
// context (or a context derived from it) is ctx, once the handler's decode
// of its message has returned; a no-op for a context without one (a call
// through the HTTP front door, which has no tap, or a slot already given
// back).
func messageRead(ctx context.Context) { deadline.Release(ctx) }

// intercept registers a streaming RPC for the length of its handler and
// turns the stream's end by this package into a status.
func (t *streams) intercept(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx := ss.Context()
	ls, _ := ctx.Value(liveStreamKey{}).(*liveStream)
	if ls == nil {
		return handler(srv, ss)
	}
	t.mu.Lock()
	if t.ending {
		t.mu.Unlock()
		ls.first.Stop()
		return status.Error(codes.Unavailable, errShuttingDown.Error())
	}
	t.live[ls] = struct{}{}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.live, ls)
		t.mu.Unlock()
	}()

	err := handler(srv, &trackedStream{ServerStream: ss, ls: ls})
	// A handler waiting in RecvMsg when its stream is ended has already
	// had grpc-go send CANCELLED; one waiting elsewhere (health Watch)
	// reports the shutdown as UNAVAILABLE, so the client reconnects.
	if errors.Is(context.Cause(ctx), errShuttingDown) {
		return status.Error(codes.Unavailable, errShuttingDown.Error())
	}
	return err
}

// endAll ends every streaming RPC, and refuses new ones: at once, or for a
// stream owing its client a last message, once that is sent.
func (t *streams) endAll() {
	t.mu.Lock()
	t.ending = true
	live := make([]*liveStream, 0, len(t.live))
	for ls := range t.live {
		live = append(live, ls)
	}
	t.mu.Unlock()
	for _, ls := range live {
		ls.mu.Lock()
		ls.ending = true
		if ls.owed == nil || ls.told {
			ls.cancel(errShuttingDown)
		}
		ls.mu.Unlock()
	}
}

// trackedStream stops the first-message timer and notes owed messages sent.
type trackedStream struct {
	grpc.ServerStream
	ls *liveStream
}

func (s *trackedStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	s.ls.first.Stop()
	return callerFault(err)
}

func (s *trackedStream) SendMsg(m any) error {
	err := s.ServerStream.SendMsg(m)
	ls := s.ls
	ls.mu.Lock()
	if ls.owed != nil && ls.owed(m) {
		ls.told = true
		if ls.ending {
			ls.cancel(errShuttingDown)
		}
	}
	ls.mu.Unlock()
	return err
}

// healthService is grpc-go's health server with a Watch that, at shutdown,
// ends a watcher's stream only after the watcher was sent NOT_SERVING.
type healthService struct {
	*health.Server
	served map[string]bool // services given a status: Shutdown turns each NOT_SERVING
}

func (h healthService) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	if ls, _ := stream.Context().Value(liveStreamKey{}).(*liveStream); ls != nil && h.served[req.GetService()] {
		ls.mu.Lock()
		ls.owed = func(m any) bool {
			r, ok := m.(*healthpb.HealthCheckResponse)
			return ok && r.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING
		}
		ls.mu.Unlock()
	}
	return h.Server.Watch(req, stream)
}
