// Package registry is the master's durable registry in Postgres (schema
// kernel, see corral/migrations): what a newly elected master needs to
// rebuild its view of the cluster.
//
// Vocabulary:
//
//   - agent: a machine the master has admitted, with its info as the master
//     recorded it (raw JSON: this package knows no kernel types).
//   - framework: a scheduler that has subscribed, with its failover timeout.
//   - weight: an operator-set share multiplier for a role (default 1, absent
//     here).
//   - master: the most recently elected leading master, one row.
//
// Agent states, as this store moves them:
//
//	         AdmitAgent (from any state, or none)
//	(none) ───────────────────────────────────────▶ admitted
//	                                                   │
//	                              MarkAgentUnreachable │
//	                                                   ▼
//	                                              unreachable
//	                                                   │
//	           MarkAgentGone (also from admitted)      │
//	                                                   ▼
//	(none) ◀──── RemoveAgent (from any state) ────── gone
//
// Framework rows are written whole by PutFramework; their state machine
// belongs to the master.
//
// Store is a thin adapter: no pgx type appears in its API, every method does
// one statement, and errors carry what was being done. Postgres being down is
// an ordinary error from the call that needed it; the pool reconnects on a
// later call, and retrying with backoff is the caller's job.
package registry
