package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-server/internal/telemetry/otlptest"
	"github.com/acme/user-service/testkit"
	"github.com/acme/user-service/testkit/gobuild"
	"github.com/acme/user-service/testkit/proc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const httpToken = "e2e-http-7f3a"

// httpBinary is the real binary with --http-listen and --metrics-listen.
type httpBinary struct {
	*binProc
	url, metrics string
}

func startHTTPBinary(t *testing.T, args ...string) *httpBinary {
	t.Helper()
	return startHTTPBinaryEnv(t, []string{"USER_SERVER_AUTH_TOKENS=" + httpToken}, args...)
}

// startHTTPBinaryEnv is startHTTPBinary with env (nil: development mode).
func startHTTPBinaryEnv(t *testing.T, env []string, args ...string) *httpBinary {
	t.Helper()
	bin := gobuild.Binary(t, ".")
	out := &testkit.Buffer{}
	p := &binProc{logFile: t.TempDir() + "/server.log", stderr: &testkit.Buffer{}}
	p.Proc = proc.StartT(t, proc.Spec{
		Path: bin,
		Args: append([]string{"--log-file", p.logFile, "--http-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"}, args...),
		Env:  append(withoutServerEnv(), env...), Stdout: out, Stderr: p.stderr,
	})
	p.addr = p.Addr
	h := &httpBinary{binProc: p}
	deadline := time.Now().Add(waitFor)
	for h.url == "" || h.metrics == "" {
		sc := bufio.NewScanner(strings.NewReader(out.String()))
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "http on "); ok {
				h.url = u
			}
			if u, ok := strings.CutPrefix(sc.Text(), "metrics on "); ok {
				h.metrics = u
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no \"http on\"/\"metrics on\" lines; stdout:\n%s\nstderr:\n%s", out, p.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return h
}

const method = "/user.v1.UserService/GetUserDetails"

// protocols are the ways a Connect-family client calls the method.
var protocols = []struct {
	name, logged string
	opts         []connect.ClientOption
}{
	{"connect-proto", "connect", nil},
	{"connect-json", "connect", []connect.ClientOption{connect.WithProtoJSON()}},
	{"connect-get", "connect", []connect.ClientOption{connect.WithHTTPGet(), connect.WithProtoJSON()}},
	{"grpc-web", "grpc-web", []connect.ClientOption{connect.WithGRPCWeb()}},
}

func connectClient(url string, opts []connect.ClientOption) *connect.Client[userv1.GetUserDetailsRequest, userv1.GetUserDetailsResponse] {
	return connect.NewClient[userv1.GetUserDetailsRequest, userv1.GetUserDetailsResponse](http.DefaultClient, url+method,
		append([]connect.ClientOption{connect.WithIdempotency(connect.IdempotencyNoSideEffects)}, opts...)...)
}

// TestHTTPProtocols calls the real binary over each HTTP protocol and
// checks the outcome, the error details, the access line (one per call,
// with the protocol) and the metrics each call leaves.
func TestHTTPProtocols(t *testing.T) {
	t.Parallel()
	srv := startHTTPBinary(t)
	type call struct {
		name     string
		userID   string
		body     string // the token in the message
		bearer   string // the token in Authorization: Bearer
		code     connect.Code
		details  bool // violations in the details
		viaURLOK bool // the token may travel this way on GET
	}
	calls := []call{
		{name: "reference", userID: "john123", bearer: httpToken},
		{name: "token in body", userID: "john123", body: httpToken, code: 0, viaURLOK: false},
		{name: "not found", userID: "nobody", bearer: httpToken, code: connect.CodeNotFound},
		{name: "bad token", userID: "john123", bearer: "wrong", code: connect.CodeUnauthenticated},
		{name: "no token", userID: "john123", code: connect.CodeUnauthenticated},
		{name: "invalid id", userID: "bad id!", bearer: httpToken, code: connect.CodeInvalidArgument, details: true},
	}
	want := 0
	for _, p := range protocols {
		for _, c := range calls {
			t.Run(p.name+"/"+c.name, func(t *testing.T) {
				code := c.code
				if p.name == "connect-get" && c.body != "" {
					code = connect.CodeInvalidArgument // the token must not travel in the URL
				}
				req := connect.NewRequest(&userv1.GetUserDetailsRequest{UserId: c.userID, AuthToken: c.body})
				if c.bearer != "" {
					req.Header().Set("Authorization", "Bearer "+c.bearer)
				}
				resp, err := connectClient(srv.url, p.opts).CallUnary(t.Context(), req)
				if code == 0 {
					if err != nil {
						t.Fatal(err)
					}
					if resp.Msg.GetName() != "John Doe" || resp.Msg.GetStatus() != "Success" {
						t.Fatalf("response %v", resp.Msg)
					}
					return
				}
				if connect.CodeOf(err) != code {
					t.Fatalf("error %v, want code %v", err, code)
				}
				var ce *connect.Error
				if errors.As(err, &ce) && c.details && len(ce.Details()) != 1 {
					t.Errorf("details %v, want buf.validate.Violations", ce.Details())
				}
				if c.bearer == "wrong" && strings.Contains(err.Error(), "wrong") {
					t.Errorf("error echoes the token: %v", err)
				}
			})
			want++
		}
	}
	srv.checkAccessLines(t, want, map[string]int{"connect": 3 * len(calls), "grpc-web": len(calls)})
	srv.checkStarted(t, want)
}

// checkAccessLines waits for n access lines of the method, each with a
// protocol, and compares the counts per protocol.
func (h *httpBinary) checkAccessLines(t *testing.T, n int, perProtocol map[string]int) {
	t.Helper()
	re := regexp.MustCompile(`msg=rpc method=` + regexp.QuoteMeta(method) + ` protocol=(\S+) `)
	deadline := time.Now().Add(waitFor)
	for {
		got := map[string]int{}
		total := 0
		for _, m := range re.FindAllStringSubmatch(h.logs(t), -1) {
			got[m[1]]++
			total++
		}
		if total >= n {
			if total != n || fmt.Sprint(got) != fmt.Sprint(perProtocol) {
				t.Errorf("access lines per protocol %v (%d), want %v (%d)", got, total, perProtocol, n)
			}
			if strings.Contains(h.logs(t), httpToken) {
				t.Error("the log holds the token")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d access lines, want %d:\n%s", total, n, h.logs(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkStarted compares grpc_server_call_started_total of the method with n.
func (h *httpBinary) checkStarted(t *testing.T, n int) {
	t.Helper()
	resp, err := http.Get(h.metrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	re := regexp.MustCompile(`(?m)^grpc_server_call_started_total\{grpc_method="user.v1.UserService/GetUserDetails"\} (\d+)$`)
	m := re.FindSubmatch(b)
	if m == nil || string(m[1]) != fmt.Sprint(n) {
		t.Errorf("grpc_server_call_started_total %q, want %d:\n%s", m, n, b)
	}
}

// restCall is one REST or raw JSON request and what it must get.
type restCall struct {
	name, method, path, body string
	header                   map[string]string
	status                   int
	contains                 []string
}

func (c restCall) do(t *testing.T, base string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), c.method, base+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// TestHTTPRESTAndLimits: the REST route, JSON error bodies with the
// violations as JSON, health, the token-in-URL refusal, the body and
// header limits, the deadline and CORS, against the real binary.
func TestHTTPRESTAndLimits(t *testing.T) {
	t.Parallel()
	srv := startHTTPBinary(t, "--request-timeout", "500ms", "--max-recv-msg-size", "1024", "--max-header-list-size", "4096",
		"--http-cors-origins", "https://app.example.com")
	bearer := map[string]string{"Authorization": "Bearer " + httpToken}
	// Connect-Protocol-Version tells a Connect call from a REST one.
	jsonBearer := map[string]string{"Authorization": "Bearer " + httpToken, "Content-Type": "application/json", "Connect-Protocol-Version": "1"}
	connectJSON := map[string]string{"Content-Type": "application/json", "Connect-Protocol-Version": "1"}
	calls := []restCall{
		{"rest reference", "GET", "/v1/users/john123", "", bearer, 200, []string{`"name":"John Doe"`, `"status":"Success"`}},
		{"rest not found", "GET", "/v1/users/nobody", "", bearer, 404, []string{`"code":5`}},
		{"rest bad token", "GET", "/v1/users/john123", "", map[string]string{"Authorization": "Bearer nope"}, 401, []string{`"code":16`}},
		{"rest no token", "GET", "/v1/users/john123", "", nil, 401, nil},
		{"rest invalid id", "GET", "/v1/users/bad%20id", "", bearer, 400, []string{`"@type":"type.googleapis.com/buf.validate.Violations"`, `"ruleId":"string.pattern"`}},
		{"rest token in query", "GET", "/v1/users/john123?authToken=" + httpToken, "", nil, 400, []string{"must not travel in a URL"}},
		{"connect-json invalid id", "POST", method, `{"userId":"bad id!"}`, jsonBearer, 400, []string{`"code":"invalid_argument"`, `"debug":{"violations":[`, `"ruleId":"string.pattern"`}},
		{"connect-json body token", "POST", method, `{"userId":"john123","authToken":"` + httpToken + `"}`, connectJSON, 200, []string{`"name":"John Doe"`}},
		{"connect-json oversized", "POST", method, `{"userId":"` + strings.Repeat("a", 4096) + `"}`, jsonBearer, 0, nil},
		{"health", "POST", "/grpc.health.v1.Health/Check", `{}`, connectJSON, 200, []string{`"status":"SERVING"`}},
	}
	for _, c := range calls {
		status, body, _ := c.do(t, srv.url)
		if c.status == 0 { // oversized: refused, whichever layer says so
			if status < 400 || status == 500 {
				t.Errorf("%s: status %d %s, want a 4xx refusal", c.name, status, body)
			}
			continue
		}
		if status != c.status {
			t.Errorf("%s: status %d %s, want %d", c.name, status, body, c.status)
		}
		for _, s := range c.contains {
			if !strings.Contains(body, s) {
				t.Errorf("%s: body %s, want it to contain %s", c.name, body, s)
			}
		}
		if strings.Contains(body, httpToken) {
			t.Errorf("%s: the body echoes the token", c.name)
		}
	}
	t.Run("header limit", func(t *testing.T) {
		c := restCall{"big header", "GET", "/v1/users/john123", "", map[string]string{"Authorization": "Bearer " + httpToken, "X-Big": strings.Repeat("x", 16384)}, 431, nil}
		if status, body, _ := c.do(t, srv.url); status != c.status {
			t.Errorf("status %d %s, want %d", status, body, c.status)
		}
	})
	t.Run("deadline: a body that never comes", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(srv.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", method)
		// Bounded only so that a hang fails: the server must answer
		// or close after --request-timeout (500ms).
		_ = conn.SetReadDeadline(time.Now().Add(waitFor))
		b, err := io.ReadAll(conn)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("no answer to a stalled body: %q", b)
		}
		if len(b) > 0 && !bytes.HasPrefix(b, []byte("HTTP/1.1 4")) && !bytes.HasPrefix(b, []byte("HTTP/1.1 5")) {
			t.Errorf("answer %q", b)
		}
	})
	t.Run("cors", func(t *testing.T) {
		pre := func(origin string) (int, http.Header) {
			c := restCall{"preflight", "OPTIONS", method, "", map[string]string{"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,authorization"}, 0, nil}
			status, _, h := c.do(t, srv.url)
			return status, h
		}
		if status, h := pre("https://app.example.com"); status != 204 || h.Get("Access-Control-Allow-Origin") != "https://app.example.com" || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Errorf("allowed origin: %d %v", status, h)
		}
		if status, h := pre("https://evil.example.com"); status != 403 || h.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("other origin: %d %v", status, h)
		}
	})
	// The REST calls' access lines say so (the log is flushed every 100ms).
	for deadline := time.Now().Add(waitFor); !strings.Contains(srv.logs(t), "protocol=rest code=OK"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no protocol=rest access line:\n%s", srv.logs(t))
		}
	}
	var st struct{ Status string }
	_, body, _ := restCall{"", "POST", "/grpc.health.v1.Health/Check", `{}`, connectJSON, 0, nil}.do(t, srv.url)
	if json.Unmarshal([]byte(body), &st) != nil || st.Status != "SERVING" {
		t.Errorf("health %s", body)
	}
}

// TestGRPCBearer: native gRPC accepts the token in an authorization:
// Bearer header too; the token in the message wins over it.
func TestGRPCBearer(t *testing.T) {
	t.Parallel()
	srv := startHTTPBinary(t)
	conn := dial(t, srv.addr, insecure.NewCredentials())
	client := userv1.NewUserServiceClient(conn)
	for _, tc := range []struct {
		name, bearer, body string
		code               codes.Code
	}{
		{"bearer", httpToken, "", codes.OK},
		{"bad bearer", "nope", "", codes.Unauthenticated},
		{"body wins", "nope", httpToken, codes.OK},
		{"not bearer scheme", "", "", codes.Unauthenticated},
	} {
		ctx := t.Context()
		if tc.bearer != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tc.bearer)
		} else {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Basic "+httpToken)
		}
		_, err := client.GetUserDetails(ctx, &userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: tc.body})
		if status.Code(err) != tc.code {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.code)
		}
	}
}

