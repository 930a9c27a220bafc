// Package boundaries holds the test that keeps corral's layers apart, from
// the packages' real import graph (`go list -deps`):
//
//   - pure packages (the allocator, resource values, wire types, the
//     frameworks' planners, the agent's decision packages) depend only on
//     other pure packages and import no I/O (files, processes, sockets,
//     HTTP, databases, ZooKeeper, logging);
//   - a framework imports of the kernel only what a third-party framework
//     could use — the SDK (kernel/sched), the wire types (kernel/mesos) and
//     resource values (kernel/resource) — and nothing of another framework
//     but what the frameworks share under frameworks/internal;
//   - the kernel imports no framework.
//
// Each pure package also checks itself with internal/purity (no clock, no
// goroutines, an explicit list of imports).
package boundaries
