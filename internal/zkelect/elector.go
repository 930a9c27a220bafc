package zkelect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

const (
	// leaveTimeout bounds the deletion of our member when Run ends; past it
	// the session is closed anyway, which deletes the member as well when
	// the servers can be reached.
	leaveTimeout = 2 * time.Second
	// resignPause is how long an Elector whose lead returned by itself
	// waits before contending again, so a lead that keeps returning at once
	// does not spin the election.
	resignPause = 500 * time.Millisecond
)

// probesPerTimeout is how many probes a leader sends on its keeping
// session per session timeout: often enough that the lease margin covers
// the gap between two of them (see leaseMargin), and cheap all the same,
// one small read per leader.
const probesPerTimeout = 12

// Why a leaderCtx was cancelled (context.Cause).
var (
	errSessionLost  = errors.New("zookeeper session may have expired: no answer within its lease")
	errExpired      = errors.New("zookeeper session expired")
	errBlind        = errors.New("watch on the members lost for a session timeout")
	errMemberGone   = errors.New("our member znode was deleted")
	errLeadReturned = errors.New("lead returned")
)

// Elector contends for leadership under a base path and runs a function
// while it leads. Create it with NewElector and drive it with Run; its
// other methods may be called from any goroutine, before, during and after
// Run.
type Elector struct {
	url     URL
	data    []byte
	opts    Options
	log     *slog.Logger
	board   *board
	running atomic.Bool

	// Owned by the goroutine in Run, for the current keeping session.
	node   string // our member; "" when we have none
	unsure bool   // a create failed and may have left a member behind
	resign string // a member we gave up and must still delete
}

// NewElector returns an Elector that will contend under u.Path with data as
// its member's data (Leader.Data for everyone who looks). It does not
// connect; Run does.
func NewElector(u URL, data []byte, o Options) *Elector {
	o = o.withDefaults()
	return &Elector{
		url:   u,
		data:  append([]byte(nil), data...),
		opts:  o,
		log:   o.Logger.With("zk", u.String()),
		board: newBoard(),
	}
}

// Run contends until ctx ends, calling lead each time this Elector becomes
// leader. It connects (the client retries while ZooKeeper is unreachable),
// creates the base path if missing, joins as an ephemeral sequential
// member, and when its member is the lowest calls lead(leaderCtx) from the
// goroutine that called Run, never twice at once.
//
// leaderCtx is cancelled as soon as leadership may be lost: the session
// expires, the lease of the session runs out (the connection has been
// down, or unanswered, for nearly a session timeout: the session may have
// expired), our member is deleted, the members cannot be watched for a
// session timeout, or ctx ends; context.Cause(leaderCtx) says which. A
// connection that drops and comes back to the same session within the
// lease does not end leadership (see the package doc). lead must return
// soon after leaderCtx is cancelled; Run does nothing else until it has.
// Then Run contends again: on the same session and member if they
// survived, else with a new session and member. If
// lead returns while leaderCtx is still live, the Elector gives up
// leadership: it deletes its member, which hands leadership to the next
// contender at once, and joins again, at the back, after a short pause.
//
// When ctx ends, Run deletes its member, closes its sessions and returns
// ctx.Err(). It returns an error at once if called while another Run of
// the same Elector is active.
func (e *Elector) Run(ctx context.Context, lead func(ctx context.Context)) error {
	if !e.running.CompareAndSwap(false, true) {
		return errors.New("zkelect: Elector.Run is already running")
	}
	defer e.running.Store(false)
	defer e.board.set(Leader{}, false)
	w := newWatcher(e.url, e.opts)
	defer w.close()
	var b backoff
	for {
		s, err := dial(e.url.Servers, e.opts, keeping)
		if err != nil {
			e.log.Warn("cannot connect to zookeeper; retrying", "err", err)
			if err := pause(ctx, nil, b.next()); err != nil {
				return err
			}
			continue
		}
		err = e.contend(ctx, s, w, lead)
		e.leave(s)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e.log.Warn("zookeeper session expired; contending again with a new session", "err", err)
	}
}

