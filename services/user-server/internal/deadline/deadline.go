// Package deadline gives request contexts a deadline for a fraction of what
// context.WithTimeout costs.
//
// The server bounds every unary RPC without a client deadline (see
// server.streams). context.WithTimeout under grpc-go's stream context costs
// 7 allocations, 640 bytes and about 0.7 µs on this project's benchmark
// machine, as much as the rest of the server's own work per RPC: a timer,
// and a registration in the stream context's cancellation map, which the
// standard library allocates for that one child. A Watchdog replaces both
// with one goroutine that checks its contexts every tick: a context costs
// two allocations and an append under a mutex, and (WithTimeout) no clock
// read while the watchdog is busy.
//
// The price is precision: a context ends up to one tick after its deadline,
// and up to one tick after its parent ends (a client's cancellation reaches
// the handler that much later). The server's tick is 20 ms or less, against
// a bound of seconds.
package deadline

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// A Watchdog ends the contexts it made once their deadline has passed or
// their parent has ended. Its goroutine runs only while it has contexts.
// The zero value is not usable; see New.
type Watchdog struct {
	tick time.Duration
	kick chan struct{} // wakes the goroutine before its tick; holds one

	mu      sync.Mutex
	ctxs    []*ctx    // live contexts, in no order
	spare   []*ctx    // the previous check's slice, reused
	running bool      // the goroutine is running or about to
	clock   time.Time // while running: when its latest check began
	added   int       // contexts made since the latest check began
	kickAt  int       // added that kicks: checkBatch, or the contexts left live
	kicked  bool      // kick was sent since the latest check began
}

// checkBatch is how many new contexts make the watchdog check its contexts
// before its tick (or as many as the previous check left live, if more: a
// check then costs at most two contexts' worth per new one). Under load
// nearly all of them belong to RPCs that have already ended. Checked a tick
// later (2,000 RPCs at 100,000 per second), each one's context, its parent
// and its channel have left the CPU's caches; a few hundred RPCs later they
// are still there. Measured with make bench-load, this took about 0.4 µs
// off the server's CPU per RPC at 100,000 RPCs per second (the checks' own
// functions went from about 0.25 to 0.11 µs in perf; the GC's CPU per RPC
// did not change).
const checkBatch = 256

// New returns a Watchdog that checks its contexts every tick, and sooner
// once checkBatch new ones have come.
func New(tick time.Duration) *Watchdog {
	if tick <= 0 {
		panic("deadline: tick must be positive")
	}
	return &Watchdog{tick: tick, kick: make(chan struct{}, 1)}
}

// WithDeadline returns a copy of parent that is done at d, with
// context.DeadlineExceeded, or when parent is done, with parent's error;
// either up to one tick late. Values are parent's. Unlike
// context.WithDeadline there is no cancel function: the context is released
// at the first check after parent ends.
func (w *Watchdog) WithDeadline(parent context.Context, d time.Time) context.Context {
	if pd, ok := parent.Deadline(); ok && pd.Before(d) {
		d = pd // parent ends first: it reports its own error then
	}
	c := &ctx{Context: parent, deadline: d, done: make(chan struct{})}
	w.mu.Lock()
	w.add(c)
	return c
}

// WithTimeout is WithDeadline at timeout from now. While the goroutine
// runs, now is the time its latest check began (normally at most a tick
// ago) instead of a read of the system clock, which costs as much as the
// rest of this call: the deadline may be up to a tick early, as it may
// already be up to a tick late.
func (w *Watchdog) WithTimeout(parent context.Context, timeout time.Duration) context.Context {
	return w.WithTimeoutHold(parent, timeout, nil, nil)
}

// A Holder is told when a hold taken by WithTimeoutHold is released.
type Holder interface {
	// Release is called exactly once per hold, with the hold's key.
	Release(key any)
}

