package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"corral/frameworks/internal/place"
	"corral/frameworks/jobs/job"
	"corral/frameworks/jobs/run"
	"corral/frameworks/jobs/store"
	"corral/kernel/mesos"
)

// event handles one event from the kernel.
func (c *core) event(ev *mesos.Event) {
	switch ev.Type {
	case mesos.EventSubscribed:
		c.subscribed = true
		// Offers of an earlier subscription (say, from a master that has
		// since failed over) are void: launching on them only bounces.
		// Holding none also makes the next launch round revive at once.
		clear(c.offers)
		c.revivedAt = time.Time{}
		id := ev.Subscribed.FrameworkID.Value
		// Stored with the next batch; nothing launches before (launch).
		c.fid = id
		var tasks []mesos.ReconcileTask
		for _, rs := range c.runs {
			if rs.run.TaskID != "" && (rs.run.State == stateStarting || rs.run.State == stateRunning) {
				rt := mesos.ReconcileTask{TaskID: mesos.ID{Value: rs.run.TaskID}}
				if rs.run.AgentID != "" {
					rt.AgentID = &mesos.ID{Value: rs.run.AgentID}
				}
				tasks = append(tasks, rt)
			}
		}
		c.call(func(ctx context.Context) {
			if len(tasks) > 0 {
				_ = c.client.Reconcile(ctx, tasks)
			}
			_ = c.client.Reconcile(ctx, nil)
		})
		c.s.log.Info("subscribed", "framework", id, "active_runs", len(c.runs))
	case mesos.EventOffers:
		now := time.Now()
		for i := range ev.Offers.Offers {
			o := ev.Offers.Offers[i]
			if place.Unavailable(&o, now) {
				// Its agent is going away (maintenance): no run starts
				// there. Asked again in a minute, as the window may move.
				oid := o.ID
				c.call(func(ctx context.Context) {
					_ = c.client.Decline(ctx, []mesos.ID{oid}, &mesos.Filters{RefuseSeconds: fsecs(60)})
				})
				continue
			}
			c.offers[o.ID.Value] = &o
		}
	case mesos.EventRescind:
		delete(c.offers, ev.Rescind.OfferID.Value)
	case mesos.EventUpdate:
		c.update(ev.Update.Status)
	case mesos.EventError:
		c.s.log.Error("kernel error event", "message", ev.Error.Message)
		c.subscribed = false
	}
}

// update applies a task status to its run. The run's new state is stored
// before the update is acknowledged, so a crash loses nothing: the agent
// sends the update again.
func (c *core) update(st mesos.TaskStatus) {
	tid := st.TaskID.Value
	now := time.Now()
	id, ok := c.byTask[tid]
	rs := c.runs[id]
	if !ok || rs == nil {
		// Maybe a run started by an earlier leader and already finished
		// here; otherwise a task nobody owns: it must not run. The writer
		// looks it up (lookedUp handles the answer).
		c.lookUp(st)
		return
	}
	switch st.State {
	case mesos.TaskUnreachable:
		// Maybe back later; given up on after UnreachableTimeout (timeouts).
		if rs.unreachableSince.IsZero() {
			rs.unreachableSince = now
		}
	case mesos.TaskStaging, mesos.TaskStarting, mesos.TaskKilling:
		// Nothing to record: still starting. Nothing waits for a batch,
		// so the agent may send the next update at once.
		rs.unreachableSince = time.Time{}
		if ack := c.ackOf(st); ack != nil {
			c.ack(ack)
		}
		return
	case mesos.TaskRunning:
		rs.unreachableSince = time.Time{}
		if rs.run.State != stateRunning {
			r := rs.run
			r.State = stateRunning
			// When the task started on its agent, not when we heard of it.
			started := now
			if st.Timestamp > 0 {
				sec := float64(st.Timestamp)
				started = time.Unix(0, int64(sec*1e9))
			}
			r.StartedAt = &started
			if js := c.jobs[r.Job]; js != nil && js.job.TimeoutSeconds > 0 {
				dl := started.Add(time.Duration(js.job.TimeoutSeconds * float64(time.Second)))
				r.Deadline = &dl
			}
			c.pend(r)
			rs.run = r
			c.s.bus.Publish("run_running", runEvent(r))
		}
	default: // terminal, or TASK_UNKNOWN
		v := run.Judge(run.Ending{State: st.State, Reason: st.Reason, Message: st.Message, Kill: rs.kill, FailAfterKill: rs.failAfterKill},
			rs.run.Attempt, rs.run.MaxAttempts, c.retryBackoff(rs.run.Job))
		c.conclude(rs, v, now)
	}
	c.ackAfterFlush(st)
}

