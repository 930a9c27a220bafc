package jobs

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"corral/frameworks/jobs/store"
	"corral/internal/events"
	"corral/internal/testzk"
)

func TestForwardTarget(t *testing.T) {
	const leader = "http://10.0.0.1:4400"
	for _, tc := range []struct {
		name         string
		method, path string
		forwarded    bool
		leader       string
		want         string
	}{
		{"native create", "POST", "/v1/jobs", false, leader, leader},
		{"native update", "PUT", "/v1/jobs/a", false, leader, leader},
		{"native delete", "DELETE", "/v1/jobs/a", false, leader, leader},
		{"stop run", "POST", "/v1/jobs/a/runs/7/stop", false, leader, leader},
		{"chronos upsert", "POST", "/v1/scheduler/iso8601", false, leader, leader},
		{"chronos kill", "DELETE", "/v1/scheduler/task/kill/a", false, leader, leader},
		{"unknown path under v1", "PATCH", "/v1/nothing", false, leader, leader},
		{"read", "GET", "/v1/jobs", false, leader, ""},
		{"head", "HEAD", "/v1/jobs", false, leader, ""},
		{"options", "OPTIONS", "/v1/jobs", false, leader, ""},
		{"events", "GET", "/v1/events", false, leader, ""},
		{"outside v1", "POST", "/health", false, leader, ""},
		{"v1 prefix only", "POST", "/v1", false, leader, ""},
		{"already forwarded", "POST", "/v1/jobs", true, leader, ""},
		{"no other leader", "POST", "/v1/jobs", false, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := forwardTarget(tc.method, tc.path, tc.forwarded, tc.leader); got != tc.want {
				t.Errorf("forwardTarget(%s, %s, %v, %q) = %q; want %q", tc.method, tc.path, tc.forwarded, tc.leader, got, tc.want)
			}
		})
	}
}

