package sched

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"corral/kernel/mesos"
)

// TestRemovedEndsRunForGood: however the master says the framework was
// removed, Run ends with a *RemovedError, Status reports it, and the
// Client never sends SUBSCRIBE with the dead id again, not even from a
// new Run.
func TestRemovedEndsRunForGood(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(m *fakeMaster)
		events []mesos.EventType // what the handler gets
	}{
		{"ERROR event on the stream, as Mesos says it", func(m *fakeMaster) { m.errorFirst = "Framework has been removed" }, []mesos.EventType{mesos.EventError}},
		{"lone ERROR without a stream, as corral's master says it", func(m *fakeMaster) { m.refuseWith = "Framework has been removed" }, nil},
		{"SUBSCRIBE refused with 400", func(m *fakeMaster) {
			m.subReplies = []reply{{http.StatusBadRequest, "Framework has been removed"}}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := newFakeMaster(t)
				tt.setup(m)
				cfg := testConfig(m.URL())
				cfg.Framework.ID = &mesos.ID{Value: "fw-1"}
				events := make(eventLog, 8)
				c, r := start(t, cfg, events)
				err := r.wait(t)
				var re *RemovedError
				if !errors.Is(err, ErrRemoved) || !errors.As(err, &re) {
					t.Fatalf("Run() = %v; want a *RemovedError", err)
				}
				if re.FrameworkID != "fw-1" || re.Message != "Framework has been removed" || re.Master != m.URL() {
					t.Errorf("Run() = %+v; want fw-1 removed by %s saying \"Framework has been removed\"", re, m.URL())
				}
				for _, want := range tt.events {
					events.next(t, want)
				}
				st := c.Status()
				if st.State != StateRemoved || st.Removed != re {
					t.Errorf("Status() = %+v; want StateRemoved with Run's error", st)
				}
				if ok, reason := st.Check(time.Now()); ok || !strings.Contains(reason, "fw-1 was removed") {
					t.Errorf("Status().Check() = %v, %q; want unsound, naming fw-1 removed", ok, reason)
				}
				if tt.events != nil {
					m.nextStream(t) // the stream that carried the ERROR
				}
				sent := m.subscribes.Load()
				m.noStream(t, time.Minute)
				if err := c.Run(t.Context()); !errors.Is(err, ErrRemoved) {
					t.Errorf("Run() again = %v; want ErrRemoved at once", err)
				}
				if got := m.subscribes.Load(); got != sent {
					t.Errorf("%d SUBSCRIBE(s) after the removal; want none", got-sent)
				}
			})
		})
	}
}

// TestOtherRefusalsAreRetried: an ERROR that does not say the framework
// was removed, with or without a stream, is no reason to give up.
func TestOtherRefusalsAreRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeMaster(t)
		m.refuseWith = "Framework is not authorized"
		events := make(eventLog, 8)
		c, _ := start(t, testConfig(m.URL()), events)
		waitFor(t, "two refused SUBSCRIBEs", func() bool { return m.subscribes.Load() >= 2 })
		st := c.Status()
		if st.State != StateDisconnected || st.LastError == nil || !strings.Contains(st.LastError.Error(), "Framework is not authorized") {
			t.Errorf("Status() = %+v; want disconnected with the master's refusal as LastError", st)
		}
		m.mu.Lock()
		m.refuseWith = ""
		m.mu.Unlock()
		m.nextStream(t)
		events.next(t, mesos.EventSubscribed)
	})
}

// TestStatusFollowsTheConnection: Status says disconnected from New until
// SUBSCRIBED, subscribed until the stream ends, then disconnected since
// then with the reason; Check forgives that for two heartbeat intervals.
func TestStatusFollowsTheConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeMaster(t)
		m.heartbeat = 1
		created := time.Now()
		events := make(eventLog, 64)
		c, err := New(testConfig(m.URL()), events, nil)
		if err != nil {
			t.Fatal(err)
		}
		st := c.Status()
		if st.State != StateDisconnected || !st.Since.Equal(created) || !st.LastSubscribed.IsZero() || st.Heartbeat != defaultHeartbeat {
			t.Errorf("Status() before Run = %+v; want disconnected since New, never subscribed, the default heartbeat", st)
		}

		advance(time.Second)
		runUntilEnd(t, c)
		s := m.nextStream(t)
		events.next(t, mesos.EventSubscribed)
		st = c.Status()
		if st.State != StateSubscribed || st.FrameworkID != "fw-1" || st.Heartbeat != time.Second || st.LastError != nil ||
			!st.Since.Equal(st.LastSubscribed) || !st.Since.After(created) {
			t.Errorf("Status() after SUBSCRIBED = %+v; want subscribed since then as fw-1, heartbeat 1s", st)
		}
		if ok, reason := st.Check(st.Since.Add(time.Hour)); !ok {
			t.Errorf("Check() while subscribed = false, %q; want true", reason)
		}

		// The master goes away: the stream ends and no SUBSCRIBE succeeds.
		subscribed := st.Since
		advance(time.Second)
		m.setNoLeader(true)
		close(s.drop)
		waitFor(t, "disconnected", func() bool { return c.Status().State == StateDisconnected })
		advance(time.Second)
		st = c.Status()
		if !st.Since.After(subscribed) || !st.LastSubscribed.Equal(subscribed) || st.LastError == nil ||
			!strings.Contains(st.LastError.Error(), "No leader elected") {
			t.Errorf("Status() after the stream ended = %+v; want disconnected since then, the last refusal as LastError", st)
		}
		if st.Grace() != 2*time.Second {
			t.Errorf("Grace() = %v; want 2 heartbeat intervals (2s)", st.Grace())
		}
		if ok, reason := st.Check(st.Since.Add(st.Grace())); !ok {
			t.Errorf("Check() at the end of the grace = false, %q; want true", reason)
		}
		ok, reason := st.Check(st.Since.Add(st.Grace() + time.Second))
		if ok || !strings.Contains(reason, "not subscribed to a master for 3s") || !strings.Contains(reason, "No leader elected") {
			t.Errorf("Check() past the grace = %v, %q; want false, how long and the last error", ok, reason)
		}

		m.setNoLeader(false)
		m.nextStream(t)
		events.next(t, mesos.EventSubscribed)
		waitFor(t, "subscribed again", func() bool { return c.Status().State == StateSubscribed })
		if st := c.Status(); st.LastError != nil {
			t.Errorf("Status().LastError after SUBSCRIBED = %v; want nil", st.LastError)
		}
	})
}

