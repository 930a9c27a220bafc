package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"corral/internal/apiclient"
	"corral/internal/testcluster"
)

func TestMain(m *testing.M) { testcluster.Main(m) }

// api is the jobs API of a test cluster, read through apiclient.
type api struct {
	t   testing.TB
	url string
}

// client is the typed client of the jobs API.
func (a api) client() apiclient.Jobs { return apiclient.NewJobs(a.url, nil) }

// do sends a request and returns the status and body of any answer; only
// a failed connection fails the test.
func (a api) do(method, path string, body any) (int, []byte) {
	a.t.Helper()
	resp, err := a.client().Do(context.Background(), method, path, body)
	var ae *apiclient.Error
	switch {
	case err == nil:
		return resp.Status, resp.Body
	case errors.As(err, &ae):
		return ae.Status, ae.Body
	}
	a.t.Fatalf("%s %s: %v", method, path, err)
	return 0, nil
}

func (a api) must(method, path string, body any, want int) []byte {
	a.t.Helper()
	code, out := a.do(method, path, body)
	if code != want {
		a.t.Fatalf("%s %s = %d %s; want %d", method, path, code, out, want)
	}
	return out
}

type run = apiclient.Run

// runs returns the job's runs, oldest first.
func (a api) runs(job string) []run {
	a.t.Helper()
	rs, err := a.client().Runs(context.Background(), job, 1000)
	if err != nil {
		a.t.Fatalf("GET the runs of %s: %v", job, err)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].ID < rs[j].ID })
	return rs
}

func count(rs []run, state string) int {
	n := 0
	for _, r := range rs {
		if r.State == state {
			n++
		}
	}
	return n
}

func startJobs(t *testing.T, agents int) (*testcluster.Cluster, *testcluster.Framework, api) {
	t.Helper()
	c := testcluster.Start(t, testcluster.Options{Agents: agents, Resources: func(i int) string {
		return fmt.Sprintf("cpus:8;mem:8192;disk:100000;ports:[%d-%d]", 31000+i*1000, 31999+i*1000)
	}})
	f := c.StartFramework("jobs")
	return c, f, api{t: t, url: f.URL}
}

// noDuplicates checks that no scheduled time has two records.
func noDuplicates(t *testing.T, rs []run) {
	t.Helper()
	seen := map[string]int64{}
	for _, r := range rs {
		if r.ScheduledFor == nil {
			continue
		}
		if prev, ok := seen[*r.ScheduledFor]; ok {
			t.Errorf("occurrence %s recorded twice: runs %d and %d", *r.ScheduledFor, prev, r.ID)
		}
		seen[*r.ScheduledFor] = r.ID
	}
}

