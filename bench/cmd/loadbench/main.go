// Command loadbench measures the real user-server against the bare grpc-go
// server (bench/cmd/bare-server) under the same unary GetUserDetails load,
// over native gRPC and over the HTTP listener (Connect binary and JSON, the
// REST route), the latter also against bare vanguard and connect-go servers.
//
// Each server runs pinned to one CPU (taskset), h2load runs pinned to
// another and sends a pre-encoded gRPC request over a few HTTP/2
// connections, or an HTTP/1.1 request over as many connections as the gRPC
// load has concurrent streams (the HTTP listener speaks HTTP/1.1 in
// cleartext). The figure that counts is the server's CPU time per RPC, from
// /proc/PID/stat before and after the measured run: it does not depend on
// how fast the load generator is. Configurations are interleaved round by
// round so that noise from other work on the machine hits all of them alike;
// the summary takes the median over rounds.
//
// Errors are counted three ways, because h2load cannot see grpc-status:
// h2load's own failures (transport, HTTP status); replies that were not OK,
// from the DATA bytes received (an OK reply has a fixed-size message, a
// grpc-go error reply has none) or, over HTTP, from the HTTP status (Connect
// and REST errors are never 2xx); and, server-side, WARN/ERROR lines in the
// user-server's log (the bare server prints its error count on exit).
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/acme/user-service/bench/internal/h2load"
	"github.com/acme/user-service/bench/internal/procstat"
	"github.com/acme/user-service/bench/internal/reference"
	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/testkit/proc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

const method = "/user.v1.UserService/GetUserDetails"

type config struct {
	name    string
	full    bool     // the real user-server (else the bare server)
	args    []string // extra server arguments
	env     []string // extra environment
	logFile bool     // full: log to --log-file (else to stderr, redirected to a file)
	binary  string   // full: this user-server binary instead of -user-server
	// full: the HTTP listener on too (--http-listen); bare: serve HTTP
	// only, with bare-server --http vanguard or connect.
	http string
	// load is how h2load calls: "" native gRPC (on the gRPC listener), or
	// one of httpLoads, on the HTTP listener.
	load string
	// serial: native gRPC in the HTTP loads' connection shape, one call
	// at a time on each of as many connections (-c × -m, -m 1).
	serial bool
}

// HTTP loads: the Connect protocol's unary POST in binary and in JSON
// (token in the message, as the gRPC load), and the REST route's GET with
// the token in an Authorization: Bearer header.
const (
	connectProto = "connect-proto"
	connectJSON  = "connect-json"
	restJSON     = "rest-json"
)

// builtin are the configurations -configs names.
var builtin = map[string]config{
	"bare":           {name: "bare"},
	"full-info":      {name: "full-info", full: true},
	"full-info-file": {name: "full-info-file", full: true, logFile: true},
	// Native gRPC as the HTTP/1.1 loads call: the baseline that tells
	// what the protocol costs from what one call per write costs.
	"full-info-serial": {name: "full-info-serial", full: true, serial: true},
	"full-warn":        {name: "full-warn", full: true, args: []string{"--log-level", "warn"}},
	// Native gRPC with the HTTP listener on, idle: must cost what
	// full-info does.
	"http-on":       {name: "http-on", full: true, http: "on"},
	"connect-proto": {name: "connect-proto", full: true, http: "on", load: connectProto},
	"connect-json":  {name: "connect-json", full: true, http: "on", load: connectJSON},
	"rest-json":     {name: "rest-json", full: true, http: "on", load: restJSON},
	// The same service without the user-server: what vanguard and
	// connect-go cost alone.
	"bare-vanguard-proto":  {name: "bare-vanguard-proto", http: "vanguard", load: connectProto},
	"bare-connectgo-proto": {name: "bare-connectgo-proto", http: "connect", load: connectProto},
	"bare-connectgo-json":  {name: "bare-connectgo-json", http: "connect", load: connectJSON},
}

// defaultConfigs is -configs' default.
const defaultConfigs = "bare,full-info,full-info-serial,full-info-file,full-warn,http-on,connect-proto,connect-json,rest-json,bare-vanguard-proto,bare-connectgo-proto,bare-connectgo-json"

