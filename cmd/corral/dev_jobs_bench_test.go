package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/internal/apiclient"
	"corral/internal/testcluster"
)

// BenchmarkDevCronLateness measures cron jobs as a user of `corral dev`
// sees them, through the jobs API only: CORRAL_BENCH_JOBS jobs (default
// 100) with the schedule "* * * * * *" (every second) run `true` for
// CORRAL_BENCH_SECONDS (default 20) on one agent. Every occurrence
// scheduled in that window is read back from /v1/jobs/{name}/runs, and
// its lateness is its startedAt less its scheduledFor. It reports the
// lateness (p50, p99, max), the occurrences not started by the end
// (unstarted), the missed and doubled ones (both must be 0), and the CPU
// spent per run by corral itself, by the tasks it started (with their
// wrappers and log writers), and by Postgres.
func BenchmarkDevCronLateness(b *testing.B) {
	jobs := benchEnvInt("CORRAL_BENCH_JOBS", 100)
	secs := benchEnvInt("CORRAL_BENCH_SECONDS", 20)
	d := startBenchDev(b, 1)
	api := apiclient.NewJobs(d.jobs, nil)
	ctx := context.Background()
	round := 0
	for b.Loop() {
		round++
		name := func(i int) string { return fmt.Sprintf("r%d-j%04d", round, i) }
		def := func(i int, disabled bool) map[string]any {
			return map[string]any{"name": name(i), "command": "true", "schedule": "* * * * * *", "disabled": disabled,
				"cpus": 0.001, "mem": 1, "disk": 0, "concurrencyPolicy": "ALLOW", "retries": 0}
		}
		eachJob(b, jobs, func(i int) error {
			_, err := api.Create(ctx, def(i, false))
			return err
		})
		// The window starts at the next whole second after every job
		// exists, so each job has the same occurrences in it.
		start := time.Now().Truncate(time.Second).Add(2 * time.Second)
		end := start.Add(time.Duration(secs) * time.Second)
		time.Sleep(time.Until(start))
		cpu0 := d.cpu(b)
		time.Sleep(time.Until(end))
		cpu1 := d.cpu(b)
		eachJob(b, jobs, func(i int) error {
			_, err := api.Do(ctx, "PUT", apiclient.JobPath(name(i)), def(i, true))
			return err
		})
		// Runs due in the window and not yet started by now are late
		// beyond measure; give the last ones a moment.
		time.Sleep(2 * time.Second)
		var late []time.Duration
		var mu sync.Mutex
		missed, doubled, unstarted, runs := 0, 0, 0, 0
		unstartedStates := map[string]int{}
		var reasons []string
		eachJob(b, jobs, func(i int) error {
			rs, err := api.Runs(ctx, name(i), 1000)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			seen := map[time.Time]bool{}
			for _, r := range rs {
				if r.ScheduledFor == nil {
					continue
				}
				at, err := time.Parse(time.RFC3339Nano, *r.ScheduledFor)
				if err != nil {
					return err
				}
				if at.Before(start) || !at.Before(end) {
					continue
				}
				if seen[at] {
					doubled++
				}
				seen[at] = true
				runs++
				switch {
				case r.State == "MISSED":
					missed++
				case r.StartedAt == nil:
					unstarted++
					unstartedStates[r.State]++
					if r.Reason != "" && len(reasons) < 5 {
						reasons = append(reasons, r.State+": "+r.Reason)
					}
				default:
					st, err := time.Parse(time.RFC3339Nano, *r.StartedAt)
					if err != nil {
						return err
					}
					late = append(late, st.Sub(at))
				}
			}
			return nil
		})
		if unstarted > 0 {
			b.Logf("runs of the window not started, by state: %v; reasons: %q", unstartedStates, reasons)
		}
		slices.Sort(late)
		pct := func(p float64) float64 {
			if len(late) == 0 {
				return 0
			}
			return late[int(p*float64(len(late)-1))].Seconds() * 1000
		}
		b.ReportMetric(pct(0.5), "ms_p50_lateness")
		b.ReportMetric(pct(0.99), "ms_p99_lateness")
		b.ReportMetric(pct(1), "ms_max_lateness")
		b.ReportMetric(float64(jobs*secs-runs), "absent")
		b.ReportMetric(float64(unstarted), "unstarted")
		b.ReportMetric(float64(missed), "missed")
		b.ReportMetric(float64(doubled), "doubled")
		n := float64(max(jobs*secs, 1))
		b.ReportMetric((cpu1.corral-cpu0.corral)*1000/n, "ms_cpu_corral/run")
		b.ReportMetric((cpu1.tasks-cpu0.tasks)*1000/n, "ms_cpu_tasks/run")
		b.ReportMetric((cpu1.postgres-cpu0.postgres)*1000/n, "ms_cpu_postgres/run")
	}
}

// eachJob calls fn(0..n-1) from 8 goroutines and fails b on an error.
func eachJob(b *testing.B, n int, fn func(i int) error) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

func benchEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// devCPU is CPU time in seconds, as /proc accounts it.
type devCPU struct {
	// corral is the corral process's own; tasks its children's, once
	// they are reaped; postgres the private Postgres's, its ended and
	// live backends included.
	corral, tasks, postgres float64
}

// cpu reads the CPU time spent so far by the cluster's processes.
func (d *benchDev) cpu(b *testing.B) devCPU {
	b.Helper()
	st, err := testcluster.ReadProcStat(d.cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	out := devCPU{corral: st.CPU.Seconds(), tasks: st.Children.Seconds()}
	pm, err := os.ReadFile(filepath.Join(d.dir, "pg", "data", "postmaster.pid"))
	if err != nil {
		b.Fatal(err)
	}
	ppid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(pm), "\n", 2)[0]))
	if err != nil {
		b.Fatalf("postmaster.pid: %v", err)
	}
	pg, err := testcluster.ReadProcStat(ppid)
	if err != nil {
		b.Fatal(err)
	}
	out.postgres = (pg.CPU + pg.Children).Seconds()
	// Postgres' backends are the postmaster's children; the tasks' log
	// writers and the tasks still running are corral's, counted with
	// the tasks (a process reaped between two readings moves from here
	// to corral's reaped children, so differences stay right).
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == ppid {
			continue
		}
		st, err := testcluster.ReadProcStat(pid)
		switch {
		case err != nil:
		case st.PPID == ppid:
			out.postgres += st.CPU.Seconds()
		case st.PPID == d.cmd.Process.Pid:
			out.tasks += (st.CPU + st.Children).Seconds()
		}
	}
	return out
}
