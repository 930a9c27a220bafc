package sched

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"

	"corral/kernel/mesos"
)

// docFrameworkID is the framework id of the Mesos documentation examples
// the golden files in testdata/ follow.
const docFrameworkID = "12220-3440-12532-2345"

// jsonValue decodes b generically so that bodies compare by meaning, not
// by whitespace, key order or number formatting.
func jsonValue(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return v
}

func golden(t *testing.T, name string) any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return jsonValue(t, b)
}

func ptr[T any](v T) *T { return &v }

// subscribed starts a Client against a fake master that assigns the
// documentation's framework id and waits until it is subscribed.
func subscribed(t *testing.T, cfg Config) (*Client, *fakeMaster, *fakeStream) {
	t.Helper()
	m := newFakeMaster(t)
	m.assignID = docFrameworkID
	cfg.Masters = []string{m.URL()}
	events := make(eventLog, 64)
	c, _ := start(t, cfg, events)
	s := m.nextStream(t)
	events.next(t, mesos.EventSubscribed)
	waitFor(t, "Connected()", c.Connected)
	return c, m, s
}

func TestSubscribeBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		cfg.Framework = mesos.FrameworkInfo{
			User:            "foo",
			Name:            "Example HTTP Framework",
			Roles:           []string{"test1"},
			Capabilities:    []mesos.Capability{{Type: mesos.CapMultiRole}},
			FailoverTimeout: ptr(mesos.Float(604800)),
			Checkpoint:      ptr(true),
		}
		_, _, s := subscribed(t, cfg)
		b, err := json.Marshal(s.sub)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(golden(t, "subscribe.json"), jsonValue(t, b)); diff != "" {
			t.Errorf("SUBSCRIBE body mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestCallBodies(t *testing.T) {
	c, m, s := subscribed(t, testConfig())
	tests := []struct {
		name   string
		call   func(ctx context.Context) error
		golden string
	}{
		{"accept with launch", func(ctx context.Context) error {
			return c.Launch(ctx, []mesos.ID{{Value: "12220-3440-12532-O12"}}, []mesos.TaskInfo{{
				Name:    "web-1",
				TaskID:  mesos.ID{Value: "web-1"},
				AgentID: mesos.ID{Value: "12220-3440-12532-S1233"},
				Resources: []mesos.Resource{
					{Name: "cpus", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 1}},
					{Name: "mem", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 128}},
				},
				Command: &mesos.CommandInfo{Shell: ptr(true), Value: "sleep 1000"},
			}}, &mesos.Filters{RefuseSeconds: ptr(mesos.Float(5))})
		}, "accept_launch.json"},
		{"acknowledge", func(ctx context.Context) error {
			return c.Acknowledge(ctx, "12220-3440-12532-S1233", "web-1", "qttzEM1zvg+ekvEtW241BQ==")
		}, "acknowledge.json"},
		{"decline with filters", func(ctx context.Context) error {
			return c.Decline(ctx, []mesos.ID{{Value: "12220-3440-12532-O12"}, {Value: "12220-3440-12532-O13"}},
				&mesos.Filters{RefuseSeconds: ptr(mesos.Float(5))})
		}, "decline.json"},
		{"suppress", func(ctx context.Context) error { return c.Suppress(ctx, "r") }, "suppress.json"},
		{"revive", func(ctx context.Context) error { return c.Revive(ctx, "r") }, "revive.json"},
		{"kill", func(ctx context.Context) error { return c.Kill(ctx, "t", "a") }, "kill.json"},
		{"kill without agent", func(ctx context.Context) error { return c.Kill(ctx, "t", "") }, "kill_no_agent.json"},
		{"reconcile explicit", func(ctx context.Context) error {
			return c.Reconcile(ctx, []mesos.ReconcileTask{{TaskID: mesos.ID{Value: "t"}, AgentID: &mesos.ID{Value: "a"}}})
		}, "reconcile.json"},
		{"reconcile implicit", func(ctx context.Context) error { return c.Reconcile(ctx, nil) }, "reconcile_implicit.json"},
		{"message", func(ctx context.Context) error { return c.Message(ctx, "a", "e", []byte("hello")) }, "message.json"},
		{"update framework", func(ctx context.Context) error {
			return c.UpdateFramework(ctx, mesos.FrameworkInfo{
				User:         "foo",
				Name:         "Example HTTP Framework",
				Roles:        []string{"test1", "test2"},
				Capabilities: []mesos.Capability{{Type: mesos.CapMultiRole}},
			}, []string{"test2"})
		}, "update_framework.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(t.Context()); err != nil {
				t.Fatalf("call: %v", err)
			}
			got := m.nextCall(t)
			if ct := got.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q; want application/json", ct)
			}
			if sid := got.header.Get("Mesos-Stream-Id"); sid != s.id {
				t.Errorf("Mesos-Stream-Id = %q; want %q", sid, s.id)
			}
			if diff := cmp.Diff(golden(t, tt.golden), jsonValue(t, got.body)); diff != "" {
				t.Errorf("body mismatch (-want +got):\n%s", diff)
			}
		})
	}

	// Teardown last: it ends the subscription.
	if err := c.Teardown(t.Context()); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if diff := cmp.Diff(golden(t, "teardown.json"), jsonValue(t, m.nextCall(t).body)); diff != "" {
		t.Errorf("TEARDOWN body mismatch (-want +got):\n%s", diff)
	}
}

func TestCallError(t *testing.T) {
	c, m, _ := subscribed(t, testConfig())
	m.mu.Lock()
	m.callReply[mesos.CallKill] = reply{http.StatusBadRequest, "Framework cannot be found"}
	m.callReply[mesos.CallDecline] = reply{http.StatusForbidden, "Framework is not subscribed"}
	m.callReply[mesos.CallUpdateFramework] = reply{http.StatusForbidden, "Not authorized to update framework"}
	m.mu.Unlock()

	tests := []struct {
		name string
		call func(ctx context.Context) error
		want CallError
	}{
		{"400", func(ctx context.Context) error { return c.Kill(ctx, "t", "") },
			CallError{Call: mesos.CallKill, Master: m.URL(), Code: 400, Message: "Framework cannot be found"}},
		{"403", func(ctx context.Context) error { return c.Decline(ctx, []mesos.ID{{Value: "o"}}, nil) },
			CallError{Call: mesos.CallDecline, Master: m.URL(), Code: 403, Message: "Framework is not subscribed"}},
		{"403 on update framework", func(ctx context.Context) error {
			return c.UpdateFramework(ctx, mesos.FrameworkInfo{User: "foo", Name: "x"}, nil)
		}, CallError{Call: mesos.CallUpdateFramework, Master: m.URL(), Code: 403, Message: "Not authorized to update framework"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(t.Context())
			var ce *CallError
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v; want *CallError", err)
			}
			if *ce != tt.want {
				t.Errorf("error = %+v; want %+v", *ce, tt.want)
			}
			m.nextCall(t)
		})
	}
	// A failed UPDATE_FRAMEWORK leaves the subscription's FrameworkInfo
	// alone.
	c.mu.Lock()
	name := c.framework.Name
	c.mu.Unlock()
	if name != "test" {
		t.Errorf("framework name after failed UpdateFramework = %q; want test", name)
	}
}
