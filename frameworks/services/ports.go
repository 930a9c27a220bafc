package services

import (
	"fmt"

	"corral/frameworks/services/app"
)

// Service ports (app.App.ServicePorts) are assigned as Marathon assigns
// them, when a change is decided on the loop, so that every change sees
// the ports of the ones before it:
//
//   - a port the change leaves 0 keeps the number the app's current
//     definition has at the same index (keepServicePorts): a port stays
//     put across updates, and an update that repeats 0 is no change;
//   - the ports still 0 get the lowest free numbers of
//     Config.LocalPortMin..LocalPortMax (both included);
//   - a port asked for by number may lie outside the range, and is kept as
//     given, but not if another app has it (a 422 naming the field): an
//     app the change does not touch, or another app of the same change.
//     A port the app has already is kept even if another app has it too
//     (from before ports were checked).
//
// A port is free once no app has it: a deleted app's ports are free as
// soon as its deletion is decided.

// keepServicePorts returns next with each service port it leaves 0 set to
// the port old has at the same index.
func keepServicePorts(old, next app.App) app.App {
	prev, ports := old.ServicePorts(), next.ServicePorts()
	kept := false
	for i := range ports {
		if ports[i] == 0 && i < len(prev) && prev[i] != 0 {
			ports[i], kept = prev[i], true
		}
	}
	if !kept {
		return next
	}
	return next.WithServicePorts(ports)
}

// assignServicePorts gives the new definitions of changes their service
// ports (see above), in place, or returns the *app.ValidationError of the
// first port it cannot give.
func (c *core) assignServicePorts(changes []change) error {
	changing := map[string]bool{}
	for _, ch := range changes {
		changing[ch.id] = true
	}
	taken := map[int]string{} // port → app
	for id, as := range c.apps {
		if changing[id] || as.deleting {
			continue
		}
		for _, p := range as.app.ServicePorts() {
			if p != 0 {
				taken[p] = id
			}
		}
	}
	// Ports asked for by number first, so that none is assigned to
	// another app of the change.
	for _, ch := range changes {
		if ch.next == nil {
			continue
		}
		had := map[int]bool{}
		if as := c.apps[ch.id]; as != nil && !as.deleting {
			*ch.next = keepServicePorts(as.app, *ch.next)
			for _, p := range as.app.ServicePorts() {
				had[p] = true
			}
		}
		for i, p := range ch.next.ServicePorts() {
			if p == 0 {
				continue
			}
			if other, ok := taken[p]; ok && !had[p] {
				msg := fmt.Sprintf("service port %d of app %s is already the service port of app %s", p, ch.id, other)
				if other == ch.id {
					msg = fmt.Sprintf("service port %d is given more than once", p)
				}
				return portError(ch.next.ServicePortPath(i), msg)
			}
			taken[p] = ch.id
		}
	}
	lo, hi := c.s.cfg.LocalPortMin, c.s.cfg.LocalPortMax
	free := lo
	for _, ch := range changes {
		if ch.next == nil {
			continue
		}
		ports := ch.next.ServicePorts()
		assigned := false
		for i, p := range ports {
			if p != 0 {
				continue
			}
			for free <= hi && taken[free] != "" {
				free++
			}
			if free > hi {
				return portError(ch.next.ServicePortPath(i), fmt.Sprintf(
					"no service port left for app %s: every port of %d-%d (local_port_min, local_port_max) is taken", ch.id, lo, hi))
			}
			ports[i], taken[free], assigned = free, ch.id, true
		}
		if assigned {
			*ch.next = ch.next.WithServicePorts(ports)
		}
	}
	return nil
}

func portError(path, msg string) error {
	return &app.ValidationError{Message: "Object is not valid", Details: []app.Detail{{Path: path, Errors: []string{msg}}}}
}
