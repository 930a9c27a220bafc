package place

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// Offer is the part of a resource offer the planner looks at.
type Offer struct {
	ID, AgentID, Hostname string
	// Attributes are the agent's attributes in text form.
	Attributes map[string]string
	Resources  resource.Resources
}

// Placement is one new instance placed on an offer.
type Placement struct {
	OfferID, AgentID, Hostname string
	// Resources is what the instance takes from the offer: the scalars and
	// its host ports as "ports" ranges.
	Resources resource.Resources
	// Ports are the host ports in port-definition order.
	Ports []uint64
}

// Rejection says why an offer took no (further) instance. Reasons name the
// missing resource and by how much, the port that is not offered, or the
// constraint that fails and on which value.
type Rejection struct {
	OfferID, AgentID, Hostname string
	Reasons                    []string
}

// Demand is what one instance asks of an offer.
type Demand struct {
	CPUs, Mem, Disk, GPUs float64
	// Ports has one entry per port the instance needs; 0 means any free
	// port of the offer.
	Ports []uint64
	// RequirePorts makes the non-zero Ports the host ports to take.
	RequirePorts bool
	Constraints  []Constraint
	// Docker says the instance runs in a DOCKER container: only offers of
	// agents whose containerizers (mesos.AttrContainerizers) include
	// docker can take it.
	Docker bool
}

// Site is where one of the instances already placed runs, as constraints
// see it.
type Site struct {
	Hostname   string
	Attributes map[string]string
}

// Place places up to n new instances of d on offers and explains every
// offer that could not take one while some were still wanted. Offers are
// visited in order of AgentID, then ID; each takes as many instances as fit,
// the resources of each placement being subtracted from what the offer has
// left. Constraints are evaluated against the sites of the instances that
// count (the caller leaves out terminal ones and ones being killed) plus
// the placements made so far.
//
// An offer that took some instances and then ran out appears in both
// results: its placements, and one Rejection saying why it took no more.
// Offers not visited because n was reached appear in neither. Place is pure
// and deterministic; it does not modify its arguments.
func Place(d Demand, n int, offers []Offer, existing []Site) (placed []Placement, rejected []Rejection) {
	if n <= 0 {
		return nil, nil
	}
	sorted := slices.Clone(offers)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].AgentID != sorted[j].AgentID {
			return sorted[i].AgentID < sorted[j].AgentID
		}
		return sorted[i].ID < sorted[j].ID
	})
	cons := compile(d.Constraints)
	sites := make([]site, 0, len(existing)+n)
	for _, s := range existing {
		sites = append(sites, site{s.Hostname, s.Attributes})
	}
	for _, o := range sorted {
		left := o.Resources
		for len(placed) < n {
			p, reasons := fit(d, cons, o, left, sites)
			if len(reasons) > 0 {
				rejected = append(rejected, Rejection{OfferID: o.ID, AgentID: o.AgentID, Hostname: o.Hostname, Reasons: reasons})
				break
			}
			placed = append(placed, p)
			left = left.Sub(p.Resources)
			sites = append(sites, site{o.Hostname, o.Attributes})
		}
		if len(placed) >= n {
			break
		}
	}
	return placed, rejected
}

// fit tries to place one instance on offer o, of which left is still free.
func fit(spec Demand, cons []compiled, o Offer, left resource.Resources, sites []site) (Placement, []string) {
	var reasons []string
	if spec.Docker && !runsDocker(o.Attributes) {
		have := o.Attributes[mesos.AttrContainerizers]
		if have == "" {
			have = "mesos"
		}
		reasons = append(reasons, "no Docker: the agent runs only "+have+" tasks (start it with --containerizers docker,mesos and a Docker engine)")
	}
	for _, c := range cons {
		if r := c.check(o.Hostname, o.Attributes, sites); r != "" {
			reasons = append(reasons, r)
		}
	}
	var need resource.Resources
	for _, s := range []struct {
		name string
		v    float64
	}{{resource.CPUs, spec.CPUs}, {resource.Mem, spec.Mem}, {resource.Disk, spec.Disk}, {resource.GPUs, spec.GPUs}} {
		r := resource.Scalar(s.name, s.v)
		if r.IsEmpty() {
			continue
		}
		if !left.Contains(r) {
			reasons = append(reasons, fmt.Sprintf("insufficient %s: needs %s, offer has %s",
				s.name, num(r.Scalar(s.name)), num(left.Scalar(s.name))))
		}
		need = need.Add(r)
	}
	ports, why := pickPorts(spec, left.Ranges(resource.Ports))
	reasons = append(reasons, why...)
	if len(reasons) > 0 {
		return Placement{}, reasons
	}
	for _, p := range ports {
		need = need.Add(resource.RangesOf(resource.Ports, resource.Range{Begin: p, End: p}))
	}
	return Placement{OfferID: o.ID, AgentID: o.AgentID, Hostname: o.Hostname, Resources: need, Ports: ports}, nil
}

