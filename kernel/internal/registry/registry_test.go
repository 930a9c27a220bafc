package registry

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"corral/internal/lead"
	"corral/internal/migrate"
	"corral/internal/testpg"
)

func TestMain(m *testing.M) { testpg.Main(m) }

// newStore returns a store on a freshly migrated database.
func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	db := testpg.URL(t)
	if err := migrate.Up(t.Context(), db); err != nil {
		t.Fatalf("migrate.Up: %v", err)
	}
	s, err := Open(t.Context(), db)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s, db
}

// sameJSON reports whether two JSON documents hold the same value.
func sameJSON(t *testing.T, a, b json.RawMessage) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("unmarshal %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return cmp.Equal(va, vb)
}

func agentByID(t *testing.T, s *Store, id string) (Agent, bool) {
	t.Helper()
	agents, err := s.Agents(t.Context())
	if err != nil {
		t.Fatalf("Agents: %v", err)
	}
	for _, a := range agents {
		if a.ID == id {
			return a, true
		}
	}
	return Agent{}, false
}

func TestAgentLifecycle(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	info := json.RawMessage(`{"hostname":"h1","resources":[{"name":"cpus","scalar":{"value":4}}]}`)

	if err := s.AdmitAgent(ctx, "a1", "h1", info); err != nil {
		t.Fatalf("AdmitAgent: %v", err)
	}
	a, ok := agentByID(t, s, "a1")
	if !ok {
		t.Fatal("admitted agent not listed")
	}
	if a.Hostname != "h1" || a.State != AgentAdmitted || a.UnreachableSince != nil || !sameJSON(t, a.Info, info) {
		t.Errorf("after admit: %+v", a)
	}
	if a.RegisteredAt.IsZero() || a.UpdatedAt.IsZero() {
		t.Errorf("after admit: zero timestamps %+v", a)
	}
	registered := a.RegisteredAt

	first := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.MarkAgentUnreachable(ctx, "a1", first); err != nil {
		t.Fatalf("MarkAgentUnreachable: %v", err)
	}
	if err := s.MarkAgentUnreachable(ctx, "a1", first.Add(time.Minute)); err != nil {
		t.Fatalf("MarkAgentUnreachable again: %v", err)
	}
	a, _ = agentByID(t, s, "a1")
	if a.State != AgentUnreachable || a.UnreachableSince == nil || !a.UnreachableSince.Equal(first) {
		t.Errorf("after marking unreachable twice: state %s since %v; want unreachable since %v", a.State, a.UnreachableSince, first)
	}

	info2 := json.RawMessage(`{"hostname":"h1b"}`)
	if err := s.AdmitAgent(ctx, "a1", "h1b", info2); err != nil {
		t.Fatalf("AdmitAgent again: %v", err)
	}
	a, _ = agentByID(t, s, "a1")
	if a.State != AgentAdmitted || a.UnreachableSince != nil || a.Hostname != "h1b" || !sameJSON(t, a.Info, info2) {
		t.Errorf("after re-admit: %+v", a)
	}
	if !a.RegisteredAt.Equal(registered) {
		t.Errorf("re-admit changed RegisteredAt from %v to %v", registered, a.RegisteredAt)
	}

	if err := s.MarkAgentGone(ctx, "a1"); err != nil {
		t.Fatalf("MarkAgentGone: %v", err)
	}
	if err := s.MarkAgentUnreachable(ctx, "a1", first); err != nil {
		t.Fatalf("MarkAgentUnreachable on gone: %v", err)
	}
	if a, _ = agentByID(t, s, "a1"); a.State != AgentGone {
		t.Errorf("gone agent marked unreachable: state = %s; want gone", a.State)
	}

	if err := s.RemoveAgent(ctx, "a1"); err != nil {
		t.Fatalf("RemoveAgent: %v", err)
	}
	if _, ok := agentByID(t, s, "a1"); ok {
		t.Error("removed agent still listed")
	}
	for name, err := range map[string]error{
		"RemoveAgent unknown":          s.RemoveAgent(ctx, "nope"),
		"MarkAgentGone unknown":        s.MarkAgentGone(ctx, "nope"),
		"MarkAgentUnreachable unknown": s.MarkAgentUnreachable(ctx, "nope", first),
	} {
		if err != nil {
			t.Errorf("%s = %v; want nil", name, err)
		}
	}
}

