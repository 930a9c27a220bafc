package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"corral/internal/testcluster"
	"corral/internal/testzk"
)

// zkSession is the jobs instances' ZooKeeper session timeout in these
// tests: how long a killed leader keeps the standby waiting.
const zkSession = 3 * time.Second

// instance is a `corral jobs --zk` process and its API.
type instance struct {
	*testcluster.Framework
	api
}

// jobsHealth is what GET /health says about leadership.
type jobsHealth struct {
	Leading   bool   `json:"leading"`
	Leader    bool   `json:"leader"`
	LeaderURL string `json:"leaderUrl"`
}

// health returns the instance's /health, ok false if it did not answer.
func (in instance) health() (h jobsHealth, ok bool) {
	resp, err := http.Get(in.URL + "/health")
	if err != nil {
		return h, false
	}
	defer resp.Body.Close()
	return h, resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&h) == nil
}

// startElected starts a cluster with one agent, a ZooKeeper, and n jobs
// instances on one database electing a leader under /corral/jobs.
func startElected(t *testing.T, n int) (*testcluster.Cluster, *testzk.Cluster, []instance) {
	t.Helper()
	z := testzk.Start(t, 1)
	c := testcluster.Start(t, testcluster.Options{Agents: 1, Resources: func(int) string { return "cpus:8;mem:8192;disk:100000;ports:[31000-31999]" }})
	var ins []instance
	for i := 0; i < n; i++ {
		f := c.StartFramework("jobs", "--zk", z.URL("/corral/jobs"), "--zk_session_timeout", zkSession.String())
		ins = append(ins, instance{f, api{t: t, url: f.URL}})
	}
	return c, z, ins
}

// leaderAmong waits until exactly one of ins leads and all the others
// name it as the leader, and returns it and the others. Every instance
// that answers must never see two leaders at once.
func leaderAmong(t *testing.T, d time.Duration, ins ...instance) (leader instance, others []instance) {
	t.Helper()
	testcluster.Eventually(t, d, func() bool {
		var leaders []instance
		hs := make([]jobsHealth, len(ins))
		for i, in := range ins {
			h, ok := in.health()
			if !ok {
				return false
			}
			if h.Leader != h.Leading {
				t.Errorf("%s /health = %+v; want leader and leading equal", in.URL, h)
			}
			hs[i] = h
			if h.Leader {
				leaders = append(leaders, in)
			}
		}
		if len(leaders) != 1 {
			return false
		}
		leader, others = leaders[0], nil
		for i, in := range ins {
			if hs[i].LeaderURL != leader.URL {
				return false
			}
			if in.URL != leader.URL {
				others = append(others, in)
			}
		}
		return true
	}, "exactly one leading jobs instance, known to all")
	return leader, others
}

// noneLeads waits until every instance answers /health with leader false.
func noneLeads(t *testing.T, d time.Duration, ins ...instance) {
	t.Helper()
	testcluster.Eventually(t, d, func() bool {
		for _, in := range ins {
			if h, ok := in.health(); !ok || h.Leader {
				return false
			}
		}
		return true
	}, "no jobs instance leading")
}

// tickJob runs every second; occurrences missed while no instance leads
// get one catch-up run inside its starting deadline.
var tickJob = map[string]any{"name": "tick", "command": "true", "schedule": "* * * * * *", "startingDeadlineSeconds": 30, "cpus": 0.01, "mem": 16}

