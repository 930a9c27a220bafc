// Package simagent runs many simulated agents in one process. Each speaks
// the real master⇄agent protocol (package agentproto) over HTTP, so a real
// master cannot tell it from an agent process; none of them runs anything.
// It exists for benchmarks and tests at a scale that real agent processes
// cannot reach on one machine (10,000 tasks on 1,000 agents).
//
// Contract of a simulated agent, per the protocol:
//
//   - It registers with the master its Detector names (following 307s to
//     the leader; trying the next master on a refusal or a 503), with
//     plausible resources and a hostname of its own, and keeps the
//     REGISTER stream open. It heartbeats every interval the REGISTERED
//     event names. The session ends when the stream breaks or stays silent
//     for three intervals, when a heartbeat is answered 409 (stale
//     connection), or when an UPDATE call fails.
//   - After a session ends it re-registers with the agent id the master
//     gave it and every task it knows (state and latest status), with the
//     real agent's jittered, doubling backoff; a Detector with a Changes
//     channel (a ZooKeeper source) makes it try a new leader at once.
//   - LAUNCH: a task it does not know starts at once: the agent keeps it
//     and reports TASK_RUNNING. A task it knows is ignored.
//   - KILL: a task it runs ends TASK_KILLED; an unknown task is answered
//     TASK_LOST. SHUTDOWN_FRAMEWORK kills every task of the framework.
//   - RECONCILE: every named task it does not know is answered
//     TASK_DROPPED.
//   - Status updates are reliable as in package update (the real agent's
//     manager): the oldest unacknowledged update of each task is sent, with
//     the task's latest state, in one UPDATE call at a time; it is resent
//     after UpdateRetryInterval (doubling) and after every
//     re-registration, until an ACKNOWLEDGE for its uuid arrives. A task
//     whose terminal update is acknowledged is forgotten. Nothing is
//     checkpointed: a simulated agent lives as long as its Fleet.
//   - Optionally (Config.TasksPer) each agent starts out running tasks of
//     one framework and reports them at its first registration, as an
//     agent that restarted with checkpointed tasks would.
//
// Goroutines: Fleet.Run starts one goroutine per agent, the owner of that
// agent's state, which registers and then handles its stream's events,
// timers and call results; a second goroutine per session reads the
// stream, and UPDATE and HEARTBEAT calls run in short-lived goroutines the
// owner joins when the session ends. The owner publishes a copy of what
// Fleet.Agents and Fleet.Status report under a small lock.
//
//	owner ─── REGISTER (agent id, info, tasks) ───▶ master
//	  ▲                                              │
//	  └── reader ◀── stream: REGISTERED, LAUNCH, … ◀─┘
//	owner ─── UPDATE (at most one in flight) ─────▶ 202 | 409
//	owner ─── HEARTBEAT (every interval) ─────────▶ 202 | 409
//
// The agents share one HTTP client whose connection pool holds an idle
// connection per agent, and one Detector (one ZooKeeper session for the
// whole fleet). When Run returns, every connection the fleet dialed is
// closed. A thousand agents with ten tasks each take about 55 MB of heap
// (kernel/e2e's BenchmarkFailover1000Agents reports it as heap_MB).
package simagent
