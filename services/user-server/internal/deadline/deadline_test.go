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
				d := time.Now().Add(time.Hour)
				if (g+i)%2 == 0 {
					d = time.Now()
				} else {
					cancel()
				}
				c := w.WithDeadline(parent, d)
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
			c := w.WithDeadline(context.WithValue(s, key{}, "md"), time.Now().Add(10*time.Second))
			_ = c.Done()
			end()
		}
	})
}
