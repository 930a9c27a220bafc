package allocator

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"corral/kernel/resource"
)

// Default minimum allocatable amounts: an agent's free resources are offered
// only if they hold at least DefaultMinCPUs cpus or DefaultMinMem MB of mem.
const (
	DefaultMinCPUs = 0.01
	DefaultMinMem  = 32
)

// defaultSeed seeds the agent shuffle when Config.Seed is zero.
const defaultSeed = 0x636f7272616c // "corral"

// Config tunes an Allocator. The zero value means the defaults.
type Config struct {
	// MinCPUs and MinMem form the minimum allocatable size: an agent's free
	// resources are offered only if they hold at least MinCPUs cpus OR at
	// least MinMem mem. Zero means the default (DefaultMinCPUs,
	// DefaultMinMem).
	MinCPUs, MinMem float64

	// Seed seeds the pseudo-random agent order of Cycle. Allocators built
	// with equal seeds and fed equal calls make equal decisions. Zero means
	// a fixed default seed.
	Seed uint64
}

// Validate reports a Config field that New would not honour: negative,
// NaN or infinite minimums.
func (c Config) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    float64
	}{{"MinCPUs", c.MinCPUs}, {"MinMem", c.MinMem}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			errs = append(errs, fmt.Errorf("allocator config: %s must be a finite amount >= 0, got %v", f.name, f.v))
		}
	}
	return errors.Join(errs...)
}

// Offer is one allocation decision: all the free resources of one agent,
// now allocated to one framework under one of its roles. The resources stay
// allocated until they are given back with Recover (or the framework or
// agent is removed).
type Offer struct {
	FrameworkID, AgentID, Role string
	Resources                  resource.Resources
}

// Allocator is the hierarchical DRF allocator: it tracks agents, frameworks
// and what is allocated where, and decides who is offered which agent's free
// resources. It is a pure, deterministic state machine: time comes in as
// arguments, it starts no goroutines and does no I/O.
//
// An Allocator is not safe for concurrent use; one goroutine owns it.
type Allocator struct {
	minCPUs, minMem int64 // milli-units

	// Scalar resource names are interned to small indexes so that the hot
	// loop works on []int64 vectors instead of maps.
	names   []string
	nameIdx map[string]int

	total []int64 // cluster total per scalar index, over all agents

	agents    map[string]*agent
	agentList []*agent // base order, shuffled by Cycle
	rng       *rand.Rand

	frameworks map[string]*framework
	roles      map[string]*role
	weights    map[string]float64
	quotas     map[string]quotaVec
	roleHeap   roleHeap // roles with at least one eligible member

	dirty    bool // cluster total changed: every share is stale
	nFilters int  // filters installed, over all agents

	// Scratch slices reused to keep the hot loop free of allocations.
	scratchRoles   []*role
	scratchMembers []*member
	scratchAgents  []*agent
}

const (
	cpusIdx = 0 // the interned index of resource.CPUs
	memIdx  = 1 // the interned index of resource.Mem
)

type agent struct {
	id       string
	total    resource.Resources
	totalVec []int64
	free     resource.Resources
	freeVec  []int64
	active   bool
	over     bool // allocations exceed total (total shrank); free is recomputed
	allocs   []allocation
	pos      int // index in Allocator.agentList
	nFilters int // filters naming this agent, expired or not
}

// allocation is what one member holds on one agent: offered and not yet
// recovered, or in use by tasks.
type allocation struct {
	m   *member
	res resource.Resources
}

type framework struct {
	id         string
	registered bool // false for a placeholder created by Allocate
	active     bool
	members    map[string]*member // by role name
}

type role struct {
	name     string
	weight   float64
	alloc    []int64
	share    float64 // weighted dominant share
	members  int     // members of any state, for garbage collection
	eligible memberHeap
	pos      int // index in Allocator.roleHeap, -1 when absent
	quota    *quotaVec
	// first is set while the role's allocation is below its guarantee:
	// it sorts before every role that is not.
	first bool
}

