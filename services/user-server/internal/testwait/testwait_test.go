package testwait

import (
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"", 5 * time.Minute, false},
		{"15s", 15 * time.Second, false},
		{"0", 0, true},
		{"-1s", 0, true},
		{"fifteen", 0, true},
	} {
		got, err := parse(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parse(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err != nil && !strings.Contains(err.Error(), Env) {
			t.Errorf("parse(%q) error %q does not name %s", tc.in, err, Env)
		}
	}
}

// fatalTB records a Fatalf and ends its goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = format
	panic(f)
}

// call runs fn with a fatalTB and returns what it failed with ("" if it
// returned normally).
func call(t *testing.T, fn func(tb testing.TB)) string {
	f := &fatalTB{TB: t}
	var wg sync.WaitGroup
	wg.Go(func() {
		defer func() {
			if r := recover(); r != nil && r != any(f) {
				panic(r)
			}
		}()
		fn(f)
	})
	wg.Wait()
	return f.msg
}

func TestUntilAndDone(t *testing.T) {
	// Waits that succeed get a bound no busy machine reaches (a 20 ms one
	// ran out before 3 polls under make test-stress); waits that never
	// succeed end at a short one.
	t.Setenv(Env, "1h")
	n := 0
	if msg := call(t, func(tb testing.TB) { Until(tb, "third poll", func() bool { n++; return n == 3 }) }); msg != "" || n != 3 {
		t.Errorf("Until with a condition that holds on poll 3: failed %q after %d polls", msg, n)
	}
	closed := make(chan struct{})
	close(closed)
	if msg := call(t, func(tb testing.TB) { Done(tb, "closed", closed) }); msg != "" {
		t.Errorf("Done on a closed channel failed: %q", msg)
	}
	t.Setenv(Env, "20ms")
	if msg := call(t, func(tb testing.TB) { Until(tb, "never", func() bool { return false }) }); msg == "" {
		t.Error("Until with a condition that never holds returned")
	}
	if msg := call(t, func(tb testing.TB) { Done(tb, "open", make(chan struct{})) }); msg == "" {
		t.Error("Done on a channel that never closes returned")
	}
}