// ackAfterFlush acknowledges st once what it changed is durable: with the
// next batch (flushRuns).
func (c *core) ackAfterFlush(st mesos.TaskStatus) {
	if ack := c.ackOf(st); ack != nil {
		c.pendAcks = append(c.pendAcks, ack)
	}
}

// ackOf is the acknowledgement of st; nil if it needs none (no UUID).
func (c *core) ackOf(st mesos.TaskStatus) func(context.Context) {
	if st.UUID == "" {
		return nil
	}
	agent := ""
	if st.AgentID != nil {
		agent = st.AgentID.Value
	}
	tid, uuid := st.TaskID.Value, st.UUID
	return func(ctx context.Context) { _ = c.client.Acknowledge(ctx, agent, tid, uuid) }
}

// maxLookups bounds the updates waiting for lookups; more are dropped
// unacknowledged (their agents send them again).
const maxLookups = 1024

// lookUp has the writer find the run of a task no tracked run owns.
// Updates of a task already being looked up wait for that lookup.
func (c *core) lookUp(st mesos.TaskStatus) {
	tid := st.TaskID.Value
	if waiting, ok := c.lookups[tid]; ok {
		if len(waiting) < 16 {
			c.lookups[tid] = append(waiting, st)
		}
		return
	}
	if len(c.lookups) >= maxLookups || !c.canSubmit() {
		c.s.log.Warn("too many lookups waiting; the update will come again", "task", tid, "lookups", len(c.lookups))
		return
	}
	c.lookups[tid] = []mesos.TaskStatus{st}
	db := c.store
	var r store.Run
	c.submit(&write{
		What: "looking up task " + tid,
		Fn: func(ctx context.Context) error {
			var err error
			r, err = db.RunByTask(ctx, tid)
			return err
		},
		Deadline: time.Now().Add(attemptTimeout),
		Done:     func(c *core, err error) { c.lookedUp(tid, r, err) },
	})
}

// lookedUp handles the updates of a task looked up: an active run that
// this term does not know (an earlier leader's) is tracked and the updates
// applied to it; otherwise the task belongs to no run and must not run.
// If the lookup failed the updates are dropped unacknowledged, to come
// again.
func (c *core) lookedUp(tid string, r store.Run, err error) {
	statuses := c.lookups[tid]
	delete(c.lookups, tid)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		c.s.log.Warn("cannot look up the run of a task; its update will come again", "task", tid, "err", err)
		return
	}
	if err == nil && active(r.State) && c.runs[r.ID] == nil && c.gone[r.ID].IsZero() {
		c.track(r)
		for _, st := range statuses {
			c.update(st)
		}
		return
	}
	for _, st := range statuses {
		if _, owned := c.byTask[tid]; owned {
			c.update(st) // tracked meanwhile
			continue
		}
		if !st.State.Terminal() && st.State != mesos.TaskUnknown {
			agent := ""
			if st.AgentID != nil {
				agent = st.AgentID.Value
			}
			c.s.log.Warn("killing a task no run owns", "task", tid)
			c.call(func(ctx context.Context) { _ = c.client.Kill(ctx, tid, agent) })
		}
		c.ackAfterFlush(st)
	}
}

// failed ends an attempt that failed for a reason the scheduler found
// (its task unreachable for too long): retried while attempts remain,
// otherwise the run fails.
func (c *core) failed(rs *runState, reason string, exit *int, now time.Time) {
	v := run.Fail(reason, rs.run.Attempt, rs.run.MaxAttempts, c.retryBackoff(rs.run.Job))
	v.Exit = exit
	c.conclude(rs, v, now)
}

// retryBackoff is the base delay between attempts of job's runs.
func (c *core) retryBackoff(job string) time.Duration {
	if js := c.jobs[job]; js != nil {
		return time.Duration(js.job.RetryBackoffSeconds * float64(time.Second))
	}
	return 10 * time.Second
}

// conclude applies the verdict on an ended attempt: the run finishes, or
// is queued for another attempt.
func (c *core) conclude(rs *runState, v run.Verdict, now time.Time) {
	switch v.Outcome {
	case run.Succeeded:
		c.finish(rs, stateSucceeded, "", v.Exit, now)
		return
	case run.Killed:
		c.finish(rs, stateKilled, v.Reason, nil, now)
		return
	case run.Failed:
		c.finish(rs, stateFailed, v.Reason, v.Exit, now)
		return
	}
	r := rs.run
	delete(c.byTask, r.TaskID)
	r.Attempt++
	if v.Free {
		r.MaxAttempts++
	}
	r.State = stateQueued
	nb := now.Add(v.Delay)
	r.NotBefore = &nb
	r.TaskID, r.AgentID, r.Host, r.Sandbox = "", "", "", ""
	r.StartedAt, r.Deadline = nil, nil
	r.ExitStatus = v.Exit
	r.Reason = v.Reason
	c.pend(r)
	rs.run = r
	rs.kill, rs.failAfterKill = "", false
	c.s.bus.Publish("run_retrying", runEvent(r))
}

