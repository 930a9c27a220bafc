package services

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"corral/frameworks/internal/durable"
	"corral/frameworks/internal/place"
	"corral/frameworks/services/app"
	"corral/frameworks/services/plan"
	"corral/frameworks/services/store"
	"corral/kernel/mesos"
)

// action is what a deployment does to one app; its value is Marathon's
// name for it, as the API and the stored deployments show it.
type action string

// Deployment actions.
const (
	actionStart   action = "StartApplication"
	actionScale   action = "ScaleApplication"
	actionRestart action = "RestartApplication"
	actionStop    action = "StopApplication"
)

// String is Marathon's name of the action.
func (a action) String() string { return string(a) }

// core is the framework's state. Every method runs on the loop goroutine.
type core struct {
	s           *Service
	apps        map[string]*appState
	groups      map[string]*group
	instances   map[string]*instance
	byApp       map[string]map[string]*instance // the same instances, by app id
	deployments map[string]*deployment

	subscribed bool
	// subscribedAt is when the current subscription began, and
	// reconciledAt when unheard-of instances were last reconciled
	// explicitly (see reconcileUnheard).
	subscribedAt, reconciledAt time.Time
	// suppressed is the offer wish last sent to the kernel, and wanted
	// how many apps wanted launches at the last evaluation. restate is
	// set by a (re)subscription: the kernel's idea of the wish (what the
	// SUBSCRIBE listed) may predate the apps' state, so the next
	// evaluation sends the wish it derives, whatever was sent before.
	suppressed bool
	restate    bool
	wanted     int

	// The loop's own durable state that the writer has yet to get (see
	// flush), and the acknowledgements that wait for it.
	dirty    map[string]bool   // task ids to upsert
	deleted  map[string]bool   // task ids to delete
	delays   map[string]bool   // apps whose launch delay to store or clear
	finished map[string]*ended // deployments to delete, and record as ended
	removed  map[string]bool   // apps to delete, with their launch delay
	fid      string            // framework id to store
	acks     map[string]mesos.TaskStatus
	// flushing is set while a batch of that state is with the writer.
	flushing bool

	// The writer (see writer.go): writes handed to it and not yet back,
	// and the outcome of the last one back.
	wr *durable.Writer[*core]

	// API changes (see mutate.go): one is with the writer at a time
	// (changing), holding its apps; the others wait their turn.
	changeTimeout time.Duration
	changing      bool
	held          map[string]bool
	waiting       []*mutation

	// backlog holds kernel calls that found the call queue full, in order
	// (see call).
	backlog       []func(context.Context)
	backlogLogged time.Time

	// probers are the running framework-side health and readiness checks.
	probers map[probeKey]context.CancelFunc

	// history holds the ended deployments, newest first (see remember).
	history []*ended

	// draining maps the agents the master asked the framework to leave
	// to their inverse offer (see drain.go).
	draining map[string]mesos.InverseOffer
}

func newCore(s *Service) *core {
	return &core{
		s:           s,
		apps:        map[string]*appState{},
		groups:      map[string]*group{},
		instances:   map[string]*instance{},
		byApp:       map[string]map[string]*instance{},
		deployments: map[string]*deployment{},
		dirty:       map[string]bool{},
		deleted:     map[string]bool{},
		delays:      map[string]bool{},
		finished:    map[string]*ended{},
		removed:     map[string]bool{},
		acks:        map[string]mesos.TaskStatus{},
		held:        map[string]bool{},
		probers:     map[probeKey]context.CancelFunc{},
		draining:    map[string]mesos.InverseOffer{},

		changeTimeout: changeTimeout,
	}
}

