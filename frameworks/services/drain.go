package services

import (
	"context"
	"time"

	"corral/frameworks/internal/place"
	"corral/kernel/mesos"
)

// Draining agents. The master tells the framework that an agent is going
// away (drained by an operator, or scheduled for maintenance) by inverse
// offers. Instances there are then migrated: the planner launches
// replacements elsewhere first and kills the instances on the agent only
// as replacements become ready, within the upgrade strategy's
// minimumHealthCapacity (plan.Instance.Draining); for a maintenance
// window that starts later than place.Lookahead, only once it is that
// close. Once none of the framework's instances is left there it accepts
// the inverse offer, which
// lets the master finish the drain without waiting for its deadline.
// Offers of agents with an unavailability ahead are not used, so that
// nothing new lands where it would have to move again.

// inverseOffers records the agents the master asks the framework to
// leave.
func (c *core) inverseOffers(ios []mesos.InverseOffer) {
	for _, io := range ios {
		if io.AgentID == nil {
			continue
		}
		c.draining[io.AgentID.Value] = io
		n := c.liveOn(io.AgentID.Value)
		c.s.log.Info("agent going away: its instances migrate once it is within the lookahead", "agent", io.AgentID.Value, "instances", n,
			"from", time.Unix(0, int64(io.Unavailability.Start.Nanoseconds)).UTC(), "lookahead", place.Lookahead)
		c.s.bus.Publish("agent_draining_event", map[string]any{"agentId": io.AgentID.Value, "instances": n})
	}
}

// rescindInverseOffer forgets an inverse offer the master withdrew: the
// agent is available again, or the framework has nothing left there.
func (c *core) rescindInverseOffer(id string) {
	for agent, io := range c.draining {
		if io.ID.Value == id {
			delete(c.draining, agent)
		}
	}
}

// goingAway reports whether the master asked the framework to leave
// agentID and its unavailability is near (place.GoingAway): its instances
// are then migrated. A maintenance window further ahead moves nothing yet.
func (c *core) goingAway(agentID string) bool {
	io, ok := c.draining[agentID]
	return ok && place.GoingAway(&io.Unavailability, time.Now())
}

// liveOn counts the framework's instances on an agent that have not
// ended.
func (c *core) liveOn(agentID string) int {
	n := 0
	for _, in := range c.instances {
		if in.AgentID == agentID && !in.State.Terminal() {
			n++
		}
	}
	return n
}

// acceptVacated accepts the inverse offers of draining agents the
// framework no longer runs anything on.
func (c *core) acceptVacated() {
	if !c.subscribed {
		return
	}
	for agent, io := range c.draining {
		if c.liveOn(agent) > 0 {
			continue
		}
		delete(c.draining, agent)
		id := io.ID
		c.s.log.Info("agent vacated: accepting its inverse offer", "agent", agent)
		c.call(func(ctx context.Context) { _ = c.s.client.AcceptInverseOffers(ctx, []mesos.ID{id}, nil) })
	}
}
