package server

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acme/user-service/services/user-server/internal/auth"
	"github.com/acme/user-service/services/user-server/internal/logging"
	"github.com/acme/user-service/services/user-server/internal/rawh2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/test/bufconn"
)

// TestAccessLogEveryRPC sends each class of bad request as raw HTTP/2
// frames, including those grpc-go answers before any interceptor runs, and
// checks the reply and that each RPC has exactly one access line with its
// code at its level.
func TestAccessLogEveryRPC(t *testing.T) {
	t.Parallel()
	ts := start(t)
	lis := bufconn.Listen(1 << 20)
	go func() { _ = ts.srv.grpc.Serve(lis) }()
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
		if c.Logged {
			want = append(want, fmt.Sprintf("%s %s %s", c.Method, c.Code, levelFor(c.Code)))
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
}

func TestLevelFor(t *testing.T) {
	t.Parallel()
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		want := slog.LevelWarn
		switch c {
		case codes.OK:
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
	if s := logs.String(); !strings.Contains(s, `"method":"/a/b","code":"OK"`) || !strings.Contains(s, `"level":"WARN","msg":"rpc","method":"/a/b","code":"Canceled"`) {
		t.Errorf("log = %s", s)
	}
}
