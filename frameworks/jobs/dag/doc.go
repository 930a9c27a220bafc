// Package dag is the dependency graph of the jobs framework: checking that
// the parent edges form a DAG, rewiring it when a job is deleted, deciding
// when a dependent job is ready, and drawing it as DOT or JSON.
//
// The package is pure: it imports only the standard library, reads no
// clock, starts no goroutines and does no I/O. Every function takes the
// graph as a value and returns new values; callers own the maps and
// persist what the functions decide.
//
// # Vocabulary
//
//   - graph: map[string][]string from each job to its parents. Every job
//     of the graph is a key, also a job without parents (a scheduled job).
//   - parent, child: a child runs after its parents; edges point from
//     parent to child in the drawings and in cycle paths.
//   - dependent job: a job with parents. scheduled job: a job with a
//     schedule and no parents.
//   - pending run: the id of a parent run that succeeded (or failed with
//     softError) and that no run of the child has consumed yet.
//
// # Readiness (AND semantics)
//
// A dependent job runs once after all of its parents have succeeded since
// its own last triggered run. The caller keeps one Edge per (parent,
// child) in persistent storage:
//
//	parent run succeeds ──► Edge.PendingRun = run id (a newer success replaces it)
//	Ready(child's edges) ──► start one child run, recording the pending run ids
//	                         as its triggers, and clear them in the same write
//
// Because the bookkeeping lives with the caller's storage rather than in
// memory, a restart or failover neither forgets partial progress nor fires
// a child twice.
package dag
