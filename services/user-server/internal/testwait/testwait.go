// Package testwait bounds the tests' waits for things that should happen
// promptly. The bound only turns a hang into a failure: by default 5 minutes, far
// beyond any such wait on a loaded machine. USER_SERVER_TEST_WAIT (a Go
// duration) shortens it for make mutation, where a mutant that breaks what a
// test waits for would otherwise hold its worker until gremlins' timeout and
// count as TIMED OUT instead of KILLED.
package testwait

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// Env names the variable that overrides Bound.
const Env = "USER_SERVER_TEST_WAIT"

const defaultBound = 5 * time.Minute

// Bound is how long a test waits for something that should happen promptly.
func Bound() time.Duration {
	b, err := parse(os.Getenv(Env))
	if err != nil {
		panic(err) // a mistyped setting must not silently mean the default
	}
	return b
}

func parse(s string) (time.Duration, error) {
	if s == "" {
		return defaultBound, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive duration such as 15s", Env, s)
	}
	return d, nil
}

// Until polls cond every few milliseconds until it holds, and fails t with
// "never within BOUND: what" if it does not within Bound.
func Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	bound := Bound()
	timeout := time.NewTimer(bound)
	defer timeout.Stop()
	for !cond() {
		select {
		case <-timeout.C:
			t.Fatalf("never within %v: %s", bound, what)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// Done waits for ch to close, and fails t with "never within BOUND: what"
// if it does not within Bound.
func Done(t testing.TB, what string, ch <-chan struct{}) {
	t.Helper()
	bound := Bound()
	select {
	case <-ch:
	case <-time.After(bound):
		t.Fatalf("never within %v: %s", bound, what)
	}
}
