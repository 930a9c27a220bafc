package sched

import (
	"context"
	"errors"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"corral/kernel/mesos"
)

func TestSubscribeThenResubscribeWithFrameworkID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeMaster(t)
		events := make(eventLog, 64)
		c, _ := start(t, testConfig(m.URL()), events)

		s1 := m.nextStream(t)
		if s1.sub.FrameworkID != nil || s1.sub.Subscribe.FrameworkInfo.ID != nil {
			t.Errorf("first SUBSCRIBE carries framework id %v / %v; want none", s1.sub.FrameworkID, s1.sub.Subscribe.FrameworkInfo.ID)
		}
		ev := events.next(t, mesos.EventSubscribed)
		if got := ev.Subscribed.FrameworkID.Value; got != "fw-1" {
			t.Errorf("SUBSCRIBED framework id = %q; want fw-1", got)
		}
		if got := c.FrameworkID(); got != "fw-1" {
			t.Errorf("FrameworkID() = %q; want fw-1", got)
		}
		if !c.Connected() {
			t.Error("Connected() = false after SUBSCRIBED; want true")
		}
		if got := c.Leader(); got != m.URL() {
			t.Errorf("Leader() = %q; want %q", got, m.URL())
		}

		// Events arrive in stream order.
		s1.send <- &mesos.Event{Type: mesos.EventOffers, Offers: &mesos.Offers{Offers: []mesos.Offer{{ID: mesos.ID{Value: "o1"}}}}}
		s1.send <- &mesos.Event{Type: mesos.EventRescind, Rescind: &mesos.Rescind{OfferID: mesos.ID{Value: "o1"}}}
		if got := events.next(t, mesos.EventOffers).Offers.Offers[0].ID.Value; got != "o1" {
			t.Errorf("offer id = %q; want o1", got)
		}
		events.next(t, mesos.EventRescind)

		close(s1.drop)
		s2 := m.nextStream(t)
		if s2.sub.FrameworkID == nil || s2.sub.FrameworkID.Value != "fw-1" {
			t.Errorf("re-SUBSCRIBE framework_id = %v; want fw-1", s2.sub.FrameworkID)
		}
		if id := s2.sub.Subscribe.FrameworkInfo.ID; id == nil || id.Value != "fw-1" {
			t.Errorf("re-SUBSCRIBE framework_info.id = %v; want fw-1", id)
		}
		events.next(t, mesos.EventSubscribed)
		waitFor(t, "Connected()", c.Connected)

		// Calls carry the new stream's id.
		if err := c.Revive(t.Context()); err != nil {
			t.Fatalf("Revive: %v", err)
		}
		if got := m.nextCall(t).header.Get("Mesos-Stream-Id"); got != s2.id {
			t.Errorf("Mesos-Stream-Id = %q; want %q", got, s2.id)
		}
	})
}

func TestFailoverFrameworkIDFromConfig(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeMaster(t)
		cfg := testConfig(m.URL())
		cfg.Framework.ID = &mesos.ID{Value: "persisted"}
		c, err := New(cfg, make(eventLog, 8), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.FrameworkID(); got != "persisted" {
			t.Errorf("FrameworkID() before Run = %q; want persisted", got)
		}
		start(t, cfg, make(eventLog, 8))
		s := m.nextStream(t)
		if s.sub.FrameworkID == nil || s.sub.FrameworkID.Value != "persisted" {
			t.Errorf("SUBSCRIBE framework_id = %v; want persisted", s.sub.FrameworkID)
		}
	})
}

func TestRedirectToLeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		leader := newFakeMaster(t)
		follower := newFakeMaster(t)
		follower.redirect = "//" + hostOf(leader.URL()) + schedulerPath
		events := make(eventLog, 64)
		c, _ := start(t, testConfig(follower.URL()), events)

		s1 := leader.nextStream(t)
		events.next(t, mesos.EventSubscribed)
		if got := c.Leader(); got != leader.URL() {
			t.Errorf("Leader() = %q; want %q", got, leader.URL())
		}
		if err := c.Decline(t.Context(), []mesos.ID{{Value: "o1"}}, nil); err != nil {
			t.Fatalf("Decline: %v", err)
		}
		if got := leader.nextCall(t); got.call.Type != mesos.CallDecline {
			t.Errorf("leader got %s; want DECLINE", got.call.Type)
		}

		// The remembered leader is tried first on re-subscription, so the
		// follower sees no second SUBSCRIBE.
		follower.mu.Lock()
		follower.redirect = ""
		follower.mu.Unlock()
		close(s1.drop)
		leader.nextStream(t)
		follower.noStream(t, 100*time.Millisecond)
	})
}

func TestNextMasterOnConnectionFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeMaster(t)
		events := make(eventLog, 8)
		c, _ := start(t, testConfig("http://dead.test:5050", m.URL()), events)
		m.nextStream(t)
		events.next(t, mesos.EventSubscribed)
		if got := c.Leader(); got != m.URL() {
			t.Errorf("Leader() = %q; want %q", got, m.URL())
		}
	})
}

func TestHeartbeatSilenceReconnects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeMaster(t)
		m.heartbeat = 0.02 // 20 ms; 5 misses = 100 ms
		events := make(eventLog, 256)
		cfg := testConfig(m.URL())
		c, _ := start(t, cfg, events)
		s1 := m.nextStream(t)
		events.next(t, mesos.EventSubscribed)

		// While heartbeats flow the stream stays up well past the allowance.
		m.noStream(t, 300*time.Millisecond)
		events.next(t, mesos.EventHeartbeat)

		// The fake clock makes the wait exact: the silence allowance
		// (100ms) counts from the last heartbeat, at most one interval
		// before this point, and a backoff of at most 20ms follows.
		m.silent.Store(true)
		silentAt := time.Now()
		s2 := m.nextStream(t)
		if waited := time.Since(silentAt); waited < 80*time.Millisecond || waited > 120*time.Millisecond {
			t.Errorf("reconnected %v after the heartbeats stopped; want between 80ms and 120ms", waited)
		}
		if s2.id == s1.id || s2.sub.FrameworkID == nil || s2.sub.FrameworkID.Value != "fw-1" {
			t.Errorf("re-SUBSCRIBE stream %s framework_id %v; want a new stream with fw-1", s2.id, s2.sub.FrameworkID)
		}
		waitFor(t, "Connected()", c.Connected)
	})
}

func TestSubscribeRetriesOn5xx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeMaster(t)
		m.subReplies = []reply{{http.StatusServiceUnavailable, "Master has not finished recovery"}, {http.StatusServiceUnavailable, "No leader elected"}}
		events := make(eventLog, 8)
		start(t, testConfig(m.URL()), events)
		m.nextStream(t)
		events.next(t, mesos.EventSubscribed)
	})
}

func TestSubscribeRefusedEndsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeMaster(t)
		m.subReplies = []reply{{http.StatusBadRequest, "Framework has been removed"}}
		_, r := start(t, testConfig(m.URL()), make(eventLog, 8))
		err := r.wait(t)
		var ce *CallError
		if !errors.As(err, &ce) {
			t.Fatalf("Run() = %v; want *CallError", err)
		}
		if ce.Code != http.StatusBadRequest || ce.Message != "Framework has been removed" || ce.Call != mesos.CallSubscribe {
			t.Errorf("Run() error = %+v; want SUBSCRIBE 400 \"Framework has been removed\"", ce)
		}
	})
}

func TestErrorEventGoesToHandlerAndRunRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeMaster(t)
		m.errorFirst = "Framework is not authorized"
		events := make(eventLog, 8)
		c, _ := start(t, testConfig(m.URL()), events)
		m.nextStream(t)
		if got := events.next(t, mesos.EventError).Error.Message; got != "Framework is not authorized" {
			t.Errorf("ERROR message = %q", got)
		}
		if c.Connected() {
			t.Error("Connected() = true after an ERROR-only stream")
		}
		m.nextStream(t)
		events.next(t, mesos.EventSubscribed)
	})
}

func TestHandlerCallsClientSynchronously(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeMaster(t)
		// The master writes to the stream while the DECLINE is in flight.
		m.onCall = func(fs *fakeStream, c *mesos.Call) {
			if c.Type == mesos.CallDecline {
				fs.send <- &mesos.Event{Type: mesos.EventRescind, Rescind: &mesos.Rescind{OfferID: c.Decline.OfferIDs[0]}}
			}
		}
		declined := make(chan error, 1)
		events := make(eventLog, 8)
		h := HandlerFunc(func(ctx context.Context, c *Client, ev *mesos.Event) {
			if ev.Type == mesos.EventOffers {
				declined <- c.Decline(ctx, []mesos.ID{ev.Offers.Offers[0].ID}, nil)
			}
			events <- ev
		})
		start(t, testConfig(m.URL()), h)
		s := m.nextStream(t)
		s.send <- &mesos.Event{Type: mesos.EventOffers, Offers: &mesos.Offers{Offers: []mesos.Offer{{ID: mesos.ID{Value: "o1"}}}}}
		select {
		case err := <-declined:
			if err != nil {
				t.Fatalf("Decline from handler: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Decline from handler did not return")
		}
		events.next(t, mesos.EventSubscribed)
		events.next(t, mesos.EventOffers)
		events.next(t, mesos.EventRescind)
	})
}

