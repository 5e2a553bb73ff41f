// Package postgres is a user directory in a PostgreSQL table shared by every
// replica (see internal/directory for the contract).
//
// Lookups are answered from a bounded, replica-local LRU cache; a miss runs
// one query bounded by the RPC's context, shared by concurrent misses of
// the same id. The cache is kept fresh by a change log
// (migrations/0003_change_log.sql): every transaction that changes a
// returned field appends the ids it changed, in commit order, and sends one
// notification; the listener reads the log from the last position it
// applied and drops those ids, or empties the cache when more than
// maxChanges changed (a bulk change, a truncate, a long absence).
//
// The listener is also how the directory knows the database is there.
// When its connection fails it reconnects at once and catches up from its
// last position; meanwhile the directory stays up but answers every lookup
// from the database (a cached entry may be stale). Only when reconnecting
// fails is it down: it keeps answering hits from the cache, answers misses
// with directory.ErrOutage (UNAVAILABLE, never "not found"), logs one line,
// and retries with backoff. Until it first connects it answers misses the
// same way.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acme/user-service/services/user-server/internal/directory"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults of Config's zero fields.
const (
	DefaultCacheSize  = 100_000
	DefaultPoolSize   = 8
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Second
	DefaultLiveness   = 5 * time.Second
	// channel is the NOTIFY channel of the change log.
	channel = "users_changed"
	// maxChanges is the most changes a catch-up applies one by one; past
	// it the cache is emptied instead (work bounded by the cache, never by
	// the size of a change). The trigger's own bound (1000 ids per
	// statement) is below it.
	maxChanges = 10_000
	// logRetention is how long the change log keeps an entry; pruneEvery
	// how often a replica prunes it.
	logRetention = 24 * time.Hour
	pruneEvery   = 10 * time.Minute
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

	flightMu sync.Mutex
	flights  map[string]*flight

	// applied is the change log's position the cache reflects; only the
	// listener touches it.
	applied int64
	// stale is set while the listener reconnects after losing a working
	// connection: the cache may miss changes, so lookups bypass it.
	stale atomic.Bool
	// lostAt is when the listener lost a working connection (listener
	// only), for the line that says it caught up.
	lostAt    time.Time
	lastPrune time.Time
	lastSync  atomic.Int64 // unix nanoseconds; see directory.CacheStats

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
	s := &Directory{cfg: cfg, pool: pool, cache: cache, stop: stop, listenerDone: make(chan struct{}), flights: map[string]*flight{}}
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
		Entries: s.cache.Len(), LastSync: s.syncedAt(),
	}}
}

