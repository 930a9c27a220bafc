package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"corral/internal/apiclient"
	"corral/internal/testcluster"
	"corral/kernel/mesos"
)

// webApp is an app whose tasks serve HTTP on $PORT0 and pass their health
// check while the file "health" exists in their sandbox.
func webApp(id string, instances int, extra map[string]any) map[string]any {
	a := map[string]any{
		"id":        id,
		"cmd":       "echo ok > health && exec python3 -m http.server $PORT0 --bind 127.0.0.1",
		"cpus":      0.05,
		"mem":       64,
		"instances": instances,
		"healthChecks": []map[string]any{{
			"protocol": "HTTP", "path": "/health", "portIndex": 0,
			"gracePeriodSeconds": 10, "intervalSeconds": 1, "timeoutSeconds": 1, "maxConsecutiveFailures": 2,
		}},
		"upgradeStrategy": map[string]any{"minimumHealthCapacity": 1, "maximumOverCapacity": 1},
		"backoffSeconds":  1,
	}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

// startServices starts a cluster of agents and a services framework with
// the given extra flags.
func startServices(t *testing.T, agents int, args ...string) (*testcluster.Cluster, *testcluster.Framework, api) {
	t.Helper()
	c := testcluster.Start(t, testcluster.Options{Agents: agents, Resources: func(i int) string {
		return fmt.Sprintf("cpus:4;mem:4096;disk:1000;ports:[%d-%d]", 31000+i*1000, 31999+i*1000)
	}})
	f := c.StartFramework("services", args...)
	return c, f, api{t: t, url: f.URL}
}

func TestHealthyScaleAndKillSelection(t *testing.T) {
	_, _, a := startServices(t, 2)
	a.must("POST", "/v2/apps", webApp("/web", 5, nil), 201)
	a.waitDeployed(90 * time.Second)
	ap := a.app("/web")
	if ap.TasksRunning != 5 || ap.TasksHealthy != 5 || healthyTasks(ap) != 5 {
		t.Fatalf("after deploy: running %d healthy %d tasks %+v", ap.TasksRunning, ap.TasksHealthy, ap.Tasks)
	}

	// Scale up: only instances changes, so nothing is restarted.
	before := map[string]bool{}
	for _, tk := range ap.Tasks {
		before[tk.ID] = true
	}
	a.must("PUT", "/v2/apps/web", map[string]any{"instances": 10}, 200)
	a.waitDeployed(90 * time.Second)
	ap = a.app("/web")
	if ap.TasksHealthy != 10 {
		t.Fatalf("after scale to 10: healthy %d", ap.TasksHealthy)
	}
	kept := 0
	for _, tk := range ap.Tasks {
		if before[tk.ID] {
			kept++
		}
	}
	if kept != 5 {
		t.Errorf("scale up replaced tasks: %d of the first 5 remain", kept)
	}

	// Scale down with YOUNGEST_FIRST (the default): survivors come from
	// the first five, which are older than the five added later.
	a.must("PUT", "/v2/apps/web", map[string]any{"instances": 2}, 200)
	a.waitDeployed(60 * time.Second)
	testcluster.Eventually(t, 30*time.Second, func() bool { return len(a.app("/web").Tasks) == 2 }, "2 tasks left")
	for _, tk := range a.app("/web").Tasks {
		if !before[tk.ID] {
			t.Errorf("task %s (staged %s) survived scale down; want the oldest kept", tk.ID, tk.StagedAt)
		}
	}

	// OLDEST_FIRST: scale to 3, then back to 2; the oldest goes.
	a.must("PUT", "/v2/apps/web", map[string]any{"instances": 3, "killSelection": "OLDEST_FIRST"}, 200)
	a.waitDeployed(90 * time.Second)
	ap = a.app("/web")
	sort.Slice(ap.Tasks, func(i, j int) bool { return ap.Tasks[i].StagedAt < ap.Tasks[j].StagedAt })
	newest := ap.Tasks[len(ap.Tasks)-1].ID
	a.must("PUT", "/v2/apps/web", map[string]any{"instances": 1}, 200)
	a.waitDeployed(60 * time.Second)
	testcluster.Eventually(t, 30*time.Second, func() bool { return len(a.app("/web").Tasks) == 1 }, "1 task left")
	if got := a.app("/web").Tasks[0].ID; got != newest {
		t.Errorf("OLDEST_FIRST kept %s; want the newest %s", got, newest)
	}
}

func TestRollingUpdateKeepsCapacity(t *testing.T) {
	_, _, a := startServices(t, 2)
	a.must("POST", "/v2/apps", webApp("/roll", 4, map[string]any{"upgradeStrategy": map[string]any{"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5}}), 201)
	a.waitDeployed(90 * time.Second)

	var (
		mu       sync.Mutex
		minSeen  = 100
		samples  int
		stopping = make(chan struct{})
		done     = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			select {
			case <-stopping:
				return
			case <-time.After(100 * time.Millisecond):
			}
			ap := a.app("/roll")
			mu.Lock()
			minSeen = min(minSeen, healthyTasks(ap))
			samples++
			mu.Unlock()
		}
	}()
	a.must("PUT", "/v2/apps/roll", map[string]any{"cmd": "echo ok > health && echo v2 > version && exec python3 -m http.server $PORT0 --bind 127.0.0.1"}, 200)
	a.waitDeployed(120 * time.Second)
	close(stopping)
	<-done
	ap := a.app("/roll")
	if !strings.Contains(ap.Command(), "v2") || ap.TasksHealthy != 4 || len(ap.Tasks) != 4 {
		t.Fatalf("after update: cmd %q healthy %d tasks %d", ap.Command(), ap.TasksHealthy, len(ap.Tasks))
	}
	for _, tk := range ap.Tasks {
		if tk.Version != ap.Version {
			t.Errorf("task %s runs version %s; want %s", tk.ID, tk.Version, ap.Version)
		}
	}
	if minSeen < 2 {
		t.Errorf("healthy tasks dropped to %d during the update (%d samples); minimumHealthCapacity 0.5 of 4 needs 2", minSeen, samples)
	}
}

func sandboxOf(c *testcluster.Cluster, taskID string) string {
	for _, fw := range c.State().Frameworks {
		for _, tk := range fw.Tasks {
			if tk.ID == taskID {
				return tk.Sandbox
			}
		}
	}
	return ""
}

func TestUnhealthyAndKilledTasksReplaced(t *testing.T) {
	c, _, a := startServices(t, 1)
	a.must("POST", "/v2/apps", webApp("/heal", 2, nil), 201)
	a.waitDeployed(90 * time.Second)
	ap := a.app("/heal")
	victim := ap.Tasks[0].ID

	// Its health check starts failing: it is killed and replaced.
	sb := sandboxOf(c, victim)
	if sb == "" {
		t.Fatalf("no sandbox for %s", victim)
	}
	if err := os.Remove(filepath.Join(sb, "health")); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 60*time.Second, func() bool {
		ap := a.app("/heal")
		if healthyTasks(ap) != 2 {
			return false
		}
		for _, tk := range ap.Tasks {
			if tk.ID == victim {
				return false
			}
		}
		return true
	}, "unhealthy task replaced")

	// kill -9 of a task's processes from outside: replaced too.
	ap = a.app("/heal")
	victim = ap.Tasks[0].ID
	port := ap.Tasks[0].Ports[0]
	killListener(t, port)
	testcluster.Eventually(t, 60*time.Second, func() bool {
		ap := a.app("/heal")
		if healthyTasks(ap) != 2 {
			return false
		}
		for _, tk := range ap.Tasks {
			if tk.ID == victim {
				return false
			}
		}
		return true
	}, "killed task replaced")
	// The failure is recorded.
	var w struct {
		App struct {
			LastTaskFailure *struct {
				TaskID string `json:"taskId"`
				State  string `json:"state"`
			} `json:"lastTaskFailure"`
		} `json:"app"`
	}
	_ = json.Unmarshal(a.must("GET", "/v2/apps/heal", nil, 200), &w)
	if w.App.LastTaskFailure == nil {
		t.Errorf("no lastTaskFailure after a task was killed from outside")
	}
}

// killListener kill -9s the process listening on a loopback port.
func killListener(t *testing.T, port uint64) {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if len(args) > 4 && strings.Contains(args[0], "python3") && contains(args, fmt.Sprint(port)) {
			var pid int
			fmt.Sscanf(e.Name(), "%d", &pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return
		}
	}
	t.Fatalf("no process listens on port %d", port)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// liveTasks counts the tasks the kernel knows that have not ended.
func liveTasks(c *testcluster.Cluster) int {
	n := 0
	for _, fw := range c.State().Frameworks {
		for _, tk := range fw.Tasks {
			if !mesos.TaskState(tk.State).Terminal() {
				n++
			}
		}
	}
	return n
}

// offersSent returns how many OFFERS events the master at url has sent,
// from its /metrics.
func offersSent(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, `corral_master_events_sent_total{type="OFFERS"} `); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("/metrics: %q", line)
			}
			return int(n)
		}
	}
	return 0
}

