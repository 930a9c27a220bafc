package master

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"corral/kernel/allocator"
	"corral/kernel/internal/agentproto"
	"corral/kernel/internal/registry"
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// core is the master's mutable state. Every method runs on the loop
// goroutine; nothing here blocks on I/O.
type core struct {
	m          *Master
	alloc      *allocator.Allocator
	agents     map[string]*agent
	frameworks map[string]*framework
	offers     map[string]*offer
	weights    map[string]float64
	dirty      map[string]bool // agents to allocate for at the end of this batch
	seq        int64
	// removedIDs are frameworks torn down for good: they may never
	// subscribe again and their tasks are killed wherever they show up.
	removedIDs map[string]bool
	// completed keeps the last maxCompletedFrameworks removed frameworks
	// for /state.
	completed []*framework
}

// maxCompletedFrameworks bounds the removed frameworks kept for /state.
const maxCompletedFrameworks = 50

func newCore(m *Master) *core {
	return &core{
		m:          m,
		alloc:      allocator.New(allocatorConfig(m.cfg)),
		agents:     map[string]*agent{},
		frameworks: map[string]*framework{},
		offers:     map[string]*offer{},
		weights:    map[string]float64{},
		dirty:      map[string]bool{},
		removedIDs: map[string]bool{},
	}
}

func (c *core) nextID(kind string) string {
	c.seq++
	return fmt.Sprintf("%s-%s%04d", c.m.runID, kind, c.seq)
}

// restore installs the registry read at start-up: admitted agents become
// "recovered" (they have AgentReregisterTimeout to come back), unreachable
// and gone agents keep their state; frameworks come back disconnected with
// their failover timeout still running from when they disconnected.
func (c *core) restore(agents []registry.Agent, fws []registry.Framework, weights map[string]float64, now time.Time) {
	for role, w := range weights {
		c.weights[role] = w
		c.alloc.SetWeight(role, w)
	}
	for _, ra := range agents {
		a := &agent{id: ra.ID, tasks: map[string]*task{}, registeredAt: ra.RegisteredAt}
		_ = json.Unmarshal(ra.Info, &a.info)
		a.total, _ = resource.FromWire(a.info.Resources)
		a.attributes = a.info.Attributes
		switch ra.State {
		case registry.AgentState("admitted"):
			a.status = agentRecovered
			a.reregisterUntil = now.Add(c.m.cfg.AgentReregisterTimeout)
			a.admitted, _ = json.Marshal(a.info)
		case registry.AgentState("unreachable"):
			a.status = agentUnreachable
			if ra.UnreachableSince != nil {
				a.unreachableAt = *ra.UnreachableSince
			}
		default:
			a.status = agentGone
		}
		c.agents[a.id] = a
	}
	for _, rf := range fws {
		f := &framework{id: rf.ID, tasks: map[string]*task{}, offers: map[string]*offer{}, suppressed: map[string]bool{},
			registeredAt: rf.RegisteredAt, failoverTimeout: rf.FailoverTimeout}
		_ = json.Unmarshal(rf.Info, &f.info)
		f.roles = f.info.EffectiveRoles()
		switch rf.State {
		case registry.FrameworkState("removed"):
			f.state = fwRemoved
			if rf.RemovedAt != nil {
				f.removedAt = *rf.RemovedAt
			}
			c.removedIDs[f.id] = true
			c.keepCompleted(f)
			continue
		default:
			f.state = fwDisconnected
			f.disconnectedAt = now
			if rf.DisconnectedAt != nil {
				f.disconnectedAt = *rf.DisconnectedAt
			} else {
				// It was connected when the last master stopped: that is a
				// master failover, not a framework failure. Give it as long
				// as agents get to come back before its timeout can fire.
				f.graceUntil = now.Add(c.m.cfg.AgentReregisterTimeout)
			}
			c.alloc.AddFramework(f.id, f.roles, nil)
			c.alloc.SetFrameworkActive(f.id, false)
		}
		c.frameworks[f.id] = f
	}
}

