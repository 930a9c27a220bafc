package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/internal/apiclient"
	"corral/internal/testcluster"
)

// ended waits up to d until deployment id is in the history with an
// outcome, and returns its entry.
func (a api) ended(id string, d time.Duration) apiclient.Deployment {
	a.t.Helper()
	var found apiclient.Deployment
	testcluster.Eventually(a.t, d, func() bool {
		ds, err := a.client().DeploymentHistory(context.Background())
		if err != nil {
			return false
		}
		for _, x := range ds {
			if x.ID == id && !x.Running() {
				found = x
				return true
			}
		}
		return false
	}, "deployment %s to end: %s", id, a.lastDeployments())
	return found
}

// events follows /v2/events for the given types and sends each such
// event's data on the channel it returns, until the test ends.
func (a api) events(types ...string) <-chan map[string]any {
	a.t.Helper()
	q := ""
	for _, ty := range types {
		q += "&event_type=" + ty
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(a.url, "/")+"/v2/events?"+strings.TrimPrefix(q, "&"), nil)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		a.t.Fatalf("GET /v2/events: %v %v", resp, err)
	}
	ch := make(chan map[string]any, 64)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var m map[string]any
			if json.Unmarshal([]byte(data), &m) == nil && slices.Contains(types, fmt.Sprint(m["eventType"])) {
				select {
				case ch <- m:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return ch
}

// healthFloor samples the healthy tasks of app until the function it
// returns is called, which returns the fewest seen and how many samples
// were taken.
func (a api) healthFloor(app string) func() (least, samples int) {
	var (
		mu             sync.Mutex
		fewest, number = 1 << 30, 0
		done           = make(chan struct{})
		out            = make(chan struct{})
	)
	go func() {
		defer close(out)
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			ap, err := a.client().App(context.Background(), app)
			if err != nil {
				continue
			}
			mu.Lock()
			fewest = min(fewest, healthyTasks(ap))
			number++
			mu.Unlock()
		}
	}()
	return func() (int, int) {
		close(done)
		<-out
		mu.Lock()
		defer mu.Unlock()
		return fewest, number
	}
}

