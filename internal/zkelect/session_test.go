package zkelect

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-zookeeper/zk"
)

func TestSessionStatus(t *testing.T) {
	const (
		connecting = zk.StateConnecting
		connected  = zk.StateConnected
		has        = zk.StateHasSession
		down       = zk.StateDisconnected
		expired    = zk.StateExpired
	)
	cases := []struct {
		name   string
		kind   sessionKind
		states []zk.State
		live   bool
		gone   bool
	}{
		{"keeping, new", keeping, nil, false, false},
		{"keeping, established", keeping, []zk.State{connecting, connected, has}, true, false},
		{"keeping, disconnected: may come back", keeping, []zk.State{connecting, connected, has, down, connecting}, false, false},
		{"keeping, back on the same session", keeping, []zk.State{has, down, connecting, connected, has}, true, false},
		{"keeping, expired", keeping, []zk.State{has, down, connecting, connected, expired, down}, false, true},
		{"keeping, new session after expiry is not ours", keeping, []zk.State{has, down, expired, down, connecting, connected, has}, false, true},
		{"watch, established", watching, []zk.State{connecting, connected, has}, true, false},
		{"watch, first connection failed: retry", watching, []zk.State{connecting, connected, down, connecting}, false, false},
		{"watch, disconnected: gone", watching, []zk.State{connecting, connected, has, down}, false, true},
		{"watch, reconnected all the same: gone", watching, []zk.State{has, down, connecting, connected, has}, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &session{kind: c.kind, state: zk.StateDisconnected, change: make(chan struct{})}
			for _, st := range c.states {
				ch := s.changes()
				s.onEvent(zk.Event{Type: zk.EventSession, State: st})
				select {
				case <-ch:
				default:
					t.Fatalf("no change signalled for %v", st)
				}
			}
			s.onEvent(zk.Event{Type: zk.EventNodeChildrenChanged, Path: "/x"}) // not a session event
			live, gone, _ := s.status()
			if live != c.live || gone != c.gone {
				t.Errorf("status after %v = live %v, gone %v; want %v, %v", c.states, live, gone, c.live, c.gone)
			}
		})
	}
}

// deadlines records the read deadlines set on it.
type deadlines struct {
	net.Conn
	set []time.Time
}

func (d *deadlines) SetReadDeadline(t time.Time) error {
	d.set = append(d.set, t)
	return nil
}

func TestHandshakeConnBoundsOnlyTheHandshake(t *testing.T) {
	rec := &deadlines{}
	c := &handshakeConn{Conn: rec, bound: time.Second}
	far := time.Now().Add(time.Hour)
	near := time.Now().Add(time.Millisecond)

	_ = c.SetReadDeadline(time.Time{}) // clearing does not count as the handshake
	_ = c.SetReadDeadline(far)         // the handshake: clamped
	_ = c.SetReadDeadline(time.Time{})
	_ = c.SetReadDeadline(far) // the receive loop's: unchanged
	if len(rec.set) != 4 {
		t.Fatalf("%d deadlines set; want 4", len(rec.set))
	}
	if !rec.set[0].IsZero() || !rec.set[2].IsZero() {
		t.Errorf("zero deadlines became %v, %v; want zero", rec.set[0], rec.set[2])
	}
	if !rec.set[1].Before(far.Add(-time.Hour + 2*time.Second)) {
		t.Errorf("handshake deadline %v; want within the 1s bound", rec.set[1])
	}
	if !rec.set[3].Equal(far) {
		t.Errorf("later deadline %v; want %v unchanged", rec.set[3], far)
	}

	rec2 := &deadlines{}
	c2 := &handshakeConn{Conn: rec2, bound: time.Second}
	_ = c2.SetReadDeadline(near)
	if !rec2.set[0].Equal(near) {
		t.Errorf("handshake deadline %v within the bound became %v; want unchanged", near, rec2.set[0])
	}
}

// TestAwaitLiveAndPause runs the session's waits on a synctest bubble's
// fake clock: awaitLive blocks until the session is established (checked
// once every goroutine is blocked) and gives up on an expired one; pause
// lasts exactly its duration unless the session changes or ctx ends.
func TestAwaitLiveAndPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		newSession := func() *session {
			return &session{kind: keeping, state: zk.StateDisconnected, change: make(chan struct{})}
		}
		s := newSession()
		done := make(chan error, 1)
		go func() { done <- s.awaitLive(t.Context()) }()
		s.onEvent(zk.Event{Type: zk.EventSession, State: zk.StateConnecting})
		s.onEvent(zk.Event{Type: zk.EventSession, State: zk.StateConnected})
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("awaitLive = %v before the session was established", err)
		default:
		}
		s.onEvent(zk.Event{Type: zk.EventSession, State: zk.StateHasSession})
		synctest.Wait()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("awaitLive = %v once the session was established; want nil", err)
			}
		default:
			t.Fatal("awaitLive still waits once the session was established")
		}

		s = newSession()
		go func() { done <- s.awaitLive(t.Context()) }()
		s.onEvent(zk.Event{Type: zk.EventSession, State: zk.StateExpired})
		if err := <-done; !errors.Is(err, errSessionGone) {
			t.Errorf("awaitLive on an expired session = %v; want errSessionGone", err)
		}

		start := time.Now()
		if err := pause(t.Context(), nil, 3*time.Second); err != nil || time.Since(start) != 3*time.Second {
			t.Errorf("pause(3s) = %v after %v; want nil after 3s", err, time.Since(start))
		}
		changed := make(chan struct{})
		close(changed)
		start = time.Now()
		if err := pause(t.Context(), changed, time.Hour); err != nil || time.Since(start) != 0 {
			t.Errorf("pause on a changed session = %v after %v; want nil at once", err, time.Since(start))
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		start = time.Now()
		if err := pause(ctx, nil, time.Hour); !errors.Is(err, context.Canceled) || time.Since(start) != 0 {
			t.Errorf("pause with an ended context = %v after %v; want context.Canceled at once", err, time.Since(start))
		}
	})
}

