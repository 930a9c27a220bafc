package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"syscall"
	"testing"
	"time"

	"corral/internal/testcluster"
	"corral/internal/testzk"
)

// leaderHost is what GET /v2/leader at a says ("" while unknown).
func leaderHost(a api) string {
	code, out, _ := a.do("GET", "/v2/leader", nil)
	if code != 200 {
		return ""
	}
	var l struct {
		Leader string `json:"leader"`
	}
	_ = json.Unmarshal(out, &l)
	return l.Leader
}

func hostPort(u string) string {
	p, _ := url.Parse(u)
	return p.Host
}

// Two services instances elect a leader through ZooKeeper. The standby
// proxies the whole API to the leader. kill -9 of the leader in the
// middle of a deployment: the standby takes over with the same framework
// id, finishes the deployment, and the kernel runs exactly the app's
// instances. The killed instance comes back as a standby.
func TestServicesFailoverThroughZooKeeper(t *testing.T) {
	zk := testzk.Start(t, 1)
	c := testcluster.Start(t, testcluster.Options{Agents: 2, ZK: zk.URL("/corral"), Resources: func(i int) string {
		return fmt.Sprintf("cpus:4;mem:4096;disk:1000;ports:[%d-%d]", 31000+i*1000, 31999+i*1000)
	}})
	zkArgs := []string{"--zk", zk.URL("/corral/services"), "--zk_session_timeout", "3s"}
	fs := []*testcluster.Framework{c.StartFramework("services", zkArgs...), c.StartFramework("services", zkArgs...)}
	apis := []api{{t: t, url: fs[0].URL}, {t: t, url: fs[1].URL}}

	var li int
	testcluster.Eventually(t, 30*time.Second, func() bool {
		h0, h1 := leaderHost(apis[0]), leaderHost(apis[1])
		for i, f := range fs {
			if h0 != "" && h0 == h1 && h0 == hostPort(f.URL) {
				li = i
				return true
			}
		}
		return false
	}, "both instances to name the same leader")
	leader, standby := apis[li], apis[1-li]

	// The standby serves the API by proxy: writes and reads.
	standby.must("POST", "/v2/apps", map[string]any{"id": "/steady", "cmd": "sleep 600", "cpus": 0.05, "mem": 32, "instances": 3}, 201)
	standby.waitDeployed(60 * time.Second)
	if ap := standby.app("/steady"); ap.TasksRunning != 3 {
		t.Fatalf("through the standby: %d running; want 3", ap.TasksRunning)
	}
	fid := infoFrameworkID(leader)

	// The deployment is stored when the PUT answers: kill the leader at once.
	leader.must("PUT", "/v2/apps/steady", map[string]any{"instances": 20}, 200)
	killed := time.Now()
	fs[li].Kill(syscall.SIGKILL)
	testcluster.Eventually(t, 60*time.Second, func() bool {
		return leaderHost(standby) == hostPort(fs[1-li].URL)
	}, "the standby to lead")
	t.Logf("leader killed → standby leads after %v", time.Since(killed))
	if got := infoFrameworkID(standby); got != fid {
		t.Errorf("framework id after take-over = %q; want %q", got, fid)
	}
	standby.waitDeployed(90 * time.Second)
	t.Logf("leader killed → deployment finished by the new leader after %v", time.Since(killed))
	ap := standby.app("/steady")
	if ap.TasksRunning != 20 || len(ap.Tasks) != 20 {
		t.Fatalf("after take-over: running %d tasks %d; want 20", ap.TasksRunning, len(ap.Tasks))
	}
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
	}, "the kernel to run exactly the app's 20 tasks")

	// The killed instance returns as a standby of the new leader.
	fs[li].Start()
	testcluster.WaitHTTP(t, fs[li].URL+"/ping")
	testcluster.Eventually(t, 30*time.Second, func() bool {
		return leaderHost(leader) == hostPort(fs[1-li].URL)
	}, "the restarted instance to name the new leader")
	if ap := leader.app("/steady"); ap.TasksRunning != 20 {
		t.Errorf("through the restarted standby: %d running; want 20", ap.TasksRunning)
	}
}
