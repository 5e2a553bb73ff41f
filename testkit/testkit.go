// Package testkit is the one home of the helpers the tests of every module
// in this repository share (a Go workspace module of its own, so that the
// services, bench and each other's tests can import it; nothing outside
// tests and the benchmark harnesses does):
//
//   - this package: Buffer, a bytes.Buffer safe for concurrent use, and
//     Main, the TestMain that lets the helpers below clean up;
//   - gobuild: build a command once per test process;
//   - proc: start a server binary on a free loopback port and read the
//     "listening on ADDR" line it prints;
//   - pki: a throwaway certificate authority for TLS and mTLS tests;
//   - pgtest: throwaway PostgreSQL servers.
package testkit

import (
	"bytes"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

// Buffer is a bytes.Buffer safe for concurrent use: a process's or a
// logger's output, written by one goroutine while the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var (
	mainRunning atomic.Bool
	atExitMu    sync.Mutex
	atExit      []func()
)

// Main runs a package's tests, then what the helpers registered with
// AtExit (removing built binaries, stopping a shared PostgreSQL server),
// and exits with the tests' status. Call it from TestMain:
//
//	func TestMain(m *testing.M) { testkit.Main(m) }
func Main(m *testing.M) {
	mainRunning.Store(true)
	code := m.Run()
	atExitMu.Lock()
	fs := atExit
	atExitMu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
	os.Exit(code)
}

// RequireMain fails tb unless the package's TestMain calls Main: a helper
// that registers cleanup with AtExit calls it first, since without Main
// the cleanup would never run and its resources would leak.
func RequireMain(tb testing.TB) {
	tb.Helper()
	if !mainRunning.Load() {
		tb.Fatal("this helper needs the package's TestMain to call testkit.Main(m)")
	}
}

// AtExit registers f to run once the package's tests have ended, in
// reverse order of registration. It fails tb as RequireMain does.
func AtExit(tb testing.TB, f func()) {
	tb.Helper()
	RequireMain(tb)
	atExitMu.Lock()
	defer atExitMu.Unlock()
	atExit = append(atExit, f)
}

// ClosedAddr returns a loopback host:port nothing listens on (a port just
// bound and released): connections to it are refused, as to a service that
// is down.
func ClosedAddr(tb testing.TB) string {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := lis.Addr().String()
	if err := lis.Close(); err != nil {
		tb.Fatal(err)
	}
	return addr
}
