package zkelect

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// Options tune an Elector or a Detector. The zero value is usable.
type Options struct {
	// SessionTimeout is the ZooKeeper session timeout asked for (the
	// server may bound it): how long members outlive a lost connection,
	// and so how long a crashed leader keeps others waiting. Zero means
	// 10 s, as in Mesos.
	SessionTimeout time.Duration
	// Prefix names members: <prefix><sequence>. Empty means "json.info_",
	// the label Mesos masters use for their MasterInfo JSON.
	Prefix string
	// Logger receives elections and session changes at Info and Warn, and
	// the ZooKeeper client's own messages at Debug. Nil discards all.
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultSessionTimeout = 10 * time.Second
	DefaultPrefix         = "json.info_"
)

func (o Options) withDefaults() Options {
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = DefaultSessionTimeout
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// errSessionGone ends the work on a session: it has expired, or, for a
// watch session, its connection dropped. Its owner starts a new one.
var errSessionGone = errors.New("zookeeper session ended")

// The two kinds of session.
//
// The zk client re-registers a connection's watches when it reconnects,
// and in doing so races with its own receive loop (an unsynchronised
// lastZxid, go-zookeeper/zk#35, still in v1.0.4): the race detector fails
// any test that reconnects with a watch set and a request in flight. So a
// connection that carries watches never reconnects, and the one that keeps
// a session across reconnections never carries a watch:
//
//   - a keeping session holds an Elector's member. The client reconnects
//     it within the session timeout, keeping the session and the member;
//     it is gone once the session expires.
//   - a watch session carries the watches of a watcher. It is gone as soon
//     as its connection drops, and the watcher starts a new one; it holds
//     no ephemeral znode, so losing it costs nothing but a round trip.
type sessionKind int

const (
	keeping sessionKind = iota
	watching
)

func (k sessionKind) String() string {
	if k == watching {
		return "watch"
	}
	return "keeping"
}

// session is one ZooKeeper session on one zk.Conn. Its state is fed by the
// client's event callback; any goroutine may read it.
//
// A session also keeps its lease (see doc.go): the send time of the latest
// request the server answered on it, from which it is certainly alive for
// a session timeout. Connect requests count (the client's reconnection to
// the same session is an answered request), and so do probes.
type session struct {
	conn    *zk.Conn
	kind    sessionKind
	asked   time.Duration  // the session timeout asked for
	probing sync.WaitGroup // probes in flight; joined by close

	mu         sync.Mutex
	state      zk.State
	hadSession bool          // a session was established on this connection
	dropped    bool          // the connection dropped after that
	expired    bool          // the server said the session expired
	change     chan struct{} // closed and replaced on every state change
	granted    time.Duration // the timeout the server granted; 0 until known
	dialedAt   time.Time     // when the latest connection was dialled
	confirmed  time.Time     // send time of the latest answered request; zero if none
}

// errRetired is what a watch session's dialer answers once its first
// connection is gone, so that the client never reconnects it.
var errRetired = errors.New("watch session retired: not reconnecting")

// dial starts connecting to servers; it does not wait for the session
// (awaitLive does), and the client retries unreachable servers by itself.
func dial(servers []string, o Options, kind sessionKind) (*session, error) {
	s := newSession(kind, o.SessionTimeout)
	bound := o.SessionTimeout / time.Duration(max(len(servers), 3))
	conn, _, err := zk.Connect(servers, o.SessionTimeout,
		zk.WithDialer(s.dialer(bound)),
		zk.WithLogger(zkLogger{o.Logger.With("component", "zk")}),
		zk.WithEventCallback(s.onEvent))
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", strings.Join(servers, ","), err)
	}
	s.conn = conn
	return s, nil
}

func newSession(kind sessionKind, asked time.Duration) *session {
	return &session{kind: kind, asked: asked, state: zk.StateDisconnected, change: make(chan struct{})}
}