// encode marshals an event. Input is validated on the way in, so a failure
// here is a bug; it is logged and the event dropped rather than taking the
// master down.
func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		slog.Error("dropping an event that cannot be encoded", "type", fmt.Sprintf("%T", v), "err", err)
		return nil
	}
	return b
}

// sendFramework queues an event on a framework's stream, if connected.
func (c *core) sendFramework(f *framework, ev *mesos.Event) bool {
	if f.state != fwConnected || f.stream == nil {
		return false
	}
	f.stream.q.push(encode(ev))
	c.m.metrics.eventsSent.WithLabelValues(string(ev.Type)).Inc()
	return true
}

// sendAgent queues an event on an agent's stream, if connected.
func (c *core) sendAgent(a *agent, ev *agentproto.Event) bool {
	if a.conn == nil {
		return false
	}
	a.conn.q.push(encode(ev))
	return true
}

// statusFromMaster builds a master-generated status update.
// It carries no uuid: the framework must not acknowledge it.
func (c *core) statusFromMaster(f *framework, taskID, agentID string, st mesos.TaskState, reason, msg string, now time.Time) mesos.TaskStatus {
	s := mesos.TaskStatus{
		TaskID:    mesos.ID{Value: taskID},
		State:     stateFor(st, f.partitionAware()),
		Source:    mesos.SourceMaster,
		Reason:    reason,
		Message:   msg,
		Timestamp: timestamp(now),
	}
	if agentID != "" {
		s.AgentID = &mesos.ID{Value: agentID}
	}
	return s
}

// timestamp is t as TaskStatus.timestamp: seconds since the epoch.
func timestamp(t time.Time) mesos.Float { return mesos.Float(float64(t.UnixNano()) / 1e9) }

func (c *core) sendUpdate(f *framework, s mesos.TaskStatus) bool {
	return c.sendFramework(f, &mesos.Event{Type: mesos.EventUpdate, Update: &mesos.Update{Status: s}})
}

// --- frameworks -----------------------------------------------------------

// subscribeCheck decides whether a SUBSCRIBE may proceed and which id the
// framework gets. It returns a message for an ERROR event when refused.
func (c *core) subscribeCheck(call *mesos.Call) (id string, refusal string) {
	fi := call.Subscribe.FrameworkInfo
	if fi.ID != nil && fi.ID.Value != "" {
		id = fi.ID.Value
		if c.removedIDs[id] {
			return id, "Framework has been removed"
		}
		return id, ""
	}
	return c.nextID(""), ""
}

// subscribe activates a framework on a new stream. It closes a previous
// stream of the same framework, sends SUBSCRIBED, and re-sends the pending
// status updates the framework missed while disconnected.
func (c *core) subscribe(id string, call *mesos.Call, s *fwStream, now time.Time) *framework {
	fi := call.Subscribe.FrameworkInfo
	fi.ID = &mesos.ID{Value: id}
	f := c.frameworks[id]
	if f == nil {
		f = &framework{id: id, tasks: map[string]*task{}, offers: map[string]*offer{}, registeredAt: now}
		c.frameworks[id] = f
	}
	if f.stream != nil && f.stream != s {
		f.stream.q.push(encode(&mesos.Event{Type: mesos.EventError, Error: &mesos.Error{Message: "Framework failed over"}}))
		f.stream.q.close()
	}
	f.info = fi
	f.roles = fi.EffectiveRoles()
	f.failoverTimeout = failoverOf(&fi)
	f.state = fwConnected
	f.stream = s
	f.disconnectedAt = time.Time{}
	f.suppressed = map[string]bool{}
	for _, r := range call.Subscribe.SuppressedRoles {
		f.suppressed[r] = true
	}
	// Offers are soft state: rescind whatever was outstanding.
	for _, o := range f.offers {
		c.removeOffer(o, false)
		c.alloc.Recover(o.agentID, o.frameworkID, o.role, o.resources, 0, now)
		c.dirty[o.agentID] = true
	}
	c.alloc.AddFramework(id, f.roles, call.Subscribe.SuppressedRoles)
	c.alloc.SetFrameworkActive(id, true)
	c.sendFramework(f, &mesos.Event{Type: mesos.EventSubscribed, Subscribed: &mesos.Subscribed{
		FrameworkID:              mesos.ID{Value: id},
		HeartbeatIntervalSeconds: mesos.Float(c.m.cfg.FrameworkHeartbeatInterval.Seconds()),
		MasterInfo:               &c.m.info,
	}})
	for _, t := range f.tasks {
		if t.forwarded != nil {
			c.sendUpdate(f, *t.forwarded)
		}
	}
	for id := range c.agents {
		c.dirty[id] = true
	}
	c.persistFramework(f)
	return f
}

