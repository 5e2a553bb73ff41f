// Package file is the user directory of a JSON file, held in memory: the
// embedded walkthrough user, or a file named with --users
// ({"users": [{"id", "name", "email"}, ...]}) that Reload re-reads (on
// SIGHUP). The file is also what `user-server import` loads into the
// database, so its rules (users.go) are the contract's rules for a user.
package file

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/acme/user-service/services/user-server/internal/directory"
)

// Directory is an in-memory directory whose users can be replaced while
// lookups run: each lookup reads one immutable *Users, so it sees the old
// set or the new one, never a mix.
type Directory struct {
	path  string // "" for the embedded users
	users atomic.Pointer[Users]
}

var _ directory.Directory = (*Directory)(nil)

// New returns a directory answering from users, loaded from path ("" for
// the embedded users, which Reload leaves alone).
func New(path string, users *Users) *Directory {
	d := &Directory{path: path}
	d.users.Store(users)
	return d
}

// Embedded returns a directory of the embedded users (the walkthrough's
// john123).
func Embedded() *Directory { return New("", Default()) }

// Lookup implements directory.Directory; a map answers at once, so ctx is
// unused.
func (d *Directory) Lookup(_ context.Context, id string) (directory.User, error) {
	if u, ok := d.users.Load().Get(id); ok {
		return u, nil
	}
	return directory.User{}, directory.ErrNotFound
}

// Count implements directory.Directory.
func (d *Directory) Count(context.Context) (int, error) { return d.users.Load().Len(), nil }

// Reload implements directory.Directory: it re-reads the file, checked in
// full before it replaces the users in force.
func (d *Directory) Reload(ctx context.Context) (bool, error) {
	if d.path == "" {
		return false, nil
	}
	users, err := Load(ctx, d.path)
	if err != nil {
		return false, err
	}
	d.Replace(users)
	return true, nil
}

// Replace makes users the directory for every lookup that starts from now
// on.
func (d *Directory) Replace(users *Users) { d.users.Store(users) }

// Watch implements directory.Directory: memory is always there.
func (d *Directory) Watch(f func(up bool)) { f(true) }

// Stats implements directory.Directory: up, no cache.
func (d *Directory) Stats() directory.Stats { return directory.Stats{Up: true} }

// LogAttr implements directory.Directory: the number of users.
func (d *Directory) LogAttr() slog.Attr { return slog.Int("users", d.users.Load().Len()) }

// Close implements directory.Directory; there is nothing to release.
func (d *Directory) Close() {}
