package server

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-server/internal/auth"
	"github.com/acme/user-service/services/user-server/internal/directory"
	"github.com/acme/user-service/services/user-server/internal/directory/file"
	"github.com/acme/user-service/services/user-server/internal/testwait"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

// countingMetrics counts calls ended, by method and code.
type countingMetrics struct {
	mu    sync.Mutex
	ended map[string]int // "method code"
}

func (m *countingMetrics) Started(string) {}

func (m *countingMetrics) Ended(method string, err error, _ time.Duration, _, _ int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ended == nil {
		m.ended = map[string]int{}
	}
	m.ended[method+" "+status.Code(err).String()]++
}

func (m *countingMetrics) count(method string, code codes.Code) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ended[method+" "+code.String()]
}

// pendingServer serves srv on an in-memory listener; each dial is a
// connection of its own, with pending streams of its own.
type pendingServer struct {
	*testServer
	lis *bufconn.Listener
}

func startPending(t *testing.T, opts ...option) *pendingServer {
	t.Helper()
	logs := &logBuffer{}
	authn, err := auth.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Users: file.Embedded(), Auth: authn,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.grpc.Serve(lis) }()
	t.Cleanup(srv.grpc.Stop)
	ps := &pendingServer{testServer: &testServer{srv: srv, logs: logs}, lis: lis}
	ps.conn = ps.dial(t)
	return ps
}

// dial opens a new connection to the server.
func (ps *pendingServer) dial(t *testing.T) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ps.lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// pendingConns is the number of connections with pending streams.
func (ps *pendingServer) pendingConns() int {
	p := ps.srv.streams.pending
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

var getUserDesc = &grpc.StreamDesc{StreamName: "GetUserDetails"}

// hold opens a GetUserDetails stream whose message is not sent: its
// headers reach the server, which waits for the message.
func hold(t *testing.T, ctx context.Context, conn *grpc.ClientConn) grpc.ClientStream {
	t.Helper()
	s, err := conn.NewStream(ctx, getUserDesc, userv1.UserService_GetUserDetails_FullMethodName)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// finish sends a held stream's message and returns the call's outcome.
func finish(s grpc.ClientStream) (*userv1.GetUserDetailsResponse, error) {
	if err := s.SendMsg(&userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: "valid-token"}); err != nil {
		return nil, err
	}
	if err := s.CloseSend(); err != nil {
		return nil, err
	}
	resp := &userv1.GetUserDetailsResponse{}
	return resp, s.RecvMsg(resp)
}

// streamEnd waits for a held stream's end (bounded only against a hang).
func streamEnd(t *testing.T, s grpc.ClientStream) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- s.RecvMsg(&userv1.GetUserDetailsResponse{}) }()
	select {
	case err := <-errc:
		return err
	case <-time.After(testwait.Bound()):
		t.Fatal("held stream not ended")
		return nil
	}
}