// loop owns the core, and the writer that makes its changes durable.
func (s *Service) loop(ctx context.Context) {
	defer close(s.stopped)
	c := s.core
	c.wr = newWriter(s.log)
	wctx, stopWriter := context.WithCancel(ctx)
	writerDone := make(chan struct{})
	go func() { defer close(writerDone); c.wr.Run(wctx) }()
	defer func() { stopWriter(); <-writerDone }()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	reconcile := time.NewTicker(s.cfg.ReconcileInterval)
	defer reconcile.Stop()
	for {
		select {
		case <-ctx.Done():
			c.stopProbers()
			return
		case fn := <-s.ops:
			fn(c)
		case ev := <-s.evs:
			c.event(ev)
		case r := <-s.probes:
			c.probed(r)
		case w := <-c.wr.Out():
			c.wr.Written(c, w)
		case <-tick.C:
			c.reconcileUnheard(time.Now())
		case <-reconcile.C:
			if c.subscribed {
				c.call(func(ctx context.Context) { _ = s.client.Reconcile(ctx, nil) })
			}
		}
		// Batch what else is waiting before deciding.
	drain:
		for i := 0; i < 512; i++ {
			select {
			case fn := <-s.ops:
				fn(c)
			case ev := <-s.evs:
				c.event(ev)
			case r := <-s.probes:
				c.probed(r)
			case w := <-c.wr.Out():
				c.wr.Written(c, w)
			default:
				break drain
			}
		}
		c.evaluate(time.Now())
		c.flush()
		c.moveCalls()
	}
}

// call queues a kernel call for the caller goroutine, so the loop never
// waits on HTTP. The loop is the only sender on the call queue, so when it
// finds room there the send cannot block; calls that find none wait in
// backlog, in order, and go out as room frees (moveCalls): the loop
// neither blocks nor starts a goroutine for them.
func (c *core) call(fn func(ctx context.Context)) {
	if len(c.backlog) == 0 && len(c.s.calls) < cap(c.s.calls) {
		c.s.call(fn)
		return
	}
	c.backlog = append(c.backlog, fn)
	if time.Since(c.backlogLogged) > 10*time.Second {
		c.backlogLogged = time.Now()
		c.s.log.Warn("the kernel call queue is full; calls wait", "waiting", len(c.backlog))
	}
}

// moveCalls moves waiting kernel calls to the call queue as far as it has
// room.
func (c *core) moveCalls() {
	n := 0
	for n < len(c.backlog) && len(c.s.calls) < cap(c.s.calls) {
		c.s.call(c.backlog[n])
		c.backlog[n] = nil
		n++
	}
	c.backlog = c.backlog[n:]
	if len(c.backlog) == 0 {
		c.backlog = nil
	}
}

// event handles one event from the kernel.
func (c *core) event(ev *mesos.Event) {
	now := time.Now()
	switch ev.Type {
	case mesos.EventSubscribed:
		c.onSubscribed(ev.Subscribed)
	case mesos.EventOffers:
		c.offers(ev.Offers.Offers, now)
	case mesos.EventUpdate:
		c.update(ev.Update.Status, now)
	case mesos.EventInverseOffers:
		c.inverseOffers(ev.InverseOffers.InverseOffers)
	case mesos.EventRescindInverseOffer:
		c.rescindInverseOffer(ev.RescindInverseOffer.InverseOfferID.Value)
	case mesos.EventFailure:
		if ev.Failure.AgentID != nil {
			c.s.log.Warn("agent lost", "agent", ev.Failure.AgentID.Value)
		}
	case mesos.EventError:
		c.s.log.Error("kernel error event", "message", ev.Error.Message)
		c.subscribed = false
	}
}

func (c *core) onSubscribed(sub *mesos.Subscribed) {
	c.subscribed = true
	// The master sends the inverse offers that still stand again.
	clear(c.draining)
	c.restate = true
	c.subscribedAt, c.reconciledAt = time.Now(), time.Now()
	id := sub.FrameworkID.Value
	s := c.s
	s.mu.Lock()
	first := s.frameworkID == ""
	changed := s.frameworkID != id
	s.frameworkID = id
	s.mu.Unlock()
	if changed {
		// The id must be durable before anything is launched under it:
		// offers wait for it (see offers).
		c.fid = id
	}
	typ := "scheduler_reregistered_event"
	if first {
		typ = "scheduler_registered_event"
	}
	s.bus.Publish(typ, map[string]any{"frameworkId": id, "master": sub.MasterInfo})
	// Reconcile what we believe runs, and (implicitly) learn of anything
	// the kernel runs for us that we do not know: those are killed.
	var tasks []mesos.ReconcileTask
	for _, in := range c.instances {
		rt := mesos.ReconcileTask{TaskID: mesos.ID{Value: in.TaskID}}
		if in.AgentID != "" {
			rt.AgentID = &mesos.ID{Value: in.AgentID}
		}
		tasks = append(tasks, rt)
	}
	c.call(func(ctx context.Context) {
		if len(tasks) > 0 {
			_ = s.client.Reconcile(ctx, tasks)
		}
		_ = s.client.Reconcile(ctx, nil)
	})
	s.log.Info("subscribed", "framework", id, "instances", len(c.instances))
}

