package runner

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// launchAll starts n `sleep 600` tasks through r with a few launcher
// goroutines (as the agent does) and returns their pids.
func launchAll(tb testing.TB, r *Runner, root string, n int) []int {
	pids := make([]int, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				dir := filepath.Join(root, strconv.Itoa(i))
				if err := os.MkdirAll(dir, 0o755); err != nil {
					tb.Error(err)
					continue
				}
				pr, err := r.Start(Spec{ID: fmt.Sprint(i), Argv: []string{"sleep", "600"}, Env: []string{"PATH=/usr/bin:/bin"},
					Dir: dir, ExitFile: filepath.Join(dir, "exit"), Cgroup: fmt.Sprint(i), CPUs: 0.01, MemMB: 32})
				if err != nil {
					tb.Error(err)
					continue
				}
				pids[i] = pr.PID
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return pids
}

func killAll(tb testing.TB, r *Runner, pids []int) {
	for _, pid := range pids {
		if pid > 0 {
			unix.Kill(-pid, unix.SIGKILL)
		}
	}
	deadline := time.After(30 * time.Second)
	for got := 0; got < len(pids); got++ {
		select {
		case <-r.Exits():
		case <-deadline:
			tb.Fatalf("only %d of %d exits", got, len(pids))
		}
	}
}

// BenchmarkLaunch500 starts 500 `sleep 600` tasks through the runner
// (wrapper, sandbox output files, and with cgroups a cpu and memory cgroup
// per task) and, in the same iteration, 500 bare `sleep 600` processes
// (spawnDirect). It reports both wall times, their ratio (x_direct), and
// the CPU time of this process plus its children (wrappers, tasks) per
// round (start, kill and reap), in all and of the runner alone (this
// process: the agent's side): steadier than wall time on a shared
// machine.
func BenchmarkLaunch500(b *testing.B) {
	for _, mode := range []string{"auto", "none"} {
		b.Run("cgroups="+mode, func(b *testing.B) {
			r := newTestRunner(b, mode)
			got, _ := r.Cgroups()
			b.Logf("cgroups: %s", got)
			var sum struct{ launch, direct, x, self, cpu, directCPU float64 }
			rounds := 0
			for b.Loop() {
				rounds++
				b.StopTimer()
				direct, directCPU := spawnDirect(b, 500)
				root := b.TempDir()
				self, cpu := selfCPUTime(), cpuTime()
				b.StartTimer()
				start := time.Now()
				pids := launchAll(b, r, root, 500)
				took := time.Since(start)
				b.StopTimer()
				// The children's CPU is counted once they are reaped.
				killAll(b, r, pids)
				self, cpu = selfCPUTime()-self, cpuTime()-cpu
				sum.launch += took.Seconds() * 1000
				sum.direct += direct.Seconds() * 1000
				sum.x += took.Seconds() / direct.Seconds()
				sum.self += self.Seconds() * 1000
				sum.cpu += cpu.Seconds() * 1000
				sum.directCPU += directCPU.Seconds() * 1000
				b.StartTimer()
			}
			n := float64(rounds)
			b.ReportMetric(sum.launch/n, "ms/500")
			b.ReportMetric(sum.direct/n, "ms_direct/500")
			b.ReportMetric(sum.x/n, "x_direct")
			b.ReportMetric(sum.self/n, "ms_cpu_runner/500")
			b.ReportMetric(sum.cpu/n, "ms_cpu/500")
			b.ReportMetric(sum.directCPU/n, "ms_cpu_direct/500")
		})
	}
}

// cpuTime is the CPU time used by this process and its reaped children.
func cpuTime() time.Duration {
	var self, children unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &self)
	unix.Getrusage(unix.RUSAGE_CHILDREN, &children)
	return time.Duration(self.Utime.Nano() + self.Stime.Nano() + children.Utime.Nano() + children.Stime.Nano())
}

// selfCPUTime is the CPU time used by this process alone.
func selfCPUTime() time.Duration {
	var self unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &self)
	return time.Duration(self.Utime.Nano() + self.Stime.Nano())
}

// spawnDirect starts n bare `sleep 600` processes one after another and
// returns the time that took, then kills and reaps them; cpu is the CPU
// time of it all.
func spawnDirect(tb testing.TB, n int) (wall, cpu time.Duration) {
	cpu = cpuTime()
	start := time.Now()
	cmds := make([]*exec.Cmd, 0, n)
	for i := 0; i < n; i++ {
		c := exec.Command("sleep", "600")
		if err := c.Start(); err != nil {
			tb.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	wall = time.Since(start)
	for _, c := range cmds {
		c.Process.Kill()
		c.Wait()
	}
	return wall, cpuTime() - cpu
}

// BenchmarkSpawn500Direct is the baseline alone: 500 bare exec.Command
// spawns.
func BenchmarkSpawn500Direct(b *testing.B) {
	for b.Loop() {
		wall, _ := spawnDirect(b, 500)
		b.ReportMetric(float64(wall.Milliseconds()), "ms/500")
	}
}

// TestMemoryPerTask measures what a running task costs on the agent side:
// Go heap and goroutines in the runner, plus the wrapper shell (its
// proportional set size: shared pages of /bin/sh and libc are split among
// all the wrappers).
func TestMemoryPerTask(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 200 processes")
	}
	const n = 200
	r := newTestRunner(t, "auto")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	pids := launchAll(t, r, t.TempDir(), n)
	defer killAll(t, r, pids)
	runtime.GC()
	runtime.ReadMemStats(&after)
	goroutines := runtime.NumGoroutine() - g0
	heap := float64(after.HeapInuse+after.StackInuse) - float64(before.HeapInuse+before.StackInuse)
	var rss, pss float64
	for _, pid := range pids {
		rss += procKB(pid, "status", "VmRSS:")
		pss += procKB(pid, "smaps_rollup", "Pss:")
	}
	perGo := heap / n / 1024
	t.Logf("per task: Go heap+stacks %.1f KB (%d goroutines for %d tasks), wrapper VmRSS %.0f KB, wrapper Pss %.0f KB",
		perGo, goroutines, n, rss/n, pss/n)
	if total := perGo + pss/n; total > 2048 {
		t.Errorf("agent-side memory per task = %.0f KB; want <= 2048 KB", total)
	}
}

func procKB(pid int, file, key string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, key) {
			f := strings.Fields(l[len(key):])
			if len(f) > 0 {
				v, _ := strconv.ParseFloat(f[0], 64)
				return v
			}
		}
	}
	return 0
}
