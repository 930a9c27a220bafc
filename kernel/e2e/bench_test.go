package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"corral/internal/testcluster"
	"corral/kernel/detect"
	"corral/kernel/mesos"
	"corral/kernel/sched"
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
// the same run, the CPU time the master and the agent used in between
// (steadier than wall time on a shared machine), and the agent's memory
// per running task; each metric is
// the mean over the rounds. It runs twice: on a plain cluster and on a
// secured one (testcluster.Options.Secure: TLS between every process,
// credentials demanded by each and the development ACLs checked), where
// the framework presents the services principal's credential over TLS.
func BenchmarkLaunch500(b *testing.B) {
	for _, m := range securityModes {
		b.Run(m.name, func(b *testing.B) { benchLaunch(b, m.secure, 500) })
	}
	// The cost of the task loggers: the same without log rotation.
	b.Run("plain-no-rotation", func(b *testing.B) { benchLaunch(b, false, 500, "--task_log_max_size", "0") })
}

// securityModes are the two ways a benchmark's cluster runs.
var securityModes = []struct {
	name   string
	secure bool
}{
	{"plain", false},
	{"tls+auth", true},
}

// benchLaunch is BenchmarkLaunch500 with n tasks, on a plain or a
// secured cluster, its agent given agentArgs.
func benchLaunch(b *testing.B, secure bool, n int, agentArgs ...string) {
	// The test clusters' heartbeat (an agent silent for 600 ms is
	// unreachable) is for fault tests; an agent spawning 500 processes on
	// a busy machine can be silent longer, so the benchmark's master
	// waits as long as a default one does.
	c := testcluster.Start(b, testcluster.Options{Agents: 1, Secure: secure, AgentArgs: agentArgs,
		MasterArgs: []string{"--agent_ping_interval", "5s"},
		Resources:  func(int) string { return "cpus:64;mem:65536;disk:10000;ports:[31000-32000]" }})
	f := startFrameworkWith(b, c.URL, plainInfo("bench"), c.Client("services"))
	agentPID := c.Agents[0].PID()
	var sum struct{ viaAPI, bare, x, cpu, agentKB, wrapRSS, wrapPSS float64 }
	kernelCPU := func() time.Duration { return c.Master.CPUTime() + c.Agents[0].CPUTime() }
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
		cpu := kernelCPU()
		b.StartTimer()
		f.launch(tasks...)
		for i := range tasks {
			f.waitState(tasks[i].TaskID.Value, 120*time.Second, mesos.TaskRunning)
		}
		b.StopTimer()
		cpu = kernelCPU() - cpu
		f.mu.Lock()
		sent := f.launchedAt
		f.mu.Unlock()
		viaAPI := time.Since(sent)
		rssAfter := rssKB(agentPID)
		wrapRSS, wrapPSS := wrapperMem(c.Agents[0].WorkDir)
		sum.viaAPI += viaAPI.Seconds()
		sum.bare += bare.Seconds()
		sum.x += viaAPI.Seconds() / bare.Seconds()
		sum.cpu += cpu.Seconds()
		sum.agentKB += float64(rssAfter-rssBefore) / float64(n)
		sum.wrapRSS += float64(wrapRSS) / float64(n)
		sum.wrapPSS += float64(wrapPSS) / float64(n)
		for _, tk := range tasks {
			_ = f.client.Kill(b.Context(), tk.TaskID.Value, "")
		}
		for _, tk := range tasks {
			f.waitState(tk.TaskID.Value, 120*time.Second, mesos.TaskKilled, mesos.TaskFailed)
		}
		b.StartTimer()
	}
	r := float64(round)
	b.ReportMetric(sum.viaAPI/r, "s_accept_to_all_running")
	b.ReportMetric(sum.bare/r, "s_bare_spawn")
	b.ReportMetric(sum.x/r, "x_bare")
	b.ReportMetric(sum.cpu/r, "s_cpu_master_agent")
	b.ReportMetric(sum.agentKB/r, "agent_kB/task")
	b.ReportMetric(sum.wrapRSS/r, "wrapper_rss_kB/task")
	b.ReportMetric(sum.wrapPSS/r, "wrapper_pss_kB/task")
}

// startFrameworkWith is startFramework calling the masters with hc (its
// TLS setup and credential).
func startFrameworkWith(t testing.TB, master string, info mesos.FrameworkInfo, hc *http.Client) *framework {
	t.Helper()
	f := &framework{t: t, updates: map[string][]mesos.TaskStatus{}, changed: make(chan struct{}, 1)}
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	src, err := detect.New(ctx, master, detect.Options{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	cl, err := sched.New(sched.Config{
		Detector:        src,
		Framework:       info,
		HTTPClient:      hc,
		AutoAcknowledge: true,
		BackoffMax:      time.Second,
	}, sched.HandlerFunc(f.handle), log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	f.client = cl
	f.cancel = cancel
	f.done = make(chan struct{})
	go func() { defer close(f.done); _ = cl.Run(ctx) }()
	t.Cleanup(f.stop)
	return f
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