// WithTimeoutHold is WithTimeout, holding something of h's (a slot, say)
// until the first of: Release on the context or one derived from it, or
// the context's end (its deadline, or its parent's end, noticed by the
// watchdog). h.Release(key) is then called exactly once, from that
// Release or from the watchdog's goroutine (before it closes the
// context's Done). key is handed back as is: a pointer costs no
// allocation.
func (w *Watchdog) WithTimeoutHold(parent context.Context, timeout time.Duration, h Holder, key any) context.Context {
	pd, hasPD := parent.Deadline()
	c := &ctx{Context: parent, done: make(chan struct{}), holder: h, key: key}
	if h != nil {
		c.held.Store(true)
	}
	w.mu.Lock()
	if !w.running {
		w.clock = time.Now()
	}
	c.deadline = w.clock.Add(timeout)
	if hasPD && pd.Before(c.deadline) {
		c.deadline = pd
	}
	w.add(c)
	return c
}

// holdKey finds a Watchdog's context among a context's ancestors.
type holdKey struct{}

// Release releases the hold of the context made by WithTimeoutHold that
// parent is or derives from, and reports whether this call released it: false
// if there is none, or it was released already (by an earlier Release, or
// because the context ended).
func Release(parent context.Context) bool {
	c, ok := parent.Value(holdKey{}).(*ctx)
	return ok && c.release()
}

// add watches c, starting the goroutine if it is not running or kicking
// it if enough contexts wait, and unlocks w.mu.
func (w *Watchdog) add(c *ctx) {
	w.ctxs = append(w.ctxs, c)
	start := !w.running
	w.running = true
	w.added++
	if !w.kicked && w.added >= max(w.kickAt, checkBatch) {
		w.kicked = true
		w.kick <- struct{}{} // never blocks: drained before kicked is cleared
	}
	w.mu.Unlock()
	if start {
		go w.run()
	}
}

// run checks the contexts every tick, or when kicked, until none are left.
func (w *Watchdog) run() {
	t := time.NewTimer(w.tick)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-w.kick:
		}
		if !w.check() {
			return
		}
		t.Reset(w.tick)
	}
}

// check ends the contexts whose deadline has passed or whose parent has
// ended, and reports whether any are left; if none are, the goroutine is
// to return (running is false).
func (w *Watchdog) check() bool {
	w.mu.Lock()
	cur := w.ctxs
	w.ctxs, w.spare = w.spare[:0], nil
	w.added = 0
	if w.kicked {
		select {
		case <-w.kick: // the tick came first
		default:
		}
		w.kicked = false
	}
	w.mu.Unlock()

	now := time.Now()
	live := cur[:0]
	for _, c := range cur {
		if err := c.Context.Err(); err != nil {
			c.end(err)
		} else if !now.Before(c.deadline) {
			c.end(context.DeadlineExceeded)
		} else {
			live = append(live, c)
		}
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	w.clock = now
	w.kickAt = len(live)
	w.ctxs = append(w.ctxs, live...)
	clear(cur) // the next spare: hold no context
	w.spare = cur[:0]
	if len(w.ctxs) == 0 {
		w.running = false
		return false
	}
	return true
}

// ctx is a context made by a Watchdog.
type ctx struct {
	context.Context // parent: values, and the cause of its end
	deadline        time.Time
	done            chan struct{}
	err             atomic.Value // error, set once

	holder Holder // nil: no hold
	key    any
	held   atomic.Bool // the hold is not released yet
}

func (c *ctx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *ctx) Done() <-chan struct{} { return c.done }

func (c *ctx) Value(key any) any {
	if _, ok := key.(holdKey); ok {
		return c
	}
	return c.Context.Value(key)
}

func (c *ctx) Err() error {
	err, _ := c.err.Load().(error)
	return err
}

// end is called once, by the watchdog: the error first, as Err must be
// non-nil once Done is closed, and the hold, if still held, released
// before Done is closed, so whoever sees the context end (the RPC's
// client, through the status the server sends then) finds it released.
func (c *ctx) end(err error) {
	c.err.Store(err)
	c.release()
	close(c.done)
}

// release releases the hold if this call is the first to: Release and the
// watchdog may race for it.
func (c *ctx) release() bool {
	if c.holder == nil || !c.held.CompareAndSwap(true, false) {
		return false
	}
	c.holder.Release(c.key)
	return true
}

func (c *ctx) String() string { return "deadline.WithDeadline" }