// reconcileRetry is how often instances not heard of since the
// subscription began are reconciled again: the master answers nothing for
// tasks on agents that have not re-registered after a failover yet, so a
// single reconciliation at subscription may go unanswered.
const reconcileRetry = 5 * time.Second

// reconcileUnheard asks again about every instance that no status has
// reached since the subscription began, every reconcileRetry, until each
// is heard of.
func (c *core) reconcileUnheard(now time.Time) {
	if !c.subscribed || now.Sub(c.reconciledAt) < reconcileRetry {
		return
	}
	var tasks []mesos.ReconcileTask
	for _, in := range c.instances {
		if in.LastStatus.Before(c.subscribedAt) {
			rt := mesos.ReconcileTask{TaskID: mesos.ID{Value: in.TaskID}}
			if in.AgentID != "" {
				rt.AgentID = &mesos.ID{Value: in.AgentID}
			}
			tasks = append(tasks, rt)
		}
	}
	c.reconciledAt = now
	if len(tasks) == 0 {
		return
	}
	c.s.log.Info("reconciling instances not heard of since subscribing", "instances", len(tasks))
	c.call(func(ctx context.Context) { _ = c.s.client.Reconcile(ctx, tasks) })
}

// gone reports whether a state means the task no longer runs.
func gone(st mesos.TaskState) bool { return st.Terminal() || st == mesos.TaskUnknown }

// update handles a status update.
func (c *core) update(st mesos.TaskStatus, now time.Time) {
	tid := st.TaskID.Value
	in := c.instances[tid]
	if st.UUID != "" {
		// Once what this update changed is durable (see flush); an
		// update the agent sends again is acknowledged once.
		c.acks[st.UUID] = st
	}
	if in == nil {
		if !gone(st.State) {
			// Not ours (an expunged task come back, or a launch whose
			// record was lost): it must not run.
			agent := ""
			if st.AgentID != nil {
				agent = st.AgentID.Value
			}
			c.s.log.Warn("killing an unknown task", "task", tid, "state", st.State)
			c.call(func(ctx context.Context) { _ = c.s.client.Kill(ctx, tid, agent) })
		}
		return
	}
	prevState := in.State
	in.State = st.State
	in.Message = st.Message
	in.LastStatus = now
	if st.AgentID != nil && in.AgentID == "" {
		in.AgentID = st.AgentID.Value
	}
	if st.Healthy != nil && c.hasAgentCheck(in.AppID) {
		prev := in.Healthy
		h := *st.Healthy
		in.Healthy = &h
		if prev == nil || *prev != h {
			c.s.bus.Publish("health_status_changed_event", map[string]any{"appId": in.AppID, "taskId": tid, "instanceId": tid, "version": in.Version, "alive": h})
		}
	}
	switch st.State {
	case mesos.TaskRunning:
		if in.StartedAt.IsZero() {
			in.StartedAt = now
		}
		in.Unreachable = time.Time{}
	case mesos.TaskUnreachable:
		if in.Unreachable.IsZero() {
			in.Unreachable = now
		}
	}
	if as := c.apps[in.AppID]; as != nil && in.ready(len(as.app.HealthChecks) > 0) {
		in.EverReady = true
	}
	c.s.bus.Publish("status_update_event", map[string]any{
		"slaveId": in.AgentID, "taskId": tid, "taskStatus": string(st.State), "message": st.Message,
		"appId": in.AppID, "host": in.Host, "ports": in.Ports, "ipAddresses": []any{}, "version": in.Version,
	})
	if prevState != st.State {
		c.s.bus.Publish("instance_changed_event", map[string]any{"instanceId": tid, "condition": string(st.State), "runSpecId": in.AppID, "agentId": in.AgentID, "host": in.Host, "runSpecVersion": in.Version})
	}
	if gone(st.State) {
		c.ended(in, st, now)
		return
	}
	c.dirty[tid] = true
}

