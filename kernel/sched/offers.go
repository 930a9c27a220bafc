package sched

import (
	"context"
	"errors"
	"slices"
	"time"

	"corral/kernel/mesos"
)

// offerWish is a framework's wish for offers, per role, next to what the
// master of the current subscription is known to hold. It is plain state
// with no I/O; the Client guards it with its mutex and makes the calls.
//
// The wish changes the moment the framework suppresses or revives,
// whether or not its call reaches a master. Every SUBSCRIBE lists the
// roles wished suppressed (subscribing); due names what the current
// master still has to be told: roles suppressed or revived after the
// SUBSCRIBE was sent, calls that failed, and revivals that reached no
// master, whose refuse filters a master keeps across subscriptions.
type offerWish struct {
	suppressed []string // roles wished suppressed, in the order first suppressed
	held       []string // roles the current subscription's master holds suppressed
	unrevived  []string // roles revived since the last REVIVE that reached a master
}

// scope returns the roles a SUPPRESS or REVIVE of roles applies to: all
// the framework's roles when roles is empty, else those of roles that
// are the framework's. A role the framework does not have is refused by
// the master and never becomes part of the wish, so a SUBSCRIBE cannot
// carry it.
func scope(roles, all []string) []string {
	if len(roles) == 0 {
		return dedup(all)
	}
	return slices.DeleteFunc(dedup(roles), func(r string) bool { return !slices.Contains(all, r) })
}

// without returns the roles of in not in drop.
func without(in, drop []string) []string {
	return slices.DeleteFunc(slices.Clone(in), func(r string) bool { return slices.Contains(drop, r) })
}

// suppress records the wish to get no offers for roles (scoped to all,
// the framework's roles) and returns the roles it applies to.
func (w *offerWish) suppress(roles, all []string) []string {
	rs := scope(roles, all)
	w.suppressed = dedup(append(w.suppressed, rs...))
	w.unrevived = without(w.unrevived, rs)
	return rs
}

// revive records the wish to get offers for roles, with their filters
// cleared, and returns the roles it applies to.
func (w *offerWish) revive(roles, all []string) []string {
	rs := scope(roles, all)
	w.suppressed = without(w.suppressed, rs)
	w.unrevived = dedup(append(w.unrevived, rs...))
	return rs
}

// replace makes suppressed (scoped to all) the whole wish, as
// UPDATE_FRAMEWORK does; current says that the master of the current
// subscription took it.
func (w *offerWish) replace(suppressed, all []string, current bool) {
	w.suppressed = slices.DeleteFunc(dedup(suppressed), func(r string) bool { return !slices.Contains(all, r) })
	w.unrevived = slices.DeleteFunc(without(w.unrevived, w.suppressed), func(r string) bool { return !slices.Contains(all, r) })
	if current {
		w.held = slices.Clone(w.suppressed)
	}
}

// subscribing returns the suppressed_roles of a SUBSCRIBE sent now.
func (w *offerWish) subscribing() []string { return slices.Clone(w.suppressed) }

// subscribed records that a subscription began whose SUBSCRIBE listed
// sent as suppressed.
func (w *offerWish) subscribed(sent []string) { w.held = slices.Clone(sent) }

// suppressSent records that a SUPPRESS of roles was taken; current says
// by the master of the current subscription.
func (w *offerWish) suppressSent(roles []string, current bool) {
	if current {
		w.held = dedup(append(w.held, roles...))
	}
}

// reviveSent records that a REVIVE of roles was taken; current says by
// the master of the current subscription.
func (w *offerWish) reviveSent(roles []string, current bool) {
	w.unrevived = without(w.unrevived, roles)
	if current {
		w.held = without(w.held, roles)
	}
}

// due returns the SUPPRESS and REVIVE the current subscription's master
// needs to hold the wish; both are empty when it holds it.
func (w *offerWish) due() (suppress, revive []string) {
	suppress = without(w.suppressed, w.held)
	revive = without(dedup(append(slices.Clone(w.held), w.unrevived...)), w.suppressed)
	return suppress, revive
}

// offersChanged wakes syncOffers.
func (c *Client) offersChanged() {
	select {
	case c.offersDue <- struct{}{}:
	default:
	}
}

// syncOffers tells each subscription's master what the wish says that
// it does not hold yet (see offerWish.due): at every SUBSCRIBED, after a
// SUPPRESS or REVIVE failed, and again with backoff while that fails.
// Between subscriptions it waits: the next SUBSCRIBE carries the wish.
// It returns when ctx is done.
func (c *Client) syncOffers(ctx context.Context) {
	failures := 0
	for {
		var retry *time.Timer
		var retryC <-chan time.Time
		if failures > 0 {
			retry = time.NewTimer(c.backoff(failures))
			retryC = retry.C
		}
		select {
		case <-ctx.Done():
		case <-c.offersDue:
		case <-retryC:
		}
		if retry != nil {
			retry.Stop()
		}
		if ctx.Err() != nil {
			return
		}
		if err := c.applyOffers(ctx); err != nil && ctx.Err() == nil {
			failures++
			c.log.Warn("offer wish not taken by the master yet; retrying", "err", err, "failures", failures)
		} else {
			failures = 0
		}
	}
}

// applyOffers sends the calls due on the current subscription, if any.
// Not being subscribed is no failure: the next SUBSCRIBE carries the wish.
func (c *Client) applyOffers(ctx context.Context) error {
	c.offerMu.Lock()
	defer c.offerMu.Unlock()
	c.mu.Lock()
	if !c.connected {
		c.mu.Unlock()
		return nil
	}
	suppress, revive := c.wish.due()
	c.mu.Unlock()
	var errs []error
	if len(suppress) > 0 {
		sid, err := c.send(ctx, &mesos.Call{Type: mesos.CallSuppress, Suppress: &mesos.Suppress{Roles: suppress}})
		c.offerCallDone(err, sid, func(current bool) { c.wish.suppressSent(suppress, current) })
		errs = append(errs, err)
	}
	if len(revive) > 0 {
		sid, err := c.send(ctx, &mesos.Call{Type: mesos.CallRevive, Revive: &mesos.Revive{Roles: revive}})
		c.offerCallDone(err, sid, func(current bool) { c.wish.reviveSent(revive, current) })
		errs = append(errs, err)
	}
	err := errors.Join(errs...)
	if errors.Is(err, ErrNotSubscribed) {
		return nil
	}
	return err
}

// offerCallDone records a SUPPRESS or REVIVE that the master took on
// stream sid (err == nil): it updates the wish's view of the master.
func (c *Client) offerCallDone(err error, sid string, taken func(current bool)) {
	if err != nil {
		return
	}
	c.mu.Lock()
	taken(c.connected && sid == c.streamID)
	c.mu.Unlock()
}
