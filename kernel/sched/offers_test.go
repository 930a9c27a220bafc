package sched

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"corral/kernel/mesos"
)

// disconnect ends s and keeps the client from subscribing again (the
// master answers "No leader elected") until the returned func is called.
func disconnect(t *testing.T, c *Client, m *fakeMaster, s *fakeStream) (reconnect func()) {
	t.Helper()
	m.setNoLeader(true)
	close(s.drop)
	waitFor(t, "Connected() = false", func() bool { return !c.Connected() })
	return func() { m.setNoLeader(false) }
}

// wantCall waits for the next call and checks its type and roles.
func wantCall(t *testing.T, m *fakeMaster, typ mesos.CallType, roles ...string) {
	t.Helper()
	got := m.nextCall(t)
	var gotRoles []string
	switch {
	case got.call.Revive != nil:
		gotRoles = got.call.Revive.Roles
	case got.call.Suppress != nil:
		gotRoles = got.call.Suppress.Roles
	}
	if got.call.Type != typ || !slices.Equal(gotRoles, roles) {
		t.Fatalf("call = %s %v; want %s %v", got.call.Type, gotRoles, typ, roles)
	}
}

// TestReviveWhileDisconnected: a framework that was idle (suppressed)
// and revives while its master is gone gets offers from the next one: the
// SUBSCRIBE does not list the role as suppressed, and a REVIVE follows
// SUBSCRIBED to clear the filters a master keeps across subscriptions.
func TestReviveWhileDisconnected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeMaster(t)
		events := make(eventLog, 64)
		c, _ := start(t, testConfig(m.URL()), events)
		s := m.nextStream(t)
		events.next(t, mesos.EventSubscribed)
		waitFor(t, "Connected()", c.Connected)
		if err := c.Suppress(t.Context()); err != nil {
			t.Fatalf("Suppress: %v", err)
		}
		wantCall(t, m, mesos.CallSuppress)

		reconnect := disconnect(t, c, m, s)
		if err := c.Revive(t.Context()); !errors.Is(err, ErrNotSubscribed) {
			t.Errorf("Revive while disconnected = %v; want ErrNotSubscribed", err)
		}
		reconnect()
		s = m.nextStream(t)
		events.next(t, mesos.EventSubscribed)
		if got := s.sub.Subscribe.SuppressedRoles; len(got) != 0 {
			t.Errorf("SUBSCRIBE after a REVIVE while disconnected: suppressed_roles = %v; want none", got)
		}
		wantCall(t, m, mesos.CallRevive, "*")

		// Once the REVIVE went through nothing is owed any more.
		close(s.drop)
		s = m.nextStream(t)
		if got := s.sub.Subscribe.SuppressedRoles; len(got) != 0 {
			t.Errorf("third SUBSCRIBE: suppressed_roles = %v; want none", got)
		}
		m.noCall(t, 100*time.Millisecond)
	})
}

// TestSuppressBeforeAndWhileDisconnected: what the framework suppressed
// before a disconnection, and what it suppressed while disconnected, is
// listed in the next SUBSCRIBE, without further calls.
func TestSuppressBeforeAndWhileDisconnected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeMaster(t)
		cfg := testConfig(m.URL())
		cfg.Framework.Roles = []string{"r1", "r2"}
		cfg.Framework.Capabilities = []mesos.Capability{{Type: mesos.CapMultiRole}}
		events := make(eventLog, 64)
		c, _ := start(t, cfg, events)
		s := m.nextStream(t)
		events.next(t, mesos.EventSubscribed)
		waitFor(t, "Connected()", c.Connected)
		if err := c.Suppress(t.Context(), "r1"); err != nil {
			t.Fatalf("Suppress r1: %v", err)
		}
		wantCall(t, m, mesos.CallSuppress, "r1")

		reconnect := disconnect(t, c, m, s)
		if err := c.Suppress(t.Context(), "r2"); !errors.Is(err, ErrNotSubscribed) {
			t.Errorf("Suppress r2 while disconnected = %v; want ErrNotSubscribed", err)
		}
		reconnect()
		s = m.nextStream(t)
		events.next(t, mesos.EventSubscribed)
		if got, want := s.sub.Subscribe.SuppressedRoles, []string{"r1", "r2"}; !slices.Equal(got, want) {
			t.Errorf("SUBSCRIBE: suppressed_roles = %v; want %v", got, want)
		}
		m.noCall(t, 100*time.Millisecond)
	})
}

