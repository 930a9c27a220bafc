package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// RegisterCheck decides the id of an agent that registers with agentID
// ("" for a new agent) and reg, or refuses it. admit is the registry write
// to make durable before Register; it is nil when the registry already
// holds the agent as admitted with this info: after a master fails over,
// thousands of agents re-register at once, unchanged.
func (c *Core) RegisterCheck(agentID string, reg *agentproto.Register) (id string, admit *AdmitAgent, err error) {
	id = agentID
	if id == "" {
		id = c.nextID("S")
	}
	if m, down := c.downMachine(reg.Info.Hostname, reg.Info.Endpoint); down {
		return "", nil, fmt.Errorf("machine %s is DOWN for maintenance; agents may register there after STOP_MAINTENANCE", m)
	}
	info, _ := json.Marshal(reg.Info)
	if a := c.agents[id]; a != nil {
		if a.status == agentGone {
			return "", nil, fmt.Errorf("agent %s has been marked gone; start it with a fresh work dir", id)
		}
		if a.admitted != nil && (a.status == agentRecovered || a.status == agentRegistered) && bytes.Equal(info, a.admitted) {
			return id, nil, nil
		}
	}
	return id, &AdmitAgent{ID: id, Hostname: reg.Info.Hostname, Info: info}, nil
}

// Register admits an agent, whose admission is durable, on a new
// connection and rebuilds its tasks from what it reports. Tasks of removed
// frameworks are killed, and so are tasks of frameworks that are not
// partition-aware when the agent had been marked unreachable (they were
// reported lost). Tasks the master believes the agent runs but that it did
// not report are sent for reconciliation.
func (c *Core) Register(id string, reg *agentproto.Register, conn string, now time.Time) Effects {
	a := c.agents[id]
	if a == nil {
		a = &agent{id: id, tasks: map[string]*task{}, executors: map[string]*executor{}, registeredAt: now}
		c.agents[id] = a
	}
	wasUnreachable := a.status == agentUnreachable
	if a.conn != "" && a.conn != conn {
		c.closeAgent(a)
	}
	c.removeAgentOffers(id)
	a.setInfo(reg.Info)
	a.admitted, _ = json.Marshal(reg.Info)
	a.status = agentRegistered
	a.conn = conn
	a.lastSeen = now
	a.unreachableAt = time.Time{}
	c.alloc.RemoveAgent(id)
	c.alloc.AddAgent(id, a.total)
	c.alloc.SetAgentActive(id, !a.deactivated)

	c.sendAgent(a, &agentproto.Event{Type: agentproto.EventRegistered, Registered: &agentproto.Registered{
		AgentID: id, ConnectionID: conn, HeartbeatIntervalSeconds: c.cfg.AgentPingInterval.Seconds(),
	}})

	reported := map[string]bool{}
	var added []*task // new to this master: TASK_ADDED
	for _, rt := range reg.Tasks {
		tid := rt.TaskInfo.TaskID.Value
		if tid == "" || rt.FrameworkID == "" {
			c.log(LevelWarn, "ignoring a reported task without task or framework id", "agent", id)
			continue
		}
		reported[tid] = true
		f := c.frameworks[rt.FrameworkID]
		if f == nil && c.removedIDs[rt.FrameworkID] {
			c.sendAgent(a, &agentproto.Event{Type: agentproto.EventKill, Kill: &agentproto.Kill{FrameworkID: rt.FrameworkID, TaskID: tid}})
			continue
		}
		if f == nil {
			f = &framework{id: rt.FrameworkID, tasks: map[string]*task{}, offers: map[string]*offer{}, suppressed: map[string]bool{},
				state: fwDisconnected, disconnectedAt: now, registeredAt: now, graceUntil: now.Add(c.cfg.AgentReregisterTimeout)}
			if rt.FrameworkInfo != nil {
				f.info = *rt.FrameworkInfo
				f.failoverTimeout = failoverOf(rt.FrameworkInfo)
			}
			f.info.ID = &mesos.ID{Value: f.id}
			f.roles = f.info.EffectiveRoles()
			c.frameworks[f.id] = f
			c.alloc.AddFramework(f.id, f.roles, nil)
			c.alloc.SetFrameworkActive(f.id, false)
			c.persistFramework(f)
		}
		killIt := f.state == fwRemoved || c.removedIDs[f.id] || (wasUnreachable && !f.partitionAware())
		if killIt && !rt.State.Terminal() {
			c.sendAgent(a, &agentproto.Event{Type: agentproto.EventKill, Kill: &agentproto.Kill{FrameworkID: f.id, TaskID: tid}})
		}
		if killIt {
			continue
		}
		t := f.tasks[tid]
		if t == nil || t.agentID != id {
			res, _ := resource.FromWire(rt.TaskInfo.Resources)
			t = &task{frameworkID: f.id, agentID: id, info: rt.TaskInfo, resources: res, role: roleOf(rt.TaskInfo.Resources, f), startedAt: now}
			f.tasks[tid] = t
			added = append(added, t)
		}
		a.tasks[tid] = t
		t.state = rt.State
		if rt.Status != nil {
			t.status = *rt.Status
		} else {
			t.status = mesos.TaskStatus{TaskID: rt.TaskInfo.TaskID, State: rt.State, AgentID: &mesos.ID{Value: id}}
		}
		t.recovered = rt.State.Terminal()
		if !t.recovered {
			c.alloc.Allocate(id, f.id, t.role, t.resources)
		}
		if t.killRequested {
			c.sendAgent(a, &agentproto.Event{Type: agentproto.EventKill, Kill: &agentproto.Kill{FrameworkID: f.id, TaskID: tid}})
			t.killRequested = false
		}
	}
	c.registerExecutors(a, reg.Executors, now)
	var missing []agentproto.ReconcileTask
	for _, tid := range sortedKeys(a.tasks) {
		if t := a.tasks[tid]; !reported[tid] && !t.state.Terminal() {
			missing = append(missing, agentproto.ReconcileTask{FrameworkID: t.frameworkID, TaskID: tid})
			// Still in use until the agent answers for it.
			if !t.recovered {
				c.alloc.Allocate(id, t.frameworkID, t.role, t.resources)
			}
		}
	}
	if wasUnreachable {
		// The shell's admission was queued before the unreachable mark;
		// write it again so the registry ends admitted.
		c.write(AdmitAgent{ID: id, Hostname: reg.Info.Hostname, Info: a.admitted})
	}
	if len(missing) > 0 {
		c.sendAgent(a, &agentproto.Event{Type: agentproto.EventReconcile, Reconcile: &agentproto.Reconcile{Tasks: missing}})
	}
	if a.drain != nil && a.drain.State == DrainDraining {
		a.drainKilled = nil // the drain goes on, on this connection
		c.drainKills(a, now)
		c.checkDrained(a, now)
	}
	c.dirty[id] = true
	c.opAgentAdded(a)
	for _, t := range added {
		c.opTaskAdded(t)
	}
	c.log(LevelInfo, "agent registered", "agent", id, "hostname", a.info.Hostname, "tasks", len(reg.Tasks), "was_unreachable", wasUnreachable)
	return c.take()
}

