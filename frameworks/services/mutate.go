package services

import (
	"context"
	"errors"
	"time"

	"corral/frameworks/services/store"
)

// An API change goes decide → persist → apply, as the master's registry
// writes do:
//
//	handler ──mutate──► loop: decide on the current state ──► commit
//	                            │ (validation errors answer at once)
//	                            ▼
//	                    writer: one transaction, within the deadline
//	                            │
//	            durable ◄───────┴───────► not durable
//	     loop: apply (the state,          loop: undo; the client
//	     events, kills); the client       gets a 503
//	     gets its answer
//
// Nothing of a change is visible (to the API, the planner, offers) before
// it is durable, so a change that fails leaves nothing behind, and a
// change answered is never lost. Changes go one at a time: the next is
// decided only once the one before is applied or has failed, so each is
// decided on the state its predecessors left. Reads are answered
// meanwhile.

// commit is an API change the loop decided: its writes make it durable,
// in one transaction; then runs on the loop once they are, and otherwise
// once they could not be.
type commit struct {
	what string
	// apps are held while the change is in flight: a deleted one is not
	// removed under it (see finishDeployments).
	apps      []string
	writes    []func(ctx context.Context, tx *store.Tx) error
	then      []func(c *core)
	otherwise []func(c *core)
}

func (cm *commit) write(fn func(ctx context.Context, tx *store.Tx) error) {
	cm.writes = append(cm.writes, fn)
}

// apply adds fn to what runs once the change is durable.
func (cm *commit) apply(fn func(c *core)) { cm.then = append(cm.then, fn) }

// undo adds fn to what runs if the change could not be made durable.
func (cm *commit) undo(fn func(c *core)) { cm.otherwise = append(cm.otherwise, fn) }

// mutation is an API change waiting for its turn, or in flight. The loop
// makes changes of its own the same way (a failed deployment's end and
// rollback, see watch.go): abandoned, if set, runs on the loop when such
// a change is not applied for any reason but decide finding nothing to do.
type mutation struct {
	ctx       context.Context
	decide    func(c *core) (*commit, error)
	deadline  time.Time
	done      chan error // capacity 1
	abandoned func(c *core)
}

// finish answers m with err, and, when it was not applied, runs
// abandoned.
func (m *mutation) finish(c *core, err error) {
	m.done <- err
	if err != nil && m.abandoned != nil {
		m.abandoned(c)
	}
}

// maxWaiting bounds the API changes waiting for their turn; more are
// refused with a 503.
const maxWaiting = 1024

var (
	errBusy      = errors.New("too many changes waiting")
	errQueueFull = errors.New("the write queue is full")
)

// mutate runs decide on the loop, in turn with other changes, makes the
// commit it returns durable and applies it, and returns once that is done
// or failed. decide returns a nil commit for a change that needs no
// write, and an error to refuse the change; it and what it adds to the
// commit run on the loop, and the caller may read what they set once
// mutate returns nil or decide's error. A change not durable within the
// change deadline fails with errUnavailable (a 503); it may still become
// durable a moment later, as a client that timed out cannot tell.
func (s *Service) mutate(ctx context.Context, decide func(c *core) (*commit, error)) error {
	m := &mutation{ctx: ctx, decide: decide, done: make(chan error, 1)}
	err := s.do(ctx, func(c *core) {
		// The deadline starts as the change arrives: waiting for its
		// turn counts.
		m.deadline = time.Now().Add(c.changeTimeout)
		c.propose(m)
	})
	if err != nil {
		return err
	}
	// The loop answers by the deadline unless the writer is stuck on an
	// earlier write; the writer never starts a change past its deadline.
	timer := time.NewTimer(time.Until(m.deadline) + time.Second)
	defer timer.Stop()
	select {
	case err := <-m.done:
		return err
	case <-timer.C:
		return &errUnavailable{context.DeadlineExceeded}
	case <-ctx.Done():
		return &errUnavailable{ctx.Err()}
	case <-s.stopped:
		return errStopped
	}
}

// propose queues m behind the changes already waiting.
func (c *core) propose(m *mutation) {
	if len(c.waiting) >= maxWaiting {
		m.finish(c, &errUnavailable{errBusy})
		return
	}
	c.waiting = append(c.waiting, m)
	c.nextChange()
}

// nextChange decides the waiting changes in turn until one is in flight.
func (c *core) nextChange() {
	for !c.changing && len(c.waiting) > 0 {
		m := c.waiting[0]
		c.waiting[0] = nil
		c.waiting = c.waiting[1:]
		switch {
		case m.ctx.Err() != nil:
			m.finish(c, m.ctx.Err()) // nobody waits: never decided
			continue
		case !time.Now().Before(m.deadline):
			m.finish(c, &errUnavailable{context.DeadlineExceeded})
			continue
		case !c.wr.CanSubmit():
			m.finish(c, &errUnavailable{errQueueFull})
			continue
		}
		cm, err := m.decide(c)
		if err != nil || cm == nil {
			m.finish(c, err)
			continue
		}
		c.changing = true
		for _, id := range cm.apps {
			c.held[id] = true
		}
		st := c.s.store
		c.submit(&write{
			What:     cm.what,
			Deadline: m.deadline,
			Fn: func(ctx context.Context) error {
				return st.Atomically(ctx, func(tx *store.Tx) error {
					for _, fn := range cm.writes {
						if err := fn(ctx, tx); err != nil {
							return err
						}
					}
					return nil
				})
			},
			Done: func(c *core, err error) {
				c.changing = false
				clear(c.held)
				if err != nil {
					for _, fn := range cm.otherwise {
						fn(c)
					}
					m.finish(c, &errUnavailable{err})
				} else {
					for _, fn := range cm.then {
						fn(c)
					}
					m.finish(c, nil)
				}
				c.nextChange()
			},
		})
	}
	if len(c.waiting) == 0 {
		c.waiting = nil
	}
}
