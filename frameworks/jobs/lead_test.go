package jobs

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"corral/frameworks/jobs/store"
	"corral/internal/events"
	"corral/internal/lead"
	"corral/internal/testzk"
)

func TestForwardable(t *testing.T) {
	for _, tc := range []struct {
		name         string
		method, path string
		want         bool
	}{
		{"native create", "POST", "/v1/jobs", true},
		{"native update", "PUT", "/v1/jobs/a", true},
		{"native delete", "DELETE", "/v1/jobs/a", true},
		{"stop run", "POST", "/v1/jobs/a/runs/7/stop", true},
		{"chronos upsert", "POST", "/v1/scheduler/iso8601", true},
		{"chronos kill", "DELETE", "/v1/scheduler/task/kill/a", true},
		{"unknown path under v1", "PATCH", "/v1/nothing", true},
		{"read", "GET", "/v1/jobs", false},
		{"head", "HEAD", "/v1/jobs", false},
		{"options", "OPTIONS", "/v1/jobs", false},
		{"events", "GET", "/v1/events", false},
		{"outside v1", "POST", "/health", false},
		{"v1 prefix only", "POST", "/v1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := forwardable(tc.method, tc.path); got != tc.want {
				t.Errorf("forwardable(%s, %s) = %v; want %v", tc.method, tc.path, got, tc.want)
			}
		})
	}
}

// health is GET /health.
func (s *server) health() (leader bool, leaderURL string) {
	s.t.Helper()
	h := s.must(http.StatusOK, "GET", "/health", "").object(s.t)
	if h["leader"] != h["leading"] {
		s.t.Errorf("GET /health = %v; want leader and leading equal", h)
	}
	u, _ := h["leaderUrl"].(string)
	return h["leader"] == true, u
}

// saved subscribes to a service's job_saved events.
func saved(t *testing.T, s *server) *events.Subscription {
	sub := s.svc.bus.Subscribe([]string{"job_saved"}, 0)
	t.Cleanup(sub.Close)
	return sub
}

// wantSaved checks which of two subscriptions saw job's job_saved event:
// the handler publishes before it answers, so by then it is there.
func wantSaved(t *testing.T, job string, yes, no *events.Subscription) {
	t.Helper()
	got := func(sub *events.Subscription) bool {
		for {
			select {
			case ev := <-sub.C():
				if strings.Contains(string(ev.Data), `"job":"`+job+`"`) {
					return true
				}
			default:
				return false
			}
		}
	}
	if !got(yes) || got(no) {
		t.Errorf("job_saved for %s not published by the instance that should have handled the write (and only by it)", job)
	}
}

// leaderCore returns the scheduler core of srv's current term, nil if it
// does not lead.
func leaderCore(srv *server) *core {
	srv.svc.mu.Lock()
	defer srv.svc.mu.Unlock()
	return srv.svc.leader
}