func TestUniqueHostnameSaysWhy(t *testing.T) {
	// A short refuse filter, so that declined offers come back often.
	c, _, a := startServices(t, 2, "--decline_offer_duration", "100ms")
	app := map[string]any{"id": "/uniq", "cmd": "sleep 600", "cpus": 0.05, "mem": 32, "instances": 3,
		"constraints": [][]string{{"hostname", "UNIQUE"}}}
	a.must("POST", "/v2/apps", app, 201)
	testcluster.Eventually(t, 60*time.Second, func() bool { return a.app("/uniq").TasksRunning == 2 }, "2 tasks running")
	var deps []apiclient.Deployment
	testcluster.Eventually(t, 30*time.Second, func() bool {
		deps = a.deployments()
		if len(deps) != 1 || len(deps[0].CurrentActions) != 1 {
			return false
		}
		for _, u := range deps[0].CurrentActions[0].Unplaced {
			if strings.Contains(strings.Join(u.Reasons, "; "), "hostname UNIQUE") {
				return true
			}
		}
		return false
	}, "the deployment to say which constraint blocks it: %v", deps)
	var q struct {
		Queue []struct {
			Count   int    `json:"count"`
			Waiting string `json:"waiting"`
		} `json:"queue"`
	}
	_ = json.Unmarshal(a.must("GET", "/v2/queue?embed=lastUnusedOffers", nil, 200), &q)
	if len(q.Queue) != 1 || q.Queue[0].Count != 1 {
		t.Errorf("queue = %+v; want one app waiting for 1 instance", q.Queue)
	}
	t.Logf("deployment: %+v", deps[0].CurrentActions)
	// Every offer is a chance to break the constraint: wait until the
	// master has sent four more and the framework has answered them all
	// (none outstanding), or a third task shows up, then count the tasks.
	n := offersSent(t, c.URL)
	testcluster.Eventually(t, 30*time.Second, func() bool {
		return liveTasks(c) > 2 || offersSent(t, c.URL) >= n+4 && c.State().Offers == 0
	}, "four more offers, all answered")
	if running, live := a.app("/uniq").TasksRunning, liveTasks(c); running != 2 || live != 2 {
		t.Errorf("UNIQUE hostname violated: %d tasks running, %d in the kernel; want 2", running, live)
	}
}

