package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"corral/kernel/internal/agentclient"
	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// defaultHeartbeat is used when REGISTERED names no interval.
const defaultHeartbeat = 5 * time.Second

// missedHeartbeats is how many intervals without any event make the agent
// give up on a stream and register again.
const missedHeartbeats = 3

// callTimeout bounds UPDATE and HEARTBEAT calls.
const callTimeout = 15 * time.Second

// backoff is the registration backoff: a random wait in [0, cur], cur
// doubling from factor to max, as Mesos agents do.
type backoff struct {
	factor, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.factor
	}
	d := time.Duration(rand.Int64N(int64(b.cur) + 1))
	b.cur = min(2*b.cur, b.max)
	return d
}

func (b *backoff) reset() { b.cur = 0 }

// connect keeps the agent registered: it tries each master in turn and
// re-registers with backoff whenever a session ends, until ctx ends.
func (a *Agent) connect(ctx context.Context) {
	b := backoff{factor: a.cfg.RegisterBackoffFactor, max: a.cfg.RegisterBackoffMax}
	for i := 0; ctx.Err() == nil; {
		masters := a.cfg.Masters
		var err error
		var changed <-chan struct{}
		if ch, ok := a.cfg.Detector.(interface{ Changes() <-chan struct{} }); ok {
			changed = ch.Changes()
		}
		if a.cfg.Detector != nil {
			masters, err = a.cfg.Detector.Masters(ctx)
			if ctx.Err() != nil {
				return
			}
			if err == nil && len(masters) == 0 {
				err = errors.New("no master known")
			}
		}
		registered := false
		base := ""
		if err == nil {
			base = strings.TrimRight(masters[i%len(masters)], "/")
			registered, err = a.session(ctx, base)
		}
		if ctx.Err() != nil {
			return
		}
		if registered {
			b.reset()
			a.log.Warn("lost connection to master; re-registering", "master", base, "err", err)
		} else {
			i++ // try the next master
			a.log.Warn("registration failed", "master", base, "err", err)
		}
		t := time.NewTimer(b.next())
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-changed:
			// A new leader is known: register with it now, and retry
			// quickly while it is still taking over.
			t.Stop()
			b.reset()
		}
	}
}

// session registers with the master at base and handles its event stream
// until the stream breaks, goes quiet, or ctx ends. registered says
// whether a REGISTERED event was received.
func (a *Agent) session(ctx context.Context, base string) (registered bool, err error) {
	var call agentproto.Call
	if err := a.ask(ctx, func(l *loop) { call = l.registerCall() }); err != nil {
		return false, err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, leader, err := agentclient.Post(sctx, a.client, base, call)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if err := agentclient.StatusError(resp); err != nil {
		return false, err
	}

	// Every record, heartbeats included, proves the stream alive.
	watchdog := time.AfterFunc(30*time.Second, cancel)
	defer watchdog.Stop()
	rd := mesos.NewReader(resp.Body)
	first, err := readEvent(rd)
	if err != nil {
		return false, fmt.Errorf("reading REGISTERED: %w", err)
	}
	if first.Type != agentproto.EventRegistered || first.Registered == nil || first.Registered.AgentID == "" {
		return false, fmt.Errorf("first event is %s, want REGISTERED with an agent id", first.Type)
	}
	r := first.Registered
	if r.ConnectionID == "" {
		r.ConnectionID = resp.Header.Get(agentproto.ConnectionIDHeader)
	}
	interval := time.Duration(r.HeartbeatIntervalSeconds * float64(time.Second))
	if interval <= 0 {
		interval = defaultHeartbeat
	}
	sess := &session{base: leader, agentID: r.AgentID, connectionID: r.ConnectionID, interval: interval, cancel: cancel}
	if !a.send(ctx, func(_ context.Context, l *loop) { l.registered(sess) }) {
		return true, ctx.Err()
	}
	defer a.send(context.WithoutCancel(ctx), func(_ context.Context, l *loop) { l.disconnected(sess) })
	watchdog.Reset(missedHeartbeats * interval)

	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { a.heartbeats(sctx, sess) })

	for {
		ev, err := readEvent(rd)
		if err != nil {
			if sctx.Err() != nil && ctx.Err() == nil {
				return true, fmt.Errorf("no event from master for %v or the connection was refused: %w", missedHeartbeats*interval, err)
			}
			return true, err
		}
		watchdog.Reset(missedHeartbeats * interval)
		if ev.Type == agentproto.EventHeartbeat {
			continue
		}
		if !a.send(sctx, func(ctx context.Context, l *loop) { l.handle(ctx, ev) }) {
			return true, sctx.Err()
		}
	}
}

// heartbeats sends HEARTBEAT calls every interval; a stale connection ends
// the session.
func (a *Agent) heartbeats(ctx context.Context, s *session) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	call := agentproto.Call{Type: agentproto.CallHeartbeat, AgentID: s.agentID, ConnectionID: s.connectionID}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := a.call(ctx, s, call); err != nil && ctx.Err() == nil {
			a.log.Warn("heartbeat failed", "err", err)
			if errors.Is(err, agentclient.ErrStale) {
				s.cancel()
			}
		}
	}
}

func readEvent(rd *mesos.Reader) (agentproto.Event, error) {
	rec, err := rd.Next()
	if err != nil {
		return agentproto.Event{}, err
	}
	var ev agentproto.Event
	if err := json.Unmarshal(rec, &ev); err != nil {
		return agentproto.Event{}, fmt.Errorf("decoding event: %w", err)
	}
	return ev, nil
}

// call sends a short call (UPDATE, HEARTBEAT) within the session.
func (a *Agent) call(ctx context.Context, s *session, c agentproto.Call) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, _, err := agentclient.Post(ctx, a.client, s.base, c)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return agentclient.StatusError(resp)
}
