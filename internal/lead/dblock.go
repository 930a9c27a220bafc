package lead

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"corral/internal/pg"
)

// DBLock is the Election of instances that share a Postgres database
// without ZooKeeper: the one that holds a session-level advisory lock
// leads. The lock lives on a connection of its own, checked every
// LockCheck; when that connection fails (the server restarts, the backend
// is terminated, the network fails), Postgres frees the lock and another
// instance may take it before this one notices. That window is what the
// Fence closes: the new leader's term fences the old one's writes.
//
// Standbys know no leader (Leader answers only for this instance while it
// leads), so they forward nothing. Create it with NewDBLock.
type DBLock struct {
	cfg     *pgx.ConnConfig
	key     int64
	self    Member
	log     *slog.Logger
	leading atomic.Bool
}

// Timing of DBLock.
const (
	// LockRetry is how often an instance asks for the lock while another
	// holds it or the database cannot be reached.
	LockRetry = time.Second
	// LockCheck is how often the holder checks the lock's connection: the
	// longest it goes on leading after the database dropped it.
	LockCheck = time.Second
	// lockCheckTimeout bounds one check; a slower check ends leadership.
	lockCheckTimeout = 5 * time.Second
	// lockReleaseTimeout bounds unlocking and closing the connection.
	lockReleaseTimeout = 5 * time.Second
	// lockWarnEvery spaces out the warnings of an instance that cannot
	// reach the database.
	lockWarnEvery = 10 * time.Second
)

// NewDBLock returns the election by the advisory lock key in the database
// at dbURL (postgres://…), in which this instance is self. It does not
// connect; Run does. It fails only for a malformed URL.
func NewDBLock(dbURL string, key int64, self Member, log *slog.Logger) (*DBLock, error) {
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("parsing database URL: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = pg.ConnectTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &DBLock{cfg: cfg, key: key, self: self, log: log}, nil
}

// Run asks for the lock every LockRetry until ctx ends, and leads while
// it holds it. The lead context ends when the lock's connection fails a
// check or ctx ends; when lead returns the lock is released, and Run asks
// again after LockRetry.
func (d *DBLock) Run(ctx context.Context, lead func(context.Context)) error {
	var warned time.Time
	waiting := false
	for ctx.Err() == nil {
		l, ok, err := tryLock(ctx, d.cfg, d.key)
		switch {
		case err != nil && ctx.Err() == nil:
			if time.Since(warned) >= lockWarnEvery {
				warned = time.Now()
				d.log.Warn("cannot reach the database for the leadership lock; retrying", "err", err)
			}
		case err == nil && !ok:
			if !waiting {
				d.log.Info("another instance holds the leadership lock; waiting for it")
				waiting = true
			}
		case ok:
			waiting = false
			d.hold(ctx, l, lead)
		}
		if sleep(ctx, LockRetry) != nil {
			break
		}
	}
	return ctx.Err()
}

// hold runs lead while l is held, then releases l.
func (d *DBLock) hold(ctx context.Context, l *advisoryLock, lead func(context.Context)) {
	defer l.release()
	lctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-l.lost:
			d.leading.Store(false)
			d.log.Error("lost the leadership lock; stepping down", "err", l.err())
			cancel(l.err())
		case <-lctx.Done():
		}
	})
	d.leading.Store(true)
	d.log.Info("took the leadership lock: leading")
	lead(lctx)
	d.leading.Store(false)
	cancel(errLeadReturned)
	wg.Wait()
}

// errLeadReturned is the cause of a lead context cancelled because lead
// returned.
var errLeadReturned = errors.New("lead returned")

// Leader returns this instance while it leads; other instances are not
// known.
func (d *DBLock) Leader() (Member, bool) {
	if d.leading.Load() {
		return d.self, true
	}
	return Member{}, false
}

// errLockReleased is the error of a lock released by its holder.
var errLockReleased = errors.New("leadership lock released")

// advisoryLock is a held advisory lock and the connection that holds it.
// Its watcher runs until the connection fails a check or release is
// called; release must always be called.
type advisoryLock struct {
	key  int64
	conn *pgx.Conn // used by watch, then by release once watch ended
	lost chan struct{}
	stop chan struct{}
	done chan struct{} // closed when watch returns

	releaseOnce, endOnce sync.Once
	mu                   sync.Mutex
	cause                error
}

// tryLock asks, without waiting, for the advisory lock key on a connection
// of its own: the lock and true if it got it, false if another session
// holds it, or an error if the database could not be asked. ctx bounds
// only connecting and asking.
func tryLock(ctx context.Context, cfg *pgx.ConnConfig, key int64) (*advisoryLock, bool, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg.Copy())
	if err != nil {
		return nil, false, fmt.Errorf("connecting for the lock: %w", err)
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
		closeConn(conn)
		return nil, false, fmt.Errorf("taking the advisory lock: %w", err)
	}
	if !got {
		closeConn(conn)
		return nil, false, nil
	}
	l := &advisoryLock{key: key, conn: conn, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go l.watch()
	return l, true, nil
}

// err returns why the lock ended, nil while it holds.
func (l *advisoryLock) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cause
}

// end records why the lock ended and closes lost, once.
func (l *advisoryLock) end(err error) {
	l.endOnce.Do(func() {
		l.mu.Lock()
		l.cause = err
		l.mu.Unlock()
		close(l.lost)
	})
}

// release stops the watcher, unlocks and closes the connection, so that
// another instance can lead at once. It is idempotent.
func (l *advisoryLock) release() {
	l.releaseOnce.Do(func() {
		close(l.stop)
		<-l.done
		l.end(errLockReleased)
		if l.conn.IsClosed() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), lockReleaseTimeout)
		defer cancel()
		// Closing alone frees the lock too, but only once the server
		// notices; unlocking first frees it before release returns.
		_, _ = l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, l.key)
		_ = l.conn.Close(ctx)
	})
}

// watch checks the connection every LockCheck until it fails or stop is
// closed.
func (l *advisoryLock) watch() {
	defer close(l.done)
	tick := time.NewTicker(LockCheck)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), lockCheckTimeout)
		err := l.conn.Ping(ctx)
		cancel()
		if err != nil {
			l.end(fmt.Errorf("lock connection lost: %w", err))
			closeConn(l.conn)
			return
		}
	}
}

// closeConn closes a connection whose fate no longer matters.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), lockReleaseTimeout)
	defer cancel()
	_ = conn.Close(ctx)
}
