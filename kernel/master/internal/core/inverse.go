package core

import (
	"slices"
	"time"

	"corral/kernel/mesos"
)

// Inverse offer answers (Mesos' InverseOfferStatus.Status).
const (
	InverseUnknown = "UNKNOWN"
	InverseAccept  = "ACCEPT"
	InverseDecline = "DECLINE"
)

// inverseOffer is an outstanding inverse offer: the master asks a
// framework to give back everything it uses on an agent by the start of
// the agent's unavailability.
type inverseOffer struct {
	id          string
	frameworkID string
	agentID     string
	createdAt   time.Time
}

// InverseOfferStatus is a framework's last answer to an inverse offer
// for an agent (Mesos' InverseOfferStatus).
type InverseOfferStatus struct {
	Status      string
	FrameworkID string
	Timestamp   time.Time
}

// inverseState is what an agent keeps of its inverse offers, per
// framework id.
type inverseState struct {
	outstanding map[string]*inverseOffer
	status      map[string]InverseOfferStatus
	// refusedUntil is the filter of a framework's last answer: no new
	// inverse offer goes to it before then.
	refusedUntil map[string]time.Time
}

func (a *agent) inverseState() *inverseState {
	if a.inverse == nil {
		a.inverse = &inverseState{outstanding: map[string]*inverseOffer{}, status: map[string]InverseOfferStatus{}, refusedUntil: map[string]time.Time{}}
	}
	return a.inverse
}

// unavailability is when agent a stops being available: from the start
// of its drain with a deadline (for good; a drain without one kills at
// once, leaving nothing to ask of frameworks), or its machine's
// maintenance window while the machine is DRAINING; nil when neither.
func (c *Core) unavailability(a *agent) *mesos.Unavailability {
	if d := a.drain; d != nil && d.State == DrainDraining && d.MaxGracePeriod != nil {
		return &mesos.Unavailability{Start: mesos.TimeInfo{Nanoseconds: mesos.Int(d.StartedAt.UnixNano())}}
	}
	if w := c.maintenanceWindow(a); w != nil {
		u := mesos.Unavailability{Start: mesos.TimeInfo{Nanoseconds: mesos.Int(w.Start.UnixNano())}}
		if w.Duration != nil {
			u.Duration = &mesos.DurationInfo{Nanoseconds: mesos.Int(*w.Duration)}
		}
		return &u
	}
	return nil
}

// liveFrameworks returns the ids of the frameworks with a live task on
// agent a, in order.
func liveFrameworks(a *agent) []string {
	var ids []string
	for _, t := range a.tasks {
		if !t.state.Terminal() && !slices.Contains(ids, t.frameworkID) {
			ids = append(ids, t.frameworkID)
		}
	}
	slices.Sort(ids)
	return ids
}

// inverseOffers sends an inverse offer to every connected framework that
// has a live task on an unavailable agent and has none outstanding there
// (nor a filter from its last answer in force), and rescinds those that
// are no longer needed: the agent is available again, or the framework
// has nothing left there. Mesos sends inverse offers from its allocation
// loop; the core calls this whenever availability or tasks change and
// on every Tick.
func (c *Core) inverseOffers(now time.Time) {
	if len(c.inverse) == 0 && len(c.maint.Windows) == 0 && !c.anyDraining() {
		return // nothing to send or rescind: the common case, cheaply
	}
	for _, id := range sortedKeys(c.agents) {
		a := c.agents[id]
		u := c.unavailability(a)
		if u == nil || a.status == agentGone {
			if a.inverse != nil {
				for _, fid := range sortedKeys(a.inverse.outstanding) {
					c.rescindInverse(a, fid)
				}
			}
			continue
		}
		live := liveFrameworks(a)
		st := a.inverseState()
		for _, fid := range sortedKeys(st.outstanding) {
			if !slices.Contains(live, fid) {
				c.rescindInverse(a, fid)
			}
		}
		for _, fid := range live {
			f := c.frameworks[fid]
			if f == nil || f.state != fwConnected || st.outstanding[fid] != nil || now.Before(st.refusedUntil[fid]) {
				continue
			}
			io := &inverseOffer{id: c.nextID("I"), frameworkID: fid, agentID: a.id, createdAt: now}
			if _, ok := st.status[fid]; !ok {
				st.status[fid] = InverseOfferStatus{Status: InverseUnknown, FrameworkID: fid, Timestamp: now}
			}
			ev := &mesos.Event{Type: mesos.EventInverseOffers, InverseOffers: &mesos.InverseOffers{InverseOffers: []mesos.InverseOffer{{
				ID: mesos.ID{Value: io.id}, FrameworkID: mesos.ID{Value: fid}, AgentID: &mesos.ID{Value: a.id},
				URL: a.url, Unavailability: *u,
			}}}}
			if c.sendFramework(f, ev) {
				st.outstanding[fid] = io
				c.inverse[io.id] = io
			}
		}
	}
}

