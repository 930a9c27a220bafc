package mesos

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Reservation types: ReservationInfo.Type.
const (
	ReservationStatic  = "STATIC"
	ReservationDynamic = "DYNAMIC"
)

// ResourceFormat is the shape in which one framework sees resources on the
// wire. Two of its capabilities fix it, as in Mesos (Master::offer and
// validateAndUpgradeResources):
//
//	                        MULTI_ROLE                  without MULTI_ROLE
//	RESERVATION_REFINEMENT  allocation_info; stack      stack
//	without it              allocation_info; role(+r)   role(+r)
//
// "stack" is the post-refinement format: no role, reservations[] a stack of
// {type, role, principal, labels} each refining the one before. "role(+r)"
// is the pre-refinement format: role "*" when unreserved, else the
// reserved role plus, for a dynamic reservation, reservation{principal,
// labels}; refined (stacked) reservations cannot be said in it and are
// hidden.
//
// The master's own form is the post-refinement format with allocation_info
// set. ForFramework and Offer convert from it (they also take the
// pre-refinement format), FromFramework converts back. All three are pure
// and leave their input alone; the results may share value messages
// (scalar, ranges, set, labels) with it.
type ResourceFormat struct {
	// MultiRole keeps allocation_info on offers and resources. Schedulers
	// without the capability compare whole Resource messages with what
	// they want, and the extra field would never match (MESOS-8237).
	MultiRole bool
	// ReservationRefinement sends reservations as a stack; without it the
	// legacy role and reservation fields are used.
	ReservationRefinement bool
}

// ResourceFormat returns the format f's capabilities ask for.
func (f *FrameworkInfo) ResourceFormat() ResourceFormat {
	return ResourceFormat{
		MultiRole:             f.HasCapability(CapMultiRole),
		ReservationRefinement: f.HasCapability(CapReservationRefinement),
	}
}

// Offer returns o as the framework sees it: its resources through
// ForFramework, and without Offer.allocation_info unless MultiRole.
func (rf ResourceFormat) Offer(o Offer) Offer {
	o.Resources = rf.ForFramework(o.Resources)
	if !rf.MultiRole {
		o.AllocationInfo = nil
	}
	return o
}

// ForFramework returns resources in the master's form as the framework
// sees them. Resources with refined reservations are left out for a
// framework without ReservationRefinement; the allocator should never
// offer them to it.
func (rf ResourceFormat) ForFramework(rs []Resource) []Resource {
	out := make([]Resource, 0, len(rs))
	for _, r := range rs {
		r = upgrade(r)
		if !rf.MultiRole {
			r.AllocationInfo = nil
		}
		if !rf.ReservationRefinement {
			if len(r.Reservations) > 1 {
				continue
			}
			r = downgrade(r)
		}
		out = append(out, r)
	}
	return out
}

// FromFramework converts resources a framework sent in an operation (a
// LAUNCH's task resources) for an offer allocated to role back to the
// master's form. Either reservation format is accepted, whatever the
// capabilities, as in Mesos; a missing allocation_info is filled in with
// role, and one naming another role is an error. It also refuses refined
// reservations from a framework without ReservationRefinement and the
// malformed reservations Mesos' Resources::validate refuses. Each error
// names the resource.
func (rf ResourceFormat) FromFramework(rs []Resource, role string) ([]Resource, error) {
	out := make([]Resource, 0, len(rs))
	for i, r := range rs {
		bad := func(err error) error { return fmt.Errorf("resources[%d] %q: %w", i, r.Name, err) }
		if err := validateReservations(r); err != nil {
			return nil, bad(err)
		}
		r = upgrade(r)
		if len(r.Reservations) > 1 && !rf.ReservationRefinement {
			return nil, bad(errors.New("refined reservations need the RESERVATION_REFINEMENT capability"))
		}
		switch {
		case r.AllocationInfo == nil:
		case r.AllocationInfo.Role == "":
			return nil, bad(errors.New("'allocation_info' does not name a role"))
		case r.AllocationInfo.Role != role:
			return nil, bad(fmt.Errorf("allocated to role %q, but the offer is allocated to role %q", r.AllocationInfo.Role, role))
		}
		r.AllocationInfo = &AllocationInfo{Role: role}
		out = append(out, r)
	}
	return out, nil
}

// upgrade returns r in the post-refinement format, as Mesos'
// convertResourceFormat(POST_RESERVATION_REFINEMENT) does: a resource with
// a stack keeps only the stack (the "endpoint" format carries both); role
// "*" (or none) is unreserved; another role becomes one STATIC reservation,
// or a DYNAMIC one carrying reservation's principal and labels.
func upgrade(r Resource) Resource {
	role, legacy := r.Role, r.Reservation
	r.Role, r.Reservation = "", nil
	switch {
	case len(r.Reservations) > 0:
		r.Reservations = slices.Clone(r.Reservations)
	case role == "" || role == "*":
	case legacy == nil:
		r.Reservations = []ReservationInfo{{Type: ReservationStatic, Role: role}}
	default:
		r.Reservations = []ReservationInfo{{Type: ReservationDynamic, Role: role, Principal: legacy.Principal, Labels: legacy.Labels}}
	}
	return r
}

// downgrade returns r, in the post-refinement format with at most one
// reservation, in the pre-refinement format (Mesos'
// convertResourceFormat(PRE_RESERVATION_REFINEMENT)). A dynamic
// reservation always gets a reservation field, empty or not: that is what
// tells it from a static one.
func downgrade(r Resource) Resource {
	if len(r.Reservations) == 0 {
		r.Role = "*"
		return r
	}
	ri := r.Reservations[0]
	r.Role, r.Reservations = ri.Role, nil
	if ri.Type == ReservationDynamic {
		r.Reservation = &ReservationInfo{Principal: ri.Principal, Labels: ri.Labels}
	}
	return r
}

// validateReservations checks r's reservation fields in whichever format
// they are given, with the rules of Mesos' Resources::validate.
func validateReservations(r Resource) error {
	if len(r.Reservations) == 0 {
		switch {
		case r.Reservation == nil:
			return nil
		case r.Reservation.Type != "":
			return errors.New("'reservation.type' must not be set; it is only for 'reservations'")
		case r.Reservation.Role != "":
			return errors.New("'reservation.role' must not be set; the role is 'role'")
		case r.Role == "" || r.Role == "*":
			return errors.New(`invalid reservation: role "*" cannot be dynamically reserved`)
		}
		return nil
	}
	for i, ri := range r.Reservations {
		switch {
		case ri.Type != ReservationStatic && ri.Type != ReservationDynamic:
			return fmt.Errorf("'reservations[%d].type' must be STATIC or DYNAMIC, not %q", i, ri.Type)
		case ri.Role == "":
			return fmt.Errorf("'reservations[%d].role' must be set", i)
		case ri.Role == "*":
			return fmt.Errorf(`'reservations[%d]': role "*" cannot be reserved`, i)
		case i == 0:
			continue
		case ri.Type == ReservationStatic:
			return fmt.Errorf("'reservations[%d]': a refined reservation cannot be STATIC", i)
		case !strings.HasPrefix(ri.Role, r.Reservations[i-1].Role+"/"):
			return fmt.Errorf("'reservations[%d]': role %q does not refine %q", i, ri.Role, r.Reservations[i-1].Role)
		}
	}
	return nil
}
