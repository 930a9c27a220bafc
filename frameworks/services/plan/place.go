package plan

import "corral/frameworks/internal/place"

// The placement vocabulary is shared with the jobs framework (package
// place); these names keep the services planner's API in one place.
type (
	Offer      = place.Offer
	Placement  = place.Placement
	Rejection  = place.Rejection
	Constraint = place.Constraint
)

// Constraint operators and fields; see package place.
const (
	OpUnique      = place.OpUnique
	OpCluster     = place.OpCluster
	OpGroupBy     = place.OpGroupBy
	OpLike        = place.OpLike
	OpUnlike      = place.OpUnlike
	OpMaxPer      = place.OpMaxPer
	OpIs          = place.OpIs
	FieldHostname = place.FieldHostname
)

// ParseConstraint validates one constraint; see place.ParseConstraint.
func ParseConstraint(field, op, value string) (Constraint, error) {
	return place.ParseConstraint(field, op, value)
}

// Explain sums up why fewer than n instances were placed; see
// place.Explain.
func Explain(n int, placed []Placement, rejected []Rejection) string {
	return place.Explain(n, placed, rejected)
}

// Demand is what one instance of the spec asks of an offer.
func (s Spec) Demand() place.Demand {
	return place.Demand{CPUs: s.CPUs, Mem: s.Mem, Disk: s.Disk, GPUs: s.GPUs,
		Ports: s.Ports, RequirePorts: s.RequirePorts, Constraints: s.Constraints, Docker: s.Docker}
}

// Place places up to n new instances of spec on offers (see place.Place).
// Constraints count the app's instances except terminal ones and ones
// being killed; the caller leaves out instances it no longer counts, such
// as inactive unreachable ones.
func Place(spec Spec, n int, offers []Offer, instances []Instance) ([]Placement, []Rejection) {
	var sites []place.Site
	for _, in := range instances {
		if in.State.Terminal() || going(in) {
			continue
		}
		sites = append(sites, place.Site{Hostname: in.Hostname, Attributes: in.Attributes})
	}
	return place.Place(spec.Demand(), n, offers, sites)
}
