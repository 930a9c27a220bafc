// Package lead is leadership for every component that runs as several
// instances of which one leads: masters, services and jobs. It holds the
// election, the term and its handler swap, the fence on the leader's
// writes, and the standby's forwarder.
//
// Vocabulary:
//
//   - member: an instance as the election knows it (Member): an id unique
//     to the process, the base URL of its API, and the data it published.
//   - election: how the instances agree on a leader (Election): ZooKeeper
//     (ZK) when they run with --zk, a Postgres advisory lock (DBLock) when
//     several share a database without it, or nobody to agree with (Sole).
//   - leadership: a context. The election runs the leader's function under
//     a context that ends the moment leadership may be lost; everything
//     the leader does runs under it and stops with it.
//   - term: one stretch of leadership, with state of its own built fresh
//     from the database when it begins, and an epoch.
//   - epoch: the number of a component's latest term, in the table
//     <component>.term (kernel.term for the masters, services.term,
//     jobs.term). Beginning a term increments it.
//   - fence: the check a write makes, in its own transaction, that its
//     writer's epoch is still the latest (Fence). A deposed leader that has
//     not noticed yet (a paused process, a partition) has its writes
//     refused with ErrFenced, and its term ends.
//   - swap: the server's handler across terms (Swap): the leading term's
//     API while a term serves, the standby's otherwise.
//   - forwarder: the standby's reverse proxy to the leader (Forwarder),
//     which marks what it passes on (ForwardedBy) so that nothing is
//     passed on twice, and carries the caller's credentials.
//
// The life of an instance:
//
//	      ┌──────────── Election.Run ─────────────┐
//	      ▼                                       │
//	standby: Swap serves the standby handler      │
//	(Forwarder → the leader, or 503/local)        │
//	      │ elected: lead(ctx)                    │
//	      ▼                                       │
//	Fence.Begin: epoch+1 ── earlier terms' writes │
//	      │                 now fail ErrFenced    │
//	      ▼                                       │
//	term: fresh state from the database,          │
//	Swap serves its handler, writes Check         │
//	      │ ctx ends: session lost, lock lost,    │
//	      │ or a write was fenced                 │
//	      └───────────────────────────────────────┘
//
// The election makes one leader likely; the fence makes a second one
// harmless. Neither relies on ZooKeeper and Postgres agreeing: an
// election that briefly elects two leaves the older one's writes refused.
package lead