// member is a framework within one role: the unit DRF sorts within a role,
// the unit that suppression and filters apply to.
type member struct {
	fw         *framework
	role       *role
	subscribed bool
	suppressed bool
	alloc      []int64
	share      float64 // dominant share, unweighted
	nAllocs    int     // agents where this member holds an allocation
	filters    map[*agent]filter
	pos        int // index in role.eligible, -1 when absent
}

type filter struct {
	until   time.Time
	refused resource.Resources
}

// New returns an empty Allocator. Fields of cfg that are zero, negative or
// not finite take their defaults (see Config.Validate).
func New(cfg Config) *Allocator {
	minCPUs, minMem := cfg.MinCPUs, cfg.MinMem
	if !(minCPUs > 0) || math.IsInf(minCPUs, 0) {
		minCPUs = DefaultMinCPUs
	}
	if !(minMem > 0) || math.IsInf(minMem, 0) {
		minMem = DefaultMinMem
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = defaultSeed
	}
	a := &Allocator{
		minCPUs:    milli(minCPUs),
		minMem:     milli(minMem),
		nameIdx:    map[string]int{},
		agents:     map[string]*agent{},
		rng:        rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		frameworks: map[string]*framework{},
		roles:      map[string]*role{},
		weights:    map[string]float64{},
		quotas:     map[string]quotaVec{},
	}
	a.intern(resource.CPUs)
	a.intern(resource.Mem)
	return a
}

// AddAgent adds an agent with the given total resources, active. It is
// idempotent: re-adding a known agent replaces its total and keeps its
// allocations and active flag. If the new total no longer holds what is
// allocated on the agent, nothing more is offered there until enough has
// been recovered.
func (a *Allocator) AddAgent(id string, total resource.Resources) {
	ag := a.agents[id]
	if ag == nil {
		ag = &agent{id: id, active: true, pos: len(a.agentList)}
		a.agents[id] = ag
		a.agentList = append(a.agentList, ag)
	} else {
		a.total = subVec(a.total, ag.totalVec)
	}
	ag.total = total
	ag.totalVec = a.vecOf(total)
	a.total = addVec(a.total, ag.totalVec)
	a.recomputeFree(ag)
	a.dirty = true
}

// RemoveAgent forgets an agent, every allocation on it and every filter
// naming it. Unknown ids are ignored.
func (a *Allocator) RemoveAgent(id string) {
	ag := a.agents[id]
	if ag == nil {
		return
	}
	for _, e := range ag.allocs {
		v := a.vecOf(e.res)
		e.m.alloc = subVec(e.m.alloc, v)
		e.m.role.alloc = subVec(e.m.role.alloc, v)
		e.m.nAllocs--
		a.reshare(e.m)
		a.gc(e.m)
	}
	ag.allocs = nil
	if ag.nFilters > 0 {
		for _, fw := range a.frameworks {
			for _, m := range fw.members {
				if _, ok := m.filters[ag]; ok {
					a.dropFilter(m, ag)
				}
			}
		}
	}
	a.total = subVec(a.total, ag.totalVec)
	last := a.agentList[len(a.agentList)-1]
	a.agentList[ag.pos] = last
	last.pos = ag.pos
	a.agentList[len(a.agentList)-1] = nil
	a.agentList = a.agentList[:len(a.agentList)-1]
	delete(a.agents, id)
	a.dirty = true
}

// SetAgentActive marks an agent reachable (true) or not. An inactive agent
// keeps its allocations and still counts in the cluster total, but its free
// resources are never offered. Unknown ids are ignored.
func (a *Allocator) SetAgentActive(id string, active bool) {
	if ag := a.agents[id]; ag != nil {
		ag.active = active
	}
}

// AddFramework registers a framework subscribed to roles, with
// suppressedRoles suppressed (entries not in roles are ignored). A newly
// registered framework is active; this includes one known so far only
// through Allocate. It is idempotent: for a registered framework it replaces
// the roles and the suppressed set and keeps the active flag. A role dropped
// from roles loses its filters and gets no more offers; what the framework
// holds under it stays allocated until recovered. A framework with no roles
// gets no offers.
func (a *Allocator) AddFramework(id string, roles []string, suppressedRoles []string) {
	fw := a.frameworks[id]
	if fw == nil {
		fw = &framework{id: id, members: map[string]*member{}}
		a.frameworks[id] = fw
	}
	if !fw.registered {
		fw.registered = true
		fw.active = true
	}
	for name, m := range fw.members {
		if !slices.Contains(roles, name) && m.subscribed {
			m.subscribed = false
			a.clearFilters(m)
			a.sync(m)
			a.gc(m)
		}
	}
	for _, name := range roles {
		m := fw.members[name]
		if m == nil {
			m = a.newMember(fw, name)
		}
		m.subscribed = true
		m.suppressed = slices.Contains(suppressedRoles, name)
		a.sync(m)
	}
}

