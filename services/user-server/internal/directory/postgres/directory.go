// Package postgres is a user directory in a PostgreSQL table shared by every
// replica (see internal/directory for the contract).
//
// Lookups are answered from a bounded, replica-local LRU cache; a miss runs
// one query bounded by the RPC's context. The cache is kept fresh by
// LISTEN/NOTIFY: a trigger on users announces every changed id and a
// listener drops it from the cache. The listener is also how the directory
// knows the database is there: while it is connected the directory is up;
// when its connection fails it is down, keeps answering hits from the
// cache, answers misses with directory.ErrUnavailable (never "not found"),
// and reconnects with backoff. Notifications sent while it was
// away are lost, so after every (re)connection it revalidates the whole
// cache against the table before declaring itself up again.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acme/user-service/services/user-server/internal/directory"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults of Config's zero fields.
const (
	DefaultCacheSize  = 100_000
	DefaultPoolSize   = 8
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Second
	DefaultLiveness   = 5 * time.Second
	// channel is the NOTIFY channel of migrations/0001_users.sql.
	channel = "users_changed"
)

// Config configures a Directory.
type Config struct {
	// URL is a libpq connection URL or keyword/value string.
	URL string
	// CacheSize bounds the cache, in users (found or not).
	CacheSize int
	// PoolSize bounds the connections used for lookups.
	PoolSize int32
	// StatementTimeout bounds every query on the server side as well
	// (statement_timeout); 0 leaves the database's setting. The RPC's
	// deadline bounds each lookup in any case.
	StatementTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between reconnection
	// attempts; it doubles from min to max.
	MinBackoff, MaxBackoff time.Duration
	// Liveness is how long the listener waits idle before it pings (and
	// how long the ping may take), so that a database that vanished
	// without closing the connection is noticed.
	Liveness time.Duration
	// Logger receives one line per state change (up, down), not per RPC.
	Logger *slog.Logger
}

// entry is a cached answer: a user, or the fact that there is none.
type entry struct {
	user  directory.User
	found bool
}

// Directory is a user directory in PostgreSQL; see the package comment.
type Directory struct {
	cfg   Config
	pool  *pgxpool.Pool
	cache *lru.Cache[string, entry]

	// mu orders cache fills against invalidations: gen counts
	// invalidations, and a lookup caches its answer only if no
	// invalidation happened while its query ran (else the answer may
	// predate the change that the invalidation announced).
	mu  sync.Mutex
	gen uint64

	state                  atomic.Int32 // stateUnknown, stateUp, stateDown
	hits, misses, dbErrors atomic.Uint64
	stop                   context.CancelFunc
	listenerDone           chan struct{}

	// watchMu orders state changes against Watch, so that every watcher
	// hears every change after the state it was first told, in order.
	watchMu  sync.Mutex
	watchers []func(up bool)
}

var _ directory.Directory = (*Directory)(nil)

const (
	stateUnknown int32 = iota
	stateUp
	stateDown
)

