package sched

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"corral/kernel/mesos"
	"corral/kernel/mesos/mesospb"
)

// Handler receives the events of a framework's subscription.
//
// HandleEvent is called from a single goroutine, one event at a time, in
// stream order, including the SUBSCRIBED that starts every (re)subscription
// and an ERROR the master may send before closing a stream. It may call the
// Client's methods synchronously: calls use their own HTTP connections.
// While it runs, further events wait in a bounded queue and the stream's
// silence timer is paused, so a slow handler delays events but does not
// cause a reconnect. ctx is Run's context.
type Handler interface {
	HandleEvent(ctx context.Context, c *Client, ev *mesos.Event)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, c *Client, ev *mesos.Event)

// HandleEvent calls f(ctx, c, ev).
func (f HandlerFunc) HandleEvent(ctx context.Context, c *Client, ev *mesos.Event) { f(ctx, c, ev) }

// Client is a framework's connection to the masters' scheduler API: it
// keeps one subscription alive (Run) and sends calls on it. Its methods
// are safe for concurrent use.
type Client struct {
	cfg      Config
	h        Handler
	log      *slog.Logger
	detector Detector
	streamHC *http.Client // no overall timeout: the stream lives for hours
	callHC   *http.Client
	running  atomic.Bool

	// offerMu orders SUPPRESS, REVIVE and UPDATE_FRAMEWORK calls (taken
	// before mu, held while they are sent), so that the master sees the
	// wishes in the order the framework had them.
	offerMu   sync.Mutex
	offersDue chan struct{} // wakes syncOffers

	mu           sync.Mutex
	framework    mesos.FrameworkInfo // ID set once the master assigned one
	wish         offerWish           // suppressed roles, wanted and held
	leader       string              // master that accepted the last SUBSCRIBE
	dialing      string              // master the current connection attempt dials
	streamID     string              // Mesos-Stream-Id of the open stream, or ""
	connected    bool                // SUBSCRIBED received on the open stream
	heartbeat    time.Duration       // master's interval from the last SUBSCRIBED
	tornDown     bool                // this Client's Teardown succeeded
	cancelStream context.CancelCauseFunc
	// The connection as Status reports it.
	since        time.Time     // when the state last changed
	subscribedAt time.Time     // the last SUBSCRIBED; zero before the first
	lastErr      error         // why the last attempt failed or the last stream ended
	removed      *RemovedError // set once the framework is removed, never cleared
}

// Stream end causes, reported in logs and by Run's reconnect decisions.
var (
	errStalled      = errors.New("no event within the heartbeat allowance")
	errStreamClosed = errors.New("stream closed by master")
	errTornDown     = errors.New("framework torn down")
	errRemoved      = errors.New("framework removed by the master")
)

const (
	eventQueue = 256  // events read ahead of a busy handler
	ackQueue   = 1024 // acknowledgements waiting to be sent
)

// New returns a Client for cfg. It validates cfg and applies defaults; it
// does not connect (see Run). h receives the events; log may be nil.
func New(cfg Config, h Handler, log *slog.Logger) (*Client, error) {
	if h == nil {
		return nil, errors.New("sched: nil handler")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.applyDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var det Detector = cfg.Detector
	if det == nil {
		ms := make(staticMasters, 0, len(cfg.Masters))
		for _, m := range cfg.Masters {
			n, _ := parseMaster(m) // checked by Validate
			ms = append(ms, n)
		}
		det = ms
	}
	base := cfg.HTTPClient
	if base == nil {
		// A short dial timeout: a master that is gone for good should cost
		// seconds, not the default 30, before the next one is tried.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
		// Keep a connection for each acknowledgement sender and a few
		// calls besides, rather than dial anew for each.
		tr.MaxIdleConnsPerHost = ackSenders + 4
		base = &http.Client{Transport: tr}
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	streamHC, callHC := *base, *base
	streamHC.CheckRedirect, callHC.CheckRedirect = noRedirect, noRedirect
	streamHC.Timeout = 0

	fw := cfg.Framework
	fw.Roles = slices.Clone(fw.Roles)
	fw.Capabilities = slices.Clone(fw.Capabilities)
	if fw.ID != nil {
		fw.ID = &mesos.ID{Value: fw.ID.Value}
	}
	c := &Client{
		cfg:       cfg,
		h:         h,
		log:       log.With("component", "sched", "framework", fw.Name),
		detector:  det,
		streamHC:  &streamHC,
		callHC:    &callHC,
		offersDue: make(chan struct{}, 1),
		framework: fw,
		heartbeat: defaultHeartbeat,
		since:     time.Now(),
	}
	c.wish.replace(cfg.SuppressedRoles, fw.EffectiveRoles(), false)
	return c, nil
}

// FrameworkID returns the framework's id: the one confirmed by the last
// SUBSCRIBED, or before that Config.Framework.ID of a failing-over
// framework. It is "" for a new framework until its first SUBSCRIBED.
func (c *Client) FrameworkID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frameworkIDLocked()
}

func (c *Client) frameworkIDLocked() string {
	if c.framework.ID == nil {
		return ""
	}
	return c.framework.ID.Value
}

// Connected reports whether the Client holds a subscribed stream: true
// from the SUBSCRIBED event until the stream ends. Calls made while it is
// false fail with ErrNotSubscribed.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connected
}