// RemoveFramework forgets a framework: everything it holds on every agent
// becomes free, and its filters are dropped. Unknown ids are ignored.
func (a *Allocator) RemoveFramework(id string) {
	fw := a.frameworks[id]
	if fw == nil {
		return
	}
	for _, ag := range a.agentList {
		for i := 0; i < len(ag.allocs); {
			e := ag.allocs[i]
			if e.m.fw != fw {
				i++
				continue
			}
			a.release(ag, i, e.res)
		}
	}
	for _, m := range fw.members {
		m.subscribed = false
		a.clearFilters(m)
		a.sync(m)
		a.gc(m)
	}
	delete(a.frameworks, id)
}

// SetFrameworkActive marks a framework connected (true) or not. An inactive
// framework keeps its allocations, filters and suppression but gets no
// offers. Unknown ids are ignored.
func (a *Allocator) SetFrameworkActive(id string, active bool) {
	fw := a.frameworks[id]
	if fw == nil || !fw.registered {
		return
	}
	fw.active = active
	for _, m := range fw.members {
		a.sync(m)
	}
}

// Allocate marks r on the agent as in use by the framework under role, as
// for tasks reported by a re-registering agent. Only the part of r that is
// free on the agent is taken; the rest is ignored, so the sum of allocations
// never exceeds the agent's total. An unknown agent makes the call a no-op.
// An unknown framework is created as a placeholder that holds the allocation
// (it counts in DRF shares) but gets no offers until AddFramework registers
// it; the role need not be one the framework is subscribed to.
func (a *Allocator) Allocate(agentID, frameworkID, role string, r resource.Resources) {
	ag := a.agents[agentID]
	if ag == nil {
		return
	}
	fw := a.frameworks[frameworkID]
	if fw == nil {
		fw = &framework{id: frameworkID, members: map[string]*member{}}
		a.frameworks[frameworkID] = fw
	}
	m := fw.members[role]
	if m == nil {
		m = a.newMember(fw, role)
	}
	take := intersect(r, ag.free)
	if take.IsEmpty() {
		a.gc(m)
		return
	}
	v := a.vecOf(take)
	ag.free = ag.free.Sub(take)
	ag.freeVec = subVec(ag.freeVec, v)
	a.hold(ag, m, take, v)
}

// Recover gives back resources that the framework holds under role on the
// agent: the unused or declined part of an offer, or the resources of a
// finished task. Only what the framework actually holds there is released;
// anything else in r is ignored, so recovering twice is harmless. Unknown
// agents, frameworks and roles make the call a no-op.
//
// With refuse > 0 and a role the framework is subscribed to, it also
// installs a refuse filter for (framework, role, agent) until now+refuse: while it lasts, that framework is not offered
// the agent under that role if the agent's free resources are a subset of r
// (more free resources, e.g. after a task ends, lift it). A later filter for
// the same (framework, role, agent) replaces an earlier one.
func (a *Allocator) Recover(agentID, frameworkID, role string, r resource.Resources, refuse time.Duration, now time.Time) {
	ag := a.agents[agentID]
	fw := a.frameworks[frameworkID]
	if ag == nil || fw == nil {
		return
	}
	m := fw.members[role]
	if m == nil {
		return
	}
	if i := ag.find(m); i >= 0 {
		a.release(ag, i, r)
	}
	if refuse > 0 && m.subscribed {
		if _, ok := m.filters[ag]; !ok {
			if m.filters == nil {
				m.filters = map[*agent]filter{}
			}
			ag.nFilters++
			a.nFilters++
		}
		m.filters[ag] = filter{until: now.Add(refuse), refused: r}
	}
	a.gc(m)
}

