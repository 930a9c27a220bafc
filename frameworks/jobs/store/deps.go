package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// MarkParentDone records that run runID of job parent finished in a way
// that fires its children (it succeeded, or failed for good with
// softError), and creates the dependency runs this makes due, in one
// transaction. For each child of parent it sets the edge's pending run to
// runID; a child whose edges are now all pending gets a run triggered by
// those runs (TriggeredBy, ascending; dedup key DependencyKey of them), and
// its edges are cleared. It returns the runs it created.
//
// queuedRun, if not nil, gives each new run's other fields (max attempts,
// arguments, state SKIPPED for a disabled child, …); Job, Trigger,
// TriggeredBy, DedupKey and ScheduledFor are set by MarkParentDone. It is
// called inside the transaction and must neither block nor use the store.
//
// It is idempotent: marking the same run again changes nothing, also after
// the child consumed it (found through the child's runs), and an older run
// never replaces a newer pending one. It is safe when several processes
// call it at once, for the same or different parents: the edges of the
// children involved are locked in one global order (child, parent), so two
// parents finishing together create their common child's run exactly once.
// The run must exist, belong to parent and be SUCCEEDED or FAILED, or the
// call fails (ErrNotFound, ErrInvalid).
func (s *Store) MarkParentDone(ctx context.Context, parent string, runID int64, queuedRun func(child string) Run) ([]Run, error) {
	var created []Run
	err := s.Atomically(ctx, func(tx *Tx) error {
		var err error
		created, err = tx.MarkParentDone(ctx, parent, runID, queuedRun)
		return err
	})
	if err != nil {
		return nil, err
	}
	return created, nil
}

// MarkParentDone is Store.MarkParentDone within the transaction.
func (t *Tx) MarkParentDone(ctx context.Context, parent string, runID int64, queuedRun func(child string) Run) ([]Run, error) {
	q := t.tx
	var job string
	var state State
	err := q.QueryRow(ctx, `SELECT job, state FROM jobs.runs WHERE id = $1`, runID).Scan(&job, &state)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("marking run %d of job %q done: %w", runID, parent, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("marking run %d of job %q done: %w", runID, parent, err)
	}
	if job != parent {
		return nil, fmt.Errorf("marking run %d of job %q done: it is a run of job %q: %w", runID, parent, job, ErrInvalid)
	}
	if state != StateSucceeded && state != StateFailed {
		return nil, fmt.Errorf("marking run %d of job %q done: it is %s: %w", runID, parent, state, ErrInvalid)
	}

	// Lock every edge of every child of parent, ordered. Under READ
	// COMMITTED a row that was waited for is returned as its locker left
	// it, so the pending runs read here are current.
	rows, err := q.Query(ctx, `
		SELECT child, parent, pending_run FROM jobs.edges
		WHERE child IN (SELECT child FROM jobs.edges WHERE parent = $1)
		ORDER BY child, parent
		FOR UPDATE`,
		parent)
	if err != nil {
		return nil, fmt.Errorf("marking run %d of job %q done: locking edges: %w", runID, parent, err)
	}
	edges, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (lockedEdge, error) {
		var e lockedEdge
		err := row.Scan(&e.child, &e.parent, &e.pending)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("marking run %d of job %q done: locking edges: %w", runID, parent, err)
	}

	var created []Run
	for len(edges) > 0 {
		child := edges[0].child
		n := 1
		for n < len(edges) && edges[n].child == child {
			n++
		}
		group := edges[:n]
		edges = edges[n:]

		run, ok, err := markEdge(ctx, q, child, parent, runID, group, queuedRun)
		if err != nil {
			return nil, fmt.Errorf("marking run %d of job %q done: %w", runID, parent, err)
		}
		if ok {
			created = append(created, run)
		}
	}
	return created, nil
}

// lockedEdge is an edge row locked by MarkParentDone.
type lockedEdge struct {
	child, parent string
	pending       *int64
}

// markEdge applies parent's finished run to the locked edges of one child,
// creating the child's run when all are pending. ok reports a run created.
func markEdge(ctx context.Context, q querier, child, parent string, runID int64, edges []lockedEdge, queuedRun func(string) Run) (run Run, ok bool, err error) {
	i := slices.IndexFunc(edges, func(e lockedEdge) bool {
		return e.parent == parent
	})
	if i < 0 {
		return Run{}, false, nil // the edge went away meanwhile
	}
	if p := edges[i].pending; p != nil && *p >= runID {
		return Run{}, false, nil // this run or a newer one is already pending
	}
	// A dependency run created after runID that names it consumed it.
	var consumed bool
	err = q.QueryRow(ctx, `
		SELECT EXISTS (
			SELECT 1 FROM jobs.runs
			WHERE job = $1 AND id > $2 AND trigger = 'dependency'
				AND triggered_by @> jsonb_build_array($2::bigint)
		)`, child, runID).Scan(&consumed)
	if err != nil {
		return Run{}, false, fmt.Errorf("checking whether job %q consumed run %d: %w", child, runID, err)
	}
	if consumed {
		return Run{}, false, nil
	}
	edges[i].pending = &runID

	ids := make([]int64, 0, len(edges))
	for _, e := range edges {
		if e.pending == nil {
			if _, err := q.Exec(ctx, `
				UPDATE jobs.edges SET pending_run = $3 WHERE child = $1 AND parent = $2`,
				child, parent, runID); err != nil {
				return Run{}, false, fmt.Errorf("marking edge %q -> %q: %w", parent, child, err)
			}
			return Run{}, false, nil
		}
		ids = append(ids, *e.pending)
	}

	var r Run
	if queuedRun != nil {
		r = queuedRun(child)
	}
	r.Job, r.Trigger, r.TriggeredBy, r.DedupKey, r.ScheduledFor = child, TriggerDependency, ids, "", nil
	r, err = prepareNew(r)
	if err != nil {
		return Run{}, false, fmt.Errorf("creating dependency run of job %q: %w", child, err)
	}
	stored, fresh, err := insertPrepared(ctx, q, r)
	if err != nil {
		return Run{}, false, fmt.Errorf("creating dependency run of job %q: %w", child, err)
	}
	if _, err := q.Exec(ctx, `UPDATE jobs.edges SET pending_run = NULL WHERE child = $1`, child); err != nil {
		return Run{}, false, fmt.Errorf("clearing edges of job %q: %w", child, err)
	}
	return stored, fresh, nil
}