// finish ends a run: stored, counted in the job's stats, and — on success,
// or failure of a softError job — offered to its children, in the same
// batch, after its end (children are fired from the stored outcome).
func (c *core) finish(rs *runState, state store.State, reason string, exit *int, now time.Time) {
	r := rs.run
	r.State = state
	r.Reason = reason
	r.ExitStatus = exit
	r.FinishedAt = &now
	js := c.jobs[r.Job]
	var hooks []job.Webhook
	owner := ""
	if js != nil {
		hooks, owner = js.job.Webhooks, js.job.Owner
	}
	// Whom to tell is decided now, from the job as it is: the
	// notifications are stored with the run's end.
	r.Notify = notifyTargets(hooks, owner, &c.s.cfg, state)
	counted := state == stateSucceeded || state == stateFailed
	fire := state == stateSucceeded || (state == stateFailed && js != nil && js.job.SoftError)
	c.pend(r)
	if counted {
		c.pendResults = append(c.pendResults, store.Result{Job: r.Job, Success: state == stateSucceeded, At: now})
	}
	if fire && c.hasChildren(r.Job) {
		// What each child's run looks like is decided here: the writer
		// must not read the jobs.
		children := map[string]store.Run{}
		for name, cj := range c.jobs {
			if !slices.Contains(cj.job.Parents, r.Job) {
				continue
			}
			q := store.Run{Job: name, Trigger: "dependency", State: stateQueued, MaxAttempts: cj.job.Retries + 1, QueuedAt: now}
			if cj.job.Disabled {
				q.State = stateSkipped
				q.Reason = "job is disabled"
				q.FinishedAt = &now
				q.Notify = notifyTargets(cj.job.Webhooks, cj.job.Owner, &c.s.cfg, stateSkipped)
			}
			children[name] = q
		}
		c.pendParents = append(c.pendParents, parentDone{job: r.Job, run: r.ID, at: now, children: children})
	}
	c.untrack(r.ID)
	c.gone[r.ID] = now
	c.s.bus.Publish("run_"+lower(string(state)), runEvent(r))
}

// childrenComing reports whether finished runs wait to fire their
// children: the loop then keeps (or revives) offers, since the children's
// runs are about to be queued.
func (c *core) childrenComing() bool { return len(c.pendParents) > 0 || c.firing > 0 }

// parentDone is a finished run whose children are to be fired.
type parentDone struct {
	job      string
	run      int64
	at       time.Time
	children map[string]store.Run // the run each child gets, by child
}

// queuedRun is MarkParentDone's queuedRun for p.
func (p parentDone) queuedRun(child string) store.Run {
	if q, ok := p.children[child]; ok {
		return q
	}
	return store.Run{Job: child, Trigger: "dependency", State: stateQueued, MaxAttempts: 1, QueuedAt: p.at}
}

// pend queues a run's new state for the next batch.
func (c *core) pend(r store.Run) {
	c.pendRuns[r.ID] = r
}

// durable returns a channel that gets nil once every run change made so
// far is durable, or the error that kept them from being stored.
func (c *core) durable() <-chan error {
	ch := make(chan error, 1)
	c.waiters = append(c.waiters, ch)
	return ch
}

// runBatch is the run changes of one flush, and what waits for them.
type runBatch struct {
	fid     string
	runs    []store.Run
	results []store.Result
	parents []parentDone
	acks    []func(context.Context)
	waiters []chan error

	// notified: some of the runs, or of the children the parents get,
	// come with notifications.
	notified bool

	// Progress, kept by the writer across attempts: the framework id is
	// stored once, then the runs, results and parents together (stored;
	// marked counts the parents done then, all of them); children are
	// the runs that created.
	fidStored, stored bool
	marked            int
	children          []store.Run
}

