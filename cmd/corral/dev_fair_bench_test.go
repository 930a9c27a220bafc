package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"corral/internal/apiclient"
	"corral/kernel/mesos"
	"corral/kernel/resource"
	"corral/kernel/sched"
)

// BenchmarkDevFairOffers measures how offers are shared between the jobs
// framework and another framework on `corral dev` (one agent), from
// outside: a greedy framework subscribes and launches `sleep 0.5` tasks of
// 0.25 cpus, at most 6 at once (1.5 of the agent's 2 cpus), on every offer as fast as offers
// come, first alone and then while
// CORRAL_BENCH_JOBS jobs (default 200) run every second, each phase for
// CORRAL_BENCH_SECONDS (default 10). It reports the greedy framework's
// finished tasks a second in each phase, their ratio (share; goal ≥ 0.8),
// and the jobs' runs started a second in the second phase.
func BenchmarkDevFairOffers(b *testing.B) {
	jobs := benchEnvInt("CORRAL_BENCH_JOBS", 200)
	secs := benchEnvInt("CORRAL_BENCH_SECONDS", 10)
	d := startBenchDev(b, 1)
	// Greedy's tasks need much of the agent's cpus and little cpu time, so
	// that its rate is bound by the offers it gets, not by the machine.
	g := startGreedy(b, d.master, greedyShape{name: "greedy", inFlight: 6, cpus: 0.25, command: "sleep 0.5"})
	api := apiclient.NewJobs(d.jobs, nil)
	ctx := context.Background()
	window := time.Duration(secs) * time.Second
	round := 0
	for b.Loop() {
		round++
		alone := g.finishedIn(window)
		name := func(i int) string { return fmt.Sprintf("f%d-j%04d", round, i) }
		def := func(i int, disabled bool) map[string]any {
			return map[string]any{"name": name(i), "command": "true", "schedule": "* * * * * *", "disabled": disabled,
				"cpus": 0.001, "mem": 1, "disk": 0, "concurrencyPolicy": "ALLOW", "retries": 0}
		}
		eachJob(b, jobs, func(i int) error { _, err := api.Create(ctx, def(i, false)); return err })
		time.Sleep(3 * time.Second)
		start := time.Now()
		shared := g.finishedIn(window)
		end := time.Now()
		eachJob(b, jobs, func(i int) error {
			_, err := api.Do(ctx, "PUT", apiclient.JobPath(name(i)), def(i, true))
			return err
		})
		var started atomic.Int64
		eachJob(b, jobs, func(i int) error {
			rs, err := api.Runs(ctx, name(i), 1000)
			if err != nil {
				return err
			}
			for _, r := range rs {
				if r.StartedAt == nil {
					continue
				}
				if at, err := time.Parse(time.RFC3339Nano, *r.StartedAt); err == nil && !at.Before(start) && at.Before(end) {
					started.Add(1)
				}
			}
			return nil
		})
		time.Sleep(2 * time.Second) // the last runs end before the next phase
		b.ReportMetric(alone, "greedy_tasks/s_alone")
		b.ReportMetric(shared, "greedy_tasks/s_with_jobs")
		b.ReportMetric(shared/max(alone, 1e-9), "greedy_share")
		b.ReportMetric(float64(started.Load())/end.Sub(start).Seconds(), "job_runs/s")
	}
}

// greedy is a framework that launches tasks of one shape on every offer
// it gets, as many as fit with at most shape.inFlight unfinished, and
// counts those finished. (The bound keeps the agent from drowning in
// launches, so that what is measured is how often greedy gets offers.)
type greedy struct {
	shape    greedyShape
	finished atomic.Int64
	seq      atomic.Int64
	inFlight atomic.Int64
}

// greedyShape is a greedy framework's name, its bound on unfinished
// tasks, and its tasks' cpus and command (each takes 4 MB of memory).
type greedyShape struct {
	name     string
	inFlight int
	cpus     float64
	command  string
}

