package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// addrFrom reads the "listening on ADDR" line that starts a server's stdout.
func addrFrom(t *testing.T, r io.Reader) (string, error) {
	t.Helper()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		return "", err
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		t.Fatalf("first stdout line = %q, want \"listening on ADDR\"", line)
	}
	return addr, nil
}

type running struct {
	addr   string
	lines  <-chan string // stdout's lines after "listening on ADDR"
	stderr *syncBuffer
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
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		err := entry(ctx, append([]string{"--listen", "127.0.0.1:0"}, args...), func(k string) string { return env[k] }, pw, stderr)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	addr, err := addrFrom(t, pr)
	if err != nil {
		cancel()
		t.Fatalf("server did not start: %v; run: %v; stderr:\n%s", err, <-done, stderr)
	}
	// The server prints a line or two more at most; one that found the
	// channel full would be dropped rather than block the server.
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(pr)
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

// testCA is a throwaway certificate authority for TLS tests.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate and key for 127.0.0.1, for server or
// client use.
func (ca *testCA) issue(t *testing.T, name string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

func clientTLS(roots *x509.CertPool, certs ...tls.Certificate) credentials.TransportCredentials {
	return credentials.NewTLS(&tls.Config{RootCAs: roots, Certificates: certs, MinVersion: tls.VersionTLS12})
}

// binProc is the real server binary, started on a free loopback port.
type binProc struct {
	cmd     *exec.Cmd
	addr    string
	logFile string
	stderr  *syncBuffer
	exited  chan struct{}
	waitErr error
}

func startBinary(t *testing.T, bin string, env []string, args ...string) *binProc {
	t.Helper()
	p := &binProc{logFile: filepath.Join(t.TempDir(), "server.log"), stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"--listen", "127.0.0.1:0", "--log-file", p.logFile}, args...)...)
	p.cmd.Env = append(withoutServerEnv(), env...)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	if p.addr, err = addrFrom(t, stdout); err != nil {
		t.Fatalf("reading the bound address: %v; stderr:\n%s", err, p.stderr)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return p
}

// waitExit waits (bounded, only so that a hang fails) for the process to end.
func (p *binProc) waitExit(t *testing.T) error {
	t.Helper()
	select {
	case <-p.exited:
		return p.waitErr
	case <-time.After(waitFor):
		t.Fatalf("server still running; stderr:\n%s", p.stderr)
		return nil
	}
}

func (p *binProc) logs(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(p.logFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
