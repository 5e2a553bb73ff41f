// Package cfgfile reads configuration files (users, tokens, TLS material)
// defensively: only regular files, only up to a size cap, and never past a
// cancelled context, so a wrong path (/dev/zero, a FIFO, a huge file) gives
// a clear error at start-up instead of exhausting memory or hanging past
// SIGTERM.
package cfgfile

import (
	"context"
	"fmt"
	"io"
	"os"
	"syscall"
)

// Read returns the contents of the regular file at path, refusing files
// larger than limit bytes. It returns ctx's error as soon as ctx is done,
// even if a read is stuck (the reading goroutine finishes on its own).
func Read(ctx context.Context, path string, limit int64) ([]byte, error) {
	if ctx.Err() != nil {
		return nil, fmt.Errorf("reading %s: %w", path, context.Cause(ctx))
	}
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := read(path, limit)
		done <- result{data, err}
	}()
	select {
	case r := <-done:
		return r.data, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("reading %s: %w", path, context.Cause(ctx))
	}
}

// Open opens the regular file at path for reading (a FIFO, a device or a
// directory is refused), for a caller that streams it instead of reading
// it whole.
func Open(path string) (*os.File, os.FileInfo, error) {
	// O_NONBLOCK: opening a FIFO for reading would otherwise block until a
	// writer appears. It changes nothing for regular files.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	// Checked on the opened file, so what is read is what was checked.
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s: not a regular file (%s)", path, st.Mode().Type())
	}
	return f, st, nil
}

func read(path string, limit int64) ([]byte, error) {
	f, st, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tooLarge := fmt.Errorf("%s: larger than the %d-byte limit", path, limit)
	if st.Size() > limit {
		return nil, tooLarge
	}
	// The file may grow after Stat: read one byte past the limit to notice.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, tooLarge
	}
	return data, nil
}
