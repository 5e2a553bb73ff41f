package server

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acme/user-service/services/user-server/internal/auth"
	"github.com/acme/user-service/services/user-server/internal/logging"
	"github.com/acme/user-service/services/user-server/internal/rawh2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/test/bufconn"
)

// TestAccessLogEveryRPC sends each class of bad request as raw HTTP/2
// frames, including those grpc-go answers before any interceptor runs, and
// checks the reply and that each RPC has exactly one access line with its
// code at its level: by default every RPC that reaches a hook of the
// server, with LogRejected also those only a stats handler sees.
func TestAccessLogEveryRPC(t *testing.T) {
	t.Parallel()
	for _, logRejected := range []bool{false, true} {
		t.Run(fmt.Sprintf("LogRejected=%v", logRejected), func(t *testing.T) {
			t.Parallel()
			ts := start(t, func(c *Config) { c.LogRejected = logRejected })
			res, cases := sendRawCases(t, ts.srv)
			var want []string
			for i, c := range cases {
				if c.Req.Cancel {
					// Reset by the client: the client sees no status.
				} else if res[i].Status != int(c.Code) {
					t.Errorf("%s: status %d %q, want %v", c.Name, res[i].Status, res[i].Message, c.Code)
				}
				if c.Message != "" && res[i].Message != c.Message {
					t.Errorf("%s: message %q, want %q", c.Name, res[i].Message, c.Message)
				}
				if c.Logged.LoggedBy(logRejected) {
					want = append(want, fmt.Sprintf("%s %s %s", c.Method, c.Code, c.Level()))
				}
			}
			ts.logs.waitAccessLines(t, len(want))
			var got []string
			for _, l := range ts.logs.lines(t) {
				if l["msg"] == "rpc" {
					got = append(got, fmt.Sprintf("%s %s %s", l["method"], l["code"], l["level"]))
				}
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("access lines (method code level):\n%s\nwant:\n%s\nlog:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), ts.logs)
			}
		})
	}
}

// sendRawCases sends rawh2.Cases to srv on a connection of their own.
func sendRawCases(t *testing.T, srv *Server) ([]rawh2.Result, []rawh2.Case) {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.grpc.Serve(lis) }()
	conn, err := lis.DialContext(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cases := rawh2.Cases(auth.DevToken)
	reqs := make([]rawh2.Request, len(cases))
	for i, c := range cases {
		reqs[i] = c.Req
	}
	res, err := rawh2.Do(conn, time.Now().Add(time.Minute), reqs)
	if err != nil {
		t.Fatal(err)
	}
	return res, cases
}

// The requests of class rawh2.Never are not logged because no hook sees
// them: a stats handler (the widest hook grpc-go has) is told of every
// other request, and of none of them.
func TestTransportRejectionsReachNoHook(t *testing.T) {
	t.Parallel()
	seen := &methodsSeen{}
	ts := start(t, func(c *Config) { c.ExtraOptions = append(c.ExtraOptions, grpc.StatsHandler(seen)) })
	res, cases := sendRawCases(t, ts.srv)
	for i, c := range cases {
		if !c.Req.Cancel && res[i].Status != int(c.Code) {
			t.Errorf("%s: status %d %q, want %v", c.Name, res[i].Status, res[i].Message, c.Code)
		}
	}
	never, other := 0, 0
	for _, c := range cases {
		if c.Logged == rawh2.Never {
			never++
		} else if c.Req.Path[0] == '/' { // a malformed method name is refused before the stats handler too, but the tap sees it
			other++
		}
	}
	if never == 0 {
		t.Fatal("no case of class Never: the test would prove nothing")
	}
	if got := seen.count(); got != other {
		t.Errorf("stats handler saw %d RPCs, want %d (every case but the %d the transport refuses and the malformed method name)", got, other, never)
	}
}

// methodsSeen is a stats handler counting the RPCs it is told of.
type methodsSeen struct {
	mu sync.Mutex
	n  int
}

func (m *methodsSeen) count() int { m.mu.Lock(); defer m.mu.Unlock(); return m.n }

func (m *methodsSeen) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	m.mu.Lock()
	m.n++
	m.mu.Unlock()
	return ctx
}
func (*methodsSeen) HandleRPC(context.Context, stats.RPCStats) {}
func (*methodsSeen) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (*methodsSeen) HandleConn(context.Context, stats.ConnStats) {}

func TestLevelFor(t *testing.T) {
	t.Parallel()
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		want := slog.LevelWarn
		switch c {
		case codes.OK, codes.Canceled:
			want = slog.LevelInfo
		case codes.Unknown, codes.Internal, codes.Unavailable, codes.DataLoss:
			want = slog.LevelError
		}
		if got := levelFor(c); got != want {
			t.Errorf("levelFor(%v) = %v, want %v", c, got, want)
		}
	}
}

// A context without a peer still gets a line; a context error is logged
// with the code grpc-go sends for it.
func TestAccessLogWithoutPeer(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	a := outermost{log: logging.SlogAccessLogger(slog.NewJSONHandler(logs, nil))}
	a.rpcDone(context.Background(), "/a/b", time.Now(), nil)
	a.rpcDone(context.Background(), "/a/b", time.Now(), context.Canceled)
	if s := logs.String(); !strings.Contains(s, `"method":"/a/b","code":"OK"`) || !strings.Contains(s, `"level":"INFO","msg":"rpc","method":"/a/b","code":"Canceled"`) {
		t.Errorf("log = %s", s)
	}
}
