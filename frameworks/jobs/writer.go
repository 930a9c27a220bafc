package jobs

import (
	"log/slog"
	"time"

	"corral/frameworks/internal/durable"
	"corral/frameworks/jobs/store"
)

// The loop never waits on Postgres. It decides, hands what must become
// durable to the writer, and goes on; the writer makes the writes in the
// order it got them and sends each back, with its outcome, as a message
// the loop handles like any other:
//
//	loop ──decide──► write (bounded queue) ──► writer ──► Postgres
//	  ▲                                          │
//	  └──────────── result (the write, err) ◄────┘
//
// What goes through it:
//
//   - run changes (flushRuns): one batch at a time, retried until it
//     succeeds; what changes meanwhile waits in pendRuns for the next.
//     Status updates are acknowledged, and API stops answered, once the
//     batch holding their change is durable.
//   - scheduled occurrences (schedule) and launch claims (launch): the
//     loop applies them once stored (the runs' ids, the claims won); they
//     have a deadline, and are decided again on a later wake if they fail.
//   - lookups of tasks no tracked run owns (update), which must see the
//     writes before them.
//   - pruning of old runs.
//
// Until a write comes back, what it is about is marked (a job recording,
// a run being claimed) so that it is not decided twice.

// write is one store call the loop decided (see durable.Write).
type write = durable.Write[*core]

// Writer timing.
const (
	// attemptTimeout bounds one attempt of a write.
	attemptTimeout = 5 * time.Second
	// retryDecision is how long a failed recording or claim waits before
	// it is decided again.
	retryDecision = time.Second
	// durableWait bounds how long the API waits for a change to be
	// durable before answering 503.
	durableWait = 10 * time.Second
)

// newWriter returns the writer of the loop's store calls.
func newWriter(log *slog.Logger) *durable.Writer[*core] {
	return durable.New[*core](durable.Config{Attempt: attemptTimeout, Permanent: store.Permanent}, log)
}

// canSubmit reports whether the writer takes another write now.
func (c *core) canSubmit() bool { return c.wr.CanSubmit() }

// submit hands w to the writer. It reports false, and leaves w to the
// caller, when the queue is full: the work stays pending with the caller.
func (c *core) submit(w *write) bool { return c.wr.Submit(w) }

// writeStats says what waits on the writer and the kernel call queues,
// for /metrics: writes outstanding, run changes not yet handed to the
// writer, lookups waiting, calls and acknowledgements that found their
// queue full, how often the write queue was full, and whether the last
// write back failed.
func (c *core) writeStats() map[string]float64 {
	ws := c.wr.Stats()
	failing := 0.0
	if ws.LastErr != nil {
		failing = 1
	}
	return map[string]float64{
		"writes_failing":           failing,
		"writes_outstanding":       float64(ws.Outstanding),
		"writes_queue_full":        float64(ws.Refused),
		"run_changes_unflushed":    float64(len(c.pendRuns) + len(c.pendResults) + len(c.pendParents)),
		"acks_unflushed":           float64(len(c.pendAcks)),
		"task_lookups":             float64(len(c.lookups)),
		"kernel_calls_waiting":     float64(len(c.callBacklog)),
		"acknowledgements_waiting": float64(len(c.ackBacklog)),
	}
}