// dialer returns the zk.Dialer of s: it refuses to reconnect a watch
// session, and bounds the handshake of every connection.
//
// The zk client waits ten times its receive timeout, several session
// timeouts, for the answer to its connect request, and a server that
// accepted the connection while starting may never answer nor close it
// (ZOOKEEPER-5051, seen with 3.8): the client would sit on a dead
// connection until its session had long expired. Like the Java client, the
// bound is the session timeout divided among the servers, but never more
// than a third of it, so a few tries fit within a session timeout even
// with one server.
//
// The dial time is noted before dialling: the connect request that follows
// is sent later, so once it is answered the session is alive for a session
// timeout from then at least. The client calls the dialer and then sends
// the session events of that connection from one goroutine, in order.
func (s *session) dialer(bound time.Duration) zk.Dialer {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		s.mu.Lock()
		retired := s.kind == watching && s.hadSession
		s.dialedAt = time.Now()
		s.mu.Unlock()
		if retired {
			return nil, errRetired
		}
		c, err := net.DialTimeout(network, address, timeout)
		if err != nil {
			return nil, err
		}
		return &handshakeConn{Conn: c, bound: bound, granted: s.grant}, nil
	}
}

// grant records the session timeout the server granted in its answer to a
// connect request.
func (s *session) grant(d time.Duration) {
	if d <= 0 {
		return
	}
	s.mu.Lock()
	s.granted = d
	s.mu.Unlock()
}

// handshakeConn clamps the first read deadline set on it, the one the zk
// client sets for the handshake, to bound from now. Later deadlines (the
// receive loop's, a fraction of the session timeout) pass unchanged.
//
// It also reads the session timeout the server granted from the answer to
// the connect request, the first bytes read, and passes it to granted: the
// server may grant less than was asked for (its maxSessionTimeout), and the
// zk client does not tell. On the wire (ZooKeeper's ConnectResponse) the
// answer is a 4-byte length, then int32 protocolVersion, int32 timeOut in
// milliseconds, and the session id and password, all big-endian.
//
// The zk client reads and sets deadlines from one goroutine at a time: the
// handshake, then the receive loop it starts afterwards.
type handshakeConn struct {
	net.Conn
	bound   time.Duration
	armed   bool
	granted func(time.Duration)
	hello   [12]byte // the first bytes read: length, protocolVersion, timeOut
	heard   int      // how many of them have been read
}

func (c *handshakeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.heard < len(c.hello) {
		c.heard += copy(c.hello[c.heard:], p[:n])
		if c.heard == len(c.hello) && c.granted != nil {
			ms := int32(binary.BigEndian.Uint32(c.hello[8:12]))
			c.granted(time.Duration(ms) * time.Millisecond)
		}
	}
	return n, err
}

func (c *handshakeConn) SetReadDeadline(t time.Time) error {
	if !c.armed && !t.IsZero() {
		c.armed = true
		if limit := time.Now().Add(c.bound); t.After(limit) {
			t = limit
		}
	}
	return c.Conn.SetReadDeadline(t)
}

// onEvent is called by the zk client, in order, for every event; it must
// not block.
func (s *session) onEvent(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = ev.State
	switch {
	case ev.State == zk.StateHasSession:
		s.hadSession = true
		if !s.expired && s.dialedAt.After(s.confirmed) {
			s.confirmed = s.dialedAt
		}
	case ev.State == zk.StateExpired:
		s.expired = true
	case s.hadSession:
		s.dropped = true
	}
	close(s.change)
	s.change = make(chan struct{})
}

// status returns whether the session is usable now (connected, with the
// session established), whether it is gone for good, and a channel closed
// at the next state change.
func (s *session) status() (live, gone bool, changed <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gone = s.expired || (s.kind == watching && s.dropped)
	return s.state == zk.StateHasSession && !gone, gone, s.change
}

func (s *session) live() bool {
	live, _, _ := s.status()
	return live
}

// changes returns a channel closed at the next state change.
func (s *session) changes() <-chan struct{} {
	_, _, ch := s.status()
	return ch
}

