package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"corral/internal/testcluster"
	"corral/kernel/mesos"
)

// rssKB returns a process's resident set size in kB.
func rssKB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			n, _ := strconv.Atoi(strings.Fields(line)[1])
			return n
		}
	}
	return 0
}

// BenchmarkLaunch500 launches 500 `sleep 600` tasks through the scheduler
// API on one local agent and reports the time from ACCEPT to the last
// TASK_RUNNING, next to the time to spawn 500 such processes directly in
// the same run, and the agent's memory per running task.
func BenchmarkLaunch500(b *testing.B) {
	const n = 500
	c := testcluster.Start(b, testcluster.Options{Agents: 1, Resources: func(int) string { return "cpus:64;mem:65536;disk:10000;ports:[31000-32000]" }})
	f := startFramework(b, c.URL, plainInfo("bench"))
	agentPID := c.Agents[0].PID()
	round := 0
	for b.Loop() {
		round++
		b.StopTimer()
		// Bare spawn of the same processes, for comparison.
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

		rssBefore := rssKB(agentPID)
		tasks := make([]mesos.TaskInfo, n)
		for i := range tasks {
			tasks[i] = shellTask(fmt.Sprintf("r%d-t%d", round, i), "sleep 600", 0.01, 16)
		}
		b.StartTimer()
		f.launch(tasks...)
		for i := range tasks {
			f.waitState(tasks[i].TaskID.Value, 120*time.Second, mesos.TaskRunning)
		}
		b.StopTimer()
		f.mu.Lock()
		sent := f.launchedAt
		f.mu.Unlock()
		viaAPI := time.Since(sent)
		rssAfter := rssKB(agentPID)
		wrapRSS, wrapPSS := wrapperMem(c.Agents[0].WorkDir)
		b.ReportMetric(viaAPI.Seconds(), "s_accept_to_all_running")
		b.ReportMetric(bare.Seconds(), "s_bare_spawn")
		b.ReportMetric(viaAPI.Seconds()/bare.Seconds(), "x_bare")
		b.ReportMetric(float64(rssAfter-rssBefore)/n, "agent_kB/task")
		b.ReportMetric(float64(wrapRSS)/n, "wrapper_rss_kB/task")
		b.ReportMetric(float64(wrapPSS)/n, "wrapper_pss_kB/task")
		for _, tk := range tasks {
			_ = f.client.Kill(b.Context(), tk.TaskID.Value, "")
		}
		for _, tk := range tasks {
			f.waitState(tk.TaskID.Value, 120*time.Second, mesos.TaskKilled, mesos.TaskFailed)
		}
		b.StartTimer()
	}
}

// wrapperMem sums the RSS and the PSS (resident memory with shared pages
// split among the processes sharing them) of the agent's per-task shell
// wrappers under workDir, in kB.
func wrapperMem(workDir string) (rss, pss int) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		if err != nil || !strings.HasPrefix(cwd, workDir) {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if !strings.Contains(string(cmdline), "corral-task") {
			continue // the task itself
		}
		rss += rssKB(pid)
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid)); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(line, "Pss:") {
					n, _ := strconv.Atoi(strings.Fields(line)[1])
					pss += n
				}
			}
		}
	}
	return rss, pss
}