// Open checks the configuration and starts connecting in the background:
// it returns at once, with the directory down until the database answers,
// so a replica starts (NOT_SERVING) while its database is away. Only a
// malformed configuration is an error.
func Open(cfg Config) (*Directory, error) {
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.PoolSize <= 0 {
		cfg.PoolSize = DefaultPoolSize
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.Liveness <= 0 {
		cfg.Liveness = DefaultLiveness
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		// pgx's message masks the URL's password.
		return nil, fmt.Errorf("database URL: %w", err)
	}
	pc.MaxConns = cfg.PoolSize
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	if cfg.StatementTimeout > 0 {
		pc.ConnConfig.RuntimeParams["statement_timeout"] = fmt.Sprint(cfg.StatementTimeout.Milliseconds())
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("database pool: %w", err)
	}
	cache, err := lru.New[string, entry](cfg.CacheSize)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("cache: %w", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Directory{cfg: cfg, pool: pool, cache: cache, stop: stop, listenerDone: make(chan struct{})}
	go s.listen(ctx)
	return s, nil
}

// Close implements directory.Directory: it stops the listener and closes
// every connection.
func (s *Directory) Close() {
	s.stop()
	<-s.listenerDone
	s.pool.Close()
}

// Up reports whether the directory is connected and its cache revalidated.
func (s *Directory) Up() bool { return s.state.Load() == stateUp }

// Watch implements directory.Directory.
func (s *Directory) Watch(f func(up bool)) {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	s.watchers = append(s.watchers, f)
	f(s.Up())
}

// Stats implements directory.Directory; safe to call at any time.
func (s *Directory) Stats() directory.Stats {
	return directory.Stats{Up: s.Up(), Cache: &directory.CacheStats{
		Hits: s.hits.Load(), Misses: s.misses.Load(), DBErrors: s.dbErrors.Load(),
		Entries: s.cache.Len(),
	}}
}

// Count implements directory.Directory: it counts the table.
func (s *Directory) Count(ctx context.Context) (int, error) {
	var n int64
	err := s.pool.QueryRow(ctx, "SELECT count(*) FROM users").Scan(&n)
	return int(n), err
}

// Reload implements directory.Directory: changes to the table reach the
// cache by themselves, so there is nothing to reload.
func (s *Directory) Reload(context.Context) (bool, error) { return false, nil }

// LogAttr implements directory.Directory. The table is not counted: the
// database may be away when the server starts.
func (s *Directory) LogAttr() slog.Attr { return slog.String("directory", "postgres") }

// Lookup implements directory.Directory. The id reaches SQL only as a
// bound parameter.
func (s *Directory) Lookup(ctx context.Context, id string) (directory.User, error) {
	if e, ok := s.cache.Get(id); ok {
		s.hits.Add(1)
		if !e.found {
			return directory.User{}, directory.ErrNotFound
		}
		return e.user, nil
	}
	s.misses.Add(1)
	if !s.Up() {
		// Don't queue behind a database known to be away: the caller
		// gets UNAVAILABLE now and can try another replica.
		return directory.User{}, directory.ErrUnavailable
	}
	s.mu.Lock()
	gen := s.gen
	s.mu.Unlock()
	u := directory.User{ID: id}
	err := s.pool.QueryRow(ctx, "SELECT name, email FROM users WHERE id = $1", id).Scan(&u.Name, &u.Email)
	found := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		s.dbErrors.Add(1)
		if ctx.Err() != nil {
			return directory.User{}, fmt.Errorf("looking up a user: %w", ctx.Err())
		}
		return directory.User{}, fmt.Errorf("%w: %w", directory.ErrUnavailable, err)
	}
	// Not found is cached too: inserts notify like every other change.
	s.mu.Lock()
	if s.gen == gen {
		s.cache.Add(id, entry{user: u, found: found})
	}
	s.mu.Unlock()
	if !found {
		return directory.User{}, directory.ErrNotFound
	}
	return u, nil
}

// invalidate drops id from the cache; "" drops everything (a truncate, or
// a reconnection before revalidation).
func (s *Directory) invalidate(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	if id == "" {
		s.cache.Purge()
		return
	}
	s.cache.Remove(id)
}

// setState records a state change, logs it and reports it to the
// watchers, once per change: an outage is one "down" line, not one line per
// failed RPC.
func (s *Directory) setState(state int32, err error) {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	if s.state.Swap(state) == state {
		return
	}
	if state == stateUp {
		s.cfg.Logger.Info("user database connected, cache revalidated: serving", slog.Int("cached", s.cache.Len()))
	} else {
		msg := "<nil>"
		if err != nil {
			msg = err.Error()
		}
		s.cfg.Logger.Error("user database unreachable: serving cached users only, misses get UNAVAILABLE; reconnecting",
			slog.String("error", msg))
	}
	for _, f := range s.watchers {
		f(state == stateUp)
	}
}

// listen keeps one connection LISTENing, reconnecting with backoff.
func (s *Directory) listen(ctx context.Context) {
	defer close(s.listenerDone)
	backoff := s.cfg.MinBackoff
	for {
		wasUp, err := s.session(ctx)
		if ctx.Err() != nil {
			return
		}
		s.setState(stateDown, err)
		if wasUp {
			backoff = s.cfg.MinBackoff
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, s.cfg.MaxBackoff)
	}
}

// session connects, listens, revalidates the cache, marks the directory up
// and then applies notifications until the connection fails.
func (s *Directory) session(ctx context.Context) (wasUp bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return false, err
	}
	defer func() {
		// Bounded: a database that vanished may never answer the goodbye.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if v, err := appliedVersion(ctx, conn); err != nil {
		return false, err
	} else if want := SchemaVersion(); v < want {
		return false, fmt.Errorf("database schema is at version %d, this binary needs %d: run user-server migrate", v, want)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return false, err
	}
	// From here every change is notified on conn (queued while the
	// revalidation runs), so revalidating now leaves nothing stale.
	if err := s.revalidate(ctx, conn); err != nil {
		return false, err
	}
	s.setState(stateUp, nil)
	for {
		wctx, cancel := context.WithTimeout(ctx, s.cfg.Liveness)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err == nil {
			s.invalidate(n.Payload)
		} else if ctx.Err() != nil {
			return true, ctx.Err()
		} else if errors.Is(err, context.DeadlineExceeded) {
			pctx, cancel := context.WithTimeout(ctx, s.cfg.Liveness)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return true, err
			}
		} else {
			return true, err
		}
	}
}

// revalidateBatch ids are checked per query.
const revalidateBatch = 1000

// revalidate re-reads every cached id from the table: changes made while
// no listener was connected were never announced.
func (s *Directory) revalidate(ctx context.Context, conn *pgx.Conn) error {
	keys := s.cache.Keys()
	for start := 0; start < len(keys); start += revalidateBatch {
		batch := keys[start:min(start+revalidateBatch, len(keys))]
		rows, err := conn.Query(ctx, "SELECT id, name, email FROM users WHERE id = ANY($1)", batch)
		if err != nil {
			return err
		}
		current := make(map[string]directory.User, len(batch))
		for rows.Next() {
			var u directory.User
			if err := rows.Scan(&u.ID, &u.Name, &u.Email); err != nil {
				rows.Close()
				return err
			}
			current[u.ID] = u
		}
		if err := rows.Err(); err != nil {
			return err
		}
		s.mu.Lock()
		s.gen++
		for _, id := range batch {
			// Only ids still cached: what was evicted meanwhile stays out.
			if _, ok := s.cache.Peek(id); ok {
				u, found := current[id]
				s.cache.Add(id, entry{user: u, found: found})
			}
		}
		s.mu.Unlock()
	}
	return nil
}