// TestHTTPTracing: a call on each HTTP protocol carrying a sampled W3C
// traceparent gets one server span in that trace, child of the caller's
// span, even at --trace-sample-ratio 0.
func TestHTTPTracing(t *testing.T) {
	t.Parallel()
	rcv := otlptest.Start(t)
	srv := startHTTPBinary(t, "--otlp-endpoint", rcv.Addr, "--trace-sample-ratio", "0")
	const parent = "00f067aa0ba902b7"
	traces := map[string]string{} // trace id: protocol
	for i, p := range protocols {
		traceID := fmt.Sprintf("4bf92f3577b34da6a3ce929d0e0e47%02x", i)
		traces[traceID] = p.name
		req := connect.NewRequest(&userv1.GetUserDetailsRequest{UserId: "john123"})
		req.Header().Set("Authorization", "Bearer "+httpToken)
		req.Header().Set("Traceparent", "00-"+traceID+"-"+parent+"-01")
		if _, err := connectClient(srv.url, p.opts).CallUnary(t.Context(), req); err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
	}
	restTrace := "4bf92f3577b34da6a3ce929d0e0e47ff"
	traces[restTrace] = "rest"
	if status, body, _ := (restCall{"rest", "GET", "/v1/users/john123", "", map[string]string{
		"Authorization": "Bearer " + httpToken, "Traceparent": "00-" + restTrace + "-" + parent + "-01",
	}, 200, nil}).do(t, srv.url); status != 200 {
		t.Fatalf("rest: %d %s", status, body)
	}
	if err := srv.Stop(waitFor); err != nil { // flushes the spans
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, s := range rcv.Spans() {
		if s.Service != "user-server" {
			continue
		}
		id := hex.EncodeToString(s.GetTraceId())
		if _, ok := traces[id]; !ok {
			t.Errorf("span %q in an unexpected trace %s", s.GetName(), id)
			continue
		}
		got[id]++
		if hex.EncodeToString(s.GetParentSpanId()) != parent || s.GetName() != "user.v1.UserService/GetUserDetails" {
			t.Errorf("%s: span %q parent %x", traces[id], s.GetName(), s.GetParentSpanId())
		}
	}
	for id, p := range traces {
		if got[id] != 1 {
			t.Errorf("%s: %d server spans in its trace, want 1", p, got[id])
		}
	}
}

// TestHTTPBadMessages: a request message that does not decode, or that
// is over --max-recv-msg-size in its binary form, is the caller's fault
// on every protocol: a 4xx with the gRPC code, and, as for native gRPC,
// one access line (WARN) and one call in the metrics, since the server's
// handler, not the HTTP library, decodes it.
func TestHTTPBadMessages(t *testing.T) {
	t.Parallel()
	srv := startHTTPBinary(t, "--max-recv-msg-size", "1024")
	bearer := "Bearer " + httpToken
	// user_id (field 1) of 1,500 bytes: 1,503 bytes in binary, within
	// the body cap (twice the limit) but over the message limit.
	big := "\x0a\xdc\x0b" + strings.Repeat("a", 1500)
	proto := map[string]string{"Authorization": bearer, "Content-Type": "application/proto", "Connect-Protocol-Version": "1"}
	jsonH := map[string]string{"Authorization": bearer, "Content-Type": "application/json", "Connect-Protocol-Version": "1"}
	calls := []struct {
		restCall
		code string // the access line's code
	}{
		{restCall{"connect-proto undecodable", "POST", method, "\x0a\xff", proto, 400, []string{`"code":"invalid_argument"`, "invalid request message"}}, "InvalidArgument"},
		{restCall{"connect-json undecodable", "POST", method, `{"userId":`, jsonH, 400, []string{`"code":"invalid_argument"`, "invalid request message"}}, "InvalidArgument"},
		{restCall{"connect-json unknown type", "POST", method, `{"userId":7}`, jsonH, 400, []string{`"code":"invalid_argument"`}}, "InvalidArgument"},
		{restCall{"connect-proto over the message limit", "POST", method, big, proto, 429, []string{`"code":"resource_exhausted"`, "larger than max"}}, "ResourceExhausted"},
	}
	for _, c := range calls {
		status, body, _ := c.do(t, srv.url)
		if status != c.status {
			t.Errorf("%s: status %d %s, want %d", c.name, status, body, c.status)
		}
		for _, s := range c.contains {
			if !strings.Contains(body, s) {
				t.Errorf("%s: body %s, want it to contain %s", c.name, body, s)
			}
		}
	}
	want := map[string]int{}
	for _, c := range calls {
		want[c.code]++
	}
	re := regexp.MustCompile(`level=WARN msg=rpc method=` + regexp.QuoteMeta(method) + ` protocol=connect code=(\S+) `)
	for deadline := time.Now().Add(waitFor); ; time.Sleep(20 * time.Millisecond) {
		got := map[string]int{}
		for _, m := range re.FindAllStringSubmatch(srv.logs(t), -1) {
			got[m[1]]++
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("WARN access lines by code %v, want %v:\n%s", got, want, srv.logs(t))
		}
	}
	srv.checkStarted(t, len(calls))
}