func TestAgentsOrdered(t *testing.T) {
	s, _ := newStore(t)
	for _, id := range []string{"c", "a", "b"} {
		if err := s.AdmitAgent(t.Context(), id, "h-"+id, json.RawMessage(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	agents, err := s.Agents(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range agents {
		ids = append(ids, a.ID)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, ids); diff != "" {
		t.Errorf("Agents IDs (-want +got):\n%s", diff)
	}
}

func TestFrameworkRoundTrip(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	reg := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
	disc := reg.Add(time.Hour)
	f := Framework{
		ID:              "fw1",
		Info:            json.RawMessage(`{"name":"services","roles":["web"]}`),
		State:           FrameworkActive,
		FailoverTimeout: 90*time.Second + 250*time.Millisecond,
		RegisteredAt:    reg,
	}
	if err := s.PutFramework(ctx, f); err != nil {
		t.Fatalf("PutFramework: %v", err)
	}

	f.State, f.DisconnectedAt = FrameworkDisconnected, &disc
	f.RegisteredAt = time.Time{} // zero keeps the stored time
	if err := s.PutFramework(ctx, f); err != nil {
		t.Fatalf("PutFramework update: %v", err)
	}
	fws, err := s.Frameworks(ctx)
	if err != nil {
		t.Fatalf("Frameworks: %v", err)
	}
	if len(fws) != 1 {
		t.Fatalf("Frameworks returned %d records; want 1", len(fws))
	}
	got := fws[0]
	if !sameJSON(t, got.Info, f.Info) {
		t.Errorf("Info = %s; want %s", got.Info, f.Info)
	}
	got.Info = f.Info
	want := f
	want.RegisteredAt = reg
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("framework (-want +got):\n%s", diff)
	}

	// A new record with a zero RegisteredAt gets the database's clock.
	before := time.Now().Add(-time.Minute)
	if err := s.PutFramework(ctx, Framework{ID: "fw2", Info: json.RawMessage(`{}`), State: FrameworkRemoved, RemovedAt: &disc}); err != nil {
		t.Fatal(err)
	}
	fws, err = s.Frameworks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(fws) != 2 || fws[1].ID != "fw2" || fws[1].RegisteredAt.Before(before) || fws[1].RemovedAt == nil || !fws[1].RemovedAt.Equal(disc) {
		t.Errorf("second framework = %+v", fws)
	}
}

func TestInvalidArguments(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	ok := json.RawMessage(`{}`)
	cases := []struct {
		name string
		err  error
	}{
		{"AdmitAgent empty id", s.AdmitAgent(ctx, "", "h", ok)},
		{"AdmitAgent bad info", s.AdmitAgent(ctx, "a", "h", json.RawMessage(`{`))},
		{"AdmitAgent nil info", s.AdmitAgent(ctx, "a", "h", nil)},
		{"PutFramework bad state", s.PutFramework(ctx, Framework{ID: "f", Info: ok, State: "running"})},
		{"PutFramework negative timeout", s.PutFramework(ctx, Framework{ID: "f", Info: ok, State: FrameworkActive, FailoverTimeout: -1})},
		{"PutFramework empty id", s.PutFramework(ctx, Framework{Info: ok, State: FrameworkActive})},
		{"SetWeight zero", s.SetWeight(ctx, "r", 0)},
		{"SetWeight negative", s.SetWeight(ctx, "r", -1)},
		{"SetWeight NaN", s.SetWeight(ctx, "r", math.NaN())},
		{"SetWeight Inf", s.SetWeight(ctx, "r", math.Inf(1))},
		{"SetWeight empty role", s.SetWeight(ctx, "", 1)},
		{"SetMaster bad info", s.SetMaster(ctx, json.RawMessage(`nope`), time.Now())},
	}
	for _, c := range cases {
		if !errors.Is(c.err, ErrInvalid) {
			t.Errorf("%s: err = %v; want ErrInvalid", c.name, c.err)
		}
	}
}

func TestWeights(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	got, err := s.Weights(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("Weights on empty registry = %v, %v; want empty", got, err)
	}
	for _, w := range []struct {
		role string
		w    float64
	}{{"web", 2}, {"batch", 0.5}, {"web", 3}} {
		if err := s.SetWeight(ctx, w.role, w.w); err != nil {
			t.Fatalf("SetWeight(%s, %v): %v", w.role, w.w, err)
		}
	}
	got, err = s.Weights(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]float64{"web": 3, "batch": 0.5}, got); diff != "" {
		t.Errorf("Weights (-want +got):\n%s", diff)
	}
}

func TestMaster(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	if _, _, err := s.Master(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Master on empty registry: err = %v; want ErrNotFound", err)
	}
	t1 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	for i, info := range []json.RawMessage{json.RawMessage(`{"id":"m1"}`), json.RawMessage(`{"id":"m2","port":5050}`)} {
		at := t1.Add(time.Duration(i) * time.Hour)
		if err := s.SetMaster(ctx, info, at); err != nil {
			t.Fatalf("SetMaster: %v", err)
		}
		got, gotAt, err := s.Master(ctx)
		if err != nil {
			t.Fatalf("Master: %v", err)
		}
		if !sameJSON(t, got, info) || !gotAt.Equal(at) {
			t.Errorf("Master() = %s, %v; want %s, %v", got, gotAt, info, at)
		}
	}
}

func TestOpenIsLazy(t *testing.T) {
	// Nothing listens on port 1: Open must still succeed, Ping must fail.
	s, err := Open(t.Context(), "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatalf("Open with an unreachable database: %v", err)
	}
	defer s.Close()
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping to an unreachable database = nil; want an error")
	}
	if _, err := s.Agents(t.Context()); err == nil {
		t.Error("Agents on an unreachable database = nil error")
	}

	if _, err := Open(t.Context(), "postgres://%zz"); err == nil {
		t.Error("Open with a malformed URL = nil error")
	}
}

func TestSurvivesPostgresRestart(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	if err := s.AdmitAgent(ctx, "a1", "h1", json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	testpg.Stop(t)
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping while postgres is stopped = nil; want an error")
	}
	if err := s.AdmitAgent(ctx, "a2", "h2", json.RawMessage(`{}`)); err == nil {
		t.Error("AdmitAgent while postgres is stopped = nil; want an error")
	}
	testpg.Start(t)

	// The pool may hand out connections broken by the restart once each;
	// a caller retries.
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = s.AdmitAgent(ctx, "a2", "h2", json.RawMessage(`{}`)); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("AdmitAgent after restart: %v", err)
	}
	agents, err := s.Agents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(agents) != 2 {
		t.Errorf("after restart: %d agents; want 2", len(agents))
	}
}