func TestDeleteKillsEverything(t *testing.T) {
	c, _, a := startServices(t, 2)
	a.must("POST", "/v2/apps", map[string]any{"id": "/doomed", "cmd": "sleep 600", "cpus": 0.05, "mem": 32, "instances": 4}, 201)
	a.waitDeployed(60 * time.Second)
	_, _, hdr := a.do("DELETE", "/v2/apps/doomed", nil)
	if hdr.Get("Marathon-Deployment-Id") == "" {
		t.Error("DELETE without Marathon-Deployment-Id")
	}
	a.waitDeployed(60 * time.Second)
	a.must("GET", "/v2/apps/doomed", nil, 404)
	testcluster.Eventually(t, 30*time.Second, func() bool {
		for _, fw := range c.State().Frameworks {
			for _, tk := range fw.Tasks {
				if tk.State == "TASK_RUNNING" {
					return false
				}
			}
		}
		return true
	}, "no task running in the kernel")
}

func TestRestartMidDeploymentResumes(t *testing.T) {
	c, f, a := startServices(t, 2)
	a.must("POST", "/v2/apps", map[string]any{"id": "/steady", "cmd": "sleep 600", "cpus": 0.05, "mem": 32, "instances": 3}, 201)
	a.waitDeployed(60 * time.Second)
	fid := infoFrameworkID(a)

	// Start a deployment of 20 and kill the framework once it has
	// launched some of the new instances.
	a.must("PUT", "/v2/apps/steady", map[string]any{"instances": 20}, 200)
	testcluster.Eventually(t, 30*time.Second, func() bool { return liveTasks(c) > 3 }, "the deployment to launch instances")
	f.Kill(syscall.SIGKILL)
	f.Start()
	testcluster.WaitHTTP(t, f.URL+"/ping")
	if got := infoFrameworkID(a); got != fid {
		t.Errorf("framework id after restart = %q; want %q", got, fid)
	}
	a.waitDeployed(90 * time.Second)
	ap := a.app("/steady")
	if ap.TasksRunning != 20 || len(ap.Tasks) != 20 {
		t.Fatalf("after restart: running %d tasks %d; want 20", ap.TasksRunning, len(ap.Tasks))
	}
	// No duplicates or orphans in the kernel: exactly the 20 tasks known.
	known := map[string]bool{}
	for _, tk := range ap.Tasks {
		known[tk.ID] = true
	}
	testcluster.Eventually(t, 30*time.Second, func() bool {
		running := 0
		for _, fw := range c.State().Frameworks {
			for _, tk := range fw.Tasks {
				if tk.State == "TASK_RUNNING" || tk.State == "TASK_STAGING" || tk.State == "TASK_STARTING" {
					running++
					if !known[tk.ID] {
						return false
					}
				}
			}
		}
		return running == 20
	}, "the kernel to run exactly the framework's 20 tasks")
}

