package deadline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/acme/user-service/services/user-server/internal/testwait"
)

const tick = time.Millisecond

// ended waits for c to end and returns its error.
func ended(t *testing.T, c context.Context) error {
	t.Helper()
	testwait.Done(t, "context ended", c.Done())
	err := c.Err()
	if err == nil {
		t.Fatal("Err() = nil after Done was closed")
	}
	return err
}

func TestEndsAtDeadline(t *testing.T) {
	t.Parallel()
	w := New(tick)
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := time.Now()
	c := w.WithDeadline(parent, d)
	if got, ok := c.Deadline(); !ok || !got.Equal(d) {
		t.Errorf("Deadline() = %v, %v; want %v, true", got, ok, d)
	}
	if err := ended(t, c); err != context.DeadlineExceeded {
		t.Errorf("Err() = %v, want context.DeadlineExceeded", err)
	}
	if err := context.Cause(c); err != context.DeadlineExceeded {
		t.Errorf("Cause = %v, want context.DeadlineExceeded", err)
	}
	if parent.Err() != nil {
		t.Error("the deadline ended the parent")
	}
}

func TestEndsWithParent(t *testing.T) {
	t.Parallel()
	w := New(tick)
	cause := errors.New("client went away")
	parent, cancel := context.WithCancelCause(context.Background())
	c := w.WithDeadline(parent, time.Now().Add(time.Hour))
	cancel(cause)
	if err := ended(t, c); err != context.Canceled {
		t.Errorf("Err() = %v, want context.Canceled", err)
	}
	if err := context.Cause(c); err != cause {
		t.Errorf("Cause = %v, want the parent's cause", err)
	}
}

func TestParentDeadlineExceeded(t *testing.T) {
	t.Parallel()
	w := New(tick)
	parent, cancel := context.WithDeadline(context.Background(), time.Now().Add(time.Millisecond))
	defer cancel()
	want, _ := parent.Deadline()
	c := w.WithDeadline(parent, time.Now().Add(time.Hour))
	if got, _ := c.Deadline(); !got.Equal(want) {
		t.Errorf("Deadline() = %v, want the parent's earlier %v", got, want)
	}
	if err := ended(t, c); err != context.DeadlineExceeded {
		t.Errorf("Err() = %v, want context.DeadlineExceeded", err)
	}
}

func TestLiveUntilDeadline(t *testing.T) {
	t.Parallel()
	w := New(tick)
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	later := w.WithDeadline(parent, time.Now().Add(time.Hour))
	// Once a context made after it has ended, the watchdog has checked
	// later at least once.
	ended(t, w.WithDeadline(parent, time.Now()))
	select {
	case <-later.Done():
		t.Fatalf("ended before its deadline and parent: %v", later.Err())
	default:
	}
	if err := later.Err(); err != nil {
		t.Errorf("Err() = %v before Done was closed", err)
	}
}

type key struct{}

func TestValuesAndDerivedContexts(t *testing.T) {
	t.Parallel()
	w := New(tick)
	parent := context.WithValue(context.Background(), key{}, "v")
	c := w.WithDeadline(parent, time.Now())
	if got := c.Value(key{}); got != "v" {
		t.Errorf("Value = %v, want the parent's", got)
	}
	child, cancel := context.WithCancel(c)
	defer cancel()
	if err := ended(t, child); err != context.DeadlineExceeded {
		t.Errorf("derived context: Err() = %v, want context.DeadlineExceeded", err)
	}
	if s := fmt.Sprint(c); s != "deadline.WithDeadline" {
		t.Errorf("String() = %q", s)
	}
}

