package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// What created a run (Run.Trigger).
const (
	TriggerSchedule   = "schedule"   // a scheduled occurrence
	TriggerManual     = "manual"     // a request to run now
	TriggerDependency = "dependency" // all of the job's parents finished
)

// State is the state of a run (Run.State). QUEUED, STARTING and RUNNING
// are active; the others are final.
type State string

// String is the state's name, as the APIs and the database show it.
func (s State) String() string { return string(s) }

// The states of a run.
const (
	StateQueued    State = "QUEUED"    // waiting for its start (or retry) time and an offer
	StateStarting  State = "STARTING"  // a task was launched, not yet running
	StateRunning   State = "RUNNING"   // its task runs
	StateSucceeded State = "SUCCEEDED" // its task exited 0
	StateFailed    State = "FAILED"    // its last attempt failed, or it timed out
	StateSkipped   State = "SKIPPED"   // not run, by the concurrency policy
	StateMissed    State = "MISSED"    // not run: came due while down, past its deadline
	StateKilled    State = "KILLED"    // stopped by a user or a REPLACE
)

// Active reports whether state is one of a run not yet finished: QUEUED,
// STARTING or RUNNING.
func Active(state State) bool {
	switch state {
	case StateQueued, StateStarting, StateRunning:
		return true
	}
	return false
}

// stateNames are states as the database's text values.
func stateNames(states []State) []string {
	out := make([]string, len(states))
	for i, s := range states {
		out[i] = string(s)
	}
	return out
}

func validState(state State) bool {
	switch state {
	case StateQueued, StateStarting, StateRunning, StateSucceeded, StateFailed, StateSkipped, StateMissed, StateKilled:
		return true
	}
	return false
}

// Run is one run of a job: its trigger, its state and what its latest
// attempt did. Empty strings and nil pointers are stored as NULL.
type Run struct {
	ID      int64  // assigned by the store
	Job     string // the job's name
	Trigger string // TriggerSchedule, TriggerManual or TriggerDependency
	// ScheduledFor is the occurrence a scheduled run is for (required for
	// TriggerSchedule); nil for the others.
	ScheduledFor *time.Time
	// DedupKey makes inserting the run idempotent per job; see ScheduleKey,
	// DependencyKey and InsertRun.
	DedupKey    string
	State       State
	Attempt     int // 0 for the first attempt
	MaxAttempts int // attempts allowed in all, >= 1
	Arguments   []string
	// TriggeredBy holds the parent runs that triggered a dependency run,
	// ascending.
	TriggeredBy []int64
	Reason      string // why the run is in its state, for people
	ExitStatus  *int
	AgentID     string
	Host        string
	TaskID      string
	Sandbox     string // a link to the task's sandbox
	QueuedAt    time.Time
	NotBefore   *time.Time // earliest start of the next attempt (retry backoff)
	StartedAt   *time.Time
	FinishedAt  *time.Time
	Deadline    *time.Time // start or finish by then, or the run fails
	// Notify are the webhooks to tell that the run ended, recorded as
	// Notifications (one per URL, idempotently) in the transaction of the
	// write that gives the run its final State: InsertRun (and so
	// RecordOccurrences and MarkParentDone), UpdateRun, ApplyRunChanges
	// and TransitionRun. Only a notifiable state (Notifiable) may have
	// any. Notify is an instruction of the write: it is not stored as a
	// field, and runs read back have none.
	Notify []Target
}

// ScheduleKey returns the dedup key of the scheduled occurrence at t:
// "schedule:" and t in UTC as RFC 3339, with fractional seconds only if t
// has them (to the microsecond, the precision stored).
func ScheduleKey(t time.Time) string {
	return "schedule:" + ts(t).Format(time.RFC3339Nano)
}