// TestElectedTermsAreFenced runs two instances with an election in a real
// ZooKeeper on one database (no kernel: runs stay as they are): the
// elected one leads, a standby forwards writes to it (at most once), and
// when a later term begins behind the leader's back its next write is
// refused, its term ends and the other instance takes over with a fresh
// scheduler; then the same again the other way.
func TestElectedTermsAreFenced(t *testing.T) {
	db := newDB(t)
	zk := testzk.Start(t, 1).URL("/corral/jobs")
	elected := func(c *Config) { c.ZK, c.ZKSessionTimeout = zk, 3*time.Second }
	ctx := t.Context()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Runs the database says are running, with no task behind them: a
	// leader that stops one ends it at once, with a write of its term.
	if err := st.PutJob(ctx, "fenced", "v1", []byte(`{"name": "fenced", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H"}`), nil); err != nil {
		t.Fatal(err)
	}
	running := map[string]store.Run{}
	for _, name := range []string{"first", "second", "third"} {
		r, _, err := st.InsertRun(ctx, store.Run{Job: "fenced", Trigger: store.TriggerManual, DedupKey: "manual:" + name, State: stateRunning, QueuedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		running[name] = r
	}
	stop := func(r store.Run) string { return "/v1/jobs/fenced/runs/" + strconv.FormatInt(r.ID, 10) + "/stop" }
	state := func(r store.Run) store.State {
		t.Helper()
		got, err := st.Run(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.State
	}

	a := startServerWith(t, db, elected)
	b := startServerWith(t, db, elected)
	eventually(t, "an instance leads", func() bool { return a.svc.Leading() || b.svc.Leading() })
	leader, standby := a, b
	if b.svc.Leading() {
		leader, standby = b, a
	}
	eventually(t, "the standby sees who leads", func() bool { _, u := standby.health(); return u == leader.base })
	if lead, u := leader.health(); !lead || u != leader.base {
		t.Errorf("leader /health = leader %v leaderUrl %q; want true, %s", lead, u, leader.base)
	}
	if lead, _ := standby.health(); lead {
		t.Error("standby /health says it leads")
	}
	for s, want := range map[*server]string{leader: "corral_jobs_leader 1\n", standby: "corral_jobs_leader 0\n"} {
		if r := s.must(http.StatusOK, "GET", "/metrics", ""); !strings.Contains(string(r.body), want) {
			t.Errorf("%s %s = %s; want a line %q", s.base, r, r.body, want)
		}
	}
	if got := get(standby.must(http.StatusOK, "GET", "/v1/scheduler/leader", "").json(t), "leader"); got != strings.TrimPrefix(leader.base, "http://") {
		t.Errorf("GET /v1/scheduler/leader on the standby = %v; want %s", got, strings.TrimPrefix(leader.base, "http://"))
	}

	// Writes through the standby are forwarded, once.
	ls, ss := saved(t, leader), saved(t, standby)
	standby.must(http.StatusCreated, "POST", "/v1/jobs", `{"name": "forwarded", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H"}`)
	wantSaved(t, "forwarded", ls, ss)
	standby.must(http.StatusCreated, "POST", "/v1/jobs", `{"name": "local", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H"}`, lead.ForwardedBy+": "+leader.base)
	wantSaved(t, "local", ss, ls)
	standby.must(http.StatusNoContent, "POST", "/v1/scheduler/iso8601", `{"name": "chronos", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H"}`)
	wantSaved(t, "chronos", ls, ss)
	// Runs are stopped through the standby: a running one, which only the
	// leader can stop, and a queued one.
	standby.must(http.StatusAccepted, "POST", stop(running["first"]), "")
	queued := int64(standby.must(http.StatusCreated, "POST", "/v1/jobs/fenced/run", "").object(t)["id"].(float64))
	standby.must(http.StatusAccepted, "POST", "/v1/jobs/fenced/runs/"+strconv.FormatInt(queued, 10)+"/stop", "")
	for _, id := range []int64{running["first"].ID, queued} {
		if r, err := st.Run(ctx, id); err != nil || r.State != stateKilled {
			t.Errorf("run %d after stop through the standby = %s, %v; want KILLED", id, r.State, err)
		}
	}

	// A successor begins a term behind the leader's back (one ZooKeeper
	// elected while this leader could not hear of it). The leader's next
	// write is refused, its term ends, it gives leadership up, and the
	// other instance takes over.
	deposed := func(leader, standby *server, run store.Run) {
		t.Helper()
		term := leaderCore(leader)
		if _, err := st.Fenced().BeginTerm(ctx); err != nil {
			t.Fatal(err)
		}
		// The stop is the leader's next write, refused. Should another
		// write of its term have come first, the term is over already and,
		// until the other instance leads, the answer is 503 (retry).
		if r := standby.try("POST", stop(run), ""); r.code != http.StatusAccepted && r.code != http.StatusServiceUnavailable {
			t.Fatalf("%s = %d %s; want 202, or 503 while no instance leads", r, r.code, r.body)
		}
		eventually(t, "the deposed leader stops leading", func() bool { return !leader.svc.Leading() })
		select {
		case <-term.done:
		default:
			t.Error("the deposed term's scheduler still runs")
		}
		if got := state(run); got != stateRunning {
			t.Errorf("run %d after the deposed leader stopped it = %s; want RUNNING (its write refused)", run.ID, got)
		}
		eventually(t, "the other instance takes over", standby.svc.Leading)
		if leader.svc.Leading() {
			t.Fatal("two instances lead")
		}
		eventually(t, "the deposed instance sees who leads", func() bool { _, u := leader.health(); return u == standby.base })
		// Through the deposed instance, to the new leader, whose write
		// lands (a 503 while the deposed instance's view of the election
		// settles is to be retried, as it says).
		eventually(t, "the stop through the deposed instance lands", func() bool {
			r := leader.try("POST", stop(run), "")
			if r.code != http.StatusAccepted && r.code != http.StatusServiceUnavailable {
				t.Fatalf("%s = %d %s; want 202", r, r.code, r.body)
			}
			return r.code == http.StatusAccepted
		})
		if got := state(run); got != stateKilled {
			t.Errorf("run %d stopped by the new leader = %s; want KILLED", run.ID, got)
		}
	}
	term1 := leaderCore(leader)
	deposed(leader, standby, running["second"])
	standby.must(http.StatusOK, "DELETE", "/v1/jobs/local", "")
	leader.must(http.StatusCreated, "POST", "/v1/jobs", `{"name": "later", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H"}`)

	// And back: the first instance leads again, with a new scheduler that
	// sees what changed meanwhile.
	deposed(standby, leader, running["third"])
	var names []string
	if !leader.svc.withLeader(ctx, func(c *core) {
		if c == term1 {
			t.Error("the new term reuses the first term's scheduler")
		}
		names = sortedKeys(c.jobs)
	}) {
		t.Fatal("no scheduler in the new term")
	}
	if want := []string{"chronos", "fenced", "forwarded", "later"}; strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("jobs in the new term's scheduler = %v; want %v", names, want)
	}
}
