package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"corral/internal/lead"
	"corral/internal/pg"
)

// ErrNotFound is returned (wrapped) when a record asked for does not exist
// (the value all stores share).
var ErrNotFound = pg.ErrNotFound

// ErrInvalid is returned (wrapped) when an argument cannot be stored, before
// the database is asked or because it names something that does not exist
// (an unknown parent). Retrying such a call cannot succeed.
var ErrInvalid = pg.ErrInvalid

// ErrConflict is returned (wrapped) by TransitionRun when the run is not in
// any of the states the caller expected: another writer moved it first.
// Retrying the same transition cannot succeed; re-read the run instead.
var ErrConflict = errors.New("conflict")

// ErrFenced is returned (wrapped) by a write through a fenced view whose
// term has ended: another jobs instance began a term since
// (lead.ErrFenced). Retrying cannot succeed.
var ErrFenced = lead.ErrFenced

// Store is the jobs framework's state on a Postgres connection pool. It is
// safe for concurrent use, also by several processes on one database: the
// writes that must happen once (a scheduled occurrence's run, a dependency
// run, a state transition) are made safe by the database, not by the caller
// holding leadership. Methods take ctx first and honor its deadline.
//
// The leader's scheduler writes through a fenced view (Fenced): once its
// term has begun, each of its writes checks in its transaction that no
// later jobs term has begun, and fails with ErrFenced if one has.
type Store struct {
	pool  *pgxpool.Pool
	fence *lead.Fence // nil: writes unchecked (every instance's API)
}

// Fenced returns a view of s for one leadership term: the same pool, with
// a fence of its own. Until its BeginTerm it writes unchecked, like s.
// Close s, not the view.
func (s *Store) Fenced() *Store {
	return &Store{pool: s.pool, fence: lead.NewFence("jobs")}
}

// BeginTerm starts a new jobs term for a fenced view and returns its
// epoch: from then on the writes of every earlier term's view fail with
// ErrFenced, and so will this view's once another term begins. It waits
// for writes in flight under earlier terms to commit. A Store that is not
// a fenced view refuses (ErrInvalid).
func (s *Store) BeginTerm(ctx context.Context) (int64, error) {
	if s.fence == nil {
		return 0, fmt.Errorf("beginning a term: not a fenced view: %w", ErrInvalid)
	}
	return s.fence.Begin(ctx, s.pool)
}

// Fence is a fenced view's term (nil for a Store that is not one): its
// Context ends once a write was refused.
func (s *Store) Fence() *lead.Fence { return s.fence }

// write runs one write on the pool, or, in a fenced view whose term has
// begun, in a transaction that first checks the term.
func (s *Store) write(ctx context.Context, fn func(q querier) error) error {
	if s.fence == nil || s.fence.Epoch() == 0 {
		return fn(s.pool)
	}
	return s.Atomically(ctx, func(tx *Tx) error { return fn(tx.tx) })
}

// querier is what the statements need; both the pool and a transaction
// provide it.
type querier = pg.Querier

// Open returns a Store for the database at dbURL (postgres://…), whose schema
// must have been migrated (corral/internal/migrate). It does not connect:
// connections are made when a call needs one, so Open fails only for a
// malformed URL, and a database that is down at Open is not an error (Ping
// tells). The caller must Close the store.
func Open(ctx context.Context, dbURL string) (*Store, error) {
	pool, err := pg.Open(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	return &Store{pool: pool}, nil
}

// Close closes every pooled connection, waiting for those in use to be
// released. The store, and every view of it, must not be used afterwards.
func (s *Store) Close() {
	s.pool.Close()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return pg.Ping(ctx, s.pool, "jobs")
}

// Atomically runs fn in one transaction (READ COMMITTED): every write fn
// makes through tx is committed together when fn returns nil, and none is
// when fn returns an error or panics. Atomically returns fn's error as is,
// or an error from beginning or committing the transaction (a failed commit
// means nothing was written). After a Tx method fails with a database error
// the transaction is aborted: fn should return that error. tx must not be
// used after fn returns, nor by several goroutines at once. Atomically does
// not retry. In a fenced view whose term has begun, the transaction first
// checks the term (ErrFenced).
func (s *Store) Atomically(ctx context.Context, fn func(tx *Tx) error) error {
	return pg.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if s.fence != nil {
			if err := s.fence.Check(ctx, tx); err != nil {
				return err
			}
		}
		return fn(&Tx{tx: tx})
	})
}

