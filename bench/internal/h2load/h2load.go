// Package h2load drives a server with nghttp2's h2load: it sends one
// pre-encoded request (a gRPC frame over HTTP/2, or an HTTP/1.1 request)
// over and over and parses h2load's report.
//
// h2load knows nothing of gRPC, so it cannot see grpc-status trailers. What
// it does report exactly is the number of DATA bytes received: every OK
// reply of a unary RPC carries one length-prefixed message of a known size,
// while a grpc-go error reply is trailers-only and carries none. OKCount
// uses that to count OK replies on the client side.
package h2load

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
)

// Frame returns m as a gRPC message frame: an uncompressed flag byte, a
// 4-byte big-endian length and the protobuf encoding of m.
func Frame(m proto.Message) ([]byte, error) {
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 5, 5+len(b))
	binary.BigEndian.PutUint32(out[1:], uint32(len(b)))
	return append(out, b...), nil
}

// Options is one h2load run.
type Options struct {
	URL         string // http://host:port/package.Service/Method
	BodyFile    string // the pre-encoded request body; "" sends GETs
	Requests    int    // total requests (-n)
	Connections int    // -c
	Streams     int    // concurrent streams per connection (-m); 1 with HTTP1
	LogFile     string // per-request log (--log-file), for latency percentiles
	// ContentType is the body's; "" is gRPC's (application/grpc, with te:
	// trailers).
	ContentType string
	// HTTP1 speaks HTTP/1.1 (--h1), one request at a time per connection.
	HTTP1   bool
	Headers []string // extra request headers, "name: value"
}

// Args returns h2load's command-line arguments for o (one client thread).
func (o Options) Args() []string {
	args := []string{
		"-n", strconv.Itoa(o.Requests),
		"-c", strconv.Itoa(o.Connections),
		"-m", strconv.Itoa(o.Streams),
		"-t", "1",
	}
	if o.HTTP1 {
		args = append(args, "--h1")
	}
	switch {
	case o.BodyFile == "":
	case o.ContentType == "":
		args = append(args, "-d", o.BodyFile, "-H", "content-type: application/grpc", "-H", "te: trailers")
	default:
		args = append(args, "-d", o.BodyFile, "-H", "content-type: "+o.ContentType)
	}
	for _, h := range o.Headers {
		args = append(args, "-H", h)
	}
	if o.LogFile != "" {
		args = append(args, "--log-file", o.LogFile)
	}
	return append(args, o.URL)
}

// Result is what h2load reported for one run.
type Result struct {
	Elapsed   time.Duration
	ReqPerSec float64
	Done      int // requests done
	Succeeded int // HTTP-level successes (any grpc-status)
	Failed    int
	Errored   int
	Timeout   int
	Status2xx int
	DataBytes int64 // DATA frame payload received, the basis of OKCount
}

var (
	reFinished = regexp.MustCompile(`finished in ([0-9.]+)(us|ms|s), ([0-9.]+) req/s`)
	reRequests = regexp.MustCompile(`requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)
	reStatus   = regexp.MustCompile(`status codes: (\d+) 2xx`)
	reData     = regexp.MustCompile(`traffic: .*\((\d+)\) data`)
)

// Parse reads h2load's standard output.
func Parse(out string) (Result, error) {
	var r Result
	m := reFinished.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("h2load: no 'finished in' line in output:\n%s", out)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[m[2]]
	r.Elapsed = time.Duration(v * float64(unit))
	r.ReqPerSec, _ = strconv.ParseFloat(m[3], 64)

	m = reRequests.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("h2load: no 'requests:' line in output")
	}
	for i, p := range []*int{&r.Done, &r.Succeeded, &r.Failed, &r.Errored, &r.Timeout} {
		*p, _ = strconv.Atoi(m[i+1])
	}
	if m = reStatus.FindStringSubmatch(out); m == nil {
		return r, fmt.Errorf("h2load: no 'status codes:' line in output")
	}
	r.Status2xx, _ = strconv.Atoi(m[1])
	if m = reData.FindStringSubmatch(out); m == nil {
		return r, fmt.Errorf("h2load: no 'traffic:' line in output")
	}
	r.DataBytes, _ = strconv.ParseInt(m[1], 10, 64)
	return r, nil
}

// OKCount returns how many replies were OK, given the size of one OK reply
// frame, or an error when the DATA byte count is not a whole number of OK
// replies (something other than OK replies and trailers-only errors).
func (r Result) OKCount(okFrameLen int) (int, error) {
	if r.DataBytes%int64(okFrameLen) != 0 {
		return 0, fmt.Errorf("h2load: %d DATA bytes is not a multiple of the %d-byte OK reply", r.DataBytes, okFrameLen)
	}
	return int(r.DataBytes / int64(okFrameLen)), nil
}

// Latencies reads an h2load --log-file (tab-separated: start time in µs
// since the epoch, HTTP status, duration in µs) and returns the durations,
// sorted.
func Latencies(path string) ([]time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ds []time.Duration
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) < 3 {
			return nil, fmt.Errorf("%s: malformed line %q", path, sc.Text())
		}
		us, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: malformed duration %q", path, fields[2])
		}
		ds = append(ds, time.Duration(us)*time.Microsecond)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	slices.Sort(ds)
	return ds, nil
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted durations,
// by the nearest-rank method.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100+0.999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}
