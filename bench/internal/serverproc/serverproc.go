// Package serverproc runs a gRPC server binary as a child process on a free
// loopback port, optionally pinned to one CPU with taskset, for benchmarks
// and end-to-end tests that measure or signal the real process.
package serverproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// Spec describes a server to start.
type Spec struct {
	Path   string   // the server binary
	Args   []string // its arguments, without the listen address
	CPU    int      // pin to this CPU with taskset; -1 for no pinning
	Env    []string // added to the environment
	Output io.Writer
}

// Proc is a running server.
type Proc struct {
	Addr string // host:port it listens on
	PID  int

	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait's result, valid once done is closed
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Start starts the server with "--listen ADDR" appended to its arguments and
// waits until ADDR accepts TCP connections.
func Start(ctx context.Context, s Spec) (*Proc, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	args := append(append([]string(nil), s.Args...), "--listen", addr)
	var cmd *exec.Cmd
	if s.CPU >= 0 {
		// taskset execs the server, so the child's PID is the server's.
		cmd = exec.Command("taskset", append([]string{"-c", strconv.Itoa(s.CPU), s.Path}, args...)...)
	} else {
		cmd = exec.Command(s.Path, args...)
	}
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.Stdout, cmd.Stderr = s.Output, s.Output
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.Path, err)
	}
	p := &Proc{Addr: addr, PID: cmd.Process.Pid, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	if err := p.waitListening(ctx, 10*time.Second); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

func (p *Proc) waitListening(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", p.Addr, 200*time.Millisecond)
		if err == nil {
			return c.Close()
		}
		select {
		case <-p.done:
			return fmt.Errorf("server exited before listening on %s: %v", p.Addr, p.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not listening on %s after %v", p.Addr, timeout)
		}
	}
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
// error (nil for status 0).
func (p *Proc) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("server (pid %d) still running after %v", p.PID, timeout)
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
