package services

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"corral/frameworks/services/app"
	"corral/frameworks/services/plan"
	"corral/frameworks/services/store"
	"corral/kernel/mesos"
)

// Deployments that finish or fail. Every evaluation, after the planner,
// the loop watches each running deployment's apps (plan.Progress) and
// judges them under their upgrade strategy and the framework's crash-loop
// limit (plan.Policy):
//
//	evaluate ──► finishDeployments: every app Done ──► succeeded
//	         └─► watchDeployments: Observe each app, Judge
//	                 │ failed (no progress for progressDeadlineSeconds,
//	                 │ or DeploymentFailureLimit new instances failed in a row)
//	                 ▼
//	            a change, through mutate: in one transaction the deployment
//	            ends as failed (history), and, for its apps that ask for
//	            autoRollback, a deployment back to their previous
//	            definitions begins (see revert)
//
// Every ended deployment (succeeded, failed, cancelled by a forced change
// or a rollback, stopped with force=true) joins the history, which GET
// /v2/deployments?history=true shows. A failure is published as
// deployment_step_failure and deployment_failed, with its reason.
//
// A delete (StopApplication) is not watched: it ends as its instances go,
// and has nothing to return to. A rollback that fails is not rolled back
// in turn: it ends failed, and the app stays where it got.

// historyKeep is how many ended deployments the history keeps.
const historyKeep = 100

// startWatch begins watching d's apps at now.
func (d *deployment) startWatch(now time.Time) {
	d.progress = make(map[string]plan.Progress, len(d.Apps))
	for _, id := range d.Apps {
		d.progress[id] = plan.StartProgress(now)
	}
}

// watched reports whether d's part for appID is watched: all but deletes.
func watched(d *deployment, appID string) bool { return d.Actions[appID] != actionStop }

// policyOf is how a deployment of a fails.
func (c *core) policyOf(a app.App) plan.Policy {
	return plan.Policy{ProgressDeadline: secondsDur(a.UpgradeStrategy.ProgressDeadlineSeconds), FailureLimit: c.s.cfg.DeploymentFailureLimit}
}

// deploymentOf returns the running deployment that holds appID, if any
// (there is at most one: a change overriding another cancels it).
func (c *core) deploymentOf(appID string) *deployment {
	for _, d := range c.sortedDeployments() {
		if slices.Contains(d.Apps, appID) {
			return d
		}
	}
	return nil
}

// newInstanceFailed records, for the crash-loop limit, that in failed
// (why) at at, if it runs its app's current configuration and a watched
// deployment holds the app.
func (c *core) newInstanceFailed(in *instance, why string, at time.Time) {
	as := c.apps[in.AppID]
	if as == nil || as.deleting || in.ConfigVersion != configVersion(as.app) {
		return
	}
	d := c.deploymentOf(in.AppID)
	if d == nil || d.failing || !watched(d, in.AppID) {
		return
	}
	if d.progress == nil {
		d.startWatch(at)
	}
	d.progress[in.AppID] = d.progress[in.AppID].Failed(plan.Failure{TaskID: in.TaskID, Host: in.Host, At: at, Why: why},
		c.s.cfg.DeploymentFailureLimit)
}

// failureWhy words how a task ended, for a crash loop's reason.
func failureWhy(st mesos.TaskStatus) string {
	why := string(st.State)
	if st.Message != "" {
		why += ": " + st.Message
	}
	return why
}

// watchDeployments observes the apps of every running deployment and
// fails the first that Judge finds failed. Apps an API change in flight
// holds wait for it.
func (c *core) watchDeployments(now time.Time) {
	for _, d := range c.sortedDeployments() {
		if d.failing {
			continue
		}
		if d.progress == nil {
			d.startWatch(now)
		}
		for _, appID := range d.Apps {
			as := c.apps[appID]
			if as == nil || as.deleting || !watched(d, appID) || c.held[appID] {
				continue
			}
			spec := specOf(as.app, false)
			p, ok := d.progress[appID]
			if !ok {
				p = plan.StartProgress(now)
			}
			p = p.Observe(spec, c.instancesOf(appID), now)
			d.progress[appID] = p
			pol := c.policyOf(as.app)
			if !p.Judge(pol, plan.Stall{}, now).Failed() {
				continue
			}
			c.fail(d, p.Judge(pol, c.stallOf(d, as, spec), now), now)
			break
		}
	}
}

