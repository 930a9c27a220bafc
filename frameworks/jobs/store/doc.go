// Package store is the jobs framework's durable state in Postgres (schema
// jobs, see corral/migrations): what a restarted or failed-over jobs
// scheduler reads to resume, and what makes each run happen once when
// several `corral jobs` processes share one database.
//
// Vocabulary:
//
//   - framework id: the id the kernel assigned when the framework first
//     subscribed; stored so that a restart re-subscribes as the same
//     framework. One row.
//   - job: a job's current definition (a JSON spec owned by the caller),
//     keyed by name.
//   - cursor: a job's LastScheduled, the newest scheduled occurrence already
//     turned into a record (a run, or a missed or skipped record). Planning
//     resumes after it; it never moves back.
//   - run: one execution of a job, whatever its trigger (schedule, manual,
//     dependency), with its attempts and how its latest attempt went.
//   - dedup key: what makes inserting a run idempotent, unique per job:
//     "schedule:<time>" per occurrence, "dep:<parent run ids>" per set of
//     parent runs, "manual:<uuid>" per request.
//   - edge: parent → child, with the parent's finished run that the child
//     has not consumed yet (pending run).
//   - stats: per-job success and error counters, Chronos style.
//
// Exactly once. A scheduled occurrence becomes a run through
// RecordOccurrences, which inserts the run (or finds the one another
// process inserted: same dedup key) and advances the cursor in one
// transaction. A dependency run is created by MarkParentDone in the same
// transaction that consumes the pending runs of the child's edges. A run is
// started by whoever wins TransitionRun (or TransitionRuns) from QUEUED. So
// the database, not leadership, rules out doubles.
//
// Fencing. What the unique keys and compare-and-sets do not cover is a
// deposed leader overwriting its successor: UpdateRun and ApplyRunChanges
// write a run's every field, RecordResult counts, SetFrameworkID replaces,
// PruneRuns deletes. So the leader's scheduler writes through a fenced view
// (Fenced, then BeginTerm, which bumps the epoch in jobs.term): every write
// through it, the key-safe ones included, first checks in its transaction
// that no later term has begun, and fails with ErrFenced if one has, which
// also ends the term (see corral/internal/lead). The API's writes (jobs,
// manual runs, stopping a queued run) are anyone's and go unchecked.
//
// The states of a run, as the scheduler moves them (the store enforces
// only the compare-and-set, not which moves make sense):
//
//	            ┌──────── retry: attempt+1, not_before ───────┐
//	            ▼                                             │
//	(insert) QUEUED ──▶ STARTING ──▶ RUNNING ──▶ SUCCEEDED     │
//	            │           │           └──────▶ FAILED ───────┘
//	            │           └─── any active ───▶ KILLED
//	            └──▶ SKIPPED, MISSED (recorded, never launched; also inserted so)
//
// Dependencies, for a child D of B and C:
//
//	B's run 10 done → edge B→D pending 10; C→D not pending: wait
//	C's run 11 done → edge C→D pending 11; all pending:
//	                  insert D's run "dep:10,11" (TriggeredBy [10 11]),
//	                  clear both edges — one transaction
//
// Notifications. A write that ends a run may carry the webhooks to tell
// (Run.Notify); the store records one notification per URL in the same
// transaction, so an ended run never loses its notification to a crash.
// The leader claims due ones (ClaimNotifications: a lease, FOR UPDATE
// SKIP LOCKED, fenced), POSTs them and records each attempt
// (RecordDelivery); a delivered notification is not claimed again:
//
//	run ends ──▶ pending ──2xx──▶ delivered
//	                │               ▲
//	                └──▶ failing ───┘   (due again at next_attempt_at)
//	                        └──▶ abandoned
//
// Every spec is raw JSON owned by the caller; this package knows no job
// types. Postgres stores specs as jsonb, so they come back normalized. Times
// are stored to the microsecond and returned in UTC.
//
// Store is a thin adapter: no pgx type appears in its API. Each method is
// one transaction; Atomically groups several writes in one:
//
//	s.Atomically(ctx, func(tx *store.Tx) error {
//		run, err := tx.TransitionRun(ctx, id, []State{store.StateRunning}, store.Run{State: store.StateSucceeded, FinishedAt: &now})
//		if err != nil {
//			return err
//		}
//		return tx.RecordResult(ctx, run.Job, true, now)
//	})
//
// Postgres being down is an ordinary error from the call that needed it;
// the pool reconnects on a later call, and retrying with backoff is the
// caller's job. Permanent tells which errors a retry cannot cure.
package store
