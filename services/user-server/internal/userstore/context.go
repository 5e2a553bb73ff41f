package userstore

import (
	"context"
	"errors"
)

// ErrNotFound is the answer of a directory that holds no user with the id
// asked for. Any other lookup error means the directory could not answer.
var ErrNotFound = errors.New("user not found")

// LookupContext is Lookup in the form every directory implements (see
// internal/directory): an in-memory map answers at once, so ctx is unused.
func (s *Store) LookupContext(_ context.Context, id string) (User, error) {
	if u, ok := s.byID[id]; ok {
		return u, nil
	}
	return User{}, ErrNotFound
}

// Users returns every user, in no particular order.
func (s *Store) Users() []User {
	out := make([]User, 0, len(s.byID))
	for _, u := range s.byID {
		out = append(out, u)
	}
	return out
}
