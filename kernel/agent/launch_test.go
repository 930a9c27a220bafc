package agent

import (
	"fmt"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"corral/kernel/agent/update"
	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// TestLaunch500 launches 500 `sleep 600` tasks in one LAUNCH and measures
// the time until the master has seen all of them RUNNING (STARTING
// acknowledged first, as a framework would), next to the time to spawn 500
// processes directly. It reports, it does not time out on a slow machine:
// run `go test -run Launch500 -v` to read the figures.
func TestLaunch500(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 1000 processes")
	}
	const n = 500
	m := newFakeMaster(t)
	cfg := testConfig(t, m.srv.URL)
	cfg.Resources = "cpus:64;mem:65536;disk:1000;ports:[31000-31010]"
	startAgent(t, cfg)
	m.waitRegister(t)

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tasks := make([]mesos.TaskInfo, n)
	for i := range tasks {
		tasks[i] = cmdTask(fmt.Sprintf("s%03d", i), "sleep 600")
		tasks[i].Resources = tasks[i].Resources[:2]
	}
	start := time.Now()
	m.event(launch("fw-bench", tasks...))
	waitFor(t, 60*time.Second, "500 tasks STARTING", func() bool { return m.count(mesos.TaskStarting) >= n })
	startingTime := time.Since(start)
	waitFor(t, 60*time.Second, "500 tasks RUNNING", func() bool { return m.count(mesos.TaskRunning) >= n })
	agentTime := time.Since(start)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	start = time.Now()
	cmds := make([]*exec.Cmd, 0, n)
	for i := 0; i < n; i++ {
		c := exec.Command("sleep", "600")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	directTime := time.Since(start)
	for _, c := range cmds {
		c.Process.Kill()
		c.Wait()
	}
	heap := (float64(after.HeapInuse+after.StackInuse) - float64(before.HeapInuse+before.StackInuse)) / n / 1024
	t.Logf("500 tasks STARTING after %v", startingTime.Round(time.Millisecond))
	t.Logf("500 tasks RUNNING via agent in %v; 500 direct spawns in %v; ratio %.2f; Go heap+stacks per task %.1f KB (agent, runner and fake master together)",
		agentTime.Round(time.Millisecond), directTime.Round(time.Millisecond), agentTime.Seconds()/directTime.Seconds(), heap)

	m.event(agentproto.Event{Type: agentproto.EventShutdownFramework, ShutdownFramework: &agentproto.ShutdownFramework{FrameworkID: "fw-bench"}})
	waitFor(t, 60*time.Second, "500 tasks KILLED", func() bool { return m.count(mesos.TaskKilled) >= n })
}

// count returns how many distinct tasks have reached state s.
func (m *fakeMaster) count(s mesos.TaskState) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[update.Key]bool{}
	for _, u := range m.updates {
		if u.Status.State == s {
			seen[update.KeyOf(u)] = true
		}
	}
	return len(seen)
}
