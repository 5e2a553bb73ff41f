package main

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acme/user-service/services/user-server/internal/rawh2"
	"github.com/acme/user-service/testkit/gobuild"
)

// TestBinaryAccessLogEveryRPC sends each class of bad request as raw HTTP/2
// frames to the real binary (default configuration: text log at INFO; and
// with --log-rejected-rpcs) and checks that every RPC that reaches a hook,
// including those grpc-go answers before any interceptor, has exactly one
// access line with the right code and level.
func TestBinaryAccessLogEveryRPC(t *testing.T) {
	t.Parallel()
	bin := gobuild.Binary(t, ".")
	for _, logRejected := range []bool{false, true} {
		t.Run(fmt.Sprintf("log-rejected-rpcs=%v", logRejected), func(t *testing.T) {
			t.Parallel()
			testBinaryAccessLog(t, bin, logRejected)
		})
	}
}

// testBinaryAccessLog runs TestBinaryAccessLogEveryRPC's requests against
// bin with USER_SERVER_LOG_REJECTED_RPCS set to logRejected.
func testBinaryAccessLog(t *testing.T, bin string, logRejected bool) {
	const token = "e2e-access-9c1d"
	srv := startBinary(t, bin, []string{"USER_SERVER_AUTH_TOKENS=" + token, fmt.Sprintf("USER_SERVER_LOG_REJECTED_RPCS=%v", logRejected), "USER_SERVER_REFLECTION=true"})
	addr, logFile := srv.addr, srv.logFile

	cases := rawh2.Cases(token)
	reqs := make([]rawh2.Request, len(cases))
	for i, c := range cases {
		reqs[i] = c.Req
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	res, err := rawh2.Do(conn, time.Now().Add(time.Minute), reqs)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i, c := range cases {
		if !c.Req.Cancel && res[i].Status != int(c.Code) {
			t.Errorf("%s: status %d %q, want %v", c.Name, res[i].Status, res[i].Message, c.Code)
		}
		if c.Message != "" && res[i].Message != c.Message {
			t.Errorf("%s: message %q, want %q", c.Name, res[i].Message, c.Message)
		}
		if c.Logged.LoggedBy(logRejected) {
			want = append(want, fmt.Sprintf("%s %s %s", c.Method, c.Code, c.Level()))
		}
	}

	// The cancelled Watch ends when the server reads the client's
	// RST_STREAM; a shutdown before that would end it first (Unavailable).
	// Its line shows the reset was read (the log is flushed every 100ms).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		logs, _ := os.ReadFile(logFile)
		if strings.Contains(string(logs), "method=/grpc.health.v1.Health/Watch ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access line for the cancelled Watch; log:\n%s", logs)
		}
	}

	// Every RPC's line is written before the server exits.
	if err := srv.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srv.waitExit(t); err != nil {
		t.Fatalf("server exit: %v; stderr:\n%s", err, srv.stderr)
	}
	logs, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^time=\S+ level=(\S+) msg=rpc method=(\S+) code=(\S+) duration=\S+ peer=127\.0\.0\.1:\d+( error=".*")?$`)
	var got []string
	for l := range strings.Lines(string(logs)) {
		if !strings.Contains(l, "msg=rpc ") {
			continue
		}
		m := line.FindStringSubmatch(strings.TrimSuffix(l, "\n"))
		if m == nil {
			t.Errorf("malformed access line %q", l)
			continue
		}
		got = append(got, fmt.Sprintf("%s %s %s", m[2], m[3], m[1]))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("access lines (method code level):\n%s\nwant:\n%s\nlog:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), logs)
	}
	if strings.Contains(string(logs), token) {
		t.Error("log holds the token")
	}
}