func failoverOf(fi *mesos.FrameworkInfo) time.Duration {
	if fi.FailoverTimeout == nil {
		return 0
	}
	return time.Duration(float64(*fi.FailoverTimeout) * float64(time.Second))
}

// persistFramework enqueues the framework's current state for the registry.
func (c *core) persistFramework(f *framework) {
	info, _ := json.Marshal(f.info)
	rf := registry.Framework{ID: f.id, Info: info, State: registry.FrameworkState(f.state.String()),
		FailoverTimeout: f.failoverTimeout, RegisteredAt: f.registeredAt}
	if !f.disconnectedAt.IsZero() {
		t := f.disconnectedAt
		rf.DisconnectedAt = &t
	}
	if !f.removedAt.IsZero() {
		t := f.removedAt
		rf.RemovedAt = &t
	}
	store := c.m.store
	c.m.registrar.enqueue("framework "+f.id, func(ctx context.Context) error { return store.PutFramework(ctx, rf) })
}

// disconnected handles the end of a SUBSCRIBE stream. A stale stream (the
// framework already re-subscribed) changes nothing.
func (c *core) disconnected(id string, s *fwStream, now time.Time) {
	f := c.frameworks[id]
	if f == nil || f.stream != s {
		return
	}
	s.q.close()
	f.stream = nil
	if f.state != fwConnected {
		return
	}
	f.state = fwDisconnected
	f.disconnectedAt = now
	for _, o := range f.offers {
		c.removeOffer(o, false)
		c.alloc.Recover(o.agentID, o.frameworkID, o.role, o.resources, 0, now)
		c.dirty[o.agentID] = true
	}
	c.alloc.SetFrameworkActive(id, false)
	c.persistFramework(f)
	c.m.log.Info("framework disconnected", "framework", id, "failover_timeout", f.failoverTimeout)
}