// pickPorts chooses host ports from the offered ranges: the requested ones
// when RequirePorts (non-zero entries), and the lowest free ones otherwise.
func pickPorts(spec Demand, offered []resource.Range) ([]uint64, []string) {
	if len(spec.Ports) == 0 {
		return nil, nil
	}
	out := make([]uint64, len(spec.Ports))
	taken := map[uint64]bool{}
	var reasons []string
	dynamic := 0
	for i, p := range spec.Ports {
		if !spec.RequirePorts || p == 0 {
			dynamic++
			continue
		}
		switch {
		case taken[p]:
			reasons = append(reasons, fmt.Sprintf("port %d is requested twice", p))
		case !inRanges(p, offered):
			reasons = append(reasons, fmt.Sprintf("port %d is not in the offer's ports %s", p, rangesText(offered)))
		}
		taken[p] = true
		out[i] = p
	}
	if dynamic == 0 {
		return out, reasons
	}
	var free []uint64
scan:
	for _, r := range offered {
		for p := r.Begin; ; p++ {
			if !taken[p] {
				free = append(free, p)
				if len(free) == dynamic {
					break scan
				}
			}
			if p == r.End {
				break
			}
		}
	}
	if len(free) < dynamic {
		reasons = append(reasons, fmt.Sprintf("insufficient ports: needs %d, offer has %d free %s",
			dynamic, len(free), rangesText(offered)))
		return nil, reasons
	}
	for i, p := range spec.Ports {
		if !spec.RequirePorts || p == 0 {
			out[i], free = free[0], free[1:]
		}
	}
	return out, reasons
}

func inRanges(p uint64, rs []resource.Range) bool {
	for _, r := range rs {
		if r.Begin <= p && p <= r.End {
			return true
		}
	}
	return false
}

func rangesText(rs []resource.Range) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		if r.Begin == r.End {
			parts[i] = strconv.FormatUint(r.Begin, 10)
		} else {
			parts[i] = fmt.Sprintf("%d-%d", r.Begin, r.End)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// Explain sums up why fewer than n instances were placed, in one line for
// the queue and deployment views; "" when all n were. A reason shared by
// every rejected offer is named as such (for a UNIQUE constraint:
// "constraint [hostname UNIQUE] is not satisfiable: every offered agent
// already runs an instance"); otherwise each kind of reason is listed with
// the number of offers it applies to, most frequent first.
func Explain(n int, placed []Placement, rejected []Rejection) string {
	missing := n - len(placed)
	if missing <= 0 {
		return ""
	}
	head := Plural(missing, "instance") + " not placed: "
	if len(rejected) == 0 {
		return head + "no offers"
	}
	count := map[string]int{}
	example := map[string]string{}
	for _, r := range rejected {
		seen := map[string]bool{}
		for _, reason := range r.Reasons {
			k := reasonKind(reason)
			if seen[k] {
				continue
			}
			seen[k] = true
			count[k]++
			if _, ok := example[k]; !ok {
				example[k] = reason
			}
		}
	}
	kinds := make([]string, 0, len(count))
	for k := range count {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if count[kinds[i]] != count[kinds[j]] {
			return count[kinds[i]] > count[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	all := len(rejected)
	if k := kinds[0]; count[k] == all {
		if c, ok := strings.CutSuffix(k, " not met"); ok {
			switch {
			case strings.HasSuffix(c, " "+OpUnique+"]"):
				return head + c + " is not satisfiable: every offered agent already runs an instance"
			case all == 1:
				return head + example[k]
			default:
				return head + c + " is not satisfiable on any of the " + strconv.Itoa(all) + " offered agents, e.g. " + strings.TrimPrefix(example[k], k+": ")
			}
		}
		if all == 1 {
			return head + example[k]
		}
		return head + k + " on every one of the " + strconv.Itoa(all) + " offers, e.g. " + example[k]
	}
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s (%d of %d offers)", k, count[k], all)
	}
	return head + strings.Join(parts, "; ")
}

// reasonKind strips the per-offer detail from a reason.
func reasonKind(reason string) string {
	if strings.HasPrefix(reason, "constraint [") {
		if i := strings.Index(reason, "] not met: "); i >= 0 {
			k := reason[:i+len("] not met")]
			if strings.HasPrefix(reason[i+len("] not met: "):], "agent has no attribute") {
				k += ": agent has no attribute"
			}
			return k
		}
		if i := strings.Index(reason, "] is invalid"); i >= 0 {
			return reason[:i+len("] is invalid")]
		}
	}
	if i := strings.Index(reason, " is not in the offer's ports"); i >= 0 {
		return reason[:i+len(" is not in the offer's ports")]
	}
	if i := strings.Index(reason, ":"); i >= 0 {
		return reason[:i]
	}
	return reason
}

// runsDocker reports whether an offer's agent runs DOCKER containers.
func runsDocker(attrs map[string]string) bool {
	return slices.Contains(strings.Split(attrs[mesos.AttrContainerizers], ","), "docker")
}

// Lookahead is how soon before a maintenance window frameworks treat its
// agents as going away: they place nothing new there and move their work
// off. A window further ahead changes nothing yet.
const Lookahead = time.Hour

// Unavailable reports whether an offer's agent is going away, so that
// nothing new should start there (GoingAway of Offer.unavailability).
// Frameworks decline such offers rather than start work that would have
// to move again.
func Unavailable(o *mesos.Offer, now time.Time) bool { return GoingAway(o.Unavailability, now) }

// GoingAway reports whether an agent unavailable as u is going away at
// now: it is being drained (u without a duration, from now), or its
// maintenance window starts within Lookahead and has not ended. nil is
// never going away.
func GoingAway(u *mesos.Unavailability, now time.Time) bool {
	if u == nil {
		return false
	}
	start := time.Unix(0, int64(u.Start.Nanoseconds))
	if start.Sub(now) > Lookahead {
		return false
	}
	return u.Duration == nil || now.Before(start.Add(time.Duration(u.Duration.Nanoseconds)))
}
