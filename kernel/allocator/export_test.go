package allocator

import (
	"fmt"
	"slices"
)

// CheckInvariants cross-checks every piece of incrementally kept state
// against a recomputation from scratch. Tests call it after each step.
func (a *Allocator) CheckInvariants() error {
	total := []int64(nil)
	memberVec := map[*member][]int64{}
	memberN := map[*member]int{}
	agentFilters := map[*agent]int{}
	for i, ag := range a.agentList {
		if ag.pos != i || a.agents[ag.id] != ag {
			return fmt.Errorf("agent %s: list position %d, pos %d, or map entry wrong", ag.id, i, ag.pos)
		}
		total = addVec(total, a.vecOf(ag.total))
		var used = ag.free
		seen := map[*member]bool{}
		for _, e := range ag.allocs {
			if e.res.IsEmpty() {
				return fmt.Errorf("agent %s: empty allocation kept for %s/%s", ag.id, e.m.fw.id, e.m.role.name)
			}
			if seen[e.m] {
				return fmt.Errorf("agent %s: two allocations for %s/%s", ag.id, e.m.fw.id, e.m.role.name)
			}
			seen[e.m] = true
			if a.frameworks[e.m.fw.id] != e.m.fw || e.m.fw.members[e.m.role.name] != e.m {
				return fmt.Errorf("agent %s: allocation for forgotten member %s/%s", ag.id, e.m.fw.id, e.m.role.name)
			}
			used = used.Add(e.res)
			memberVec[e.m] = addVec(memberVec[e.m], a.vecOf(e.res))
			memberN[e.m]++
		}
		if !ag.over && !used.Equal(ag.total) {
			return fmt.Errorf("agent %s: free + allocations = %v; want total %v", ag.id, used, ag.total)
		}
		if !vecEqual(ag.freeVec, a.vecOf(ag.free)) {
			return fmt.Errorf("agent %s: free vector %v; want %v", ag.id, ag.freeVec, a.vecOf(ag.free))
		}
	}
	if len(a.agents) != len(a.agentList) {
		return fmt.Errorf("%d agents in map, %d in list", len(a.agents), len(a.agentList))
	}
	if !vecEqual(total, a.total) {
		return fmt.Errorf("cluster total %v; want %v", a.total, total)
	}
	roleVec := map[*role][]int64{}
	roleN := map[*role]int{}
	nFilters := 0
	for id, fw := range a.frameworks {
		if fw.id != id {
			return fmt.Errorf("framework %s stored as %s", fw.id, id)
		}
		if !fw.registered && len(fw.members) == 0 {
			return fmt.Errorf("framework %s: empty placeholder kept", id)
		}
		for name, m := range fw.members {
			if m.fw != fw || m.role.name != name || a.roles[name] != m.role {
				return fmt.Errorf("member %s/%s: links wrong", id, name)
			}
			if !vecEqual(m.alloc, memberVec[m]) {
				return fmt.Errorf("member %s/%s: allocated %v; want %v", id, name, m.alloc, memberVec[m])
			}
			if m.nAllocs != memberN[m] {
				return fmt.Errorf("member %s/%s: nAllocs %d; want %d", id, name, m.nAllocs, memberN[m])
			}
			if !m.subscribed && m.nAllocs == 0 {
				return fmt.Errorf("member %s/%s: kept while unsubscribed and empty", id, name)
			}
			if !m.subscribed && len(m.filters) > 0 {
				return fmt.Errorf("member %s/%s: filters while unsubscribed", id, name)
			}
			eligible := fw.active && m.subscribed && !m.suppressed
			if eligible != (m.pos >= 0) || (m.pos >= 0 && m.role.eligible[m.pos] != m) {
				return fmt.Errorf("member %s/%s: eligible=%v but heap pos %d", id, name, eligible, m.pos)
			}
			for ag := range m.filters {
				if a.agents[ag.id] != ag {
					return fmt.Errorf("member %s/%s: filter on removed agent %s", id, name, ag.id)
				}
				agentFilters[ag]++
				nFilters++
			}
			roleVec[m.role] = addVec(roleVec[m.role], m.alloc)
			roleN[m.role]++
		}
	}
	if nFilters != a.nFilters {
		return fmt.Errorf("%d filters counted; want %d", a.nFilters, nFilters)
	}
	for _, ag := range a.agentList {
		if ag.nFilters != agentFilters[ag] {
			return fmt.Errorf("agent %s: %d filters counted; want %d", ag.id, ag.nFilters, agentFilters[ag])
		}
	}
	for name, r := range a.roles {
		if r.name != name || r.members != roleN[r] || r.members == 0 {
			return fmt.Errorf("role %s: %d members counted; want %d (> 0)", name, r.members, roleN[r])
		}
		if !vecEqual(r.alloc, roleVec[r]) {
			return fmt.Errorf("role %s: allocated %v; want %v", name, r.alloc, roleVec[r])
		}
		if r.weight != a.Weight(name) {
			return fmt.Errorf("role %s: weight %v; want %v", name, r.weight, a.Weight(name))
		}
		if in := len(r.eligible) > 0; in != (r.pos >= 0) || (r.pos >= 0 && a.roleHeap[r.pos] != r) {
			return fmt.Errorf("role %s: %d eligible members but heap pos %d", name, len(r.eligible), r.pos)
		}
		if !a.dirty {
			for i, m := range r.eligible {
				if m.share != a.share(m.alloc) {
					return fmt.Errorf("member %s/%s: share %v; want %v", m.fw.id, name, m.share, a.share(m.alloc))
				}
				if i > 0 && r.eligible.Less(i, (i-1)/2) {
					return fmt.Errorf("role %s: member heap out of order at %d", name, i)
				}
			}
		}
	}
	if !a.dirty {
		for i, r := range a.roleHeap {
			if r.share != a.share(r.alloc)/r.weight {
				return fmt.Errorf("role %s: share %v; want %v", r.name, r.share, a.share(r.alloc)/r.weight)
			}
			if i > 0 && a.roleHeap.Less(i, (i-1)/2) {
				return fmt.Errorf("role heap out of order at %d", i)
			}
		}
	}
	return nil
}

func vecEqual(x, y []int64) bool {
	n := max(len(x), len(y))
	x, y = grow(slices.Clone(x), n), grow(slices.Clone(y), n)
	return slices.Equal(x, y)
}
