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
// nil to delete it.
type change struct {
	id     string
	next   *app.App
	action action
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
	var locking []string
	affected := map[string]bool{}
	for _, ch := range changes {
		affected[ch.id] = true
	}
	for id, d := range c.deployments {
		for _, a := range d.Apps {
			if affected[a] {
				locking = append(locking, id)
				break
			}
		}
	}
	sort.Strings(locking)
	if len(locking) > 0 && !force {
		return nil, nil, &errLocked{ids: locking}
	}
	var latest []string
	for _, ch := range changes {
		if as := c.apps[ch.id]; as != nil {
			latest = append(latest, as.app.Version)
		}
	}
	version := nextVersion(now, latest...)
	d := &deployment{ID: uuid.NewString(), Version: version, Actions: map[string]action{}, Previous: map[string]json.RawMessage{}, Created: now}
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
			if err := tx.DeleteDeployment(ctx, id); err != nil {
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
				continue // finished meanwhile
			}
			delete(c.deployments, id)
			c.s.bus.Publish("deployment_failed", map[string]any{"id": id, "plan": c.deploymentJSON(old), "reason": "cancelled by a forced change"})
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
		prev, ok := d.Previous[id]
		if !ok {
			changes = append(changes, change{id: id, action: actionStop})
			continue
		}
		var a app.App
		if err := json.Unmarshal(prev, &a); err != nil {
			return nil, nil, fmt.Errorf("previous definition of %s unreadable: %w", id, err)
		}
		a.Normalize()
		act := actionRestart
		if cur := c.apps[id]; cur != nil && app.ConfigEqual(cur.app, a) {
			act = actionScale
		}
		changes = append(changes, change{id: id, next: &a, action: act})
	}
	return c.deploy(changes, true, now)
}

// lockedError reports whether err is a lock conflict and its deployments.
func lockedError(err error) ([]string, bool) {
	var le *errLocked
	if errors.As(err, &le) {
		return le.ids, true
	}
	return nil, false
}