func roleOf(rs []mesos.Resource, f *framework) string {
	for _, r := range rs {
		if r.AllocationInfo != nil && r.AllocationInfo.Role != "" {
			return r.AllocationInfo.Role
		}
	}
	if len(f.roles) > 0 {
		return f.roles[0]
	}
	return "*"
}

// AgentClosed handles the end of an agent's stream: the agent stays
// registered until its heartbeats time out (it may just be reconnecting),
// but its offers are rescinded. A stale connection changes nothing.
func (c *Core) AgentClosed(id, conn string, now time.Time) Effects {
	if a := c.agents[id]; a != nil && a.conn != "" && a.conn == conn {
		c.closeAgent(a)
		c.rescindAgentOffers(id, now)
	}
	return c.take()
}

// AgentCall handles an agent's HEARTBEAT (updates empty) or UPDATE on
// connection conn. ok is false, and nothing changes, when the agent is not
// registered on that connection: it must register again.
func (c *Core) AgentCall(id, conn string, updates []agentproto.StatusUpdate, now time.Time) (fx Effects, ok bool) {
	a := c.agents[id]
	if a == nil || a.conn == "" || a.conn != conn || a.status != agentRegistered {
		return c.take(), false
	}
	a.lastSeen = now
	c.statusUpdates(a, updates, now)
	return c.take(), true
}

// statusUpdates handles the status updates of an agent's UPDATE call.
func (c *Core) statusUpdates(a *agent, ups []agentproto.StatusUpdate, now time.Time) {
	for _, u := range ups {
		tid := u.Status.TaskID.Value
		f := c.frameworks[u.FrameworkID]
		if f == nil || f.state == fwRemoved {
			// Nobody will acknowledge: do it for the framework so the agent
			// can let go of the update.
			c.sendAgent(a, &agentproto.Event{Type: agentproto.EventAcknowledge, Acknowledge: &agentproto.Acknowledge{FrameworkID: u.FrameworkID, TaskID: tid, UUID: u.Status.UUID}})
			if t := a.tasks[tid]; t != nil && u.LatestState.Terminal() {
				delete(a.tasks, tid)
			}
			continue
		}
		t := f.tasks[tid]
		if t != nil && t.agentID == a.id {
			changed := t.state != u.LatestState
			t.state = u.LatestState
			t.status = u.Status
			if changed {
				c.opTaskUpdated(t, u.Status)
			}
			if t.state.Terminal() && !t.recovered {
				t.recovered = true
				c.alloc.Recover(a.id, f.id, t.role, t.resources, 0, now)
				c.dirty[a.id] = true
			}
		}
		st := drainedStatus(a, u.Status, f.partitionAware())
		st.State = stateFor(st.State, f.partitionAware())
		if st.AgentID == nil {
			st.AgentID = &mesos.ID{Value: a.id}
		}
		if t != nil && t.agentID == a.id {
			t.forwarded = &st
			t.statusUpdateState = u.Status.State
		}
		c.sendUpdate(f, st)
		c.fx.Counts.StatusUpdates = append(c.fx.Counts.StatusUpdates, u.Status.State)
	}
	c.checkDrained(a, now)
}

