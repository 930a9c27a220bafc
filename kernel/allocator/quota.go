package allocator

import "corral/kernel/resource"

// Quota is a role's quota (Mesos 1.9), by scalar resource name:
// guarantees the allocator meets before other roles' fair shares, and
// limits the role is never offered beyond (a limit of 0 offers none of
// that resource). Empty maps mean none.
type Quota struct {
	Guarantees, Limits map[string]float64
}

// quotaVec is a Quota as vectors over the interned scalar names; nil
// means none.
type quotaVec struct {
	guar, limit []int64
	limited     []bool // which scalars have a limit
}

// SetQuota sets role's quota, replacing its old one; an empty Quota
// removes it. It takes effect at the next allocation: a role over a new
// limit keeps what it holds but is offered nothing more of that resource.
func (a *Allocator) SetQuota(roleName string, q Quota) {
	if len(q.Guarantees) == 0 && len(q.Limits) == 0 {
		delete(a.quotas, roleName)
	} else {
		var qv quotaVec
		for name, v := range q.Guarantees {
			i := a.intern(name)
			qv.guar = grow(qv.guar, i+1)
			qv.guar[i] = milli(v)
		}
		for name, v := range q.Limits {
			i := a.intern(name)
			qv.limit = grow(qv.limit, i+1)
			qv.limit[i] = milli(v)
			for len(qv.limited) <= i {
				qv.limited = append(qv.limited, false)
			}
			qv.limited[i] = true
		}
		a.quotas[roleName] = qv
	}
	if r := a.roles[roleName]; r != nil {
		a.applyQuota(r)
	}
}

// Quotas returns the roles' quotas.
func (a *Allocator) Quotas() map[string]Quota {
	out := make(map[string]Quota, len(a.quotas))
	for name, q := range a.quotas {
		out1 := Quota{Guarantees: map[string]float64{}, Limits: map[string]float64{}}
		for i, x := range q.guar {
			if x > 0 {
				out1.Guarantees[a.names[i]] = float64(x) / 1000
			}
		}
		for i, lim := range q.limited {
			if lim {
				out1.Limits[a.names[i]] = float64(q.limit[i]) / 1000
			}
		}
		out[name] = out1
	}
	return out
}

// applyQuota installs the role's quota (if any) and re-sorts it.
func (a *Allocator) applyQuota(r *role) {
	q, ok := a.quotas[r.name]
	r.quota = nil
	if ok {
		r.quota = &q
	}
	a.reshareRole(r)
}

// needs reports whether r's allocation is below its guarantee for some
// scalar: such roles are served first.
func (r *role) needs() bool {
	if r.quota == nil {
		return false
	}
	for i, g := range r.quota.guar {
		if g > 0 && (i >= len(r.alloc) || r.alloc[i] < g) {
			return true
		}
	}
	return false
}

// quotaFree is what of an agent's free vector role r may be offered: no
// limited scalar beyond the role's limit, and, for a role whose
// guarantee is met, not so much that the cluster's free resources fall
// below what the roles with unmet guarantees still need (the headroom).
// It returns nil when nothing needs trimming.
func (a *Allocator) quotaFree(r *role, free []int64) []int64 {
	if len(a.quotas) == 0 {
		return nil
	}
	var v []int64
	trim := func(i int, to int64) {
		if to < 0 {
			to = 0
		}
		if free[i] <= to {
			return
		}
		if v == nil {
			v = append([]int64(nil), free...)
		}
		if v[i] > to {
			v[i] = to
		}
	}
	if q := r.quota; q != nil {
		for i, lim := range q.limited {
			if lim && i < len(free) {
				held := int64(0)
				if i < len(r.alloc) {
					held = r.alloc[i]
				}
				trim(i, q.limit[i]-held)
			}
		}
	}
	if r.needs() {
		return v
	}
	// The headroom the guarantees still need, and what is free.
	need := make([]int64, len(free))
	anyNeed := false
	for _, other := range a.roles {
		if other == r || other.quota == nil {
			continue
		}
		for i, g := range other.quota.guar {
			if i >= len(need) {
				continue
			}
			held := int64(0)
			if i < len(other.alloc) {
				held = other.alloc[i]
			}
			if g > held {
				need[i] += g - held
				anyNeed = true
			}
		}
	}
	// Guarantees of roles that have no frameworks yet count too.
	for name, q := range a.quotas {
		if a.roles[name] != nil {
			continue
		}
		for i, g := range q.guar {
			if i < len(need) && g > 0 {
				need[i] += g
				anyNeed = true
			}
		}
	}
	if !anyNeed {
		return v
	}
	clusterFree := append([]int64(nil), a.total...)
	for _, other := range a.roles {
		clusterFree = subVec(clusterFree, other.alloc)
	}
	for i := range need {
		if need[i] > 0 && i < len(clusterFree) {
			cur := free[i]
			if v != nil {
				cur = v[i]
			}
			if clusterFree[i]-cur < need[i] {
				trim(i, clusterFree[i]-need[i])
			}
		}
	}
	return v
}

// blocked reports whether quota keeps role r from taking anything of the
// agent's free resources now.
func (a *Allocator) blocked(r *role, ag *agent) bool {
	v := a.quotaFree(r, ag.freeVec)
	return v != nil && !a.allocatable(v)
}

// trimmed returns the agent's free resources cut down to vector v.
func (a *Allocator) trimmed(ag *agent, v []int64) resource.Resources {
	res := ag.free
	for i, x := range v {
		if i < len(ag.freeVec) && ag.freeVec[i] > x {
			res = res.Sub(resource.Scalar(a.names[i], float64(ag.freeVec[i]-x)/1000))
		}
	}
	return res
}
