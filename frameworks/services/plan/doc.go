// Package plan is the pure planning core of the services framework: what to
// launch, kill and forget for an app (Decide), where new instances go and why
// an offer does not fit (Place, Explain), how long to wait after failures
// (Backoff), when a failing health check kills a task (Health), and when a
// deployment has failed (Progress, Judge).
//
// Everything here is a function of its arguments, "now" included: no clock,
// no I/O, no goroutines, no randomness. The scheduler (the shell) owns the
// state, calls these functions on a snapshot and applies the decisions; a
// decision it cannot apply (no offer fits, backoff not over) is simply made
// again on the next call. The package imports only the standard library and
// corral's kernel/resource and kernel/mesos.
//
// # Vocabulary
//
//   - spec: what the planner needs of one app version (Spec). Its
//     ConfigVersion changes on configuration changes and restarts, not on
//     scaling.
//   - instance: one task of the app (Instance). "New" instances run the
//     target ConfigVersion, "old" ones anything else.
//   - ready: running, not being killed and not known unhealthy; for new
//     instances of a health-checked spec, known healthy, and of a
//     readiness-checked one, past their readiness check (Ready).
//   - present: counted towards the size of the app: every non-terminal
//     instance except inactive unreachable ones. Instances being killed are
//     present (they still hold resources) but neither ready nor counted
//     towards the target.
//   - unreachable: its agent is partitioned. Present until
//     UnreachableInactiveAfter (then inactive: replaced), remembered until
//     UnreachableExpungeAfter (then expunged: forgotten, killed if it
//     returns). One that returns is an ordinary instance again; the surplus
//     is killed like on a scale-down.
//   - minReady, maxTotal: the upgrade strategy's bounds (Bounds):
//     ceil(minimumHealthCapacity × N) ready instances are kept,
//     floor((1 + maximumOverCapacity) × N) present instances at most.
//   - kill order: unreachable, then not yet running, then unhealthy, then
//     ready; within each, by killSelection on StagedAt (YOUNGEST_FIRST
//     kills the latest staged first), then by task id.
//
// # Rolling upgrade
//
// Decide covers start, scale, restart, upgrade and delete with the same three
// rules: kill surplus new instances, kill old ones while the ready count
// stays ≥ minReady, launch new ones while present ≤ maxTotal. With N = 3,
// minimumHealthCapacity 1 and maximumOverCapacity 1 (minReady 3, maxTotal 6):
//
//	step              old (v1)        new (v2)        ready  present
//	----------------  --------------  --------------  -----  -------
//	start             R R R           .               3      3
//	launch 3          R R R           s s s           3      6
//	1 new ready       R R R           R s s           4      6
//	kill 1 old        R R k           R s s           3      6
//	all new ready     R R             R R R           5      5
//	kill 2 old        k k             R R R           3      5
//	done              .               R R R           3      3
//
//	R ready   s staging/starting/unhealthy   k being killed
//
// With minimumHealthCapacity 0.5 and maximumOverCapacity 0 (minReady 2,
// maxTotal 3) one old instance is killed first, its replacement launched once
// it is gone, and so on. With minimumHealthCapacity 0 all old instances are
// killed at once.
//
// When old instances must go but minReady equals maxTotal
// (minimumHealthCapacity 1 with maximumOverCapacity 0, say), no kill and no
// launch would be allowed. Marathon deadlocks there; Decide instead allows one
// instance over capacity and replaces old instances one at a time, and says
// so in Decision.Notes.
//
// # Failing deployments
//
// Progress watches one app's part of a deployment. Each evaluation the
// caller Observes the instances, and reports failed new instances with
// Failed; Judge then says whether the deployment failed:
//
//	             Observe: a new instance ready for the first time,
//	             or an instance being removed gone  ──► Since = now,
//	             ┌──────────────────────────────┐       failures forgotten
//	             ▼                              │
//	start ──► watching ─────────────────────────┘
//	             │  Failed: a new instance crashed or was health-killed
//	             │
//	             ├─ FailureLimit failures in a row ──► CrashLoop
//	             └─ now − Since ≥ ProgressDeadline  ──► NoProgress
//
// The reason of a failure names the step, the new instances that are not
// ready and why (staging, unhealthy with the check's cause, not past the
// readiness check), what is not launched with the agents' placement
// reasons, or the failures of a crash loop. Whether the app then rolls
// back is the caller's decision: its rollback is a deployment like any
// other, bounded by the same upgrade strategy.
//
// # Placement
//
// Place visits offers in (AgentID, offer id) order and packs as many
// instances on each as fit, evaluating the constraints (UNIQUE, CLUSTER,
// GROUP_BY, LIKE, UNLIKE, MAX_PER, IS over hostname and agent attributes)
// against the app's instances plus the placements made so far. Every offer
// that took no (further) instance while some were wanted gets a Rejection
// whose reasons answer "why isn't my app starting" per agent:
//
//	insufficient mem: needs 128, offer has 64
//	port 8080 is not in the offer's ports [31000-32000]
//	constraint [rack IS r1] not met: rack is "r2"
//
// Explain condenses them into one line for the queue and deployment views.
package plan