// TestPendingStreamsBounded: a connection may hold --max-pending-streams
// unary streams waiting for their message; more are refused with
// RESOURCE_EXHAUSTED, counted in the RPC metrics and logged at WARN,
// sampled. Other connections are not affected, and the held streams are
// served once their messages come.
func TestPendingStreamsBounded(t *testing.T) {
	t.Parallel()
	const bound = 4
	metrics := &countingMetrics{}
	ps := startPending(t, func(c *Config) {
		c.Limits.PendingStreams = bound
		c.Limits.PendingStreamsFree = 1 // the bound applies at once
		c.Limits.RequestTimeout = time.Hour
		c.Metrics = metrics
	})
	held := make([]grpc.ClientStream, bound)
	for i := range held {
		held[i] = hold(t, t.Context(), ps.conn)
	}
	// Frames of a connection are handled in order: each stream opened
	// now reaches the server after the held ones.
	start := time.Now()
	const refusals = 300
	for i := range refusals {
		err := streamEnd(t, hold(t, t.Context(), ps.conn))
		if st := status.Convert(err); st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "waiting for their request message") {
			t.Fatalf("stream %d over the bound: %v, want RESOURCE_EXHAUSTED", bound+i+1, err)
		}
	}
	elapsed := time.Since(start)
	if _, err := getUserOn(t.Context(), ps.conn); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a whole call on the full connection: %v, want RESOURCE_EXHAUSTED", err)
	}

	// Another connection has a bound of its own.
	other := ps.dial(t)
	for range 2 * bound {
		if _, err := getUserOn(t.Context(), other); err != nil {
			t.Fatalf("other connection: %v", err)
		}
	}
	// The held calls complete once their messages are sent, and free
	// their connection's slots.
	for i, s := range held {
		if resp, err := finish(s); err != nil || resp.GetName() != "John Doe" {
			t.Fatalf("held call %d: %v, %v", i, resp, err)
		}
	}
	if _, err := getUserOn(t.Context(), ps.conn); err != nil {
		t.Fatalf("after the held calls ended: %v", err)
	}

	method := userv1.UserService_GetUserDetails_FullMethodName
	if n := metrics.count(method, codes.ResourceExhausted); n != refusals+1 {
		t.Errorf("metrics: %d calls ended RESOURCE_EXHAUSTED, want %d", n, refusals+1)
	}
	// The access lines are sampled: bursts of 100, then 10 a second.
	ps.logs.waitAccessLines(t, 100)
	lines, suppressed := 0, 0
	for _, l := range ps.logs.lines(t) {
		if l["msg"] != "rpc" || l["code"] != "ResourceExhausted" {
			continue
		}
		lines++
		if l["level"] != "WARN" || l["method"] != method {
			t.Errorf("refusal line: %v", l)
		}
		if n, ok := l["suppressed"].(float64); ok {
			suppressed += int(n)
		}
	}
	if max := 100 + int(10*elapsed.Seconds()) + 2; lines < 100 || lines > max {
		t.Errorf("%d refusal lines for %d refusals in %v, want 100 to %d", lines, refusals+1, elapsed, max)
	}
	if lines+suppressed > refusals+1 {
		t.Errorf("%d lines and %d suppressed for %d refusals", lines, suppressed, refusals+1)
	}
}

// TestPendingSlotsReturned: a stream gives its slot back however it ends
// (its message read, its deadline, the client's cancellation, no message
// at all), so a connection makes far more calls than the bound, one
// after another, and keeps being able to hold the bound's worth.
func TestPendingSlotsReturned(t *testing.T) {
	t.Parallel()
	const bound = 4
	ps := startPending(t, func(c *Config) {
		c.Limits.PendingStreams = bound
		c.Limits.PendingStreamsFree = 1
	})
	for i := range 25 * bound {
		if _, err := getUserOn(t.Context(), ps.conn); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}

	rounds := func(name string, end func([]grpc.ClientStream) codes.Code, conn *grpc.ClientConn) {
		t.Helper()
		for r := range 5 {
			ss := make([]grpc.ClientStream, bound)
			ctx, cancel := context.WithCancel(t.Context())
			for i := range ss {
				ss[i] = hold(t, ctx, conn)
			}
			if code := end(ss); code != codes.OK {
				t.Fatalf("%s, round %d: a held stream ended %v", name, r+1, code)
			}
			cancel()
			// A stream the client cancelled has no end to wait for:
			// the server gives its slot back once it notices.
			testwait.Until(t, "slots given back", func() bool { return ps.pendingConns() == 0 })
		}
	}
	// Messages sent.
	rounds("message", func(ss []grpc.ClientStream) codes.Code {
		for _, s := range ss {
			if _, err := finish(s); err != nil {
				return status.Code(err)
			}
		}
		return codes.OK
	}, ps.conn)
	// No message: the client ends its side at once.
	rounds("no message", func(ss []grpc.ClientStream) codes.Code {
		for _, s := range ss {
			if err := s.CloseSend(); err != nil {
				return status.Code(err)
			}
			if err := streamEnd(t, s); status.Code(err) == codes.ResourceExhausted || err == nil {
				return codes.ResourceExhausted
			}
		}
		return codes.OK
	}, ps.conn)
	// Cancelled by the client, once the server holds them.
	rounds("cancelled", func([]grpc.ClientStream) codes.Code {
		testwait.Until(t, "streams held", func() bool { return ps.srv.streams.pending.held() == bound })
		return codes.OK
	}, ps.conn)

	// The request deadline, on a server whose bound is short.
	short := startPending(t, func(c *Config) {
		c.Limits.PendingStreams = bound
		c.Limits.PendingStreamsFree = 1
		c.Limits.RequestTimeout = 10 * time.Millisecond
	})
	rounds("deadline", func(ss []grpc.ClientStream) codes.Code {
		for _, s := range ss {
			if err := streamEnd(t, s); status.Code(err) != codes.DeadlineExceeded {
				return status.Code(err)
			}
		}
		return codes.OK
	}, short.conn)
}

