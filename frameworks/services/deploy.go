package services

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"

	"corral/frameworks/services/app"
	"corral/frameworks/services/plan"
	"corral/frameworks/services/store"
)

// change is one app's part of a deployment: next is its new definition,
// nil to delete it. config, if set, is the configuration version next
// keeps (see revert): instances already running it are instances of next.
type change struct {
	id     string
	next   *app.App
	action action
	config string
}

// errLocked is returned when a change touches an app that a running
// deployment holds and force is not set.
type errLocked struct{ ids []string }

func (e *errLocked) Error() string {
	return "App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'."
}

// errNotFound, errConflict map to 404 and 409.
type errNotFound struct{ msg string }

func (e *errNotFound) Error() string { return e.msg }

type errConflict struct{ msg string }

func (e *errConflict) Error() string { return e.msg }

// errUnavailable maps to 503: the change could not be made durable.
type errUnavailable struct{ err error }

func (e *errUnavailable) Error() string { return "cannot store the change: " + e.err.Error() }
func (e *errUnavailable) Unwrap() error { return e.err }

// nextVersion returns a version timestamp later than every given one.
func nextVersion(now time.Time, after ...string) string {
	v := app.NewVersion(now)
	for _, a := range after {
		for a != "" && v <= a {
			t, err := app.ParseVersion(a)
			if err != nil {
				break
			}
			v = app.NewVersion(t.Add(time.Millisecond))
		}
	}
	return v
}

// updateOf is the change that makes next the definition of app id: a
// start when there is no such app (or it is being deleted), a scale when
// only the instances differ, a restart when the tasks must be replaced,
// and ok false when next is what runs already.
func (c *core) updateOf(id string, next app.App) (ch change, ok bool) {
	ch = change{id: id, next: &next, action: actionStart}
	if as := c.apps[id]; as != nil && !as.deleting {
		next = keepServicePorts(as.app, next)
		switch {
		case as.app.Instances == next.Instances && app.ConfigEqual(as.app, next):
			return ch, false
		case app.OnlyScale(as.app, next):
			ch.action = actionScale
		default:
			ch.action = actionRestart
		}
	}
	return ch, true
}

// unchanged answers an apply that changes none of the apps ids: no
// deployment is stored and no task is touched, but clients that wait for
// the deployment id they were given see one that has already ended (its
// deployment_info and deployment_success are published at once). Its
// version is the newest of the apps' current versions.
func (c *core) unchanged(ids []string, now time.Time) *deployment {
	d := &deployment{ID: uuid.NewString(), Apps: ids, Actions: map[string]action{}, Created: now}
	for _, id := range ids {
		if as := c.apps[id]; as != nil && as.app.Version > d.Version {
			d.Version = as.app.Version
		}
	}
	plan := c.deploymentJSON(d)
	c.s.bus.Publish("deployment_info", map[string]any{"plan": plan, "currentStep": c.stepJSON(d)})
	c.s.bus.Publish("deployment_success", map[string]any{"id": d.ID, "plan": plan})
	return d
}

// deploy decides changes as one deployment. It returns the deployment and
// the commit that makes it durable (the apps, their versions and the
// deployment, in one transaction) and then applies it to the loop's
// state. With force, deployments holding the apps are cancelled; without,
// they make the change fail with errLocked.
func (c *core) deploy(changes []change, force bool, now time.Time) (*commit, *deployment, error) {
	return c.deployWith(changes, deployOpts{force: force}, now)
}

// deployOpts are how deployWith treats the deployments a change
// overrides, and what the new one is.
type deployOpts struct {
	force bool
	// rollback: the change rolls back the deployments it overrides
	// (DELETE /v2/deployments/{id}), which end "rolled back by" it.
	rollback bool
	// rollbackOf is the failed deployment the new one rolls back
	// automatically; ending that one is the caller's.
	rollbackOf string
}

