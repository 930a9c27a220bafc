package e2e

import (
	"fmt"
	"testing"
	"time"

	"corral/internal/testcluster"
	"corral/kernel/mesos"
)

// BenchmarkExecutorLaunch50 measures from outside, through the scheduler
// API, one ACCEPT of 50 `sleep 600` tasks to all TASK_RUNNING on one
// agent: as command tasks (the agent's own executor), as tasks of one
// custom executor (the example shell executor, fetched as an executable
// URI and started in the first round, then already running: "warm"),
// and with an executor of their own each, started for them ("cold").
func BenchmarkExecutorLaunch50(b *testing.B) {
	const n = 50
	url := exampleExecutor(b)
	c := testcluster.Start(b, testcluster.Options{Agents: 1,
		Resources: func(int) string { return "cpus:64;mem:65536;disk:10000;ports:[31000-32000]" }})
	f := startFrameworkWith(b, c.URL, plainInfo("execbench"), c.Client("services"))
	shared := shellExecutor("shared", url)
	shared.Resources = shared.Resources[:1]
	for _, mode := range []string{"command", "executor-warm", "executor-per-task"} {
		b.Run(mode, func(b *testing.B) {
			var sum float64
			round := 0
			for b.Loop() {
				round++
				b.StopTimer()
				tasks := make([]mesos.TaskInfo, n)
				for i := range tasks {
					id := fmt.Sprintf("%s-%d-%d", mode, round, i)
					switch mode {
					case "command":
						tasks[i] = shellTask(id, "sleep 600", 0.01, 16)
					case "executor-warm":
						tasks[i] = executorTask(id, "sleep 600", shared)
					default:
						own := shellExecutor("own-"+id, url)
						own.Resources = own.Resources[:1]
						tasks[i] = executorTask(id, "sleep 600", own)
					}
					tasks[i].Resources = tasks[i].Resources[:1]
				}
				if mode == "executor-warm" && round == 1 {
					// Start the shared executor outside the measure.
					warm := executorTask(fmt.Sprintf("warm-%d", round), "sleep 600", shared)
					warm.Resources = warm.Resources[:1]
					f.launch(warm)
					f.waitState(warm.TaskID.Value, 60*time.Second, mesos.TaskRunning)
				}
				b.StartTimer()
				start := time.Now()
				f.launch(tasks...)
				for _, tk := range tasks {
					f.waitState(tk.TaskID.Value, 120*time.Second, mesos.TaskRunning)
				}
				b.StopTimer()
				f.mu.Lock()
				sent := f.launchedAt
				f.mu.Unlock()
				sum += time.Since(sent).Seconds()
				b.Logf("%s round %d: %.3fs from the last ACCEPT, %.3fs from the launch call", mode, round, time.Since(sent).Seconds(), time.Since(start).Seconds())
				for _, tk := range tasks {
					_ = f.client.Kill(b.Context(), tk.TaskID.Value, "")
				}
				for _, tk := range tasks {
					f.waitState(tk.TaskID.Value, 120*time.Second, mesos.TaskKilled, mesos.TaskFailed)
				}
				b.StartTimer()
			}
			b.ReportMetric(sum/float64(round), "s_accept_to_all_running")
		})
	}
}