// blockingUsers is a directory whose lookups wait until release is
// closed.
type blockingUsers struct {
	directory.Directory
	started chan struct{}
	release chan struct{}
}

func (b blockingUsers) Lookup(ctx context.Context, id string) (directory.User, error) {
	b.started <- struct{}{}
	<-b.release
	return b.Directory.Lookup(ctx, id)
}

// TestPendingEndsWithMessage: a stream stops counting once its message is
// read, not when the call ends: calls whose handlers run long do not use
// up their connection's pending slots.
func TestPendingEndsWithMessage(t *testing.T) {
	t.Parallel()
	const bound = 4
	users := blockingUsers{Directory: file.Embedded(), started: make(chan struct{}), release: make(chan struct{})}
	ps := startPending(t, func(c *Config) {
		c.Limits.PendingStreams = bound
		c.Limits.PendingStreamsFree = 1
		c.Limits.RequestTimeout = time.Hour
		c.Users = users
	})
	const running = 3 * bound
	errs := make(chan error, running)
	for i := range running {
		go func() {
			_, err := getUserOn(t.Context(), ps.conn)
			errs <- err
		}()
		select {
		case <-users.started: // its message was read
		case err := <-errs:
			t.Fatalf("call %d ended before its lookup: %v", i+1, err)
		}
	}
	// Every call is running, past its message: the connection may still
	// hold the bound's worth of streams waiting for theirs.
	held := make([]grpc.ClientStream, bound)
	for i := range held {
		held[i] = hold(t, t.Context(), ps.conn)
	}
	if err := streamEnd(t, hold(t, t.Context(), ps.conn)); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("stream over the bound: %v, want RESOURCE_EXHAUSTED", err)
	}
	close(users.release)
	for range running {
		if err := <-errs; err != nil {
			t.Fatalf("running call: %v", err)
		}
	}
	for i, s := range held {
		done := make(chan error, 1)
		go func() { _, err := finish(s); done <- err }()
		<-users.started
		if err := <-done; err != nil {
			t.Fatalf("held call %d: %v", i, err)
		}
	}
}

// TestPendingStreamsFree: below Limits.PendingStreamsFree streams
// waiting server-wide, a connection may hold more than its bound; from
// there, only connections within their bound get more.
func TestPendingStreamsFree(t *testing.T) {
	t.Parallel()
	const bound, free = 4, 10
	ps := startPending(t, func(c *Config) {
		c.Limits.PendingStreams = bound
		c.Limits.PendingStreamsFree = free
		c.Limits.RequestTimeout = time.Hour
	})
	other := ps.dial(t)
	for range free - 2 {
		hold(t, t.Context(), ps.conn)
	}
	// The server holds free-2: the next two are taken, one from each.
	hold(t, t.Context(), ps.conn)
	hold(t, t.Context(), other)
	// Frames are handled in order on a connection, not across two.
	testwait.Until(t, "streams held", func() bool { return ps.srv.streams.pending.held() == free })
	// Now at free: the connection over its bound is refused, the other
	// is not, until it reaches the bound.
	if err := streamEnd(t, hold(t, t.Context(), ps.conn)); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("connection over its bound, %d held server-wide: %v, want RESOURCE_EXHAUSTED", free, err)
	}
	for range bound - 1 {
		hold(t, t.Context(), other)
	}
	if err := streamEnd(t, hold(t, t.Context(), other)); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("other connection past its bound: %v, want RESOURCE_EXHAUSTED", err)
	}
	if n := ps.srv.streams.pending.held(); n != free+bound-1 {
		t.Errorf("%d streams held server-wide, want %d", n, free+bound-1)
	}
}

// TestPendingPipelinedClient: a grpc-go client that starts many calls at
// once on one connection is not refused while the server is not flooded,
// although its calls wait for their messages many at a time: its
// transport writes the calls' HEADERS frames ahead of their DATA frames.
func TestPendingPipelinedClient(t *testing.T) {
	t.Parallel()
	ps := startPending(t)
	const calls = 200 // the default bound is 32
	for round := range 5 {
		var wg sync.WaitGroup
		errs := make(chan error, calls)
		for range calls {
			wg.Go(func() {
				if _, err := getUserOn(t.Context(), ps.conn); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round+1, err)
		}
	}
}

func getUserOn(ctx context.Context, conn *grpc.ClientConn) (*userv1.GetUserDetailsResponse, error) {
	return userv1.NewUserServiceClient(conn).GetUserDetails(ctx, &userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: "valid-token"})
}
