package signals

import (
	"context"
	"syscall"
	"testing"
)

// The test signals its own process with SIGUSR1, which nothing else in the
// test binary handles.
func TestNotifyContextTwoStages(t *testing.T) {
	ctx, stop := NotifyContext(t.Context(), syscall.SIGUSR1)
	defer stop()
	forced := Forced(ctx)
	if forced == nil {
		t.Fatal("no Forced channel")
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	<-ctx.Done()
	if cause := context.Cause(ctx); cause == nil || cause.Error() != "received user defined signal 1" {
		t.Errorf("cause = %v", cause)
	}
	select {
	case <-forced:
		t.Fatal("forced after one signal")
	default:
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	<-forced
}

func TestForcedWithout(t *testing.T) {
	t.Parallel()
	if Forced(t.Context()) != nil {
		t.Fatal("Forced of a plain context is not nil")
	}
	ch := make(chan struct{})
	if Forced(WithForce(t.Context(), ch)) != (<-chan struct{})(ch) {
		t.Fatal("WithForce lost its channel")
	}
}