// removeFramework tears a framework down: its offers go, its tasks are
// killed, its stream is closed and it can never subscribe again.
func (c *core) removeFramework(f *framework, why string, now time.Time) {
	if f.state == fwRemoved {
		return
	}
	c.m.log.Info("removing framework", "framework", f.id, "why", why)
	for _, o := range f.offers {
		c.removeOffer(o, false)
		c.dirty[o.agentID] = true
	}
	if f.stream != nil {
		f.stream.q.close()
		f.stream = nil
	}
	agents := map[string]bool{}
	for _, t := range f.tasks {
		agents[t.agentID] = true
	}
	for aid := range agents {
		if a := c.agents[aid]; a != nil {
			c.sendAgent(a, &agentproto.Event{Type: agentproto.EventShutdownFramework, ShutdownFramework: &agentproto.ShutdownFramework{FrameworkID: f.id}})
		}
	}
	f.state = fwRemoved
	f.removedAt = now
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

func (c *core) keepCompleted(f *framework) {
	c.completed = append(c.completed, f)
	if n := len(c.completed) - maxCompletedFrameworks; n > 0 {
		c.completed = append([]*framework(nil), c.completed[n:]...)
	}
}

// --- offers ---------------------------------------------------------------

func (c *core) removeOffer(o *offer, rescind bool) {
	delete(c.offers, o.id)
	if f := c.frameworks[o.frameworkID]; f != nil {
		delete(f.offers, o.id)
		if rescind {
			c.sendFramework(f, &mesos.Event{Type: mesos.EventRescind, Rescind: &mesos.Rescind{OfferID: mesos.ID{Value: o.id}}})
		}
	}
}

// rescindAgentOffers rescinds every offer on an agent and returns the
// resources to the allocator.
func (c *core) rescindAgentOffers(agentID string, now time.Time) {
	for _, o := range c.offers {
		if o.agentID == agentID {
			c.removeOffer(o, true)
			c.alloc.Recover(o.agentID, o.frameworkID, o.role, o.resources, 0, now)
		}
	}
}

func (c *core) allocate(now time.Time, agents []string) {
	var offers []allocator.Offer
	if agents == nil {
		offers = c.alloc.Cycle(now)
	} else {
		offers = c.alloc.CycleAgents(now, agents)
	}
	c.dirty = map[string]bool{}
	if len(offers) == 0 {
		return
	}
	byFw := map[string][]mesos.Offer{}
	for _, ao := range offers {
		f := c.frameworks[ao.FrameworkID]
		a := c.agents[ao.AgentID]
		if f == nil || f.state != fwConnected || a == nil || a.status != agentRegistered || a.conn == nil {
			// The allocator's view is ahead of ours; give it back.
			c.alloc.Recover(ao.AgentID, ao.FrameworkID, ao.Role, ao.Resources, 0, now)
			continue
		}
		o := &offer{id: c.nextID("O"), frameworkID: f.id, agentID: a.id, role: ao.Role, resources: ao.Resources, createdAt: now}
		c.offers[o.id] = o
		f.offers[o.id] = o
		byFw[f.id] = append(byFw[f.id], f.info.ResourceFormat().Offer(c.wireOffer(o, a)))
	}
	for fid, os := range byFw {
		c.sendFramework(c.frameworks[fid], &mesos.Event{Type: mesos.EventOffers, Offers: &mesos.Offers{Offers: os}})
	}
}

func (c *core) allocateDirty(now time.Time) {
	ids := make([]string, 0, len(c.dirty))
	for id := range c.dirty {
		ids = append(ids, id)
	}
	c.allocate(now, ids)
}

// wireOffer is o in the master's form, with allocation_info; frameworks
// get it through their ResourceFormat.
func (c *core) wireOffer(o *offer, a *agent) mesos.Offer {
	wo := mesos.Offer{
		ID:             mesos.ID{Value: o.id},
		FrameworkID:    mesos.ID{Value: o.frameworkID},
		AgentID:        mesos.ID{Value: a.id},
		Hostname:       a.info.Hostname,
		AllocationInfo: &mesos.AllocationInfo{Role: o.role},
		Resources:      o.resources.Wire(o.role),
		Attributes:     a.attributes,
		URL:            agentURL(a.info.Endpoint),
	}
	return wo
}

// agentURL is the agent's endpoint as an Offer.url (Mesos sets it so
// frameworks can reach the agent, e.g. for health checks).
func agentURL(endpoint string) *mesos.URL {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil
	}
	port, _ := strconv.Atoi(u.Port())
	ip := ""
	if parsed := net.ParseIP(u.Hostname()); parsed != nil {
		ip = parsed.String()
	}
	return &mesos.URL{Scheme: u.Scheme, Address: mesos.Address{Hostname: u.Hostname(), IP: ip, Port: mesos.Int(port)}, Path: "/"}
}

// --- scheduler calls -------------------------------------------------------