func TestAutoAcknowledge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeMaster(t)
		release := make(chan struct{})
		handled := make(chan string, 8)
		h := HandlerFunc(func(_ context.Context, _ *Client, ev *mesos.Event) {
			if ev.Type != mesos.EventUpdate {
				return
			}
			if ev.Update.Status.UUID != "" {
				<-release
			}
			handled <- ev.Update.Status.TaskID.Value
		})
		cfg := testConfig(m.URL())
		cfg.AutoAcknowledge = true
		start(t, cfg, h)
		// Run cannot return while the handler waits: release it at the
		// latest when the test ends.
		releaseOnce := sync.OnceFunc(func() { close(release) })
		t.Cleanup(releaseOnce)
		s := m.nextStream(t)
		agent := &mesos.ID{Value: "a1"}
		s.send <- &mesos.Event{Type: mesos.EventUpdate, Update: &mesos.Update{Status: mesos.TaskStatus{
			TaskID: mesos.ID{Value: "no-uuid"}, State: mesos.TaskRunning, AgentID: agent, Reason: mesos.ReasonReconciliation}}}
		s.send <- &mesos.Event{Type: mesos.EventUpdate, Update: &mesos.Update{Status: mesos.TaskStatus{
			TaskID: mesos.ID{Value: "t1"}, State: mesos.TaskRunning, AgentID: agent, UUID: "qttzEM1zvg+ekvEtW241BQ=="}}}

		// Neither the update without uuid nor the one still in the handler
		// may be acknowledged yet.
		m.noCall(t, 150*time.Millisecond)
		releaseOnce()
		got := m.nextCall(t)
		if got.call.Type != mesos.CallAcknowledge {
			t.Fatalf("call = %s; want ACKNOWLEDGE", got.call.Type)
		}
		want := mesos.Acknowledge{AgentID: *agent, TaskID: mesos.ID{Value: "t1"}, UUID: "qttzEM1zvg+ekvEtW241BQ=="}
		if *got.call.Acknowledge != want {
			t.Errorf("acknowledge = %+v; want %+v", *got.call.Acknowledge, want)
		}
		if tasks := []string{<-handled, <-handled}; !slices.Equal(tasks, []string{"no-uuid", "t1"}) {
			t.Errorf("handled %v; want [no-uuid t1]", tasks)
		}
	})
}

func TestSuppressedRolesSurviveResubscription(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeMaster(t)
		cfg := testConfig(m.URL())
		cfg.Framework.Roles = []string{"r1", "r2"}
		cfg.Framework.Capabilities = []mesos.Capability{{Type: mesos.CapMultiRole}}
		events := make(eventLog, 64)
		c, _ := start(t, cfg, events)
		s := m.nextStream(t)
		events.next(t, mesos.EventSubscribed)

		steps := []struct {
			name string
			call func() error
			want []string
		}{
			{"suppress r2", func() error { return c.Suppress(t.Context(), "r2") }, []string{"r2"}},
			{"suppress all", func() error { return c.Suppress(t.Context()) }, []string{"r2", "r1"}},
			{"revive r2", func() error { return c.Revive(t.Context(), "r2") }, []string{"r1"}},
			{"revive all", func() error { return c.Revive(t.Context()) }, nil},
		}
		for _, st := range steps {
			if err := st.call(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			m.nextCall(t)
			close(s.drop)
			s = m.nextStream(t)
			events.next(t, mesos.EventSubscribed)
			waitFor(t, "Connected()", c.Connected)
			if got := s.sub.Subscribe.SuppressedRoles; !slices.Equal(got, st.want) {
				t.Errorf("after %s: suppressed_roles = %v; want %v", st.name, got, st.want)
			}
		}
	})
}

func TestTeardownEndsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeMaster(t)
		events := make(eventLog, 8)
		c, r := start(t, testConfig(m.URL()), events)
		m.nextStream(t)
		events.next(t, mesos.EventSubscribed)
		if err := c.Teardown(t.Context()); err != nil {
			t.Fatalf("Teardown: %v", err)
		}
		if err := r.wait(t); err != nil {
			t.Errorf("Run() = %v after Teardown; want nil", err)
		}
		if err := c.Kill(t.Context(), "t", ""); !errors.Is(err, ErrNotSubscribed) {
			t.Errorf("Kill after Teardown = %v; want ErrNotSubscribed", err)
		}
		m.noStream(t, 50*time.Millisecond)
	})
}

