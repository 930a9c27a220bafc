package services

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"time"

	"corral/frameworks/services/app"
	"corral/frameworks/services/plan"
	"corral/frameworks/services/store"
	"corral/kernel/mesos"
)

// Deployment actions (Marathon's names).
const (
	actionStart   = "StartApplication"
	actionScale   = "ScaleApplication"
	actionRestart = "RestartApplication"
	actionStop    = "StopApplication"
)

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

	// Pending writes of this batch, flushed before acknowledgements.
	dirty   map[string]bool // task ids to upsert
	deleted map[string]bool // task ids to delete
	acks    []mesos.TaskStatus
	// probers are the running framework-side health checks.
	probers map[probeKey]context.CancelFunc
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
		probers:     map[probeKey]context.CancelFunc{},
	}
}

// loop owns the core.
func (s *Service) loop(ctx context.Context) {
	defer close(s.stopped)
	c := s.core
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
			c.event(ctx, ev)
		case r := <-s.probes:
			c.probed(r)
		case <-tick.C:
			c.reconcileUnheard(time.Now())
		case <-reconcile.C:
			if c.subscribed {
				s.call(func(ctx context.Context) { _ = s.client.Reconcile(ctx, nil) })
			}
		}
		// Batch what else is waiting before deciding.
	drain:
		for i := 0; i < 512; i++ {
			select {
			case fn := <-s.ops:
				fn(c)
			case ev := <-s.evs:
				c.event(ctx, ev)
			case r := <-s.probes:
				c.probed(r)
			default:
				break drain
			}
		}
		c.evaluate(ctx, time.Now())
		c.flush(ctx)
	}
}

// event handles one event from the kernel.
func (c *core) event(ctx context.Context, ev *mesos.Event) {
	now := time.Now()
	switch ev.Type {
	case mesos.EventSubscribed:
		c.onSubscribed(ctx, ev.Subscribed)
	case mesos.EventOffers:
		c.offers(ctx, ev.Offers.Offers, now)
	case mesos.EventUpdate:
		c.update(ev.Update.Status, now)
	case mesos.EventFailure:
		if ev.Failure.AgentID != nil {
			c.s.log.Warn("agent lost", "agent", ev.Failure.AgentID.Value)
		}
	case mesos.EventError:
		c.s.log.Error("kernel error event", "message", ev.Error.Message)
		c.subscribed = false
	}
}

func (c *core) onSubscribed(ctx context.Context, sub *mesos.Subscribed) {
	c.subscribed = true
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
		// The id must be durable before anything is launched under it.
		for {
			err := s.store.SetFrameworkID(ctx, id)
			if err == nil || ctx.Err() != nil {
				break
			}
			s.log.Warn("storing framework id failed; retrying", "err", err)
			time.Sleep(time.Second)
		}
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
	s.call(func(ctx context.Context) {
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
	c.s.call(func(ctx context.Context) { _ = c.s.client.Reconcile(ctx, tasks) })
}

// gone reports whether a state means the task no longer runs.
func gone(st mesos.TaskState) bool { return st.Terminal() || st == mesos.TaskUnknown }

// update handles a status update.
func (c *core) update(st mesos.TaskStatus, now time.Time) {
	tid := st.TaskID.Value
	in := c.instances[tid]
	if st.UUID != "" {
		c.acks = append(c.acks, st)
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
			c.s.call(func(ctx context.Context) { _ = c.s.client.Kill(ctx, tid, agent) })
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
		spec := specOf(as.app, as.deleting)
		// A task that had been up resets the delay; so does a long quiet
		// spell (Marathon: delay + maxLaunchDelay without failures).
		if in.EverReady || (!as.backoff.LastFailure.IsZero() && now.Sub(as.backoff.LastFailure) > as.backoff.Delay(spec)+spec.MaxLaunchDelay) {
			as.backoff = as.backoff.Reset()
		}
		as.backoff = as.backoff.Failed(now)
		c.persistDelay(in.AppID, as.backoff)
		as.lastFailure = &taskFailure{
			AppID: in.AppID, Host: in.Host, Message: st.Message, State: string(st.State), TaskID: in.TaskID,
			Timestamp: now.UTC().Format(timeLayout), Version: in.Version, SlaveID: in.AgentID,
		}
		c.s.log.Info("task failed", "app", in.AppID, "task", in.TaskID, "state", st.State, "message", st.Message, "next_launch_in", as.backoff.Delay(spec))
	}
}

const timeLayout = "2006-01-02T15:04:05.000Z"

func (c *core) persistDelay(appID string, b plan.Backoff) {
	st := c.s.store
	if b.Failures == 0 {
		c.s.call(func(ctx context.Context) { _ = st.ClearLaunchDelay(ctx, appID) })
		return
	}
	d := store.Delay{Failures: b.Failures, LastFailure: b.LastFailure}
	c.s.call(func(ctx context.Context) { _ = st.SetLaunchDelay(ctx, appID, d) })
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
	c.s.call(func(ctx context.Context) { _ = c.s.client.Kill(ctx, tid, agent) })
}

// expunge forgets an instance unreachable past expungeAfterSeconds: it no
// longer belongs to its app (a replacement runs instead). It is killed now,
// as far as the kernel can, and if its agent comes back the task is unknown
// here, so it is killed then (see update).
func (c *core) expunge(in *instance) {
	tid, agent := in.TaskID, in.AgentID
	c.s.log.Info("expunging task", "app", in.AppID, "task", tid, "why", "unreachable past expungeAfterSeconds")
	c.s.call(func(ctx context.Context) { _ = c.s.client.Kill(ctx, tid, agent) })
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
		out = append(out, in.toPlan())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TaskID < out[j].TaskID })
	return out
}

