package h2load

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"google.golang.org/protobuf/proto"
)

// Real h2load 1.52 output.
const sample = `starting benchmark...
finished in 462.07ms, 43283.95 req/s, 3.23MB/s
requests: 20000 total, 20000 started, 20000 done, 19990 succeeded, 10 failed, 0 errored, 0 timeout
status codes: 20000 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 1.49MB (1566732) total, 39.11KB (40048) headers (space savings 94.73%), 878.91KB (900000) data
                     min         max         mean         sd        +/- sd
time for request:      176us      8.90ms      1.11ms       651us    87.89%
`

func TestParse(t *testing.T) {
	t.Parallel()
	r, err := Parse(sample)
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Elapsed: 462070 * time.Microsecond, ReqPerSec: 43283.95, Done: 20000, Succeeded: 19990, Failed: 10, Status2xx: 20000, DataBytes: 900000}
	if r != want {
		t.Fatalf("Parse = %+v\nwant    %+v", r, want)
	}
	if n, err := r.OKCount(45); err != nil || n != 20000 {
		t.Fatalf("OKCount(45) = %d, %v; want 20000", n, err)
	}
	if _, err := r.OKCount(7); err == nil {
		t.Fatal("OKCount(7): want an error for a byte count that is not a whole number of replies")
	}
	if _, err := Parse("h2load: connection refused"); err == nil {
		t.Fatal("Parse of a failed run: want an error")
	}
}

func TestFrame(t *testing.T) {
	t.Parallel()
	req := &userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: "valid-token"}
	b, err := Frame(req)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0 || int(b[1])<<24|int(b[2])<<16|int(b[3])<<8|int(b[4]) != len(b)-5 {
		t.Fatalf("bad prefix % x", b[:5])
	}
	var got userv1.GetUserDetailsRequest
	if err := proto.Unmarshal(b[5:], &got); err != nil || !proto.Equal(&got, req) {
		t.Fatalf("payload round trip: %v, %v", &got, err)
	}
}

func TestLatencies(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "log")
	var data string
	for i := 100; i >= 1; i-- {
		data += "1795978990700323\t200\t" + strconv.Itoa(i) + "\n"
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	ds, err := Latencies(path)
	if err != nil {
		t.Fatal(err)
	}
	if p := Percentile(ds, 50); p != 50*time.Microsecond {
		t.Fatalf("p50 = %v", p)
	}
	if p := Percentile(ds, 99); p != 99*time.Microsecond {
		t.Fatalf("p99 = %v", p)
	}
	if p := Percentile(ds, 100); p != 100*time.Microsecond {
		t.Fatalf("p100 = %v", p)
	}
}

func TestArgsHeaders(t *testing.T) {
	t.Parallel()
	o := Options{URL: "http://127.0.0.1:1/a.B/C", BodyFile: "body", Requests: 10, Connections: 2, Streams: 3, Headers: []string{"grpc-timeout: 5S"}}
	got := strings.Join(o.Args(), " ")
	want := "-n 10 -c 2 -m 3 -t 1 -d body -H content-type: application/grpc -H te: trailers -H grpc-timeout: 5S http://127.0.0.1:1/a.B/C"
	if got != want {
		t.Errorf("Args() = %q, want %q", got, want)
	}
}

func TestArgsHTTP1(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{
			Options{URL: "http://127.0.0.1:1/a.B/C", BodyFile: "body", ContentType: "application/proto", HTTP1: true, Requests: 10, Connections: 52, Streams: 1, Headers: []string{"connect-protocol-version: 1"}},
			"-n 10 -c 52 -m 1 -t 1 --h1 -d body -H content-type: application/proto -H connect-protocol-version: 1 http://127.0.0.1:1/a.B/C",
		},
		{
			Options{URL: "http://127.0.0.1:1/v1/users/x", HTTP1: true, Requests: 10, Connections: 52, Streams: 1, Headers: []string{"authorization: Bearer t"}},
			"-n 10 -c 52 -m 1 -t 1 --h1 -H authorization: Bearer t http://127.0.0.1:1/v1/users/x",
		},
	} {
		if got := strings.Join(tc.o.Args(), " "); got != tc.want {
			t.Errorf("Args() = %q, want %q", got, tc.want)
		}
	}
}
