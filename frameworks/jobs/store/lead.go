package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// leaderLockKey is the Postgres advisory lock that one `corral jobs`
// process per database holds while it leads: "corraljb" in ASCII, chosen
// to stay clear of the keys golang-migrate derives from database names.
const leaderLockKey int64 = 0x636f7272616c6a62

const (
	// leaseCheckInterval is how often a Leadership checks its connection:
	// the longest a leader goes on after the database dropped it.
	leaseCheckInterval = time.Second
	// leaseCheckTimeout bounds one check; a check that takes longer ends
	// the leadership.
	leaseCheckTimeout = 5 * time.Second
	// releaseTimeout bounds unlocking and closing in Release.
	releaseTimeout = 5 * time.Second
)

// ErrReleased is Leadership.Err after Release.
var ErrReleased = errors.New("leadership released")

// TryLead tries, without waiting, to become the leader among the processes
// sharing this database: it takes a session-level advisory lock on a
// connection of its own (not from the pool). It returns the Leadership and
// true if it got the lock, nil and false if another session holds it, or an
// error if the database could not be asked. ctx bounds only connecting and
// asking.
//
// The lock lives as long as that connection: if the connection dies (the
// server restarts, the backend is terminated, the network fails), Postgres
// drops the lock and another process may take it. The Leadership notices
// within about a second and closes Lost; until then two processes may both
// believe they lead, which is why every write that must happen once is
// made safe by the database itself (unique dedup keys, TransitionRun),
// not by leadership. Leadership only keeps the followers idle.
func (s *Store) TryLead(ctx context.Context) (*Leadership, bool, error) {
	cfg := s.pool.Config().ConnConfig.Copy()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, false, fmt.Errorf("connecting for leadership: %w", err)
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, leaderLockKey).Scan(&got); err != nil {
		closeConn(conn)
		return nil, false, fmt.Errorf("taking leadership lock: %w", err)
	}
	if !got {
		closeConn(conn)
		return nil, false, nil
	}
	l := &Leadership{
		conn: conn,
		lost: make(chan struct{}),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go l.watch()
	return l, true, nil
}

// Leadership is held leadership: the advisory lock and the connection that
// holds it. It is safe for concurrent use. Its watcher goroutine runs until
// the connection fails or Release is called; Release must always be called,
// also after Lost.
type Leadership struct {
	conn *pgx.Conn // used only by watch, then by Release after watch ended
	lost chan struct{}
	stop chan struct{}
	done chan struct{} // closed when watch returns

	releaseOnce sync.Once
	endOnce     sync.Once
	mu          sync.Mutex
	err         error
}

// Lost returns a channel closed when the leadership ends: the connection
// holding the lock failed a check (the lock may already be someone else's),
// or Release was called. Err says which. A leader must stop acting as one
// when it closes.
func (l *Leadership) Lost() <-chan struct{} {
	return l.lost
}

// Err returns nil while the leadership holds, ErrReleased after Release, or
// the error that ended it.
func (l *Leadership) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Release gives the leadership up: it stops the watcher, unlocks, and
// closes the connection, so that another process can lead at once. It
// closes Lost if the leadership had not ended already. It is idempotent
// and returns once all that is done.
func (l *Leadership) Release() {
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
		_, _ = l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, leaderLockKey)
		_ = l.conn.Close(ctx)
	})
}

// end records why the leadership ended and closes Lost, once.
func (l *Leadership) end(err error) {
	l.endOnce.Do(func() {
		l.mu.Lock()
		l.err = err
		l.mu.Unlock()
		close(l.lost)
	})
}

// watch checks the connection every leaseCheckInterval until it fails or
// stop is closed.
func (l *Leadership) watch() {
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
			l.end(fmt.Errorf("leadership connection lost: %w", err))
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