// ended forgets a task that stopped; failures feed the app's backoff.
func (c *core) ended(in *instance, st mesos.TaskStatus, now time.Time) {
	c.removeInstance(in.TaskID)
	delete(c.dirty, in.TaskID)
	c.deleted[in.TaskID] = true
	c.stopProbersOf(in.TaskID)
	as := c.apps[in.AppID]
	if as == nil {
		return
	}
	if st.State == mesos.TaskKilled && st.Reason == mesos.ReasonAgentDraining && !in.Killing {
		c.s.log.Info("task killed by its agent going away; it will be replaced", "app", in.AppID, "task", in.TaskID, "host", in.Host)
	}
	if plan.CountsAsFailure(st.State, st.Reason, in.Killing) {
		c.newInstanceFailed(in, failureWhy(st), now)
		spec := specOf(as.app, as.deleting)
		// A task that had been up resets the delay; so does a long quiet
		// spell (Marathon: delay + maxLaunchDelay without failures).
		if in.EverReady || (!as.backoff.LastFailure.IsZero() && now.Sub(as.backoff.LastFailure) > as.backoff.Delay(spec)+spec.MaxLaunchDelay) {
			as.backoff = as.backoff.Reset()
		}
		as.backoff = as.backoff.Failed(now)
		c.persistDelay(in.AppID)
		as.lastFailure = &taskFailure{
			AppID: in.AppID, Host: in.Host, Message: st.Message, State: string(st.State), TaskID: in.TaskID,
			Timestamp: now.UTC().Format(timeLayout), Version: in.Version, SlaveID: in.AgentID,
		}
		c.s.log.Info("task failed", "app", in.AppID, "task", in.TaskID, "state", st.State, "message", st.Message, "next_launch_in", as.backoff.Delay(spec))
	}
}

const timeLayout = "2006-01-02T15:04:05.000Z"

// persistDelay records that appID's launch delay (as.backoff) is to be
// stored, or cleared once it has no failures, with the next batch.
func (c *core) persistDelay(appID string) {
	c.delays[appID] = true
}

func (c *core) hasAgentCheck(appID string) bool {
	as := c.apps[appID]
	if as == nil {
		return false
	}
	for _, hc := range as.app.HealthChecks {
		if agentRunCheck(hc.Protocol) {
			return true
		}
	}
	return false
}

// kill asks the kernel to kill an instance (once).
func (c *core) kill(in *instance, why string) {
	if in.Killing {
		return
	}
	in.Killing = true
	c.dirty[in.TaskID] = true
	tid, agent := in.TaskID, in.AgentID
	c.s.log.Info("killing task", "app", in.AppID, "task", tid, "why", why)
	c.call(func(ctx context.Context) { _ = c.s.client.Kill(ctx, tid, agent) })
}

// killAll kills the instances of ins that are still known.
func (c *core) killAll(ins []*instance, why string) {
	for _, in := range ins {
		if c.instances[in.TaskID] == in {
			c.kill(in, why)
		}
	}
}

// expunge forgets an instance unreachable past expungeAfterSeconds: it no
// longer belongs to its app (a replacement runs instead). It is killed now,
// as far as the kernel can, and if its agent comes back the task is unknown
// here, so it is killed then (see update).
func (c *core) expunge(in *instance) {
	tid, agent := in.TaskID, in.AgentID
	c.s.log.Info("expunging task", "app", in.AppID, "task", tid, "why", "unreachable past expungeAfterSeconds")
	c.call(func(ctx context.Context) { _ = c.s.client.Kill(ctx, tid, agent) })
	c.removeInstance(tid)
	delete(c.dirty, tid)
	c.deleted[tid] = true
	c.stopProbersOf(tid)
}

// addInstance and removeInstance keep instances and byApp in step.
func (c *core) addInstance(in *instance) {
	c.instances[in.TaskID] = in
	m := c.byApp[in.AppID]
	if m == nil {
		m = map[string]*instance{}
		c.byApp[in.AppID] = m
	}
	m[in.TaskID] = in
}

func (c *core) removeInstance(taskID string) {
	if in := c.instances[taskID]; in != nil {
		delete(c.byApp[in.AppID], taskID)
		if len(c.byApp[in.AppID]) == 0 {
			delete(c.byApp, in.AppID)
		}
	}
	delete(c.instances, taskID)
}

// instancesOf returns an app's instances, for the planner.
func (c *core) instancesOf(appID string) []plan.Instance {
	var out []plan.Instance
	for _, in := range c.byApp[appID] {
		p := in.toPlan()
		p.Draining = c.goingAway(in.AgentID)
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TaskID < out[j].TaskID })
	return out
}

