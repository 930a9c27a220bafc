package zkelect

import (
	"context"
	"errors"
	"net"
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
