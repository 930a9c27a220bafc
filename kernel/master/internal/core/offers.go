package core

import (
	"cmp"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"corral/kernel/allocator"
	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// removeOffer forgets an offer, telling its framework with RESCIND if
// rescind is set. Its resources are the caller's to return.
func (c *Core) removeOffer(o *offer, rescind bool) {
	delete(c.offers, o.id)
	if f := c.frameworks[o.frameworkID]; f != nil {
		delete(f.offers, o.id)
		if rescind {
			c.sendFramework(f, &mesos.Event{Type: mesos.EventRescind, Rescind: &mesos.Rescind{OfferID: mesos.ID{Value: o.id}}})
		}
	}
}

// agentOffers returns the offers on an agent, in id order.
func (c *Core) agentOffers(agentID string) []*offer {
	var os []*offer
	for _, o := range c.offers {
		if o.agentID == agentID {
			os = append(os, o)
		}
	}
	slices.SortFunc(os, func(a, b *offer) int { return cmp.Compare(a.id, b.id) })
	return os
}

// rescindAgentOffers rescinds every offer on an agent and returns the
// resources to the allocator.
func (c *Core) rescindAgentOffers(agentID string, now time.Time) {
	for _, o := range c.agentOffers(agentID) {
		c.removeOffer(o, true)
		c.alloc.Recover(o.agentID, o.frameworkID, o.role, o.resources, 0, now)
	}
}

// removeAgentOffers rescinds every offer on an agent that is about to be
// replaced in the allocator, which forgets its resources anyway.
func (c *Core) removeAgentOffers(agentID string) {
	for _, o := range c.agentOffers(agentID) {
		c.removeOffer(o, true)
	}
}

// Dirty reports whether an event since the last allocation freed or added
// resources somewhere, so that AllocateDirty has work to do.
func (c *Core) Dirty() bool { return len(c.dirty) > 0 }

// Allocate runs a batch allocation cycle over every agent and sends the
// offers it makes.
func (c *Core) Allocate(now time.Time) Effects {
	c.allocate(now, nil)
	return c.take()
}

// AllocateDirty runs an allocation cycle over the agents touched since the
// last one and sends the offers it makes.
func (c *Core) AllocateDirty(now time.Time) Effects {
	ids := sortedKeys(c.dirty)
	if ids == nil {
		ids = []string{}
	}
	c.allocate(now, ids)
	return c.take()
}

func (c *Core) allocate(now time.Time, agents []string) {
	var offers []allocator.Offer
	if agents == nil {
		offers = c.alloc.Cycle(now)
	} else {
		offers = c.alloc.CycleAgents(now, agents)
	}
	c.dirty = map[string]bool{}
	if len(offers) == 0 {
		return
	}
	byFw := map[string][]mesos.Offer{}
	for _, ao := range offers {
		f := c.frameworks[ao.FrameworkID]
		a := c.agents[ao.AgentID]
		if f == nil || f.state != fwConnected || a == nil || a.status != agentRegistered || a.conn == "" {
			// The allocator's view is ahead of ours; give it back.
			c.alloc.Recover(ao.AgentID, ao.FrameworkID, ao.Role, ao.Resources, 0, now)
			continue
		}
		o := &offer{id: c.nextID("O"), frameworkID: f.id, agentID: a.id, role: ao.Role, resources: ao.Resources, createdAt: now}
		c.offers[o.id] = o
		f.offers[o.id] = o
		byFw[f.id] = append(byFw[f.id], f.info.ResourceFormat().Offer(c.wireOffer(o, a)))
	}
	for _, fid := range sortedKeys(byFw) {
		c.sendFramework(c.frameworks[fid], &mesos.Event{Type: mesos.EventOffers, Offers: &mesos.Offers{Offers: byFw[fid]}})
	}
}

// wireOffer is o in the master's form, with allocation_info; frameworks
// get it through their ResourceFormat.
func (c *Core) wireOffer(o *offer, a *agent) mesos.Offer {
	return mesos.Offer{
		ID:             mesos.ID{Value: o.id},
		FrameworkID:    mesos.ID{Value: o.frameworkID},
		AgentID:        mesos.ID{Value: a.id},
		Hostname:       a.info.Hostname,
		AllocationInfo: &mesos.AllocationInfo{Role: o.role},
		Resources:      o.resources.Wire(o.role),
		Attributes:     a.offerAttrs,
		ExecutorIDs:    a.executorIDs(o.frameworkID),
		URL:            a.url,
		Unavailability: c.unavailability(a),
	}
}

// setInfo installs what the agent says of itself (at registration or
// from the registry) and the pieces of its offers made from it.
func (a *agent) setInfo(info agentproto.AgentInfo) {
	a.info = info
	a.total, _ = resource.FromWire(info.Resources)
	a.attributes = info.Attributes
	a.url = agentURL(info.Endpoint)
	a.offerAttrs = offerAttributes(a)
}

// agentURL is the agent's endpoint as an Offer.url (Mesos sets it so
// frameworks can reach the agent, e.g. for health checks).
func agentURL(endpoint string) *mesos.URL {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil
	}
	port, _ := strconv.Atoi(u.Port())
	ip := ""
	if addr, err := netip.ParseAddr(u.Hostname()); err == nil && addr.Zone() == "" {
		ip = addr.Unmap().String()
	}
	return &mesos.URL{Scheme: u.Scheme, Address: mesos.Address{Hostname: u.Hostname(), IP: ip, Port: mesos.Int(port)}, Path: "/"}
}

// offerAttributes are the agent's attributes as its offers carry them:
// its own, and mesos.AttrContainerizers unless it names that itself.
func offerAttributes(a *agent) []mesos.Attribute {
	if len(a.info.Containerizers) == 0 {
		return a.attributes
	}
	for _, at := range a.attributes {
		if at.Name == mesos.AttrContainerizers {
			return a.attributes
		}
	}
	out := append(slices.Clip(a.attributes), mesos.Attribute{Name: mesos.AttrContainerizers, Type: mesos.Text,
		Text: &mesos.TextValue{Value: strings.Join(a.info.Containerizers, ",")}})
	return out
}
