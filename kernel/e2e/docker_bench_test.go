package e2e

import (
	"fmt"
	"os/exec"
	"sync"
	"testing"
	"time"

	"corral/internal/dockertest"
	"corral/internal/testcluster"
	"corral/kernel/mesos"
)

// BenchmarkDockerLaunch50 measures, from outside through the scheduler
// API, how long 50 DOCKER tasks of the test image take from one ACCEPT
// to all TASK_RUNNING on one agent with the docker containerizer, and in
// the same round how long `docker run -d` of the same image takes for 50
// containers started at once, for comparison.
func BenchmarkDockerLaunch50(b *testing.B) {
	const n = 50
	dockertest.Engine(b)
	c := testcluster.Start(b, testcluster.Options{Agents: 1, AgentArgs: []string{"--containerizers", "docker,mesos"},
		Resources: func(int) string { return "cpus:64;mem:65536;disk:10000;ports:[31000-32000]" }})
	f := startFrameworkWith(b, c.URL, plainInfo("dockerbench"), c.Client("services"))
	var sumAPI, sumCLI float64
	round := 0
	for b.Loop() {
		round++
		b.StopTimer()
		// docker run -d of the same image, 50 at once.
		start := time.Now()
		var wg sync.WaitGroup
		names := make([]string, n)
		for i := range names {
			names[i] = fmt.Sprintf("corral-bench-%d-%d-%d", time.Now().UnixNano(), round, i)
			wg.Add(1)
			go func(name string) {
				defer wg.Done()
				if out, err := exec.Command("docker", "run", "-d", "--name", name, "--network", "host",
					dockertest.Image, "sleep", "600").CombinedOutput(); err != nil {
					b.Errorf("docker run: %v: %s", err, out)
				}
			}(names[i])
		}
		wg.Wait()
		cli := time.Since(start)
		_ = exec.Command("docker", append([]string{"rm", "-f"}, names...)...).Run()

		tasks := make([]mesos.TaskInfo, n)
		for i := range tasks {
			tasks[i] = shellTask(fmt.Sprintf("d%d-t%d", round, i), "exec sleep 600", 0.01, 32)
			tasks[i].Container = &mesos.ContainerInfo{Type: mesos.ContainerDocker, Docker: &mesos.DockerInfo{Image: dockertest.Image}}
		}
		b.StartTimer()
		f.launch(tasks...)
		for i := range tasks {
			f.waitState(tasks[i].TaskID.Value, 300*time.Second, mesos.TaskRunning)
		}
		b.StopTimer()
		f.mu.Lock()
		sent := f.launchedAt
		f.mu.Unlock()
		sumAPI += time.Since(sent).Seconds()
		sumCLI += cli.Seconds()
		for _, tk := range tasks {
			_ = f.client.Kill(b.Context(), tk.TaskID.Value, "")
		}
		for _, tk := range tasks {
			f.waitState(tk.TaskID.Value, 300*time.Second, mesos.TaskKilled, mesos.TaskFailed)
		}
		b.StartTimer()
	}
	r := float64(round)
	b.ReportMetric(sumAPI/r, "s_accept_to_all_running")
	b.ReportMetric(sumCLI/r, "s_docker_run_50")
	b.ReportMetric(sumAPI/sumCLI, "x_docker_run")
}