// Leader returns the leader as last seen: any contender's, this one's
// included. ok is false while none is known (before the first look, when
// no member exists, after Run returned). It is what standbys use to
// redirect clients; it may lag ZooKeeper by a watch round trip.
func (e *Elector) Leader() (l Leader, ok bool) {
	return e.board.get()
}

// IsLeader reports whether lead is running with a live leaderCtx. When
// leadership is lost in ZooKeeper it turns false before leaderCtx is
// cancelled; in any case it is false by the time lead returns.
func (e *Elector) IsLeader() bool {
	return e.board.isLeading()
}

// Changes returns a channel that is closed at the next change of Leader or
// IsLeader after the call. To follow changes, take the channel before
// reading the state:
//
//	for {
//		ch := e.Changes()
//		l, ok := e.Leader()
//		// use l, ok
//		<-ch
//	}
func (e *Elector) Changes() <-chan struct{} {
	return e.board.wait()
}

// contend runs the election on one keeping session until the session
// expires (errSessionGone) or ctx ends.
func (e *Elector) contend(ctx context.Context, s *session, w *watcher, lead func(context.Context)) error {
	e.node, e.unsure, e.resign = "", false, ""
	var b backoff
	for {
		if err := s.awaitLive(ctx); err != nil {
			return err
		}
		changed := s.changes()
		retry := func(msg string, err error) error {
			logRetry(e.log, msg, err)
			return pause(ctx, changed, b.next())
		}
		if err := e.join(s); err != nil {
			if err := retry("cannot join the election; retrying", err); err != nil {
				return err
			}
			continue
		}
		obs, err := w.observe(ctx, true)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err := retry("cannot read the members; retrying", err); err != nil {
				return err
			}
			continue
		}
		e.board.set(obs.leader, obs.known)
		lowest := obs.known && obs.leader.Node == e.node
		if lowest || !obs.has(e.url.Path, e.node) {
			// Ask our own session, which sees its own writes: the watch
			// session may be on a server that has not caught up with our
			// create yet. Before leading, the answer also starts the
			// lease that leadership lives by.
			exists, err := s.probe(e.node)
			if err != nil {
				if err := retry("cannot check our member; retrying", err); err != nil {
					return err
				}
				continue
			}
			if !exists {
				e.log.Warn("our member was deleted; joining again", "node", e.node)
				e.node = ""
				continue
			}
		}
		b.reset()
		if !lowest {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-obs.watch:
			case <-obs.stale:
			case <-changed:
			}
			continue
		}
		if e.lead(ctx, s, w, obs, lead) {
			e.log.Info("lead returned while leading; giving up leadership", "node", e.node)
			e.resign, e.node = e.node, ""
			if err := s.conn.Delete(e.resign, -1); err == nil || errors.Is(err, zk.ErrNoNode) {
				e.resign = ""
			} else {
				logRetry(e.log, "cannot give up leadership yet; retrying", err) // join retries
			}
			if err := pause(ctx, nil, resignPause); err != nil {
				return err
			}
		}
	}
}

// join makes sure this Elector has a member on the session: it first
// deletes a member it gave up, then creates the base path and its member
// if it has none. After a create whose outcome is unknown (the connection
// dropped before the answer), it looks for a member of this session before
// creating another, so no orphan member blocks the election.
func (e *Elector) join(s *session) error {
	if e.resign != "" {
		if err := s.conn.Delete(e.resign, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("deleting %s: %w", e.resign, err)
		}
		e.resign = ""
	}
	if e.node != "" {
		return nil
	}
	if err := ensurePath(s.conn, e.url.Path); err != nil {
		return err
	}
	if e.unsure {
		node, err := e.adopt(s)
		if err != nil {
			return err
		}
		e.unsure = false
		if node != "" {
			e.node = node
			e.log.Info("joined the election", "node", node)
			return nil
		}
	}
	node, err := s.conn.Create(e.url.Path+"/"+e.opts.Prefix, e.data, zk.FlagEphemeralSequential, zk.WorldACL(zk.PermAll))
	if err != nil {
		e.unsure = true
		return fmt.Errorf("creating member under %s: %w", e.url.Path, err)
	}
	e.node = node
	e.log.Info("joined the election", "node", node)
	return nil
}