// stallOf says what keeps app as from its target in d, for the reason of
// d's failure.
func (c *core) stallOf(d *deployment, as *appState, spec plan.Spec) plan.Stall {
	st := plan.Stall{App: as.app.ID, Action: d.Actions[as.app.ID].String(), Step: 1, Steps: 1, Wanted: spec.Instances,
		Waiting: c.waitingReason(as)}
	present := 0
	for _, tv := range c.tasksOf(as.app.ID) {
		in := c.instances[tv.ID]
		if in == nil || in.ConfigVersion != spec.ConfigVersion || in.Killing || gone(in.State) {
			continue
		}
		present++
		if plan.Ready(spec, in.toPlan()) {
			st.Ready++
			continue
		}
		st.Unready = append(st.Unready, plan.Unready{TaskID: in.TaskID, Host: in.Host, Why: c.unreadyWhy(in, as)})
	}
	st.Unlaunched = max(0, spec.Instances-present)
	for _, agent := range sortedKeys(as.rejections) {
		r := as.rejections[agent]
		host := r.Hostname
		if host == "" {
			host = r.AgentID
		}
		st.Placement = append(st.Placement, host+": "+strings.Join(r.Reasons, "; "))
	}
	return st
}

// unreadyWhy says why a new instance is not ready: its state, its health
// checks' verdict, or its readiness check's.
func (c *core) unreadyWhy(in *instance, as *appState) string {
	if in.State != mesos.TaskRunning {
		why := string(in.State)
		if in.Message != "" {
			why += " (" + in.Message + ")"
		}
		return why
	}
	if len(as.app.HealthChecks) > 0 && (in.Healthy == nil || !*in.Healthy) {
		var cause string
		failures := 0
		for _, h := range in.Checks {
			if h != nil && h.LastFailureCause != "" && h.LastFailure.After(h.LastSuccess) {
				cause, failures = h.LastFailureCause, h.ConsecutiveFailures
			}
		}
		switch {
		case in.Healthy == nil && cause != "":
			return "running, not healthy yet: " + cause
		case in.Healthy == nil:
			return "running, health not known yet"
		case cause != "":
			return fmt.Sprintf("unhealthy: %s (%d consecutive failures)", cause, failures)
		}
		return "unhealthy"
	}
	if len(as.app.ReadinessChecks) > 0 && (in.Readiness == nil || !in.Readiness.Ready) {
		name := as.app.ReadinessChecks[0].Name
		if in.Readiness == nil {
			return "not ready: readiness check " + name + " has not answered yet"
		}
		return "not ready: readiness check " + name + " " + in.Readiness.Cause
	}
	return "not ready"
}

// fail ends d as failed for v, through the API changes' queue, so that
// the end and the rollback it may start are one transaction, decided in
// turn with the changes clients make. Until that is durable d is
// failing: no longer judged; if it cannot be stored, it is judged again.
func (c *core) fail(d *deployment, v plan.Verdict, now time.Time) {
	d.failing = true
	c.propose(&mutation{
		ctx: context.Background(), deadline: now.Add(c.changeTimeout), done: make(chan error, 1),
		decide:    func(c *core) (*commit, error) { return c.failCommit(d, v, time.Now()) },
		abandoned: func(c *core) { d.failing = false },
	})
}

