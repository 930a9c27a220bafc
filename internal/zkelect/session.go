package zkelect

import (
	"context"
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
type session struct {
	conn *zk.Conn
	kind sessionKind

	mu         sync.Mutex
	state      zk.State
	hadSession bool          // a session was established on this connection
	dropped    bool          // the connection dropped after that
	expired    bool          // the server said the session expired
	change     chan struct{} // closed and replaced on every state change
}

// errRetired is what a watch session's dialer answers once its first
// connection is gone, so that the client never reconnects it.
var errRetired = errors.New("watch session retired: not reconnecting")

// dial starts connecting to servers; it does not wait for the session
// (awaitLive does), and the client retries unreachable servers by itself.
func dial(servers []string, o Options, kind sessionKind) (*session, error) {
	s := &session{kind: kind, state: zk.StateDisconnected, change: make(chan struct{})}
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
func (s *session) dialer(bound time.Duration) zk.Dialer {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		if s.kind == watching {
			s.mu.Lock()
			retired := s.hadSession
			s.mu.Unlock()
			if retired {
				return nil, errRetired
			}
		}
		c, err := net.DialTimeout(network, address, timeout)
		if err != nil {
			return nil, err
		}
		return &handshakeConn{Conn: c, bound: bound}, nil
	}
}

// handshakeConn clamps the first read deadline set on it, the one the zk
// client sets for the handshake, to bound from now. Later deadlines (the
// receive loop's, a fraction of the session timeout) pass unchanged. The
// zk client sets deadlines from one goroutine at a time.
type handshakeConn struct {
	net.Conn
	bound time.Duration
	armed bool
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

// close ends the session (the server deletes its ephemeral znodes at once
// if it can be reached) and the connection. It returns within a couple of
// seconds when the servers are gone.
func (s *session) close() {
	s.conn.Close()
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
