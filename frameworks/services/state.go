package services

import (
	"encoding/json"
	"time"

	"corral/frameworks/services/app"
	"corral/frameworks/services/plan"
)

// appState is the framework's view of one app. Owned by the loop.
type appState struct {
	app      app.App
	deleting bool
	backoff  plan.Backoff
	// lastFailure is the newest failed task of the app (lastTaskFailure).
	lastFailure *taskFailure
	// decision is the planner's last decision for the app.
	decision plan.Decision
	// waitingSince is when the app started wanting launches.
	waitingSince time.Time
	// Offer diagnostics for /v2/queue and "why is it not running".
	offersProcessed int
	offersUnused    int
	lastUnusedAt    time.Time
	rejections      map[string]rejection // by agent id, newest per agent
}

// rejection is why the newest offer of an agent did not fit.
type rejection struct {
	OfferID, AgentID, Hostname string
	Reasons                    []string
	At                         time.Time
}

// taskFailure is Marathon's lastTaskFailure.
type taskFailure struct {
	AppID     string `json:"appId"`
	Host      string `json:"host"`
	Message   string `json:"message"`
	State     string `json:"state"`
	TaskID    string `json:"taskId"`
	Timestamp string `json:"timestamp"`
	Version   string `json:"version"`
	SlaveID   string `json:"slaveId"`
}

// deployment is a running deployment; its JSON is what the store keeps.
type deployment struct {
	ID      string            `json:"id"`
	Version string            `json:"version"`
	Apps    []string          `json:"affectedApps"`
	Actions map[string]action `json:"actions"` // app id → StartApplication, ScaleApplication, RestartApplication, StopApplication
	// Previous holds each affected app's definition before the change
	// (absent for created apps), for rollback.
	Previous map[string]json.RawMessage `json:"previous,omitempty"`
	Created  time.Time                  `json:"created"`
	// RollbackOf is the failed deployment this one rolls back
	// automatically, if it does; such a one is never rolled back itself.
	RollbackOf string `json:"rollbackOf,omitempty"`

	// progress watches each app's part (see watch.go), from the
	// deployment's start or from when this term loaded it. Not stored.
	progress map[string]plan.Progress
	// failing is set while the deployment's failure is on its way to the
	// store.
	failing bool
}

// ended is a deployment that ended, as GET /v2/deployments?history=true
// shows it: spec is its plan with its outcome (see endedJSON); apps are
// its affected apps, for the ACLs.
type ended struct {
	id   string
	apps []string
	spec json.RawMessage
	at   time.Time
}

// Outcomes of ended deployments, as their "status" says.
const (
	statusSucceeded = "succeeded"
	statusFailed    = "failed"
	statusCancelled = "cancelled" // by a forced change or a rollback
	statusStopped   = "stopped"   // DELETE /v2/deployments/{id}?force=true
)

// group is an explicitly created group (groups are otherwise implied by
// app ids).
type group struct {
	ID           string   `json:"id"`
	Dependencies []string `json:"dependencies"`
	Version      string   `json:"version"`
}