// evaluate runs the planner for every app: kills what must go, finishes
// deployments that reached their target, and keeps offers flowing only
// while something wants to launch.
func (c *core) evaluate(now time.Time) {
	wanted := 0
	for id, as := range c.apps {
		spec := specOf(as.app, as.deleting)
		d := plan.Decide(spec, c.instancesOf(id), now)
		as.decision = d
		for _, tid := range d.Kill {
			if in := c.instances[tid]; in != nil {
				c.kill(in, "planner")
			}
		}
		for _, tid := range d.Expunge {
			if in := c.instances[tid]; in != nil {
				c.expunge(in)
			}
		}
		if d.Launch > 0 {
			if as.waitingSince.IsZero() {
				as.waitingSince = now
			}
			if !now.Before(as.backoff.ReadyAt(spec)) {
				wanted++
			}
		} else {
			as.waitingSince = time.Time{}
		}
	}
	c.finishDeployments(now)
	c.watchDeployments(now)
	c.syncProbers()
	c.acceptVacated()
	if !c.subscribed {
		return
	}
	role := c.s.cfg.Role
	switch offerCall(wanted, c.wanted, c.suppressed, c.restate) {
	case offersRevive:
		c.suppressed = false
		c.call(func(ctx context.Context) { _ = c.s.client.Revive(ctx, role) })
	case offersSuppress:
		c.suppressed = true
		c.call(func(ctx context.Context) { _ = c.s.client.Suppress(ctx, role) })
	}
	c.restate = false
	c.wanted = wanted
}

// offersAction is what an evaluation tells the kernel about offers.
type offersAction int

const (
	offersKeep     offersAction = iota // nothing to send
	offersRevive                       // REVIVE: un-suppress and clear refuse filters
	offersSuppress                     // SUPPRESS: no offers until the next REVIVE
)

func (a offersAction) String() string {
	switch a {
	case offersRevive:
		return "revive"
	case offersSuppress:
		return "suppress"
	}
	return "keep"
}

// offerCall derives the offer call from the apps' state: wanted apps
// want launches now and prev did at the last evaluation; suppressed is
// the wish last sent, and restate says that a (re)subscription since
// may have left the kernel with another. Offers flow while any app
// wants launches, and more apps wanting them revive (which clears the
// refuse filters of offers declined before); with none, offers stop.
func offerCall(wanted, prev int, suppressed, restate bool) offersAction {
	switch {
	case wanted > 0 && (restate || suppressed || wanted > prev):
		return offersRevive
	case wanted == 0 && (restate || !suppressed):
		return offersSuppress
	}
	return offersKeep
}

// finishDeployments ends deployments whose apps all reached their target,
// and removes deleted apps once their last instance is gone. Apps an API
// change in flight holds stay: the change is decided on them.
func (c *core) finishDeployments(now time.Time) {
	for id, d := range c.deployments {
		done := true
		for _, appID := range d.Apps {
			as := c.apps[appID]
			if as == nil {
				continue
			}
			if !as.decision.Done || c.held[appID] {
				done = false
			}
		}
		if !done {
			continue
		}
		for _, appID := range d.Apps {
			if as := c.apps[appID]; as != nil && as.deleting && len(c.instancesOf(appID)) == 0 {
				c.removeApp(appID)
			}
		}
		planJSON := c.deploymentJSON(d)
		delete(c.deployments, id)
		e := c.endOf(d, planJSON, statusSucceeded, "", now, nil)
		c.finished[id] = e
		c.remember(e)
		c.s.bus.Publish("deployment_success", map[string]any{"id": id, "plan": planJSON})
		c.s.log.Info("deployment finished", "id", id, "apps", d.Apps)
	}
	// A delete whose deployment was stopped with force=true still
	// deletes: its app goes once its last instance is gone.
	for appID, as := range c.apps {
		if as.deleting && len(c.byApp[appID]) == 0 && !c.inDeployment(appID) && !c.held[appID] {
			c.removeApp(appID)
		}
	}
}

// inDeployment reports whether a deployment in progress changes appID.
func (c *core) inDeployment(appID string) bool {
	for _, d := range c.deployments {
		if slices.Contains(d.Apps, appID) {
			return true
		}
	}
	return false
}

