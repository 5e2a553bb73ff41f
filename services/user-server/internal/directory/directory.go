// Package directory is the contract of the server's user directory: the
// user type, the two errors a lookup can mean, and the one Directory
// interface every implementation keeps. The implementations live beside it:
//
//   - file: the users of a JSON file (or the embedded walkthrough user),
//     held in memory and replaced whole on Reload;
//   - postgres: a table shared by every replica, behind a bounded local
//     cache kept fresh by LISTEN/NOTIFY.
//
// The server, the telemetry and main see a Directory only; which kind it is
// matters only where it is opened.
package directory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// User is one entry of the directory.
type User struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// ErrNotFound is the answer of a directory that holds no user with the id
// asked for. Any other lookup error means the directory could not answer.
var ErrNotFound = errors.New("user not found")

// ErrUnavailable reports a directory that cannot answer now (its database
// is unreachable); the caller may retry, here or on another replica.
var ErrUnavailable = errors.New("user directory unavailable")

// ErrOutage is an ErrUnavailable the directory expects: its database is
// known to be away (down, or not reached yet since start), a state it
// reports once (Watch, its log) rather than with every lookup it fails, so
// callers may log those lookups as part of that one event.
var ErrOutage = fmt.Errorf("%w: its database is not reachable", ErrUnavailable)

// Directory is a user directory. Every method is safe for concurrent use.
type Directory interface {
	// Lookup returns the user with the given id. The error is ErrNotFound
	// (possibly wrapped) when the directory holds no such user; anything
	// else (ErrUnavailable, ErrOutage, a context error) means it could not
	// answer, which callers must not report as "not found". It returns
	// when ctx is done at the latest.
	Lookup(ctx context.Context, id string) (User, error)

	// Count returns the number of users. It may query a database, bounded
	// by ctx.
	Count(ctx context.Context) (int, error)

	// Reload re-reads the directory's source where the process reads one
	// (a users file), and reports whether it did: false, nil means there
	// is nothing to reload (the embedded users; a database, whose changes
	// arrive by themselves). The new users replace the old ones whole, so
	// a lookup sees either; on error the users in force stay.
	Reload(ctx context.Context) (bool, error)

	// Watch calls f with whether the directory can answer every lookup
	// (false while its database is unreachable, or before it first
	// connected): once at once, then after every change. Calls do not
	// overlap; f must not call back into the directory's Watch.
	Watch(f func(up bool))

	// Stats returns the directory's state and counters; cheap enough to
	// call on every metrics scrape.
	Stats() Stats

	// LogAttr describes the directory on the server's start-up line.
	LogAttr() slog.Attr

	// Close releases what the directory holds (connections, goroutines).
	// No method may be called after it.
	Close()
}

// Stats are a directory's state and its counters since it was opened.
type Stats struct {
	// Up is what Watch last reported.
	Up bool
	// Cache is nil for a directory without a cache (one held wholly in
	// memory).
	Cache *CacheStats
}

// CacheStats count the lookups of a directory that caches a database.
type CacheStats struct {
	Hits     uint64 // lookups answered from the cache
	Misses   uint64 // lookups that were not in the cache
	DBErrors uint64 // lookups the database failed to answer
	Entries  int    // users (found or not) in the cache now
	// LastSync is when the cache was last known current with its
	// database (a catch-up or a liveness ping); zero before the first.
	LastSync time.Time
}
