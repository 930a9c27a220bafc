package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"corral/internal/apiclient"
)

// deploymentView is one entry of GET /v2/deployments.
type deploymentView = apiclient.Deployment

// target is the change a verb waits for: the deployment the API started
// for app, which brings the app to version (or removes it).
type target struct {
	app        string
	deployment string
	version    string
	deleting   bool
}

// outcome is where a change stands after one poll.
type outcome int

const (
	// pending: the deployment runs, or it ended and the app has not
	// reached its target yet.
	pending outcome = iota
	// reached: the deployment is gone and the app is at its target (or
	// gone, for a delete).
	reached
	// replaced: the deployment is gone and the app moved on to another
	// version (a forced change, a rollback).
	replaced
	// vanished: the app was deleted while its deployment was waited for.
	vanished
	// failed: the deployment failed (its progress deadline passed, or
	// its new instances crash-looped); it may be rolling back.
	failed
)

// String names the outcome.
func (o outcome) String() string {
	return [...]string{"pending", "reached", "replaced", "vanished", "failed"}[o]
}

// atTarget reports whether an app runs exactly its instances, all healthy
// when it has health checks.
func atTarget(a *appView) bool {
	if a.TasksRunning != a.Instances || a.TasksStaged > 0 {
		return false
	}
	return len(a.HealthChecks) == 0 || a.TasksHealthy >= a.Instances
}

// judge decides from one poll how the change stands (pure): deps is GET
// /v2/deployments?history=true (the running deployments, then the ended
// ones the API remembers; an API without a history lists the running
// ones only), app is GET /v2/apps/ID (nil when 404). The text says why,
// for replaced, vanished and failed.
func judge(t target, deps []deploymentView, app *appView) (outcome, string) {
	for _, d := range deps {
		if d.ID != t.deployment {
			continue
		}
		switch d.Status {
		case "", "running":
			return pending, ""
		case "failed":
			msg := fmt.Sprintf("deployment %s of %s failed: %s", t.deployment, t.app, d.Reason)
			if d.RollbackDeploymentID != "" {
				msg += fmt.Sprintf("; rolling back to the previous version: deployment %s", d.RollbackDeploymentID)
			}
			return failed, msg
		case "cancelled":
			return replaced, fmt.Sprintf("deployment %s of %s was cancelled: %s", t.deployment, t.app, d.Reason)
		}
		// Succeeded, or stopped (force=true: the app converges on its
		// own): where the app is decides, below.
	}
	if t.deleting {
		if app == nil {
			return reached, ""
		}
		// Only a version newer than the delete's is the app made again;
		// the old one may outlive its deployment for a moment.
		if t.version != "" && newerVersion(app.Version, t.version) {
			return replaced, fmt.Sprintf("deployment %s was replaced before it finished: %s exists again at version %s", t.deployment, t.app, app.Version)
		}
		return pending, ""
	}
	if app == nil {
		return vanished, fmt.Sprintf("app %s was deleted while deployment %s was running", t.app, t.deployment)
	}
	if t.version != "" && app.Version != t.version {
		by := "a newer change (a forced update or a rollback)"
		for _, d := range deps {
			if !d.Running() {
				continue
			}
			for _, a := range d.AffectedApps {
				if a == t.app {
					by = "deployment " + d.ID
				}
			}
		}
		return replaced, fmt.Sprintf("deployment %s was replaced by %s before it finished: %s is now at version %s", t.deployment, by, t.app, app.Version)
	}
	if atTarget(app) {
		return reached, ""
	}
	return pending, ""
}

// newerVersion reports whether app version a is later than b. Versions are
// RFC 3339 times; others compare as strings.
func newerVersion(a, b string) bool {
	ta, errA := time.Parse(time.RFC3339Nano, a)
	tb, errB := time.Parse(time.RFC3339Nano, b)
	if errA != nil || errB != nil {
		return a > b
	}
	return ta.After(tb)
}

// progressLine is the one-line state of the app being changed (pure).
func progressLine(t target, app *appView) string {
	switch {
	case app == nil && t.deleting:
		return t.app + ": deleted"
	case app == nil:
		return t.app + ": does not exist"
	case t.deleting:
		return fmt.Sprintf("%s: deleting, %s still running", t.app, plural(app.TasksRunning+app.TasksStaged, "instance", "instances"))
	}
	s := fmt.Sprintf("%s: instances running %d/%d", t.app, app.TasksRunning, app.Instances)
	if app.TasksStaged > 0 {
		s += fmt.Sprintf(" (%d staging)", app.TasksStaged)
	}
	if len(app.HealthChecks) > 0 {
		s += fmt.Sprintf(", healthy %d/%d", app.TasksHealthy, app.Instances)
	}
	return s
}

// missing says what keeps an app from its target (pure).
func missing(t target, app *appView) string {
	if app == nil {
		return ""
	}
	if t.deleting {
		return plural(app.TasksRunning+app.TasksStaged, "instance is", "instances are") + " still running"
	}
	var parts []string
	if n := app.Instances - app.TasksRunning; n > 0 {
		parts = append(parts, fmt.Sprintf("%d not running", n))
	} else if n < 0 {
		parts = append(parts, fmt.Sprintf("%d more than wanted still running", -n))
	}
	if n := app.Instances - app.TasksHealthy; len(app.HealthChecks) > 0 && n > 0 {
		parts = append(parts, fmt.Sprintf("%d not healthy", n))
	}
	return strings.Join(parts, ", ")
}