// removeApp forgets a deleted app; the next batch deletes it, its
// versions and its launch delay.
func (c *core) removeApp(appID string) {
	delete(c.apps, appID)
	delete(c.delays, appID)
	c.removed[appID] = true
	c.s.bus.Publish("app_terminated_event", map[string]any{"appId": appID})
}

// offers places wanted instances on offers: for each app that wants
// launches (and is past its backoff), in order of waiting time, the planner
// places as many as fit; the new instances are stored before the ACCEPT
// goes out (see launched), so a crash can never leave a task we do not
// know of. Meanwhile they count as staging, so nothing is placed twice.
func (c *core) offers(offers []mesos.Offer, now time.Time) {
	// Nothing launches under a framework id not yet durable: its batch
	// goes to the writer first (see flush), and the launches after it.
	if c.fid != "" {
		c.flush()
	}
	if c.fid != "" || !c.wr.CanSubmit() {
		c.s.log.Debug("declining offers until pending writes are with the writer", "offers", len(offers))
		c.decline(offers, time.Second)
		return
	}
	pool := make([]plan.Offer, 0, len(offers))
	byID := map[string]*mesos.Offer{}
	for i := range offers {
		if place.Unavailable(&offers[i], now) {
			continue // declined below: its agent is going away
		}
		pool = append(pool, offerOf(&offers[i]))
		byID[offers[i].ID.Value] = &offers[i]
	}
	type want struct {
		id    string
		as    *appState
		count int
	}
	var wants []want
	for id, as := range c.apps {
		spec := specOf(as.app, as.deleting)
		d := plan.Decide(spec, c.instancesOf(id), now)
		as.decision = d
		if d.Launch > 0 && !now.Before(as.backoff.ReadyAt(spec)) {
			wants = append(wants, want{id, as, d.Launch})
		}
	}
	sort.Slice(wants, func(i, j int) bool {
		if !wants[i].as.waitingSince.Equal(wants[j].as.waitingSince) {
			return wants[i].as.waitingSince.Before(wants[j].as.waitingSince)
		}
		return wants[i].id < wants[j].id
	})
	launches := map[string][]mesos.TaskInfo{} // by offer id
	var created []*instance
	budget := maxLaunchBatch
	for _, w := range wants {
		if budget <= 0 {
			break // the rest go out on the next offers
		}
		w.count = min(w.count, budget)
		spec := specOf(w.as.app, w.as.deleting)
		// Unreachable instances past inactiveAfterSeconds are being
		// replaced: they must not block their replacement's placement.
		var active []plan.Instance
		for _, in := range c.instancesOf(w.id) {
			if !plan.Inactive(spec, in, now) {
				active = append(active, in)
			}
		}
		placed, rejected := plan.Place(spec, w.count, pool, active)
		w.as.offersProcessed += len(pool)
		for _, r := range rejected {
			w.as.offersUnused++
			w.as.lastUnusedAt = now
			w.as.rejections[r.AgentID] = rejection{OfferID: r.OfferID, AgentID: r.AgentID, Hostname: r.Hostname, Reasons: r.Reasons, At: now}
		}
		for _, p := range placed {
			delete(w.as.rejections, p.AgentID)
			tid := app.NewTaskID(w.id)
			o := byID[p.OfferID]
			in := &instance{
				TaskID: tid, AppID: w.id, Version: w.as.app.Version, ConfigVersion: configVersion(w.as.app),
				AgentID: p.AgentID, Host: p.Hostname, Ports: p.Ports, State: mesos.TaskStaging, StagedAt: now,
			}
			if o != nil {
				in.Attributes = textAttributes(o.Attributes)
				if o.URL != nil && o.URL.Address.IP != "" {
					in.ProbeHost = o.URL.Address.IP
				}
			}
			c.addInstance(in)
			created = append(created, in)
			budget--
			launches[p.OfferID] = append(launches[p.OfferID], taskInfo(w.as.app, tid, c.s.cfg.Role, p))
			// Take what was placed out of the pool.
			for i := range pool {
				if pool[i].ID == p.OfferID {
					pool[i].Resources = pool[i].Resources.Sub(p.Resources)
				}
			}
		}
	}
	refuse := c.s.cfg.DeclineRefuse
	if len(wants) == 0 {
		refuse = c.s.cfg.IdleRefuse
	}
	var idle []mesos.Offer
	for _, o := range offers {
		if len(launches[o.ID.Value]) == 0 {
			idle = append(idle, o)
		}
	}
	c.decline(idle, refuse)
	if len(created) == 0 {
		return
	}
	recs := make([]store.InstanceRecord, len(created))
	tids := make([]string, len(created))
	for i, in := range created {
		b, _ := json.Marshal(in)
		recs[i] = store.InstanceRecord{TaskID: in.TaskID, AppID: in.AppID, Spec: b}
		tids[i] = in.TaskID
	}
	st := c.s.store
	c.submit(&write{
		What:     fmt.Sprintf("%d new instances", len(recs)),
		Fn:       func(ctx context.Context) error { return st.PutInstances(ctx, recs) },
		Deadline: now.Add(launchTimeout),
		Done:     func(c *core, err error) { c.launched(tids, launches, err) },
	})
	c.s.log.Debug("launching", "tasks", len(created))
}