// evaluate runs the planner for every app: kills what must go, finishes
// deployments that reached their target, and keeps offers flowing only
// while something wants to launch.
func (c *core) evaluate(ctx context.Context, now time.Time) {
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
	c.syncProbers()
	if !c.subscribed {
		return
	}
	role := c.s.cfg.Role
	switch offerCall(wanted, c.wanted, c.suppressed, c.restate) {
	case offersRevive:
		c.suppressed = false
		c.s.call(func(ctx context.Context) { _ = c.s.client.Revive(ctx, role) })
	case offersSuppress:
		c.suppressed = true
		c.s.call(func(ctx context.Context) { _ = c.s.client.Suppress(ctx, role) })
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
// and removes deleted apps once their last instance is gone.
func (c *core) finishDeployments(now time.Time) {
	for id, d := range c.deployments {
		done := true
		for _, appID := range d.Apps {
			as := c.apps[appID]
			if as == nil {
				continue
			}
			if !as.decision.Done {
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
		delete(c.deployments, id)
		depID := id
		st := c.s.store
		c.s.call(func(ctx context.Context) { _ = st.DeleteDeployment(ctx, depID) })
		c.s.bus.Publish("deployment_success", map[string]any{"id": id, "plan": c.deploymentJSON(d)})
		c.s.log.Info("deployment finished", "id", id, "apps", d.Apps)
	}
	// A delete whose deployment was stopped with force=true still
	// deletes: its app goes once its last instance is gone.
	for appID, as := range c.apps {
		if as.deleting && len(c.byApp[appID]) == 0 && !c.inDeployment(appID) {
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

func (c *core) removeApp(appID string) {
	delete(c.apps, appID)
	st := c.s.store
	c.s.call(func(ctx context.Context) {
		_ = st.DeleteApp(ctx, appID)
		_ = st.ClearLaunchDelay(ctx, appID)
	})
	c.s.bus.Publish("app_terminated_event", map[string]any{"appId": appID})
}

// offers places wanted instances on offers: for each app that wants
// launches (and is past its backoff), in order of waiting time, the planner
// places as many as fit; the new instances are stored before the ACCEPT
// goes out, so a crash can never leave a task we do not know of.
func (c *core) offers(ctx context.Context, offers []mesos.Offer, now time.Time) {
	pool := make([]plan.Offer, len(offers))
	byID := map[string]*mesos.Offer{}
	for i := range offers {
		pool[i] = offerOf(&offers[i])
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
	if len(created) > 0 {
		recs := make([]store.InstanceRecord, len(created))
		for i, in := range created {
			b, _ := json.Marshal(in)
			recs[i] = store.InstanceRecord{TaskID: in.TaskID, AppID: in.AppID, Spec: b}
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := c.s.store.PutInstances(wctx, recs)
		cancel()
		if err != nil {
			c.s.log.Warn("cannot record new instances; declining offers", "err", err)
			for _, in := range created {
				c.removeInstance(in.TaskID)
			}
			launches = nil
		}
	}
	refuse := c.s.cfg.DeclineRefuse
	if len(wants) == 0 {
		refuse = c.s.cfg.IdleRefuse
	}
	for _, o := range offers {
		oid := o.ID
		if tasks := launches[oid.Value]; len(tasks) > 0 {
			c.s.call(func(ctx context.Context) {
				// No refuse filter on what is left: more instances may want it.
				if err := c.s.client.Launch(ctx, []mesos.ID{oid}, tasks, &mesos.Filters{RefuseSeconds: fsecs(0)}); err != nil {
					c.s.log.Warn("launch failed", "offer", oid.Value, "err", err)
				}
			})
			continue
		}
		c.s.call(func(ctx context.Context) {
			_ = c.s.client.Decline(ctx, []mesos.ID{oid}, &mesos.Filters{RefuseSeconds: fsecs(refuse)})
		})
	}
	if len(created) > 0 {
		c.s.log.Debug("launching", "tasks", len(created))
	}
}

// maxLaunchBatch bounds the tasks launched from one batch of offers, so a
// large app never becomes one enormous ACCEPT.
const maxLaunchBatch = 1000

func fsecs(d time.Duration) *mesos.Float { v := mesos.Float(d.Seconds()); return &v }

// flush writes the batch's instance changes, then acknowledges the status
// updates they came from. If Postgres cannot take them, nothing is
// acknowledged: the agent resends and nothing is lost.
func (c *core) flush(ctx context.Context) {
	if len(c.dirty) == 0 && len(c.deleted) == 0 && len(c.acks) == 0 {
		return
	}
	var recs []store.InstanceRecord
	for tid := range c.dirty {
		if in := c.instances[tid]; in != nil {
			b, _ := json.Marshal(in)
			recs = append(recs, store.InstanceRecord{TaskID: tid, AppID: in.AppID, Spec: b})
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := c.s.store.Atomically(wctx, func(tx *store.Tx) error {
		if len(recs) > 0 {
			if err := tx.PutInstances(wctx, recs); err != nil {
				return err
			}
		}
		for tid := range c.deleted {
			if err := tx.DeleteInstance(wctx, tid); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		c.s.log.Warn("cannot store instance changes; will retry and not acknowledge yet", "err", err)
		c.acks = nil
		return
	}
	c.dirty = map[string]bool{}
	c.deleted = map[string]bool{}
	acks := c.acks
	c.acks = nil
	for _, st := range acks {
		st := st
		agent := ""
		if st.AgentID != nil {
			agent = st.AgentID.Value
		}
		c.s.call(func(ctx context.Context) { _ = c.s.client.Acknowledge(ctx, agent, st.TaskID.Value, st.UUID) })
	}
}