// everySecond checks that scheduled records cover consecutive seconds.
func everySecond(t *testing.T, rs []run) {
	t.Helper()
	var ts []time.Time
	for _, r := range rs {
		if r.ScheduledFor != nil {
			tm, _ := time.Parse(time.RFC3339Nano, *r.ScheduledFor)
			ts = append(ts, tm)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	for i := 1; i < len(ts); i++ {
		if d := ts[i].Sub(ts[i-1]); d != time.Second {
			t.Errorf("gap between occurrences %s and %s: %v", ts[i-1].Format(time.RFC3339), ts[i].Format(time.RFC3339), d)
		}
	}
}

func TestEverySecond(t *testing.T) {
	_, _, a := startJobs(t, 1)
	a.must("POST", "/v1/jobs", map[string]any{"name": "tick", "command": "true", "schedule": "* * * * * *", "cpus": 0.01, "mem": 16}, 201)
	waitRuns(t, a, "tick", 30*time.Second, func(rs []run) bool { return count(rs, "SUCCEEDED") >= 4 })
	a.must("PUT", "/v1/jobs/tick", map[string]any{"name": "tick", "command": "true", "schedule": "* * * * * *", "disabled": true}, 200)
	// The runs recorded before the job was disabled end.
	rs := waitRuns(t, a, "tick", 30*time.Second, func(rs []run) bool { return active(rs) == 0 })
	noDuplicates(t, rs)
	everySecond(t, rs)
	for _, r := range rs {
		if r.State != "SUCCEEDED" {
			continue
		}
		if u, err := url.Parse(r.Sandbox); err != nil || u.Hostname() == "" || u.Port() == "" || u.Path != "/files/browse" {
			t.Errorf("run %d has no usable sandbox link: %q", r.ID, r.Sandbox)
		}
	}
}

// active counts the runs that have not ended.
func active(rs []run) int {
	n := 0
	for _, r := range rs {
		switch r.State {
		case "QUEUED", "STARTING", "RUNNING":
			n++
		}
	}
	return n
}

func waitRuns(t *testing.T, a api, job string, d time.Duration, cond func([]run) bool) []run {
	t.Helper()
	var rs []run
	testcluster.Eventually(t, d, func() bool { rs = a.runs(job); return cond(rs) }, "runs of %s: %+v", job, &rs)
	return rs
}

func TestChainWithRetry(t *testing.T) {
	_, _, a := startJobs(t, 1)
	marker := t.TempDir() + "/failed-once"
	a.must("POST", "/v1/jobs", map[string]any{"name": "a", "command": "true", "schedule": "R1/2030-01-01T00:00:00Z/PT1H"}, 201)
	a.must("POST", "/v1/jobs", map[string]any{"name": "b", "command": "if [ -e " + marker + " ]; then exit 0; fi; touch " + marker + "; exit 1",
		"parents": []string{"a"}, "retries": 1, "retryBackoffSeconds": 0.5}, 201)
	a.must("POST", "/v1/jobs", map[string]any{"name": "c", "command": "true", "parents": []string{"b"}}, 201)
	a.must("POST", "/v1/jobs/a/run", nil, 201)
	cs := waitRuns(t, a, "c", 60*time.Second, func(rs []run) bool { return count(rs, "SUCCEEDED") == 1 })
	bs := a.runs("b")
	if len(bs) != 1 || bs[0].State != "SUCCEEDED" || bs[0].Attempt != 1 {
		t.Errorf("b runs = %+v; want one run that succeeded on its second attempt", bs)
	}
	as := a.runs("a")
	if len(cs) != 1 || len(cs[0].TriggeredBy) != 1 || cs[0].TriggeredBy[0] != bs[0].ID || bs[0].TriggeredBy[0] != as[0].ID {
		t.Errorf("trigger chain: a=%+v b=%+v c=%+v", as, bs, cs)
	}
}

func TestDiamond(t *testing.T) {
	_, _, a := startJobs(t, 1)
	a.must("POST", "/v1/jobs", map[string]any{"name": "a", "command": "true", "schedule": "R1/2030-01-01T00:00:00Z/PT1H"}, 201)
	a.must("POST", "/v1/jobs", map[string]any{"name": "b", "command": "sleep 0.2", "parents": []string{"a"}}, 201)
	a.must("POST", "/v1/jobs", map[string]any{"name": "c", "command": "sleep 0.5", "parents": []string{"a"}}, 201)
	a.must("POST", "/v1/jobs", map[string]any{"name": "d", "command": "true", "parents": []string{"b", "c"}}, 201)
	// Each round is the barrier of the one before: a second run of d that
	// b's or c's end triggered would be recorded before the next round's
	// d.
	const rounds = 3
	for i := 1; i <= rounds; i++ {
		a.must("POST", "/v1/jobs/a/run", nil, 201)
		testcluster.Eventually(t, 30*time.Second, func() bool { return count(a.runs("b"), "SUCCEEDED") == i && count(a.runs("c"), "SUCCEEDED") == i }, "b and c to run: a=%+v", a.runs("a"))
		waitRuns(t, a, "d", 60*time.Second, func(rs []run) bool { return count(rs, "SUCCEEDED") == i })
	}
	ds := a.runs("d")
	if len(ds) != rounds {
		t.Errorf("d runs = %+v; want exactly one per run of a", ds)
	}
	for _, d := range ds {
		if len(d.TriggeredBy) != 2 {
			t.Errorf("d run %d triggered by %v; want b's and c's runs", d.ID, d.TriggeredBy)
		}
	}
	// A cycle is refused and nothing is stored.
	code, body := a.do("PUT", "/v1/jobs/a", map[string]any{"name": "a", "command": "true", "parents": []string{"d"}})
	if code != 422 || !strings.Contains(string(body), "cycle") {
		t.Errorf("cycle: %d %s; want 422 naming the cycle", code, body)
	}
	// Deleting a parent is refused unless forced.
	if code, _ := a.do("DELETE", "/v1/jobs/b", nil); code != 409 {
		t.Errorf("DELETE parent: %d; want 409", code)
	}
	if code, body := a.do("DELETE", "/v1/jobs/b?force=true", nil); code != 200 || !strings.Contains(string(body), `"d"`) {
		t.Errorf("DELETE parent with force: %d %s; want 200 saying how d was rewired", code, body)
	}
}

func TestForbidSkipsAndTimeoutKills(t *testing.T) {
	_, _, a := startJobs(t, 1)
	a.must("POST", "/v1/jobs", map[string]any{"name": "slow", "command": "sleep 2.5", "schedule": "* * * * * *", "concurrencyPolicy": "FORBID", "cpus": 0.01, "mem": 16}, 201)
	a.must("POST", "/v1/jobs", map[string]any{"name": "hang", "command": "sleep 60", "schedule": "R1/2030-01-01T00:00:00Z/PT1H", "timeoutSeconds": 1, "retries": 0}, 201)
	a.must("POST", "/v1/jobs/hang/run", nil, 201)
	hs := waitRuns(t, a, "hang", 30*time.Second, func(rs []run) bool { return len(rs) == 1 && rs[0].State == "FAILED" })
	if !strings.Contains(hs[0].Reason, "timed out") {
		t.Errorf("timeout reason = %q", hs[0].Reason)
	}
	rs := waitRuns(t, a, "slow", 30*time.Second, func(rs []run) bool { return count(rs, "SKIPPED") >= 2 && count(rs, "SUCCEEDED") >= 1 })
	for _, r := range rs {
		if r.State == "SKIPPED" && !strings.Contains(r.Reason, "FORBID") {
			t.Errorf("skip reason = %q", r.Reason)
		}
	}
	noDuplicates(t, rs)
}

func TestRestartHandlesMissedRuns(t *testing.T) {
	_, f, a := startJobs(t, 1)
	a.must("POST", "/v1/jobs", map[string]any{"name": "beat", "command": "true", "schedule": "* * * * * *", "startingDeadlineSeconds": 30, "cpus": 0.01, "mem": 16}, 201)
	a.must("POST", "/v1/jobs", map[string]any{"name": "strict", "command": "true", "schedule": "* * * * * *", "startingDeadlineSeconds": 0.5, "cpus": 0.01, "mem": 16}, 201)
	for _, name := range []string{"beat", "strict"} {
		waitRuns(t, a, name, 30*time.Second, func(rs []run) bool { return len(rs) > 0 })
	}
	f.Kill(syscall.SIGKILL)
	time.Sleep(5 * time.Second) // the outage: five occurrences come due while the framework is down
	f.Start()
	testcluster.WaitHTTP(t, f.URL+"/ping")
	for _, name := range []string{"beat", "strict"} {
		rs := waitRuns(t, a, name, 30*time.Second, func(rs []run) bool { return count(rs, "MISSED") >= 3 })
		noDuplicates(t, rs)
		everySecond(t, rs)
	}
}

func TestTwoInstancesRunEachOccurrenceOnce(t *testing.T) {
	c, _, a := startJobs(t, 1)
	second := c.StartFramework("jobs")
	b := api{t: t, url: second.URL}
	a.must("POST", "/v1/jobs", map[string]any{"name": "once", "command": "true", "schedule": "* * * * * *", "cpus": 0.01, "mem": 16}, 201)
	// Either instance answers from the database.
	rs := waitRuns(t, b, "once", 30*time.Second, func(rs []run) bool { return count(rs, "SUCCEEDED") >= 4 })
	noDuplicates(t, rs)
	everySecond(t, rs)
	// The kernel ran exactly one task per run.
	tasks := map[string]bool{}
	for _, fw := range c.State().Frameworks {
		for _, tk := range append(fw.Tasks, fw.CompletedTasks...) {
			if strings.Contains(tk.ID, ":once:") {
				if tasks[tk.ID] {
					t.Errorf("task %s launched twice", tk.ID)
				}
				tasks[tk.ID] = true
			}
		}
	}
	if len(tasks) < count(rs, "SUCCEEDED") {
		t.Errorf("%d tasks for %d successful runs", len(tasks), count(rs, "SUCCEEDED"))
	}
}

func TestReplaceKillsTheActiveRun(t *testing.T) {
	_, _, a := startJobs(t, 1)
	a.must("POST", "/v1/jobs", map[string]any{"name": "fresh", "command": "sleep 30", "schedule": "* * * * * *", "concurrencyPolicy": "REPLACE", "cpus": 0.01, "mem": 16, "retries": 0}, 201)
	rs := waitRuns(t, a, "fresh", 30*time.Second, func(rs []run) bool { return count(rs, "KILLED") >= 2 })
	for _, r := range rs {
		if r.State == "KILLED" && !strings.Contains(r.Reason, "replaced") {
			t.Errorf("run %d killed with reason %q; want it replaced by a newer run", r.ID, r.Reason)
		}
	}
	active := 0
	for _, r := range rs {
		if r.State == "RUNNING" || r.State == "STARTING" || r.State == "QUEUED" {
			active++
		}
	}
	if active > 2 {
		t.Errorf("%d runs active at once under REPLACE: %+v", active, rs)
	}
	noDuplicates(t, rs)
}

// A run whose agent dies for good does not stay RUNNING forever: after
// --task_unreachable_timeout the attempt fails and is retried elsewhere.
func TestUnreachableTaskIsGivenUp(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Agents: 1})
	f := c.StartFramework("jobs", "--task_unreachable_timeout", "2s")
	a := api{t: t, url: f.URL}
	a.must("POST", "/v1/jobs", map[string]any{"name": "stranded", "command": "sleep 600", "schedule": "R1/2030-01-01T00:00:00Z/PT1H",
		"retries": 1, "retryBackoffSeconds": 0.1, "cpus": 0.01, "mem": 16}, 201)
	a.must("POST", "/v1/jobs/stranded/run", nil, 201)
	waitRuns(t, a, "stranded", 30*time.Second, func(rs []run) bool { return len(rs) == 1 && rs[0].State == "RUNNING" })
	dead := c.Agents[0]
	dead.Kill(syscall.SIGKILL)
	testcluster.KillSandboxProcs(dead.WorkDir)
	c.AddAgent("cpus:2;mem:1024;disk:1000;ports:[31500-31599]", "rack:r9", "spare.test")
	rs := waitRuns(t, a, "stranded", 60*time.Second, func(rs []run) bool {
		return len(rs) == 1 && rs[0].State == "RUNNING" && rs[0].Attempt >= 1
	})
	if !strings.Contains(rs[0].Reason, "unreachable") {
		t.Errorf("retried run's reason = %q; want it to say the task was unreachable", rs[0].Reason)
	}
}