func TestCanceledContext(t *testing.T) {
	s, _ := newStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Agents(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Agents(canceled ctx) err = %v; want context.Canceled", err)
	}
}

// A master that began a term fences off the writes of every earlier one.
func TestTermsFenceEarlierMasters(t *testing.T) {
	ctx := t.Context()
	old, db := newStore(t)
	next, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(next.Close)
	info := json.RawMessage(`{"hostname":"h"}`)

	e1, err := old.BeginTerm(ctx)
	if err != nil {
		t.Fatal(err)
	}
	term, stop := old.Fence().Context(ctx)
	defer stop()
	if err := old.AdmitAgent(ctx, "a1", "h", info); err != nil {
		t.Fatalf("write in the current term: %v", err)
	}
	e2, err := next.BeginTerm(ctx)
	if err != nil || e2 <= e1 {
		t.Fatalf("BeginTerm = %d, %v; want an epoch above %d", e2, err, e1)
	}
	for name, write := range map[string]func(*Store) error{
		"AdmitAgent":           func(s *Store) error { return s.AdmitAgent(ctx, "a2", "h", info) },
		"MarkAgentUnreachable": func(s *Store) error { return s.MarkAgentUnreachable(ctx, "a1", time.Now()) },
		"MarkAgentGone":        func(s *Store) error { return s.MarkAgentGone(ctx, "a1") },
		"RemoveAgent":          func(s *Store) error { return s.RemoveAgent(ctx, "a1") },
		"SetWeight":            func(s *Store) error { return s.SetWeight(ctx, "r", 2) },
		"SetMaster":            func(s *Store) error { return s.SetMaster(ctx, info, time.Now()) },
	} {
		err := write(old)
		if !errors.Is(err, lead.ErrFenced) || !Permanent(err) {
			t.Errorf("%s by the deposed master = %v; want a permanent lead.ErrFenced", name, err)
		}
	}
	if cause := context.Cause(term); !errors.Is(cause, lead.ErrFenced) {
		t.Errorf("the deposed master's term context: cause %v; want it ended by lead.ErrFenced", cause)
	}
	agents, err := next.Agents(ctx)
	if err != nil || len(agents) != 1 || agents[0].ID != "a1" || agents[0].State != "admitted" {
		t.Fatalf("agents after fenced writes = %+v, %v; want only a1, admitted", agents, err)
	}
	if err := next.MarkAgentGone(ctx, "a1"); err != nil {
		t.Errorf("write in the new term: %v", err)
	}
}

