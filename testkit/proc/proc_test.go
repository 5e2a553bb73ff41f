package proc

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/acme/user-service/testkit"
)

func TestListenAddr(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		out, want, err string
	}{
		{out: "listening on 127.0.0.1:4242\nmetrics on x\n", want: "127.0.0.1:4242"},
		{out: "hello\nlistening on 127.0.0.1:4242\n", err: `first stdout line = "hello\n"`},
		{out: "listening on \n", err: "want \"listening on ADDR\""},
		{out: "listening on 127.0.0.1:1", err: "then EOF"},
		{out: "", err: "no stdout line"},
	} {
		r := bufio.NewReader(strings.NewReader(tt.out))
		got, err := ListenAddr(r)
		if tt.err == "" {
			if err != nil || got != tt.want {
				t.Errorf("ListenAddr(%q) = %q, %v; want %q", tt.out, got, err, tt.want)
			}
			if rest, _ := r.ReadString('\n'); rest != "metrics on x\n" {
				t.Errorf("the line after the address = %q", rest)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ListenAddr(%q) = %q, %v; want an error with %q", tt.out, got, err, tt.err)
		}
	}
}

// script writes a shell script standing in for a server.
func script(t *testing.T, body string) string {
	t.Helper()
	p := t.TempDir() + "/server"
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStart: the address comes from the first line; the arguments,
// environment and output are the spec's.
func TestStart(t *testing.T) {
	t.Parallel()
	bin := script(t, `echo "listening on 127.0.0.1:$3"; echo "args $*"; echo "env $GREETING" >&2`)
	var stdout, stderr testkit.Buffer
	p, err := Start(t.Context(), Spec{Path: bin, Args: []string{"7"}, Env: []string{"GREETING=hi", "PATH=" + os.Getenv("PATH")}, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	// "--listen 127.0.0.1:0" comes first: $3 is the spec's first argument.
	if p.Addr != "127.0.0.1:7" {
		t.Errorf("Addr = %q", p.Addr)
	}
	if err := p.Wait(time.Minute); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if got := stdout.String(); got != "listening on 127.0.0.1:7\nargs --listen 127.0.0.1:0 7\n" {
		t.Errorf("stdout = %q", got)
	}
	if got := stderr.String(); got != "env hi\n" {
		t.Errorf("stderr = %q", got)
	}
}

// TestStop: SIGTERM, then a clean exit.
func TestStop(t *testing.T) {
	t.Parallel()
	p := StartT(t, Spec{Path: script(t, `trap 'exit 0' TERM; echo "listening on x:1"; while :; do sleep 0.01; done`)})
	if err := p.Stop(time.Minute); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if !p.Exited() {
		t.Error("not exited after Stop")
	}
}

// TestWaitHasLastLines: once Wait returns, Stdout holds everything the
// process printed, up to its last line.
func TestWaitHasLastLines(t *testing.T) {
	t.Parallel()
	var stdout testkit.Buffer
	p := StartT(t, Spec{Path: script(t, `echo "listening on x:1"; read line; echo "errors 0"`), Stdout: &stdout})
	if err := p.Wait(time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); got != "listening on x:1\nerrors 0\n" {
		t.Errorf("stdout after Wait = %q", got)
	}
}

func TestStartFailures(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"exits before listening": "echo oops >&2; exit 3",
		"prints something else":  "echo hello; exec sleep 60",
	} {
		_, err := Start(t.Context(), Spec{Path: script(t, body)})
		if err == nil {
			t.Errorf("%s: started", name)
		}
	}
}

func TestWaitStillRunning(t *testing.T) {
	t.Parallel()
	p := StartT(t, Spec{Path: script(t, `echo "listening on x:1"; exec sleep 60`)})
	if err := p.Wait(10 * time.Millisecond); err == nil || !strings.Contains(err.Error(), ErrStillRunning.Error()) {
		t.Errorf("Wait = %v, want ErrStillRunning", err)
	}
	p.Kill()
	if !p.Exited() {
		t.Error("not exited after Kill")
	}
}
