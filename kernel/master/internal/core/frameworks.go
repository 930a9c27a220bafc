package core

import (
	"encoding/json"
	"fmt"
	"time"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// Subscribe handles a SUBSCRIBE arriving on a new stream. It either
// refuses it (refusal is the message of the ERROR event the stream should
// carry, and nothing changes) or activates the framework on the stream:
// a previous stream of the framework gets an ERROR and is closed, the new
// one gets SUBSCRIBED and then the status updates the framework has not
// acknowledged, and its outstanding offers are withdrawn (offers are soft
// state). id is the framework's id, assigned here for a new framework.
func (c *Core) Subscribe(call *mesos.Call, stream string, now time.Time) (id, refusal string, fx Effects) {
	fi := call.Subscribe.FrameworkInfo
	if fi.ID != nil && fi.ID.Value != "" {
		id = fi.ID.Value
		if c.removedIDs[id] {
			return id, "Framework has been removed", c.take()
		}
	} else {
		id = c.nextID("")
	}
	c.subscribe(id, call, stream, now)
	return id, "", c.take()
}

func (c *Core) subscribe(id string, call *mesos.Call, stream string, now time.Time) {
	fi := call.Subscribe.FrameworkInfo
	fi.ID = &mesos.ID{Value: id}
	f := c.frameworks[id]
	opType := OpFrameworkUpdated
	if f == nil {
		f = &framework{id: id, tasks: map[string]*task{}, offers: map[string]*offer{}, registeredAt: now}
		c.frameworks[id] = f
		opType = OpFrameworkAdded
	}
	defer c.opFramework(f, opType)
	if f.stream != "" && f.stream != stream {
		c.closeFramework(f, &mesos.Event{Type: mesos.EventError, Error: &mesos.Error{Message: "Framework failed over"}})
	}
	f.info = fi
	f.roles = fi.EffectiveRoles()
	f.failoverTimeout = failoverOf(&fi)
	f.state = fwConnected
	f.stream = stream
	f.disconnectedAt = time.Time{}
	f.suppressed = map[string]bool{}
	for _, r := range call.Subscribe.SuppressedRoles {
		f.suppressed[r] = true
	}
	// Offers are soft state: withdraw whatever was outstanding. Inverse
	// offers are sent again below, on the new stream.
	c.forgetInverseOffers(id)
	for _, o := range f.offers {
		c.removeOffer(o, false)
		c.alloc.Recover(o.agentID, o.frameworkID, o.role, o.resources, 0, now)
		c.dirty[o.agentID] = true
	}
	c.alloc.AddFramework(id, f.roles, call.Subscribe.SuppressedRoles)
	c.alloc.SetFrameworkActive(id, true)
	c.sendFramework(f, &mesos.Event{Type: mesos.EventSubscribed, Subscribed: &mesos.Subscribed{
		FrameworkID:              mesos.ID{Value: id},
		HeartbeatIntervalSeconds: mesos.Float(c.cfg.FrameworkHeartbeatInterval.Seconds()),
		MasterInfo:               &c.cfg.MasterInfo,
	}})
	for _, tid := range sortedKeys(f.tasks) {
		if t := f.tasks[tid]; t.forwarded != nil {
			c.sendUpdate(f, *t.forwarded)
		}
	}
	for id := range c.agents {
		c.dirty[id] = true
	}
	c.persistFramework(f)
	c.inverseOffers(now)
}

func failoverOf(fi *mesos.FrameworkInfo) time.Duration {
	if fi.FailoverTimeout == nil {
		return 0
	}
	return time.Duration(float64(*fi.FailoverTimeout) * float64(time.Second))
}

// persistFramework writes the framework's current state to the registry.
func (c *Core) persistFramework(f *framework) {
	info, _ := json.Marshal(f.info)
	rf := FrameworkRecord{ID: f.id, Info: info, State: f.state.String(),
		FailoverTimeout: f.failoverTimeout, RegisteredAt: f.registeredAt}
	if !f.disconnectedAt.IsZero() {
		t := f.disconnectedAt
		rf.DisconnectedAt = &t
	}
	if !f.removedAt.IsZero() {
		t := f.removedAt
		rf.RemovedAt = &t
	}
	c.write(PutFramework{Framework: rf})
}

// Disconnected handles the end of a SUBSCRIBE stream: the framework is
// disconnected and its failover timeout starts. A stale stream (the
// framework already re-subscribed on another) changes nothing.
func (c *Core) Disconnected(id, stream string, now time.Time) Effects {
	f := c.frameworks[id]
	if f == nil || f.stream == "" || f.stream != stream {
		return c.take()
	}
	c.closeFramework(f, nil)
	if f.state != fwConnected {
		return c.take()
	}
	f.state = fwDisconnected
	f.disconnectedAt = now
	c.forgetInverseOffers(id)
	for _, o := range f.offers {
		c.removeOffer(o, false)
		c.alloc.Recover(o.agentID, o.frameworkID, o.role, o.resources, 0, now)
		c.dirty[o.agentID] = true
	}
	c.alloc.SetFrameworkActive(id, false)
	c.persistFramework(f)
	c.log(LevelInfo, "framework disconnected", "framework", id, "failover_timeout", f.failoverTimeout)
	return c.take()
}

// removeFramework tears a framework down: its offers go, its tasks are
// killed, its stream is closed and it can never subscribe again.
func (c *Core) removeFramework(f *framework, why string, now time.Time) {
	if f.state == fwRemoved {
		return
	}
	c.log(LevelInfo, "removing framework", "framework", f.id, "why", why)
	c.forgetInverseOffers(f.id)
	for _, o := range f.offers {
		c.removeOffer(o, false)
		c.dirty[o.agentID] = true
	}
	if f.stream != "" {
		c.closeFramework(f, nil)
	}
	agents := map[string]bool{}
	for _, t := range f.tasks {
		agents[t.agentID] = true
	}
	for _, aid := range c.forgetExecutors(f.id) {
		agents[aid] = true
	}
	for _, aid := range sortedKeys(agents) {
		if a := c.agents[aid]; a != nil {
			c.sendAgent(a, &agentproto.Event{Type: agentproto.EventShutdownFramework, ShutdownFramework: &agentproto.ShutdownFramework{FrameworkID: f.id}})
		}
	}
	f.state = fwRemoved
	f.removedAt = now
	c.opFramework(f, OpFrameworkRemoved)
	c.alloc.RemoveFramework(f.id)
	for aid := range agents {
		c.dirty[aid] = true
	}
	c.persistFramework(f)
	// Its tasks are being killed; the agents' terminal updates are
	// acknowledged on its behalf (statusUpdates).
	for tid, t := range f.tasks {
		if a := c.agents[t.agentID]; a != nil && a.tasks[tid] == t {
			delete(a.tasks, tid)
		}
		f.completed = append(f.completed, t)
	}
	f.tasks = map[string]*task{}
	delete(c.frameworks, f.id)
	c.removedIDs[f.id] = true
	c.keepCompleted(f)
}

func (c *Core) keepCompleted(f *framework) {
	c.completed = append(c.completed, f)
	if n := len(c.completed) - maxCompletedFrameworks; n > 0 {
		c.completed = append([]*framework(nil), c.completed[n:]...)
	}
}

// --- scheduler calls -------------------------------------------------------

// Refusal is a scheduler call the core turned down; the call changed
// nothing. Message is for the client.
type Refusal struct {
	// NotSubscribed says the framework exists but has no stream (Mesos
	// answers 403); otherwise the call itself is wrong (400).
	NotSubscribed bool
	Message       string
}

func (r *Refusal) Error() string { return r.Message }

func refuse(format string, args ...any) *Refusal {
	return &Refusal{Message: fmt.Sprintf(format, args...)}
}

// Call handles a scheduler call other than SUBSCRIBE, validated at the
// edge (the call carries the body its type needs), that came with the
// Mesos-Stream-Id stream.
func (c *Core) Call(call *mesos.Call, stream string, now time.Time) (Effects, *Refusal) {
	f := c.frameworks[call.FrameworkID.Value]
	switch {
	case f == nil || f.state == fwRemoved:
		return c.take(), refuse("Framework cannot be found")
	case f.state != fwConnected || f.stream == "":
		return c.take(), &Refusal{NotSubscribed: true, Message: "Framework is not subscribed"}
	case f.stream != stream:
		return c.take(), refuse("The stream ID '%s' included in this request didn't match the stream ID currently associated with framework ID %s", stream, f.id)
	}
	var r *Refusal
	switch call.Type {
	case mesos.CallTeardown:
		c.removeFramework(f, "teardown requested", now)
	case mesos.CallAccept:
		c.accept(f, call.Accept.OfferIDs, call.Accept.Operations, call.Accept.Filters, now)
	case mesos.CallDecline:
		c.decline(f, call.Decline.OfferIDs, call.Decline.Filters, now)
	case mesos.CallRevive:
		var roles []string
		if call.Revive != nil {
			roles = call.Revive.Roles
		}
		if r = checkRoles(f, roles, "revive.roles"); r == nil {
			c.revive(f, roles)
		}
	case mesos.CallSuppress:
		var roles []string
		if call.Suppress != nil {
			roles = call.Suppress.Roles
		}
		if r = checkRoles(f, roles, "suppress.roles"); r == nil {
			c.suppress(f, roles)
		}
	case mesos.CallKill:
		c.kill(f, call.Kill, now)
	case mesos.CallShutdown:
		// A custom executor gets SHUTDOWN. A command task's executor id
		// is its task id; shutting that executor down kills the task.
		// Unknown executors are ignored.
		eid := call.Shutdown.ExecutorID.Value
		if a := c.agents[call.Shutdown.AgentID.Value]; a != nil && a.executors[execKey(f.id, eid)] != nil {
			if !c.sendAgent(a, &agentproto.Event{Type: agentproto.EventShutdownExecutor, ShutdownExecutor: &agentproto.ShutdownExecutor{FrameworkID: f.id, ExecutorID: eid}}) {
				c.log(LevelInfo, "cannot shut an executor down: its agent is not connected", "framework", f.id, "executor", eid, "agent", a.id)
			}
		} else if t := f.tasks[eid]; t != nil && t.agentID == call.Shutdown.AgentID.Value && t.info.Executor == nil {
			c.kill(f, &mesos.Kill{TaskID: call.Shutdown.ExecutorID, AgentID: &call.Shutdown.AgentID}, now)
		}
	case mesos.CallAcknowledge:
		c.acknowledge(f, call.Acknowledge)
	case mesos.CallReconcile:
		c.reconcile(f, call.Reconcile, now)
	case mesos.CallMessage:
		// Best effort, as in Mesos: a message for an executor that is not
		// running (or a command task's) is dropped.
		c.message(f, call.Message)
	case mesos.CallAcceptInverseOffers:
		c.answerInverseOffers(f, call.AcceptInverseOffers, true, now)
	case mesos.CallDeclineInverseOffers:
		c.answerInverseOffers(f, call.DeclineInverseOffers, false, now)
	case mesos.CallRequest:
		// Requests are advisory, as for Mesos' allocator.
	case mesos.CallUpdateFramework:
		r = c.updateFramework(f, call.UpdateFramework, now)
	}
	return c.take(), r
}

func checkRoles(f *framework, roles []string, field string) *Refusal {
	for _, r := range roles {
		if !f.hasRole(r) {
			return refuse("'%s': role '%s' is not one of the framework's roles %v", field, r, f.roles)
		}
	}
	return nil
}

// decline handles DECLINE as Mesos does: each of the framework's offers
// named goes back to the allocator, refused to the framework for the
// filter's time. Offers that are gone or not the framework's are ignored,
// and do not void the others (unlike in an ACCEPT).
func (c *Core) decline(f *framework, ids []mesos.ID, filters *mesos.Filters, now time.Time) {
	refuseFor := time.Duration(refuseSeconds(filters, c.cfg.DefaultRefuseSeconds) * float64(time.Second))
	for _, id := range ids {
		o := c.offers[id.Value]
		if o == nil || o.frameworkID != f.id {
			continue
		}
		c.removeOffer(o, false)
		c.alloc.Recover(o.agentID, f.id, o.role, o.resources, refuseFor, now)
		c.dirty[o.agentID] = true
	}
}

// accept handles ACCEPT. Invalid offers invalidate the whole call, as in
// Mesos: the framework's own offers named in it are released and every
// task in it is answered TASK_DROPPED (or TASK_LOST) with
// REASON_INVALID_OFFERS.
func (c *Core) accept(f *framework, ids []mesos.ID, ops []mesos.Operation, filters *mesos.Filters, now time.Time) {
	refuseFor := time.Duration(refuseSeconds(filters, c.cfg.DefaultRefuseSeconds) * float64(time.Second))
	var own []*offer
	invalid := ""
	if len(ids) == 0 && len(ops) > 0 {
		invalid = "No offers specified"
	}
	seen := map[string]bool{}
	for _, id := range ids {
		o := c.offers[id.Value]
		switch {
		case seen[id.Value]:
			invalid = fmt.Sprintf("Offer %s is listed twice", id.Value)
			continue
		case o == nil:
			invalid = fmt.Sprintf("Offer %s is no longer valid", id.Value)
			continue
		case o.frameworkID != f.id:
			invalid = fmt.Sprintf("Offer %s belongs to another framework", id.Value)
			continue
		}
		seen[id.Value] = true
		if len(own) > 0 && o.agentID != own[0].agentID {
			invalid = "Aggregated offers must belong to the same agent"
		}
		if len(own) > 0 && o.role != own[0].role {
			invalid = "Aggregated offers must be allocated to the same role"
		}
		own = append(own, o)
	}
	for _, o := range own {
		c.removeOffer(o, false)
		c.dirty[o.agentID] = true
	}
	if invalid != "" {
		for _, o := range own {
			c.alloc.Recover(o.agentID, o.frameworkID, o.role, o.resources, 0, now)
		}
		for _, op := range ops {
			if op.Launch == nil {
				continue
			}
			for _, ti := range op.Launch.TaskInfos {
				c.sendUpdate(f, c.statusFromMaster(f, ti.TaskID.Value, ti.AgentID.Value, mesos.TaskDropped, mesos.ReasonInvalidOffers, invalid, now))
			}
		}
		return
	}
	if len(own) == 0 {
		return
	}
	agentID, role := own[0].agentID, own[0].role
	var available resource.Resources
	for _, o := range own {
		available = available.Add(o.resources)
	}
	a := c.agents[agentID]
	format := f.info.ResourceFormat()
	inAccept := map[string]bool{}
	pendingExecs := map[string]*executor{}
	var launch []mesos.TaskInfo
	for _, op := range ops {
		for _, ti := range op.Launch.TaskInfos {
			if a == nil || a.conn == "" || a.status != agentRegistered {
				c.sendUpdate(f, c.statusFromMaster(f, ti.TaskID.Value, agentID, mesos.TaskDropped, mesos.ReasonAgentRemoved, "Agent "+agentID+" is not connected", now))
				continue
			}
			if a.deactivated {
				c.sendUpdate(f, c.statusFromMaster(f, ti.TaskID.Value, agentID, mesos.TaskDropped, mesos.ReasonAgentDraining,
					"Agent "+agentID+" is deactivated or being drained: it takes no new tasks", now))
				continue
			}
			var (
				execInfo mesos.ExecutorInfo
				execRes  resource.Resources
				newExec  bool
			)
			if ti.Executor != nil {
				var reason string
				if reason = checkExecutor(ti.Executor); reason == "" {
					execInfo, execRes, newExec, reason = taskExecutor(f, a, &ti, role, format, pendingExecs)
				}
				if reason != "" {
					c.sendUpdate(f, c.statusFromMaster(f, ti.TaskID.Value, agentID, mesos.TaskError, mesos.ReasonTaskInvalid, fmt.Sprintf("Task %q: %s", ti.TaskID.Value, reason), now))
					continue
				}
			}
			chk := checkTask(&ti, agentID, role, format, available, func(id string) bool { return inAccept[id] || f.tasks[id] != nil }, execRes)
			if chk.reason != "" {
				c.sendUpdate(f, c.statusFromMaster(f, ti.TaskID.Value, agentID, mesos.TaskError, mesos.ReasonTaskInvalid, chk.reason, now))
				continue
			}
			if c.cfg.AuthorizeTask != nil {
				user := f.info.User
				if cmd := ti.Command; cmd == nil && ti.Executor != nil {
					if cmd = ti.Executor.Command; cmd.User != "" {
						user = cmd.User
					}
				} else if cmd.User != "" {
					user = cmd.User
				}
				if err := c.cfg.AuthorizeTask(f.info.Principal, user); err != nil {
					c.sendUpdate(f, c.statusFromMaster(f, ti.TaskID.Value, agentID, mesos.TaskError, mesos.ReasonTaskUnauthorized, err.Error(), now))
					continue
				}
				// A container with power over the host is root there.
				if ti.Container.RootOnHost() || ti.Executor != nil && ti.Executor.Container.RootOnHost() {
					if err := c.cfg.AuthorizeTask(f.info.Principal, "root"); err != nil {
						c.sendUpdate(f, c.statusFromMaster(f, ti.TaskID.Value, agentID, mesos.TaskError, mesos.ReasonTaskUnauthorized,
							"a privileged container (docker.privileged, cap-add or an absolute host_path volume) is root on the agent: "+err.Error(), now))
						continue
					}
				}
			}
			if c.cfg.AuthorizeSecret != nil {
				var refused error
				for _, name := range ti.SecretRefs() {
					if refused = c.cfg.AuthorizeSecret(f.info.Principal, name); refused != nil {
						break
					}
				}
				if refused != nil {
					c.sendUpdate(f, c.statusFromMaster(f, ti.TaskID.Value, agentID, mesos.TaskError, mesos.ReasonTaskUnauthorized, refused.Error(), now))
					continue
				}
			}
			inAccept[ti.TaskID.Value] = true
			available = available.Sub(chk.resources)
			if ti.Executor != nil {
				ti.Executor = &execInfo
				if newExec {
					available = available.Sub(execRes)
					e := &executor{frameworkID: f.id, info: execInfo, role: role, resources: execRes}
					pendingExecs[execKey(f.id, execInfo.ExecutorID.Value)] = e
					a.executors[execKey(f.id, execInfo.ExecutorID.Value)] = e
				}
			}
			// Record the role in the task's resources, as Mesos does, so
			// the agent reports it back after a master failover.
			ti.Resources = chk.resources.Wire(role)
			t := &task{frameworkID: f.id, agentID: agentID, info: ti, role: role, resources: chk.resources, state: mesos.TaskStaging, startedAt: now}
			t.status = mesos.TaskStatus{TaskID: ti.TaskID, State: mesos.TaskStaging, AgentID: &mesos.ID{Value: agentID}, Source: mesos.SourceMaster}
			f.tasks[ti.TaskID.Value] = t
			a.tasks[ti.TaskID.Value] = t
			launch = append(launch, ti)
			c.opTaskAdded(t)
		}
	}
	if len(launch) > 0 {
		c.sendAgent(a, &agentproto.Event{Type: agentproto.EventLaunch, Launch: &agentproto.Launch{FrameworkID: f.id, FrameworkInfo: f.info, Tasks: launch}})
		c.fx.Counts.TasksLaunched += len(launch)
	}
	if !available.IsEmpty() {
		c.alloc.Recover(agentID, f.id, role, available, refuseFor, now)
	}
}

// kill handles KILL.
func (c *Core) kill(f *framework, k *mesos.Kill, now time.Time) {
	t := f.tasks[k.TaskID.Value]
	if t == nil {
		agentID := ""
		if k.AgentID != nil {
			agentID = k.AgentID.Value
		}
		if c.agentStatus(agentID) == agentRecovered {
			return // the agent may still come back with it
		}
		c.sendUpdate(f, c.statusFromMaster(f, k.TaskID.Value, agentID, mesos.TaskLost, mesos.ReasonReconciliation, "Attempted to kill an unknown task", now))
		return
	}
	grace := 0.0
	kp := k.KillPolicy
	if kp == nil {
		kp = t.info.KillPolicy
	}
	if kp != nil && kp.GracePeriod != nil {
		grace = float64(kp.GracePeriod.Nanoseconds) / 1e9
	}
	a := c.agents[t.agentID]
	if a == nil || !c.sendAgent(a, &agentproto.Event{Type: agentproto.EventKill, Kill: &agentproto.Kill{FrameworkID: f.id, TaskID: k.TaskID.Value, GracePeriodSeconds: grace}}) {
		t.killRequested = true
	}
}

func (c *Core) agentStatus(id string) agentStatus {
	if id == "" {
		// Without an agent id Mesos waits while any agent may still come back.
		for _, a := range c.agents {
			if a.status == agentRecovered {
				return agentRecovered
			}
		}
		return agentUnknown
	}
	a := c.agents[id]
	if a == nil {
		return agentUnknown
	}
	return a.status
}

// acknowledge handles ACKNOWLEDGE: the agent is told, and a task whose
// terminal update is acknowledged is done.
func (c *Core) acknowledge(f *framework, ack *mesos.Acknowledge) {
	// The agent is told even about tasks the master has forgotten (say,
	// reported lost), so it can stop resending their updates.
	if a := c.agents[ack.AgentID.Value]; a != nil {
		c.sendAgent(a, &agentproto.Event{Type: agentproto.EventAcknowledge, Acknowledge: &agentproto.Acknowledge{FrameworkID: f.id, TaskID: ack.TaskID.Value, UUID: ack.UUID}})
	}
	t := f.tasks[ack.TaskID.Value]
	if t == nil || t.agentID != ack.AgentID.Value {
		return
	}
	if t.forwarded != nil && t.forwarded.UUID == ack.UUID {
		t.forwarded = nil
		if t.statusUpdateState.Terminal() {
			c.completeTask(f, t)
		}
	}
}

// completeTask forgets a terminal task whose last update was acknowledged.
func (c *Core) completeTask(f *framework, t *task) {
	delete(f.tasks, t.info.TaskID.Value)
	if a := c.agents[t.agentID]; a != nil && a.tasks[t.info.TaskID.Value] == t {
		delete(a.tasks, t.info.TaskID.Value)
	}
	f.completed = append(f.completed, t)
	if n := len(f.completed) - c.cfg.MaxCompletedTasksPerFramework; n > 0 {
		f.completed = append([]*task(nil), f.completed[n:]...)
	}
}

// reconcile handles RECONCILE per the table in reference/mesos.md 2.5.
func (c *Core) reconcile(f *framework, r *mesos.Reconcile, now time.Time) {
	if r == nil || len(r.Tasks) == 0 {
		for _, tid := range sortedKeys(f.tasks) {
			c.sendUpdate(f, c.reconcileStatus(f, f.tasks[tid], now))
		}
		return
	}
	for _, rt := range r.Tasks {
		t := f.tasks[rt.TaskID.Value]
		if t != nil {
			c.sendUpdate(f, c.reconcileStatus(f, t, now))
			continue
		}
		agentID := ""
		if rt.AgentID != nil {
			agentID = rt.AgentID.Value
		}
		st, reply := reconcileUnknown(c.agentStatus(agentID), f.partitionAware())
		if !reply {
			continue
		}
		s := c.statusFromMaster(f, rt.TaskID.Value, agentID, st, mesos.ReasonReconciliation, "Reconciliation: task is unknown", now)
		if a := c.agents[agentID]; a != nil && a.status == agentUnreachable {
			s.UnreachableTime = &mesos.TimeInfo{Nanoseconds: mesos.Int(a.unreachableAt.UnixNano())}
			s.Message = "Reconciliation: agent is unreachable"
		}
		c.sendUpdate(f, s)
	}
}

func (c *Core) reconcileStatus(f *framework, t *task, now time.Time) mesos.TaskStatus {
	s := t.status
	s.State = stateFor(t.state, f.partitionAware())
	s.UUID = ""
	s.Reason = mesos.ReasonReconciliation
	s.Source = mesos.SourceMaster
	s.Timestamp = timestamp(now)
	if s.AgentID == nil {
		s.AgentID = &mesos.ID{Value: t.agentID}
	}
	if a := c.agents[t.agentID]; a != nil && a.status == agentUnreachable {
		s.UnreachableTime = &mesos.TimeInfo{Nanoseconds: mesos.Int(a.unreachableAt.UnixNano())}
	}
	return s
}

// suppress and revive handle SUPPRESS and REVIVE; no roles means all.
func (c *Core) suppress(f *framework, roles []string) {
	if len(roles) == 0 {
		roles = f.roles
	}
	for _, r := range roles {
		f.suppressed[r] = true
	}
	c.alloc.Suppress(f.id, roles)
}

func (c *Core) revive(f *framework, roles []string) {
	if len(roles) == 0 {
		roles = f.roles
	}
	for _, r := range roles {
		delete(f.suppressed, r)
	}
	c.alloc.Revive(f.id, roles)
	for id := range c.agents {
		c.dirty[id] = true
	}
}

// updateFramework handles UPDATE_FRAMEWORK; fields that cannot change are
// refused.
func (c *Core) updateFramework(f *framework, u *mesos.UpdateFramework, now time.Time) *Refusal {
	fi := u.FrameworkInfo
	if fi.User != f.info.User {
		return refuse("Updating 'FrameworkInfo.user' is unsupported")
	}
	if fi.Principal != f.info.Principal {
		return refuse("Updating 'FrameworkInfo.principal' is unsupported")
	}
	if boolOf(fi.Checkpoint) != boolOf(f.info.Checkpoint) {
		return refuse("Updating 'FrameworkInfo.checkpoint' is unsupported")
	}
	f.info = fi
	f.roles = fi.EffectiveRoles()
	f.failoverTimeout = failoverOf(&fi)
	f.suppressed = map[string]bool{}
	for _, r := range u.SuppressedRoles {
		f.suppressed[r] = true
	}
	for _, oid := range sortedKeys(f.offers) {
		if o := f.offers[oid]; !f.hasRole(o.role) {
			c.removeOffer(o, true)
			c.alloc.Recover(o.agentID, o.frameworkID, o.role, o.resources, 0, now)
		}
	}
	c.alloc.AddFramework(f.id, f.roles, u.SuppressedRoles)
	for id := range c.agents {
		c.dirty[id] = true
	}
	c.persistFramework(f)
	return nil
}

func boolOf(b *bool) bool { return b != nil && *b }

// Teardown removes a framework for good at an operator's request (Mesos'
// /teardown): its tasks are killed and its id may never subscribe again.
// ok is false when no such framework is active.
func (c *Core) Teardown(id string, now time.Time) (fx Effects, ok bool) {
	f := c.frameworks[id]
	if f == nil || f.state == fwRemoved {
		return c.take(), false
	}
	c.removeFramework(f, "torn down by an operator", now)
	return c.take(), true
}