// exactlyOnce checks the every-second job's records: one per occurrence,
// no gaps, and each either run (or on its way), MISSED with a reason, or
// SKIPPED once the test disabled the job.
func exactlyOnce(t *testing.T, rs []run) {
	t.Helper()
	noDuplicates(t, rs)
	everySecond(t, rs)
	for _, r := range rs {
		switch r.State {
		case "SUCCEEDED", "QUEUED", "STARTING", "RUNNING":
		case "MISSED":
			if r.Reason == "" {
				t.Errorf("run %d (%v) is MISSED without a reason", r.ID, deref(r.ScheduledFor))
			}
		case "SKIPPED":
			// The tests disable the job before they count: the
			// occurrences after that are recorded skipped.
			if r.Reason != "job is disabled" {
				t.Errorf("run %d (%v) is SKIPPED (%s); want it run once or recorded MISSED", r.ID, deref(r.ScheduledFor), r.Reason)
			}
		default:
			t.Errorf("run %d (%v) is %s (%s); want it run once or recorded MISSED", r.ID, deref(r.ScheduledFor), r.State, r.Reason)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<manual>"
	}
	return *s
}

// succeededAfter counts the runs that succeeded among those with an id
// above after.
func succeededAfter(rs []run, after int64) int {
	n := 0
	for _, r := range rs {
		if r.ID > after && r.State == "SUCCEEDED" {
			n++
		}
	}
	return n
}

// states lists the runs' ids and states.
func states(rs []run) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%d:%s ", r.ID, r.State)
	}
	return b.String()
}

func maxID(rs []run) int64 {
	var m int64
	for _, r := range rs {
		m = max(m, r.ID)
	}
	return m
}

// tasksOnce checks that the kernel launched each task of job at most once.
func tasksOnce(t *testing.T, c *testcluster.Cluster, job string) {
	t.Helper()
	seen := map[string]bool{}
	for _, fw := range c.State().Frameworks {
		for _, tk := range append(fw.Tasks, fw.CompletedTasks...) {
			if strings.Contains(tk.ID, ":"+job+":") {
				if seen[tk.ID] {
					t.Errorf("task %s launched twice", tk.ID)
				}
				seen[tk.ID] = true
			}
		}
	}
}

// TestZKStandbyForwardsAndTakesOver: two `corral jobs --zk` instances on
// one database and one master. One leads; writes through the standby
// reach it (a job created there runs, a running run stopped there ends
// KILLED); when the leader is killed the standby takes over and every
// occurrence of an every-second job is still recorded exactly once.
func TestZKStandbyForwardsAndTakesOver(t *testing.T) {
	c, _, ins := startElected(t, 2)
	leader, others := leaderAmong(t, 60*time.Second, ins...)
	standby := others[0]

	leader.must("POST", "/v1/jobs", tickJob, 201)
	standby.must("POST", "/v1/jobs", map[string]any{"name": "via-standby", "command": "true", "schedule": "R1/2030-01-01T00:00:00Z/PT1H", "cpus": 0.01, "mem": 16}, 201)
	leader.must("GET", "/v1/jobs/via-standby", nil, 200)
	standby.must("POST", "/v1/jobs/via-standby/run", nil, 201)
	waitRuns(t, leader.api, "via-standby", 60*time.Second, func(rs []run) bool { return count(rs, "SUCCEEDED") == 1 })

	standby.must("POST", "/v1/jobs", map[string]any{"name": "sleeper", "command": "sleep 600", "schedule": "R1/2030-01-01T00:00:00Z/PT1H", "cpus": 0.01, "mem": 16, "retries": 0}, 201)
	var sleeper run
	if err := json.Unmarshal(standby.must("POST", "/v1/jobs/sleeper/run", nil, 201), &sleeper); err != nil {
		t.Fatal(err)
	}
	waitRuns(t, standby.api, "sleeper", 60*time.Second, func(rs []run) bool { return len(rs) == 1 && rs[0].State == "RUNNING" })
	standby.must("POST", fmt.Sprintf("/v1/jobs/sleeper/runs/%d/stop", sleeper.ID), nil, 202)
	rs := waitRuns(t, standby.api, "sleeper", 60*time.Second, func(rs []run) bool { return len(rs) == 1 && rs[0].State == "KILLED" })
	if !strings.Contains(rs[0].Reason, "stopped through the API") {
		t.Errorf("sleeper run ended KILLED with reason %q; want it stopped through the API", rs[0].Reason)
	}

	before := waitRuns(t, standby.api, "tick", 60*time.Second, func(rs []run) bool { return count(rs, "SUCCEEDED") >= 3 })
	leader.Kill(syscall.SIGKILL)
	killed := time.Now()
	newLeader, _ := leaderAmong(t, zkSession+60*time.Second, standby)
	t.Logf("the standby took over %v after the leader was killed (ZooKeeper session timeout %v)", time.Since(killed).Round(time.Millisecond), zkSession)
	if newLeader.URL != standby.URL {
		t.Fatalf("leader after the kill = %s; want the standby %s", newLeader.URL, standby.URL)
	}

	// The every-second job runs again, and once the occurrences around
	// the takeover have all ended, each was recorded once.
	waitRuns(t, standby.api, "tick", 60*time.Second, func(rs []run) bool { return succeededAfter(rs, maxID(before)) >= 3 })
	standby.must("PUT", "/v1/jobs/tick", map[string]any{"name": "tick", "command": "true", "schedule": "* * * * * *", "disabled": true}, 200)
	rs = waitRuns(t, standby.api, "tick", 60*time.Second, func(rs []run) bool {
		return !slices.ContainsFunc(rs, func(r run) bool { return r.State == "QUEUED" || r.State == "STARTING" || r.State == "RUNNING" })
	})
	exactlyOnce(t, rs)
	t.Logf("tick: %d occurrences, %d succeeded, %d missed", len(rs), count(rs, "SUCCEEDED"), count(rs, "MISSED"))
	tasksOnce(t, c, "tick")
}

