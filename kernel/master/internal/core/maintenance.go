package core

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Maintenance primitives, as in Mesos: the operator posts a schedule of
// windows in which machines will be unavailable. A scheduled machine is
// DRAINING at once: its agents' offers carry the window as
// Offer.unavailability and frameworks using it get inverse offers (see
// inverse.go). START_MAINTENANCE takes machines DOWN: their agents are
// removed (their tasks reported gone) and no agent may register there;
// STOP_MAINTENANCE brings them UP again and takes them out of the
// schedule. Only the operator moves machines between modes.

// MachineID is Mesos' MachineID: a host by name, IP, or both. An agent is
// on the machine when every field given matches it (the hostname without
// regard to case).
type MachineID struct {
	Hostname string `json:"hostname,omitempty" pb:"1"`
	IP       string `json:"ip,omitempty" pb:"2"`
}

func (m MachineID) key() string { return strings.ToLower(m.Hostname) + "|" + m.IP }

func (m MachineID) String() string {
	switch {
	case m.Hostname == "":
		return m.IP
	case m.IP == "":
		return m.Hostname
	}
	return m.Hostname + " (" + m.IP + ")"
}

// Window is a maintenance window: its machines are unavailable from Start
// for Duration (nil: for good).
type Window struct {
	Machines []MachineID    `json:"machine_ids"`
	Start    time.Time      `json:"start"`
	Duration *time.Duration `json:"duration,omitempty"`
}

// Maintenance is the cluster's maintenance schedule and the machines that
// are DOWN, as the registry keeps it (PutMaintenance).
type Maintenance struct {
	Windows []Window    `json:"windows"`
	Down    []MachineID `json:"down,omitempty"`
}

// PutMaintenance records the maintenance schedule and the DOWN machines.
type PutMaintenance struct{ Maintenance Maintenance }

func (PutMaintenance) isWrite() {}

func (w PutMaintenance) String() string {
	return fmt.Sprintf("maintenance: %d window(s), %d machine(s) down", len(w.Maintenance.Windows), len(w.Maintenance.Down))
}

// RestoreMaintenance installs the maintenance state read when a term
// begins. Call it once, after Restore.
func (c *Core) RestoreMaintenance(m Maintenance) { c.maint = cloneMaintenance(m) }

// MaintenanceSchedule returns a copy of the schedule.
func (c *Core) MaintenanceSchedule() []Window { return cloneMaintenance(c.maint).Windows }

// DrainingMachine is a scheduled machine that is not DOWN, with the
// answers of the frameworks asked to leave its agents.
type DrainingMachine struct {
	ID       MachineID
	Statuses []InverseOfferStatus
}

// MaintenanceStatus returns the machines in DRAINING mode, with the
// latest answer of each framework asked to leave them, and those DOWN.
func (c *Core) MaintenanceStatus() (draining []DrainingMachine, down []MachineID) {
	for _, w := range c.maint.Windows {
		for _, m := range w.Machines {
			if c.isDown(m) {
				continue
			}
			dm := DrainingMachine{ID: m, Statuses: []InverseOfferStatus{}}
			for _, id := range sortedKeys(c.agents) {
				a := c.agents[id]
				if a.status == agentGone || a.inverse == nil || !onMachine(m, a) {
					continue
				}
				for _, fid := range sortedKeys(a.inverse.status) {
					dm.Statuses = append(dm.Statuses, a.inverse.status[fid])
				}
			}
			draining = append(draining, dm)
		}
	}
	return draining, slices.Clone(c.maint.Down)
}