func TestCallsBeforeSubscribed(t *testing.T) {
	c, err := New(testConfig("http://127.0.0.1:1"), make(eventLog), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Connected() || c.FrameworkID() != "" || c.Leader() != "" {
		t.Errorf("new client: Connected %v FrameworkID %q Leader %q; want false, \"\", \"\"", c.Connected(), c.FrameworkID(), c.Leader())
	}
	if err := c.Reconcile(t.Context(), nil); !errors.Is(err, ErrNotSubscribed) {
		t.Errorf("Reconcile() = %v; want ErrNotSubscribed", err)
	}
}

func TestRunCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeMaster(t)
		events := make(eventLog, 8)
		c, err := New(testConfig(m.URL()), events, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		m.nextStream(t)
		events.next(t, mesos.EventSubscribed)
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run() = %v; want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
		if c.Connected() {
			t.Error("Connected() = true after Run returned")
		}
	})
}

func TestLeaderURL(t *testing.T) {
	tests := []struct {
		name, from, loc, want string
	}{
		{"protocol-relative", "http://m1:5050", "//m2:5050/api/v1/scheduler", "http://m2:5050"},
		{"keeps https", "https://m1:5050", "//m2:5050/api/v1/scheduler", "https://m2:5050"},
		{"bare host:port", "http://m1:5050", "m2:5050", "http://m2:5050"},
		{"absolute", "http://m1:5050", "http://m2:5051/api/v1/scheduler", "http://m2:5051"},
		{"path prefix kept", "http://m1", "//lb/mesos/api/v1/scheduler", "http://lb/mesos"},
		{"same host", "http://m1:5050", "/api/v1/scheduler", "http://m1:5050"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := leaderURL(tt.from, tt.loc)
			if err != nil || got != tt.want {
				t.Errorf("leaderURL(%q, %q) = %q, %v; want %q", tt.from, tt.loc, got, err, tt.want)
			}
		})
	}
	if got, err := leaderURL("http://m1:5050", ""); err == nil {
		t.Errorf("leaderURL(\"\") = %q; want an error", got)
	}
}

func TestBackoff(t *testing.T) {
	c := &Client{cfg: Config{BackoffMax: 15 * time.Second}}
	tests := []struct {
		failures int
		max      time.Duration
	}{
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{5, 1600 * time.Millisecond},
		{9, 15 * time.Second},
		{1000, 15 * time.Second},
	}
	for _, tt := range tests {
		for range 50 {
			if got := c.backoff(tt.failures); got < tt.max/2 || got > tt.max {
				t.Fatalf("backoff(%d) = %v; want in [%v, %v]", tt.failures, got, tt.max/2, tt.max)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := testConfig("http://m1:5050")
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr bool
	}{
		{"valid", func(*Config) {}, false},
		{"no masters", func(c *Config) { c.Masters = nil }, true},
		{"detector instead of masters", func(c *Config) { c.Masters = nil; c.Detector = staticMasters{"http://m:1"} }, false},
		{"bad scheme", func(c *Config) { c.Masters = []string{"zk://h:2181/mesos"} }, true},
		{"no host", func(c *Config) { c.Masters = []string{"http://"} }, true},
		{"no name", func(c *Config) { c.Framework.Name = "" }, true},
		{"empty id", func(c *Config) { c.Framework.ID = &mesos.ID{} }, true},
		{"negative backoff", func(c *Config) { c.BackoffMax = -1 }, true},
		{"negative misses", func(c *Config) { c.HeartbeatMisses = -1 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.mutate(&cfg)
			if err := cfg.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate() = %v; want error %v", err, tt.wantErr)
			}
		})
	}
}

// switchDetector names one set of masters until set changes it, closing
// the channel Changes returned.
type switchDetector struct {
	mu      sync.Mutex
	masters []string
	ch      chan struct{}
}

func (d *switchDetector) Masters(context.Context) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.masters), nil
}

func (d *switchDetector) Changes() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ch
}

// Leader names the first of the masters, as a ZooKeeper detector names
// the leader it knows.
func (d *switchDetector) Leader() (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.masters) == 0 {
		return "", false
	}
	return d.masters[0], true
}

func (d *switchDetector) set(masters ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.masters = masters
	close(d.ch)
	d.ch = make(chan struct{})
}

