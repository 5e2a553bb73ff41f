package main

import (
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-server/internal/testwait"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// startServe is startRun with the reload channel in the test's hands.
func startServe(t *testing.T, env map[string]string, hup chan os.Signal, args ...string) *running {
	t.Helper()
	return startEntry(t, t.Context(), env, args, func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
		return serve(ctx, args, getenv, stdout, stderr, hup)
	})
}

// replaceFile swaps a file's content atomically (write, rename), as a
// deployment would, so a reload never reads half a file.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func usersJSON(ids ...string) string {
	var b strings.Builder
	b.WriteString(`{"users": [`)
	for i, id := range ids {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString(`{"id": "` + id + `", "name": "User ` + id + `", "email": "` + id + `@example.com"}`)
	}
	b.WriteString("]}\n")
	return b.String()
}

// TestReloadUnderLoad: SIGHUP swaps users and tokens while RPCs run
// without pause; not one fails. It walks through a token rotation: add the
// new token, reload, move callers over, remove the old one, reload. A file
// that fails to load leaves the old one in force.
func TestReloadUnderLoad(t *testing.T) {
	t.Parallel()
	usersFile := writeFile(t, "users.json", usersJSON("alice"))
	tokensFile := writeFile(t, "tokens", "old-token\n")
	hup := make(chan os.Signal, 1)
	srv := startServe(t, nil, hup, "--users", usersFile, "--auth-tokens-file", tokensFile)
	conn := dial(t, srv.addr, nil)
	client := userv1.NewUserServiceClient(conn)

	var token atomic.Value
	token.Store("old-token")
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// moved[i]: worker i finished a call made with the new token, so it
	// sends no more calls with the old one.
	var moved [8]atomic.Bool
	for i := range moved {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				tok := token.Load().(string)
				resp, err := client.GetUserDetails(ctx, &userv1.GetUserDetailsRequest{UserId: "alice", AuthToken: tok})
				cancel()
				if err != nil || resp.GetName() != "User alice" {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, status.Convert(err).String())
					continue
				}
				ok.Add(1)
				if tok == "new-token" {
					moved[i].Store(true)
				}
			}
		})
	}
	reload := func() {
		hup <- syscall.SIGHUP
	}
	call := func(id, tok string) codes.Code {
		_, err := client.GetUserDetails(t.Context(), &userv1.GetUserDetailsRequest{UserId: id, AuthToken: tok})
		return status.Code(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", srv.stderr)
		}
	})
	testwait.Until(t, "load running", func() bool { return ok.Load() > 100 })

	// Add a user and the new token.
	replaceFile(t, usersFile, usersJSON("alice", "bob"))
	replaceFile(t, tokensFile, "old-token\nnew-token\n")
	reload()
	testwait.Until(t, "bob and the new token accepted", func() bool { return call("bob", "new-token") == codes.OK })
	// Callers move to the new token; then the old one goes.
	token.Store("new-token")
	testwait.Until(t, "callers moved to the new token", func() bool {
		for i := range moved {
			if !moved[i].Load() {
				return false
			}
		}
		return true
	})
	replaceFile(t, tokensFile, "new-token\n")
	reload()
	testwait.Until(t, "old token refused", func() bool { return call("alice", "old-token") == codes.Unauthenticated })
	// Broken files keep what is in force.
	replaceFile(t, usersFile, `{"users": [{"id": "bad id", "name": "x", "email": "x@example.com"}]}`)
	replaceFile(t, tokensFile, "# nothing\n")
	reload()
	testwait.Until(t, "reload failure logged", func() bool { return strings.Contains(srv.stderr.String(), "keeping the auth tokens in force") })
	if c := call("bob", "new-token"); c != codes.OK {
		t.Errorf("after a failed reload: %v, want OK with the old files in force", c)
	}
	before := ok.Load()
	testwait.Until(t, "load continues", func() bool { return ok.Load() > before+100 })
	close(stop)
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of %d RPCs failed across reloads; first: %v", n, n+ok.Load(), firstErr.Load())
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	logs := srv.stderr.String()
	for _, want := range []string{"reload: users replaced", "reload: auth tokens replaced", "keeping the users in force", "users[0]"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	for _, secret := range []string{"old-token", "new-token"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log holds token %q", secret)
		}
	}
	t.Logf("%d RPCs, none failed", ok.Load())
}