// accept handles ACCEPT (and DECLINE, which is an ACCEPT without
// operations). Invalid offers invalidate the whole call, as in Mesos: the
// framework's own offers named in it are released and every task in it is
// answered TASK_DROPPED (or TASK_LOST) with REASON_INVALID_OFFERS.
func (c *core) accept(f *framework, ids []mesos.ID, ops []mesos.Operation, filters *mesos.Filters, now time.Time) {
	refuse := time.Duration(refuseSeconds(filters, c.m.cfg.DefaultRefuseSeconds) * float64(time.Second))
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
	var launch []mesos.TaskInfo
	for _, op := range ops {
		for _, ti := range op.Launch.TaskInfos {
			if a == nil || a.conn == nil || a.status != agentRegistered {
				c.sendUpdate(f, c.statusFromMaster(f, ti.TaskID.Value, agentID, mesos.TaskDropped, mesos.ReasonAgentRemoved, "Agent "+agentID+" is not connected", now))
				continue
			}
			chk := checkTask(&ti, agentID, role, format, available, func(id string) bool { return inAccept[id] || f.tasks[id] != nil })
			if chk.reason != "" {
				c.sendUpdate(f, c.statusFromMaster(f, ti.TaskID.Value, agentID, mesos.TaskError, mesos.ReasonTaskInvalid, chk.reason, now))
				continue
			}
			inAccept[ti.TaskID.Value] = true
			available = available.Sub(chk.resources)
			// Record the role in the task's resources, as Mesos does, so
			// the agent reports it back after a master failover.
			ti.Resources = chk.resources.Wire(role)
			t := &task{frameworkID: f.id, agentID: agentID, info: ti, role: role, resources: chk.resources, state: mesos.TaskStaging, startedAt: now}
			t.status = mesos.TaskStatus{TaskID: ti.TaskID, State: mesos.TaskStaging, AgentID: &mesos.ID{Value: agentID}, Source: mesos.SourceMaster}
			f.tasks[ti.TaskID.Value] = t
			a.tasks[ti.TaskID.Value] = t
			launch = append(launch, ti)
		}
	}
	if len(launch) > 0 {
		c.sendAgent(a, &agentproto.Event{Type: agentproto.EventLaunch, Launch: &agentproto.Launch{FrameworkID: f.id, FrameworkInfo: f.info, Tasks: launch}})
		c.m.metrics.tasksLaunched.Add(float64(len(launch)))
	}
	if !available.IsEmpty() {
		c.alloc.Recover(agentID, f.id, role, available, refuse, now)
	}
}

