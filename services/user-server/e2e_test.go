package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/testkit"
	"github.com/acme/user-service/testkit/gobuild"
	"github.com/acme/user-service/testkit/proc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestBinary(t *testing.T) {
	t.Parallel()
	bin := gobuild.Binary(t, ".")

	t.Run("refuses non-loopback listen without tokens", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "--listen", "0.0.0.0:0")
		cmd.Env = withoutServerEnv()
		var stdout, stderr testkit.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("exit: %v, want status 1", err)
		}
		msg := stderr.String()
		if !strings.HasPrefix(msg, "user-server: refusing to listen on 0.0.0.0:0") || strings.Count(msg, "\n") != 1 {
			t.Errorf("stderr = %q, want one line refusing to listen", msg)
		}
		if stdout.String() != "" {
			t.Errorf("stdout = %q", stdout.String())
		}
	})

	t.Run("serves and drains on SIGTERM", func(t *testing.T) {
		t.Parallel()
		testDrain(t, bin)
	})
}

// withoutServerEnv is the test's environment minus USER_SERVER_* settings.
func withoutServerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "USER_SERVER_") {
			env = append(env, kv)
		}
	}
	return env
}

func testDrain(t *testing.T, bin string) {
	const token = "e2e-token-7f3a"
	srv := startBinary(t, bin, []string{"USER_SERVER_AUTH_TOKENS=" + token}, "--shutdown-timeout", "20s")
	addr, logFile, stderr := srv.addr, srv.logFile, srv.stderr

	conn := dial(t, addr, nil)
	waitServing(t, conn)
	ctx := t.Context()
	if resp, err := getUser(ctx, conn, token); err != nil || resp.GetName() != "John Doe" {
		t.Fatalf("GetUserDetails = %v, %v", resp, err)
	}

	// Held RPCs: the request headers reach the server, the message does
	// not, until after SIGTERM. The server accepted them before the signal,
	// so they must complete.
	const held = 4
	streams := make([]grpc.ClientStream, held)
	desc := &grpc.StreamDesc{StreamName: "GetUserDetails"}
	for i := range streams {
		var err error
		if streams[i], err = conn.NewStream(ctx, desc, userv1.UserService_GetUserDetails_FullMethodName); err != nil {
			t.Fatal(err)
		}
	}
	// HTTP/2 frames on a connection are handled in order: once this later
	// RPC is answered, the server has registered the held streams.
	if _, err := getUser(ctx, conn, token); err != nil {
		t.Fatal(err)
	}

	// Background load on a second connection, across the signal.
	load := dial(t, addr, nil)
	var (
		wg                sync.WaitGroup
		mu                sync.Mutex
		ok, unavailable   int
		unexpected        []error
		stopLoad          = make(chan struct{})
		firstLoadFinished = make(chan struct{})
		once              sync.Once
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stopLoad:
					return
				default:
				}
				_, err := getUser(ctx, load, token)
				mu.Lock()
				switch status.Code(err) {
				case codes.OK:
					ok++
					once.Do(func() { close(firstLoadFinished) })
				case codes.Unavailable:
					// Started after shutdown began: refused, never accepted.
					unavailable++
				default:
					unexpected = append(unexpected, err)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	<-firstLoadFinished
	time.Sleep(20 * time.Millisecond)

	if err := srv.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Finish the held RPCs once shutdown has begun: the server logs it
	// (through the log buffer, flushed every 100ms) as it starts draining.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if data, _ := os.ReadFile(logFile); strings.Contains(string(data), "shutting down") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no shutdown logged after SIGTERM; stderr:\n%s", stderr)
		}
	}
	for i, s := range streams {
		req := &userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: token}
		resp := &userv1.GetUserDetailsResponse{}
		if err := s.SendMsg(req); err != nil {
			t.Fatalf("held RPC %d send: %v", i, err)
		}
		if err := s.CloseSend(); err != nil {
			t.Fatalf("held RPC %d close: %v", i, err)
		}
		if err := s.RecvMsg(resp); err != nil || resp.GetName() != "John Doe" {
			t.Fatalf("held RPC %d failed across shutdown: %v, %v", i, resp, err)
		}
	}
	close(stopLoad)
	wg.Wait()

	if err := srv.Wait(30 * time.Second); errors.Is(err, proc.ErrStillRunning) {
		t.Fatal("server did not exit after SIGTERM")
	} else if err != nil {
		t.Fatalf("server exit: %v; stderr:\n%s", err, stderr)
	}
	if len(unexpected) > 0 || ok == 0 {
		t.Fatalf("load: %d OK, %d Unavailable, unexpected: %v", ok, unavailable, unexpected)
	}
	t.Logf("load across shutdown: %d OK, %d Unavailable (after shutdown began)", ok, unavailable)

	logs, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"msg=listening addr=" + addr, `msg="shutting down"`, "msg=stopped"} {
		if !strings.Contains(string(logs), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(string(logs), token) {
		t.Error("log holds the token")
	}
	if s := stderr.String(); s != "" {
		t.Errorf("stderr = %q", s)
	}
}