// UpdateMaintenanceSchedule replaces the schedule (an empty one cancels
// it). It is refused, changing nothing, when a window has no machine, a
// machine has neither hostname nor a valid IP, a machine is in two
// windows, or a DOWN machine is left out. Agents of newly scheduled
// machines have their offers re-sent with the window, and the frameworks
// using them get inverse offers; agents no longer scheduled are offered
// without one, and their inverse offers rescinded.
func (c *Core) UpdateMaintenanceSchedule(windows []Window, now time.Time) (Effects, *OpError) {
	seen := map[string]bool{}
	for i, w := range windows {
		if len(w.Machines) == 0 {
			return c.take(), opErr(400, "'schedule.windows[%d].machine_ids' must name at least one machine", i)
		}
		if w.Start.IsZero() {
			return c.take(), opErr(400, "'schedule.windows[%d].unavailability.start' is required", i)
		}
		if w.Duration != nil && *w.Duration < 0 {
			return c.take(), opErr(400, "'schedule.windows[%d].unavailability.duration' must not be negative", i)
		}
		for j, m := range w.Machines {
			field := fmt.Sprintf("schedule.windows[%d].machine_ids[%d]", i, j)
			if e := validMachine(m, field); e != nil {
				return c.take(), e
			}
			if seen[m.key()] {
				return c.take(), opErr(400, "'%s': machine %s is in the schedule twice", field, m)
			}
			seen[m.key()] = true
		}
	}
	for _, m := range c.maint.Down {
		if !seen[m.key()] {
			return c.take(), opErr(400, "Machine %s is DOWN and must stay in the schedule until STOP_MAINTENANCE", m)
		}
	}
	before := c.unavailableAgents()
	c.maint.Windows = cloneMaintenance(Maintenance{Windows: windows}).Windows
	c.write(PutMaintenance{Maintenance: cloneMaintenance(c.maint)})
	c.log(LevelInfo, "maintenance schedule updated", "windows", len(windows))
	c.availabilityChanged(before, now)
	return c.take(), nil
}

// StartMaintenance takes scheduled, DRAINING machines DOWN: each agent on
// them is removed as if marked gone (its tasks TASK_GONE_BY_OPERATOR, or
// TASK_LOST for frameworks that are not partition aware), and no agent
// may register there until StopMaintenance.
func (c *Core) StartMaintenance(machines []MachineID, now time.Time) (Effects, *OpError) {
	if e := c.checkMachines(machines, "start_maintenance", false); e != nil {
		return c.take(), e
	}
	c.maint.Down = append(c.maint.Down, machines...)
	c.write(PutMaintenance{Maintenance: cloneMaintenance(c.maint)})
	for _, id := range sortedKeys(c.agents) {
		a := c.agents[id]
		if a.status == agentGone || a.status == agentUnknown {
			continue
		}
		for _, m := range machines {
			if onMachine(m, a) {
				c.log(LevelInfo, "machine down for maintenance: removing its agent", "machine", m.String(), "agent", a.id)
				c.markGone(a, "was taken down for maintenance (START_MAINTENANCE of machine "+m.String()+")", now)
				break
			}
		}
	}
	c.inverseOffers(now) // the removed agents' inverse offers go
	return c.take(), nil
}

// StopMaintenance brings DOWN machines UP: they leave the schedule (and a
// window left with no machine goes) and agents may register on them again.
func (c *Core) StopMaintenance(machines []MachineID, now time.Time) (Effects, *OpError) {
	if e := c.checkMachines(machines, "stop_maintenance", true); e != nil {
		return c.take(), e
	}
	up := map[string]bool{}
	for _, m := range machines {
		up[m.key()] = true
	}
	before := c.unavailableAgents()
	c.maint.Down = slices.DeleteFunc(c.maint.Down, func(m MachineID) bool { return up[m.key()] })
	var windows []Window
	for _, w := range c.maint.Windows {
		w.Machines = slices.DeleteFunc(slices.Clone(w.Machines), func(m MachineID) bool { return up[m.key()] })
		if len(w.Machines) > 0 {
			windows = append(windows, w)
		}
	}
	c.maint.Windows = windows
	c.write(PutMaintenance{Maintenance: cloneMaintenance(c.maint)})
	c.availabilityChanged(before, now)
	return c.take(), nil
}

