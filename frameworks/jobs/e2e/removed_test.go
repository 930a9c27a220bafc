package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"corral/internal/testcluster"
)

// healthBody is what GET /health says.
type healthBody struct {
	Healthy   bool   `json:"healthy"`
	Leading   bool   `json:"leading"`
	Reason    string `json:"reason"`
	Framework struct {
		State  string `json:"state"`
		ID     string `json:"id"`
		Reason string `json:"reason"`
	} `json:"framework"`
}

// healthOf returns GET /health's status code and body; code 0 when the
// instance did not answer.
func healthOf(t *testing.T, base string) (int, healthBody) {
	t.Helper()
	var h healthBody
	resp, err := http.Get(base + "/health")
	if err != nil {
		return 0, h
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatalf("GET %s/health: %d with a body that is not JSON: %v", base, resp.StatusCode, err)
	}
	return resp.StatusCode, h
}

// A stranger who read the framework's id from the master's /state
// subscribes with it and tears the framework down. The instance must not
// go on answering healthy: /health is 503 and says the framework was
// removed, and the log tells the operator what happened and what to do.
// Doing that (delete the stored id, restart) registers a new framework
// that runs jobs again.
func TestStrangerTeardownMakesHealthFail(t *testing.T) {
	c, f, a := startJobs(t, 1)
	id := c.FrameworkIDByName("jobs")
	testcluster.Eventually(t, 60*time.Second, func() bool {
		code, h := healthOf(t, f.URL)
		return code == http.StatusOK && h.Leading && h.Framework.State == "subscribed"
	}, "jobs healthy, leading and subscribed")

	c.TeardownAsStranger(id)

	var h healthBody
	testcluster.Eventually(t, 60*time.Second, func() bool {
		var code int
		code, h = healthOf(t, f.URL)
		return code == http.StatusServiceUnavailable && h.Framework.State == "removed"
	}, "/health 503 with the framework removed")
	if h.Healthy || !h.Leading || h.Framework.ID != id || !strings.Contains(h.Reason, "removed") {
		t.Errorf("/health = %+v; want unhealthy, leading, framework %s, a reason that says removed", h, id)
	}
	testcluster.Eventually(t, 30*time.Second, func() bool {
		return strings.Contains(f.Output(), "framework removed by the kernel")
	}, "the removal in the jobs log")
	// A change it would never run is refused, saying why; reads work.
	code, body := a.do("POST", "/v1/jobs", map[string]any{"name": "orphan", "command": "true", "schedule": "R1/2030-01-01T00:00:00Z/PT1H"})
	if code != http.StatusServiceUnavailable || !strings.Contains(string(body), "removed") || !strings.Contains(string(body), "DELETE FROM jobs.framework") {
		t.Errorf("POST /v1/jobs to the removed framework = %d %s; want 503 saying it was removed and what to do", code, body)
	}
	a.must("GET", "/v1/jobs", nil, 200)

	// What the log tells the operator to do.
	conn, err := pgx.Connect(t.Context(), c.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "DELETE FROM jobs.framework"); err != nil {
		t.Fatal(err)
	}
	f.Kill(syscall.SIGTERM)
	f.Start()
	testcluster.Eventually(t, 60*time.Second, func() bool {
		code, h := healthOf(t, f.URL)
		return code == http.StatusOK && h.Framework.State == "subscribed" && h.Framework.ID != id
	}, "jobs healthy under a new framework id")
	a.must("POST", "/v1/jobs", map[string]any{"name": "after", "command": "true", "schedule": "R1/2030-01-01T00:00:00Z/PT1H"}, 201)
	a.must("POST", "/v1/jobs/after/run", nil, 201)
	waitRuns(t, a, "after", 60*time.Second, func(rs []run) bool { return count(rs, "SUCCEEDED") == 1 })
}

// While no master answers, the leading instance stays healthy for two
// of the master's heartbeat intervals, then answers 503 saying how long
// it has not been subscribed; it is healthy again once subscribed.
func TestHealthFailsWhileUnsubscribed(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Agents: 1, MasterArgs: []string{"--framework_heartbeat_interval", "500ms"}})
	f := c.StartFramework("jobs")
	c.FrameworkIDByName("jobs")
	testcluster.Eventually(t, 60*time.Second, func() bool {
		code, h := healthOf(t, f.URL)
		return code == http.StatusOK && h.Leading
	}, "jobs healthy and leading")

	c.Master.Kill(syscall.SIGKILL)
	var h healthBody
	testcluster.Eventually(t, 60*time.Second, func() bool {
		var code int
		code, h = healthOf(t, f.URL)
		return code == http.StatusServiceUnavailable
	}, "/health 503 while the master is gone")
	if !h.Leading || h.Framework.State != "disconnected" || !strings.Contains(h.Reason, "not subscribed") {
		t.Errorf("/health = %+v; want leading, the framework disconnected and a reason that says not subscribed", h)
	}

	c.Master.Start()
	testcluster.Eventually(t, 60*time.Second, func() bool {
		code, h := healthOf(t, f.URL)
		return code == http.StatusOK && h.Framework.State == "subscribed"
	}, "/health 200 once subscribed again")
}
