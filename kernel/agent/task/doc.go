// Package task holds the agent's pure decisions about a single task: whether
// a TaskInfo can run here (Validate), who it runs as (User), what its
// process sees (Env, Ports, Limits, Resolve), and what its end
// means (Outcome).
//
// The state machine of a task on the agent:
//
//	           validate fails
//	 LAUNCH ───────────────────────────────▶ TASK_ERROR
//	   │       its user is missing or the agent cannot switch to it, or
//	   │       a secret it references cannot be had (Resolve)
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
// Secrets: a secret's value comes from the task (VALUE) or, for a
// REFERENCE, from the master at launch (Resolve). It is used by a SECRET
// variable of the command or of its health check, or by a secret volume,
// a file the agent gives the task in its sandbox. The values live only in
// the process environments (EnvInput.Secrets, CheckEnv) and those files;
// the checkpoint keeps the task without its inline values (Redacted).
//
// A task the agent never knew is answered with TASK_DROPPED (reconcile) or
// TASK_LOST (kill). The package is pure: no I/O, no clock, no goroutines.
package task
