// Package signals turns SIGINT and SIGTERM into a two-stage shutdown: the
// first signal cancels a context (drain gracefully), a second closes the
// context's Forced channel (stop now).
package signals

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
)

type forcedKey struct{}

// WithForce returns ctx carrying force as its Forced channel.
func WithForce(ctx context.Context, force <-chan struct{}) context.Context {
	return context.WithValue(ctx, forcedKey{}, force)
}

// Forced returns the channel a second signal closes; nil (never closed) for
// a context without one.
func Forced(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(forcedKey{}).(<-chan struct{})
	return ch
}

// NotifyContext is signal.NotifyContext with a second stage: the first of
// sigs cancels the returned context, a second one closes Forced(ctx). After
// that the signals get their default action back, so a third one ends the
// process even if stopping hangs. stop releases the signals.
func NotifyContext(parent context.Context, sigs ...os.Signal) (ctx context.Context, stop context.CancelFunc) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, sigs...)
	force := make(chan struct{})
	ctx, cancel := context.WithCancelCause(WithForce(parent, force))
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			cancel(fmt.Errorf("received %v", sig))
		case <-done:
			return
		}
		select {
		case <-ch:
			signal.Stop(ch)
			close(force)
		case <-done:
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(ch)
			close(done)
			cancel(context.Canceled)
		})
	}
}
