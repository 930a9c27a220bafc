package zkelect

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"
)

// Detector follows who leads under a base path, without contending:
// agents and clients use it to find the leading master. Create it with
// NewDetector and drive it with Run; its other methods may be called from
// any goroutine, before, during and after Run.
type Detector struct {
	url     URL
	opts    Options
	log     *slog.Logger
	board   *board
	running atomic.Bool
}

// NewDetector returns a Detector for the members under u.Path. It does not
// connect; Run does.
func NewDetector(u URL, o Options) *Detector {
	o = o.withDefaults()
	return &Detector{url: u, opts: o, log: o.Logger.With("zk", u.String()), board: newBoard()}
}

// Run follows the leader until ctx ends, then closes its session and
// returns ctx.Err(). It watches the members, so it sees a change within a
// watch round trip; while the base path does not exist it waits for it.
// It connects (the client retries while ZooKeeper is unreachable) and
// starts a new session whenever its connection drops.
//
// While it cannot see the members (its connection dropped, ZooKeeper is
// electing a leader of its own), it keeps the last leader seen, for up to
// a session timeout: a leader that lost its connection in the same blip
// leads on for that long if its session survives (see the package doc),
// and past it, its session may have expired. Then, until it sees the
// members again, it knows no leader.
//
// It returns an error at once if called while another Run of the same
// Detector is active.
func (d *Detector) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("zkelect: Detector.Run is already running")
	}
	defer d.running.Store(false)
	defer d.board.set(Leader{}, false)
	w := newWatcher(d.url, d.opts)
	defer w.close()
	var b backoff
	var blindSince time.Time // when the members were last seen, while they cannot be; else zero
	for {
		octx, cancel := ctx, context.CancelFunc(func() {})
		if !blindSince.IsZero() {
			octx, cancel = context.WithDeadline(ctx, blindSince.Add(d.opts.SessionTimeout))
		}
		obs, err := w.observe(octx, true)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if blindSince.IsZero() {
				blindSince = time.Now()
			}
			if octx.Err() != nil {
				d.forget(blindSince)
				blindSince = time.Time{}
				continue
			}
			logRetry(d.log, "cannot read the members; retrying", err)
			if err := pause(ctx, obs.stale, b.next()); err != nil {
				return err
			}
			continue
		}
		b.reset()
		blindSince = time.Time{}
		d.board.set(obs.leader, obs.known)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-obs.watch:
		case <-obs.stale:
			if w.s != nil && !w.s.live() {
				blindSince = time.Now()
			}
		}
	}
}

// forget drops the leader once the members have not been seen since
// blindSince, a session timeout ago.
func (d *Detector) forget(blindSince time.Time) {
	if _, ok := d.board.get(); ok {
		d.log.Warn("members not seen for a session timeout; the leader's session may have expired, forgetting it",
			"since", blindSince.Format(time.RFC3339Nano))
	}
	d.board.set(Leader{}, false)
}

// Leader returns the leader as last seen. ok is false while none is known:
// before the first look, when no member exists, after Run returned, and
// once the members have not been seen for a session timeout. During a
// shorter blip it keeps the last leader seen, which may be stale (if that
// leader lost its session in the blip, it has stopped leading).
func (d *Detector) Leader() (l Leader, ok bool) {
	return d.board.get()
}

// Changes returns a channel that is closed at the next change of Leader
// after the call. Take the channel before reading Leader, so no change is
// missed (see Elector.Changes).
func (d *Detector) Changes() <-chan struct{} {
	return d.board.wait()
}

// Wait blocks until a leader is known and returns it, or returns ctx's
// error. It needs Run to be running.
func (d *Detector) Wait(ctx context.Context) (Leader, error) {
	for {
		ch := d.board.wait()
		if l, ok := d.board.get(); ok {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return Leader{}, ctx.Err()
		case <-ch:
		}
	}
}
