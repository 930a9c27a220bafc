package core

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// Drain states (Mesos' DrainState).
const (
	DrainDraining = "DRAINING"
	DrainDrained  = "DRAINED"
)

// DrainInfo is an agent's drain: its state and how it was asked for.
// MaxGracePeriod, when set, is the drain's deadline from StartedAt (see
// DrainAgent); a drain recorded before StartedAt was kept starts when it
// is restored.
type DrainInfo struct {
	State          string         `json:"state"`
	MaxGracePeriod *time.Duration `json:"max_grace_period,omitempty"`
	MarkGone       bool           `json:"mark_gone,omitempty"`
	StartedAt      time.Time      `json:"started_at,omitzero"`
}

// OpError is an operator call the core refuses: Code is the HTTP status
// Mesos answers with.
type OpError struct {
	Code    int
	Message string
}

func (e *OpError) Error() string { return e.Message }

func opErr(code int, format string, args ...any) *OpError {
	return &OpError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// PutAgentDrain records an agent's deactivation and drain (nil: none).
type PutAgentDrain struct {
	ID          string
	Deactivated bool
	Drain       *DrainInfo
}

// MarkAgentGone records an agent as gone for good.
type MarkAgentGone struct{ ID string }

func (PutAgentDrain) isWrite() {}
func (MarkAgentGone) isWrite() {}

func (w PutAgentDrain) String() string {
	state := "none"
	if w.Drain != nil {
		state = w.Drain.State
	}
	return fmt.Sprintf("agent %s deactivated=%v drain=%s", w.ID, w.Deactivated, state)
}
func (w MarkAgentGone) String() string { return "agent gone " + w.ID }

// knownAgent returns the agent an operator call names, or the 400 Mesos
// answers for one it does not know (or that is gone).
func (c *Core) knownAgent(id string) (*agent, *OpError) {
	a := c.agents[id]
	if a == nil || a.status == agentUnknown {
		return nil, opErr(400, "Unknown agent %q", id)
	}
	if a.status == agentGone {
		return nil, opErr(400, "Agent %q has been marked gone", id)
	}
	return a, nil
}

// setActive turns offers of agent a on or off.
func (c *Core) setActive(a *agent, now time.Time) {
	active := !a.deactivated && a.status == agentRegistered
	c.alloc.SetAgentActive(a.id, active)
	if !active {
		c.rescindAgentOffers(a.id, now)
	}
	c.dirty[a.id] = true
}

func (c *Core) persistDrain(a *agent) {
	var d *DrainInfo
	if a.drain != nil {
		x := *a.drain
		d = &x
	}
	c.write(PutAgentDrain{ID: a.id, Deactivated: a.deactivated, Drain: d})
}

// DeactivateAgent stops offers of an agent's resources; its tasks keep
// running. The deactivation survives master failover.
func (c *Core) DeactivateAgent(id string, now time.Time) (Effects, *OpError) {
	a, e := c.knownAgent(id)
	if e != nil {
		return c.take(), e
	}
	if !a.deactivated {
		a.deactivated = true
		c.persistDrain(a)
		c.log(LevelInfo, "agent deactivated", "agent", id)
	}
	c.setActive(a, now)
	return c.take(), nil
}

// ReactivateAgent resumes offers of a deactivated agent, clearing a
// finished drain. A drain under way cannot be cancelled.
func (c *Core) ReactivateAgent(id string, now time.Time) (Effects, *OpError) {
	a, e := c.knownAgent(id)
	if e != nil {
		return c.take(), e
	}
	switch {
	case a.drain != nil && a.drain.State == DrainDraining:
		return c.take(), opErr(400, "Agent %q is being drained; it can be reactivated once it is DRAINED", id)
	case !a.deactivated:
		return c.take(), opErr(400, "Agent %q is not deactivated", id)
	}
	a.deactivated, a.drain = false, nil
	c.persistDrain(a)
	c.setActive(a, now)
	c.log(LevelInfo, "agent reactivated", "agent", id)
	return c.take(), nil
}

// DrainAgent deactivates an agent and has its tasks killed with the
// drain reason (their terminal updates carry REASON_AGENT_DRAINING).
//
// Without maxGrace every task is killed at once within its own kill
// policy's grace period, as in Mesos. With maxGrace the drain has a
// deadline, maxGrace from now: frameworks with tasks there get inverse
// offers at once, so that they can move their work first, and each task
// still running is killed so that it has ended by the deadline: at the
// deadline less its grace period, min(its kill policy's or the agents'
// default 5 s, maxGrace). A framework that accepts the inverse offer
// has its tasks there killed at once.
//
// Once it holds no live task the agent is DRAINED, or with markGone it
// is marked gone. The drain survives master failover; a disconnected
// agent gets its kills when it re-registers.
func (c *Core) DrainAgent(id string, maxGrace *time.Duration, markGone bool, now time.Time) (Effects, *OpError) {
	a, e := c.knownAgent(id)
	if e != nil {
		return c.take(), e
	}
	if maxGrace != nil && *maxGrace < 0 {
		return c.take(), opErr(400, "'drain_agent.max_grace_period' must not be negative")
	}
	if c.maintenanceWindow(a) != nil {
		return c.take(), opErr(400, "Agent %q is in the maintenance schedule: take its machine down with START_MAINTENANCE, or remove it from the schedule to drain it", id)
	}
	a.deactivated = true
	a.drain = &DrainInfo{State: DrainDraining, MaxGracePeriod: maxGrace, MarkGone: markGone, StartedAt: now}
	a.drainKilled = nil
	c.forgetAnswers(a)
	c.persistDrain(a)
	c.setActive(a, now)
	c.log(LevelInfo, "draining agent", "agent", id, "mark_gone", markGone, "max_grace_period", maxGrace)
	c.inverseOffers(now)
	c.drainKills(a, now)
	c.checkDrained(a, now)
	return c.take(), nil
}

// defaultKillGrace is the grace period a drain assumes for a task whose
// kill policy names none (the agents' default --kill_grace_period); the
// kill tells the agent the grace explicitly.
const defaultKillGrace = 5 * time.Second

// drainKills sends a connected draining agent the kills that are due:
// see DrainAgent. Each task's kill is sent once per connection.
func (c *Core) drainKills(a *agent, now time.Time) {
	d := a.drain
	if a.conn == "" || d == nil || d.State != DrainDraining {
		return
	}
	if a.drainKilled == nil {
		a.drainKilled = map[string]bool{}
	}
	for _, tid := range sortedKeys(a.tasks) {
		t := a.tasks[tid]
		if t.state.Terminal() || a.drainKilled[tid] {
			continue
		}
		var own time.Duration
		if kp := t.info.KillPolicy; kp != nil && kp.GracePeriod != nil {
			own = time.Duration(kp.GracePeriod.Nanoseconds)
		}
		grace := own.Seconds() // 0: the agent's default
		if mg := d.MaxGracePeriod; mg != nil {
			g := min(cmp.Or(own, defaultKillGrace), *mg)
			// Answers are forgotten when a drain starts: an ACCEPT is this
			// drain's.
			accepted := a.inverse != nil && a.inverse.status[t.frameworkID].Status == InverseAccept
			if !accepted && now.Before(d.StartedAt.Add(*mg-g)) {
				continue
			}
			// A zero grace would mean the agent's default: the least it
			// can be told is a nanosecond.
			grace = max(g.Seconds(), 1e-9)
		}
		a.drainKilled[tid] = true
		c.sendAgent(a, &agentproto.Event{Type: agentproto.EventKill, Kill: &agentproto.Kill{FrameworkID: t.frameworkID, TaskID: tid,
			GracePeriodSeconds: grace, Draining: true}})
	}
}

// checkDrained moves a draining agent with no live task to DRAINED, or
// marks it gone when the drain asked for that.
func (c *Core) checkDrained(a *agent, now time.Time) {
	if a.drain == nil || a.drain.State != DrainDraining {
		return
	}
	for _, t := range a.tasks {
		if !t.state.Terminal() {
			return
		}
	}
	if a.drain.MarkGone {
		c.log(LevelInfo, "agent drained; marking it gone", "agent", a.id)
		c.markGone(a, "was marked gone by an operator", now)
		return
	}
	a.drain.State = DrainDrained
	c.persistDrain(a)
	c.log(LevelInfo, "agent drained", "agent", a.id)
}

// MarkAgentGone removes an agent for good: its tasks are reported
// TASK_GONE_BY_OPERATOR (TASK_LOST to frameworks that are not partition
// aware) and it may never register again. Marking a gone agent again
// does nothing.
func (c *Core) MarkAgentGone(id string, now time.Time) (Effects, *OpError) {
	a := c.agents[id]
	if a == nil {
		return c.take(), opErr(404, "Unknown agent %q", id)
	}
	if a.status != agentGone {
		c.markGone(a, "was marked gone by an operator", now)
	}
	return c.take(), nil
}

// markGone removes agent a for good; why ends the message of its tasks'
// updates.
func (c *Core) markGone(a *agent, why string, now time.Time) {
	wasRecovered := a.status == agentRecovered
	a.status = agentGone
	a.admitted = nil
	if a.conn != "" {
		c.closeAgent(a)
	}
	c.removeAgentOffers(a.id)
	c.alloc.RemoveAgent(a.id)
	c.write(MarkAgentGone{ID: a.id})
	c.opAgentRemoved(a)
	if a.drain != nil {
		a.drain.State = DrainDrained
	}
	msg := fmt.Sprintf("Agent %s (%s) %s", a.id, a.info.Hostname, why)
	for _, tid := range sortedKeys(a.tasks) {
		t := a.tasks[tid]
		f := c.frameworks[t.frameworkID]
		delete(a.tasks, tid)
		if f == nil || t.state.Terminal() || wasRecovered {
			// A recovered agent's tasks are not reported (as in Mesos).
			if f != nil && f.tasks[tid] == t && !wasRecovered {
				c.completeTask(f, t)
			}
			continue
		}
		reason := mesos.ReasonAgentRemovedByOperator
		if !f.partitionAware() {
			reason = mesos.ReasonAgentRemoved
		}
		s := c.statusFromMaster(f, tid, a.id, mesos.TaskGoneByOperator, reason, msg, now)
		t.state, t.status, t.recovered = s.State, s, true
		c.sendUpdate(f, s)
		c.completeTask(f, t)
	}
	for k := range a.executors {
		delete(a.executors, k)
	}
	for _, fid := range sortedKeys(c.frameworks) {
		c.sendFramework(c.frameworks[fid], &mesos.Event{Type: mesos.EventFailure, Failure: &mesos.Failure{AgentID: &mesos.ID{Value: a.id}}})
	}
	c.log(LevelWarn, "agent marked gone", "agent", a.id, "hostname", a.info.Hostname)
}

// drainedStatus adjusts an update from a draining agent as Mesos' agent
// does: a kill the drain made is TASK_GONE_BY_OPERATOR for a partition
// aware framework when the drain marks the agent gone.
func drainedStatus(a *agent, st mesos.TaskStatus, partitionAware bool) mesos.TaskStatus {
	if a.drain != nil && a.drain.MarkGone && partitionAware && st.Reason == mesos.ReasonAgentDraining &&
		slices.Contains([]mesos.TaskState{mesos.TaskKilled, mesos.TaskKilling}, st.State) && st.State.Terminal() {
		st.State = mesos.TaskGoneByOperator
	}
	return st
}
