// Package pglock is leadership among processes sharing one Postgres
// database: a session-level advisory lock held on a connection of its own,
// checked every second, and lost when that connection is.
package pglock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// leaseCheckInterval is how often a Lock checks its connection:
	// the longest a leader goes on after the database dropped it.
	leaseCheckInterval = time.Second
	// leaseCheckTimeout bounds one check; a check that takes longer ends
	// the lock.
	leaseCheckTimeout = 5 * time.Second
	// releaseTimeout bounds unlocking and closing in Release.
	releaseTimeout = 5 * time.Second
)

// ErrReleased is Lock.Err after Release.
var ErrReleased = errors.New("leadership released")

// Try tries, without waiting, to take the advisory lock key: it connects
// with cfg (a connection of its own, not from a pool) and asks for a
// session-level advisory lock. It returns the Lock and true if it got it,
// nil and false if another session holds it, or an error if the database
// could not be asked. ctx bounds only connecting and asking.
//
// The lock lives as long as that connection: if the connection dies (the
// server restarts, the backend is terminated, the network fails), Postgres
// drops the lock and another process may take it. The Lock notices within
// about a second and closes Lost; until then two processes may both
// believe they hold it, so writes that must happen once need the database
// itself to make them safe (unique keys, compare-and-set updates).
func Try(ctx context.Context, cfg *pgx.ConnConfig, key int64) (*Lock, bool, error) {
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
	l := &Lock{
		key:  key,
		conn: conn,
		lost: make(chan struct{}),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go l.watch()
	return l, true, nil
}

// Lock is a held advisory lock and the connection that holds it. It is
// safe for concurrent use. Its watcher goroutine runs until the connection
// fails or Release is called; Release must always be called, also after
// Lost.
type Lock struct {
	key  int64
	conn *pgx.Conn // used only by watch, then by Release after watch ended
	lost chan struct{}
	stop chan struct{}
	done chan struct{} // closed when watch returns

	releaseOnce sync.Once
	endOnce     sync.Once
	mu          sync.Mutex
	err         error
}

// Lost returns a channel closed when the lock is lost: the connection
// holding it failed a check (the lock may already be someone else's), or
// Release was called. Err says which. A leader must stop acting as one
// when it closes.
func (l *Lock) Lost() <-chan struct{} {
	return l.lost
}

// Err returns nil while the lock holds, ErrReleased after Release, or
// the error that ended it.
func (l *Lock) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Release gives the lock up: it stops the watcher, unlocks, and
// closes the connection, so that another process can lead at once. It
// closes Lost if the leadership had not ended already. It is idempotent
// and returns once all that is done.
func (l *Lock) Release() {
	l.releaseOnce.Do(func() {
		close(l.stop)
		<-l.done
		l.end(ErrReleased)
		if l.conn.IsClosed() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
		defer cancel()
		// Closing alone would drop the lock too, but only once the server
		// notices; unlocking first makes it free when Release returns.
		_, _ = l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, l.key)
		_ = l.conn.Close(ctx)
	})
}

// end records why the lock ended and closes Lost, once.
func (l *Lock) end(err error) {
	l.endOnce.Do(func() {
		l.mu.Lock()
		l.err = err
		l.mu.Unlock()
		close(l.lost)
	})
}

// watch checks the connection every leaseCheckInterval until it fails or
// stop is closed.
func (l *Lock) watch() {
	defer close(l.done)
	tick := time.NewTicker(leaseCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), leaseCheckTimeout)
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
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	_ = conn.Close(ctx)
}
