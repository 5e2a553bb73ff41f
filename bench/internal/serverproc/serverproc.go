// Package serverproc runs a gRPC server binary as a child process on a free
// loopback port (it binds port 0 and reports the address), optionally pinned to one CPU with taskset, for benchmarks
// and end-to-end tests that measure or signal the real process.
package serverproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
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

// Start starts the server with "--listen 127.0.0.1:0" appended to its
// arguments and waits for the "listening on ADDR" line both the user-server
// and the bare server print on stdout once they accept connections.
func Start(ctx context.Context, s Spec) (*Proc, error) {
	args := append(append([]string(nil), s.Args...), "--listen", "127.0.0.1:0")
	var cmd *exec.Cmd
	if s.CPU >= 0 {
		// taskset execs the server, so the child's PID is the server's.
		cmd = exec.Command("taskset", append([]string{"-c", strconv.Itoa(s.CPU), s.Path}, args...)...)
	} else {
		cmd = exec.Command(s.Path, args...)
	}
	cmd.Env = append(os.Environ(), s.Env...)
	out := s.Output
	if out == nil {
		out = io.Discard
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = w, out
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("start %s: %w", s.Path, err)
	}
	p := &Proc{PID: cmd.Process.Pid, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()

	addrc := make(chan string, 1)
	go func() {
		defer r.Close()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			fmt.Fprintln(out, sc.Text())
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				select {
				case addrc <- a:
				default:
				}
			}
		}
		_, _ = io.Copy(out, r)
	}()
	select {
	case p.Addr = <-addrc:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before listening: %v", s.Path, p.err)
	case <-ctx.Done():
		p.Kill()
		return nil, ctx.Err()
	case <-time.After(15 * time.Second):
		p.Kill()
		return nil, fmt.Errorf("%s printed no \"listening on\" line within 15s", s.Path)
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
