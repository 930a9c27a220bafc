package services

import (
	"log/slog"
	"time"

	"corral/frameworks/internal/durable"
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

// write is one durable change the loop decided (see durable.Write).
type write = durable.Write[*core]

// Writer timing.
const (
	// changeTimeout is how long an API change may take to become durable
	// before its client gets a 503 (the default of core.changeTimeout).
	changeTimeout = 10 * time.Second
	// launchTimeout is how long new instances may take to be stored
	// before their offers are declined instead.
	launchTimeout = 5 * time.Second
)

// newWriter returns the writer of the loop's changes.
func newWriter(log *slog.Logger) *durable.Writer[*core] {
	return durable.New[*core](durable.Config{Permanent: store.Permanent}, log)
}

// submit hands w to the writer; false leaves w to the caller, when the
// queue is full.
func (c *core) submit(w *write) bool { return c.wr.Submit(w) }

// writeStats says what waits on the writer and the kernel call queue, for
// /health: writes outstanding, API changes waiting for their turn, state
// changed since the last batch, kernel calls that found the queue full,
// and how often the write queue was full.
func (c *core) writeStats() map[string]any {
	ws := c.wr.Stats()
	m := map[string]any{
		"outstanding":    ws.Outstanding,
		"changesWaiting": len(c.waiting),
		"unflushed":      len(c.dirty) + len(c.deleted) + len(c.delays) + len(c.finished) + len(c.removed),
		"acksWaiting":    len(c.acks),
		"callsWaiting":   len(c.backlog),
		"queueFull":      ws.Refused,
	}
	if ws.LastErr != nil {
		m["lastFailure"] = ws.LastErrAt.UTC().Format(time.RFC3339)
	}
	return m
}