// Status returns a snapshot of the connection: subscribed or not and
// since when, the last error, and whether the master removed the
// framework. Status().Check judges it for a health report.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Status{
		State:          StateDisconnected,
		Since:          c.since,
		LastSubscribed: c.subscribedAt,
		FrameworkID:    c.frameworkIDLocked(),
		Heartbeat:      c.heartbeat,
		LastError:      c.lastErr,
	}
	switch {
	case c.removed != nil:
		st.State, st.Removed = StateRemoved, c.removed
	case c.connected:
		st.State = StateSubscribed
	}
	return st
}

// markRemovedLocked makes the Client removed for good, unless it
// already is. c.mu is held.
func (c *Client) markRemovedLocked(re *RemovedError) {
	if c.removed != nil {
		return
	}
	c.removed, c.connected, c.since = re, false, time.Now()
}

// removal returns why the framework was removed, or nil.
func (c *Client) removal() *RemovedError {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.removed
}

// setLastError records why an attempt failed or a stream ended.
func (c *Client) setLastError(err error) {
	c.mu.Lock()
	c.lastErr = err
	c.mu.Unlock()
}

// Leader returns the base URL of the master that accepted the last
// SUBSCRIBE (after any redirects), or "" before the first. It is kept
// across disconnections and tried first on the next subscription.
func (c *Client) Leader() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leader
}

// Run subscribes and keeps the framework subscribed until ctx is done,
// dispatching events to the handler on the calling goroutine. It
// re-subscribes with the framework id after any disconnection (stream end
// or error, HeartbeatMisses heartbeat intervals of silence, a 5xx or a
// connection failure), trying each master in turn and backing off
// exponentially between rounds. An ERROR event is passed to the handler
// and does not stop Run, except one saying that the framework was
// removed; a handler that deems another fatal cancels ctx.
//
// Run returns ctx's error when ctx is done; nil after a successful
// Teardown; a *RemovedError (errors.Is ErrRemoved) once a master says
// the framework was removed, in an ERROR event or by refusing SUBSCRIBE,
// and at once from every later call: the master never accepts the id
// again, so the Client stops asking (Status reports StateRemoved); and a
// *CallError when a master refuses SUBSCRIBE with another 4xx than 408
// and 429, because retrying the same FrameworkInfo cannot succeed. The
// caller decides what follows, for instance to tell an operator, or to
// forget a removed framework's id and start a new Client.
// Run must not be called again while it is running.
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("sched: Run is already running")
	}
	defer c.running.Store(false)

	var (
		acks chan ack
		wg   sync.WaitGroup
	)
	if c.cfg.AutoAcknowledge {
		acks = make(chan ack, ackQueue)
		wg.Go(func() { c.acknowledge(ctx, acks) })
	}
	syncCtx, stopSync := context.WithCancel(ctx)
	wg.Go(func() { c.syncOffers(syncCtx) })
	defer func() {
		stopSync()
		if acks != nil {
			close(acks)
		}
		wg.Wait()
	}()

	failures := 0
	for {
		if c.isTornDown() {
			return nil
		}
		if re := c.removal(); re != nil {
			return re
		}
		changed := detectorChanges(c.detector)
		// A leader change abandons an attempt still waiting on the old
		// leader: a dead host's address may not refuse connections, and
		// waiting out the dial would keep the framework away from the
		// new leader.
		attemptCtx, cancelAttempt := context.WithCancel(ctx)
		connected := make(chan struct{})
		go c.abandonOnNewLeader(changed, cancelAttempt, connected)
		s, err := c.connect(attemptCtx)
		close(connected)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			c.setLastError(err)
			var re *RemovedError
			if errors.As(err, &re) {
				c.mu.Lock()
				c.markRemovedLocked(re)
				c.mu.Unlock()
				c.log.Error("framework removed by the master; not subscribing again", "framework_id", re.FrameworkID, "master", re.Master, "message", re.Message)
				return re
			}
			var ce *CallError
			if errors.As(err, &ce) && ce.permanent() {
				c.log.Error("master refused subscription", "err", err)
				return err
			}
			failures++
			c.log.Warn("subscription failed", "err", err, "failures", failures)
		default:
			subscribed, err := c.serve(ctx, s, acks)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if c.isTornDown() {
				return nil
			}
			if re := c.removal(); re != nil {
				c.log.Error("framework removed by the master; not subscribing again", "framework_id", re.FrameworkID, "master", re.Master, "message", re.Message)
				return re
			}
			if subscribed {
				failures = 0
			}
			failures++
			c.log.Warn("disconnected", "master", s.master, "err", err, "failures", failures)
		}
		cancelAttempt()
		t := time.NewTimer(c.backoff(failures))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		case <-changed:
			// A new leader is known: try it now, and retry quickly while
			// it is still taking over.
			t.Stop()
			failures = 0
		}
	}
}