// TestReviveWhileSubscribing: a REVIVE made while a SUBSCRIBE listing the
// role as suppressed is in flight is sent once SUBSCRIBED arrives, since
// the new subscription starts suppressed.
func TestReviveWhileSubscribing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeMaster(t)
		cfg := testConfig(m.URL())
		cfg.SuppressedRoles = []string{"*"}
		subscribing, release := make(chan struct{}), make(chan struct{})
		m.onSubscribe = func(*mesos.Call) {
			subscribing <- struct{}{}
			<-release
		}
		events := make(eventLog, 64)
		c, _ := start(t, cfg, events)
		select {
		case <-subscribing:
		case <-time.After(5 * time.Second):
			t.Fatal("no SUBSCRIBE")
		}
		if err := c.Revive(t.Context(), "*"); !errors.Is(err, ErrNotSubscribed) {
			t.Errorf("Revive while subscribing = %v; want ErrNotSubscribed", err)
		}
		m.mu.Lock()
		m.onSubscribe = nil
		m.mu.Unlock()
		close(release)
		s := m.nextStream(t)
		events.next(t, mesos.EventSubscribed)
		if got := s.sub.Subscribe.SuppressedRoles; !slices.Equal(got, []string{"*"}) {
			t.Errorf("SUBSCRIBE sent before the REVIVE: suppressed_roles = %v; want [*]", got)
		}
		wantCall(t, m, mesos.CallRevive, "*")
		m.noCall(t, 100*time.Millisecond)
	})
}

// TestFailedOfferCallsAreRetried: a SUPPRESS or REVIVE the master
// refuses while the subscription lasts is sent again until it is taken.
func TestFailedOfferCallsAreRetried(t *testing.T) {
	for _, tt := range []struct {
		name string
		typ  mesos.CallType
		call func(ctx context.Context, c *Client) error
	}{
		{"suppress", mesos.CallSuppress, func(ctx context.Context, c *Client) error { return c.Suppress(ctx) }},
		{"revive", mesos.CallRevive, func(ctx context.Context, c *Client) error { return c.Revive(ctx) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := newFakeMaster(t)
				cfg := testConfig(m.URL())
				if tt.typ == mesos.CallRevive {
					cfg.SuppressedRoles = []string{"*"}
				}
				m.callReply[tt.typ] = reply{http.StatusServiceUnavailable, "try again"}
				events := make(eventLog, 64)
				c, _ := start(t, cfg, events)
				m.nextStream(t)
				events.next(t, mesos.EventSubscribed)
				waitFor(t, "Connected()", c.Connected)
				var ce *CallError
				if err := tt.call(t.Context(), c); !errors.As(err, &ce) || ce.Code != http.StatusServiceUnavailable {
					t.Fatalf("%s = %v; want the master's 503", tt.typ, err)
				}
				m.nextCall(t)
				m.mu.Lock()
				delete(m.callReply, tt.typ)
				m.mu.Unlock()
				// Retries may still meet the 503 for a moment; one of them
				// goes through, then they stop.
				for {
					got := m.nextCall(t)
					if got.call.Type != tt.typ {
						t.Fatalf("call = %s; want %s", got.call.Type, tt.typ)
					}
					if got.refused == 0 {
						break
					}
				}
				m.noCall(t, 200*time.Millisecond)
			})
		})

	}
}

