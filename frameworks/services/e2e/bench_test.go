package e2e

import (
	"fmt"
	"net/http"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"corral/internal/apiclient"
	"corral/internal/testcluster"
)

// BenchmarkPostApp500 posts an app of 500 `sleep` instances to a services
// framework with one local agent and reports the time until all 500 run
// (tasksRunning), next to spawning 500 processes directly in the same run,
// and the CPU time the framework, the master and the agent used in
// between (steadier than wall time on a shared machine); each metric is
// the mean over the rounds. It runs on a plain cluster and
// on a secured one (testcluster.Options.Secure: TLS between every process
// and to the API, credentials and the development ACLs), where the API is
// called as the operator over one keep-alive connection.
func BenchmarkPostApp500(b *testing.B) {
	for _, m := range securityModes {
		b.Run(m.name, func(b *testing.B) { benchPostApp(b, m.secure, 500) })
	}
}

// securityModes are the two ways a benchmark's cluster runs.
var securityModes = []struct {
	name   string
	secure bool
}{
	{"plain", false},
	{"tls+auth", true},
}

// benchPostApp is BenchmarkPostApp500 with n instances, on a plain or a
// secured cluster.
func benchPostApp(b *testing.B, secure bool, n int) {
	c := testcluster.Start(b, testcluster.Options{Agents: 1, Secure: secure,
		Resources: func(int) string { return "cpus:64;mem:65536;disk:10000;ports:[31000-32000]" }})
	f := c.StartFramework("services")
	s := apiclient.NewServices(f.URL, c.HTTP)
	ctx := b.Context()
	var sum struct{ took, bare, x, cpu float64 }
	allCPU := func() time.Duration { return f.CPUTime() + c.Master.CPUTime() + c.Agents[0].CPUTime() }
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
		cpu := allCPU()
		b.StartTimer()
		start = time.Now()
		resp, err := s.Do(ctx, "POST", "/v2/apps", map[string]any{"id": id, "cmd": "sleep 600", "cpus": 0.01, "mem": 16, "instances": n, "portDefinitions": []any{}})
		if err != nil || resp.Status != 201 {
			b.Fatalf("POST /v2/apps = %v, %v; want 201", resp, err)
		}
		for {
			ap, err := s.App(ctx, id)
			if err != nil {
				b.Fatalf("GET app %s: %v", id, err)
			}
			if ap.TasksRunning >= n {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		took := time.Since(start)
		b.StopTimer()
		cpu = allCPU() - cpu
		sum.took += took.Seconds()
		sum.bare += bare.Seconds()
		sum.x += took.Seconds() / bare.Seconds()
		sum.cpu += cpu.Seconds()
		if resp, err := s.Do(ctx, "DELETE", "/v2/apps"+id, nil); err != nil || resp.Status != 200 {
			b.Fatalf("DELETE /v2/apps%s = %v, %v; want 200", id, resp, err)
		}
		testcluster.Eventually(b, 120*time.Second, func() bool {
			_, err := s.App(ctx, id)
			ds, derr := s.Deployments(ctx)
			return apiclient.IsStatus(err, 404) && derr == nil && len(ds) == 0
		}, "app deleted")
		b.StartTimer()
	}
	r := float64(round)
	b.ReportMetric(sum.took/r, "s_post_to_all_running")
	b.ReportMetric(sum.bare/r, "s_bare_spawn")
	b.ReportMetric(sum.x/r, "x_bare")
	b.ReportMetric(sum.cpu/r, "s_cpu_services_master_agent")
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
