package store

import (
	"context"

	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Occurrences are what became of some of one job's scheduled occurrences,
// and where its planning cursor moves: the argument of RecordOccurrences.
type Occurrences struct {
	Job string
	// Runs are the runs to insert; a run's empty Job means Job.
	Runs []Run
	// Cursor is where the job's planning cursor moves (AdvanceCursor).
	Cursor time.Time
}

// RecordOccurrences records what became of some of job's scheduled
// occurrences and moves its planning cursor, in one transaction: it inserts
// runs (each idempotently, as InsertRun; a run's empty Job means job) and
// advances the cursor to cursor (as AdvanceCursor), both or neither. So a
// crash never leaves an occurrence unrecorded behind the cursor, and
// planning again from the cursor never records one twice.
//
// Calls for one job are serialized (the job's row is locked). A scheduled
// run at or before the cursor as it stood is not inserted again: the cursor
// says its occurrence was recorded already. If its record still exists it
// is returned; if it was pruned, it is left out. The result holds the
// stored runs in the order of runs, the existing ones included, so it may
// name runs another process created: start a run only after winning
// TransitionRun. An unknown job is ErrNotFound, a zero cursor ErrInvalid.
func (s *Store) RecordOccurrences(ctx context.Context, job string, runs []Run, cursor time.Time) ([]Run, error) {
	var stored []Run
	err := s.Atomically(ctx, func(tx *Tx) error {
		var err error
		stored, err = tx.RecordOccurrences(ctx, job, runs, cursor)
		return err
	})
	if err != nil {
		return nil, err
	}
	return stored, nil
}

// RecordOccurrences is Store.RecordOccurrences within the transaction.
func (t *Tx) RecordOccurrences(ctx context.Context, job string, runs []Run, cursor time.Time) ([]Run, error) {
	stored, err := t.RecordManyOccurrences(ctx, []Occurrences{{Job: job, Runs: runs, Cursor: cursor}})
	if err != nil {
		return nil, err
	}
	if stored[0] == nil {
		return nil, fmt.Errorf("recording occurrences of job %q: %w", job, ErrNotFound)
	}
	return stored[0], nil
}

// RecordManyOccurrences is RecordOccurrences for many jobs at once, in a
// fixed number of statements however many jobs and runs there are: the
// way a scheduler records a second's occurrences of thousands of jobs.
// Each job's runs and cursor are recorded as RecordOccurrences records
// them, except that a job that does not exist (deleted meanwhile) is
// skipped rather than an error: its result is nil, and nothing of it is
// written. Otherwise result i holds the stored runs of occ[i] (non-nil,
// possibly empty). A job named twice, a zero cursor or an invalid run is
// ErrInvalid, and nothing is written.
func (t *Tx) RecordManyOccurrences(ctx context.Context, occ []Occurrences) ([][]Run, error) {
	names := make([]string, len(occ))
	index := make(map[string]int, len(occ))
	prepared := make([][]Run, len(occ))
	for i, o := range occ {
		if _, dup := index[o.Job]; dup {
			return nil, fmt.Errorf("recording occurrences: job %q named twice: %w", o.Job, ErrInvalid)
		}
		if o.Cursor.IsZero() {
			return nil, fmt.Errorf("recording occurrences of job %q: zero cursor: %w", o.Job, ErrInvalid)
		}
		names[i], index[o.Job] = o.Job, i
		prepared[i] = make([]Run, len(o.Runs))
		for k, r := range o.Runs {
			if r.Job == "" {
				r.Job = o.Job
			}
			if r.Job != o.Job {
				return nil, fmt.Errorf("recording occurrences of job %q: a run of job %q: %w", o.Job, r.Job, ErrInvalid)
			}
			p, err := prepareNew(r)
			if err != nil {
				return nil, fmt.Errorf("recording occurrences of job %q: %w", o.Job, err)
			}
			prepared[i][k] = p
		}
	}
	q := t.tx
	// Lock the jobs' rows in name order (two recorders never deadlock),
	// and read where each cursor stood.
	rows, err := q.Query(ctx, `
		SELECT name, last_scheduled FROM jobs.jobs WHERE name = ANY($1::text[])
		ORDER BY name FOR NO KEY UPDATE`, names)
	if err != nil {
		return nil, fmt.Errorf("recording occurrences of %d jobs: %w", len(occ), err)
	}
	last := make(map[string]*time.Time, len(occ))
	var name string
	var at *time.Time
	if _, err := pgx.ForEachRow(rows, []any{&name, &at}, func() error { last[name] = at; return nil }); err != nil {
		return nil, fmt.Errorf("recording occurrences of %d jobs: %w", len(occ), err)
	}
	// Each run is inserted, or, if its occurrence is behind the cursor,
	// looked up: stored[i][k] is filled by one of the two.
	stored := make([][]Run, len(occ))
	found := make([][]bool, len(occ))
	var fresh, old []Run
	var moved []string
	var cursors []time.Time
	for i, o := range occ {
		l, ok := last[o.Job]
		if !ok {
			continue // deleted: stored[i] stays nil
		}
		stored[i], found[i] = make([]Run, len(prepared[i])), make([]bool, len(prepared[i]))
		for _, r := range prepared[i] {
			if r.Trigger == TriggerSchedule && l != nil && !r.ScheduledFor.After(*l) {
				old = append(old, r)
			} else {
				fresh = append(fresh, r)
			}
		}
		moved, cursors = append(moved, o.Job), append(cursors, ts(o.Cursor))
	}
	// place puts a stored run where its occurrence is; false if it is not
	// one of them.
	place := func(r Run) bool {
		i, ok := index[r.Job]
		if !ok || stored[i] == nil {
			return false
		}
		for k, p := range prepared[i] {
			if p.DedupKey == r.DedupKey && !found[i][k] {
				stored[i][k], found[i][k] = r, true
				return true
			}
		}
		return false
	}
	inserted, err := insertRuns(ctx, q, fresh)
	if err != nil {
		return nil, fmt.Errorf("recording occurrences: %w", err)
	}
	for _, r := range inserted {
		place(r)
	}
	// Runs whose insert found a row already there (another recorder's,
	// committed or waited for) are read back with the old ones.
	var missing []Run
	for i := range occ {
		for k, p := range prepared[i] {
			if stored[i] != nil && !found[i][k] {
				missing = append(missing, p)
			}
		}
	}
	if len(missing) > 0 {
		existing, err := runsByKey(ctx, q, missing)
		if err != nil {
			return nil, fmt.Errorf("recording occurrences: %w", err)
		}
		for _, r := range existing {
			place(r)
		}
	}
	isOld := make(map[[2]string]bool, len(old))
	for _, r := range old {
		isOld[[2]string{r.Job, r.DedupKey}] = true
	}
	out := make([][]Run, len(occ))
	for i := range occ {
		if stored[i] == nil {
			continue
		}
		out[i] = make([]Run, 0, len(prepared[i]))
		for k, p := range prepared[i] {
			if found[i][k] {
				out[i] = append(out[i], stored[i][k])
				continue
			}
			if isOld[[2]string{p.Job, p.DedupKey}] {
				continue // recorded before and pruned since
			}
			// A conflicting row that vanished before it could be read
			// (pruned between the two statements): insert it alone.
			r, _, err := insertPrepared(ctx, q, p)
			if err != nil {
				return nil, fmt.Errorf("recording occurrences of job %q: %w", p.Job, err)
			}
			out[i] = append(out[i], r)
		}
	}
	if len(moved) > 0 {
		if _, err := q.Exec(ctx, `
			UPDATE jobs.jobs AS j SET last_scheduled = greatest(j.last_scheduled, u.cursor)
			FROM unnest($1::text[], $2::timestamptz[]) AS u(name, cursor)
			WHERE j.name = u.name`, moved, cursors); err != nil {
			return nil, fmt.Errorf("recording occurrences: advancing cursors: %w", err)
		}
	}
	return out, nil
}

// insertRuns inserts prepared runs in one statement, skipping any whose
// (job, dedup key) is taken, and returns those it inserted, in no
// particular order, their notifications recorded.
func insertRuns(ctx context.Context, q querier, runs []Run) ([]Run, error) {
	if len(runs) == 0 {
		return nil, nil
	}
	n := len(runs)
	jobs, triggers, keys, states := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	attempts, maxAttempts, exits := make([]int, n), make([]int, n), make([]*int, n)
	args, by := make([]*string, n), make([]*string, n)
	reasons, agents, hosts, tasks, sandboxes := make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
	scheduled, queued, notBefore, started, finished, deadlines := make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
	notify := map[[2]string][]Target{}
	for i, r := range runs {
		a, err := jsonOrNull(r.Arguments)
		if err != nil {
			return nil, fmt.Errorf("inserting run of job %q: encoding arguments: %w: %w", r.Job, ErrInvalid, err)
		}
		b, err := jsonOrNull(r.TriggeredBy)
		if err != nil {
			return nil, fmt.Errorf("inserting run of job %q: encoding triggered_by: %w: %w", r.Job, ErrInvalid, err)
		}
		if a != nil {
			s := a.(string)
			args[i] = &s
		}
		if b != nil {
			s := b.(string)
			by[i] = &s
		}
		jobs[i], triggers[i], keys[i], states[i] = r.Job, r.Trigger, r.DedupKey, string(r.State)
		attempts[i], maxAttempts[i], exits[i] = r.Attempt, r.MaxAttempts, r.ExitStatus
		reasons[i], agents[i], hosts[i] = nullIfEmpty(r.Reason), nullIfEmpty(r.AgentID), nullIfEmpty(r.Host)
		tasks[i], sandboxes[i] = nullIfEmpty(r.TaskID), nullIfEmpty(r.Sandbox)
		scheduled[i], notBefore[i], started[i] = r.ScheduledFor, tsPtr(r.NotBefore), tsPtr(r.StartedAt)
		finished[i], deadlines[i] = tsPtr(r.FinishedAt), tsPtr(r.Deadline)
		if !r.QueuedAt.IsZero() {
			queued[i] = tsPtr(&r.QueuedAt)
		}
		if len(r.Notify) > 0 {
			notify[[2]string{r.Job, r.DedupKey}] = r.Notify
		}
	}
	rows, err := q.Query(ctx, `
		INSERT INTO jobs.runs (job, trigger, scheduled_for, dedup_key, state, attempt, max_attempts,
			arguments, triggered_by, reason, exit_status, agent_id, host, task_id, sandbox,
			queued_at, not_before, started_at, finished_at, deadline)
		SELECT job, trigger, scheduled_for, dedup_key, state, attempt, max_attempts,
			arguments::jsonb, triggered_by::jsonb, reason, exit_status, agent_id, host, task_id, sandbox,
			coalesce(queued_at, now()), not_before, started_at, finished_at, deadline
		FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::int[], $7::int[],
			$8::text[], $9::text[], $10::text[], $11::int[], $12::text[], $13::text[], $14::text[], $15::text[],
			$16::timestamptz[], $17::timestamptz[], $18::timestamptz[], $19::timestamptz[], $20::timestamptz[])
			AS u(job, trigger, scheduled_for, dedup_key, state, attempt, max_attempts,
				arguments, triggered_by, reason, exit_status, agent_id, host, task_id, sandbox,
				queued_at, not_before, started_at, finished_at, deadline)
		ON CONFLICT (job, dedup_key) DO NOTHING
		RETURNING `+runColumns,
		jobs, triggers, scheduled, keys, states, attempts, maxAttempts,
		args, by, reasons, exits, agents, hosts, tasks, sandboxes,
		queued, notBefore, started, finished, deadlines)
	if err != nil {
		return nil, fmt.Errorf("inserting %d runs: %w", n, err)
	}
	inserted, err := pgx.CollectRows(rows, scanRun)
	if err != nil {
		return nil, fmt.Errorf("inserting %d runs: %w", n, err)
	}
	for i, r := range inserted {
		t := notify[[2]string{r.Job, r.DedupKey}]
		if len(t) == 0 {
			continue
		}
		r.Notify = t
		if err := insertNotifications(ctx, q, r); err != nil {
			return nil, err
		}
		inserted[i].Notify = nil
	}
	return inserted, nil
}

// runsByKey reads the runs with the jobs and dedup keys of runs, in one
// statement; those not found are left out.
func runsByKey(ctx context.Context, q querier, runs []Run) ([]Run, error) {
	jobs, keys := make([]string, len(runs)), make([]string, len(runs))
	for i, r := range runs {
		jobs[i], keys[i] = r.Job, r.DedupKey
	}
	rows, err := q.Query(ctx, `
		SELECT `+runColumns+` FROM jobs.runs
		WHERE (job, dedup_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`, jobs, keys)
	if err != nil {
		return nil, fmt.Errorf("reading %d runs: %w", len(runs), err)
	}
	out, err := pgx.CollectRows(rows, scanRun)
	if err != nil {
		return nil, fmt.Errorf("reading %d runs: %w", len(runs), err)
	}
	return out, nil
}