// TestWishKeepsToFrameworkRoles: suppressing a role the framework does
// not have fails at the master and never reaches a SUBSCRIBE, which the
// master would refuse.
func TestWishKeepsToFrameworkRoles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeMaster(t)
		m.callReply[mesos.CallSuppress] = reply{http.StatusBadRequest, "'suppress.roles': role 'other' is not one of the framework's roles [*]"}
		events := make(eventLog, 64)
		c, _ := start(t, testConfig(m.URL()), events)
		s := m.nextStream(t)
		events.next(t, mesos.EventSubscribed)
		waitFor(t, "Connected()", c.Connected)
		if err := c.Suppress(t.Context(), "other"); err == nil {
			t.Fatal("Suppress other = nil; want the master's 400")
		}
		m.nextCall(t)
		close(s.drop)
		s = m.nextStream(t)
		if got := s.sub.Subscribe.SuppressedRoles; len(got) != 0 {
			t.Errorf("SUBSCRIBE: suppressed_roles = %v; want none", got)
		}
		m.noCall(t, 100*time.Millisecond)
	})
}

// TestOfferWish scripts the wish against a master's view: each step
// changes it, then the SUBSCRIBE it would send and the calls due on the
// current subscription are checked.
func TestOfferWish(t *testing.T) {
	all := []string{"a", "b"}
	type step struct {
		name                   string
		do                     func(w *offerWish)
		subscribe              []string // suppressed_roles of a SUBSCRIBE now
		dueSuppress, dueRevive []string
	}
	steps := []step{
		{"subscribed with nothing suppressed", func(w *offerWish) { w.subscribed(w.subscribing()) }, nil, nil, nil},
		{"suppress all, taken", func(w *offerWish) { w.suppressSent(w.suppress(nil, all), true) }, []string{"a", "b"}, nil, nil},
		{"revive a, not sent", func(w *offerWish) { w.revive([]string{"a"}, all) }, []string{"b"}, nil, []string{"a"}},
		{"new subscription without a", func(w *offerWish) { w.subscribed(w.subscribing()) }, []string{"b"}, nil, []string{"a"}},
		{"revive a taken", func(w *offerWish) { w.reviveSent([]string{"a"}, true) }, []string{"b"}, nil, nil},
		{"suppress a, refused", func(w *offerWish) { w.suppress([]string{"a"}, all) }, []string{"b", "a"}, []string{"a"}, nil},
		{"revive a before the retry", func(w *offerWish) { w.revive([]string{"a"}, all) }, []string{"b"}, nil, []string{"a"}},
		{"subscription sent with b, revive all meanwhile", func(w *offerWish) {
			sent := w.subscribing()
			w.revive(nil, all)
			w.subscribed(sent)
		}, nil, nil, []string{"b", "a"}},
		{"revive taken by an old master", func(w *offerWish) { w.reviveSent([]string{"b", "a"}, false) }, nil, nil, []string{"b"}},
		{"revive taken", func(w *offerWish) { w.reviveSent([]string{"b"}, true) }, nil, nil, nil},
		{"suppress a role not the framework's", func(w *offerWish) { w.suppress([]string{"c"}, all) }, nil, nil, nil},
		{"update framework: b suppressed, taken", func(w *offerWish) { w.replace([]string{"b", "c"}, all, true) }, []string{"b"}, nil, nil},
	}
	var w offerWish
	for _, st := range steps {
		st.do(&w)
		sup, rev := w.due()
		if got := w.subscribing(); !slices.Equal(got, st.subscribe) {
			t.Errorf("after %q: subscribing() = %v; want %v", st.name, got, st.subscribe)
		}
		if !slices.Equal(sup, st.dueSuppress) || !slices.Equal(rev, st.dueRevive) {
			t.Errorf("after %q: due() = %v, %v; want %v, %v", st.name, sup, rev, st.dueSuppress, st.dueRevive)
		}
	}
}