// failCommit decides the end of the failed deployment d: its history
// entry and, for its apps that ask for it, the rollback (see
// rollbackChanges). Nothing, if d ended meanwhile.
func (c *core) failCommit(d *deployment, v plan.Verdict, now time.Time) (*commit, error) {
	if c.deployments[d.ID] != d {
		return nil, nil
	}
	planJSON := c.deploymentJSON(d)
	cur := map[string]app.App{}
	for _, id := range d.Apps {
		if as := c.apps[id]; as != nil && !as.deleting {
			cur[id] = as.app
		}
	}
	changes, notes := rollbackChanges(d, cur)
	var (
		rcm *commit
		rb  *deployment
	)
	if len(changes) > 0 {
		var err error
		rcm, rb, err = c.deployWith(changes, deployOpts{force: true, rollbackOf: d.ID}, now)
		if err != nil {
			notes = append(notes, "no rollback: "+err.Error())
			rcm, rb = nil, nil
		}
	}
	extra := map[string]any{"failure": map[string]any{"kind": v.Kind.String()}}
	if len(notes) > 0 {
		extra["notes"] = notes
	}
	if rb != nil {
		extra["rollbackDeploymentId"] = rb.ID
	}
	e := c.endOf(d, planJSON, statusFailed, v.Reason, now, extra)
	cm := &commit{what: "failing deployment " + d.ID, apps: d.Apps}
	cm.write(func(ctx context.Context, tx *store.Tx) error {
		return tx.EndDeployment(ctx, d.ID, e.spec, e.at, historyKeep)
	})
	cm.apply(func(c *core) {
		delete(c.deployments, d.ID)
		c.remember(e)
		c.s.bus.Publish("deployment_step_failure", map[string]any{"plan": planJSON, "currentStep": c.stepJSON(d)})
		c.s.bus.Publish("deployment_failed", map[string]any{"id": d.ID, "plan": planJSON, "reason": v.Reason})
		log := c.s.log.With("id", d.ID, "apps", d.Apps, "kind", v.Kind.String(), "reason", v.Reason)
		if rb != nil {
			log.Warn("deployment failed; rolling back", "rollback", rb.ID)
		} else {
			log.Warn("deployment failed")
		}
	})
	if rcm != nil {
		cm.writes = append(cm.writes, rcm.writes...)
		cm.then = append(cm.then, rcm.then...)
		cm.otherwise = append(cm.otherwise, rcm.otherwise...)
	}
	return cm, nil
}

// rollbackChanges decides which apps of the failed deployment d return
// to their definitions from before it (see revert): those whose current
// definition (cur, by id; absent when deleted) asks for
// upgradeStrategy.autoRollback, unless d created the app (a start has
// nothing to return to: the app stays, as Nomad's auto_revert leaves a
// first version), deleted it, or is itself a rollback. notes say why an
// app that asks for a rollback gets none.
func rollbackChanges(d *deployment, cur map[string]app.App) ([]change, []string) {
	var changes []change
	var notes []string
	for _, id := range d.Apps {
		a, ok := cur[id]
		if !ok || !a.UpgradeStrategy.AutoRollback {
			continue
		}
		switch prev := d.Previous[id]; {
		case d.RollbackOf != "":
			notes = append(notes, fmt.Sprintf("%s: not rolled back: this deployment rolled back %s", id, d.RollbackOf))
		case d.Actions[id] == actionStart || prev == nil:
			notes = append(notes, fmt.Sprintf("%s: not rolled back: it has no previous version", id))
		case d.Actions[id] == actionStop:
		default:
			ch, err := revert(id, prev, &a)
			if err != nil {
				notes = append(notes, fmt.Sprintf("%s: not rolled back: %v", id, err))
				continue
			}
			changes = append(changes, ch)
		}
	}
	return changes, notes
}

// endOf is d's history entry: its plan (as deploymentJSON rendered it)
// with its outcome, status and reason, and when it ended, plus extra.
func (c *core) endOf(d *deployment, planJSON map[string]any, status, reason string, at time.Time, extra map[string]any) *ended {
	m := maps.Clone(planJSON)
	m["status"] = status
	m["finishedAt"] = at.UTC().Format(timeLayout)
	if reason != "" {
		m["reason"] = reason
	}
	maps.Copy(m, extra)
	b, _ := json.Marshal(m)
	return &ended{id: d.ID, apps: slices.Clone(d.Apps), spec: b, at: at}
}

// remember puts e first in the history, which keeps historyKeep entries.
func (c *core) remember(e *ended) {
	c.history = slices.DeleteFunc(c.history, func(h *ended) bool { return h.id == e.id })
	c.history = slices.Insert(c.history, 0, e)
	if len(c.history) > historyKeep {
		c.history = c.history[:historyKeep]
	}
}

// endedOf reads a stored history entry.
func endedOf(r store.Ended) *ended {
	var head struct {
		Apps []string `json:"affectedApps"`
	}
	_ = json.Unmarshal(r.Spec, &head)
	return &ended{id: r.ID, apps: head.Apps, spec: r.Spec, at: r.FinishedAt}
}
