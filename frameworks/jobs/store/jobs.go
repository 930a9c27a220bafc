package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// JobRecord is a job's current definition and its planning cursor.
type JobRecord struct {
	Name    string
	Version string
	// Spec is the job definition as the framework stored it (a JSON
	// object, normalized by jsonb).
	Spec json.RawMessage
	// LastScheduled is the planning cursor: the newest scheduled occurrence
	// already turned into a run, missed or skipped record; zero if none.
	LastScheduled time.Time
	CreatedAt     time.Time // first PutJob of this name
	UpdatedAt     time.Time // last PutJob that changed the version or spec
}

const jobColumns = `name, version, spec, last_scheduled, created_at, updated_at`

func scanJob(row pgx.CollectableRow) (JobRecord, error) {
	var j JobRecord
	var spec []byte
	var last *time.Time
	if err := row.Scan(&j.Name, &j.Version, &spec, &last, &j.CreatedAt, &j.UpdatedAt); err != nil {
		return JobRecord{}, err
	}
	j.Spec = json.RawMessage(spec)
	if last != nil {
		j.LastScheduled = last.UTC()
	}
	j.CreatedAt, j.UpdatedAt = j.CreatedAt.UTC(), j.UpdatedAt.UTC()
	return j, nil
}

// Jobs returns every job, ordered by name.
func (s *Store) Jobs(ctx context.Context) ([]JobRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+jobColumns+` FROM jobs.jobs ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing jobs: %w", err)
	}
	jobs, err := pgx.CollectRows(rows, scanJob)
	if err != nil {
		return nil, fmt.Errorf("listing jobs: %w", err)
	}
	return jobs, nil
}

// Job returns job name, or an error wrapping ErrNotFound.
func (s *Store) Job(ctx context.Context, name string) (JobRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+jobColumns+` FROM jobs.jobs WHERE name = $1`, name)
	if err != nil {
		return JobRecord{}, fmt.Errorf("reading job %q: %w", name, err)
	}
	j, err := pgx.CollectExactlyOneRow(rows, scanJob)
	if errors.Is(err, pgx.ErrNoRows) {
		return JobRecord{}, fmt.Errorf("reading job %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return JobRecord{}, fmt.Errorf("reading job %q: %w", name, err)
	}
	return j, nil
}

// PutJob creates job name or replaces its definition, and makes parents
// (order and repeats do not matter) its exact set of dependency edges, in
// one transaction. Edges that stay keep their progress (pending_run), so a
// job updated mid-cycle still runs once its remaining parents finish; new
// edges start with none. The job's cursor, creation time and stats are
// kept. Every parent must be an existing job other than name, or the call
// fails with ErrInvalid and stores nothing. Cycles are not checked here:
// the caller validates the graph. Repeating a call is harmless and does not
// move UpdatedAt.
func (s *Store) PutJob(ctx context.Context, name, version string, spec json.RawMessage, parents []string) error {
	return s.Atomically(ctx, func(tx *Tx) error { return tx.PutJob(ctx, name, version, spec, parents) })
}

// PutJob is Store.PutJob within the transaction.
func (t *Tx) PutJob(ctx context.Context, name, version string, spec json.RawMessage, parents []string) error {
	if name == "" {
		return fmt.Errorf("storing job: empty name: %w", ErrInvalid)
	}
	if version == "" {
		return fmt.Errorf("storing job %q: empty version: %w", name, ErrInvalid)
	}
	if err := validSpec(spec); err != nil {
		return fmt.Errorf("storing job %q: %w", name, err)
	}
	// Never nil: a NULL array would make the DELETE below keep every edge.
	parents = append([]string{}, parents...)
	slices.Sort(parents)
	parents = slices.Compact(parents)
	for _, p := range parents {
		if p == "" {
			return fmt.Errorf("storing job %q: empty parent name: %w", name, ErrInvalid)
		}
		if p == name {
			return fmt.Errorf("storing job %q: a job cannot be its own parent: %w", name, ErrInvalid)
		}
	}

	q := t.tx
	_, err := q.Exec(ctx, `
		INSERT INTO jobs.jobs (name, version, spec) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET
			version = excluded.version,
			spec = excluded.spec,
			updated_at = now()
		WHERE jobs.jobs.version <> excluded.version OR jobs.jobs.spec <> excluded.spec`,
		name, version, string(spec))
	if err != nil {
		return fmt.Errorf("storing job %q: %w", name, err)
	}
	// Lock the job's edges in the order MarkParentDone locks them, so the
	// two never deadlock.
	if _, err := q.Exec(ctx, `
		SELECT 1 FROM jobs.edges WHERE child = $1 ORDER BY child, parent FOR UPDATE`, name); err != nil {
		return fmt.Errorf("storing edges of job %q: %w", name, err)
	}
	var unknown []string
	err = q.QueryRow(ctx, `
		SELECT coalesce(array_agg(p ORDER BY p), '{}') FROM unnest($1::text[]) AS p
		WHERE NOT EXISTS (SELECT 1 FROM jobs.jobs WHERE name = p)`,
		parents).Scan(&unknown)
	if err != nil {
		return fmt.Errorf("storing edges of job %q: %w", name, err)
	}
	if len(unknown) > 0 {
		return fmt.Errorf("storing job %q: unknown parents %q: %w", name, unknown, ErrInvalid)
	}
	if _, err := q.Exec(ctx, `
		DELETE FROM jobs.edges WHERE child = $1 AND NOT parent = ANY($2::text[])`,
		name, parents); err != nil {
		return fmt.Errorf("storing edges of job %q: %w", name, err)
	}
	_, err = q.Exec(ctx, `
		INSERT INTO jobs.edges (child, parent)
		SELECT $1, p FROM unnest($2::text[]) AS p
		ON CONFLICT (child, parent) DO NOTHING`,
		name, parents)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		// A parent deleted by a concurrent transaction since the check.
		return fmt.Errorf("storing job %q: a parent no longer exists: %w: %w", name, ErrInvalid, err)
	}
	if err != nil {
		return fmt.Errorf("storing edges of job %q: %w", name, err)
	}
	return nil
}

// DeleteJob deletes job name with its edges in both directions (its
// children lose it as a parent; rewiring them first is the caller's job,
// in the same transaction) and its stats. Its finished runs are deleted
// too, so that a job later created under the same name starts with an empty
// history and no stale dedup keys. Its active runs (QUEUED, STARTING,
// RUNNING) are kept, because their tasks may still be running: the caller
// stops them and records how they ended, and PruneRuns removes them once
// finished. Deleting an unknown job is not an error.
func (s *Store) DeleteJob(ctx context.Context, name string) error {
	return s.Atomically(ctx, func(tx *Tx) error { return tx.DeleteJob(ctx, name) })
}

// DeleteJob is Store.DeleteJob within the transaction.
func (t *Tx) DeleteJob(ctx context.Context, name string) error {
	q := t.tx
	// Lock the edges in MarkParentDone's order before the cascade deletes
	// them in whatever order it likes.
	if _, err := q.Exec(ctx, `
		SELECT 1 FROM jobs.edges WHERE child = $1 OR parent = $1 ORDER BY child, parent FOR UPDATE`, name); err != nil {
		return fmt.Errorf("deleting job %q: %w", name, err)
	}
	// Edges and stats go by ON DELETE CASCADE.
	if _, err := q.Exec(ctx, `DELETE FROM jobs.jobs WHERE name = $1`, name); err != nil {
		return fmt.Errorf("deleting job %q: %w", name, err)
	}
	if _, err := q.Exec(ctx, `
		DELETE FROM jobs.runs WHERE job = $1 AND state NOT IN ('QUEUED', 'STARTING', 'RUNNING')`, name); err != nil {
		return fmt.Errorf("deleting runs of job %q: %w", name, err)
	}
	return nil
}

// AdvanceCursor moves job's planning cursor to to, unless it is already
// there or later: the cursor never moves back. It is idempotent. An unknown
// job is ErrNotFound; a zero to is ErrInvalid.
func (s *Store) AdvanceCursor(ctx context.Context, job string, to time.Time) error {
	return s.write(ctx, func(q querier) error { return advanceCursor(ctx, q, job, to) })
}

// AdvanceCursor is Store.AdvanceCursor within the transaction.
func (t *Tx) AdvanceCursor(ctx context.Context, job string, to time.Time) error {
	return advanceCursor(ctx, t.tx, job, to)
}

func advanceCursor(ctx context.Context, q querier, job string, to time.Time) error {
	if to.IsZero() {
		return fmt.Errorf("advancing cursor of job %q: zero time: %w", job, ErrInvalid)
	}
	tag, err := q.Exec(ctx, `
		UPDATE jobs.jobs SET last_scheduled = greatest(last_scheduled, $2) WHERE name = $1`,
		job, ts(to))
	if err != nil {
		return fmt.Errorf("advancing cursor of job %q: %w", job, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("advancing cursor of job %q: %w", job, ErrNotFound)
	}
	return nil
}

// Edge is one dependency edge of a child job, with its progress.
type Edge struct {
	Child  string
	Parent string
	// PendingRun is the parent's finished run the child has not consumed
	// yet; 0 if none.
	PendingRun int64
}

// Edges returns the edges of job child (one per parent), ordered by parent.
// A job without parents, or an unknown one, has none.
func (s *Store) Edges(ctx context.Context, child string) ([]Edge, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT child, parent, coalesce(pending_run, 0) FROM jobs.edges WHERE child = $1 ORDER BY parent`,
		child)
	if err != nil {
		return nil, fmt.Errorf("listing edges of job %q: %w", child, err)
	}
	edges, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Edge])
	if err != nil {
		return nil, fmt.Errorf("listing edges of job %q: %w", child, err)
	}
	return edges, nil
}