// TestLeaderChangeAbandonsHungSubscribe: a SUBSCRIBE stuck on a leader
// that accepts connections but never answers (a dead host behind a
// proxy, a frozen process) is given up as soon as the detector names a
// new leader, instead of after the silence allowance (75 s here).
func TestLeaderChangeAbandonsHungSubscribe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The first leader accepts the SUBSCRIBE and never answers.
		accepted := make(chan struct{}, 4)
		hung := network.listen(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			accepted <- struct{}{}
			<-r.Context().Done()
		}))
		m := newFakeMaster(t)
		d := &switchDetector{masters: []string{hung}, ch: make(chan struct{})}
		cfg := testConfig()
		cfg.Detector = d
		events := make(eventLog, 8)
		start(t, cfg, events)
		select {
		case <-accepted:
		case <-time.After(5 * time.Second):
			t.Fatal("the client never connected to the first leader")
		}
		d.set(m.URL())
		m.nextStream(t)
		events.next(t, mesos.EventSubscribed)
	})
}

// TestDetectorChangeWithTheSameLeaderKeepsTheSubscribe: a change of the
// detector that still names the master being subscribed to (the leader
// becoming known while the attempt starts, or its record rewritten) must
// not abandon the SUBSCRIBE: the master may have registered the framework
// already, and a second SUBSCRIBE without its id would leave a ghost
// framework behind.
func TestDetectorChangeWithTheSameLeaderKeepsTheSubscribe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeMaster(t)
		arrived := make(chan struct{}, 4)
		release := make(chan struct{})
		target, _ := url.Parse(m.URL())
		proxy := httputil.NewSingleHostReverseProxy(target)
		proxy.Transport = network
		proxy.FlushInterval = -1
		front := network.listen(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
			<-release
			proxy.ServeHTTP(w, r)
		}))
		d := &switchDetector{masters: []string{front}, ch: make(chan struct{})}
		cfg := testConfig()
		cfg.Detector = d
		events := make(eventLog, 8)
		start(t, cfg, events)
		<-arrived
		d.set(front) // a change that names the same leader
		synctest.Wait()
		close(release)
		m.nextStream(t)
		events.next(t, mesos.EventSubscribed)
		synctest.Wait()
		if n := len(arrived); n != 0 {
			t.Errorf("%d more SUBSCRIBE(s) reached the master after the first; want none", n)
		}
	})
}

// Acknowledgements of different tasks are in flight at once: one the
// master is slow to answer does not hold up the others (one at a time, a
// framework with many tasks fell tens of seconds behind). Those of one
// task still reach the master in order.
func TestAcknowledgementsOverlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeMaster(t)
		otherArrived := make(chan struct{})
		var (
			mu       sync.Mutex
			order    []string // uuids of t2, as they arrived
			overlaps bool
		)
		m.onCall = func(_ *fakeStream, c *mesos.Call) {
			if c.Type != mesos.CallAcknowledge {
				return
			}
			switch c.Acknowledge.TaskID.Value {
			case "slow":
				select {
				case <-otherArrived:
					mu.Lock()
					overlaps = true
					mu.Unlock()
				case <-time.After(10 * time.Second):
				}
			case "t2":
				mu.Lock()
				order = append(order, c.Acknowledge.UUID)
				if len(order) == 1 {
					close(otherArrived)
				}
				mu.Unlock()
			}
		}
		cfg := testConfig(m.URL())
		cfg.AutoAcknowledge = true
		start(t, cfg, HandlerFunc(func(context.Context, *Client, *mesos.Event) {}))
		s := m.nextStream(t)
		agent := &mesos.ID{Value: "a1"}
		update := func(task, uuid string) {
			s.send <- &mesos.Event{Type: mesos.EventUpdate, Update: &mesos.Update{Status: mesos.TaskStatus{
				TaskID: mesos.ID{Value: task}, State: mesos.TaskRunning, AgentID: agent, UUID: uuid}}}
		}
		update("slow", "AAAAAAAAAAAAAAAAAAAAAA==")
		synctest.Wait()
		update("t2", "BBBBBBBBBBBBBBBBBBBBBA==")
		update("t2", "BBBBBBBBBBBBBBBBBBBBBQ==")
		for range 3 {
			if got := m.nextCall(t); got.call.Type != mesos.CallAcknowledge {
				t.Fatalf("call = %s; want ACKNOWLEDGE", got.call.Type)
			}
		}
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if !overlaps {
			t.Error("another task's acknowledgement waited for the slow one; want them in flight at once")
		}
		if !slices.Equal(order, []string{"BBBBBBBBBBBBBBBBBBBBBA==", "BBBBBBBBBBBBBBBBBBBBBQ=="}) {
			t.Errorf("t2's acknowledgements arrived as %v; want in order", order)
		}
	})
}
