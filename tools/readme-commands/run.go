package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const usage = "usage: readme-commands [-C DIR] README..."

// run checks the READMEs named in args, in that order (a README may be
// named twice), from the repository at -C (README paths are relative to
// it unless absolute). environ is the commands'
// environment before the check's own settings.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("readme-commands", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	root := fs.String("C", ".", "the repository `directory` the README paths are relative to")
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		return errors.New(usage)
	}
	abs, err := filepath.Abs(*root)
	if err != nil {
		return err
	}
	var plan [][]block
	for _, name := range fs.Args() {
		data, err := os.ReadFile(inRoot(abs, name))
		if err != nil {
			return err
		}
		blocks, err := parse(name, string(data))
		if err != nil {
			return err
		}
		plan = append(plan, blocks)
	}
	c := &checker{root: abs, env: commandEnv(environ), stdout: stdout, stderr: stderr}
	commands := 0
	for _, blocks := range plan {
		var last *block
		var printed []byte
		for i := range blocks {
			b := &blocks[i]
			switch b.kind {
			case kindCommands:
				out, err := c.runBlock(ctx, b)
				if err != nil {
					return err
				}
				last, printed = b, out
				commands += len(b.commands)
			case kindOutput:
				if last == nil {
					return fmt.Errorf("%s:%d: output block with no checked commands before it", b.file, b.line)
				}
				if !bytes.Contains(printed, []byte(b.output)) {
					return fmt.Errorf("%s:%d: the commands of %s:%d did not print this block:\n%s", b.file, b.line, last.file, last.line, b.output)
				}
				fmt.Fprintf(stderr, "readme-commands: %s:%d: printed as %s:%d shows\n", last.file, last.line, b.file, b.line)
			}
		}
	}
	fmt.Fprintf(stderr, "readme-commands: %d commands from %s ran as written\n", commands, strings.Join(fs.Args(), ", "))
	return nil
}

// commandEnv is environ without make's variables (a command runs as typed
// at a prompt, not as a sub-make of whatever ran this check) and with
// DEMO_ADDR=127.0.0.1:0 unless set: scripts/demo.sh then serves on a free
// port instead of 127.0.0.1:50051, which other runs on the machine may hold.
func commandEnv(environ []string) []string {
	var env []string
	demo := false
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES":
			continue
		case "DEMO_ADDR":
			demo = true
		}
		env = append(env, kv)
	}
	if !demo {
		env = append(env, "DEMO_ADDR=127.0.0.1:0")
	}
	return env
}

type checker struct {
	root           string
	env            []string
	stdout, stderr io.Writer
}

