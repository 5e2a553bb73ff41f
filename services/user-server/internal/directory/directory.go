// Package directory is where the server looks users up: an in-memory
// directory (the embedded users or --users FILE, replaceable at run time on
// SIGHUP) or, in the postgres subpackage, a table shared by every replica
// behind a bounded local cache.
package directory

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/acme/user-service/services/user-server/internal/userstore"
)

// Directory looks users up by id. The error is userstore.ErrNotFound when
// the directory holds no such user; anything else (ErrUnavailable, a
// context error) means it could not answer, which callers must not report
// as "not found".
type Directory interface {
	LookupContext(ctx context.Context, id string) (userstore.User, error)
}

// ErrUnavailable reports a directory that cannot answer now (its database
// is unreachable); the caller may retry.
var ErrUnavailable = errors.New("user directory unavailable")

// Memory is an in-memory directory whose contents can be replaced while
// lookups run: each lookup reads one immutable *userstore.Store, so it sees
// the old directory or the new one, never a mix.
type Memory struct {
	store atomic.Pointer[userstore.Store]
}

// NewMemory returns a Memory answering from s.
func NewMemory(s *userstore.Store) *Memory {
	m := &Memory{}
	m.store.Store(s)
	return m
}

// LookupContext implements Directory.
func (m *Memory) LookupContext(ctx context.Context, id string) (userstore.User, error) {
	return m.store.Load().LookupContext(ctx, id)
}

// Replace makes s the directory for every lookup that starts from now on.
func (m *Memory) Replace(s *userstore.Store) { m.store.Store(s) }

// Len returns the number of users.
func (m *Memory) Len() int { return m.store.Load().Len() }