// TestWithTimeoutClock: WithTimeout reads the system clock only to start
// the goroutine; while it runs, the deadline counts from its latest check.
func TestWithTimeoutClock(t *testing.T) {
	t.Parallel()
	w := New(time.Hour)
	t0 := time.Now()
	c := w.WithTimeout(context.Background(), time.Minute)
	t1 := time.Now()
	if d, _ := c.Deadline(); d.Before(t0.Add(time.Minute)) || d.After(t1.Add(time.Minute)) {
		t.Errorf("first context: Deadline() = %v, want between %v and %v", d, t0.Add(time.Minute), t1.Add(time.Minute))
	}

	// Without the goroutine, the test makes the checks.
	w = New(time.Hour)
	w.running = true
	clock := time.Now().Add(-time.Second)
	w.clock = clock
	if d, _ := w.WithTimeout(context.Background(), time.Minute).Deadline(); !d.Equal(clock.Add(time.Minute)) {
		t.Errorf("while running: Deadline() = %v, want the check's clock + 1m = %v", d, clock.Add(time.Minute))
	}
	before := time.Now()
	w.check()
	if d, _ := w.WithTimeout(context.Background(), time.Minute).Deadline(); d.Before(before.Add(time.Minute)) {
		t.Errorf("after a check: Deadline() = %v, want from the check's time (after %v)", d, before)
	}

	parent, cancel := context.WithDeadline(context.Background(), time.Now().Add(time.Second))
	defer cancel()
	pd, _ := parent.Deadline()
	if d, _ := w.WithTimeout(parent, time.Minute).Deadline(); !d.Equal(pd) {
		t.Errorf("under an earlier parent deadline: Deadline() = %v, want the parent's %v", d, pd)
	}
}

// TestKick: the goroutine is kicked to check after checkBatch new contexts,
// or after as many as the previous check left live if that is more.
func TestKick(t *testing.T) {
	t.Parallel()
	w := New(time.Hour)
	w.running, w.clock = true, time.Now() // no goroutine: the test makes the checks
	kicked := func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.kicked != (len(w.kick) == 1) {
			t.Fatalf("kicked = %v with %d kicks pending", w.kicked, len(w.kick))
		}
		return w.kicked
	}
	add := func(n int) {
		for range n {
			w.WithTimeout(context.Background(), time.Hour)
		}
	}
	add(checkBatch - 1)
	if kicked() {
		t.Fatalf("kicked after %d contexts", checkBatch-1)
	}
	add(1)
	if !kicked() {
		t.Fatalf("not kicked after %d contexts", checkBatch)
	}
	add(1)
	w.check() // the kick's check: all live
	if kicked() {
		t.Fatal("still kicked after the check")
	}
	add(checkBatch - 1) // new since the check; live are more
	if kicked() {
		t.Fatalf("kicked after %d new contexts, with %d live at the check", checkBatch-1, checkBatch+1)
	}
	add(1)
	if kicked() {
		t.Fatalf("kicked after %d new contexts, with %d live at the check", checkBatch, checkBatch+1)
	}
	add(1)
	if !kicked() {
		t.Fatalf("not kicked after %d new contexts, with %d live at the check", checkBatch+1, checkBatch+1)
	}
	// A tick's check with a kick pending takes the kick, so the next
	// batch can send one.
	w.check()
	if kicked() {
		t.Fatal("a kick left pending after the check")
	}
}

// TestKickEnds: a kick, not the tick, ends a batch of contexts whose
// parents have ended.
func TestKickEnds(t *testing.T) {
	t.Parallel()
	w := New(time.Hour)
	parent, cancel := context.WithCancel(context.Background())
	cancel()
	cs := make([]context.Context, checkBatch)
	for i := range cs {
		cs[i] = w.WithTimeout(parent, time.Hour)
	}
	for _, c := range cs {
		if err := ended(t, c); err != context.Canceled {
			t.Fatalf("Err() = %v, want context.Canceled", err)
		}
	}
}

// TestGoroutineRestarts: the goroutine exits once every context has ended,
// and the next context starts it again.
func TestGoroutineRestarts(t *testing.T) {
	t.Parallel()
	w := New(tick)
	for range 3 {
		ended(t, w.WithDeadline(context.Background(), time.Now()))
		var n int
		testwait.Until(t, "goroutine stopped", func() bool {
			w.mu.Lock()
			defer w.mu.Unlock()
			n = len(w.ctxs)
			return !w.running
		})
		if n != 0 {
			t.Fatalf("goroutine stopped with %d contexts left", n)
		}
	}
}

// TestManyContexts ends contexts made concurrently, each way.
func TestManyContexts(t *testing.T) {
	t.Parallel()
	w := New(tick)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				parent, cancel := context.WithCancel(context.Background())
				var c context.Context
				switch (g + i) % 4 {
				case 0:
					c = w.WithDeadline(parent, time.Now())
				case 2:
					c = w.WithTimeout(parent, 0)
				case 1:
					cancel()
					c = w.WithDeadline(parent, time.Now().Add(time.Hour))
				case 3:
					cancel()
					c = w.WithTimeout(parent, time.Hour)
				}
				want := context.DeadlineExceeded
				if (g+i)%2 != 0 {
					want = context.Canceled
				}
				if err := ended(t, c); err != want {
					t.Errorf("Err() = %v, want %v", err, want)
				}
				cancel()
			}
		})
	}
	wg.Wait()
}

