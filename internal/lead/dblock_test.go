package lead

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const testLockKey int64 = 0x636f7272616c7478 // "corraltx"

// contender runs an election in the background and records its terms.
type contender struct {
	el      Election
	leading atomic.Bool
	terms   atomic.Int32
	// quit, when closed, makes the current term's lead return by itself.
	quit   atomic.Pointer[chan struct{}]
	causes chan error // why each term's context ended
	cancel context.CancelFunc
	done   chan error
}

func contend(t *testing.T, el Election) *contender {
	ctx, cancel := context.WithCancel(context.Background())
	c := &contender{el: el, causes: make(chan error, 16), cancel: cancel, done: make(chan error, 1)}
	q := make(chan struct{})
	c.quit.Store(&q)
	go func() {
		c.done <- el.Run(ctx, func(lctx context.Context) {
			c.terms.Add(1)
			c.leading.Store(true)
			select {
			case <-lctx.Done():
				c.causes <- context.Cause(lctx)
			case <-*c.quit.Load():
				q := make(chan struct{})
				c.quit.Store(&q)
			}
			c.leading.Store(false)
		})
	}()
	t.Cleanup(func() { c.stop(t) })
	return c
}

// resign makes the current term return by itself.
func (c *contender) resign() { close(*c.quit.Load()) }

func (c *contender) stop(t *testing.T) {
	c.cancel()
	select {
	case err := <-c.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v; want context.Canceled", err)
		}
		c.done <- err
	case <-time.After(15 * time.Second):
		t.Error("Run did not return within 15 s of its context ending")
	}
}

// terminateLockHolders ends the sessions holding advisory locks in db, as
// a database restart or a network cut would.
func terminateLockHolders(t *testing.T, db string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n)
	if err != nil || n != 1 {
		t.Fatalf("terminating the lock holder: %d sessions, %v; want 1", n, err)
	}
}

func TestDBLockElection(t *testing.T) {
	db := newDB(t)
	ma, mb := Member{ID: "a", URL: "http://a:1"}, Member{ID: "b", URL: "http://b:1"}
	ea, err := NewDBLock(db, testLockKey, ma, logger(t))
	if err != nil {
		t.Fatal(err)
	}
	eb, err := NewDBLock(db, testLockKey, mb, logger(t))
	if err != nil {
		t.Fatal(err)
	}
	a := contend(t, ea)
	eventually(t, "a leads", a.leading.Load)
	if l, ok := ea.Leader(); !ok || !l.Same(ma) {
		t.Errorf("a.Leader() while a leads = %+v, %v; want a", l, ok)
	}
	b := contend(t, eb)
	time.Sleep(LockRetry + LockRetry/2)
	if b.leading.Load() {
		t.Fatal("b leads while a holds the lock")
	}
	if l, ok := eb.Leader(); ok {
		t.Errorf("b.Leader() while a leads = %+v; want unknown (a standby knows no leader)", l)
	}

	// The lock's connection dies: a stops within a check, b takes over.
	terminateLockHolders(t, db)
	eventually(t, "b leads", b.leading.Load)
	eventually(t, "a stops leading", func() bool { return !a.leading.Load() })
	if cause := <-a.causes; cause == nil || errors.Is(cause, context.Canceled) {
		t.Errorf("a's term ended with %v; want the lost connection", cause)
	}
	if _, ok := ea.Leader(); ok {
		t.Error("a still names itself leader")
	}

	// A lead that returns by itself releases the lock: a takes it back.
	b.resign()
	eventually(t, "a leads again", a.leading.Load)
	if a.terms.Load() != 2 {
		t.Errorf("a led %d terms; want 2", a.terms.Load())
	}
	b.stop(t)
	a.stop(t)
}

func TestNewDBLockBadURL(t *testing.T) {
	if _, err := NewDBLock("postgres://%zz", 1, Member{}, nil); err == nil {
		t.Error("NewDBLock with a malformed URL = nil error")
	}
}
