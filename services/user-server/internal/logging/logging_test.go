package logging

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acme/user-service/testkit"
)

func TestParseLevel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "INFO": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError} {
		if got, err := ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseLevel("verbose"); err == nil {
		t.Error("ParseLevel(verbose) succeeded")
	}
}

func TestNewHandler(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	for _, format := range []string{"text", "json"} {
		h, err := NewHandler(&buf, format, slog.LevelWarn)
		if err != nil {
			t.Fatal(err)
		}
		if h.Enabled(t.Context(), slog.LevelInfo) || !h.Enabled(t.Context(), slog.LevelWarn) {
			t.Errorf("%s handler ignores the level", format)
		}
	}
	slog.New(must(NewHandler(&buf, "json", slog.LevelInfo))).Info("hello")
	if !strings.HasPrefix(buf.String(), `{"time":`) {
		t.Errorf("json handler wrote %q", buf.String())
	}
	if _, err := NewHandler(&buf, "xml", slog.LevelInfo); err == nil {
		t.Error("unknown format accepted")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestBufferedWriterFlushesPeriodically(t *testing.T) {
	t.Parallel()
	// Buffered: with an interval no test outlives, nothing reaches out.
	// (With the short interval below, the timer may already have fired
	// by the time a test looks, on a busy machine.)
	held := &testkit.Buffer{}
	hw := NewBufferedWriter(held, 1<<10, time.Hour)
	defer hw.Close()
	if _, err := hw.Write([]byte("line 0\n")); err != nil {
		t.Fatal(err)
	}
	if held.String() != "" {
		t.Fatal("write went straight through")
	}

	out := &testkit.Buffer{}
	w := NewBufferedWriter(out, 1<<10, 10*time.Millisecond)
	defer w.Close()
	if _, err := w.Write([]byte("line 1\n")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for out.String() != "line 1\n" {
		if time.Now().After(deadline) {
			t.Fatalf("not flushed by the timer: %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The timer re-arms for the next write.
	if _, err := w.Write([]byte("line 2\n")); err != nil {
		t.Fatal(err)
	}
	for out.String() != "line 1\nline 2\n" {
		if time.Now().After(deadline) {
			t.Fatalf("second write not flushed: %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBufferedWriterFlushAndClose(t *testing.T) {
	t.Parallel()
	out := &testkit.Buffer{}
	w := NewBufferedWriter(out, 1<<10, time.Hour)
	_, _ = w.Write([]byte("a\n"))
	if err := w.Flush(); err != nil || out.String() != "a\n" {
		t.Fatalf("Flush: %v, %q", err, out.String())
	}
	_, _ = w.Write([]byte("b\n"))
	if err := w.Close(); err != nil || out.String() != "a\nb\n" {
		t.Fatalf("Close: %v, %q", err, out.String())
	}
	// After Close, writes go through so late lines are not lost.
	_, _ = w.Write([]byte("c\n"))
	if out.String() != "a\nb\nc\n" {
		t.Fatalf("write after Close: %q", out.String())
	}
}

func TestBufferedWriterConcurrent(t *testing.T) {
	t.Parallel()
	out := &testkit.Buffer{}
	w := NewBufferedWriter(out, 256, time.Millisecond)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				_, _ = w.Write([]byte("0123456789\n"))
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(out.String(), "0123456789\n"); got != 1600 || len(out.String()) != 1600*11 {
		t.Fatalf("got %d lines, %d bytes", got, len(out.String()))
	}
}

// failingWriter fails every write, like a full disk.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestBufferedWriterReportsWriteThroughErrors(t *testing.T) {
	t.Parallel()
	w := NewBufferedWriter(failingWriter{}, 1<<10, time.Hour)
	if err := w.Close(); err != nil {
		t.Fatalf("Close with nothing buffered: %v", err)
	}
	// After Close a write goes through, and its failure is reported.
	if _, err := w.Write([]byte("late line\n")); err == nil || err.Error() != "disk full" {
		t.Fatalf("write after Close = %v, want disk full", err)
	}
}

func TestBufferedWriterArmsTimerOnlyWithData(t *testing.T) {
	t.Parallel()
	// An idle server does no periodic work: a write that leaves nothing in
	// the buffer (larger than the buffer, so written straight through)
	// arms no flush.
	out := &testkit.Buffer{}
	w := NewBufferedWriter(out, 16, time.Hour)
	defer w.Close()
	if _, err := w.Write([]byte(strings.Repeat("x", 64))); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	pending := w.pending
	w.mu.Unlock()
	if pending {
		t.Error("a flush is pending with an empty buffer")
	}
	if _, err := w.Write([]byte("y")); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	pending = w.pending
	w.mu.Unlock()
	if !pending {
		t.Error("no flush pending with data in the buffer")
	}
}