func (s *Directory) syncedAt() time.Time {
	if n := s.lastSync.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
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
// bound parameter. Concurrent misses of one id share one query.
func (s *Directory) Lookup(ctx context.Context, id string) (directory.User, error) {
	e, cached := s.cache.Get(id)
	if cached && !s.stale.Load() {
		s.hits.Add(1)
		return e.answer()
	}
	s.misses.Add(1)
	if !s.Up() {
		// Don't queue behind a database known to be away (or not reached
		// yet): the caller gets UNAVAILABLE now and can try another
		// replica. The outage was reported once, by setState.
		s.dbErrors.Add(1)
		return directory.User{}, directory.ErrOutage
	}
	f := s.join(ctx, id)
	select {
	case <-f.done:
	case <-ctx.Done():
		s.leave(id, f)
		return directory.User{}, fmt.Errorf("looking up a user: %w", ctx.Err())
	}
	if f.err != nil {
		if cached && ctx.Err() == nil {
			// Reconnecting and the database is going away: what the cache
			// holds is what an outage serves.
			return e.answer()
		}
		return directory.User{}, f.err
	}
	return f.e.answer()
}

func (e entry) answer() (directory.User, error) {
	if !e.found {
		return directory.User{}, directory.ErrNotFound
	}
	return e.user, nil
}

// flight is one query for an id, shared by the lookups that missed it
// meanwhile. Its context ends when the last of them gives up.
type flight struct {
	done    chan struct{}
	e       entry
	err     error
	waiters int // guarded by flightMu
	cancel  context.CancelFunc
}

// join returns the flight for id, starting one if none is under way.
func (s *Directory) join(ctx context.Context, id string) *flight {
	s.flightMu.Lock()
	defer s.flightMu.Unlock()
	f, ok := s.flights[id]
	if !ok {
		// The callers' values (trace context) without their deadline:
		// the flight lasts while any caller waits.
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &flight{done: make(chan struct{}), cancel: cancel}
		s.flights[id] = f
		go s.fly(fctx, id, f)
	}
	f.waiters++
	return f
}

// leave removes a caller that gave up; the last one cancels the query.
func (s *Directory) leave(id string, f *flight) {
	s.flightMu.Lock()
	defer s.flightMu.Unlock()
	if f.waiters--; f.waiters == 0 {
		f.cancel()
		if s.flights[id] == f {
			delete(s.flights, id)
		}
	}
}

// fly runs a flight's query and caches its answer.
func (s *Directory) fly(ctx context.Context, id string, f *flight) {
	defer func() {
		s.flightMu.Lock()
		if s.flights[id] == f {
			delete(s.flights, id)
		}
		s.flightMu.Unlock()
		f.cancel()
		close(f.done)
	}()
	s.mu.Lock()
	gen := s.gen
	s.mu.Unlock()
	u := directory.User{ID: id}
	query := func() error {
		return s.pool.QueryRow(ctx, "SELECT name, email FROM users WHERE id = $1", id).Scan(&u.Name, &u.Email)
	}
	err := query()
	if connLost(err) && ctx.Err() == nil {
		// A pooled connection that the database closed (terminated, a
		// restart): the pool replaces it, once.
		err = query()
	}
	found := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		s.dbErrors.Add(1)
		cause := directory.ErrUnavailable
		if !s.Up() {
			// The listener has found the database away meanwhile: this
			// failure is part of the outage it reported.
			cause = directory.ErrOutage
		}
		f.err = fmt.Errorf("%w: %w", cause, err)
		return
	}
	f.e = entry{user: u, found: found}
	// Not found is cached too: inserts are logged like every other change.
	s.mu.Lock()
	if s.gen == gen {
		s.cache.Add(id, f.e)
	}
	s.mu.Unlock()
}

// connLost reports an error that means the connection, not the query,
// failed: worth one retry on another.
func connLost(err error) bool {
	if err == nil || errors.Is(err, pgx.ErrNoRows) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// 57P01-03: terminated by an administrator, shutdown, cannot
		// connect now; class 08: connection exception.
		return strings.HasPrefix(pe.Code, "57P") || strings.HasPrefix(pe.Code, "08")
	}
	return pgconn.SafeToRetry(err) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isNetErr(err)
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne)
}

// forget drops ids from the cache.
func (s *Directory) forget(ids []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	for _, id := range ids {
		s.cache.Remove(id)
	}
}

