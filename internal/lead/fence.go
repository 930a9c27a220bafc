package lead

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"

	"github.com/jackc/pgx/v5"

	"corral/internal/pg"
)

// ErrFenced is returned (wrapped) by a write checked against a term that
// has ended: another instance of the component began a term since. The
// writer has been deposed; retrying cannot succeed.
var ErrFenced = errors.New("fenced: another instance's term began since this one")

// Fence is one component's leadership term in Postgres, and the check
// that keeps a deposed leader's writes out of the database.
//
// Each component has a table <component>.term holding one epoch (see
// corral/migrations: kernel.term, services.term, jobs.term). Begin
// increments it and remembers the result as this Fence's term; Check,
// called in a write's transaction before the write, reads it FOR SHARE
// and refuses the write with ErrFenced if it has moved on. The row lock
// orders the two: a Begin waits for the checked writes in flight to
// commit, and a write waits for a Begin in flight, so once Begin returns
// no write of an earlier term can land.
//
// A Fence that has not begun a term checks nothing. A Fence is safe for
// concurrent use.
type Fence struct {
	component string
	table     string // sanitized <component>.term

	mu      sync.Mutex
	epoch   int64
	deposed error // why the term ended; nil while it holds
	ends    map[*int]context.CancelCauseFunc
}

var componentName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// NewFence returns the fence of component, the name of the Postgres
// schema whose term table it uses ("kernel", "services", "jobs"). It
// panics on a name that is not a plain lower-case identifier: components
// are constants.
func NewFence(component string) *Fence {
	if !componentName.MatchString(component) {
		panic(fmt.Sprintf("lead: component %q is not a schema name", component))
	}
	return &Fence{
		component: component,
		table:     pgx.Identifier{component, "term"}.Sanitize(),
		ends:      map[*int]context.CancelCauseFunc{},
	}
}

// Begin starts a new term of the component and returns its epoch: from
// then on, writes checked against any earlier term, this Fence's own
// included, fail with ErrFenced, and contexts from Context end. It waits
// for checked writes in flight to commit. Call it on taking over, before
// reading the state the term starts from. ctx bounds the statement.
func (f *Fence) Begin(ctx context.Context, db pg.Querier) (int64, error) {
	var epoch int64
	err := db.QueryRow(ctx, `
		INSERT INTO `+f.table+` AS t (singleton, epoch) VALUES (true, 1)
		ON CONFLICT (singleton) DO UPDATE SET epoch = t.epoch + 1
		RETURNING epoch`).Scan(&epoch)
	if err != nil {
		return 0, fmt.Errorf("beginning a %s term: %w", f.component, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.epoch != 0 && f.deposed == nil {
		f.depose(fmt.Errorf("%s term %d, now %d: %w", f.component, f.epoch, epoch, ErrFenced))
	}
	f.epoch, f.deposed = epoch, nil
	return epoch, nil
}

// Epoch returns the epoch of the term Begin started, 0 before.
func (f *Fence) Epoch() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.epoch
}

// Check makes sure, in tx, the transaction of a write about to be made,
// that this Fence's term is still the component's latest. It returns nil
// if so (or if no term was begun), and holds the epoch's row FOR SHARE
// until tx ends. Otherwise it returns an error wrapping ErrFenced, and
// the term ends: every context from Context is cancelled with it. tx must
// be the write's own transaction, not a pool: the check holds only as
// long as the transaction does.
func (f *Fence) Check(ctx context.Context, tx pg.Querier) error {
	f.mu.Lock()
	epoch, deposed := f.epoch, f.deposed
	f.mu.Unlock()
	if epoch == 0 {
		return nil
	}
	if deposed != nil {
		return deposed
	}
	var current int64
	err := tx.QueryRow(ctx, `SELECT epoch FROM `+f.table+` FOR SHARE`).Scan(&current)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("checking the %s term: %w", f.component, err)
	}
	if current == epoch {
		return nil
	}
	err = fmt.Errorf("%s term %d, now %d: %w", f.component, epoch, current, ErrFenced)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.epoch == epoch && f.deposed == nil {
		f.depose(err)
	}
	return err
}

// depose records why the term ended and ends its contexts. f.mu is held.
func (f *Fence) depose(err error) {
	f.deposed = err
	for k, end := range f.ends {
		end(err)
		delete(f.ends, k)
	}
}

// Context returns a child of parent for the current term: it ends with
// parent, or, with a cause wrapping ErrFenced, once a Check has found the
// term over (at once if one has already). Run the term under it so that a
// refused write ends the term. stop releases it.
func (f *Fence) Context(parent context.Context) (ctx context.Context, stop context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	key := new(int)
	f.mu.Lock()
	if f.deposed != nil {
		cancel(f.deposed)
	} else {
		f.ends[key] = cancel
	}
	f.mu.Unlock()
	return ctx, func() {
		f.mu.Lock()
		delete(f.ends, key)
		f.mu.Unlock()
		cancel(context.Canceled)
	}
}