func infoFrameworkID(a api) string {
	var info struct {
		FrameworkID string `json:"frameworkId"`
	}
	testcluster.Eventually(a.t, 30*time.Second, func() bool {
		_ = json.Unmarshal(a.must("GET", "/v2/info", nil, 200), &info)
		return info.FrameworkID != ""
	}, "a framework id")
	return info.FrameworkID
}

func TestCommandHealthCheckOnAgent(t *testing.T) {
	c, _, a := startServices(t, 1)
	a.must("POST", "/v2/apps", map[string]any{
		"id": "/cmdcheck", "cmd": "touch healthy; sleep 600", "cpus": 0.05, "mem": 32, "instances": 2,
		"healthChecks": []map[string]any{{"protocol": "COMMAND", "command": map[string]string{"value": "test -f healthy"},
			"gracePeriodSeconds": 5, "intervalSeconds": 1, "timeoutSeconds": 1, "maxConsecutiveFailures": 2, "delaySeconds": 0}},
	}, 201)
	a.waitDeployed(60 * time.Second)
	ap := a.app("/cmdcheck")
	if ap.TasksHealthy != 2 {
		t.Fatalf("healthy = %d; want 2 (agent-run COMMAND checks)", ap.TasksHealthy)
	}
	victim := ap.Tasks[0].ID
	if err := os.Remove(filepath.Join(sandboxOf(c, victim), "healthy")); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 60*time.Second, func() bool {
		ap := a.app("/cmdcheck")
		if ap.TasksHealthy != 2 {
			return false
		}
		for _, tk := range ap.Tasks {
			if tk.ID == victim {
				return false
			}
		}
		return true
	}, "the task failing its COMMAND check to be replaced")
}