// abandonOnNewLeader calls cancel when, before done, the detector names
// a leader other than the master the attempt dials. A change that still
// names that master (the leader becoming known as the attempt starts)
// keeps the attempt: the master may have registered the framework
// already, and a SUBSCRIBE sent again without its id would leave a ghost
// framework behind. A detector that cannot name its leader without
// blocking abandons at every change.
func (c *Client) abandonOnNewLeader(changed <-chan struct{}, cancel func(), done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-changed:
		}
		changed = detectorChanges(c.detector)
		namer, ok := c.detector.(interface{ Leader() (string, bool) })
		if !ok {
			cancel()
			return
		}
		leader, known := namer.Leader()
		c.mu.Lock()
		dialing := c.dialing
		c.mu.Unlock()
		if !known || dialing == "" || leader != dialing {
			cancel()
			return
		}
	}
}

// detectorChanges returns d's change channel if it has one (see
// Detector), else nil, which never fires.
func detectorChanges(d Detector) <-chan struct{} {
	if ch, ok := d.(interface{ Changes() <-chan struct{} }); ok {
		return ch.Changes()
	}
	return nil
}

// backoff returns the delay before the next round after failures
// consecutive failed rounds (failures >= 1).
func (c *Client) backoff(failures int) time.Duration {
	d := backoffMin
	for i := 1; i < failures && d < c.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, c.cfg.BackoffMax)
	// Jitter spreads the reconnects of many frameworks after a failover.
	return d/2 + rand.N(d/2+1)
}

func (c *Client) isTornDown() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tornDown
}

// stream is one open SUBSCRIBE response.
type stream struct {
	master string // base URL that answered 200
	id     string // Mesos-Stream-Id
	body   io.ReadCloser
	ctx    context.Context // canceled with a cause to end the stream
	cancel context.CancelCauseFunc
	timer  *time.Timer // silence timer: cancels ctx with errStalled
	stall  time.Duration
	// suppressed is what the SUBSCRIBE listed as suppressed_roles: what
	// the master holds once it answers SUBSCRIBED.
	suppressed []string
}

func (s *stream) close() {
	s.timer.Stop()
	s.cancel(nil)
	s.body.Close()
}