// runBlock runs b's commands as one bash script from b's README's
// directory, so that cd and export carry from line to line as they would
// at a prompt, echoing each to stderr first; it stops at the first command
// that does not end as the README says. It returns what the commands
// printed on stdout (also copied to c.stdout).
func (c *checker) runBlock(ctx context.Context, b *block) ([]byte, error) {
	env := c.env
	if b.needs == "user-server" {
		srv, err := c.startServer(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", b.file, b.line, err)
		}
		defer srv.stop(c.stderr)
		env = append(env[:len(env):len(env)], "USER_CLIENT_ADDR="+srv.addr)
	}
	state, err := os.CreateTemp("", "readme-commands-")
	if err != nil {
		return nil, err
	}
	state.Close()
	defer os.Remove(state.Name())

	var script strings.Builder
	script.WriteString("set -eo pipefail\n")
	for _, cmd := range b.commands {
		where := fmt.Sprintf("readme-commands: %s:%d:", b.file, cmd.line)
		fmt.Fprintf(&script, "echo %d >%s\nprintf '%%s\\n' %s >&2\n__readme_start=$SECONDS\n", cmd.line, quote(state.Name()),
			quote(where+" $ "+cmd.text))
		if cmd.exit == 0 {
			script.WriteString(cmd.text + "\n")
		} else {
			fmt.Fprintf(&script, "set +e\n%s\n__readme_rc=$?\nset -e\nif [ \"$__readme_rc\" != %d ]; then echo \"exit status $__readme_rc, the README says %d\" >&2; exit 125; fi\n",
				cmd.text, cmd.exit, cmd.exit)
		}
		// How long each command took: the figures the README quotes.
		fmt.Fprintf(&script, "printf '%%s ok (exit %d) in %%ds\\n' %s $((SECONDS - __readme_start)) >&2\n", cmd.exit, quote(where))
	}

	var out bytes.Buffer
	sh := exec.CommandContext(ctx, "bash", "-c", script.String())
	sh.Dir = filepath.Dir(inRoot(c.root, b.file))
	if b.fromRoot {
		sh.Dir = c.root
	}
	sh.Env = env
	sh.Stdout, sh.Stderr = io.MultiWriter(c.stdout, &out), c.stderr
	runErr := sh.Run()
	if runErr == nil {
		return out.Bytes(), nil
	}
	data, _ := os.ReadFile(state.Name())
	line, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	for _, cmd := range b.commands {
		if cmd.line == line {
			return nil, fmt.Errorf("%s:%d: %s: %w", b.file, cmd.line, cmd.text, runErr)
		}
	}
	return nil, fmt.Errorf("%s:%d: %w", b.file, b.line, runErr)
}

// inRoot is name, a README path, relative to root unless absolute.
func inRoot(root, name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(root, name)
}

// quote quotes s for bash.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

type server struct {
	cmd  *exec.Cmd
	addr string
	log  string
	done chan error
}

// startServer builds user-server and starts it as the README says (no
// flags, none of the caller's USER_SERVER_* settings) but on a free
// loopback port, and returns once it listens.
func (c *checker) startServer(ctx context.Context) (*server, error) {
	dir, err := os.MkdirTemp("", "readme-commands-server-")
	if err != nil {
		return nil, err
	}
	started := false
	defer func() {
		if !started {
			os.RemoveAll(dir)
		}
	}()
	bin := filepath.Join(dir, "user-server")
	// From the module's directory: works with the workspace on or off.
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Dir = filepath.Join(c.root, "services", "user-server")
	build.Env, build.Stdout, build.Stderr = c.env, c.stderr, c.stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("build user-server: %w", err)
	}
	var env []string
	for _, kv := range c.env {
		if !strings.HasPrefix(kv, "USER_SERVER_") {
			env = append(env, kv)
		}
	}
	s := &server{log: filepath.Join(dir, "server.log"), done: make(chan error, 1)}
	logFile, err := os.Create(s.log)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	s.cmd = exec.Command(bin, "--listen", "127.0.0.1:0")
	s.cmd.Env, s.cmd.Stderr = env, logFile
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	addrs := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addrs <- a
			}
		}
		s.done <- s.cmd.Wait()
	}()
	select {
	case s.addr = <-addrs:
		fmt.Fprintf(c.stderr, "readme-commands: user-server (no flags but --listen 127.0.0.1:0) listening on %s\n", s.addr)
		started = true
		return s, nil
	case err := <-s.done:
		logData, _ := os.ReadFile(s.log)
		return nil, fmt.Errorf("user-server exited during start-up: %v\n%s", err, logData)
	case <-time.After(2 * time.Minute):
		s.stop(c.stderr)
		return nil, errors.New("user-server printed no \"listening on\" line in 2 minutes")
	case <-ctx.Done():
		s.stop(c.stderr)
		return nil, ctx.Err()
	}
}

// stop ends the server (SIGTERM, then SIGKILL after 30 s) and removes its
// files.
func (s *server) stop(stderr io.Writer) {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		fmt.Fprintln(stderr, "readme-commands: user-server did not stop on SIGTERM; killing it")
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	os.RemoveAll(filepath.Dir(s.log))
}