// markUnreachable handles an agent whose heartbeats stopped: its offers are
// rescinded, its tasks reported TASK_UNREACHABLE (or TASK_LOST), and every
// framework gets a FAILURE event.
func (c *Core) markUnreachable(a *agent, why string, now time.Time) {
	c.log(LevelWarn, "agent unreachable", "agent", a.id, "hostname", a.info.Hostname, "why", why)
	a.status = agentUnreachable
	a.admitted = nil
	a.unreachableAt = now
	if a.conn != "" {
		c.closeAgent(a)
	}
	c.rescindAgentOffers(a.id, now)
	c.opAgentRemoved(a)
	// Its resources leave the cluster (and the shares) until it returns;
	// Register adds it back with the tasks it still runs.
	c.alloc.RemoveAgent(a.id)
	c.write(MarkAgentUnreachable{ID: a.id, At: now})
	msg := fmt.Sprintf("Agent %s (%s) is unreachable: %s", a.id, a.info.Hostname, why)
	for _, tid := range sortedKeys(a.tasks) {
		t := a.tasks[tid]
		f := c.frameworks[t.frameworkID]
		if f == nil || t.state.Terminal() {
			continue
		}
		s := c.statusFromMaster(f, tid, a.id, mesos.TaskUnreachable, mesos.ReasonAgentRemoved, msg, now)
		s.UnreachableTime = &mesos.TimeInfo{Nanoseconds: mesos.Int(now.UnixNano())}
		if f.partitionAware() {
			t.state = mesos.TaskUnreachable
			t.status = s
			c.sendUpdate(f, s)
			continue
		}
		t.state = mesos.TaskLost
		t.status = s
		c.sendUpdate(f, s)
		t.recovered = true
		c.completeTask(f, t)
	}
	for _, fid := range sortedKeys(c.frameworks) {
		c.sendFramework(c.frameworks[fid], &mesos.Event{Type: mesos.EventFailure, Failure: &mesos.Failure{AgentID: &mesos.ID{Value: a.id}}})
	}
}

// Tick runs the periodic checks: agent heartbeats, agents that did not
// re-register after Restore, framework failover timeouts, offer
// timeouts, inverse offers, and drain kills that came due.
func (c *Core) Tick(now time.Time) Effects {
	limit := c.cfg.AgentPingInterval * time.Duration(c.cfg.MaxAgentPingTimeouts)
	var silent, late []string
	for id, a := range c.agents {
		switch {
		case a.status == agentRegistered && now.Sub(a.lastSeen) > limit:
			silent = append(silent, id)
		case a.status == agentRecovered && now.After(a.reregisterUntil):
			late = append(late, id)
		}
	}
	slices.Sort(silent)
	slices.Sort(late)
	for _, id := range silent {
		a := c.agents[id]
		c.markUnreachable(a, fmt.Sprintf("no heartbeat for %s", now.Sub(a.lastSeen).Round(time.Millisecond)), now)
	}
	for _, id := range late {
		c.markUnreachable(c.agents[id], "did not re-register after master failover", now)
	}
	var expired []string
	for id, f := range c.frameworks {
		if f.state == fwDisconnected && now.Sub(f.disconnectedAt) >= f.failoverTimeout && !now.Before(f.graceUntil) {
			expired = append(expired, id)
		}
	}
	slices.Sort(expired)
	for _, id := range expired {
		c.removeFramework(c.frameworks[id], "failover timeout expired", now)
	}
	if t := c.cfg.OfferTimeout; t > 0 {
		var old []string
		for id, o := range c.offers {
			if now.Sub(o.createdAt) > t {
				old = append(old, id)
			}
		}
		slices.Sort(old)
		for _, id := range old {
			o := c.offers[id]
			c.removeOffer(o, true)
			c.alloc.Recover(o.agentID, o.frameworkID, o.role, o.resources, 0, now)
			c.dirty[o.agentID] = true
		}
	}
	c.inverseOffers(now)
	var draining []string
	for id, a := range c.agents {
		if a.drain != nil && a.drain.State == DrainDraining {
			draining = append(draining, id)
		}
	}
	slices.Sort(draining)
	for _, id := range draining {
		c.drainKills(c.agents[id], now)
	}
	return c.take()
}

// HeartbeatFrameworks sends HEARTBEAT on every SUBSCRIBE stream.
func (c *Core) HeartbeatFrameworks() Effects {
	ev := &mesos.Event{Type: mesos.EventHeartbeat}
	for _, f := range c.frameworks {
		c.sendFramework(f, ev)
	}
	return c.take()
}

// HeartbeatAgents sends HEARTBEAT on every agent stream. The event is one
// value, so the shell may encode it once.
func (c *Core) HeartbeatAgents() Effects {
	ev := &agentproto.Event{Type: agentproto.EventHeartbeat}
	for _, a := range c.agents {
		c.sendAgent(a, ev)
	}
	return c.take()
}
