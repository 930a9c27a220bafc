package core

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"corral/kernel/allocator"
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// QuotaConfig is Mesos' QuotaConfig: a role's guarantees and limits by
// scalar resource name ({"cpus": {"value": 2}}).
type QuotaConfig struct {
	Role       string                       `json:"role" pb:"1,req"`
	Guarantees map[string]mesos.ScalarValue `json:"guarantees,omitempty" pb:"2"`
	Limits     map[string]mesos.ScalarValue `json:"limits,omitempty" pb:"3"`
}

// maxQuota bounds a quota amount, as Mesos does (mem and disk in MB: an
// exabyte).
const maxQuota = 1e12

func plain(m map[string]mesos.ScalarValue) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		out[k] = float64(v.Value)
	}
	return out
}

// CheckQuota validates an UPDATE_QUOTA, all or nothing, as Mesos does:
// valid top-level roles, scalar amounts within bounds, guarantees within
// limits; without force, no limit below what a role already consumes and
// no more guaranteed in all than the cluster has. It returns "" or the
// 400's message.
func (c *Core) CheckQuota(configs []QuotaConfig, force bool) string {
	seen := map[string]bool{}
	guaranteed := map[string]float64{}
	for i, q := range configs {
		at := fmt.Sprintf("'update_quota.quota_configs[%d]'", i)
		switch {
		case q.Role == "":
			return at + ": 'role' is required"
		case strings.Contains(q.Role, "/"):
			return fmt.Sprintf("%s: role %q is nested; quota applies to top-level roles only", at, q.Role)
		case seen[q.Role]:
			return fmt.Sprintf("%s: role %q is given twice", at, q.Role)
		}
		seen[q.Role] = true
		for _, part := range []struct {
			name string
			m    map[string]mesos.ScalarValue
		}{{"guarantees", q.Guarantees}, {"limits", q.Limits}} {
			for name, v := range part.m {
				x := float64(v.Value)
				switch {
				case name == resource.Ports || name == "":
					return fmt.Sprintf("%s.%s: %q is not a scalar resource", at, part.name, name)
				case math.IsNaN(x) || x < 0 || x > maxQuota:
					return fmt.Sprintf("%s.%s.%s: %v is not an amount between 0 and %g", at, part.name, name, x, float64(maxQuota))
				}
			}
		}
		for name, g := range q.Guarantees {
			if l, ok := q.Limits[name]; ok && g.Value > l.Value {
				return fmt.Sprintf("%s: the guarantee of %s (%v) is above its limit (%v)", at, name, float64(g.Value), float64(l.Value))
			}
		}
		if !force {
			used := c.roleConsumption(q.Role)
			for name, l := range q.Limits {
				if u := used.Scalar(name); u > float64(l.Value) {
					return fmt.Sprintf("%s: role %q already consumes %v %s, above the limit %v; give 'force': true to set it anyway",
						at, q.Role, u, name, float64(l.Value))
				}
			}
		}
		for name, g := range q.Guarantees {
			guaranteed[name] += float64(g.Value)
		}
	}
	if !force {
		// Guarantees of roles not in this update still count.
		for role, q := range c.quotas {
			if seen[role] {
				continue
			}
			for name, g := range q.Guarantees {
				guaranteed[name] += g
			}
		}
		var capacity resource.Resources
		for _, a := range c.agents {
			if a.status != agentGone {
				capacity = capacity.Add(a.total)
			}
		}
		names := make([]string, 0, len(guaranteed))
		for n := range guaranteed {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if guaranteed[n] > capacity.Scalar(n) {
				return fmt.Sprintf("the guarantees of %s add up to %v, more than the cluster's %v; give 'force': true to set them anyway", n, guaranteed[n], capacity.Scalar(n))
			}
		}
	}
	return ""
}

// roleConsumption is what role's tasks and executors hold.
func (c *Core) roleConsumption(role string) resource.Resources {
	var used resource.Resources
	for _, f := range c.frameworks {
		for _, t := range f.tasks {
			if t.role == role && !t.state.Terminal() && t.state != mesos.TaskUnreachable {
				used = used.Add(t.resources)
			}
		}
	}
	for _, a := range c.agents {
		for _, e := range a.executors {
			if e.role == role {
				used = used.Add(e.resources)
			}
		}
	}
	return used
}

// SetQuota installs role's quota (already checked and durable); an empty
// one removes it. The role's outstanding offers are rescinded so that the
// next allocation honours the new limits.
func (c *Core) SetQuota(role string, guarantees, limits map[string]float64, now time.Time) Effects {
	q := allocator.Quota{Guarantees: guarantees, Limits: limits}
	if len(guarantees) == 0 && len(limits) == 0 {
		delete(c.quotas, role)
	} else {
		c.quotas[role] = q
	}
	c.alloc.SetQuota(role, q)
	for _, id := range sortedKeys(c.offers) {
		if o := c.offers[id]; o.role == role {
			c.removeOffer(o, true)
			c.alloc.Recover(o.agentID, o.frameworkID, o.role, o.resources, 0, now)
		}
	}
	for id := range c.agents {
		c.dirty[id] = true
	}
	return c.take()
}

// Quotas returns the roles' quotas as Mesos' QuotaConfigs, by role.
func (c *Core) Quotas() []QuotaConfig {
	out := make([]QuotaConfig, 0, len(c.quotas))
	for _, role := range sortedKeys(c.quotas) {
		q := c.quotas[role]
		qc := QuotaConfig{Role: role, Guarantees: map[string]mesos.ScalarValue{}, Limits: map[string]mesos.ScalarValue{}}
		for n, v := range q.Guarantees {
			qc.Guarantees[n] = mesos.ScalarValue{Value: mesos.Float(v)}
		}
		for n, v := range q.Limits {
			qc.Limits[n] = mesos.ScalarValue{Value: mesos.Float(v)}
		}
		out = append(out, qc)
	}
	return out
}

// Plain returns a config's guarantees and limits as plain maps.
func (q QuotaConfig) Plain() (guarantees, limits map[string]float64) {
	return plain(q.Guarantees), plain(q.Limits)
}