// deployWith is deploy with opts. The deployments it overrides end as
// cancelled, in the same transaction, and join the history.
func (c *core) deployWith(changes []change, opts deployOpts, now time.Time) (*commit, *deployment, error) {
	var locking []string
	affected := map[string]bool{}
	for _, ch := range changes {
		affected[ch.id] = true
	}
	for id, d := range c.deployments {
		if id == opts.rollbackOf {
			continue
		}
		for _, a := range d.Apps {
			if affected[a] {
				locking = append(locking, id)
				break
			}
		}
	}
	sort.Strings(locking)
	if len(locking) > 0 && !opts.force {
		return nil, nil, &errLocked{ids: locking}
	}
	if err := c.assignServicePorts(changes); err != nil {
		return nil, nil, err
	}
	var latest []string
	for _, ch := range changes {
		if as := c.apps[ch.id]; as != nil {
			latest = append(latest, as.app.Version)
		}
	}
	version := nextVersion(now, latest...)
	d := &deployment{ID: uuid.NewString(), Version: version, Actions: map[string]action{}, Previous: map[string]json.RawMessage{},
		Created: now, RollbackOf: opts.rollbackOf}
	type put struct {
		id, version string
		spec        json.RawMessage
	}
	var puts []put
	var removing []string
	for _, ch := range changes {
		d.Apps = append(d.Apps, ch.id)
		d.Actions[ch.id] = ch.action
		if as := c.apps[ch.id]; as != nil {
			b, _ := json.Marshal(as.app)
			d.Previous[ch.id] = b
		}
		if c.removed[ch.id] {
			// Removed here but not yet in the database: the removal goes
			// first, in this transaction, lest it land after the change.
			removing = append(removing, ch.id)
		}
		if ch.next != nil {
			ch.next.Version = version
			vi := &app.VersionInfo{LastScalingAt: version, LastConfigChangeAt: version}
			if as := c.apps[ch.id]; as != nil && ch.action == actionScale && as.app.VersionInfo != nil {
				vi.LastConfigChangeAt = as.app.VersionInfo.LastConfigChangeAt
			}
			if ch.config != "" {
				vi.LastConfigChangeAt = ch.config
			}
			ch.next.VersionInfo = vi
			b, err := json.Marshal(ch.next)
			if err != nil {
				return nil, nil, err
			}
			puts = append(puts, put{ch.id, ch.next.Version, b})
		}
	}
	spec, _ := json.Marshal(d)
	for _, id := range removing {
		delete(c.removed, id)
	}
	// How the overridden deployments end, as the history and the events
	// show it.
	why := "cancelled by a forced change: deployment " + d.ID
	if opts.rollback {
		why = "rolled back by deployment " + d.ID
	}
	overridden := map[string]*ended{}
	for _, id := range locking {
		old := c.deployments[id]
		overridden[id] = c.endOf(old, c.deploymentJSON(old), statusCancelled, why, now, nil)
	}
	cm := &commit{what: "deployment " + d.ID, apps: d.Apps}
	cm.write(func(ctx context.Context, tx *store.Tx) error {
		for _, id := range removing {
			if err := tx.DeleteApp(ctx, id); err != nil {
				return err
			}
			if err := tx.ClearLaunchDelay(ctx, id); err != nil {
				return err
			}
		}
		for _, id := range locking {
			e := overridden[id]
			if err := tx.EndDeployment(ctx, id, e.spec, e.at, historyKeep); err != nil {
				return err
			}
		}
		for _, p := range puts {
			if err := tx.PutApp(ctx, p.id, p.version, p.spec); err != nil {
				return err
			}
		}
		return tx.PutDeployment(ctx, d.ID, spec)
	})
	cm.undo(func(c *core) {
		for _, id := range removing {
			if c.apps[id] == nil {
				c.removed[id] = true
			}
		}
	})
	cm.apply(func(c *core) {
		for _, id := range locking {
			old := c.deployments[id]
			if old == nil {
				continue // ended meanwhile
			}
			delete(c.deployments, id)
			c.remember(overridden[id])
			c.s.bus.Publish("deployment_failed", map[string]any{"id": id, "plan": c.deploymentJSON(old), "reason": why})
		}
		for _, ch := range changes {
			as := c.apps[ch.id]
			if ch.next == nil {
				if as != nil {
					as.deleting = true
				}
				continue
			}
			if as == nil {
				as = &appState{rejections: map[string]rejection{}}
				c.apps[ch.id] = as
			}
			configChanged := configVersion(as.app) != configVersion(*ch.next)
			as.app = *ch.next
			as.deleting = false
			if configChanged {
				// A new version starts without the old one's launch delay.
				as.backoff = plan.Backoff{}
				c.persistDelay(ch.id)
				as.rejections = map[string]rejection{}
			}
		}
		// Decide for the changed apps now, so that what the API shows right
		// after this change (waiting reasons, the queue) already reflects it.
		for _, ch := range changes {
			if as := c.apps[ch.id]; as != nil {
				as.decision = plan.Decide(specOf(as.app, as.deleting), c.instancesOf(ch.id), now)
			}
		}
		d.startWatch(now)
		c.deployments[d.ID] = d
		c.s.bus.Publish("deployment_info", map[string]any{"plan": c.deploymentJSON(d), "currentStep": c.stepJSON(d)})
		c.s.bus.Publish("group_change_success", map[string]any{"groupId": "/", "version": version})
	})
	return cm, d, nil
}

// rollback decides a deployment that returns the apps of d to their
// previous definitions (deleting the ones d created).
func (c *core) rollback(d *deployment, now time.Time) (*commit, *deployment, error) {
	var changes []change
	for _, id := range d.Apps {
		var cur *app.App
		if as := c.apps[id]; as != nil {
			cur = &as.app
		}
		ch, err := revert(id, d.Previous[id], cur)
		if err != nil {
			return nil, nil, err
		}
		changes = append(changes, ch)
	}
	return c.deployWith(changes, deployOpts{force: true, rollback: true}, now)
}

// revert is the change that returns app id from cur (nil: gone) to its
// definition prev from before a deployment (nil: the deployment created
// it, so it is deleted). The change keeps prev's configuration version:
// the instances still running prev's configuration are kept, and only
// the others are replaced, within prev's upgrade strategy (Marathon
// would replace them all, marathon#4046). One that only differs from cur
// in instances is a scale, any other a restart.
func revert(id string, prev json.RawMessage, cur *app.App) (change, error) {
	if prev == nil {
		return change{id: id, action: actionStop}, nil
	}
	var a app.App
	if err := json.Unmarshal(prev, &a); err != nil {
		return change{}, fmt.Errorf("previous definition of %s unreadable: %w", id, err)
	}
	a.Normalize()
	ch := change{id: id, next: &a, action: actionRestart, config: configVersion(a)}
	if cur != nil && app.ConfigEqual(*cur, a) && configVersion(*cur) == ch.config {
		ch.action = actionScale
	}
	return ch, nil
}

// lockedError reports whether err is a lock conflict and its deployments.
func lockedError(err error) ([]string, bool) {
	var le *errLocked
	if errors.As(err, &le) {
		return le.ids, true
	}
	return nil, false
}
