// Package due decides what happens to the scheduled occurrences of a job
// that have come due: which one runs, which are recorded as missed, and
// which are skipped, each with a reason a person can read.
//
// The package is pure: it imports only the standard library, reads no
// clock (callers pass Now), starts no goroutines and does no I/O. The
// caller owns the job's state, persists what Plan returns (one run row per
// occurrence, keyed by job and scheduled time, inserted idempotently) and
// then advances From to the newest occurrence Plan returned.
//
// # Vocabulary
//
//   - occurrence: a time at which the job's schedule says it should run.
//   - window: the half-open interval (From, Now]. Every occurrence in it
//     is decided exactly once by one Plan call; consecutive windows that
//     share their boundary (From = previous Now, or From = the newest
//     occurrence of the previous plan) partition the occurrences, so none
//     is skipped and none is doubled.
//   - late: Now minus the occurrence's time.
//   - starting deadline: how late an occurrence may be and still run.
//   - catch-up: the run of the newest occurrence of a window that also
//     held older occurrences; those older ones are missed, so downtime
//     costs at most one run rather than a burst of them.
//
// # Deciding a window
//
//	occurrences in (From, Now], oldest first
//	  older ones ─────────────────────────────► MISSED (or SKIPPED if disabled)
//	  newest ─┬─ disabled ───────────────────► SKIPPED "job is disabled"
//	          ├─ late > starting deadline ───► MISSED  "missed: … late …"
//	          ├─ FORBID and a run is active ─► SKIPPED "a run is still active …"
//	          ├─ REPLACE ────────────────────► RUN, ReplaceActive if a run is active
//	          └─ ALLOW ──────────────────────► RUN
package due