// waitingReason is what the deployment says it waits for, if anything.
func waitingReason(t target, deps []deploymentView) string {
	for _, d := range deps {
		if d.ID != t.deployment || !d.Running() {
			continue
		}
		for _, a := range d.CurrentActions {
			if a.App == t.app && a.Waiting != "" {
				return a.Waiting
			}
		}
	}
	return ""
}

// unplacedReasons asks the services API's queue why the offers of each
// agent did not take app: "host: reason; reason" lines, sorted by host;
// nil when nothing waits or the queue cannot be read (the progress goes
// on without them).
func (r *runner) unplacedReasons(ctx context.Context, app string) []string {
	var q struct {
		Queue []struct {
			App struct {
				ID string `json:"id"`
			} `json:"app"`
			LastUnusedOffers []struct {
				AgentID  string   `json:"agentId"`
				Hostname string   `json:"hostname"`
				Reasons  []string `json:"reasons"`
			} `json:"lastUnusedOffers"`
		} `json:"queue"`
	}
	if r.services.getJSON(ctx, "/v2/queue?embed=lastUnusedOffers", &q) != nil {
		return nil
	}
	var out []string
	for _, item := range q.Queue {
		if item.App.ID != app {
			continue
		}
		for _, o := range item.LastUnusedOffers {
			host := o.Hostname
			if host == "" {
				host = o.AgentID
			}
			out = append(out, fmt.Sprintf("%s: %s", host, strings.Join(o.Reasons, "; ")))
		}
	}
	slices.Sort(out)
	return out
}

// waitDeployment polls /v2/deployments (with its history) and the app
// until judge says the change ended, printing a progress line whenever it
// changes. An API that cannot be reached for a while (a failover) is
// waited for, up to the timeout. A deployment that failed is an error
// with its reason.
func (r *runner) waitDeployment(ctx context.Context, t target, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	w := r.progress()
	var lastLine, lastWaiting, lastErr string
	var lastReasons []string // per agent, while waiting for offers
	var app *appView
	gone := false // the deployment left the list before the app was at its target
	for {
		var deps []deploymentView
		err := r.services.getJSON(ctx, "/v2/deployments?history=true", &deps)
		if err == nil {
			var found bool
			app, found, err = r.getApp(ctx, t.app)
			if !found {
				app = nil
			}
		}
		if ctx.Err() != nil {
			return failf("interrupted; deployment %s of %s carries on", t.deployment, t.app)
		}
		switch {
		case err == nil:
			lastErr = ""
			if line := progressLine(t, app); line != lastLine {
				fmt.Fprintln(w, line)
				lastLine = line
			}
			if why := waitingReason(t, deps); why != lastWaiting {
				if why != "" {
					fmt.Fprintf(w, "%s: %s\n", t.app, why)
				}
				lastWaiting = why
				lastReasons = nil
			}
			if strings.Contains(lastWaiting, "offer") {
				// Why each agent's offers do not fit, as they change.
				if rs := r.unplacedReasons(ctx, t.app); len(rs) > 0 && !slices.Equal(rs, lastReasons) {
					for _, l := range rs {
						fmt.Fprintf(w, "  %s\n", l)
					}
					lastReasons = rs
				}
			}
			o, why := judge(t, deps, app)
			if o == pending && !gone && !slices.ContainsFunc(deps, func(d deploymentView) bool { return d.ID == t.deployment && d.Running() }) {
				gone = true
				fmt.Fprintf(w, "deployment %s ended before %s reached its target (it was stopped, or the last instances are still coming up); waiting for the app\n", t.deployment, t.app)
			}
			switch o {
			case reached:
				if t.deleting {
					fmt.Fprintf(w, "deployment %s finished: %s deleted\n", t.deployment, t.app)
				} else {
					fmt.Fprintf(w, "deployment %s finished: %s\n", t.deployment, strings.TrimPrefix(progressLine(t, app), t.app+": "))
				}
				return nil
			case replaced, vanished, failed:
				return failf("%s", why)
			}
		case exitCode(err) == ExitUnreachable:
			// A failover or restart of the services API: keep trying.
			if msg := err.Error(); msg != lastErr {
				fmt.Fprintf(r.errw, "%s; still trying\n", msg)
				lastErr = msg
			}
		default:
			return err
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("timed out after %v waiting for deployment %s of %s", timeout, t.deployment, t.app)
			if m := missing(t, app); m != "" {
				msg += ": " + m
			}
			if lastWaiting != "" {
				msg += " (" + lastWaiting + ")"
			}
			if len(lastReasons) > 0 {
				msg += "; the agents' offers did not fit:\n  " + strings.Join(lastReasons, "\n  ") + "\n"
			}
			return failf("%s; the deployment carries on ('corral app show %s' shows it)", msg, t.app)
		}
		select {
		case <-ctx.Done():
			return failf("interrupted; deployment %s of %s carries on", t.deployment, t.app)
		case <-time.After(min(r.poll, time.Until(deadline)+time.Millisecond)):
		}
	}
}