func TestParseMember(t *testing.T) {
	for _, tc := range []struct {
		name    string
		data    string
		want    member
		wantErr bool
	}{
		{"url and id", `{"url": "http://h:4400", "id": "x"}`, member{URL: "http://h:4400", ID: "x"}, false},
		{"unknown fields", `{"url": "http://h:4400", "id": "x", "v": 2}`, member{URL: "http://h:4400", ID: "x"}, false},
		{"no url", `{"id": "x"}`, member{}, true},
		{"not json", `http://h:4400`, member{}, true},
		{"empty", ``, member{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMember([]byte(tc.data))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseMember(%q) = %+v, %v; want %+v, error %v", tc.data, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// raw sends a request and returns the status and body, whatever they are.
func (s *server) raw(method, path, body string, headers ...string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequestWithContext(s.t.Context(), method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
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

// terminateLockHolder ends the database session that holds the jobs'
// leadership lock on db, as a database restart or a network cut would.
func terminateLockHolder(t *testing.T, db string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n)
	if err != nil || n != 1 {
		t.Fatalf("terminating the lock holder: %d sessions, %v; want 1", n, err)
	}
}

// TestElectionFencedByTheDatabaseLock runs two instances with an election
// in a real ZooKeeper on one database (no kernel: runs stay queued): the
// elected one leads only once it holds the database lock, a standby
// forwards writes to the leader (at most once), and losing the lock hands
// leadership over, each term with a fresh scheduler.
func TestElectionFencedByTheDatabaseLock(t *testing.T) {
	db := newDB(t)
	zk := testzk.Start(t, 1).URL("/corral/jobs")
	elected := func(c *Config) { c.ZK, c.ZKSessionTimeout = zk, 3*time.Second }

	// Another process holds the database lock: whoever is elected waits.
	st, err := store.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	held, ok, err := st.TryLead(t.Context())
	if err != nil || !ok {
		t.Fatalf("TryLead = %v, %v; want the lock", ok, err)
	}
	defer held.Release()

	a := startServerWith(t, db, elected)
	b := startServerWith(t, db, elected)
	eventually(t, "an instance is elected", func() bool { return a.svc.el.IsLeader() || b.svc.el.IsLeader() })
	first, other := a, b
	if b.svc.el.IsLeader() {
		first, other = b, a
	}
	eventually(t, "the standby sees who is elected", func() bool { _, u := other.health(); return u == first.base })
	if lead, u := first.health(); lead || u != "" {
		t.Errorf("elected instance without the lock: /health leader %v leaderUrl %q; want not leading, no leader known", lead, u)
	}
	if a.svc.Leading() || b.svc.Leading() {
		t.Fatal("an instance leads while another process holds the database lock")
	}
	// A write reaches the elected instance, which stores it; a run that
	// only a leader could stop is refused with 503 (retry).
	firstSub, otherSub := saved(t, first), saved(t, other)
	other.must(http.StatusCreated, "POST", "/v1/jobs", `{"name": "fenced", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H"}`)
	wantSaved(t, "fenced", firstSub, otherSub)
	// Running as far as the database knows; no task behind it, so a
	// leader that stops it ends it at once.
	running, _, err := st.InsertRun(t.Context(), store.Run{Job: "fenced", Trigger: store.TriggerManual, DedupKey: "manual:running", State: stateRunning, QueuedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	stop := "/v1/jobs/fenced/runs/" + strconv.FormatInt(running.ID, 10) + "/stop"
	if code, body := other.raw("POST", stop, ""); code != http.StatusServiceUnavailable || !strings.Contains(body, "no leading jobs instance known") {
		t.Errorf("POST %s while nobody leads = %d %s; want 503 no leading jobs instance known", stop, code, body)
	}

	held.Release()
	eventually(t, "the elected instance leads once the lock is free", first.svc.Leading)
	leader, standby := first, other
	if lead, u := leader.health(); !lead || u != leader.base {
		t.Errorf("leader /health = leader %v leaderUrl %q; want true, %s", lead, u, leader.base)
	}
	if lead, u := standby.health(); lead || u != leader.base {
		t.Errorf("standby /health = leader %v leaderUrl %q; want false, %s", lead, u, leader.base)
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
	standby.must(http.StatusCreated, "POST", "/v1/jobs", `{"name": "local", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H"}`, forwardedBy+": "+leader.base)
	wantSaved(t, "local", ss, ls)
	standby.must(http.StatusNoContent, "POST", "/v1/scheduler/iso8601", `{"name": "chronos", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H"}`)
	wantSaved(t, "chronos", ls, ss)
	// Runs are stopped through the standby: the running one, which only
	// the leader can stop, and a queued one.
	standby.must(http.StatusAccepted, "POST", stop, "")
	queued := int64(standby.must(http.StatusCreated, "POST", "/v1/jobs/fenced/run", "").object(t)["id"].(float64))
	standby.must(http.StatusAccepted, "POST", "/v1/jobs/fenced/runs/"+strconv.FormatInt(queued, 10)+"/stop", "")
	for _, id := range []int64{running.ID, queued} {
		if r, err := st.Run(t.Context(), id); err != nil || r.State != stateKilled {
			t.Errorf("run %d after stop through the standby = %s, %v; want KILLED", id, r.State, err)
		}
	}

	// Losing the database lock ends the term and gives the election up;
	// the other instance takes over, and then the first leads again, with
	// a new scheduler that sees what changed meanwhile.
	leader.svc.mu.Lock()
	term1 := leader.svc.leader
	leader.svc.mu.Unlock()
	terminateLockHolder(t, db)
	eventually(t, "the other instance takes over", standby.svc.Leading)
	if leader.svc.Leading() {
		t.Fatal("two instances lead")
	}
	select {
	case <-term1.done:
	default:
		t.Error("the first term's scheduler still runs")
	}
	standby.must(http.StatusOK, "DELETE", "/v1/jobs/local", "")
	leader.must(http.StatusCreated, "POST", "/v1/jobs", `{"name": "second", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H"}`)
	terminateLockHolder(t, db)
	eventually(t, "the first instance leads again", leader.svc.Leading)
	var names []string
	if !leader.svc.withLeader(t.Context(), func(c *core) {
		if c == term1 {
			t.Error("the second term reuses the first term's scheduler")
		}
		names = sortedKeys(c.jobs)
	}) {
		t.Fatal("no scheduler in the second term")
	}
	if want := []string{"chronos", "fenced", "forwarded", "second"}; strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("jobs in the second term's scheduler = %v; want %v", names, want)
	}
}