// launched sends the ACCEPTs of new instances once they are durable,
// leaving out those killed or gone meanwhile. If they could not be stored
// in time the instances are forgotten (and deleted, should the write have
// landed after all) and their offers declined.
func (c *core) launched(tids []string, launches map[string][]mesos.TaskInfo, err error) {
	if err != nil {
		c.s.log.Warn("cannot record new instances; declining their offers", "instances", len(tids), "err", err)
		for _, tid := range tids {
			if c.instances[tid] != nil {
				c.removeInstance(tid)
				c.stopProbersOf(tid)
				delete(c.dirty, tid)
				c.deleted[tid] = true
			}
		}
	}
	for oid, tasks := range launches {
		id := mesos.ID{Value: oid}
		var keep []mesos.TaskInfo
		for _, t := range tasks {
			if in := c.instances[t.TaskID.Value]; err == nil && in != nil && !in.Killing {
				keep = append(keep, t)
			}
		}
		if len(keep) == 0 {
			c.call(func(ctx context.Context) {
				_ = c.s.client.Decline(ctx, []mesos.ID{id}, &mesos.Filters{RefuseSeconds: fsecs(c.s.cfg.DeclineRefuse)})
			})
			continue
		}
		c.call(func(ctx context.Context) {
			// No refuse filter on what is left: more instances may want it.
			if err := c.s.client.Launch(ctx, []mesos.ID{id}, keep, &mesos.Filters{RefuseSeconds: fsecs(0)}); err != nil {
				c.s.log.Warn("launch failed", "offer", id.Value, "err", err)
			}
		})
	}
}

// decline gives offers back with a refuse filter.
func (c *core) decline(offers []mesos.Offer, refuse time.Duration) {
	for _, o := range offers {
		oid := o.ID
		c.call(func(ctx context.Context) {
			_ = c.s.client.Decline(ctx, []mesos.ID{oid}, &mesos.Filters{RefuseSeconds: fsecs(refuse)})
		})
	}
}

// maxLaunchBatch bounds the tasks launched from one batch of offers, so a
// large app never becomes one enormous ACCEPT.
const maxLaunchBatch = 1000

func fsecs(d time.Duration) *mesos.Float { v := mesos.Float(d.Seconds()); return &v }

// batch is the loop's own durable state as it stood when a flush began.
type batch struct {
	fid     string
	put     []store.InstanceRecord
	del     []string
	delays  map[string]*store.Delay // nil: clear
	ended   []*ended                // deployments
	removed []string                // apps
	acks    []mesos.TaskStatus
}

func (b *batch) empty() bool {
	return b.fid == "" && len(b.put) == 0 && len(b.del) == 0 && len(b.delays) == 0 && len(b.ended) == 0 && len(b.removed) == 0
}

