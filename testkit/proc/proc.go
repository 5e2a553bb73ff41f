// Package proc runs a server binary as a child process on a free loopback
// port, for end-to-end tests and the benchmark harnesses: it adds
// "--listen 127.0.0.1:0" to the arguments and reads the bound address from
// the "listening on ADDR" line that both user-server and bench's bare
// server print first on stdout once they accept connections. It can pin
// the process to CPUs with taskset.
package proc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acme/user-service/testkit"
)

// ListenPrefix starts the first line a server prints on stdout.
const ListenPrefix = "listening on "

// ListenAddr reads the first line of a server's stdout, "listening on
// ADDR", and returns ADDR. r stays usable for the lines after it.
func ListenAddr(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		if line != "" {
			return "", fmt.Errorf("first stdout line %q, then %w", line, err)
		}
		return "", fmt.Errorf("no stdout line: %w", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), ListenPrefix)
	if !ok || addr == "" {
		return "", fmt.Errorf("first stdout line = %q, want \"%sADDR\"", line, ListenPrefix)
	}
	return addr, nil
}

// StartTimeout bounds how long Start waits for the address line. It only
// turns a server that hangs before listening into an error; servers start
// in well under a second.
const StartTimeout = 60 * time.Second

// Spec describes a server to start.
type Spec struct {
	Path string   // the server binary
	Args []string // its arguments; "--listen 127.0.0.1:0" goes first
	// Env is the process's whole environment; nil inherits this
	// process's. An empty, non-nil Env starts it with none.
	Env []string
	// CPUs pins the process with taskset -c CPUS ("1", "0,1"); "" does not
	// pin it.
	CPUs string
	// Stdout receives every line of stdout, the address line included;
	// Stderr receives stderr. nil discards.
	Stdout, Stderr io.Writer
}

// Proc is a running server.
type Proc struct {
	Addr string // host:port it listens on
	PID  int

	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait's result, valid once done is closed
}

// ErrStillRunning is Wait's error for a process that did not exit in time.
var ErrStillRunning = errors.New("still running")

// Start starts the server and waits for its address, until ctx is done or
// StartTimeout has passed. A server that exits or prints anything else
// first is an error.
func Start(ctx context.Context, s Spec) (*Proc, error) {
	args := append([]string{"--listen", "127.0.0.1:0"}, s.Args...)
	var cmd *exec.Cmd
	if s.CPUs != "" {
		// taskset execs the server, so the child's PID is the server's.
		cmd = exec.Command("taskset", append([]string{"-c", s.CPUs, s.Path}, args...)...)
	} else {
		cmd = exec.Command(s.Path, args...)
	}
	cmd.Env = s.Env
	// A child the server left behind holding stderr must not hold Wait.
	cmd.WaitDelay = time.Second
	stdout := s.Stdout
	if stdout == nil {
		stdout = io.Discard
	}
	cmd.Stderr = s.Stderr
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("start %s: %w", s.Path, err)
	}
	p := &Proc{PID: cmd.Process.Pid, cmd: cmd, done: make(chan struct{})}
	copied := make(chan struct{})
	go func() {
		p.err = cmd.Wait()
		// The process has exited: its last lines are on their way to
		// Stdout, where the caller reads them once Wait returns. (A child
		// it left behind holding stdout is not waited for long.)
		select {
		case <-copied:
		case <-time.After(time.Second):
		}
		close(p.done)
	}()

	type listening struct {
		addr string
		err  error
	}
	addrc := make(chan listening, 1)
	go func() {
		defer close(copied)
		defer r.Close()
		br := bufio.NewReader(r)
		addr, err := ListenAddr(br)
		if err == nil {
			fmt.Fprintf(stdout, "%s%s\n", ListenPrefix, addr)
		}
		addrc <- listening{addr, err}
		// Keep reading, so the server never blocks on a full pipe.
		_, _ = io.Copy(stdout, br)
	}()
	timeout := time.NewTimer(StartTimeout)
	defer timeout.Stop()
	select {
	case l := <-addrc:
		if l.err != nil {
			p.Kill()
			return nil, fmt.Errorf("%s: %w (exit: %v)", s.Path, l.err, p.err)
		}
		p.Addr = l.addr
		return p, nil
	case <-ctx.Done():
		p.Kill()
		return nil, ctx.Err()
	case <-timeout.C:
		p.Kill()
		return nil, fmt.Errorf("%s printed no %q line within %v", s.Path, ListenPrefix+"ADDR", StartTimeout)
	}
}

// StartT is Start for a test: it fails t, with the server's stderr, if the
// server does not start, and kills the server when the test ends.
func StartT(t testing.TB, s Spec) *Proc {
	t.Helper()
	var stderr testkit.Buffer
	if s.Stderr != nil {
		s.Stderr = io.MultiWriter(s.Stderr, &stderr)
	} else {
		s.Stderr = &stderr
	}
	p, err := Start(t.Context(), s)
	if err != nil {
		t.Fatalf("%v; stderr:\n%s", err, &stderr)
	}
	t.Cleanup(func() {
		if !p.Exited() {
			p.Kill()
		}
	})
	return p
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the server.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits up to timeout for the process to exit and returns its exit
// error (nil for status 0), or ErrStillRunning.
func (p *Proc) Wait(timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return p.err
	case <-t.C:
		return fmt.Errorf("server (pid %d) %w after %v", p.PID, ErrStillRunning, timeout)
	}
}

// Stop sends SIGTERM and waits up to timeout for a clean exit; a server
// still running then is killed and Stop reports it.
func (p *Proc) Stop(timeout time.Duration) error {
	if p.Exited() {
		return p.err
	}
	if err := p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	if err := p.Wait(timeout); err != nil {
		p.Kill()
		return err
	}
	return nil
}

// Kill kills the process and reaps it.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}