// A new version that never turns healthy fails its deployment at its
// progress deadline; with autoRollback the app goes back to the old
// version, and at no time are fewer instances healthy than
// minimumHealthCapacity promises. The old instances still running are
// kept, not replaced.
func TestDeadlineFailsAndRollsBack(t *testing.T) {
	_, _, a := startServices(t, 2)
	v1 := webApp("/dl", 4, map[string]any{"upgradeStrategy": map[string]any{"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5}})
	a.must("POST", "/v2/apps", v1, 201)
	a.waitDeployed(90 * time.Second)
	before := a.app("/dl")
	if healthyTasks(before) != 4 {
		t.Fatalf("v1: %d healthy; want 4", healthyTasks(before))
	}
	failed := a.events("deployment_failed")

	// v2 serves no /health: its instances run, never healthy, and are
	// never killed for it (maxConsecutiveFailures 0), so only the
	// deadline can end the deployment.
	v2 := map[string]any{
		"cmd": "exec python3 -m http.server $PORT0 --bind 127.0.0.1",
		"healthChecks": []map[string]any{{"protocol": "HTTP", "path": "/health", "portIndex": 0,
			"gracePeriodSeconds": 0, "intervalSeconds": 1, "timeoutSeconds": 1, "maxConsecutiveFailures": 0}},
		"upgradeStrategy": map[string]any{"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5, "progressDeadlineSeconds": 15, "autoRollback": true},
	}
	floor := a.healthFloor("/dl")
	var res apiclient.Change
	if err := json.Unmarshal(a.must("PUT", "/v2/apps/dl", v2, 200), &res); err != nil {
		t.Fatal(err)
	}
	e := a.ended(res.DeploymentID, 180*time.Second)
	if e.Status != "failed" || e.Failure == nil || e.Failure.Kind != "progressDeadline" || e.RollbackDeploymentID == "" {
		t.Fatalf("deployment %s ended %+v; want failed at its progress deadline and rolled back", res.DeploymentID, e)
	}
	for _, want := range []string{"no progress for 15s (progressDeadlineSeconds 15): step 1 of 1, RestartApplication /dl:", "of 4 new instances ready", "unhealthy: HTTP 404"} {
		if !strings.Contains(e.Reason, want) {
			t.Errorf("reason %q; want it to contain %q", e.Reason, want)
		}
	}
	select {
	case ev := <-failed:
		if ev["id"] != res.DeploymentID || ev["reason"] != e.Reason {
			t.Errorf("deployment_failed event = %v; want %s with the reason", ev, res.DeploymentID)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("no deployment_failed event")
	}

	rb := a.ended(e.RollbackDeploymentID, 180*time.Second)
	least, samples := floor()
	if rb.Status != "succeeded" || rb.RollbackOf != res.DeploymentID {
		t.Errorf("rollback %s ended %+v; want succeeded, rolling back %s", e.RollbackDeploymentID, rb, res.DeploymentID)
	}
	t.Logf("failed: %s; rolled back by %s; at least %d healthy in %d samples", e.Reason, e.RollbackDeploymentID, least, samples)
	if least < 2 {
		t.Errorf("healthy instances dropped to %d during the failed deployment and its rollback (%d samples); minimumHealthCapacity 0.5 of 4 promises 2", least, samples)
	}
	after := a.app("/dl")
	if after.Command() != before.Command() || healthyTasks(after) != 4 || len(after.Tasks) != 4 ||
		after.VersionInfo.LastConfigChangeAt != before.VersionInfo.LastConfigChangeAt {
		t.Fatalf("after the rollback: cmd %q, %d healthy of %d tasks, config %s; want v1's %q, 4 healthy, config %s",
			after.Command(), healthyTasks(after), len(after.Tasks), after.VersionInfo.LastConfigChangeAt, before.Command(), before.VersionInfo.LastConfigChangeAt)
	}
	var kept int
	for _, tk := range after.Tasks {
		if slices.ContainsFunc(before.Tasks, func(b apiclient.Task) bool { return b.ID == tk.ID }) {
			kept++
		}
	}
	if kept < 2 {
		t.Errorf("%d of the old version's tasks survived; want the 2 the upgrade strategy kept", kept)
	}
}

// New instances that crash fail the deployment as a crash loop, without
// waiting for the (default, ten-minute) deadline, and the app goes back.
func TestCrashLoopFailsFast(t *testing.T) {
	_, _, a := startServices(t, 1)
	a.must("POST", "/v2/apps", webApp("/cl", 2, nil), 201)
	a.waitDeployed(90 * time.Second)
	var res apiclient.Change
	if err := json.Unmarshal(a.must("PUT", "/v2/apps/cl", map[string]any{"cmd": "echo starting; exit 3",
		"upgradeStrategy": map[string]any{"minimumHealthCapacity": 1, "maximumOverCapacity": 1, "autoRollback": true}}, 200), &res); err != nil {
		t.Fatal(err)
	}
	e := a.ended(res.DeploymentID, 120*time.Second)
	if e.Status != "failed" || e.Failure == nil || e.Failure.Kind != "crashLoop" ||
		!strings.Contains(e.Reason, "3 new instances failed in a row (crash loop; the limit is 3)") || !strings.Contains(e.Reason, "TASK_FAILED") {
		t.Fatalf("deployment %s ended %+v; want failed as a crash loop naming the failed tasks", res.DeploymentID, e)
	}
	a.ended(e.RollbackDeploymentID, 120*time.Second)
	if ap := a.app("/cl"); !strings.Contains(ap.Command(), "http.server") || healthyTasks(ap) != 2 {
		t.Errorf("after the rollback: cmd %q, %d healthy; want the old command, 2 healthy", ap.Command(), healthyTasks(ap))
	}
}

// readyServer is a task's command: it serves its sandbox on $PORT0 and
// answers /ready 503 until the file "ready" exists there; /health is
// there from the start.
const readyServer = `echo ok > health && cat > serve.py <<'EOF'
import http.server, os, sys
class H(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/ready" and not os.path.exists("ready"):
            self.send_response(503)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"warming up")
            return
        super().do_GET()
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
exec python3 serve.py $PORT0`

// A new version with a readiness check does not progress while the check
// answers 503, though its instance is healthy: the old instance stays.
// Once the check passes, the deployment ends.
func TestReadinessGatesTheUpgrade(t *testing.T) {
	c, _, a := startServices(t, 1)
	port := []map[string]any{{"port": 0, "name": "http"}}
	a.must("POST", "/v2/apps", webApp("/rd", 1, map[string]any{"portDefinitions": port}), 201)
	a.waitDeployed(90 * time.Second)
	old := a.app("/rd").Tasks[0].ID

	var res apiclient.Change
	if err := json.Unmarshal(a.must("PUT", "/v2/apps/rd", map[string]any{"cmd": readyServer, "portDefinitions": port,
		"readinessChecks": []map[string]any{{"name": "warm", "portName": "http", "path": "/ready", "intervalSeconds": 2, "timeoutSeconds": 1,
			"preserveLastResponse": true}}}, 200), &res); err != nil {
		t.Fatal(err)
	}
	type result struct {
		Name, TaskID string
		Ready        bool
		LastResponse *struct {
			Status int
			Body   string
		}
	}
	results := func() []result {
		var w struct {
			App struct {
				ReadinessCheckResults []result `json:"readinessCheckResults"`
			} `json:"app"`
		}
		_ = json.Unmarshal(a.must("GET", "/v2/apps/rd", nil, 200), &w)
		return w.App.ReadinessCheckResults
	}
	testcluster.Eventually(t, 90*time.Second, func() bool {
		rs := results()
		return len(rs) == 1 && rs[0].LastResponse != nil && rs[0].LastResponse.Status == 503
	}, "the new instance's readiness check to answer 503: %+v", results())
	fresh := results()[0].TaskID
	if r := results()[0]; r.Ready || r.Name != "warm" || r.LastResponse.Body != "warming up" {
		t.Errorf("readiness result %+v; want warm, not ready, body warming up", r)
	}
	ap := a.app("/rd")
	running := map[string]string{}
	for _, tk := range ap.Tasks {
		running[tk.ID] = tk.State
	}
	if running[old] != "TASK_RUNNING" || running[fresh] != "TASK_RUNNING" || healthyTasks(ap) != 2 {
		t.Errorf("while the check fails: tasks %v, %d healthy; want the old %s and the new %s both running and healthy", running, healthyTasks(ap), old, fresh)
	}
	if ds := a.deployments(); len(ds) != 1 || ds[0].ID != res.DeploymentID {
		t.Fatalf("deployments while the check fails = %+v; want %s running", ds, res.DeploymentID)
	}

	sb := sandboxOf(c, fresh)
	if sb == "" {
		t.Fatalf("no sandbox for %s", fresh)
	}
	if err := os.WriteFile(filepath.Join(sb, "ready"), []byte("yes"), 0o644); err != nil {
		t.Fatal(err)
	}
	if e := a.ended(res.DeploymentID, 90*time.Second); e.Status != "succeeded" {
		t.Fatalf("deployment %s ended %+v; want succeeded once ready", res.DeploymentID, e)
	}
	testcluster.Eventually(t, 60*time.Second, func() bool {
		ap := a.app("/rd")
		return len(ap.Tasks) == 1 && ap.Tasks[0].ID == fresh
	}, "only the new instance left")
	if rs := results(); len(rs) != 1 || !rs[0].Ready || rs[0].LastResponse == nil || rs[0].LastResponse.Status != 200 {
		t.Errorf("readiness results once ready = %+v; want ready after a 200", rs)
	}
}
