// Command soak sends a million unary GetUserDetails RPCs to one user-server
// process and reports its resident memory, OS threads and goroutines at the
// start, in the middle and at the end, to show that nothing grows without
// bound.
//
// The server is the real user-server built with bench/overlay (see `make
// bench-soak`): that adds an endpoint reporting runtime.NumGoroutine() on a
// loopback debug address, since goroutines cannot be counted from outside a
// Go process. RSS and threads come from /proc/PID/status.
//
// The load is h2load, in chunks with fresh connections each (so connection
// set-up and tear-down are soaked too); replies are counted as in loadbench
// (DATA bytes of OK replies). The default configuration logs every RPC at
// INFO to a file, so the logging path is soaked as well.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
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
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

type point struct {
	label      string
	rpcs       int
	rssKiB     int64
	threads    int
	goroutines int
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("user-server", "", "user-server binary built with bench/overlay (required)")
	out := fs.String("out", "bench/results/soak", "directory for the server log and the report")
	n := fs.Int("n", 1_000_000, "total RPCs")
	chunks := fs.Int("chunks", 10, "h2load runs (each with new connections); samples are taken after each")
	conns := fs.Int("c", 4, "h2load connections")
	streams := fs.Int("m", 13, "h2load concurrent streams per connection")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *server == "" {
		return errors.New("-user-server is required")
	}
	if *chunks < 2 || *n < *chunks {
		return errors.New("need at least 2 chunks and one RPC per chunk")
	}
	if _, err := exec.LookPath("h2load"); err != nil {
		return errors.New("h2load not found: install it with 'apt-get install nghttp2-client'")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	report, err := os.Create(filepath.Join(*out, "report.txt"))
	if err != nil {
		return err
	}
	defer report.Close()
	stdout = io.MultiWriter(stdout, report)
	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	token := "soak-" + hex.EncodeToString(raw)
	tokens := filepath.Join(*out, "tokens")
	if err := os.WriteFile(tokens, []byte(token+"\n"), 0o600); err != nil {
		return err
	}
	frame, err := h2load.Frame(&userv1.GetUserDetailsRequest{UserId: reference.UserID, AuthToken: token})
	if err != nil {
		return err
	}
	body := filepath.Join(*out, "request.bin")
	if err := os.WriteFile(body, frame, 0o644); err != nil {
		return err
	}
	okLen := 5 + proto.Size(&userv1.GetUserDetailsResponse{Name: "John Doe", Email: "john123@example.com", Status: "Success"})

	debugAddr, err := freeAddr()
	if err != nil {
		return err
	}
	logFile := filepath.Join(*out, "server.log")
	_ = os.Remove(logFile)
	serverOut, err := os.Create(filepath.Join(*out, "server.out"))
	if err != nil {
		return err
	}
	defer serverOut.Close()
	p, err := proc.Start(ctx, proc.Spec{
		Path: *server, Args: []string{"--auth-tokens-file", tokens, "--log-file", logFile},
		Env: append(os.Environ(), "BENCH_DEBUG_ADDR="+debugAddr), Stdout: serverOut, Stderr: serverOut,
	})
	if err != nil {
		return err
	}
	defer func() {
		if !p.Exited() {
			p.Kill()
		}
	}()
	if err := check(ctx, p.Addr, token); err != nil {
		return fmt.Errorf("before the soak: %w", err)
	}
	sample := func(label string, rpcs int) (point, error) {
		// Let connections from the last chunk finish closing.
		time.Sleep(300 * time.Millisecond)
		st, err := procstat.ReadStatus(p.PID)
		if err != nil {
			return point{}, err
		}
		g, err := goroutines(ctx, debugAddr)
		if err != nil {
			return point{}, err
		}
		pt := point{label: label, rpcs: rpcs, rssKiB: st.RSSKiB, threads: st.Threads, goroutines: g}
		fmt.Fprintf(stderr, "  %-6s %8d RPCs: RSS %6.1f MiB, %d threads, %d goroutines\n", label, rpcs, float64(pt.rssKiB)/1024, pt.threads, pt.goroutines)
		return pt, nil
	}

	fmt.Fprintf(stdout, "soak: %d RPCs in %d h2load runs of -c %d -m %d against one user-server (pid %d), access log at INFO to %s\n", *n, *chunks, *conns, *streams, p.PID, logFile)
	start, err := sample("start", 0)
	if err != nil {
		return err
	}
	points := []point{start}
	url := "http://" + p.Addr + "/user.v1.UserService/GetUserDetails"
	done, notOK := 0, 0
	began := time.Now()
	for i := range *chunks {
		size := *n / *chunks
		if i == *chunks-1 {
			size = *n - done
		}
		o := h2load.Options{URL: url, BodyFile: body, Requests: size, Connections: *conns, Streams: *streams}
		outb, err := exec.CommandContext(ctx, "h2load", o.Args()...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("h2load: %w\n%s", err, outb)
		}
		res, err := h2load.Parse(string(outb))
		if err != nil {
			return err
		}
		ok, err := res.OKCount(okLen)
		if err != nil {
			return err
		}
		notOK += size - ok + res.Failed + res.Errored + res.Timeout
		done += size
		if i == *chunks/2-1 || i == *chunks-1 {
			label := "middle"
			if i == *chunks-1 {
				label = "end"
			}
			pt, err := sample(label, done)
			if err != nil {
				return err
			}
			points = append(points, pt)
		}
	}
	elapsed := time.Since(began)
	if err := check(ctx, p.Addr, token); err != nil {
		return fmt.Errorf("after the soak: %w", err)
	}
	if err := p.Stop(15 * time.Second); err != nil {
		return fmt.Errorf("server did not stop cleanly: %w", err)
	}

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "point\tRPCs\tRSS MiB\tthreads\tgoroutines\t")
	for _, pt := range points {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%d\t%d\t\n", pt.label, pt.rpcs, float64(pt.rssKiB)/1024, pt.threads, pt.goroutines)
	}
	tw.Flush()
	mid, end := points[1], points[2]
	fmt.Fprintf(stdout, "%d RPCs in %v (%.0f/s), %d not OK; server exited 0\n", done, elapsed.Round(time.Millisecond), float64(done)/elapsed.Seconds(), notOK)

	// Bounded growth: once warm, the second half of the soak must not grow
	// the process, and no goroutine may outlive its connection.
	var problems []string
	if notOK != 0 {
		problems = append(problems, fmt.Sprintf("%d RPCs were not OK", notOK))
	}
	if end.goroutines > start.goroutines+2 {
		problems = append(problems, fmt.Sprintf("goroutines grew from %d to %d with no connection open", start.goroutines, end.goroutines))
	}
	if limit := mid.rssKiB + mid.rssKiB/10 + 4096; end.rssKiB > limit {
		problems = append(problems, fmt.Sprintf("RSS grew from %d KiB at the middle to %d KiB at the end (limit %d)", mid.rssKiB, end.rssKiB, limit))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	fmt.Fprintln(stdout, "growth bounded: goroutines back to the start count, RSS flat (within 10% + 4 MiB) from middle to end")
	return nil
}

func check(ctx context.Context, addr, token string) error {
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc.Close()
	return reference.Check(ctx, cc, token)
}

func goroutines(ctx context.Context, addr string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/goroutines", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("goroutine count (is the server built with bench/overlay?): %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("goroutine count: %s", resp.Status)
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