func startGreedy(b *testing.B, master string, shape greedyShape) *greedy {
	b.Helper()
	g := &greedy{shape: shape}
	ctx, cancel := context.WithCancel(context.Background())
	cl, err := sched.New(sched.Config{
		Masters:         []string{master},
		Framework:       mesos.FrameworkInfo{User: "nobody", Name: shape.name},
		AutoAcknowledge: true,
	}, sched.HandlerFunc(g.handle), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = cl.Run(ctx) })
	b.Cleanup(func() { cancel(); wg.Wait() })
	return g
}

// finishedIn returns the tasks finished a second over the next d.
func (g *greedy) finishedIn(d time.Duration) float64 {
	n0 := g.finished.Load()
	time.Sleep(d)
	return float64(g.finished.Load()-n0) / d.Seconds()
}

func (g *greedy) handle(ctx context.Context, c *sched.Client, ev *mesos.Event) {
	switch ev.Type {
	case mesos.EventOffers:
		for _, o := range ev.Offers.Offers {
			res, _ := resource.FromWire(o.Resources)
			n := min(g.shape.inFlight-int(g.inFlight.Load()), int(res.Scalar("cpus")/g.shape.cpus), int(res.Scalar("mem")/4))
			var tasks []mesos.TaskInfo
			for range n {
				id := fmt.Sprintf("%s-%d", g.shape.name, g.seq.Add(1))
				tasks = append(tasks, mesos.TaskInfo{Name: id, TaskID: mesos.ID{Value: id}, AgentID: o.AgentID,
					Resources: resource.Scalar("cpus", g.shape.cpus).Add(resource.Scalar("mem", 4)).Wire("*"),
					Command:   &mesos.CommandInfo{Value: g.shape.command}})
			}
			g.inFlight.Add(int64(len(tasks)))
			refuse := mesos.Float(0)
			if len(tasks) == 0 {
				refuse = 0.05
				_ = c.Decline(ctx, []mesos.ID{o.ID}, &mesos.Filters{RefuseSeconds: &refuse})
				continue
			}
			_ = c.Launch(ctx, []mesos.ID{o.ID}, tasks, &mesos.Filters{RefuseSeconds: &refuse})
		}
	case mesos.EventUpdate:
		switch ev.Update.Status.State {
		case mesos.TaskFinished:
			g.finished.Add(1)
			g.inFlight.Add(-1)
		case mesos.TaskFailed, mesos.TaskKilled, mesos.TaskLost, mesos.TaskError, mesos.TaskDropped, mesos.TaskGone:
			g.inFlight.Add(-1)
		}
	}
}

// BenchmarkDevDRF measures the allocator's fairness on `corral dev` (one
// agent, two cpus) from outside: five frameworks of different demand run
// `sleep 1` tasks of 0.05 cpus, bounded to 4, 8, 16, 32 and 64 at once
// (124 wanted, 40 fit), for CORRAL_BENCH_SECONDS (default 10). Under
// dominant resource fairness the one that wants 4 gets them all and the
// four others share the rest evenly, about 9 each: about 4, 9, 9, 9 and 9
// tasks a second. It reports each framework's finished tasks a second
// and Jain's index of the four that want more than their share (1 is
// perfectly even).
func BenchmarkDevDRF(b *testing.B) {
	secs := benchEnvInt("CORRAL_BENCH_SECONDS", 10)
	d := startBenchDev(b, 1)
	var gs []*greedy
	for _, n := range []int{4, 8, 16, 32, 64} {
		gs = append(gs, startGreedy(b, d.master, greedyShape{name: fmt.Sprintf("want%d", n), inFlight: n, cpus: 0.05, command: "sleep 1"}))
	}
	time.Sleep(3 * time.Second) // past the first tasks' start
	for b.Loop() {
		n0 := make([]int64, len(gs))
		for i, g := range gs {
			n0[i] = g.finished.Load()
		}
		time.Sleep(time.Duration(secs) * time.Second)
		var sum, sumSq float64
		for i, g := range gs {
			rate := float64(g.finished.Load()-n0[i]) / float64(secs)
			b.ReportMetric(rate, fmt.Sprintf("tasks/s_%s", g.shape.name))
			if i > 0 {
				sum, sumSq = sum+rate, sumSq+rate*rate
			}
		}
		b.ReportMetric(sum*sum/(4*max(sumSq, 1e-9)), "jain_index")
	}
}
