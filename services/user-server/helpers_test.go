package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/testkit"
	"github.com/acme/user-service/testkit/proc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

type running struct {
	addr   string
	lines  <-chan string // stdout's lines after "listening on ADDR"
	stderr *testkit.Buffer
	stop   func() error // cancels run's context and returns its error
}

// startRun calls run in process with --listen 127.0.0.1:0 added and waits
// for the bound address.
func startRun(t *testing.T, env map[string]string, args ...string) *running {
	t.Helper()
	return startRunCtx(t, t.Context(), env, args...)
}

// startRunCtx is startRun with run's context derived from parent.
func startRunCtx(t *testing.T, parent context.Context, env map[string]string, args ...string) *running {
	t.Helper()
	return startEntry(t, parent, env, args, run)
}

// entryFunc is run's signature; serve with a SIGHUP channel fits it too.
type entryFunc func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error

// startEntry calls entry in process with --listen 127.0.0.1:0 added, waits
// for the bound address, and stops it when the test ends.
func startEntry(t *testing.T, parent context.Context, env map[string]string, args []string, entry entryFunc) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(parent)
	pr, pw := io.Pipe()
	stderr := &testkit.Buffer{}
	done := make(chan error, 1)
	go func() {
		err := entry(ctx, append([]string{"--listen", "127.0.0.1:0"}, args...), func(k string) string { return env[k] }, pw, stderr)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	stdout := bufio.NewReader(pr)
	addr, err := proc.ListenAddr(stdout)
	if err != nil {
		cancel()
		t.Fatalf("server did not start: %v; run: %v; stderr:\n%s", err, <-done, stderr)
	}
	// The server prints a line or two more at most; one that found the
	// channel full would be dropped rather than block the server.
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return &running{addr: addr, lines: lines, stderr: stderr, stop: stop}
}

func dial(t *testing.T, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func getUser(ctx context.Context, conn *grpc.ClientConn, token string) (*userv1.GetUserDetailsResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return userv1.NewUserServiceClient(conn).GetUserDetails(ctx, &userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: token})
}

// waitServing polls the health service until it reports SERVING.
func waitServing(t *testing.T, conn *grpc.ClientConn) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not SERVING: %v, %v", resp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func clientTLS(roots *x509.CertPool, certs ...tls.Certificate) credentials.TransportCredentials {
	return credentials.NewTLS(&tls.Config{RootCAs: roots, Certificates: certs, MinVersion: tls.VersionTLS12})
}

// binProc is the real server binary, started on a free loopback port.
type binProc struct {
	*proc.Proc
	addr    string
	logFile string
	stderr  *testkit.Buffer
}

func startBinary(t *testing.T, bin string, env []string, args ...string) *binProc {
	t.Helper()
	p := &binProc{logFile: filepath.Join(t.TempDir(), "server.log"), stderr: &testkit.Buffer{}}
	p.Proc = proc.StartT(t, proc.Spec{
		Path: bin, Args: append([]string{"--log-file", p.logFile}, args...),
		Env: append(withoutServerEnv(), env...), Stderr: p.stderr,
	})
	p.addr = p.Addr
	return p
}

// waitExit waits (bounded, only so that a hang fails) for the process to
// end and returns its exit error.
func (p *binProc) waitExit(t *testing.T) error {
	t.Helper()
	err := p.Wait(waitFor)
	if errors.Is(err, proc.ErrStillRunning) {
		t.Fatalf("server still running; stderr:\n%s", p.stderr)
	}
	return err
}

func (p *binProc) logs(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(p.logFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// bearer returns ctx whose calls carry token as "authorization: Bearer"
// metadata, the credential of server reflection.
func bearer(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// silentListener is the address of a loopback listener that accepts
// connections and never answers on them (a host that swallows packets):
// what a client's timeouts exist for. Connections close when the test ends.
func silentListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { <-t.Context().Done(); c.Close() }()
		}
	}()
	return l.Addr().String()
}

// metricsURL reads the "metrics on URL" line run prints first on stdout
// when --metrics-listen is given.
func metricsURL(t *testing.T, lines <-chan string) string {
	t.Helper()
	u, ok := strings.CutPrefix(<-lines, "metrics on ")
	if !ok {
		t.Fatal("no \"metrics on URL\" line on stdout")
	}
	return u
}
