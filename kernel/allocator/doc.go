// Package allocator decides which framework is offered which agent's free
// resources, by hierarchical Dominant Resource Fairness (DRF).
//
// It is the pure core of the master's offer loop: a deterministic state
// machine that imports only the standard library and package resource. It
// reads no clock (callers pass now), starts no goroutines and does no I/O.
// The master owns one Allocator and calls it from one goroutine.
//
// # Vocabulary
//
//   - agent: a machine with a total of resources. Free = total minus
//     everything allocated on it. Inactive (unreachable) agents keep their
//     allocations but are never offered.
//   - framework: a scheduler, subscribed to one or more roles. Inactive
//     (disconnected) frameworks keep their allocations but get no offers.
//   - role: the unit of fairness between groups of frameworks; it has a
//     weight (default 1). Role names are flat: "eng/web" is sorted as its
//     own role, not as a child of "eng".
//   - member: a framework within one of its roles. Allocations, suppression
//     and filters are per member, as an offer is made to a framework for one
//     role.
//   - allocation: resources a member holds on an agent, either offered and
//     not yet answered or in use by tasks. Offered resources count as
//     allocated the moment Cycle returns them; Recover gives back what is
//     declined or no longer used.
//   - dominant share: the largest fraction of the cluster total of any
//     scalar resource (cpus, mem, disk, gpus, ...) held. A role's share is
//     divided by its weight. Ranges and sets (ports) do not count.
//   - filter: after a decline with refuse_seconds, (framework, role, agent)
//     is not offered again until it expires, unless the agent's free
//     resources have grown beyond what was refused.
//   - suppressed: a member that asked for no offers until it revives.
//   - minimum allocatable: free resources smaller than Config's MinCPUs cpus
//     and MinMem mem (both) are not worth an offer and stay put.
//
// # A cycle
//
// Cycle visits every agent in a seeded pseudo-random order that changes per
// cycle (CycleAgents visits a given few). Each agent's free resources go
// whole to one member: the eligible member first in DRF order.
//
//	Cycle(now) or CycleAgents(now, ids)
//	  |
//	  v
//	each agent (Cycle: shuffled) --- inactive, or free below minimum ---> skip
//	  |
//	  v
//	role heap: lowest weighted share first, ties by name
//	  |        (only roles with an eligible member)
//	  v
//	member heap of that role: lowest share first, ties by framework id
//	  |        (eligible: framework active, role subscribed, not suppressed;
//	  |         filtered for this agent: pop, try the next, push back after)
//	  v
//	Offer{framework, agent, role, all the agent's free resources}
//	  |
//	  v
//	free = nothing; the member's and role's shares grow; both heaps re-sorted
//
// Shares are kept incrementally, as vectors of scalar amounts in fixed
// point, and roles and members sit in heaps ordered by share, so an offer
// costs O(log roles + log members) however large the cluster. An agent
// where some members have filters costs at most one extra heap pop per
// filter on that agent.
//
// # Invariants
//
// On every agent the allocations plus the free resources equal the total
// (unless AddAgent shrank the total below what is allocated; then nothing
// more is offered there until enough is recovered). No resource is offered
// while it is allocated. Equal seeds and equal calls give equal decisions.
package allocator