// DependencyKey returns the dedup key of a dependency run triggered by the
// parent runs ids: "dep:" and the ids ascending, comma-separated. The order
// of ids does not matter.
func DependencyKey(ids []int64) string {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	parts := make([]string, len(sorted))
	for i, id := range sorted {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return "dep:" + strings.Join(parts, ",")
}

const runColumns = `id, job, trigger, scheduled_for, dedup_key, state, attempt, max_attempts,
	arguments, triggered_by, coalesce(reason, ''), exit_status, coalesce(agent_id, ''),
	coalesce(host, ''), coalesce(task_id, ''), coalesce(sandbox, ''), queued_at,
	not_before, started_at, finished_at, deadline`

func scanRun(row pgx.CollectableRow) (Run, error) {
	var r Run
	var args, by []byte
	err := row.Scan(&r.ID, &r.Job, &r.Trigger, &r.ScheduledFor, &r.DedupKey, &r.State, &r.Attempt, &r.MaxAttempts,
		&args, &by, &r.Reason, &r.ExitStatus, &r.AgentID,
		&r.Host, &r.TaskID, &r.Sandbox, &r.QueuedAt,
		&r.NotBefore, &r.StartedAt, &r.FinishedAt, &r.Deadline)
	if err != nil {
		return Run{}, err
	}
	if args != nil {
		if err := json.Unmarshal(args, &r.Arguments); err != nil {
			return Run{}, fmt.Errorf("decoding arguments of run %d: %w", r.ID, err)
		}
	}
	if by != nil {
		if err := json.Unmarshal(by, &r.TriggeredBy); err != nil {
			return Run{}, fmt.Errorf("decoding triggered_by of run %d: %w", r.ID, err)
		}
	}
	r.QueuedAt = r.QueuedAt.UTC()
	for _, p := range []**time.Time{&r.ScheduledFor, &r.NotBefore, &r.StartedAt, &r.FinishedAt, &r.Deadline} {
		*p = tsPtr(*p)
	}
	return r, nil
}

// oneRun runs a query expected to return at most one run; none is
// pgx.ErrNoRows.
func oneRun(ctx context.Context, q querier, sql string, args ...any) (Run, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return Run{}, err
	}
	return pgx.CollectExactlyOneRow(rows, scanRun)
}