// Suppress stops offers to the framework under the given roles (all its
// roles when roles is empty) until Revive or AddFramework says otherwise.
// Roles the framework is not subscribed to are ignored.
func (a *Allocator) Suppress(frameworkID string, roles []string) {
	a.eachMember(frameworkID, roles, func(m *member) {
		m.suppressed = true
		a.sync(m)
	})
}

// Revive un-suppresses the framework under the given roles (all its roles
// when roles is empty) and drops its filters for those roles.
func (a *Allocator) Revive(frameworkID string, roles []string) {
	a.eachMember(frameworkID, roles, func(m *member) {
		m.suppressed = false
		a.clearFilters(m)
		a.sync(m)
	})
}

// SetWeight sets a role's DRF weight; a role with weight 2 is entitled to
// twice the share of a role with weight 1. The weight may be set before the
// role has frameworks. A weight that is not a finite number > 0 restores
// the default, 1.
func (a *Allocator) SetWeight(role string, w float64) {
	if !(w > 0) || math.IsInf(w, 0) {
		w = 1
	}
	if w == 1 {
		delete(a.weights, role)
	} else {
		a.weights[role] = w
	}
	if r := a.roles[role]; r != nil {
		r.weight = w
		a.reshareRole(r)
	}
}

// Weight returns a role's DRF weight (1 unless set with SetWeight).
func (a *Allocator) Weight(role string) float64 {
	if w, ok := a.weights[role]; ok {
		return w
	}
	return 1
}

// Cycle runs one batch allocation over all active agents, in a
// pseudo-random order that changes from cycle to cycle, and returns the
// offers made (nil when none). Each offered agent's free resources go
// whole to one (framework, role), chosen by hierarchical DRF; they count as
// allocated from now on. A framework may be offered an agent where it still
// holds an earlier offer; each offer is recovered on its own. Filters
// expired at now are dropped.
func (a *Allocator) Cycle(now time.Time) []Offer {
	a.expireFilters(now)
	a.rng.Shuffle(len(a.agentList), func(i, j int) {
		l := a.agentList
		l[i], l[j] = l[j], l[i]
		l[i].pos, l[j].pos = i, j
	})
	return a.run(a.agentList, now)
}

// CycleAgents is Cycle restricted to the listed agents, visited in the
// given order; unknown ids are ignored. It is the event-driven allocation
// run when resources are added or recovered on a few agents.
func (a *Allocator) CycleAgents(now time.Time, agentIDs []string) []Offer {
	list := a.scratchAgents[:0]
	for _, id := range agentIDs {
		if ag := a.agents[id]; ag != nil {
			list = append(list, ag)
		}
	}
	offers := a.run(list, now)
	clear(list)
	a.scratchAgents = list[:0]
	return offers
}

// Free returns the unallocated resources on the agent (empty when unknown).
func (a *Allocator) Free(agentID string) resource.Resources {
	if ag := a.agents[agentID]; ag != nil {
		return ag.free
	}
	return resource.Resources{}
}

// Total returns the agent's total resources (empty when unknown).
func (a *Allocator) Total(agentID string) resource.Resources {
	if ag := a.agents[agentID]; ag != nil {
		return ag.total
	}
	return resource.Resources{}
}

// Shares returns every known role's weighted dominant share: the largest
// fraction of the cluster total of any scalar resource allocated to the
// role, divided by the role's weight. A role is known while a framework is
// subscribed to it or holds resources under it.
func (a *Allocator) Shares() map[string]float64 {
	a.refresh()
	out := make(map[string]float64, len(a.roles))
	for name, r := range a.roles {
		out[name] = r.share
	}
	return out
}