// countsLines reports whether the configuration logs every OK RPC, so its
// access lines can be counted against the requests sent.
func (c config) countsLines() bool {
	return c.full && !slices.Contains(c.args, "--log-level")
}

// variants are extra user-server configurations given with -variant.
type variants []config

func (v *variants) String() string { return "" }

func (v *variants) Set(s string) error {
	name, args, ok := strings.Cut(s, "=")
	name, binary, _ := strings.Cut(name, "@")
	if !ok || name == "" || strings.Contains(name, ",") {
		return fmt.Errorf("want NAME[@BINARY]=FLAGS, got %q", s)
	}
	*v = append(*v, config{name: name, full: true, args: strings.Fields(args), binary: binary})
	return nil
}

type sample struct {
	config        string
	round         int
	rps           float64
	p50, p99      time.Duration
	clientErrors  int // h2load failures plus non-OK replies
	serverErrors  int64
	served        int64 // access-log lines (full, INFO only; -1 if not counted)
	cpu           time.Duration
	cpuPerRPC     float64 // µs
	requests      int
	h2loadSummary string
}

type bench struct {
	userServer, bareServer string
	out                    string
	n, warmup, conns, strm int
	serverCPU, loadCPU     int
	token                  string
	tokensFile, bodyFile   string
	okFrameLen             int
	headers                []string // extra h2load request headers
	// httpCalls are the HTTP loads' reference requests; httpBodies their
	// bodies' files for h2load.
	httpCalls  map[string]httpCall
	httpBodies map[string]string
	stderr     io.Writer
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	b := &bench{stderr: stderr}
	fs.StringVar(&b.userServer, "user-server", "", "path to the user-server binary (required)")
	fs.StringVar(&b.bareServer, "bare-server", "", "path to the bare-server binary (required)")
	fs.StringVar(&b.out, "out", "bench/results", "directory for logs and the report")
	fs.IntVar(&b.n, "n", 200000, "requests per measured run")
	fs.IntVar(&b.warmup, "warmup", 20000, "requests before each measured run")
	fs.IntVar(&b.conns, "c", 4, "h2load connections")
	fs.IntVar(&b.strm, "m", 13, "h2load concurrent streams per connection")
	fs.IntVar(&b.serverCPU, "server-cpu", 0, "CPU the server is pinned to")
	fs.IntVar(&b.loadCPU, "load-cpu", 1, "CPU h2load is pinned to")
	// The bare server gets the user-server's runtime tuning (64 stream
	// workers, GC target 400), so the ratio measures the user-server's
	// features, not grpc-go's defaults.
	bareArgs := fs.String("bare-args", "--stream-workers 64", "bare-server arguments, space-separated")
	bareEnv := fs.String("bare-env", "GOGC=400", "bare-server environment, space-separated KEY=VALUE")
	fullArgs := fs.String("full-args", "", "extra user-server arguments for every full configuration, space-separated")
	rounds := fs.Int("rounds", 7, "rounds; each runs every configuration once")
	fs.Func("header", "an extra request header 'name: value' for every configuration, repeatable; e.g. -header 'grpc-timeout: 5S' for clients that send a deadline", func(v string) error {
		if !strings.Contains(v, ":") {
			return fmt.Errorf("want 'name: value', got %q", v)
		}
		b.headers = append(b.headers, v)
		return nil
	})
	var extra variants
	fs.Var(&extra, "variant", "an extra user-server configuration NAME[@BINARY]=FLAGS: the default configuration plus FLAGS, logging to stderr, optionally of another user-server binary (to compare builds in one run); repeatable, runs after -configs, e.g. -variant 'metrics=--metrics-listen 127.0.0.1:0' or -variant 'before@out/old/user-server='")
	configs := fs.String("configs", defaultConfigs, "configurations to run, in order: bare; full-info (the default configuration as users start it: access log at INFO, text, to stderr redirected to a file); full-info-serial (the same, native gRPC one call at a time on -c × -m connections: the HTTP/1.1 loads' shape); full-info-file (the same with --log-file); full-warn (--log-level warn, to stderr); http-on (full-info with --http-listen, native gRPC load); connect-proto, connect-json, rest-json (full-info with --http-listen, the load over HTTP/1.1 on it: Connect binary, Connect JSON, the REST route); bare-vanguard-proto (Connect binary to vanguard over the bare grpc.Server); bare-connectgo-proto, bare-connectgo-json (to a bare connect-go handler)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if b.userServer == "" || b.bareServer == "" {
		return errors.New("-user-server and -bare-server are required")
	}
	if _, err := exec.LookPath("h2load"); err != nil {
		return errors.New("h2load not found: install it with 'apt-get install nghttp2-client'")
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return errors.New("taskset not found (util-linux)")
	}
	all := builtin
	var cfgs []config
	for _, name := range strings.Split(*configs, ",") {
		c, ok := all[name]
		if !ok {
			return fmt.Errorf("unknown configuration %q", name)
		}
		cfgs = append(cfgs, c)
	}
	for _, v := range extra {
		if _, ok := all[v.name]; ok {
			return fmt.Errorf("-variant %s: the name of a built-in configuration", v.name)
		}
		cfgs = append(cfgs, v)
	}
	for i, c := range cfgs {
		if c.full {
			cfgs[i].args = append(slices.Clip(c.args), strings.Fields(*fullArgs)...)
		} else {
			cfgs[i].args, cfgs[i].env = append(slices.Clip(c.args), strings.Fields(*bareArgs)...), strings.Fields(*bareEnv)
		}
	}
	names := make([]string, len(cfgs))
	for i, c := range cfgs {
		names[i] = c.name
	}
	if err := b.prepare(); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "loadbench: %d rounds x %s, %d requests per run (+%d warm-up), h2load -c %d -m %d (HTTP/1.1: --h1 -c %d) on CPU %d, servers on CPU %d; bare %q %q; extra headers %q; %s, %d CPUs, load average at start %s\n",
		*rounds, strings.Join(names, ","), b.n, b.warmup, b.conns, b.strm, b.conns*b.strm, b.loadCPU, b.serverCPU, *bareEnv, *bareArgs, b.headers, runtime.Version(), runtime.NumCPU(), loadavg())
	var samples []sample
	for r := 1; r <= *rounds; r++ {
		for _, c := range cfgs {
			s, err := b.runOne(ctx, c, r)
			if err != nil {
				return fmt.Errorf("%s round %d: %w", c.name, r, err)
			}
			fmt.Fprintf(stderr, "  %-14s round %d: %8.0f req/s  p50 %-8v p99 %-8v  %6.2f µs CPU/RPC  errors client %d server %d\n",
				s.config, r, s.rps, s.p50, s.p99, s.cpuPerRPC, s.clientErrors, s.serverErrors)
			samples = append(samples, s)
		}
	}
	var rep bytes.Buffer
	report(&rep, cfgs, samples)
	fmt.Fprintf(&rep, "\nload average at end: %s\n", loadavg())
	if err := os.WriteFile(filepath.Join(b.out, "report.txt"), rep.Bytes(), 0o644); err != nil {
		return err
	}
	_, err := stdout.Write(rep.Bytes())
	return err
}

