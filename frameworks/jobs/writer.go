package jobs

import (
	"context"
	"log/slog"
	"time"

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

// write is one store call the loop decided.
type write struct {
	what string
	// fn makes the call; it runs on the writer goroutine, so it must use
	// nothing the loop owns (the loop copies what fn needs beforehand).
	fn func(ctx context.Context) error
	// deadline, when not zero, is when the writer gives up; zero retries
	// until the call succeeds, is refused for good (store.Permanent) or
	// the term ends.
	deadline time.Time
	// attempt bounds one attempt (attemptTimeout if zero).
	attempt time.Duration
	// done runs on the loop with the outcome.
	done func(c *core, err error)
	err  error
}

// Writer timing.
const (
	// writeQueue bounds the writes the loop may have outstanding.
	writeQueue = 256
	// attemptTimeout bounds one attempt of a write.
	attemptTimeout = 5 * time.Second
	// retryMax bounds the backoff between attempts.
	retryMax = 5 * time.Second
	// retryDecision is how long a failed recording or claim waits before
	// it is decided again.
	retryDecision = time.Second
	// durableWait bounds how long the API waits for a change to be
	// durable before answering 503.
	durableWait = 10 * time.Second
)

// writer makes the loop's store calls, one at a time and in order. It is
// owned by the loop's term, which starts it and waits for it to stop.
type writer struct {
	log *slog.Logger
	in  chan *write // capacity writeQueue; only the loop sends
	out chan *write // capacity writeQueue: never blocks the writer
}

func newWriter(log *slog.Logger) *writer {
	return &writer{log: log, in: make(chan *write, writeQueue), out: make(chan *write, writeQueue)}
}

// run makes writes until ctx ends.
func (wr *writer) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case w := <-wr.in:
			w.err = wr.persist(ctx, w)
			if ctx.Err() != nil {
				return
			}
			// The loop has at most writeQueue writes outstanding, so out
			// has room.
			wr.out <- w
		}
	}
}

// persist tries w until it succeeds, fails for good, passes its deadline
// or ctx ends, with backoff between attempts.
func (wr *writer) persist(ctx context.Context, w *write) error {
	backoff := 100 * time.Millisecond
	attempt := w.attempt
	if attempt <= 0 {
		attempt = attemptTimeout
	}
	for {
		if !w.deadline.IsZero() && !time.Now().Before(w.deadline) {
			return context.DeadlineExceeded
		}
		end := time.Now().Add(attempt)
		if !w.deadline.IsZero() && w.deadline.Before(end) {
			end = w.deadline
		}
		actx, cancel := context.WithDeadline(ctx, end)
		err := w.fn(actx)
		cancel()
		if err == nil || store.Permanent(err) || ctx.Err() != nil {
			return err
		}
		if !w.deadline.IsZero() && time.Now().Add(backoff).After(w.deadline) {
			return err
		}
		wr.log.Warn("write failed; retrying", "what", w.what, "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, retryMax)
	}
}

// canSubmit reports whether the writer takes another write now.
func (c *core) canSubmit() bool { return c.outstanding < writeQueue }

// submit hands w to the writer. It reports false, and leaves w to the
// caller, when writeQueue writes are already outstanding: the work stays
// pending with the caller.
func (c *core) submit(w *write) bool {
	if !c.canSubmit() {
		c.refused++
		if time.Since(c.fullLogged) > 10*time.Second {
			c.fullLogged = time.Now()
			c.s.log.Warn("the write queue is full; keeping work pending", "outstanding", c.outstanding, "what", w.what)
		}
		return false
	}
	c.outstanding++
	c.wr.in <- w
	return true
}

// written handles a write's outcome, on the loop.
func (c *core) written(w *write) {
	c.outstanding--
	c.writeErr = w.err
	w.done(c, w.err)
}

// writeStats says what waits on the writer and the kernel call queues,
// for /metrics: writes outstanding, run changes not yet handed to the
// writer, lookups waiting, calls and acknowledgements that found their
// queue full, how often the write queue was full, and whether the last
// write back failed.
func (c *core) writeStats() map[string]float64 {
	failing := 0.0
	if c.writeErr != nil {
		failing = 1
	}
	return map[string]float64{
		"writes_failing":           failing,
		"writes_outstanding":       float64(c.outstanding),
		"writes_queue_full":        float64(c.refused),
		"run_changes_unflushed":    float64(len(c.pendRuns) + len(c.pendResults) + len(c.pendParents)),
		"acks_unflushed":           float64(len(c.pendAcks)),
		"task_lookups":             float64(len(c.lookups)),
		"kernel_calls_waiting":     float64(len(c.callBacklog)),
		"acknowledgements_waiting": float64(len(c.ackBacklog)),
	}
}