// run offers each listed agent's free resources to the DRF-first eligible
// member. It is the hot loop: no map writes and no allocations besides the
// result slice and the first allocation of a member on an agent.
func (a *Allocator) run(list []*agent, now time.Time) []Offer {
	a.refresh()
	var out []Offer
	for _, ag := range list {
		if len(a.roleHeap) == 0 {
			break
		}
		if !ag.active || !a.allocatable(ag.freeVec) {
			continue
		}
		m := a.pick(ag, now)
		if m == nil {
			continue
		}
		if out == nil {
			out = make([]Offer, 0, len(list))
		}
		if v := a.quotaFree(m.role, ag.freeVec); v != nil {
			// Quota keeps the role to part of the agent; the rest stays
			// free for the next cycle.
			res := a.trimmed(ag, v)
			out = append(out, Offer{FrameworkID: m.fw.id, AgentID: ag.id, Role: m.role.name, Resources: res})
			a.hold(ag, m, res, v)
			ag.free = ag.free.Sub(res)
			ag.freeVec = subVec(ag.freeVec, v)
			continue
		}
		out = append(out, Offer{FrameworkID: m.fw.id, AgentID: ag.id, Role: m.role.name, Resources: ag.free})
		a.hold(ag, m, ag.free, ag.freeVec)
		ag.free = resource.Resources{}
		clear(ag.freeVec)
	}
	return out
}

func (a *Allocator) allocatable(v []int64) bool {
	return (len(v) > cpusIdx && v[cpusIdx] >= a.minCPUs) || (len(v) > memIdx && v[memIdx] >= a.minMem)
}

// pick returns the first member in DRF order (role, then framework within
// the role) that no filter keeps from this agent, or nil. Members and roles
// skipped for filters are popped and pushed back; each skip consumes a
// distinct filter on the agent, so the work is bounded by ag.nFilters.
func (a *Allocator) pick(ag *agent, now time.Time) *member {
	if ag.nFilters == 0 && (len(a.quotas) == 0 || !a.blocked(a.roleHeap[0], ag)) {
		return a.roleHeap[0].eligible[0]
	}
	var found *member
	roles := a.scratchRoles[:0]
	for len(a.roleHeap) > 0 && found == nil {
		r := a.roleHeap[0]
		ms := a.scratchMembers[:0]
		for len(r.eligible) > 0 && !(len(a.quotas) > 0 && a.blocked(r, ag)) {
			m := r.eligible[0]
			if !a.filtered(m, ag, now) {
				found = m
				break
			}
			ms = append(ms, heap.Pop(&r.eligible).(*member))
		}
		for _, m := range ms {
			heap.Push(&r.eligible, m)
		}
		clear(ms)
		a.scratchMembers = ms[:0]
		if found == nil {
			roles = append(roles, heap.Pop(&a.roleHeap).(*role))
		}
	}
	for _, r := range roles {
		heap.Push(&a.roleHeap, r)
	}
	clear(roles)
	a.scratchRoles = roles[:0]
	return found
}

// filtered reports whether a live filter keeps m from the agent's current
// free resources, dropping the filter if it has expired.
func (a *Allocator) filtered(m *member, ag *agent, now time.Time) bool {
	if len(m.filters) == 0 {
		return false
	}
	f, ok := m.filters[ag]
	if !ok {
		return false
	}
	if !now.Before(f.until) {
		a.dropFilter(m, ag)
		return false
	}
	return f.refused.Contains(ag.free)
}

// hold adds res (with scalar vector v) to what m holds on ag and updates the
// shares. The caller has already taken res out of ag.free.
func (a *Allocator) hold(ag *agent, m *member, res resource.Resources, v []int64) {
	if i := ag.find(m); i >= 0 {
		ag.allocs[i].res = ag.allocs[i].res.Add(res)
	} else {
		ag.allocs = append(ag.allocs, allocation{m: m, res: res})
		m.nAllocs++
	}
	m.alloc = addVec(m.alloc, v)
	m.role.alloc = addVec(m.role.alloc, v)
	a.reshare(m)
}