// prepare writes the token file and the pre-encoded request.
func (b *bench) prepare() error {
	if err := os.MkdirAll(b.out, 0o755); err != nil {
		return err
	}
	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	b.token = "bench-" + hex.EncodeToString(raw)
	b.tokensFile = filepath.Join(b.out, "tokens")
	if err := os.WriteFile(b.tokensFile, []byte(b.token+"\n"), 0o600); err != nil {
		return err
	}
	frame, err := h2load.Frame(&userv1.GetUserDetailsRequest{UserId: reference.UserID, AuthToken: b.token})
	if err != nil {
		return err
	}
	b.bodyFile = filepath.Join(b.out, "request.bin")
	if err := os.WriteFile(b.bodyFile, frame, 0o644); err != nil {
		return err
	}
	b.okFrameLen = 5 + proto.Size(reference.Response)
	b.httpCalls, b.httpBodies = map[string]httpCall{}, map[string]string{}
	for _, load := range []string{connectProto, connectJSON, restJSON} {
		call, err := newHTTPCall(load, reference.UserID, b.token)
		if err != nil {
			return err
		}
		b.httpCalls[load] = call
		if call.body != nil {
			b.httpBodies[load] = filepath.Join(b.out, "request-"+load)
			if err := os.WriteFile(b.httpBodies[load], call.body, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *bench) runOne(ctx context.Context, c config, round int) (sample, error) {
	s := sample{config: c.name, round: round, requests: b.n, served: -1}
	runBase := filepath.Join(b.out, fmt.Sprintf("%s-%d", c.name, round))
	outFile, err := os.Create(runBase + ".out")
	if err != nil {
		return s, err
	}
	defer outFile.Close()
	// The server's stderr is outFile itself (not a pipe), as with a shell's
	// 2>file.
	httpURL := &urlWatcher{prefix: "http on ", found: make(chan string, 1)}
	spec := proc.Spec{
		Path: b.bareServer, Args: append([]string{"--token", b.token}, c.args...), Env: append(os.Environ(), c.env...),
		CPUs: strconv.Itoa(b.serverCPU), Stdout: io.MultiWriter(outFile, httpURL), Stderr: outFile,
	}
	if !c.full && c.http != "" {
		spec.Args = append(spec.Args, "--http", c.http)
	}
	logFile := runBase + ".out"
	if c.full {
		spec.Path = b.userServer
		if c.binary != "" {
			spec.Path = c.binary
		}
		spec.Args = append([]string{"--auth-tokens-file", b.tokensFile}, c.args...)
		if c.http != "" {
			spec.Args = append(spec.Args, "--http-listen", "127.0.0.1:0")
		}
		if c.logFile {
			logFile = runBase + ".log"
			_ = os.Remove(logFile)
			spec.Args = append([]string{"--log-file", logFile}, spec.Args...)
		}
	}
	p, err := proc.Start(ctx, spec)
	if err != nil {
		return s, err
	}
	defer func() {
		if !p.Exited() {
			p.Kill()
		}
	}()
	// The HTTP load's base URL: the HTTP listener's, which the user-server
	// prints after the gRPC one, or the bare HTTP server's only one.
	httpBase := "http://" + p.Addr
	if c.full && c.http != "" {
		select {
		case httpBase = <-httpURL.found:
		case <-time.After(10 * time.Second):
			return s, errors.New("the user-server printed no \"http on URL\" line")
		}
	}
	// Real calls first: h2load cannot judge replies, so prove the server
	// answers this very request correctly, and the error paths too.
	var o h2load.Options
	if c.load == "" {
		if err := b.check(ctx, p.Addr); err != nil {
			return s, fmt.Errorf("correctness check: %w", err)
		}
		o = h2load.Options{URL: "http://" + p.Addr + method, BodyFile: b.bodyFile, Connections: b.conns, Streams: b.strm, Headers: b.headers}
		if c.serial {
			o.Connections, o.Streams = b.conns*b.strm, 1
		}
	} else {
		call := b.httpCalls[c.load]
		if err := checkHTTP(ctx, c.load, httpBase, b.token); err != nil {
			return s, fmt.Errorf("correctness check: %w", err)
		}
		// HTTP/1.1: one request at a time per connection, so as many
		// connections as the gRPC load has concurrent streams.
		o = h2load.Options{
			URL: httpBase + call.path, BodyFile: b.httpBodies[c.load], ContentType: call.contentType,
			HTTP1: true, Connections: b.conns * b.strm, Streams: 1,
			Headers: append(slices.Clip(call.headers), b.headers...),
		}
	}
	if b.warmup > 0 {
		w := o
		w.Requests = b.warmup
		if _, err := b.h2load(ctx, w); err != nil {
			return s, fmt.Errorf("warm-up: %w", err)
		}
	}
	// Write back the dirty pages earlier runs left (a full configuration
	// logs tens of MB per run) now, so the kernel does not do it during
	// this measurement, to the cost of whichever configuration runs next.
	syscall.Sync()
	before, err := procstat.CPU(p.PID)
	if err != nil {
		return s, err
	}
	o.Requests, o.LogFile = b.n, runBase+".h2load.tsv"
	res, err := b.h2load(ctx, o)
	if err != nil {
		return s, err
	}
	// Let work the run queued (GC, buffered log flushes) land in the sample.
	time.Sleep(100 * time.Millisecond)
	after, err := procstat.CPU(p.PID)
	if err != nil {
		return s, err
	}
	if err := p.Stop(10 * time.Second); err != nil {
		return s, fmt.Errorf("stop: %w", err)
	}

	s.rps = res.ReqPerSec
	s.cpu = after - before
	s.cpuPerRPC = float64(s.cpu.Microseconds()) / float64(b.n)
	// Over HTTP an error is never a 2xx reply; h2load reports those.
	ok := res.Status2xx
	if c.load == "" {
		if ok, err = res.OKCount(b.okFrameLen); err != nil {
			return s, err
		}
	}
	s.clientErrors = res.Failed + res.Errored + res.Timeout + (b.n - ok)
	lat, err := h2load.Latencies(runBase + ".h2load.tsv")
	if err != nil {
		return s, err
	}
	s.p50, s.p99 = h2load.Percentile(lat, 50), h2load.Percentile(lat, 99)
	_ = os.Remove(runBase + ".h2load.tsv") // large; the percentiles are kept

	// Server-side errors. The check above made exactly two failing calls
	// (Unauthenticated, NotFound); anything beyond them is an error.
	if c.full {
		st, err := scanLog(logFile)
		if err != nil {
			return s, err
		}
		s.serverErrors = st.warnOrError - checkErrors
		if c.countsLines() {
			// One access-log line per RPC: the three checks, the warm-up
			// and the measured run. A shortfall is an RPC the server
			// never finished (or a lost log line): count it as an error.
			s.served = st.accessLines
			if want := int64(checkCalls + b.warmup + b.n); s.served != want {
				fmt.Fprintf(b.stderr, "  %s round %d: %d access-log lines, want %d\n", c.name, round, s.served, want)
				s.serverErrors += max(0, want-s.served)
			}
		}
	} else {
		n, err := bareErrors(runBase + ".out")
		if err != nil {
			return s, err
		}
		s.serverErrors = n - checkErrors
	}
	return s, nil
}

// The correctness check makes three calls, two of which fail on purpose.
const (
	checkCalls  = 3
	checkErrors = 2
)

func (b *bench) check(ctx context.Context, addr string) error {
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := reference.Check(ctx, conn, b.token); err != nil {
		return err
	}
	client := userv1.NewUserServiceClient(conn)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, tc := range []struct {
		req  *userv1.GetUserDetailsRequest
		want codes.Code
	}{
		{&userv1.GetUserDetailsRequest{UserId: reference.UserID, AuthToken: b.token + "x"}, codes.Unauthenticated},
		{&userv1.GetUserDetailsRequest{UserId: "nobody", AuthToken: b.token}, codes.NotFound},
	} {
		if _, err := client.GetUserDetails(ctx, tc.req); status.Code(err) != tc.want {
			return fmt.Errorf("got %v, want %v", err, tc.want)
		}
	}
	return nil
}

func (b *bench) h2load(ctx context.Context, o h2load.Options) (h2load.Result, error) {
	args := append([]string{"-c", strconv.Itoa(b.loadCPU), "h2load"}, o.Args()...)
	out, err := exec.CommandContext(ctx, "taskset", args...).CombinedOutput()
	if err != nil {
		return h2load.Result{}, fmt.Errorf("h2load: %w\n%s", err, out)
	}
	res, err := h2load.Parse(string(out))
	if err != nil {
		return res, err
	}
	if res.Done != o.Requests || res.Status2xx != o.Requests {
		return res, fmt.Errorf("h2load finished %d requests, %d with HTTP 2xx, of %d:\n%s", res.Done, res.Status2xx, o.Requests, out)
	}
	return res, nil
}

type logStats struct{ accessLines, warnOrError int64 }

// scanLog counts the user-server's access-log lines (those naming the
// method) and its WARN/ERROR lines, in either log format.
func scanLog(path string) (logStats, error) {
	var st logStats
	f, err := os.Open(path)
	if err != nil {
		return st, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "GetUserDetails") {
			st.accessLines++
		}
		for _, l := range []string{"level=WARN", "level=ERROR", `"level":"WARN"`, `"level":"ERROR"`} {
			if strings.Contains(line, l) {
				st.warnOrError++
				break
			}
		}
	}
	return st, sc.Err()
}

// bareErrors reads the "errors N" line the bare server prints on exit.
func bareErrors(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "errors "); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: bare-server printed no error count", path)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func median[T int | int64 | float64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func report(w io.Writer, cfgs []config, samples []sample) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "Per run:")
	fmt.Fprintln(tw, "config\tround\treq/s\tp50\tp99\tclient errors\tserver errors\taccess-log lines\tserver CPU\tCPU µs/RPC\t")
	for _, s := range samples {
		served := "-"
		if s.served >= 0 {
			served = strconv.FormatInt(s.served, 10)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%v\t%v\t%d\t%d\t%s\t%v\t%.2f\t\n", s.config, s.round, s.rps, s.p50, s.p99, s.clientErrors, s.serverErrors, served, s.cpu, s.cpuPerRPC)
	}
	tw.Flush()

	med := map[string]float64{}
	fmt.Fprintln(w, "\nMedian over rounds:")
	fmt.Fprintln(tw, "config\treq/s\tp50\tp99\terrors (client+server)\tCPU µs/RPC\tratio to bare\t")
	for _, c := range cfgs {
		var rps, cpu []float64
		var p50, p99 []time.Duration
		var errs int64
		for _, s := range samples {
			if s.config == c.name {
				rps, cpu = append(rps, s.rps), append(cpu, s.cpuPerRPC)
				p50, p99 = append(p50, s.p50), append(p99, s.p99)
				errs += int64(s.clientErrors) + s.serverErrors
			}
		}
		med[c.name] = median(cpu)
		ratio := "-"
		if bare, ok := med["bare"]; ok && bare > 0 {
			ratio = fmt.Sprintf("%.2fx", med[c.name]/bare)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%v\t%v\t%d\t%.2f\t%s\t\n", c.name, median(rps), median(p50), median(p99), errs, med[c.name], ratio)
	}
	tw.Flush()

	// Same-round ratios: each pairs runs made close together in time, so
	// their median resists drifting noise from other work on the machine
	// better than a ratio of medians; it is the headline figure. Every
	// configuration against bare, and those of the HTTP listener against
	// full-info, the user-server's native gRPC (the HTTP goals' baseline),
	// and against full-info-serial, native gRPC in their connection shape.
	width := 0
	for _, c := range cfgs {
		width = max(width, len(c.name)+len("/full-info-serial"))
	}
	printed := false
	for _, baseline := range []string{"bare", "full-info", "full-info-serial"} {
		if _, ok := med[baseline]; !ok {
			continue
		}
		for _, c := range cfgs {
			if c.name == baseline || (baseline != "bare" && (!c.full || c.http == "")) {
				continue
			}
			if !printed {
				fmt.Fprintln(w)
				printed = true
			}
			rs, strs := sameRound(samples, c.name, baseline)
			fmt.Fprintf(w, "%-*s CPU per RPC, per round: %s; median %.2fx\n", width, c.name+"/"+baseline, strings.Join(strs, " "), median(rs))
		}
	}
}

// sameRound returns name's CPU per RPC over baseline's, round by round.
func sameRound(samples []sample, name, baseline string) ([]float64, []string) {
	var rs []float64
	var strs []string
	for _, s := range samples {
		if s.config != name {
			continue
		}
		for _, bs := range samples {
			if bs.config == baseline && bs.round == s.round && bs.cpuPerRPC > 0 {
				rs = append(rs, s.cpuPerRPC/bs.cpuPerRPC)
				strs = append(strs, fmt.Sprintf("%.2f", s.cpuPerRPC/bs.cpuPerRPC))
			}
		}
	}
	return rs, strs
}