// TestZKOutageStopsLeading: while ZooKeeper is down no instance leads and
// nothing is launched; the occurrences of that time are recorded when a
// leader is back (one catch-up run, the rest MISSED), and the
// every-second job runs again.
func TestZKOutageStopsLeading(t *testing.T) {
	c, z, ins := startElected(t, 2)
	leader, _ := leaderAmong(t, 60*time.Second, ins...)
	leader.must("POST", "/v1/jobs", tickJob, 201)
	waitRuns(t, leader.api, "tick", 60*time.Second, func(rs []run) bool { return count(rs, "SUCCEEDED") >= 2 })

	z.Kill(0)
	noneLeads(t, zkSession+10*time.Second, ins...)
	// No instance schedules now: what the database holds stays as it is
	// (runs in flight keep their state until a leader hears from the
	// kernel again).
	down := ins[0].runs("tick")
	time.Sleep(zkSession)
	if before, after := states(down), states(ins[1].runs("tick")); after != before {
		t.Errorf("runs of tick changed while ZooKeeper was down:\nbefore %s\nafter  %s", before, after)
	}
	noneLeads(t, time.Second, ins...)

	z.Start(0)
	leader, _ = leaderAmong(t, 60*time.Second, ins...)
	waitRuns(t, leader.api, "tick", 60*time.Second, func(rs []run) bool { return succeededAfter(rs, maxID(down)) >= 2 })
	leader.must("PUT", "/v1/jobs/tick", map[string]any{"name": "tick", "command": "true", "schedule": "* * * * * *", "disabled": true}, 200)
	rs := waitRuns(t, leader.api, "tick", 60*time.Second, func(rs []run) bool {
		return !slices.ContainsFunc(rs, func(r run) bool { return r.State == "QUEUED" || r.State == "STARTING" || r.State == "RUNNING" })
	})
	exactlyOnce(t, rs)
	if count(rs, "MISSED") == 0 {
		t.Errorf("no occurrence recorded MISSED after %v without a leader: %+v", zkSession, rs)
	}
	t.Logf("tick: %d occurrences, %d succeeded, %d missed", len(rs), count(rs, "SUCCEEDED"), count(rs, "MISSED"))
	tasksOnce(t, c, "tick")
}
