// Package logging builds the server's slog logger: a text or JSON handler
// writing through a buffered writer that is flushed periodically and on
// shutdown, so an access-log line costs a memory copy, not a write syscall;
// and the AccessLogger, which writes the access log's lines in the same
// format without slog's per-record work.
package logging

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// ParseLevel accepts debug, info, warn or error (case-insensitive).
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q (want debug, info, warn or error)", s)
}

// NewHandler returns a text or JSON handler at the given level.
func NewHandler(w io.Writer, format string, level slog.Level) (slog.Handler, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "text":
		return slog.NewTextHandler(w, opts), nil
	case "json":
		return slog.NewJSONHandler(w, opts), nil
	}
	return nil, fmt.Errorf("unknown log format %q (want text or json)", format)
}

// DefaultFlushInterval bounds how long a log line may sit in the buffer.
const DefaultFlushInterval = 100 * time.Millisecond

// BufferedWriter buffers writes to an underlying writer. A timer armed by the
// first write into an empty buffer flushes it after the interval, so an idle
// server does no periodic work. Safe for concurrent use.
type BufferedWriter struct {
	mu       sync.Mutex
	buf      *bufio.Writer
	interval time.Duration
	timer    *time.Timer
	pending  bool
	closed   bool
}

// NewBufferedWriter returns a BufferedWriter of size bytes over w.
func NewBufferedWriter(w io.Writer, size int, interval time.Duration) *BufferedWriter {
	b := &BufferedWriter{buf: bufio.NewWriterSize(w, size), interval: interval}
	b.timer = time.AfterFunc(time.Hour, func() { _ = b.Flush() })
	b.timer.Stop()
	return b
}

// Write buffers p. After Close it writes through, so late lines are not lost.
func (b *BufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.writeLocked(p)
}

// writeLocked is Write with b.mu held. p may be the buffer's own free space
// (from AvailableBuffer), which bufio copies without moving.
func (b *BufferedWriter) writeLocked(p []byte) (int, error) {
	n, err := b.buf.Write(p)
	if b.closed {
		if ferr := b.buf.Flush(); err == nil {
			err = ferr
		}
		return n, err
	}
	if !b.pending && b.buf.Buffered() > 0 {
		b.pending = true
		b.timer.Reset(b.interval)
	}
	return n, err
}

// Flush writes out the buffered data.
func (b *BufferedWriter) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = false
	return b.buf.Flush()
}

// Close flushes and stops the timer; later writes go straight through. It
// does not close the underlying writer.
func (b *BufferedWriter) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.pending = false
	b.timer.Stop()
	return b.buf.Flush()
}
