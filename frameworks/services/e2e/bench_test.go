package e2e

import (
	"fmt"
	"net/http"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"corral/internal/testcluster"
)

// BenchmarkPostApp500 posts an app of 500 `sleep` instances to a services
// framework with one local agent and reports the time until all 500 run
// (tasksRunning), next to spawning 500 processes directly in the same run.
func BenchmarkPostApp500(b *testing.B) {
	const n = 500
	c := testcluster.Start(b, testcluster.Options{Agents: 1, Resources: func(int) string { return "cpus:64;mem:65536;disk:10000;ports:[31000-32000]" }})
	f := c.StartFramework("services")
	a := api{t: b, url: f.URL}
	round := 0
	for b.Loop() {
		round++
		b.StopTimer()
		start := time.Now()
		cmds := make([]*exec.Cmd, n)
		for i := range cmds {
			cmds[i] = exec.Command("/bin/sh", "-c", "sleep 600")
			cmds[i].SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmds[i].Start(); err != nil {
				b.Fatal(err)
			}
		}
		bare := time.Since(start)
		for _, cmd := range cmds {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
		}
		id := fmt.Sprintf("/bench%d", round)
		b.StartTimer()
		start = time.Now()
		a.must("POST", "/v2/apps", map[string]any{"id": id, "cmd": "sleep 600", "cpus": 0.01, "mem": 16, "instances": n, "portDefinitions": []any{}}, 201)
		for a.app(id).TasksRunning < n {
			time.Sleep(20 * time.Millisecond)
		}
		took := time.Since(start)
		b.StopTimer()
		b.ReportMetric(took.Seconds(), "s_post_to_all_running")
		b.ReportMetric(bare.Seconds(), "s_bare_spawn")
		b.ReportMetric(took.Seconds()/bare.Seconds(), "x_bare")
		a.must("DELETE", "/v2/apps"+id, nil, 200)
		testcluster.Eventually(b, 120*time.Second, func() bool {
			code, _, _ := a.do("GET", "/v2/apps"+id, nil)
			return code == 404 && len(a.deployments()) == 0
		}, "app deleted")
		b.StartTimer()
	}
}

// BenchmarkListApps1000 measures GET /v2/apps with 1,000 apps (no tasks).
func BenchmarkListApps1000(b *testing.B) {
	c := testcluster.Start(b, testcluster.Options{Agents: 0})
	f := c.StartFramework("services")
	a := api{t: b, url: f.URL}
	for i := 0; i < 1000; i++ {
		a.must("POST", "/v2/apps", map[string]any{"id": fmt.Sprintf("/g%d/app%d", i%10, i), "cmd": "sleep 600", "instances": 0}, 201)
	}
	for b.Loop() {
		resp, err := http.Get(f.URL + "/v2/apps")
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(resp, err)
		}
		resp.Body.Close()
	}
}