// adopt returns the lowest member owned by this session, deleting any
// other it owns; "" if none.
func (e *Elector) adopt(s *session) (string, error) {
	children, _, err := s.conn.Children(e.url.Path)
	if err != nil {
		return "", fmt.Errorf("listing %s: %w", e.url.Path, err)
	}
	sid := s.conn.SessionID()
	var mine []string
	for _, c := range children {
		if _, ok := sequence(c, e.opts.Prefix); !ok {
			continue
		}
		p := e.url.Path + "/" + c
		ok, st, err := s.conn.Exists(p)
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", p, err)
		}
		if ok && st.EphemeralOwner == sid {
			mine = append(mine, c)
		}
	}
	keep, _, ok := lowest(mine, e.opts.Prefix)
	if !ok {
		return "", nil
	}
	for _, c := range mine {
		if c != keep {
			if err := s.conn.Delete(e.url.Path+"/"+c, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
				return "", fmt.Errorf("deleting %s: %w", c, err)
			}
		}
	}
	return e.url.Path + "/" + keep, nil
}

// lead calls lead under a leaderCtx that two watchers cancel when
// leadership may be lost, and reports whether lead returned by itself
// (leaderCtx still live). obs is the observation in which our member is
// the lowest. While lead runs, the member watcher uses w; it hands it back
// before lead returns.
func (e *Elector) lead(ctx context.Context, s *session, w *watcher, obs observation, lead func(context.Context)) (byItself bool) {
	node := e.node
	if !s.live() || !time.Now().Before(s.leaseEnd()) {
		return false
	}
	lctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := func(cause error) {
		// Not leader any more, before anyone is told to stop.
		e.board.setLeading(false)
		cancel(cause)
	}
	e.board.setLeading(true)
	var wg sync.WaitGroup
	wg.Go(func() {
		if cause := e.keepSession(lctx, s, node); cause != nil {
			stop(cause)
		}
	})
	wg.Go(func() {
		if cause := e.watchMember(lctx, w, obs, node, s.timeout()); cause != nil {
			stop(cause)
		}
	})
	e.log.Info("leading", "node", node)
	lead(lctx)
	byItself = lctx.Err() == nil
	stop(errLeadReturned)
	wg.Wait()
	e.log.Info("stopped leading", "node", node, "cause", context.Cause(lctx))
	return byItself
}

// keepSession keeps the lease of the keeping session s while we lead: it
// probes our member (node) every timeout/probesPerTimeout while connected,
// and returns errSessionLost when the lease runs out before an answer
// renews it, errExpired when the session expires, errMemberGone when a
// probe finds our member gone, or nil when lctx ends. It logs the
// connection's suspension, reconnection and loss.
func (e *Elector) keepSession(lctx context.Context, s *session, node string) error {
	tick := time.NewTicker(s.timeout() / probesPerTimeout)
	defer tick.Stop()
	var answer chan probeResult // non-nil while a probe is in flight
	suspended := false
	for {
		changed := s.changes()
		live, gone, _ := s.status()
		until := s.leaseEnd()
		now := time.Now()
		switch {
		case gone:
			e.log.Warn("zookeeper session lost: it expired", "node", node)
			return errExpired
		case !now.Before(until):
			e.log.Warn("zookeeper session lost: no answer within its lease, it may have expired", "node", node, "suspended", suspended)
			return errSessionLost
		case !live && !suspended:
			suspended = true
			e.log.Warn("zookeeper connection suspended; leading on while the session is certainly alive", "node", node, "for", until.Sub(now).Round(time.Millisecond))
		case live && suspended:
			suspended = false
			e.log.Info("zookeeper connection reconnected to the same session; still leading", "node", node)
		}
		timer := time.NewTimer(until.Sub(now))
		select {
		case <-lctx.Done():
			timer.Stop()
			return nil
		case <-changed:
		case <-timer.C:
		case <-tick.C:
			if answer == nil && live {
				answer = make(chan probeResult, 1)
				s.probeAsync(node, answer)
			}
		case r := <-answer:
			answer = nil
			if r.err == nil && !r.exists {
				timer.Stop()
				return errMemberGone
			}
		}
		timer.Stop()
	}
}