// Tx is a transaction given to the function passed to Store.Atomically. Its
// methods write like the Store methods of the same names, and their writes
// take effect only when that function returns nil.
type Tx struct {
	tx pgx.Tx
}

// Nested runs fn in a savepoint of the transaction: if fn fails, what it
// wrote is undone and the transaction goes on as before it; the error is
// fn's.
func (t *Tx) Nested(ctx context.Context, fn func(tx *Tx) error) error {
	sp, err := t.tx.Begin(ctx)
	if err != nil {
		return fmt.Errorf("beginning a savepoint: %w", err)
	}
	if err := fn(&Tx{tx: sp}); err != nil {
		if rerr := sp.Rollback(ctx); rerr != nil {
			return errors.Join(err, fmt.Errorf("rolling back a savepoint: %w", rerr))
		}
		return err
	}
	if err := sp.Commit(ctx); err != nil {
		return fmt.Errorf("releasing a savepoint: %w", err)
	}
	return nil
}

// FrameworkID returns the stored framework id, or "" if none was stored.
func (s *Store) FrameworkID(ctx context.Context) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, `SELECT framework_id FROM jobs.framework`).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading framework id: %w", err)
	}
	return id, nil
}

// SetFrameworkID stores id (not empty) as the framework id, replacing any
// previous one. It is idempotent.
func (s *Store) SetFrameworkID(ctx context.Context, id string) error {
	return s.write(ctx, func(q querier) error { return setFrameworkID(ctx, q, id) })
}

// SetFrameworkID is Store.SetFrameworkID within the transaction.
func (t *Tx) SetFrameworkID(ctx context.Context, id string) error {
	return setFrameworkID(ctx, t.tx, id)
}

func setFrameworkID(ctx context.Context, q querier, id string) error {
	if id == "" {
		return fmt.Errorf("storing framework id: empty id: %w", ErrInvalid)
	}
	_, err := q.Exec(ctx, `
		INSERT INTO jobs.framework (singleton, framework_id) VALUES (true, $1)
		ON CONFLICT (singleton) DO UPDATE SET framework_id = excluded.framework_id, updated_at = now()`,
		id)
	if err != nil {
		return fmt.Errorf("storing framework id: %w", err)
	}
	return nil
}

// Permanent reports whether err is one that retrying cannot cure: an
// argument refused (ErrInvalid), a record that does not exist (ErrNotFound),
// a lost compare-and-set (ErrConflict), a write of a deposed leader
// (ErrFenced), or a data or integrity error raised by Postgres (SQLSTATE
// classes 22 and 23). Other errors (connection refused, timeouts, a
// restarting server, a deadlock or serialization failure, a canceled
// context) are transient.
func Permanent(err error) bool {
	if errors.Is(err, ErrInvalid) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) || errors.Is(err, ErrFenced) {
		return true
	}
	return pg.DataError(err)
}

// validSpec accepts a JSON object: every spec this store keeps is one, and
// refusing the rest here turns a caller's bug into ErrInvalid instead of odd
// data.
func validSpec(spec []byte) error {
	if !json.Valid(spec) {
		return fmt.Errorf("spec is not valid JSON: %w", ErrInvalid)
	}
	if trimmed := bytes.TrimLeft(spec, " \t\r\n"); trimmed[0] == '{' {
		return nil
	}
	return fmt.Errorf("spec is not a JSON object: %w", ErrInvalid)
}

// ts normalizes a time for storage: UTC, without the monotonic reading, cut
// to Postgres' microsecond precision (Postgres would round instead, so a
// value read back could differ from the one written).
func ts(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// tsPtr is ts for an optional time; nil stays nil (NULL).
func tsPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := ts(*t)
	return &v
}

// nullIfEmpty stores "" as NULL.
func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