// connect runs one round: it asks the detector for masters and tries the
// last leader, then each master, until one opens a stream.
func (c *Client) connect(ctx context.Context) (*stream, error) {
	masters, err := c.detector.Masters(ctx)
	if err != nil {
		return nil, fmt.Errorf("detecting masters: %w", err)
	}
	c.mu.Lock()
	cands := dedup(append([]string{c.leader}, masters...))
	c.mu.Unlock()
	if len(cands) == 0 {
		return nil, errors.New("no masters known")
	}
	var errs []error
	for _, m := range cands {
		c.mu.Lock()
		c.dialing = m
		c.mu.Unlock()
		s, err := c.subscribe(ctx, m)
		if err == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if terminal(err) {
			return nil, err
		}
		c.log.Debug("master unavailable", "master", m, "err", err)
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// subscribe POSTs SUBSCRIBE to master, following 307 redirects, and
// returns the open stream.
func (c *Client) subscribe(ctx context.Context, master string) (*stream, error) {
	c.mu.Lock()
	suppressed := c.wish.subscribing()
	call := &mesos.Call{
		Type: mesos.CallSubscribe,
		Subscribe: &mesos.Subscribe{
			FrameworkInfo:   c.framework,
			SuppressedRoles: slices.Clone(suppressed),
		},
	}
	if id := c.frameworkIDLocked(); id != "" {
		call.FrameworkID = &mesos.ID{Value: id}
	}
	stall := time.Duration(c.cfg.HeartbeatMisses) * c.heartbeat
	c.mu.Unlock()

	body, err := c.encodeCall(call)
	if err != nil {
		return nil, fmt.Errorf("encoding SUBSCRIBE: %w", err)
	}
	sctx, cancel := context.WithCancelCause(ctx)
	// The silence timer also bounds the wait for the response headers.
	timer := time.AfterFunc(stall, func() { cancel(errStalled) })
	fail := func(err error) (*stream, error) {
		timer.Stop()
		cancel(nil)
		return nil, err
	}
	for hop := 0; ; hop++ {
		req, err := c.newRequest(sctx, master, body, "")
		if err != nil {
			return fail(fmt.Errorf("subscribing at %s: %w", master, err))
		}
		resp, err := c.streamHC.Do(req)
		if err != nil {
			if cause := context.Cause(sctx); cause != nil && ctx.Err() == nil {
				err = cause
			}
			return fail(fmt.Errorf("subscribing at %s: %w", master, err))
		}
		if resp.StatusCode == http.StatusTemporaryRedirect && hop < maxRedirects {
			loc := resp.Header.Get("Location")
			discard(resp.Body)
			next, err := leaderURL(master, loc)
			if err != nil {
				return fail(fmt.Errorf("subscribing at %s: %w", master, err))
			}
			c.log.Info("redirected to leader", "from", master, "to", next)
			master = next
			continue
		}
		if resp.StatusCode != http.StatusOK {
			ce := newCallError(mesos.CallSubscribe, master, resp)
			if ce.permanent() && isRemoval(ce.Message) {
				return fail(c.removedBy(master, ce.Message, ce))
			}
			return fail(ce)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "" {
			if mt, _, _ := mime.ParseMediaType(ct); mt != c.mediaType() {
				resp.Body.Close()
				return fail(fmt.Errorf("subscribing at %s: unexpected Content-Type %q", master, ct))
			}
		}
		id := resp.Header.Get("Mesos-Stream-Id")
		if id == "" {
			// A refusal: corral's master answers a SUBSCRIBE it turns
			// down with a lone ERROR event and no stream.
			msg, err := c.firstError(resp.Body)
			resp.Body.Close()
			switch {
			case err != nil:
				return fail(fmt.Errorf("subscribing at %s: response has no Mesos-Stream-Id (%w)", master, err))
			case isRemoval(msg):
				return fail(c.removedBy(master, msg, nil))
			}
			return fail(fmt.Errorf("subscribing at %s: master refused with ERROR %q", master, msg))
		}
		return &stream{master: master, id: id, body: resp.Body, ctx: sctx, cancel: cancel, timer: timer, stall: stall, suppressed: suppressed}, nil
	}
}

// mediaType is the media type of the Client's calls and of the event
// stream it asks for (Config.Protobuf).
func (c *Client) mediaType() string {
	if c.cfg.Protobuf {
		return mesospb.MediaType
	}
	return "application/json"
}

// encodeCall serializes a call in the Client's encoding.
func (c *Client) encodeCall(call *mesos.Call) ([]byte, error) {
	if c.cfg.Protobuf {
		return mesospb.MarshalCall(call)
	}
	return json.Marshal(call)
}

// decodeEvent parses one record of the event stream.
func (c *Client) decodeEvent(rec []byte, ev *mesos.Event) error {
	if c.cfg.Protobuf {
		return mesospb.UnmarshalEvent(rec, ev)
	}
	return json.Unmarshal(rec, ev)
}

// newRequest builds every request the Client sends to a master: the
// SUBSCRIBE (streamID "") and the calls on its stream. It is the one
// place where what every request carries (content negotiation, the
// stream id, and credentials when there are some) is set.
func (c *Client) newRequest(ctx context.Context, master string, body []byte, streamID string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, master+schedulerPath, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", c.mediaType())
	req.Header.Set("Accept", c.mediaType())
	if streamID != "" {
		req.Header.Set("Mesos-Stream-Id", streamID)
	}
	return req, nil
}

// serve makes s the current stream, reads it on a new goroutine and
// dispatches its events until it ends. It reports whether the stream
// reached SUBSCRIBED and why it ended.
func (c *Client) serve(ctx context.Context, s *stream, acks chan<- ack) (subscribed bool, err error) {
	defer s.close()
	c.mu.Lock()
	c.leader, c.streamID, c.cancelStream = s.master, s.id, s.cancel
	if c.tornDown { // Teardown raced with this subscription
		s.cancel(errTornDown)
	}
	c.mu.Unlock()
	c.log.Debug("stream open", "master", s.master, "stream_id", s.id)

	events := make(chan *mesos.Event, eventQueue)
	// The reader closes events as its last act, so the end of the range
	// below joins it and makes subscribed and err visible here.
	go func() {
		subscribed, err = c.read(s, events)
		c.mu.Lock()
		if c.streamID == s.id {
			if c.connected {
				c.since = time.Now()
			}
			c.streamID, c.connected, c.cancelStream = "", false, nil
			c.lastErr = fmt.Errorf("stream from %s ended: %w", s.master, err)
		}
		c.mu.Unlock()
		close(events)
	}()
	for ev := range events {
		if ctx.Err() != nil {
			continue // drain so the reader can finish
		}
		c.dispatch(ctx, ev, acks)
	}
	return subscribed, err
}

// read decodes s's records and sends them to out until the stream ends.
func (c *Client) read(s *stream, out chan<- *mesos.Event) (subscribed bool, err error) {
	rd := mesos.NewReader(s.body)
	stall := s.stall
	for {
		rec, err := rd.Next()
		if err != nil {
			if cause := context.Cause(s.ctx); cause != nil {
				err = cause
			} else if errors.Is(err, io.EOF) {
				err = errStreamClosed
			}
			return subscribed, err
		}
		// The timer measures the master's silence, not the handler's work.
		s.timer.Stop()
		ev := new(mesos.Event)
		if err := c.decodeEvent(rec, ev); err != nil {
			return subscribed, fmt.Errorf("decoding event: %w", err)
		}
		if ev.Type == mesos.EventSubscribed && ev.Subscribed != nil {
			stall = c.onSubscribed(s, ev.Subscribed)
			subscribed = true
		}
		removed := ev.Type == mesos.EventError && ev.Error != nil && isRemoval(ev.Error.Message)
		if removed {
			re := c.removedBy(s.master, ev.Error.Message, nil)
			c.mu.Lock()
			c.markRemovedLocked(re)
			c.mu.Unlock()
		}
		select {
		case out <- ev:
		case <-s.ctx.Done():
			return subscribed, context.Cause(s.ctx)
		}
		if removed {
			// The handler still gets the ERROR; nothing after it matters.
			return subscribed, errRemoved
		}
		s.timer.Reset(stall)
	}
}

// onSubscribed records the framework id and heartbeat interval of a
// SUBSCRIBED event and returns the new silence allowance.
func (c *Client) onSubscribed(s *stream, sub *mesos.Subscribed) time.Duration {
	hb := time.Duration(float64(sub.HeartbeatIntervalSeconds) * float64(time.Second))
	if hb <= 0 {
		hb = defaultHeartbeat
	}
	c.mu.Lock()
	if sub.FrameworkID.Value != "" {
		c.framework.ID = &mesos.ID{Value: sub.FrameworkID.Value}
	}
	c.heartbeat = hb
	if c.streamID == s.id && c.removed == nil {
		now := time.Now()
		c.since, c.subscribedAt, c.lastErr = now, now, nil
		c.connected = true
		c.wish.subscribed(s.suppressed)
	}
	id := c.frameworkIDLocked()
	c.mu.Unlock()
	// The wish may have changed since the SUBSCRIBE was sent, or owe a
	// REVIVE: syncOffers tells the master.
	c.offersChanged()
	c.log.Info("subscribed", "master", s.master, "framework_id", id, "heartbeat", hb)
	return time.Duration(c.cfg.HeartbeatMisses) * hb
}

// removedBy returns the removal a master reported in msg, of the
// framework as the Client knows it.
func (c *Client) removedBy(master, msg string, cause error) *RemovedError {
	return &RemovedError{FrameworkID: c.FrameworkID(), Master: master, Message: msg, Err: cause}
}

// terminal reports whether a subscription error ends Run: a removal, or
// a refusal that repeating cannot change.
func terminal(err error) bool {
	if errors.Is(err, ErrRemoved) {
		return true
	}
	var ce *CallError
	return errors.As(err, &ce) && ce.permanent()
}

// firstError reads the first record of a refusal's body and returns the
// message of the ERROR event it holds.
func (c *Client) firstError(body io.Reader) (string, error) {
	rec, err := mesos.NewReader(io.LimitReader(body, maxErrorBody)).Next()
	if err != nil {
		return "", fmt.Errorf("reading the answer: %w", err)
	}
	var ev mesos.Event
	if err := c.decodeEvent(rec, &ev); err != nil {
		return "", fmt.Errorf("decoding the answer: %w", err)
	}
	if ev.Type != mesos.EventError || ev.Error == nil {
		return "", fmt.Errorf("answer is a %s event, not ERROR", ev.Type)
	}
	return ev.Error.Message, nil
}

// ack is one status update to acknowledge.
type ack struct{ agentID, taskID, uuid string }

func (c *Client) dispatch(ctx context.Context, ev *mesos.Event, acks chan<- ack) {
	c.h.HandleEvent(ctx, c, ev)
	if acks == nil || ev.Type != mesos.EventUpdate || ev.Update == nil {
		return
	}
	st := &ev.Update.Status
	if st.UUID == "" {
		return // unreliable update (e.g. a reconciliation answer): never acknowledged
	}
	if st.AgentID == nil || st.AgentID.Value == "" {
		c.log.Warn("update with uuid but no agent id; not acknowledged", "task_id", st.TaskID.Value)
		return
	}
	select {
	case acks <- ack{agentID: st.AgentID.Value, taskID: st.TaskID.Value, uuid: st.UUID}:
	case <-ctx.Done():
	}
}

// ackSenders is how many acknowledgements are in flight at once. Each
// is a round trip to the master; one at a time, a framework that
// launched 100,000 tasks was still acknowledging their updates tens of
// seconds later, and saw its master fail only once it had caught up.
const ackSenders = 8

// acknowledge sends queued acknowledgements until acks is closed, up to
// ackSenders at once; those of one task are sent in order, by the same
// sender. A failed one is only logged: the agent resends an
// unacknowledged update, so it comes back as a new event.
func (c *Client) acknowledge(ctx context.Context, acks <-chan ack) {
	var (
		wg      sync.WaitGroup
		senders [ackSenders]chan ack
	)
	for i := range senders {
		senders[i] = make(chan ack, ackQueue/ackSenders)
		q := senders[i]
		wg.Go(func() {
			for a := range q {
				if ctx.Err() != nil {
					continue
				}
				if err := c.Acknowledge(ctx, a.agentID, a.taskID, a.uuid); err != nil {
					c.log.Warn("acknowledge failed; the update will be resent", "task_id", a.taskID, "err", err)
				}
			}
		})
	}
	for a := range acks {
		h := fnv.New32a()
		_, _ = h.Write([]byte(a.taskID))
		senders[h.Sum32()%ackSenders] <- a
	}
	for _, q := range senders {
		close(q)
	}
	wg.Wait()
}

// leaderURL resolves a 307 Location against the master that sent it and
// returns the leader's base URL. Mesos sends a protocol-relative
// "//host:port/api/v1/scheduler"; the scheme of the redirecting master is
// kept. A bare "host:port", as Mesos' documentation shows, is accepted too.
func leaderURL(from, location string) (string, error) {
	if location == "" {
		return "", errors.New("redirect without Location")
	}
	if !strings.HasPrefix(location, "/") && !strings.Contains(location, "://") {
		location = "//" + location
	}
	base, err := url.Parse(from)
	if err != nil {
		return "", err
	}
	ref, err := url.Parse(location)
	if err != nil {
		return "", fmt.Errorf("redirect Location %q: %w", location, err)
	}
	u := base.ResolveReference(ref)
	if u.Host == "" {
		return "", fmt.Errorf("redirect Location %q has no host", location)
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, schedulerPath), "/")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u.String(), nil
}

// dedup returns the non-empty strings of in, first occurrence kept.
func dedup(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// discard drains a little of body so its connection can be reused, then
// closes it.
func discard(body io.ReadCloser) {
	io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	body.Close()
}