// watchMember follows the members on w while we lead. When the watch
// session drops (a ZooKeeper blip drops it with the keeping session's
// connection) it starts another and looks again, without ending
// leadership. It returns errMemberGone when our member (node) is no longer
// the lowest seen, errBlind when the members could not be seen again
// within blind (the session timeout: we could no longer see our member
// go), or nil when lctx ends.
func (e *Elector) watchMember(lctx context.Context, w *watcher, obs observation, node string, blind time.Duration) error {
	for {
		var next observation
		var err error
		select {
		case <-lctx.Done():
			return nil
		case <-obs.stale:
			if w.s != nil {
				// Taken while live, so that any later change closes it.
				obs.stale = w.s.changes()
				if w.s.live() {
					continue
				}
			}
			next, err = e.rewatch(lctx, w, node, blind)
		case <-obs.watch:
			next, err = w.observe(lctx, false)
			if err != nil && lctx.Err() == nil {
				next, err = e.rewatch(lctx, w, node, blind)
			}
		}
		if lctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %w", errBlind, err)
		}
		e.board.set(next.leader, next.known)
		// Our member was the lowest in an earlier look, after it was
		// created, and sequence numbers only grow: if it is not the
		// lowest now, it is gone.
		if !next.known || next.leader.Node != node {
			return errMemberGone
		}
		obs = next
	}
}

// rewatch replaces a lost watch session and lists the members again,
// retrying for up to blind.
func (e *Elector) rewatch(lctx context.Context, w *watcher, node string, blind time.Duration) (observation, error) {
	e.log.Info("watch on the members lost; watching again while leading", "node", node)
	ctx, cancel := context.WithTimeout(lctx, blind)
	defer cancel()
	var b backoff
	for {
		obs, err := w.observe(ctx, true)
		if err == nil {
			e.log.Info("watching the members again", "node", node)
			return obs, nil
		}
		if ctx.Err() != nil {
			return observation{}, err
		}
		logRetry(e.log, "cannot read the members; retrying", err)
		if err := pause(ctx, obs.stale, b.next()); err != nil {
			return observation{}, err
		}
	}
}

// leave deletes our members, if the session can still be reached, and
// closes the session.
func (e *Elector) leave(s *session) {
	var nodes []string
	for _, n := range []string{e.node, e.resign} {
		if n != "" {
			nodes = append(nodes, n)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if !s.live() {
			return
		}
		for _, n := range nodes {
			if err := s.conn.Delete(n, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
				e.log.Warn("cannot delete our member; it goes with the session", "node", n, "err", err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(leaveTimeout):
	}
	s.close() // also ends a Delete still waiting
	<-done
	e.node, e.resign, e.unsure = "", "", false
}

// ensurePath creates path and its missing parents as empty persistent
// znodes.
func ensurePath(conn *zk.Conn, path string) error {
	if ok, _, err := conn.Exists(path); err != nil || ok {
		return err
	}
	for i := 1; i <= len(path); i++ {
		if i < len(path) && path[i] != '/' {
			continue
		}
		p := path[:i]
		_, err := conn.Create(p, nil, zk.FlagPersistent, zk.WorldACL(zk.PermAll))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("creating %s: %w", p, err)
		}
	}
	return nil
}
