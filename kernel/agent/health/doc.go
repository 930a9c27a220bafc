// Package health is the agent's pure core of task health checks, as Mesos
// runs them for TaskInfo.health_check: it validates a mesos.HealthCheck and
// fills in its defaults (Parse), and counts probe results into health
// changes and a kill decision (Tracker). Running probes is the job of
// package probe; timing them is the agent's.
//
// Vocabulary: a probe is one run of the check (a command, an HTTP GET or a
// TCP connect) and yields a Result. The task's health Status starts
// Unknown. A failed probe is ignored while the task is inside its grace
// period and has never been healthy; otherwise it is counted, and enough
// consecutive counted failures kill the task.
//
//	          success              counted failure
//	Unknown ───────────▶ Healthy ───────────────────▶ Unhealthy
//	   │                    ▲                          ▲  │  │
//	   │                    └──────── success ─────────┼──┘  │ MaxFailures (> 0)
//	   │                                               │     │ consecutive counted
//	   └─────────────── counted failure ───────────────┘     ▼ failures
//	                                                        kill
//
// Every change of Status is reported to the framework as a TASK_RUNNING
// update with healthy set. The package is pure: no I/O, no clock, no
// goroutines; callers pass now.
package health