// release returns the part of r held by allocation i on ag to the agent's
// free resources. It may remove allocation i, but leaves m in place for the
// caller to garbage-collect.
func (a *Allocator) release(ag *agent, i int, r resource.Resources) {
	e := &ag.allocs[i]
	m := e.m
	var give resource.Resources
	switch {
	case r.Contains(e.res): // all of it, e.g. a whole offer declined
		give, e.res = e.res, resource.Resources{}
	case e.res.Contains(r):
		give, e.res = r, e.res.Sub(r)
	default:
		give = intersect(r, e.res)
		e.res = e.res.Sub(give)
	}
	if give.IsEmpty() {
		return
	}
	if e.res.IsEmpty() {
		last := len(ag.allocs) - 1
		ag.allocs[i] = ag.allocs[last]
		ag.allocs[last] = allocation{}
		ag.allocs = ag.allocs[:last]
		m.nAllocs--
	}
	v := a.vecOf(give)
	m.alloc = subVec(m.alloc, v)
	m.role.alloc = subVec(m.role.alloc, v)
	a.reshare(m)
	if ag.over {
		a.recomputeFree(ag)
	} else {
		ag.free = ag.free.Add(give)
		ag.freeVec = addVec(ag.freeVec, v)
	}
}

// recomputeFree sets the agent's free resources to total minus everything
// allocated on it, saturating, and notes whether allocations exceed total.
func (a *Allocator) recomputeFree(ag *agent) {
	var used resource.Resources
	for _, e := range ag.allocs {
		used = used.Add(e.res)
	}
	ag.free = ag.total.Sub(used)
	ag.freeVec = a.vecOf(ag.free)
	ag.over = !ag.total.Contains(used)
}

func (ag *agent) find(m *member) int {
	for i := range ag.allocs {
		if ag.allocs[i].m == m {
			return i
		}
	}
	return -1
}

func (a *Allocator) newMember(fw *framework, name string) *member {
	r := a.roles[name]
	if r == nil {
		r = &role{name: name, weight: a.Weight(name), pos: -1}
		a.roles[name] = r
		if q, ok := a.quotas[name]; ok {
			r.quota = &q
			r.first = r.needs()
		}
	}
	r.members++
	m := &member{fw: fw, role: r, pos: -1}
	fw.members[name] = m
	return m
}

// gc forgets m once it is neither subscribed nor holding anything, its role
// once the role has no members, and a placeholder framework once it has no
// members.
func (a *Allocator) gc(m *member) {
	if m.subscribed || m.nAllocs > 0 {
		return
	}
	a.clearFilters(m)
	a.sync(m)
	fw, r := m.fw, m.role
	delete(fw.members, r.name)
	r.members--
	if r.members == 0 {
		delete(a.roles, r.name)
	}
	if !fw.registered && len(fw.members) == 0 {
		delete(a.frameworks, fw.id)
	}
}

// sync puts m into its role's eligible heap, or takes it out, to match its
// state, and does the same for the role in the role heap.
func (a *Allocator) sync(m *member) {
	r := m.role
	want := m.fw.active && m.subscribed && !m.suppressed
	switch {
	case want && m.pos < 0:
		m.share = a.share(m.alloc)
		heap.Push(&r.eligible, m)
	case !want && m.pos >= 0:
		heap.Remove(&r.eligible, m.pos)
	}
	switch inHeap := len(r.eligible) > 0; {
	case inHeap && r.pos < 0:
		r.share = a.share(r.alloc) / r.weight
		heap.Push(&a.roleHeap, r)
	case !inHeap && r.pos >= 0:
		heap.Remove(&a.roleHeap, r.pos)
	}
}

// reshare recomputes m's and its role's shares and restores heap order.
func (a *Allocator) reshare(m *member) {
	m.share = a.share(m.alloc)
	if m.pos >= 0 {
		heap.Fix(&m.role.eligible, m.pos)
	}
	a.reshareRole(m.role)
}

func (a *Allocator) reshareRole(r *role) {
	r.share = a.share(r.alloc) / r.weight
	r.first = r.needs()
	if r.pos >= 0 {
		heap.Fix(&a.roleHeap, r.pos)
	}
}

// refresh recomputes every share after the cluster total changed.
func (a *Allocator) refresh() {
	if !a.dirty {
		return
	}
	a.dirty = false
	for _, r := range a.roles {
		for _, m := range r.eligible {
			m.share = a.share(m.alloc)
		}
		heap.Init(&r.eligible)
		r.share = a.share(r.alloc) / r.weight
		r.first = r.needs()
	}
	heap.Init(&a.roleHeap)
}