// TestAgentDrain: an agent's deactivation and drain are recorded, kept
// across re-admission, and cleared.
func TestAgentDrain(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	if err := s.AdmitAgent(ctx, "a1", "h1", json.RawMessage(`{"hostname":"h1"}`)); err != nil {
		t.Fatal(err)
	}
	if a, _ := agentByID(t, s, "a1"); a.Deactivated || a.Drain != nil {
		t.Errorf("a new agent: %+v", a)
	}
	drain := json.RawMessage(`{"state":"DRAINING","mark_gone":true}`)
	if err := s.SetAgentDrain(ctx, "a1", true, drain); err != nil {
		t.Fatal(err)
	}
	if err := s.AdmitAgent(ctx, "a1", "h1", json.RawMessage(`{"hostname":"h1"}`)); err != nil {
		t.Fatal(err)
	}
	if a, _ := agentByID(t, s, "a1"); !a.Deactivated || !sameJSON(t, a.Drain, drain) {
		t.Errorf("after drain and re-admission: %+v", a)
	}
	if err := s.SetAgentDrain(ctx, "a1", false, nil); err != nil {
		t.Fatal(err)
	}
	if a, _ := agentByID(t, s, "a1"); a.Deactivated || a.Drain != nil {
		t.Errorf("after clearing: %+v", a)
	}
	if err := s.SetAgentDrain(ctx, "nope", true, nil); err != nil {
		t.Errorf("an unknown agent: %v", err)
	}
}

func TestQuotas(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	if err := s.SetQuota(ctx, "dev", Quota{Guarantees: map[string]float64{"cpus": 2}, Limits: map[string]float64{"cpus": 10, "mem": 2048}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetQuota(ctx, "ops", Quota{Limits: map[string]float64{"gpus": 0}}); err != nil {
		t.Fatal(err)
	}
	qs, err := s.Quotas(ctx)
	if err != nil || len(qs) != 2 || qs["dev"].Limits["mem"] != 2048 || qs["dev"].Guarantees["cpus"] != 2 || len(qs["ops"].Limits) != 1 {
		t.Fatalf("Quotas() = %+v, %v", qs, err)
	}
	if err := s.SetQuota(ctx, "dev", Quota{}); err != nil {
		t.Fatal(err)
	}
	if qs, _ := s.Quotas(ctx); len(qs) != 1 {
		t.Errorf("after removing dev's quota: %+v", qs)
	}
}
