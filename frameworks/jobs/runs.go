package jobs

import (
	"context"
	"maps"
	"slices"
	"time"

	"corral/frameworks/jobs/run"
	"corral/frameworks/jobs/store"
	"corral/kernel/mesos"
)

// event handles one event from the kernel.
func (c *core) event(ctx context.Context, ev *mesos.Event) {
	switch ev.Type {
	case mesos.EventSubscribed:
		c.subscribed = true
		// Offers of an earlier subscription (say, from a master that has
		// since failed over) are void: launching on them only bounces.
		// Holding none also makes the next launch round revive at once.
		clear(c.offers)
		c.revivedAt = time.Time{}
		id := ev.Subscribed.FrameworkID.Value
		for {
			err := c.store.SetFrameworkID(ctx, id)
			if err == nil || ctx.Err() != nil {
				break
			}
			c.s.log.Warn("storing framework id failed; retrying", "err", err)
			time.Sleep(time.Second)
		}
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
		for i := range ev.Offers.Offers {
			o := ev.Offers.Offers[i]
			c.offers[o.ID.Value] = &o
		}
	case mesos.EventRescind:
		delete(c.offers, ev.Rescind.OfferID.Value)
	case mesos.EventUpdate:
		c.update(ctx, ev.Update.Status)
	case mesos.EventError:
		c.s.log.Error("kernel error event", "message", ev.Error.Message)
		c.subscribed = false
	}
}

// update applies a task status to its run. The run's new state is stored
// before the update is acknowledged, so a crash loses nothing: the agent
// sends the update again.
func (c *core) update(ctx context.Context, st mesos.TaskStatus) {
	tid := st.TaskID.Value
	now := time.Now()
	// Acknowledged only once what this update changed is durable (flush).
	ack := func() {
		if st.UUID == "" {
			return
		}
		agent := ""
		if st.AgentID != nil {
			agent = st.AgentID.Value
		}
		c.pendAcks = append(c.pendAcks, func(ctx context.Context) { _ = c.client.Acknowledge(ctx, agent, tid, st.UUID) })
	}
	id, ok := c.byTask[tid]
	rs := c.runs[id]
	if !ok || rs == nil {
		// Maybe a run started by an earlier leader and already finished
		// here; otherwise a task nobody owns: it must not run.
		if r, err := c.store.RunByTask(ctx, tid); err == nil && active(r.State) {
			c.track(r)
			rs = c.runs[r.ID]
		} else {
			if !st.State.Terminal() && st.State != mesos.TaskUnknown {
				agent := ""
				if st.AgentID != nil {
					agent = st.AgentID.Value
				}
				c.s.log.Warn("killing a task no run owns", "task", tid)
				c.call(func(ctx context.Context) { _ = c.client.Kill(ctx, tid, agent) })
			}
			ack()
			return
		}
	}
	var err error
	switch st.State {
	case mesos.TaskUnreachable:
		// Maybe back later; given up on after UnreachableTimeout (timeouts).
		if rs.unreachableSince.IsZero() {
			rs.unreachableSince = now
		}
	case mesos.TaskStaging, mesos.TaskStarting, mesos.TaskKilling:
		// Nothing to record: still starting.
		rs.unreachableSince = time.Time{}
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
		err = c.conclude(rs, v, now)
	}
	if err != nil {
		c.s.log.Warn("cannot record a run's status; not acknowledging it", "run", rs.run.ID, "err", err)
		return
	}
	ack()
}

// failed ends an attempt that failed for a reason the scheduler found
// (its task unreachable for too long): retried while attempts remain,
// otherwise the run fails.
func (c *core) failed(rs *runState, reason string, exit *int, now time.Time) error {
	v := run.Fail(reason, rs.run.Attempt, rs.run.MaxAttempts, c.retryBackoff(rs.run.Job))
	v.Exit = exit
	return c.conclude(rs, v, now)
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
func (c *core) conclude(rs *runState, v run.Verdict, now time.Time) error {
	switch v.Outcome {
	case run.Succeeded:
		return c.finish(rs, stateSucceeded, "", v.Exit, now)
	case run.Killed:
		return c.finish(rs, stateKilled, v.Reason, nil, now)
	case run.Failed:
		return c.finish(rs, stateFailed, v.Reason, v.Exit, now)
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
	return nil
}

// finish ends a run: stored, counted in the job's stats, and — on success,
// or failure of a softError job — offered to its children.
func (c *core) finish(rs *runState, state, reason string, exit *int, now time.Time) error {
	ctx := context.Background()
	r := rs.run
	r.State = state
	r.Reason = reason
	r.ExitStatus = exit
	r.FinishedAt = &now
	js := c.jobs[r.Job]
	counted := state == stateSucceeded || state == stateFailed
	fire := state == stateSucceeded || (state == stateFailed && js != nil && js.job.SoftError)
	if fire && c.hasChildren(r.Job) {
		// Children are fired from the stored outcome: write it now.
		if err := c.store.UpdateRun(ctx, r); err != nil {
			return err
		}
		delete(c.pendRuns, r.ID)
		if counted {
			if err := c.store.RecordResult(ctx, r.Job, state == stateSucceeded, now); err != nil {
				c.s.log.Warn("cannot record job stats", "job", r.Job, "err", err)
			}
		}
	} else {
		c.pend(r)
		if counted {
			c.pendResults = append(c.pendResults, store.Result{Job: r.Job, Success: state == stateSucceeded, At: now})
		}
	}
	c.untrack(r.ID)
	if fire && c.hasChildren(r.Job) {
		children, err := c.store.MarkParentDone(ctx, r.Job, r.ID, func(child string) store.Run {
			q := store.Run{Job: child, Trigger: "dependency", State: stateQueued, MaxAttempts: 1, QueuedAt: now}
			if cj := c.jobs[child]; cj != nil {
				q.MaxAttempts = cj.job.Retries + 1
				if cj.job.Disabled {
					q.State = stateSkipped
					q.Reason = "job is disabled"
					q.FinishedAt = &now
				}
			}
			return q
		})
		if err != nil {
			c.s.log.Warn("cannot fire dependent jobs", "job", r.Job, "run", r.ID, "err", err)
		}
		for _, ch := range children {
			if ch.State == stateQueued {
				c.track(ch)
			}
			c.s.bus.Publish("run_queued", runEvent(ch))
		}
	}
	c.s.bus.Publish("run_"+lower(state), runEvent(r))
	return nil
}

// pend queues a run's new state for the next flush.
func (c *core) pend(r store.Run) {
	c.pendRuns[r.ID] = r
}

// flushRuns writes the queued run states and results in one transaction
// and one round trip, then sends the acknowledgements that waited for
// them. If the database cannot take them, everything stays queued for the
// next iteration and nothing is acknowledged: agents resend meanwhile.
func (c *core) flushRuns(ctx context.Context) {
	if len(c.pendRuns) == 0 && len(c.pendResults) == 0 && len(c.pendAcks) == 0 {
		return
	}
	runs := make([]store.Run, 0, len(c.pendRuns))
	for _, r := range c.pendRuns {
		runs = append(runs, r)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := c.store.ApplyRunChanges(wctx, runs, c.pendResults)
	cancel()
	if err != nil {
		c.s.log.Warn("cannot record run changes; retrying before acknowledging", "runs", len(runs), "err", err)
		return
	}
	clear(c.pendRuns)
	c.pendResults = c.pendResults[:0]
	for _, fn := range c.pendAcks {
		c.ack(fn)
	}
	c.pendAcks = c.pendAcks[:0]
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