func TestHoldUntil(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name      string
		confirmed time.Time
		timeout   time.Duration
		want      time.Time
	}{
		{"nothing answered: no lease", time.Time{}, 10 * time.Second, time.Time{}},
		{"no timeout: no lease", at, 0, time.Time{}},
		{"a third of the timeout short", at, 12 * time.Second, at.Add(8 * time.Second)},
		{"short timeout", at, 3 * time.Second, at.Add(2 * time.Second)},
		{"long timeout", at, time.Minute, at.Add(40 * time.Second)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := holdUntil(c.confirmed, c.timeout)
			if !got.Equal(c.want) {
				t.Errorf("holdUntil(%v, %v) = %v; want %v", c.confirmed, c.timeout, got, c.want)
			}
			// The lease never reaches the moment the server may expire
			// the session.
			if !got.IsZero() && !got.Before(c.confirmed.Add(c.timeout)) {
				t.Errorf("holdUntil(%v, %v) = %v; want before confirmed+timeout", c.confirmed, c.timeout, got)
			}
		})
	}
}

// chunks is a net.Conn whose reads return its data a few bytes at a time.
type chunks struct {
	net.Conn
	data []byte
	step int
}

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.step)], c.data)
	c.data = c.data[n:]
	return n, nil
}

func TestHandshakeConnReadsGrantedTimeout(t *testing.T) {
	// A connect response: length, protocolVersion 0, timeOut 4000 ms,
	// session id, a 16-byte password; then another packet.
	var resp []byte
	resp = binary.BigEndian.AppendUint32(resp, 36)
	resp = binary.BigEndian.AppendUint32(resp, 0)
	resp = binary.BigEndian.AppendUint32(resp, 4000)
	resp = binary.BigEndian.AppendUint64(resp, 0x1234)
	resp = binary.BigEndian.AppendUint32(resp, 16)
	resp = append(resp, make([]byte, 16)...)
	resp = binary.BigEndian.AppendUint32(resp, 16)
	resp = binary.BigEndian.AppendUint32(resp, 99) // the next packet: must not count
	for _, step := range []int{1, 3, 4, 5, 100} {
		var got []time.Duration
		c := &handshakeConn{Conn: &chunks{data: slices.Clone(resp), step: step}, bound: time.Second,
			granted: func(d time.Duration) { got = append(got, d) }}
		read, err := io.ReadAll(c)
		if err != nil || !slices.Equal(read, resp) {
			t.Fatalf("reading %d bytes at a time: %v, %d bytes; want all %d passed through", step, err, len(read), len(resp))
		}
		if len(got) != 1 || got[0] != 4*time.Second {
			t.Errorf("reading %d bytes at a time: granted %v; want [4s] once", step, got)
		}
	}
}

// TestSessionLease follows the lease of a keeping session through the
// client's events: a connection's handshake renews it from the time the
// connection was dialled, a shorter granted timeout shortens it, and an
// expired session has none, whatever comes after.
func TestSessionLease(t *testing.T) {
	s := newSession(keeping, 12*time.Second)
	if end := s.leaseEnd(); !end.IsZero() {
		t.Fatalf("leaseEnd of a new session = %v; want none", end)
	}
	ev := func(st zk.State) { s.onEvent(zk.Event{Type: zk.EventSession, State: st}) }
	dial := func(at time.Time) {
		s.mu.Lock()
		s.dialedAt = at
		s.mu.Unlock()
	}
	t0 := time.Now()
	dial(t0)
	ev(zk.StateConnecting)
	ev(zk.StateConnected)
	if end := s.leaseEnd(); !end.IsZero() {
		t.Errorf("leaseEnd before the handshake = %v; want none", end)
	}
	ev(zk.StateHasSession)
	if end, want := s.leaseEnd(), t0.Add(8*time.Second); !end.Equal(want) {
		t.Errorf("leaseEnd after the handshake = %v; want dial time + 8s", end.Sub(t0))
	}
	s.grant(6 * time.Second)
	if end, want := s.leaseEnd(), t0.Add(4*time.Second); !end.Equal(want) {
		t.Errorf("leaseEnd with 6s granted = %v after the dial; want 4s", end.Sub(t0))
	}
	s.grant(time.Minute) // more than asked: ignored
	if got := s.timeout(); got != 12*time.Second {
		t.Errorf("timeout() with 1m granted = %v; want the 12s asked for", got)
	}

	// Suspended, then back to the same session: renewed from the redial.
	ev(zk.StateDisconnected)
	t1 := t0.Add(5 * time.Second)
	dial(t1)
	ev(zk.StateConnecting)
	if end, want := s.leaseEnd(), t0.Add(8*time.Second); !end.Equal(want) {
		t.Errorf("leaseEnd while suspended = %v after the first dial; want 8s, unchanged", end.Sub(t0))
	}
	ev(zk.StateConnected)
	ev(zk.StateHasSession)
	if end, want := s.leaseEnd(), t1.Add(8*time.Second); !end.Equal(want) {
		t.Errorf("leaseEnd after reconnecting = %v after the redial; want 8s", end.Sub(t1))
	}

	ev(zk.StateDisconnected)
	ev(zk.StateExpired)
	dial(t1.Add(time.Second))
	ev(zk.StateHasSession) // the client's new session is not this one
	if end := s.leaseEnd(); !end.IsZero() {
		t.Errorf("leaseEnd after expiry = %v; want none", end)
	}
}
