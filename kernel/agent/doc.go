// Package agent is the corral agent: it registers with the master, runs the
// tasks the master sends it as processes in sandboxes with cgroup limits,
// and reports their status reliably, across restarts of itself and of the
// master.
//
// Goroutines and ownership:
//
//	           ┌──────────── connect ────────────┐
//	master ───▶│ REGISTER stream: events, in order│──┐
//	  ▲        │ HEARTBEAT calls every interval   │  │ inbox (func(ctx, *loop))
//	  │        └──────────────────────────────────┘  ▼
//	  │ UPDATE batches  ┌──────────────────────────────────────────┐
//	  └─────────────────│ loop: the one owner of tasks, the status │◀── runner exits
//	                    │ update manager, the agent id and session │
//	                    └──────────────────────────────────────────┘
//	                      │ launches (bounded workers)  ▲ results
//	                      ▼                             │
//	            checkpoint + sandbox + cgroup + spawn ──┘
//
// The loop never blocks on the network: sends, launches and sandbox
// garbage collection run in goroutines it starts and Run joins; they report
// back through the inbox. HTTP handlers (/state, /metrics) ask the loop the
// same way.
//
// Status updates follow the rules of package update; each is written to the
// task's checkpoint (package checkpoint) before it is handed to the
// manager, and each acknowledgement before it is applied, so a restarted
// agent resends exactly what was not acknowledged. A task's checkpoint is
// removed once its terminal update is acknowledged; its sandbox stays until
// it is older than Config.SandboxMaxAge.
//
// Health checks (TaskInfo.health_check): a running task with a check has
// one goroutine of its own, started and cancelled by the loop and joined by
// Run, that probes it on its own timer (package health/probe) and sends
// each result to the loop. The loop owns the task's health (package
// health): it reports every change as a reliable TASK_RUNNING update with
// healthy set and reason REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, and kills
// the task after too many consecutive failures; the terminal TASK_KILLED
// then says so, with healthy=false. A check stops when its task is killed
// or ends, and resumes after a restart from the last reported health.
//
// Restart and recovery: the agent id is kept in meta/agent.json with the
// host's boot id. Same boot: the agent keeps its id, adopts its tasks'
// wrapper processes (package runner) and re-registers with them. New boot:
// the old checkpoints are archived and the agent registers as a new agent.
//
// Run returns when its context ends, leaving tasks running.
package agent