// write stores the batch in one transaction.
func (b *batch) write(ctx context.Context, st *store.Store) error {
	if b.empty() {
		return nil
	}
	return st.Atomically(ctx, func(tx *store.Tx) error {
		if b.fid != "" {
			if err := tx.SetFrameworkID(ctx, b.fid); err != nil {
				return err
			}
		}
		if err := tx.PutInstances(ctx, b.put); err != nil {
			return err
		}
		for _, tid := range b.del {
			if err := tx.DeleteInstance(ctx, tid); err != nil {
				return err
			}
		}
		for _, id := range sortedKeys(b.delays) {
			var err error
			if d := b.delays[id]; d != nil {
				err = tx.SetLaunchDelay(ctx, id, *d)
			} else {
				err = tx.ClearLaunchDelay(ctx, id)
			}
			if err != nil {
				return err
			}
		}
		for _, e := range b.ended {
			if err := tx.EndDeployment(ctx, e.id, e.spec, e.at, historyKeep); err != nil {
				return err
			}
		}
		for _, id := range b.removed {
			if err := tx.DeleteApp(ctx, id); err != nil {
				return err
			}
			if err := tx.ClearLaunchDelay(ctx, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// flush hands the loop's changed state to the writer as one batch, unless
// a batch is still with it: then the changes wait in their sets and go
// with the next, so that nothing piles up while Postgres is away. Status
// updates are acknowledged once the batch holding what they changed is
// durable; until then the agents resend them, and nothing is lost.
func (c *core) flush() {
	if c.flushing || !c.wr.CanSubmit() {
		return
	}
	b := &batch{fid: c.fid, delays: map[string]*store.Delay{}}
	for tid := range c.dirty {
		if in := c.instances[tid]; in != nil {
			spec, _ := json.Marshal(in)
			b.put = append(b.put, store.InstanceRecord{TaskID: tid, AppID: in.AppID, Spec: spec})
		}
	}
	b.del = slices.Sorted(maps.Keys(c.deleted))
	for id := range c.delays {
		if as := c.apps[id]; as != nil && as.backoff.Failures > 0 {
			b.delays[id] = &store.Delay{Failures: as.backoff.Failures, LastFailure: as.backoff.LastFailure}
		} else {
			b.delays[id] = nil
		}
	}
	for _, id := range slices.Sorted(maps.Keys(c.finished)) {
		b.ended = append(b.ended, c.finished[id])
	}
	b.removed = slices.Sorted(maps.Keys(c.removed))
	for _, st := range c.acks {
		b.acks = append(b.acks, st)
	}
	if b.empty() && len(b.acks) == 0 {
		return
	}
	c.fid = ""
	clear(c.dirty)
	clear(c.deleted)
	clear(c.delays)
	clear(c.finished)
	clear(c.removed)
	clear(c.acks)
	c.flushing = true
	st := c.s.store
	c.submit(&write{What: "state", Fn: func(ctx context.Context) error { return b.write(ctx, st) }, Done: func(c *core, err error) { c.flushed(b, err) }})
}

// flushed handles a batch's outcome: the acknowledgements go out once it
// is durable. A batch refused for good is dropped (retrying cannot cure
// it), and its updates acknowledged all the same, or agents would resend
// them for ever.
func (c *core) flushed(b *batch, err error) {
	c.flushing = false
	switch {
	case err == nil:
	case store.Permanent(err):
		c.s.log.Error("state changes refused by the database; dropping them", "err", err)
	default:
		// Not expected (batches are retried until they succeed): keep it
		// for the next batch, unless changed since.
		c.s.log.Warn("cannot store state changes; will retry", "err", err)
		c.unflush(b)
		return
	}
	for _, st := range b.acks {
		agent := ""
		if st.AgentID != nil {
			agent = st.AgentID.Value
		}
		tid, uuid := st.TaskID.Value, st.UUID
		c.ack(func(ctx context.Context) { _ = c.s.client.Acknowledge(ctx, agent, tid, uuid) })
	}
}

// ack queues an acknowledgement for the ackers; when their queue is full
// it waits with the other kernel calls instead (see call), so the loop
// never blocks.
func (c *core) ack(fn func(ctx context.Context)) {
	select {
	case c.s.acks <- fn:
	default:
		c.call(fn)
	}
}

// unflush puts a batch that was not stored back into the sets.
func (c *core) unflush(b *batch) {
	if b.fid != "" && c.fid == "" {
		c.fid = b.fid
	}
	for _, r := range b.put {
		if c.instances[r.TaskID] != nil {
			c.dirty[r.TaskID] = true
		}
	}
	for _, tid := range b.del {
		c.deleted[tid] = true
	}
	for id := range b.delays {
		c.delays[id] = true
	}
	for _, e := range b.ended {
		c.finished[e.id] = e
	}
	for _, id := range b.removed {
		if c.apps[id] == nil {
			c.removed[id] = true
		}
	}
	for _, st := range b.acks {
		c.acks[st.UUID] = st
	}
}