// kill handles KILL.
func (c *core) kill(f *framework, k *mesos.Kill, now time.Time) {
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

func (c *core) agentStatus(id string) agentStatus {
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
func (c *core) acknowledge(f *framework, ack *mesos.Acknowledge) {
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
func (c *core) completeTask(f *framework, t *task) {
	delete(f.tasks, t.info.TaskID.Value)
	if a := c.agents[t.agentID]; a != nil && a.tasks[t.info.TaskID.Value] == t {
		delete(a.tasks, t.info.TaskID.Value)
	}
	f.completed = append(f.completed, t)
	if n := len(f.completed) - c.m.cfg.MaxCompletedTasksPerFramework; n > 0 {
		f.completed = append([]*task(nil), f.completed[n:]...)
	}
}

// reconcile handles RECONCILE per the table in reference/mesos.md 2.5.
func (c *core) reconcile(f *framework, r *mesos.Reconcile, now time.Time) {
	if r == nil || len(r.Tasks) == 0 {
		for _, t := range f.tasks {
			c.sendUpdate(f, c.reconcileStatus(f, t, now))
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

func (c *core) reconcileStatus(f *framework, t *task, now time.Time) mesos.TaskStatus {
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
func (c *core) suppress(f *framework, roles []string) {
	if len(roles) == 0 {
		roles = f.roles
	}
	for _, r := range roles {
		f.suppressed[r] = true
	}
	c.alloc.Suppress(f.id, roles)
}

func (c *core) revive(f *framework, roles []string) {
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

// updateFramework handles UPDATE_FRAMEWORK; it returns a client error for
// fields that cannot change.
func (c *core) updateFramework(f *framework, u *mesos.UpdateFramework, now time.Time) error {
	fi := u.FrameworkInfo
	if fi.User != f.info.User {
		return fmt.Errorf("Updating 'FrameworkInfo.user' is unsupported")
	}
	if fi.Principal != f.info.Principal {
		return fmt.Errorf("Updating 'FrameworkInfo.principal' is unsupported")
	}
	if boolOf(fi.Checkpoint) != boolOf(f.info.Checkpoint) {
		return fmt.Errorf("Updating 'FrameworkInfo.checkpoint' is unsupported")
	}
	f.info = fi
	f.roles = fi.EffectiveRoles()
	f.failoverTimeout = failoverOf(&fi)
	f.suppressed = map[string]bool{}
	for _, r := range u.SuppressedRoles {
		f.suppressed[r] = true
	}
	for _, o := range f.offers {
		if !f.hasRole(o.role) {
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

// --- agents ----------------------------------------------------------------

// registerCheck decides the id of a registering agent, or refuses it.
//
// admitted says the registry already holds the agent as admitted with the
// info it registers with, so admitting it needs no write: after a master
// fails over, thousands of agents re-register at once, unchanged.
func (c *core) registerCheck(call *agentproto.Call) (id string, admitted bool, err error) {
	if call.AgentID == "" {
		return c.nextID("S"), false, nil
	}
	a := c.agents[call.AgentID]
	if a != nil && a.status == agentGone {
		return "", false, fmt.Errorf("agent %s has been marked gone; start it with a fresh work dir", call.AgentID)
	}
	if a != nil && a.admitted != nil && (a.status == agentRecovered || a.status == agentRegistered) && call.Register != nil {
		info, err := json.Marshal(call.Register.Info)
		admitted = err == nil && bytes.Equal(info, a.admitted)
	}
	return call.AgentID, admitted, nil
}

// registered admits an agent on a new connection and rebuilds its tasks
// from what it reports. Tasks of removed frameworks are killed, and so are
// tasks of frameworks that are not partition-aware when the agent had been
// marked unreachable (they were reported lost). Tasks the master believes
// the agent runs but that it did not report are sent for reconciliation.
func (c *core) registered(id string, reg *agentproto.Register, conn *agentConn, now time.Time) {
	a := c.agents[id]
	if a == nil {
		a = &agent{id: id, tasks: map[string]*task{}, registeredAt: now}
		c.agents[id] = a
	}
	wasUnreachable := a.status == agentUnreachable
	if a.conn != nil && a.conn != conn {
		a.conn.q.close()
	}
	for _, o := range c.offers {
		if o.agentID == id {
			c.removeOffer(o, true)
		}
	}
	a.info = reg.Info
	a.admitted, _ = json.Marshal(reg.Info)
	a.total, _ = resource.FromWire(reg.Info.Resources)
	a.attributes = reg.Info.Attributes
	a.status = agentRegistered
	a.conn = conn
	a.lastSeen = now
	a.unreachableAt = time.Time{}
	c.alloc.RemoveAgent(id)
	c.alloc.AddAgent(id, a.total)
	c.alloc.SetAgentActive(id, true)

	c.sendAgent(a, &agentproto.Event{Type: agentproto.EventRegistered, Registered: &agentproto.Registered{
		AgentID: id, ConnectionID: conn.id, HeartbeatIntervalSeconds: c.m.cfg.AgentPingInterval.Seconds(),
	}})

	reported := map[string]bool{}
	for _, rt := range reg.Tasks {
		tid := rt.TaskInfo.TaskID.Value
		if tid == "" || rt.FrameworkID == "" {
			c.m.log.Warn("ignoring a reported task without task or framework id", "agent", id)
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
				state: fwDisconnected, disconnectedAt: now, registeredAt: now, graceUntil: now.Add(c.m.cfg.AgentReregisterTimeout)}
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
		if t.killRequested && !killIt {
			c.sendAgent(a, &agentproto.Event{Type: agentproto.EventKill, Kill: &agentproto.Kill{FrameworkID: f.id, TaskID: tid}})
			t.killRequested = false
		}
	}
	var missing []agentproto.ReconcileTask
	for tid, t := range a.tasks {
		if !reported[tid] && !t.state.Terminal() {
			missing = append(missing, agentproto.ReconcileTask{FrameworkID: t.frameworkID, TaskID: tid})
			// Still in use until the agent answers for it.
			if !t.recovered {
				c.alloc.Allocate(id, t.frameworkID, t.role, t.resources)
			}
		}
	}
	if wasUnreachable {
		// The handler's admission was queued before the loop queued the
		// unreachable mark; queue it again so the registry ends admitted.
		info, _ := json.Marshal(reg.Info)
		store, host := c.m.store, reg.Info.Hostname
		c.m.registrar.enqueue("re-admit agent "+id, func(ctx context.Context) error { return store.AdmitAgent(ctx, id, host, info) })
	}
	if len(missing) > 0 {
		c.sendAgent(a, &agentproto.Event{Type: agentproto.EventReconcile, Reconcile: &agentproto.Reconcile{Tasks: missing}})
	}
	c.dirty[id] = true
	c.m.log.Info("agent registered", "agent", id, "hostname", a.info.Hostname, "tasks", len(reg.Tasks), "was_unreachable", wasUnreachable)
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

// agentGoneAway handles the end of an agent's stream: the agent stays
// registered until its heartbeats time out (it may just be reconnecting).
func (c *core) agentGoneAway(id string, conn *agentConn, now time.Time) {
	if a := c.agents[id]; a != nil && a.conn == conn {
		a.conn = nil
		conn.q.close()
		c.rescindAgentOffers(id, now)
	}
}

// statusUpdates handles an agent's UPDATE call.
func (c *core) statusUpdates(a *agent, ups []agentproto.StatusUpdate, now time.Time) {
	a.lastSeen = now
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
			t.state = u.LatestState
			t.status = u.Status
			if t.state.Terminal() && !t.recovered {
				t.recovered = true
				c.alloc.Recover(a.id, f.id, t.role, t.resources, 0, now)
				c.dirty[a.id] = true
			}
		}
		st := u.Status
		st.State = stateFor(st.State, f.partitionAware())
		if st.AgentID == nil {
			st.AgentID = &mesos.ID{Value: a.id}
		}
		if t != nil && t.agentID == a.id {
			t.forwarded = &st
			t.statusUpdateState = u.Status.State
		}
		c.sendUpdate(f, st)
		c.m.metrics.statusUpdates.WithLabelValues(string(u.Status.State)).Inc()
	}
}

// markUnreachable handles an agent whose heartbeats stopped: its offers are
// rescinded, its tasks reported TASK_UNREACHABLE (or TASK_LOST), and every
// framework gets a FAILURE event.
func (c *core) markUnreachable(a *agent, why string, now time.Time) {
	c.m.log.Warn("agent unreachable", "agent", a.id, "hostname", a.info.Hostname, "why", why)
	a.status = agentUnreachable
	a.admitted = nil
	a.unreachableAt = now
	if a.conn != nil {
		a.conn.q.close()
		a.conn = nil
	}
	c.rescindAgentOffers(a.id, now)
	// Its resources leave the cluster (and the shares) until it returns;
	// registered() adds it back with the tasks it still runs.
	c.alloc.RemoveAgent(a.id)
	store := c.m.store
	id := a.id
	c.m.registrar.enqueue("agent unreachable "+id, func(ctx context.Context) error { return store.MarkAgentUnreachable(ctx, id, now) })
	msg := fmt.Sprintf("Agent %s (%s) is unreachable: %s", a.id, a.info.Hostname, why)
	for tid, t := range a.tasks {
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
		if !t.recovered {
			t.recovered = true
		}
		c.completeTask(f, t)
	}
	for _, f := range c.frameworks {
		c.sendFramework(f, &mesos.Event{Type: mesos.EventFailure, Failure: &mesos.Failure{AgentID: &mesos.ID{Value: a.id}}})
	}
}

// checkTimeouts runs the periodic checks: agent heartbeats, agents that
// did not re-register after a master start, framework failover timeouts,
// and offer timeouts.
func (c *core) checkTimeouts(now time.Time) {
	limit := c.m.cfg.AgentPingInterval * time.Duration(c.m.cfg.MaxAgentPingTimeouts)
	for _, a := range c.agents {
		switch a.status {
		case agentRegistered:
			if now.Sub(a.lastSeen) > limit {
				c.markUnreachable(a, fmt.Sprintf("no heartbeat for %s", now.Sub(a.lastSeen).Round(time.Millisecond)), now)
			}
		case agentRecovered:
			if now.After(a.reregisterUntil) {
				c.markUnreachable(a, "did not re-register after master failover", now)
			}
		}
	}
	for _, f := range c.frameworks {
		if f.state == fwDisconnected && now.Sub(f.disconnectedAt) >= f.failoverTimeout && !now.Before(f.graceUntil) {
			c.removeFramework(f, "failover timeout expired", now)
		}
	}
	if t := c.m.cfg.OfferTimeout; t > 0 {
		for _, o := range c.offers {
			if now.Sub(o.createdAt) > t {
				c.removeOffer(o, true)
				c.alloc.Recover(o.agentID, o.frameworkID, o.role, o.resources, 0, now)
				c.dirty[o.agentID] = true
			}
		}
	}
}

func (c *core) heartbeatFrameworks() {
	ev := &mesos.Event{Type: mesos.EventHeartbeat}
	for _, f := range c.frameworks {
		c.sendFramework(f, ev)
	}
}

func (c *core) heartbeatAgents() {
	b := encode(&agentproto.Event{Type: agentproto.EventHeartbeat})
	for _, a := range c.agents {
		if a.conn != nil {
			a.conn.q.push(b)
		}
	}
}

// shutdown closes every stream so handlers return.
func (c *core) shutdown() {
	for _, f := range c.frameworks {
		if f.stream != nil {
			f.stream.q.close()
		}
	}
	for _, a := range c.agents {
		if a.conn != nil {
			a.conn.q.close()
		}
	}
}

func (c *core) updateGauges() {
	mt := c.m.metrics
	counts := map[string]float64{"registered": 0, "recovered": 0, "unreachable": 0, "gone": 0}
	for _, a := range c.agents {
		counts[agentStatusName(a.status)]++
	}
	for k, v := range counts {
		mt.agents.WithLabelValues(k).Set(v)
	}
	fc := map[string]float64{"active": 0, "disconnected": 0, "removed": 0}
	tasks := map[string]float64{}
	for _, f := range c.frameworks {
		fc[f.state.String()]++
		for _, t := range f.tasks {
			tasks[string(t.state)]++
		}
	}
	for k, v := range fc {
		mt.frameworks.WithLabelValues(k).Set(v)
	}
	mt.tasks.Reset()
	for k, v := range tasks {
		mt.tasks.WithLabelValues(k).Set(v)
	}
	mt.offers.Set(float64(len(c.offers)))
}

func agentStatusName(s agentStatus) string {
	switch s {
	case agentRegistered:
		return "registered"
	case agentRecovered:
		return "recovered"
	case agentUnreachable:
		return "unreachable"
	case agentGone:
		return "gone"
	}
	return "unknown"
}
