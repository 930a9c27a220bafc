package lead

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"corral/internal/pg"
)

// writesDB returns a pool on a fresh migrated database with a table
// writes(v, epoch) for fenced test writes.
func writesDB(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	db := newDB(t)
	pool, err := pg.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(t.Context(), `CREATE TABLE public.writes (v text PRIMARY KEY, epoch bigint NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return pool, db
}

// write records v in one transaction fenced by f, as a store's write does.
func write(ctx context.Context, pool *pgxpool.Pool, f *Fence, v string) error {
	return pg.InTx(ctx, pool, func(tx pgx.Tx) error {
		if err := f.Check(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO public.writes (v, epoch) VALUES ($1, $2)`, v, f.Epoch())
		return err
	})
}

// written returns the epoch v was written in, 0 if it was not.
func written(t *testing.T, pool *pgxpool.Pool, v string) int64 {
	t.Helper()
	var epoch int64
	err := pool.QueryRow(t.Context(), `SELECT epoch FROM public.writes WHERE v = $1`, v).Scan(&epoch)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return epoch
}

func TestFenceRefusesADeposedLeader(t *testing.T) {
	ctx := t.Context()
	pool, _ := writesDB(t)
	old, next := NewFence("services"), NewFence("services")

	if err := write(ctx, pool, old, "before any term"); err != nil {
		t.Fatalf("write before Begin = %v; want unchecked", err)
	}
	e1, err := old.Begin(ctx, pool)
	if err != nil || e1 != 1 {
		t.Fatalf("first Begin = %d, %v; want epoch 1", e1, err)
	}
	term1, stop1 := old.Context(ctx)
	defer stop1()
	if err := write(ctx, pool, old, "term 1"); err != nil {
		t.Fatalf("write in the current term = %v", err)
	}

	e2, err := next.Begin(ctx, pool)
	if err != nil || e2 != e1+1 {
		t.Fatalf("second Begin = %d, %v; want epoch %d", e2, err, e1+1)
	}
	if term1.Err() != nil {
		t.Error("the deposed term ended before it wrote: only its own writes can tell it")
	}
	err = write(ctx, pool, old, "deposed")
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("write of the deposed leader = %v; want ErrFenced", err)
	}
	if written(t, pool, "deposed") != 0 {
		t.Error("the deposed leader's write landed")
	}
	select {
	case <-term1.Done():
		if !errors.Is(context.Cause(term1), ErrFenced) {
			t.Errorf("the deposed term ended with %v; want ErrFenced", context.Cause(term1))
		}
	default:
		t.Fatal("the deposed term's context is still live after its write was refused")
	}
	late, stopLate := old.Context(ctx)
	defer stopLate()
	if !errors.Is(context.Cause(late), ErrFenced) {
		t.Errorf("a context taken after the term ended: cause %v; want ErrFenced at once", context.Cause(late))
	}
	if err := write(ctx, pool, old, "deposed again"); !errors.Is(err, ErrFenced) {
		t.Errorf("second write of the deposed leader = %v; want ErrFenced", err)
	}

	if err := write(ctx, pool, next, "term 2"); err != nil {
		t.Errorf("write in the new term = %v", err)
	}
	if got := written(t, pool, "term 2"); got != e2 {
		t.Errorf("term 2's write is in epoch %d; want %d", got, e2)
	}

	// Components have terms of their own.
	jobs := NewFence("jobs")
	if e, err := jobs.Begin(ctx, pool); err != nil || e != 1 {
		t.Fatalf("jobs Begin = %d, %v; want its own epoch 1", e, err)
	}
	if err := write(ctx, pool, next, "services after a jobs term"); err != nil {
		t.Errorf("services write after a jobs term began = %v; want it accepted", err)
	}
}

// A Fence that begins a new term ends its own previous one.
func TestFenceBeginAgainEndsThePreviousTerm(t *testing.T) {
	ctx := t.Context()
	pool, _ := writesDB(t)
	f := NewFence("jobs")
	if _, err := f.Begin(ctx, pool); err != nil {
		t.Fatal(err)
	}
	term1, stop := f.Context(ctx)
	defer stop()
	if _, err := f.Begin(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(context.Cause(term1), ErrFenced) {
		t.Errorf("term 1 after its Fence began term 2: cause %v; want ErrFenced", context.Cause(term1))
	}
	term2, stop2 := f.Context(ctx)
	defer stop2()
	if term2.Err() != nil {
		t.Errorf("term 2's context = %v; want live", context.Cause(term2))
	}
	if err := write(ctx, pool, f, "term 2"); err != nil {
		t.Errorf("write in term 2 = %v", err)
	}
}

// The row lock orders terms and writes: Begin waits for a checked write
// in flight to commit, and a write waits for a Begin in flight, then is
// refused.
func TestFenceOrdersTermsAndWrites(t *testing.T) {
	ctx := t.Context()
	pool, _ := writesDB(t)
	old, next := NewFence("services"), NewFence("services")
	if _, err := old.Begin(ctx, pool); err != nil {
		t.Fatal(err)
	}

	// A write in flight holds off the next term until it commits.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Check(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO public.writes VALUES ('in flight', 1)`); err != nil {
		t.Fatal(err)
	}
	begun := make(chan error, 1)
	go func() {
		_, err := next.Begin(ctx, pool)
		begun <- err
	}()
	select {
	case err := <-begun:
		t.Fatalf("Begin returned (%v) while a write of the previous term was in flight", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-begun; err != nil {
		t.Fatal(err)
	}
	if written(t, pool, "in flight") != 1 {
		t.Error("the write that began before the new term was lost")
	}

	// A write that starts while a term is beginning waits for it and is
	// then refused.
	third := NewFence("services")
	btx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer btx.Rollback(context.Background())
	if _, err := third.Begin(ctx, btx); err != nil {
		t.Fatal(err)
	}
	wrote := make(chan error, 1)
	go func() { wrote <- write(ctx, pool, next, "during Begin") }()
	select {
	case err := <-wrote:
		t.Fatalf("a write went through (%v) while a term was beginning", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := btx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-wrote; !errors.Is(err, ErrFenced) {
		t.Errorf("write that waited for the next term = %v; want ErrFenced", err)
	}
	if written(t, pool, "during Begin") != 0 {
		t.Error("the write that waited for the next term landed")
	}
}

func TestNewFenceRefusesOddNames(t *testing.T) {
	for _, name := range []string{"", "Services", "jobs; DROP TABLE x", "kernel.term"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewFence(%q) did not panic", name)
				}
			}()
			NewFence(name)
		}()
	}
}