// runUntilEnd runs an existing Client until the test ends.
func runUntilEnd(t *testing.T, c *Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		_ = c.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func TestTeardownReportsRemoved(t *testing.T) {
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
		st := c.Status()
		if st.State != StateRemoved || st.Removed == nil || st.Removed.Master != "" {
			t.Errorf("Status() after Teardown = %+v; want removed by this scheduler", st)
		}
		if ok, reason := st.Check(time.Now()); ok || !strings.Contains(reason, "torn down by this scheduler") {
			t.Errorf("Check() after Teardown = %v, %q; want unsound, torn down by this scheduler", ok, reason)
		}
	})
}

func TestStatusCheck(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	removed := &RemovedError{FrameworkID: "fw-9", Master: "http://m1:5050", Message: "Framework has been removed"}
	tests := []struct {
		name       string
		st         Status
		now        time.Time
		ok         bool
		wantReason []string
	}{
		{"subscribed long ago", Status{State: StateSubscribed, Since: t0, Heartbeat: 15 * time.Second}, t0.Add(24 * time.Hour), true, nil},
		{"starting, within the grace", Status{State: StateDisconnected, Since: t0, Heartbeat: 15 * time.Second}, t0.Add(30 * time.Second), true, nil},
		{"starting, past the grace", Status{State: StateDisconnected, Since: t0, Heartbeat: 15 * time.Second, LastError: errors.New("dial tcp: connection refused")},
			t0.Add(31 * time.Second), false, []string{"since start-up 31s ago", "grace 30s", "connection refused"}},
		{"reconnecting, within the grace", Status{State: StateDisconnected, Since: t0, LastSubscribed: t0.Add(-time.Hour), Heartbeat: time.Second}, t0.Add(2 * time.Second), true, nil},
		{"reconnecting, past the grace", Status{State: StateDisconnected, Since: t0, LastSubscribed: t0.Add(-time.Hour), Heartbeat: time.Second},
			t0.Add(2500 * time.Millisecond), false, []string{"not subscribed to a master for 2.5s", "grace 2s"}},
		{"removed by the master", Status{State: StateRemoved, Since: t0, Heartbeat: 15 * time.Second, Removed: removed}, t0, false,
			[]string{"fw-9 was removed by the master http://m1:5050", `"Framework has been removed"`, "never accepts this id again"}},
		{"removed, just now, while subscribed a moment ago", Status{State: StateRemoved, Since: t0, LastSubscribed: t0, Heartbeat: time.Hour, Removed: removed}, t0, false, []string{"fw-9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, reason := tt.st.Check(tt.now)
			if ok != tt.ok {
				t.Errorf("Check(%v) = %v, %q; want %v", tt.now.Sub(t0), ok, reason, tt.ok)
			}
			if tt.ok && reason != "" {
				t.Errorf("Check(%v) = true, %q; want no reason", tt.now.Sub(t0), reason)
			}
			for _, w := range tt.wantReason {
				if !strings.Contains(reason, w) {
					t.Errorf("Check(%v) reason = %q; want it to contain %q", tt.now.Sub(t0), reason, w)
				}
			}
		})
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{StateDisconnected: "disconnected", StateSubscribed: "subscribed", StateRemoved: "removed", State(9): "State(9)"} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q; want %q", int(s), got, want)
		}
	}
}

func TestStatusReport(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	st := Status{State: StateDisconnected, Since: t0, LastSubscribed: t0.Add(-time.Minute), FrameworkID: "fw-1",
		Heartbeat: 15 * time.Second, LastError: errors.New("stream ended: EOF")}
	got := st.Report(t0.Add(time.Minute))
	last := t0.Add(-time.Minute)
	want := Report{Sound: false, Reason: "not subscribed to a master for 1m0s (grace 30s); last error: stream ended: EOF",
		State: StateDisconnected, FrameworkID: "fw-1", Since: t0, LastSubscribed: &last, Grace: "30s", LastError: "stream ended: EOF"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Report() mismatch (-want +got):\n%s", diff)
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `{"reason":"not subscribed to a master for 1m0s (grace 30s); last error: stream ended: EOF","state":"disconnected","id":"fw-1",` +
		`"since":"2024-05-01T12:00:00Z","lastSubscribed":"2024-05-01T11:59:00Z","grace":"30s","lastError":"stream ended: EOF"}`
	if string(b) != wantJSON {
		t.Errorf("json.Marshal(Report()) = %s; want %s", b, wantJSON)
	}
}