// checkMachines validates the machines of START/STOP_MAINTENANCE: a
// non-empty list of distinct, valid machines, each scheduled and DOWN
// (down) or DRAINING (!down).
func (c *Core) checkMachines(machines []MachineID, call string, down bool) *OpError {
	if len(machines) == 0 {
		return opErr(400, "'%s.machines' must name at least one machine", call)
	}
	seen := map[string]bool{}
	for i, m := range machines {
		field := fmt.Sprintf("%s.machines[%d]", call, i)
		if e := validMachine(m, field); e != nil {
			return e
		}
		if seen[m.key()] {
			return opErr(400, "'%s': machine %s is listed twice", field, m)
		}
		seen[m.key()] = true
		if !c.scheduled(m) {
			return opErr(400, "Machine %s is not part of a maintenance schedule", m)
		}
		switch {
		case down && !c.isDown(m):
			return opErr(400, "Machine %s is not in DOWN mode", m)
		case !down && c.isDown(m):
			return opErr(400, "Machine %s is not in DRAINING mode", m)
		}
	}
	return nil
}

func validMachine(m MachineID, field string) *OpError {
	if m.Hostname == "" && m.IP == "" {
		return opErr(400, "'%s' needs a hostname or an ip", field)
	}
	if m.IP != "" {
		if _, err := netip.ParseAddr(m.IP); err != nil {
			return opErr(400, "'%s.ip': %q is not an IP address", field, m.IP)
		}
	}
	return nil
}

func (c *Core) scheduled(m MachineID) bool {
	for _, w := range c.maint.Windows {
		for _, x := range w.Machines {
			if x.key() == m.key() {
				return true
			}
		}
	}
	return false
}

func (c *Core) isDown(m MachineID) bool {
	return slices.ContainsFunc(c.maint.Down, func(x MachineID) bool { return x.key() == m.key() })
}

// onMachine reports whether agent a runs on machine m.
func onMachine(m MachineID, a *agent) bool {
	if m.Hostname != "" && !strings.EqualFold(m.Hostname, a.info.Hostname) {
		return false
	}
	return m.IP == "" || m.IP == agentIP(a.info.Endpoint)
}

// agentIP is the IP address in an agent's endpoint, "" if it names a host.
func agentIP(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return ""
	}
	addr, err := netip.ParseAddr(u.Hostname())
	if err != nil {
		return ""
	}
	return addr.Unmap().String()
}

// maintenanceWindow returns the window of agent a's machine while that
// machine is DRAINING; nil when it is not scheduled.
func (c *Core) maintenanceWindow(a *agent) *Window {
	for i, w := range c.maint.Windows {
		for _, m := range w.Machines {
			if onMachine(m, a) && !c.isDown(m) {
				return &c.maint.Windows[i]
			}
		}
	}
	return nil
}

// downMachine returns the DOWN machine an agent would run on, if any.
func (c *Core) downMachine(hostname, endpoint string) (MachineID, bool) {
	probe := &agent{}
	probe.info.Hostname, probe.info.Endpoint = hostname, endpoint
	for _, m := range c.maint.Down {
		if onMachine(m, probe) {
			return m, true
		}
	}
	return MachineID{}, false
}

// unavailableAgents returns the ids of the agents with an unavailability,
// and it, for availabilityChanged.
func (c *Core) unavailableAgents() map[string]string {
	out := map[string]string{}
	for id, a := range c.agents {
		if u := c.unavailability(a); u != nil {
			d := "forever"
			if u.Duration != nil {
				d = fmt.Sprint(u.Duration.Nanoseconds)
			}
			out[id] = fmt.Sprint(u.Start.Nanoseconds, "/", d)
		}
	}
	return out
}

// availabilityChanged rescinds the outstanding offers of agents whose
// unavailability changed since before (they are offered again with the
// new one), and sends or rescinds inverse offers to match.
func (c *Core) availabilityChanged(before map[string]string, now time.Time) {
	after := c.unavailableAgents()
	for _, id := range sortedKeys(c.agents) {
		if before[id] != after[id] {
			c.rescindAgentOffers(id, now)
			c.dirty[id] = true
			c.forgetAnswers(c.agents[id])
		}
	}
	c.inverseOffers(now)
}

func cloneMaintenance(m Maintenance) Maintenance {
	out := Maintenance{Down: slices.Clone(m.Down)}
	for _, w := range m.Windows {
		w.Machines = slices.Clone(w.Machines)
		if w.Duration != nil {
			d := *w.Duration
			w.Duration = &d
		}
		out.Windows = append(out.Windows, w)
	}
	return out
}