// share is the dominant share of an allocation vector: the largest fraction
// of the cluster total it holds of any scalar resource.
func (a *Allocator) share(v []int64) float64 {
	var s float64
	for i, x := range v {
		if x > 0 && i < len(a.total) && a.total[i] > 0 {
			s = max(s, float64(x)/float64(a.total[i]))
		}
	}
	return s
}

func (a *Allocator) eachMember(frameworkID string, roles []string, f func(*member)) {
	fw := a.frameworks[frameworkID]
	if fw == nil {
		return
	}
	if len(roles) == 0 {
		for _, m := range fw.members {
			if m.subscribed {
				f(m)
			}
		}
		return
	}
	for _, name := range roles {
		if m := fw.members[name]; m != nil && m.subscribed {
			f(m)
		}
	}
}

func (a *Allocator) dropFilter(m *member, ag *agent) {
	delete(m.filters, ag)
	ag.nFilters--
	a.nFilters--
}

func (a *Allocator) clearFilters(m *member) {
	for ag := range m.filters {
		a.dropFilter(m, ag)
	}
}

// expireFilters drops every filter that has expired at now, so that filters
// on agents no framework is offered do not pile up.
func (a *Allocator) expireFilters(now time.Time) {
	if a.nFilters == 0 {
		return
	}
	for _, fw := range a.frameworks {
		for _, m := range fw.members {
			for ag, f := range m.filters {
				if !now.Before(f.until) {
					a.dropFilter(m, ag)
				}
			}
		}
	}
}

// intersect returns the resources held by both a and b.
func intersect(a, b resource.Resources) resource.Resources { return a.Sub(a.Sub(b)) }

func milli(v float64) int64 { return int64(math.Round(v * 1000)) }

func (a *Allocator) intern(name string) int {
	if i, ok := a.nameIdx[name]; ok {
		return i
	}
	a.nameIdx[name] = len(a.names)
	a.names = append(a.names, name)
	return len(a.names) - 1
}

// vecOf returns the scalar part of r as a vector indexed by interned name,
// or nil when r has no scalars.
func (a *Allocator) vecOf(r resource.Resources) []int64 {
	names := r.ScalarNames()
	if len(names) == 0 {
		return nil
	}
	for _, n := range names {
		a.intern(n)
	}
	v := make([]int64, len(a.names))
	for _, n := range names {
		v[a.nameIdx[n]] = milli(r.Scalar(n))
	}
	return v
}

func grow(dst []int64, n int) []int64 {
	if len(dst) < n {
		dst = append(dst, make([]int64, n-len(dst))...)
	}
	return dst
}

func addVec(dst, src []int64) []int64 {
	dst = grow(dst, len(src))
	for i, x := range src {
		dst[i] += x
	}
	return dst
}

func subVec(dst, src []int64) []int64 {
	dst = grow(dst, len(src))
	for i, x := range src {
		dst[i] -= x
	}
	return dst
}

// memberHeap orders a role's eligible members by (share, framework id).
type memberHeap []*member

func (h memberHeap) Len() int { return len(h) }
func (h memberHeap) Less(i, j int) bool {
	x, y := h[i], h[j]
	return x.share < y.share || (x.share == y.share && x.fw.id < y.fw.id)
}
func (h memberHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].pos, h[j].pos = i, j
}
func (h *memberHeap) Push(x any) {
	m := x.(*member)
	m.pos = len(*h)
	*h = append(*h, m)
}
func (h *memberHeap) Pop() any {
	old := *h
	m := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	m.pos = -1
	return m
}

// roleHeap orders roles with eligible members by (weighted share, name).
type roleHeap []*role

func (h roleHeap) Len() int { return len(h) }
func (h roleHeap) Less(i, j int) bool {
	x, y := h[i], h[j]
	if x.first != y.first {
		return x.first
	}
	return x.share < y.share || (x.share == y.share && x.name < y.name)
}
func (h roleHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].pos, h[j].pos = i, j
}
func (h *roleHeap) Push(x any) {
	r := x.(*role)
	r.pos = len(*h)
	*h = append(*h, r)
}
func (h *roleHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	r.pos = -1
	return r
}