// anyDraining reports whether some agent is being drained.
func (c *Core) anyDraining() bool {
	for _, a := range c.agents {
		if a.drain != nil && a.drain.State == DrainDraining {
			return true
		}
	}
	return false
}

// forgetAnswers drops what frameworks answered about agent a and their
// filters: they were about an unavailability that has changed.
func (c *Core) forgetAnswers(a *agent) {
	if a.inverse != nil {
		clear(a.inverse.status)
		clear(a.inverse.refusedUntil)
	}
}

// rescindInverse withdraws framework fid's outstanding inverse offer for
// agent a.
func (c *Core) rescindInverse(a *agent, fid string) {
	io := a.inverse.outstanding[fid]
	delete(a.inverse.outstanding, fid)
	delete(c.inverse, io.id)
	if f := c.frameworks[fid]; f != nil {
		c.sendFramework(f, &mesos.Event{Type: mesos.EventRescindInverseOffer, RescindInverseOffer: &mesos.RescindInverseOffer{InverseOfferID: mesos.ID{Value: io.id}}})
	}
}

// forgetInverseOffers drops a framework's outstanding inverse offers
// without telling it (its stream is gone or replaced); new ones follow
// when it is connected again.
func (c *Core) forgetInverseOffers(fid string) {
	for id, io := range c.inverse {
		if io.frameworkID == fid {
			delete(c.inverse, id)
			if a := c.agents[io.agentID]; a != nil && a.inverse != nil {
				delete(a.inverse.outstanding, fid)
			}
		}
	}
}

// answerInverseOffers handles ACCEPT_INVERSE_OFFERS and
// DECLINE_INVERSE_OFFERS: the answer is recorded (GET_MAINTENANCE_STATUS
// shows it) and the filter keeps the next inverse offer for that agent
// back for its time. Accepting for a draining agent lets the master kill
// the framework's tasks there now rather than by the drain's deadline.
// Inverse offers that are gone or not the framework's are ignored.
func (c *Core) answerInverseOffers(f *framework, r *mesos.InverseOfferReply, accept bool, now time.Time) {
	if r == nil {
		return
	}
	refuseFor := time.Duration(refuseSeconds(r.Filters, c.cfg.DefaultRefuseSeconds) * float64(time.Second))
	status := InverseDecline
	if accept {
		status = InverseAccept
	}
	for _, id := range r.InverseOfferIDs {
		io := c.inverse[id.Value]
		if io == nil || io.frameworkID != f.id {
			continue
		}
		a := c.agents[io.agentID]
		delete(c.inverse, io.id)
		delete(a.inverse.outstanding, f.id)
		a.inverse.status[f.id] = InverseOfferStatus{Status: status, FrameworkID: f.id, Timestamp: now}
		a.inverse.refusedUntil[f.id] = now.Add(refuseFor)
		c.log(LevelInfo, "inverse offer answered", "framework", f.id, "agent", a.id, "status", status)
		if accept {
			c.drainKills(a, now)
		}
	}
}