// jsonOrNull encodes v as JSON text for a jsonb parameter, or NULL when it
// is empty.
func jsonOrNull[T any](v []T) (any, error) {
	if len(v) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// prepareNew checks a run about to be inserted and fills in its defaults:
// state QUEUED, one attempt, the dedup key derived from the trigger.
func prepareNew(r Run) (Run, error) {
	if r.Job == "" {
		return r, fmt.Errorf("empty job name: %w", ErrInvalid)
	}
	if r.State == "" {
		r.State = StateQueued
	}
	if !validState(r.State) {
		return r, fmt.Errorf("unknown state %q: %w", r.State, ErrInvalid)
	}
	if r.Attempt < 0 || r.MaxAttempts < 0 {
		return r, fmt.Errorf("negative attempt %d or max attempts %d: %w", r.Attempt, r.MaxAttempts, ErrInvalid)
	}
	if r.MaxAttempts == 0 {
		r.MaxAttempts = 1
	}
	if err := validTargets(r); err != nil {
		return r, err
	}
	r.ScheduledFor = tsPtr(r.ScheduledFor)
	switch r.Trigger {
	case TriggerSchedule:
		if r.ScheduledFor == nil || r.ScheduledFor.IsZero() {
			return r, fmt.Errorf("scheduled run without its scheduled time: %w", ErrInvalid)
		}
		r.DedupKey = ScheduleKey(*r.ScheduledFor)
	case TriggerDependency:
		if len(r.TriggeredBy) == 0 {
			return r, fmt.Errorf("dependency run without the runs that triggered it: %w", ErrInvalid)
		}
		r.TriggeredBy = slices.Clone(r.TriggeredBy)
		slices.Sort(r.TriggeredBy)
		r.DedupKey = DependencyKey(r.TriggeredBy)
	case TriggerManual:
		if r.DedupKey == "" {
			r.DedupKey = "manual:" + uuid.NewString()
		}
	default:
		return r, fmt.Errorf("unknown trigger %q: %w", r.Trigger, ErrInvalid)
	}
	return r, nil
}

// InsertRun inserts r as a new run of r.Job, idempotently: if the job
// already has a run with r's dedup key, nothing changes and that run is
// returned with created false. Exactly one run per scheduled occurrence
// rests on this, whoever inserts it and however often.
//
// r.ID is ignored. An empty State means QUEUED, a zero MaxAttempts one
// attempt, a zero QueuedAt the database's now. The dedup key of a
// scheduled run is always ScheduleKey(*ScheduledFor) (ScheduledFor is
// required) and that of a dependency run DependencyKey(TriggeredBy)
// (TriggeredBy is required), whatever DedupKey says, so that the key of an
// occurrence is canonical whoever computes it. A manual run keeps a given
// DedupKey (say, from a client's idempotency key) or gets a fresh
// "manual:<uuid>". The job itself need not exist.
func (s *Store) InsertRun(ctx context.Context, r Run) (Run, bool, error) {
	var stored Run
	var created bool
	err := s.write(ctx, func(q querier) error {
		var err error
		stored, created, err = insertRun(ctx, q, r)
		return err
	})
	return stored, created, err
}

// InsertRun is Store.InsertRun within the transaction.
func (t *Tx) InsertRun(ctx context.Context, r Run) (Run, bool, error) {
	return insertRun(ctx, t.tx, r)
}

func insertRun(ctx context.Context, q querier, r Run) (Run, bool, error) {
	r, err := prepareNew(r)
	if err != nil {
		return Run{}, false, fmt.Errorf("inserting run of job %q: %w", r.Job, err)
	}
	return insertPrepared(ctx, q, r)
}

// insertPrepared inserts a run that prepareNew accepted.
func insertPrepared(ctx context.Context, q querier, r Run) (Run, bool, error) {
	args, err := jsonOrNull(r.Arguments)
	if err != nil {
		return Run{}, false, fmt.Errorf("inserting run of job %q: encoding arguments: %w: %w", r.Job, ErrInvalid, err)
	}
	by, err := jsonOrNull(r.TriggeredBy)
	if err != nil {
		return Run{}, false, fmt.Errorf("inserting run of job %q: encoding triggered_by: %w: %w", r.Job, ErrInvalid, err)
	}
	var queuedAt *time.Time
	if !r.QueuedAt.IsZero() {
		queuedAt = tsPtr(&r.QueuedAt)
	}
	// A conflicting insert still in flight makes ON CONFLICT wait for it;
	// if it commits, the SELECT (a new statement, so a new snapshot under
	// READ COMMITTED) sees its row. The loop covers a row pruned between
	// the two statements.
	for range 3 {
		stored, err := oneRun(ctx, q, `
			INSERT INTO jobs.runs (job, trigger, scheduled_for, dedup_key, state, attempt, max_attempts,
				arguments, triggered_by, reason, exit_status, agent_id, host, task_id, sandbox,
				queued_at, not_before, started_at, finished_at, deadline)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11, $12, $13, $14, $15,
				coalesce($16, now()), $17, $18, $19, $20)
			ON CONFLICT (job, dedup_key) DO NOTHING
			RETURNING `+runColumns,
			r.Job, r.Trigger, r.ScheduledFor, r.DedupKey, r.State, r.Attempt, r.MaxAttempts,
			args, by, nullIfEmpty(r.Reason), r.ExitStatus, nullIfEmpty(r.AgentID), nullIfEmpty(r.Host), nullIfEmpty(r.TaskID), nullIfEmpty(r.Sandbox),
			queuedAt, tsPtr(r.NotBefore), tsPtr(r.StartedAt), tsPtr(r.FinishedAt), tsPtr(r.Deadline))
		if err == nil {
			stored.Notify = r.Notify
			if err := insertNotifications(ctx, q, stored); err != nil {
				return Run{}, false, err
			}
			stored.Notify = nil
			return stored, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return Run{}, false, fmt.Errorf("inserting run %q of job %q: %w", r.DedupKey, r.Job, err)
		}
		existing, err := runByKey(ctx, q, r.Job, r.DedupKey)
		if err == nil {
			return existing, false, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return Run{}, false, fmt.Errorf("reading run %q of job %q: %w", r.DedupKey, r.Job, err)
		}
	}
	return Run{}, false, fmt.Errorf("inserting run %q of job %q: the conflicting run keeps disappearing", r.DedupKey, r.Job)
}

// runByKey reads a run by its dedup key; none is pgx.ErrNoRows.
func runByKey(ctx context.Context, q querier, job, key string) (Run, error) {
	return oneRun(ctx, q, `SELECT `+runColumns+` FROM jobs.runs WHERE job = $1 AND dedup_key = $2`, job, key)
}

// UpdateRun writes every mutable field of run r.ID from r, whatever its
// current state: State, Attempt, MaxAttempts, Reason, ExitStatus, AgentID,
// Host, TaskID, Sandbox, NotBefore, StartedAt, FinishedAt, Deadline (zero
// values clear them). Job, Trigger, ScheduledFor, DedupKey, Arguments,
// TriggeredBy and QueuedAt are fixed at insert and ignored. An unknown run
// is ErrNotFound. Prefer TransitionRun wherever another process could be
// changing the same run.
func (s *Store) UpdateRun(ctx context.Context, r Run) error {
	return s.write(ctx, func(q querier) error { return updateRun(ctx, q, r) })
}

// UpdateRun is Store.UpdateRun within the transaction.
func (t *Tx) UpdateRun(ctx context.Context, r Run) error {
	return updateRun(ctx, t.tx, r)
}

const updateRunSQL = `
		UPDATE jobs.runs SET state = $2, attempt = $3, max_attempts = $4, reason = $5, exit_status = $6,
			agent_id = $7, host = $8, task_id = $9, sandbox = $10,
			not_before = $11, started_at = $12, finished_at = $13, deadline = $14
		WHERE id = $1`

func updateRunArgs(r Run) []any {
	return []any{r.ID, r.State, r.Attempt, r.MaxAttempts, nullIfEmpty(r.Reason), r.ExitStatus,
		nullIfEmpty(r.AgentID), nullIfEmpty(r.Host), nullIfEmpty(r.TaskID), nullIfEmpty(r.Sandbox),
		tsPtr(r.NotBefore), tsPtr(r.StartedAt), tsPtr(r.FinishedAt), tsPtr(r.Deadline)}
}

func validUpdate(r Run) error {
	if !validState(r.State) {
		return fmt.Errorf("updating run %d: unknown state %q: %w", r.ID, r.State, ErrInvalid)
	}
	if r.Attempt < 0 || r.MaxAttempts < 1 {
		return fmt.Errorf("updating run %d: attempt %d, max attempts %d: %w", r.ID, r.Attempt, r.MaxAttempts, ErrInvalid)
	}
	if err := validTargets(r); err != nil {
		return fmt.Errorf("updating run %d: %w", r.ID, err)
	}
	return nil
}

func updateRun(ctx context.Context, q querier, r Run) error {
	if err := validUpdate(r); err != nil {
		return err
	}
	tag, err := q.Exec(ctx, updateRunSQL, updateRunArgs(r)...)
	if err != nil {
		return fmt.Errorf("updating run %d: %w", r.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("updating run %d: %w", r.ID, ErrNotFound)
	}
	return insertNotifications(ctx, q, r)
}

// TransitionRun is a compare-and-set on run id's state: if the run is in
// one of the states from, it sets to.State and the fields to gives, and
// returns the run as stored; otherwise it changes nothing and returns an
// error wrapping ErrConflict (ErrNotFound if there is no such run). Of
// several callers racing on the same run, from any processes, at most one
// wins, so a run is never started twice.
//
// "Given" means set: a non-zero Attempt or MaxAttempts, a non-empty Reason,
// AgentID, Host, TaskID or Sandbox, a non-nil ExitStatus, NotBefore,
// StartedAt, FinishedAt or Deadline; other fields keep their values. To
// clear fields, follow it with UpdateRun in the same transaction (Tx has
// both). to.State is required; the store does not judge whether the
// transition makes sense.
func (s *Store) TransitionRun(ctx context.Context, id int64, from []State, to Run) (Run, error) {
	var won Run
	err := s.write(ctx, func(q querier) error {
		var err error
		won, err = transitionRun(ctx, q, id, from, to)
		return err
	})
	return won, err
}

// TransitionRun is Store.TransitionRun within the transaction.
func (t *Tx) TransitionRun(ctx context.Context, id int64, from []State, to Run) (Run, error) {
	return transitionRun(ctx, t.tx, id, from, to)
}

func transitionRun(ctx context.Context, q querier, id int64, from []State, to Run) (Run, error) {
	if err := validTransition(from); err != nil {
		return Run{}, fmt.Errorf("transitioning run %d: %w", id, err)
	}
	if err := validTarget(to); err != nil {
		return Run{}, fmt.Errorf("transitioning run %d: %w", id, err)
	}
	// Concurrent callers queue on the row lock; each re-checks the WHERE
	// against the row as the previous one left it, so only one matches.
	r, err := oneRun(ctx, q, `
		UPDATE jobs.runs SET state = $2,
			attempt = coalesce($3, attempt),
			max_attempts = coalesce($4, max_attempts),
			reason = coalesce($5, reason),
			exit_status = coalesce($6, exit_status),
			agent_id = coalesce($7, agent_id),
			host = coalesce($8, host),
			task_id = coalesce($9, task_id),
			sandbox = coalesce($10, sandbox),
			not_before = coalesce($11, not_before),
			started_at = coalesce($12, started_at),
			finished_at = coalesce($13, finished_at),
			deadline = coalesce($14, deadline)
		WHERE id = $1 AND state = ANY($15::text[])
		RETURNING `+runColumns,
		id, to.State, nonZero(to.Attempt), nonZero(to.MaxAttempts), nullIfEmpty(to.Reason), to.ExitStatus,
		nullIfEmpty(to.AgentID), nullIfEmpty(to.Host), nullIfEmpty(to.TaskID), nullIfEmpty(to.Sandbox),
		tsPtr(to.NotBefore), tsPtr(to.StartedAt), tsPtr(to.FinishedAt), tsPtr(to.Deadline), stateNames(from))
	if err == nil {
		r.Notify = to.Notify
		if err := insertNotifications(ctx, q, r); err != nil {
			return Run{}, err
		}
		r.Notify = nil
		return r, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Run{}, fmt.Errorf("transitioning run %d to %s: %w", id, to.State, err)
	}
	var state string
	err = q.QueryRow(ctx, `SELECT state FROM jobs.runs WHERE id = $1`, id).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return Run{}, fmt.Errorf("transitioning run %d to %s: %w", id, to.State, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("transitioning run %d to %s: %w", id, to.State, err)
	}
	return Run{}, fmt.Errorf("transitioning run %d to %s: it is %s, not one of %v: %w", id, to.State, state, from, ErrConflict)
}

// validTransition checks the states a transition may start from.
func validTransition(from []State) error {
	if len(from) == 0 {
		return fmt.Errorf("no states to transition from: %w", ErrInvalid)
	}
	for _, st := range from {
		if !validState(st) {
			return fmt.Errorf("unknown state %q: %w", st, ErrInvalid)
		}
	}
	return nil
}

// validTarget checks the run a transition leads to.
func validTarget(to Run) error {
	if !validState(to.State) {
		return fmt.Errorf("unknown state %q: %w", to.State, ErrInvalid)
	}
	if to.Attempt < 0 || to.MaxAttempts < 0 {
		return fmt.Errorf("negative attempt %d or max attempts %d: %w", to.Attempt, to.MaxAttempts, ErrInvalid)
	}
	return validTargets(to)
}

// nonZero is n, or nil (keep the stored value) for 0.
func nonZero(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

// TransitionRuns is TransitionRun for many runs at once, in one
// transaction: each run of runs (by ID, with the fields to set as
// TransitionRun's to) moves if it is in one of the states from, and the
// runs that moved are returned as stored, ascending by ID. Runs that were
// not in from, or no longer exist, are left out: that is not an error. The
// runs are locked in ID order, so concurrent batches never deadlock; each
// run moves for at most one caller. A run named twice is ErrInvalid.
func (s *Store) TransitionRuns(ctx context.Context, from []State, runs []Run) ([]Run, error) {
	var won []Run
	err := s.Atomically(ctx, func(tx *Tx) error {
		var err error
		won, err = tx.TransitionRuns(ctx, from, runs)
		return err
	})
	if err != nil {
		return nil, err
	}
	return won, nil
}

// TransitionRuns is Store.TransitionRuns within the transaction.
func (t *Tx) TransitionRuns(ctx context.Context, from []State, runs []Run) ([]Run, error) {
	if len(runs) == 0 {
		return nil, nil
	}
	if err := validTransition(from); err != nil {
		return nil, fmt.Errorf("transitioning %d runs: %w", len(runs), err)
	}
	n := len(runs)
	ids := make([]int64, n)
	states := make([]string, n)
	attempts, maxAttempts, exits := make([]*int, n), make([]*int, n), make([]*int, n)
	reasons, agents, hosts, tasks, sandboxes := make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
	notBefore, started, finished, deadlines := make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
	seen := make(map[int64]bool, n)
	for i, r := range runs {
		if err := validTarget(r); err != nil {
			return nil, fmt.Errorf("transitioning run %d: %w", r.ID, err)
		}
		if len(r.Notify) > 0 {
			return nil, fmt.Errorf("transitioning run %d: TransitionRuns records no notifications: %w", r.ID, ErrInvalid)
		}
		if seen[r.ID] {
			return nil, fmt.Errorf("transitioning runs: run %d named twice: %w", r.ID, ErrInvalid)
		}
		seen[r.ID] = true
		ids[i], states[i] = r.ID, string(r.State)
		attempts[i], maxAttempts[i], exits[i] = nonZero(r.Attempt), nonZero(r.MaxAttempts), r.ExitStatus
		reasons[i], agents[i], hosts[i] = nullIfEmpty(r.Reason), nullIfEmpty(r.AgentID), nullIfEmpty(r.Host)
		tasks[i], sandboxes[i] = nullIfEmpty(r.TaskID), nullIfEmpty(r.Sandbox)
		notBefore[i], started[i], finished[i], deadlines[i] = tsPtr(r.NotBefore), tsPtr(r.StartedAt), tsPtr(r.FinishedAt), tsPtr(r.Deadline)
	}
	q := t.tx
	// The UPDATE below would lock in whatever order its join produces.
	if _, err := q.Exec(ctx, `
		SELECT 1 FROM jobs.runs WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE`, ids); err != nil {
		return nil, fmt.Errorf("transitioning %d runs: locking: %w", n, err)
	}
	rows, err := q.Query(ctx, `
		UPDATE jobs.runs AS r SET state = u.new_state,
			attempt = coalesce(u.new_attempt, r.attempt),
			max_attempts = coalesce(u.new_max_attempts, r.max_attempts),
			reason = coalesce(u.new_reason, r.reason),
			exit_status = coalesce(u.new_exit_status, r.exit_status),
			agent_id = coalesce(u.new_agent_id, r.agent_id),
			host = coalesce(u.new_host, r.host),
			task_id = coalesce(u.new_task_id, r.task_id),
			sandbox = coalesce(u.new_sandbox, r.sandbox),
			not_before = coalesce(u.new_not_before, r.not_before),
			started_at = coalesce(u.new_started_at, r.started_at),
			finished_at = coalesce(u.new_finished_at, r.finished_at),
			deadline = coalesce(u.new_deadline, r.deadline)
		FROM unnest($1::bigint[], $2::text[], $3::int[], $4::int[], $5::text[], $6::int[],
				$7::text[], $8::text[], $9::text[], $10::text[],
				$11::timestamptz[], $12::timestamptz[], $13::timestamptz[], $14::timestamptz[])
			AS u(run_id, new_state, new_attempt, new_max_attempts, new_reason, new_exit_status,
				new_agent_id, new_host, new_task_id, new_sandbox,
				new_not_before, new_started_at, new_finished_at, new_deadline)
		WHERE r.id = u.run_id AND r.state = ANY($15::text[])
		RETURNING `+runColumns,
		ids, states, attempts, maxAttempts, reasons, exits, agents, hosts, tasks, sandboxes,
		notBefore, started, finished, deadlines, stateNames(from))
	if err != nil {
		return nil, fmt.Errorf("transitioning %d runs: %w", n, err)
	}
	won, err := pgx.CollectRows(rows, scanRun)
	if err != nil {
		return nil, fmt.Errorf("transitioning %d runs: %w", n, err)
	}
	slices.SortFunc(won, func(a, b Run) int { return cmp.Compare(a.ID, b.ID) })
	return won, nil
}

// Run returns run id, or an error wrapping ErrNotFound.
func (s *Store) Run(ctx context.Context, id int64) (Run, error) {
	r, err := oneRun(ctx, s.pool, `SELECT `+runColumns+` FROM jobs.runs WHERE id = $1`, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Run{}, fmt.Errorf("reading run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("reading run %d: %w", id, err)
	}
	return r, nil
}

// RunByTask returns the run whose latest attempt launched task taskID (the
// newest such run, should several name it), or an error wrapping
// ErrNotFound.
func (s *Store) RunByTask(ctx context.Context, taskID string) (Run, error) {
	if taskID == "" {
		return Run{}, fmt.Errorf("reading run of task: empty task id: %w", ErrInvalid)
	}
	r, err := oneRun(ctx, s.pool, `
		SELECT `+runColumns+` FROM jobs.runs WHERE task_id = $1 ORDER BY id DESC LIMIT 1`, taskID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Run{}, fmt.Errorf("reading run of task %q: %w", taskID, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("reading run of task %q: %w", taskID, err)
	}
	return r, nil
}

// Runs returns job's runs newest first (by ID): at most limit of them (all
// if limit <= 0), with IDs below beforeID if beforeID > 0. To page, pass
// the last ID of one page as the next page's beforeID. An unknown job has
// none.
func (s *Store) Runs(ctx context.Context, job string, limit int, beforeID int64) ([]Run, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+runColumns+` FROM jobs.runs
		WHERE job = $1 AND ($2::bigint <= 0 OR id < $2::bigint)
		ORDER BY id DESC LIMIT $3`,
		job, beforeID, lim)
	if err != nil {
		return nil, fmt.Errorf("listing runs of job %q: %w", job, err)
	}
	runs, err := pgx.CollectRows(rows, scanRun)
	if err != nil {
		return nil, fmt.Errorf("listing runs of job %q: %w", job, err)
	}
	return runs, nil
}

// ActiveRuns returns every QUEUED, STARTING or RUNNING run, of every job
// (including runs of deleted jobs), oldest first: what a new leader must
// launch, watch or reconcile.
func (s *Store) ActiveRuns(ctx context.Context) ([]Run, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+runColumns+` FROM jobs.runs
		WHERE state IN ('QUEUED', 'STARTING', 'RUNNING') ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing active runs: %w", err)
	}
	runs, err := pgx.CollectRows(rows, scanRun)
	if err != nil {
		return nil, fmt.Errorf("listing active runs: %w", err)
	}
	return runs, nil
}

// QueuedUnscheduledRuns returns the QUEUED runs that no scheduler
// recorded: manual runs and dependency runs written by any process's API.
// The scheduler polls for these; it tracks the runs it records itself.
func (s *Store) QueuedUnscheduledRuns(ctx context.Context) ([]Run, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+runColumns+` FROM jobs.runs
		WHERE state = 'QUEUED' AND trigger <> 'schedule' ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing queued runs: %w", err)
	}
	runs, err := pgx.CollectRows(rows, scanRun)
	if err != nil {
		return nil, fmt.Errorf("listing queued runs: %w", err)
	}
	return runs, nil
}

// PruneRuns deletes finished runs that ended (or, lacking an end time, were
// queued) before olderThan, except the newest keepPerJob runs of each job,
// and returns how many it deleted, with their notifications. Active runs
// are never deleted, nor runs with a notification still to be delivered. Planning
// does not need old runs: the job's cursor, not its history, says which
// occurrences were recorded. It is idempotent; keepPerJob < 0 is
// ErrInvalid.
func (s *Store) PruneRuns(ctx context.Context, olderThan time.Time, keepPerJob int) (int64, error) {
	if keepPerJob < 0 {
		return 0, fmt.Errorf("pruning runs: negative keep per job %d: %w", keepPerJob, ErrInvalid)
	}
	var deleted int64
	err := s.write(ctx, func(q querier) error {
		tag, err := q.Exec(ctx, `
			DELETE FROM jobs.runs AS r
			USING (
				SELECT id, row_number() OVER (PARTITION BY job ORDER BY id DESC) AS newest
				FROM jobs.runs
			) AS ranked
			WHERE r.id = ranked.id
				AND ranked.newest > $2
				AND r.state NOT IN ('QUEUED', 'STARTING', 'RUNNING')
				AND coalesce(r.finished_at, r.queued_at) < $1
				AND NOT EXISTS (
					SELECT 1 FROM jobs.notifications AS n
					WHERE n.run_id = r.id AND n.state IN ('pending', 'failing'))`,
			ts(olderThan), keepPerJob)
		deleted = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("pruning runs: %w", err)
	}
	return deleted, nil
}

// Result is one finished run's outcome for a job's stats.
type Result struct {
	Job     string
	Success bool
	At      time.Time
}

// ApplyRunChanges writes many runs (as UpdateRun does, their
// notifications included) and counts many results (as RecordResult does)
// in one transaction and one round trip to the database: how a scheduler keeps up with thousands of status updates
// a second. Runs or jobs deleted meanwhile are skipped, not errors. Either
// everything is written or nothing is.
func (s *Store) ApplyRunChanges(ctx context.Context, runs []Run, results []Result) error {
	if len(runs) == 0 && len(results) == 0 {
		return nil
	}
	return s.Atomically(ctx, func(tx *Tx) error { return tx.ApplyRunChanges(ctx, runs, results) })
}

// ApplyRunChanges is Store.ApplyRunChanges within the transaction.
func (t *Tx) ApplyRunChanges(ctx context.Context, runs []Run, results []Result) error {
	if len(runs) == 0 && len(results) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, r := range runs {
		if err := validUpdate(r); err != nil {
			return err
		}
		b.Queue(updateRunSQL, updateRunArgs(r)...)
		for _, args := range notificationArgs(r) {
			b.Queue(insertNotificationSQL, args...)
		}
	}
	for _, res := range results {
		if res.At.IsZero() {
			return fmt.Errorf("recording result of job %q: zero time: %w", res.Job, ErrInvalid)
		}
		b.Queue(recordResultSQL, res.Job, res.Success, ts(res.At))
	}
	br := t.tx.SendBatch(ctx, b)
	for i := 0; i < b.Len(); i++ {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("applying run changes: %w", err)
		}
	}
	return br.Close()
}
