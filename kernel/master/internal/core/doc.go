// Package core is the leading master's cluster state and the decisions
// about it: agents (registered, recovered, unreachable, gone), frameworks
// (active, disconnected, removed), their tasks and outstanding offers, and
// the allocator. It is the functional core of package master, in the
// style of etcd/raft: deterministic, with no I/O, no clock (the caller
// passes now) and no goroutines.
//
// Each step — a scheduler call, an agent's registration or heartbeat, a
// stream's end, a tick of the timeout checks, an allocation cycle — is one
// method call on Core. It changes the state and returns the Effects of the
// step: what the shell (the master's loop goroutine) has to do about it.
//
//	handler ──closure──▶ loop ──step(now)──▶ Core ──Effects──▶ loop.apply
//	                                                              │
//	    registrar (Postgres, retried, in order) ◀── Writes ───────┤
//	    stream queues (framework / agent)       ◀── Frameworks,   │
//	                                                Agents ───────┤
//	    Prometheus counters, slog               ◀── Counts, Logs ─┘
//
// Vocabulary:
//
//   - stream: a framework's SUBSCRIBE response (named by its
//     Mesos-Stream-Id) or an agent's REGISTER response (named by its
//     connection id). The shell owns the streams; the core only names them
//     in FrameworkSend and AgentSend, and learns of their end through
//     Disconnected and AgentClosed.
//   - write: a change to the registry in Postgres (AdmitAgent,
//     MarkAgentUnreachable, PutFramework). The core does not wait for it:
//     the shell's registrar makes writes durable in the order given.
//   - recovered agent: an agent the registry knows as admitted that has not
//     re-registered since this master's term began (Restore). Reconciling
//     its tasks gets no answer until it returns or its time runs out.
//   - dirty agent: an agent whose free resources may have changed since the
//     last allocation; AllocateDirty offers just those.
//
// Ids the core makes (frameworks, agents, offers) are RunID plus a
// sequence number, so a core fed the same calls makes the same decisions;
// the allocator is seeded the same way. Walks over maps whose order shows
// in the effects go in key order. The tests replay scripted traces from
// testdata/*.txt (see TestScripts for the language): each command is a
// step, and the file holds the effects it must produce.
package core