// holds counts the releases of each key.
type holds struct {
	mu       sync.Mutex
	released map[any]int
}

func (h *holds) Release(key any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released == nil {
		h.released = map[any]int{}
	}
	h.released[key]++
}

func (h *holds) count(key any) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.released[key]
}

// TestHoldReleasedOnce: a hold is released exactly once, by Release (on
// the context or one derived from it) or by the context's end, whichever
// comes first, however often and concurrently both happen.
func TestHoldReleasedOnce(t *testing.T) {
	t.Parallel()
	w := New(tick)
	h := &holds{}

	// Release first: the context's later end releases nothing.
	parent, cancel := context.WithCancel(context.Background())
	k1 := new(int)
	c := w.WithTimeoutHold(parent, time.Hour, h, k1)
	derived := context.WithValue(c, key{}, "v")
	if !Release(derived) {
		t.Fatal("Release through a derived context: false, want true")
	}
	if Release(c) || Release(derived) {
		t.Error("a second Release released again")
	}
	cancel()
	ended(t, c)
	if n := h.count(k1); n != 1 {
		t.Errorf("released %d times after Release and the end, want once", n)
	}

	// The end first (deadline, parent): Release then releases nothing.
	for _, how := range []string{"deadline", "parent"} {
		parent, cancel := context.WithCancel(context.Background())
		timeout := time.Hour
		if how == "deadline" {
			timeout = 0
		} else {
			cancel()
		}
		k := new(int)
		c := w.WithTimeoutHold(parent, timeout, h, k)
		ended(t, c)
		// Released before Done was closed.
		if n := h.count(k); n != 1 {
			t.Errorf("%s: released %d times when the context ended, want once", how, n)
		}
		if Release(c) {
			t.Errorf("%s: Release after the end released again", how)
		}
		if n := h.count(k); n != 1 {
			t.Errorf("%s: released %d times, want once", how, n)
		}
		cancel()
	}

	// Contexts without a hold have nothing to release.
	if Release(context.Background()) || Release(w.WithTimeout(context.Background(), time.Hour)) || Release(w.WithDeadline(context.Background(), time.Now())) {
		t.Error("Release without a hold reported a release")
	}
}

// TestHoldRace: Release racing the watchdog's end of the context releases
// each hold exactly once.
func TestHoldRace(t *testing.T) {
	t.Parallel()
	w := New(tick)
	h := &holds{}
	const n = 2000
	keys := make([]*int, n)
	cs := make([]context.Context, n)
	var wg sync.WaitGroup
	var won [n]bool
	for i := range n {
		keys[i] = new(int)
		parent, cancel := context.WithCancel(context.Background())
		defer cancel()
		cs[i] = w.WithTimeoutHold(parent, time.Duration(i%3)*time.Millisecond, h, keys[i])
		wg.Go(func() {
			if i%2 == 0 {
				cancel()
			}
			won[i] = Release(cs[i])
			cancel()
		})
	}
	wg.Wait()
	for i, k := range keys {
		ended(t, cs[i])
		if got := h.count(k); got != 1 {
			t.Fatalf("hold %d released %d times (Release won: %v), want once", i, got, won[i])
		}
	}
}

func TestNewRejectsTick(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("New(0) did not panic")
		}
	}()
	New(0)
}

// The cost per request, against context.WithTimeout, under a parent like
// grpc-go's stream context (a cancelCtx under values), ended as the stream
// ends.
func BenchmarkRequestContext(b *testing.B) {
	conn := context.WithValue(context.Background(), key{}, "peer")
	b.Run("context.WithTimeout", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s, end := context.WithCancel(conn)
			c, cancel := context.WithTimeout(context.WithValue(s, key{}, "md"), 10*time.Second)
			_ = cancel // released by end, as in the server
			_ = c.Done()
			end()
		}
	})
	b.Run("Watchdog", func(b *testing.B) {
		w := New(20 * time.Millisecond)
		b.ReportAllocs()
		for b.Loop() {
			s, end := context.WithCancel(conn)
			c := w.WithTimeout(context.WithValue(s, key{}, "md"), 10*time.Second)
			_ = c.Done()
			end()
		}
	})
}