// purge empties the cache.
func (s *Directory) purge() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	s.cache.Purge()
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
		s.cfg.Logger.Info("user database connected, cache caught up: serving", slog.Int("cached", s.cache.Len()))
	} else {
		s.cfg.Logger.Error("user database unreachable: serving cached users only, misses get UNAVAILABLE; reconnecting",
			slog.String("error", errString(err)))
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
		if wasUp {
			// A working connection was lost (terminated, restarted
			// pooler): reconnect at once, staying up but answering from
			// the database until caught up. Down only if that fails.
			s.stale.Store(true)
			s.lostAt = time.Now()
			s.cfg.Logger.Warn("user database listener connection lost: reconnecting, lookups bypass the cache until it has caught up",
				slog.String("error", errString(err)))
			backoff = s.cfg.MinBackoff
			continue
		}
		// Down: the cache answers what it holds (see the package comment).
		s.stale.Store(false)
		s.setState(stateDown, err)
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

// session connects, listens, catches up with the change log, marks the
// directory up and then applies the log on every notification until the
// connection fails. wasUp reports whether it got that far.
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
	// catch-up runs), so catching up now leaves nothing stale.
	if err := s.catchUp(ctx, conn); err != nil {
		return false, err
	}
	s.lastPrune = time.Now() // not at once: reconnections must stay cheap
	if s.stale.Swap(false) {
		// The end of the "connection lost" WARN: still up, nothing for
		// setState to say.
		s.cfg.Logger.Info("user database listener reconnected, cache caught up: lookups use it again",
			slog.Duration("after", time.Since(s.lostAt)))
	}
	s.setState(stateUp, nil)
	for {
		wctx, cancel := context.WithTimeout(ctx, s.cfg.Liveness)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			// Whatever the payload: the log says what changed.
			err = s.catchUp(ctx, conn)
		case ctx.Err() != nil:
			return true, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			pctx, cancel := context.WithTimeout(ctx, s.cfg.Liveness)
			err = conn.Ping(pctx)
			cancel()
			if err == nil {
				s.lastSync.Store(time.Now().UnixNano())
			}
			if err == nil && time.Since(s.lastPrune) > pruneEvery {
				err = s.prune(ctx, conn)
			}
		}
		if err != nil {
			return true, err
		}
	}
}

// catchUp applies the change log after s.applied: it drops the ids that
// changed, or empties the cache when more than maxChanges did, the log
// says "anything" (a bulk change) or the entries were pruned. A cache that
// was never filled (first connection) just takes the newest position.
func (s *Directory) catchUp(ctx context.Context, conn *pgx.Conn) error {
	// Bounded: a database that stops answering must not hold the listener.
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout())
	defer cancel()
	var newest, pruned int64
	// Read before the cache is touched: changes after newest are read on
	// the next catch-up, so emptying the cache after this read loses none.
	if err := conn.QueryRow(ctx, `SELECT coalesce((SELECT max(seq) FROM users_changes), 0),
		(SELECT through FROM users_changes_pruned)`).Scan(&newest, &pruned); err != nil {
		return fmt.Errorf("reading the change log: %w", err)
	}
	newest = max(newest, pruned)
	defer s.lastSync.Store(time.Now().UnixNano())
	if newest <= s.applied {
		return nil
	}
	if s.applied == 0 || s.applied < pruned {
		s.purge()
		s.applied = newest
		return nil
	}
	rows, err := conn.Query(ctx, "SELECT id FROM users_changes WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
		s.applied, newest, maxChanges+1)
	if err != nil {
		return fmt.Errorf("reading the change log: %w", err)
	}
	var ids []string
	all := false
	for rows.Next() {
		var id *string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("reading the change log: %w", err)
		}
		if id == nil {
			all = true
			continue
		}
		ids = append(ids, *id)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading the change log: %w", err)
	}
	if all || len(ids) > maxChanges {
		s.purge()
	} else {
		s.forget(ids)
	}
	s.applied = newest
	return nil
}

// opTimeout bounds the listener's queries.
func (s *Directory) opTimeout() time.Duration { return max(s.cfg.Liveness, 5*time.Second) }

// prune deletes the change log's entries older than logRetention and
// records the newest it deleted. Every replica prunes; they do not need
// to agree.
func (s *Directory) prune(ctx context.Context, conn *pgx.Conn) error {
	s.lastPrune = time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout())
	defer cancel()
	_, err := conn.Exec(ctx, `WITH gone AS (
			DELETE FROM users_changes WHERE changed_at < now() - make_interval(secs => $1) RETURNING seq)
		UPDATE users_changes_pruned SET through = greatest(through, (SELECT max(seq) FROM gone))
		WHERE EXISTS (SELECT FROM gone)`, logRetention.Seconds())
	if err != nil {
		if conn.IsClosed() {
			return err
		}
		// Not worth losing the connection over: the log only grows.
		s.cfg.Logger.Warn("pruning the user change log", slog.String("error", err.Error()))
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