// awaitLive waits until the session is usable. It returns errSessionGone
// if the session is gone for good, or ctx's error.
func (s *session) awaitLive(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		live, gone, changed := s.status()
		switch {
		case gone:
			return errSessionGone
		case live:
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// timeout returns the session timeout to reckon with: the one asked for,
// or the one the server granted if that is shorter. (A longer grant is
// ignored, which only errs on the safe side.)
func (s *session) timeout() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.granted > 0 && s.granted < s.asked {
		return s.granted
	}
	return s.asked
}

// leaseEnd returns until when the session is certainly alive, less the
// margin (see holdUntil); zero if it has expired or was never established.
func (s *session) leaseEnd() time.Time {
	t := s.timeout()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expired {
		return time.Time{}
	}
	return holdUntil(s.confirmed, t)
}

// probe asks the server, without a watch, whether node exists. An answer
// extends the lease from the moment the request was sent; an error
// (connection trouble) leaves it alone. The session's own answers are up
// to date with its own writes, so exists false means that a member this
// session created is gone.
func (s *session) probe(node string) (exists bool, err error) {
	sent := time.Now()
	exists, _, err = s.conn.Exists(node)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// After an expiry the client opens a new session on the same
	// connection, and a request queued before may be answered on it: it
	// says nothing of the old one.
	if !s.expired && sent.After(s.confirmed) {
		s.confirmed = sent
	}
	return exists, nil
}

// probeAsync runs probe in a goroutine that close joins, and sends its
// result on done, which must have room for it.
func (s *session) probeAsync(node string, done chan<- probeResult) {
	s.probing.Go(func() {
		exists, err := s.probe(node)
		done <- probeResult{exists, err}
	})
}

type probeResult struct {
	exists bool
	err    error
}

// holdUntil is the lease rule: a ZooKeeper ensemble expires a session no
// earlier than timeout after it last heard from the client, so a session
// whose request sent at confirmed was answered is alive until about
// confirmed+timeout. holdUntil stops short of that by leaseMargin, which
// covers what "about" hides (see the package doc) and the time a leader
// takes to stop. It returns the zero time when confirmed is zero (nothing
// answered yet: no lease).
func holdUntil(confirmed time.Time, timeout time.Duration) time.Time {
	if confirmed.IsZero() || timeout <= 0 {
		return time.Time{}
	}
	return confirmed.Add(timeout - leaseMargin(timeout))
}

// leaseMargin is a third of the timeout. The ensemble's leader keeps the
// sessions' clocks, and a follower tells it of its clients' requests only
// every half tick: a follower cut off with its client can take up to half
// a tick of requests with it, and the request before those is up to a
// probe interval (timeout/probesPerTimeout) older. ZooKeeper grants no
// timeout under two ticks (its default minSessionTimeout), so half a tick
// is at most a quarter of the timeout, and a quarter plus a twelfth is a
// third.
func leaseMargin(timeout time.Duration) time.Duration {
	return timeout / 3
}

// close ends the session (the server deletes its ephemeral znodes at once
// if it can be reached) and the connection, and waits for its probes,
// which the closing ends. It returns within a couple of seconds when the
// servers are gone.
func (s *session) close() {
	s.conn.Close()
	s.probing.Wait()
}

// connectionTrouble reports whether err comes from the connection rather
// than from ZooKeeper's answer: expected while the connection drops and
// comes back, and retried without a warning.
func connectionTrouble(err error) bool {
	for _, e := range []error{zk.ErrConnectionClosed, zk.ErrNoServer, zk.ErrClosing, zk.ErrSessionExpired, zk.ErrSessionMoved, errSessionGone} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// logRetry logs an error that will be retried: at Debug when it is
// connection trouble, which session changes already tell, else at Warn.
func logRetry(l *slog.Logger, msg string, err error) {
	level := slog.LevelWarn
	if connectionTrouble(err) {
		level = slog.LevelDebug
	}
	l.Log(context.Background(), level, msg, "err", err)
}

// backoff spaces out retries after errors: 100 ms doubling to 5 s, with
// jitter so contenders do not retry in step.
type backoff struct{ n int }

func (b *backoff) next() time.Duration {
	d := min(100*time.Millisecond<<min(b.n, 6), 5*time.Second)
	b.n++
	return d/2 + rand.N(d/2)
}

func (b *backoff) reset() { b.n = 0 }

// pause waits for d, or until changed is closed (a session's state
// changed, so a retry may succeed now), or ctx ends, whichever is first.
func pause(ctx context.Context, changed <-chan struct{}, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-changed:
	case <-t.C:
	}
	return nil
}

// zkLogger sends the zk client's messages to a slog.Logger at Debug.
type zkLogger struct{ l *slog.Logger }

func (z zkLogger) Printf(format string, a ...any) {
	if z.l.Enabled(context.Background(), slog.LevelDebug) {
		z.l.Debug(fmt.Sprintf(format, a...))
	}
}
