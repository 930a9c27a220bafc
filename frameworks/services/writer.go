package services

import (
	"context"
	"log/slog"
	"time"

	"corral/frameworks/services/store"
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
// Three kinds of writes go through it:
//
//   - API changes (see mutate): a deployment, a group, a forced stop. The
//     loop applies one only once it is durable, so nothing the API
//     answered is ever lost, and nothing not durable is ever seen. They
//     have a deadline; past it the client gets a 503.
//   - New instances, stored before their ACCEPT goes out (offers): a
//     short deadline, after which the offers are declined.
//   - The loop's own state (flush): instance changes, launch delays, ended
//     deployments and apps, the framework id. The loop applies these at
//     once, since they are safe to lose (a restart rebuilds or redoes
//     them), and keeps them as dirty sets: at most one batch is in flight,
//     and what changes meanwhile waits in the sets, so that neither the
//     queue nor the batches grow while Postgres is away. Status updates
//     are acknowledged only once the batch holding their change is
//     durable. These are retried until they succeed.

// write is one durable change the loop decided.
type write struct {
	what string
	// fn makes the change; it runs on the writer goroutine, so it must use
	// nothing the loop owns (the loop copies what fn needs beforehand).
	fn func(ctx context.Context, st *store.Store) error
	// deadline, when not zero, is when the writer gives up; zero retries
	// until the write succeeds, is refused for good (store.Permanent) or
	// the term ends.
	deadline time.Time
	// done runs on the loop with the outcome: nil once durable.
	done func(c *core, err error)
	err  error
}

// Writer timing.
const (
	// writeQueue bounds the writes the loop may have outstanding.
	writeQueue = 256
	// attemptTimeout bounds one attempt of a write.
	attemptTimeout = 5 * time.Second
	// changeTimeout is how long an API change may take to become durable
	// before its client gets a 503 (the default of core.changeTimeout).
	changeTimeout = 10 * time.Second
	// launchTimeout is how long new instances may take to be stored
	// before their offers are declined instead.
	launchTimeout = 5 * time.Second
	// retryMax bounds the backoff between attempts.
	retryMax = 5 * time.Second
)

// writer makes the loop's writes, one at a time and in order. It is owned
// by the loop, which starts it and waits for it to stop.
type writer struct {
	log   *slog.Logger
	store *store.Store
	in    chan *write // capacity writeQueue; only the loop sends
	out   chan *write // capacity writeQueue: never blocks the writer
}

func newWriter(log *slog.Logger, st *store.Store) *writer {
	return &writer{log: log, store: st, in: make(chan *write, writeQueue), out: make(chan *write, writeQueue)}
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
	for {
		if !w.deadline.IsZero() && !time.Now().Before(w.deadline) {
			// Never started past its deadline: whoever waited for it has
			// been told it failed.
			return context.DeadlineExceeded
		}
		end := time.Now().Add(attemptTimeout)
		if !w.deadline.IsZero() && w.deadline.Before(end) {
			end = w.deadline
		}
		actx, cancel := context.WithDeadline(ctx, end)
		err := w.fn(actx, wr.store)
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

// submit hands w to the writer. It reports false, and leaves w to the
// caller, when writeQueue writes are already outstanding.
func (c *core) submit(w *write) bool {
	if c.outstanding >= writeQueue {
		if time.Since(c.fullLogged) > 10*time.Second {
			c.fullLogged = time.Now()
			c.s.log.Warn("the write queue is full; keeping work pending", "outstanding", c.outstanding, "what", w.what)
		}
		c.refused++
		return false
	}
	c.outstanding++
	c.wr.in <- w
	return true
}

// written handles a write's outcome, on the loop.
func (c *core) written(w *write) {
	c.outstanding--
	if w.err != nil {
		c.writeErr, c.writeErrAt = w.err, time.Now()
	} else {
		c.writeErr = nil
	}
	w.done(c, w.err)
}

// writeStats says what waits on the writer and the kernel call queue, for
// /health: writes outstanding, API changes waiting for their turn, state
// changed since the last batch, kernel calls that found the queue full,
// and how often the write queue was full.
func (c *core) writeStats() map[string]any {
	m := map[string]any{
		"outstanding":    c.outstanding,
		"changesWaiting": len(c.waiting),
		"unflushed":      len(c.dirty) + len(c.deleted) + len(c.delays) + len(c.finished) + len(c.removed),
		"acksWaiting":    len(c.acks),
		"callsWaiting":   len(c.backlog),
		"queueFull":      c.refused,
	}
	if c.writeErr != nil {
		m["lastFailure"] = c.writeErrAt.UTC().Format(time.RFC3339)
	}
	return m
}
