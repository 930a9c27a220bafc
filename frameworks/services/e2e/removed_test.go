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

// healthBody is what GET /health says on the leading instance.
type healthBody struct {
	Healthy   bool   `json:"healthy"`
	Leader    bool   `json:"leader"`
	Connected bool   `json:"connected"`
	Reason    string `json:"reason"`
	Framework struct {
		State  string `json:"state"`
		ID     string `json:"id"`
		Reason string `json:"reason"`
	} `json:"framework"`
}

// health returns GET /health's status code and body; code 0 when the
// instance did not answer.
func health(t *testing.T, base string) (int, healthBody) {
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
// subscribes with it and tears the framework down: the master kills its
// tasks. The instance must not go on answering healthy: /health is 503
// and says the framework was removed, and the log tells the operator
// what happened and what to do. Doing that (delete the stored id,
// restart) registers a new framework that runs the apps again.
func TestStrangerTeardownMakesHealthFail(t *testing.T) {
	c, f, a := startServices(t, 1)
	a.must("POST", "/v2/apps", map[string]any{"id": "/steady", "cmd": "sleep 600", "cpus": 0.05, "mem": 32, "instances": 2}, 201)
	a.waitDeployed(60 * time.Second)
	testcluster.Eventually(t, 60*time.Second, func() bool {
		code, h := health(t, f.URL)
		return code == http.StatusOK && h.Connected
	}, "services healthy and subscribed")
	id := c.FrameworkIDByName("services")
	if got := infoFrameworkID(a); got != id {
		t.Fatalf("/v2/info frameworkId = %q; /state names %q", got, id)
	}

	c.TeardownAsStranger(id)

	var h healthBody
	testcluster.Eventually(t, 60*time.Second, func() bool {
		var code int
		code, h = health(t, f.URL)
		return code == http.StatusServiceUnavailable && h.Framework.State == "removed"
	}, "/health 503 with the framework removed")
	if h.Healthy || !h.Leader || h.Framework.ID != id || !strings.Contains(h.Reason, "removed") {
		t.Errorf("/health = %+v; want unhealthy, leader, framework %s, a reason that says removed", h, id)
	}
	testcluster.Eventually(t, 30*time.Second, func() bool {
		return strings.Contains(f.Output(), "framework removed by the kernel")
	}, "the removal in the services log")
	// A change it would never run is refused, saying why; reads work.
	code, body, _ := a.do("POST", "/v2/apps", map[string]any{"id": "/orphan", "cmd": "sleep 600", "cpus": 0.05, "mem": 32})
	if code != http.StatusServiceUnavailable || !strings.Contains(string(body), "removed") || !strings.Contains(string(body), "DELETE FROM services.framework") {
		t.Errorf("POST /v2/apps to the removed framework = %d %s; want 503 saying it was removed and what to do", code, body)
	}
	a.must("GET", "/v2/apps", nil, 200)
	testcluster.Eventually(t, 30*time.Second, func() bool { return liveTasks(c) == 0 }, "the master to kill the framework's tasks")

	// What the log tells the operator to do.
	conn, err := pgx.Connect(t.Context(), c.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "DELETE FROM services.framework"); err != nil {
		t.Fatal(err)
	}
	f.Kill(syscall.SIGTERM)
	f.Start()
	testcluster.Eventually(t, 60*time.Second, func() bool {
		code, h := health(t, f.URL)
		return code == http.StatusOK && h.Framework.State == "subscribed" && h.Framework.ID != id
	}, "services healthy under a new framework id")
	testcluster.Eventually(t, 90*time.Second, func() bool {
		return a.app("/steady").TasksRunning == 2 && liveTasks(c) == 2
	}, "the app running again under the new framework")
}

// While no master answers, the leading instance stays healthy for two
// of the master's heartbeat intervals, then answers 503 saying how long
// it has not been subscribed; it is healthy again once subscribed.
func TestHealthFailsWhileUnsubscribed(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Agents: 1, MasterArgs: []string{"--framework_heartbeat_interval", "500ms"}})
	f := c.StartFramework("services")
	testcluster.Eventually(t, 60*time.Second, func() bool {
		code, h := health(t, f.URL)
		return code == http.StatusOK && h.Connected
	}, "services healthy and subscribed")

	c.Master.Kill(syscall.SIGKILL)
	var h healthBody
	testcluster.Eventually(t, 60*time.Second, func() bool {
		var code int
		code, h = health(t, f.URL)
		return code == http.StatusServiceUnavailable
	}, "/health 503 while the master is gone")
	if h.Framework.State != "disconnected" || !strings.Contains(h.Reason, "not subscribed") {
		t.Errorf("/health = %+v; want the framework disconnected and a reason that says not subscribed", h)
	}

	c.Master.Start()
	testcluster.Eventually(t, 60*time.Second, func() bool {
		code, h := health(t, f.URL)
		return code == http.StatusOK && h.Framework.State == "subscribed"
	}, "/health 200 once subscribed again")
}