// write stores the batch: the framework id, then the runs, the results
// and each parent's children in one transaction (one commit, which a
// dependency chain waits for at every hop). A parent whose children the
// database refuses for good (store.Permanent) is skipped, in its own
// savepoint, with a warning; any other failure undoes the whole batch,
// and the writer tries it again.
func (b *runBatch) write(ctx context.Context, st *store.Store, log *slog.Logger) error {
	if b.fid != "" && !b.fidStored {
		if err := st.SetFrameworkID(ctx, b.fid); err != nil {
			return err
		}
		b.fidStored = true
	}
	if b.stored || (len(b.runs) == 0 && len(b.results) == 0 && len(b.parents) == 0) {
		b.stored = true
		return nil
	}
	var children []store.Run
	err := st.Atomically(ctx, func(tx *store.Tx) error {
		children = nil
		if err := tx.ApplyRunChanges(ctx, b.runs, b.results); err != nil {
			return err
		}
		for _, p := range b.parents {
			var made []store.Run
			err := tx.Nested(ctx, func(tx *store.Tx) error {
				var err error
				made, err = tx.MarkParentDone(ctx, p.job, p.run, p.queuedRun)
				return err
			})
			if err != nil && !store.Permanent(err) {
				return err
			}
			if err != nil {
				log.Warn("cannot fire dependent jobs", "job", p.job, "run", p.run, "err", err)
			}
			children = append(children, made...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	b.stored, b.marked, b.children = true, len(b.parents), children
	return nil
}

// flushRuns hands the run changes made since the last batch to the writer
// as one batch, unless a batch is still with it: then they wait for the
// next, so that nothing piles up while Postgres is away. The
// acknowledgements and API answers that waited for them go out once the
// batch is durable (flushed); until then agents resend their updates.
func (c *core) flushRuns() {
	if c.flushing || !c.canSubmit() {
		return
	}
	if len(c.pendRuns) == 0 && len(c.pendResults) == 0 && len(c.pendParents) == 0 && len(c.pendAcks) == 0 && len(c.waiters) == 0 && c.fid == "" {
		return
	}
	b := &runBatch{fid: c.fid, results: c.pendResults, parents: c.pendParents, acks: c.pendAcks, waiters: c.waiters}
	for _, r := range c.pendRuns {
		b.runs = append(b.runs, r)
		b.notified = b.notified || len(r.Notify) > 0
	}
	for _, p := range b.parents {
		for _, q := range p.children {
			b.notified = b.notified || len(q.Notify) > 0
		}
	}
	slices.SortFunc(b.runs, func(x, y store.Run) int { return cmp.Compare(x.ID, y.ID) })
	c.fid = ""
	clear(c.pendRuns)
	c.pendResults, c.pendParents, c.pendAcks, c.waiters = nil, nil, nil, nil
	c.flushing, c.firing = true, len(b.parents)
	st, log := c.store, c.s.log
	c.submit(&write{
		What: fmt.Sprintf("%d run changes", len(b.runs)),
		Fn:   func(ctx context.Context) error { return b.write(ctx, st, log) },
		Done: func(c *core, err error) { c.flushed(b, err) },
	})
}

// flushed handles a batch's outcome: children are tracked, and the
// acknowledgements and answers go out. A batch refused for good is
// dropped (retrying cannot cure it) and its updates acknowledged all the
// same, or agents would resend them for ever; the API is told.
func (c *core) flushed(b *runBatch, err error) {
	c.flushing, c.firing = false, 0
	for _, ch := range b.children {
		if ch.State == stateQueued && c.runs[ch.ID] == nil && c.gone[ch.ID].IsZero() {
			c.track(ch)
		}
		c.s.bus.Publish("run_queued", runEvent(ch))
	}
	if err != nil && !store.Permanent(err) {
		// Not expected (batches are retried until they succeed): keep it
		// for the next batch.
		c.s.log.Warn("cannot record run changes; will retry", "runs", len(b.runs), "err", err)
		c.unflush(b)
		return
	}
	if err != nil {
		c.s.log.Error("run changes refused by the database; dropping them", "runs", len(b.runs), "err", err)
	} else if b.notified {
		c.notes.poke()
	}
	for _, fn := range b.acks {
		c.ack(fn)
	}
	for _, w := range b.waiters {
		w <- err
	}
}

// unflush puts a batch that was not stored back in front of what changed
// since.
func (c *core) unflush(b *runBatch) {
	if c.fid == "" && !b.fidStored {
		c.fid = b.fid
	}
	if !b.stored {
		for _, r := range b.runs {
			if _, newer := c.pendRuns[r.ID]; !newer {
				c.pendRuns[r.ID] = r
			}
		}
		c.pendResults = append(b.results, c.pendResults...)
	}
	c.pendParents = append(b.parents[b.marked:], c.pendParents...)
	c.pendAcks = append(b.acks, c.pendAcks...)
	c.waiters = append(b.waiters, c.waiters...)
}

// hasChildren reports whether any job depends on job.
func (c *core) hasChildren(name string) bool {
	for _, js := range c.jobs {
		for _, p := range js.job.Parents {
			if p == name {
				return true
			}
		}
	}
	return false
}

func lower(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if ch >= 'A' && ch <= 'Z' {
			b[i] = ch + 32
		}
	}
	return string(b)
}

// runEvent is an event payload describing a run.
func runEvent(r store.Run) map[string]any {
	return map[string]any{"job": r.Job, "runId": r.ID, "state": r.State, "trigger": r.Trigger, "attempt": r.Attempt,
		"scheduledFor": r.ScheduledFor, "taskId": r.TaskID, "reason": r.Reason}
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
