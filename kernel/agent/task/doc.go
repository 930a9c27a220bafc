// Package task holds the agent's pure decisions about a single task: whether
// a TaskInfo can run here (Validate), who it runs as (User), what its
// process sees (Env, Ports, Limits), and what its end means (Outcome).
//
// The state machine of a task on the agent:
//
//	           validate fails
//	 LAUNCH ───────────────────────────────▶ TASK_ERROR
//	   │       its user is missing or the agent cannot switch to it
//	   ├───────────────────────────────────▶ TASK_FAILED (nothing started)
//	   ▼        spawn fails
//	TASK_STARTING ─────────────────────────▶ TASK_FAILED
//	   │ spawned
//	   ▼          exit / kill / OOM (Outcome)
//	TASK_RUNNING ──────────────────────────▶ TASK_FINISHED | TASK_FAILED | TASK_KILLED
//
// A task with a health check also reports TASK_RUNNING again, with healthy
// set, each time its health changes (package health); Validate rejects an
// invalid check with the help of health.Parse.
//
// A task the agent never knew is answered with TASK_DROPPED (reconcile) or
// TASK_LOST (kill). The package is pure: no I/O, no clock, no goroutines.
package task
