package e2e

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"corral/internal/testcluster"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkCronLateness runs CORRAL_BENCH_JOBS jobs (default 100) due
// every second for CORRAL_BENCH_SECONDS (default 20) on one local agent,
// and reports the lateness from scheduled time to task running (p50, p99,
// max), and the missed and doubled occurrences (both must be 0).
//
// It runs on a test cluster, which is not what a user runs: Postgres
// without fsync or synchronous commits, allocation cycles every 100 ms
// rather than every second, and the race detector when the tests have
// it; and it also counts the runs scheduled while the jobs are being
// disabled after the window. BenchmarkDevCronLateness (cmd/corral) measures
// `corral dev` as it is run, with the CPU spent per run.
func BenchmarkCronLateness(b *testing.B) {
	jobs := envInt("CORRAL_BENCH_JOBS", 100)
	secs := envInt("CORRAL_BENCH_SECONDS", 20)
	c := testcluster.Start(b, testcluster.Options{Agents: 1, Resources: func(int) string { return "cpus:200;mem:400000;disk:1000000;ports:[31000-32000]" }})
	f := c.StartFramework("jobs")
	a := api{t: b, url: f.URL}
	round := 0
	for b.Loop() {
		// The timer runs throughout: one iteration takes the whole window,
		// so b.Loop stops after it.
		round++
		name := func(i int) string { return fmt.Sprintf("r%d-j%04d", round, i) }
		for i := 0; i < jobs; i++ {
			a.must("POST", "/v1/jobs", map[string]any{"name": name(i), "command": "true", "schedule": "* * * * * *",
				"cpus": 0.01, "mem": 8, "disk": 0.001, "concurrencyPolicy": "ALLOW", "retries": 0}, 201)
		}
		start := time.Now()
		time.Sleep(time.Duration(secs) * time.Second)
		for i := 0; i < jobs; i++ {
			a.must("PUT", "/v1/jobs/"+name(i), map[string]any{"name": name(i), "command": "true", "schedule": "* * * * * *", "disabled": true}, 200)
		}
		time.Sleep(3 * time.Second)
		var late []time.Duration
		missed, doubled, runs := 0, 0, 0
		for i := 0; i < jobs; i++ {
			seen := map[string]bool{}
			for _, r := range a.runs(name(i)) {
				if r.ScheduledFor == nil {
					continue
				}
				sched, _ := time.Parse(time.RFC3339Nano, *r.ScheduledFor)
				if sched.Before(start) {
					continue
				}
				if seen[*r.ScheduledFor] {
					doubled++
				}
				seen[*r.ScheduledFor] = true
				runs++
				switch {
				case r.State == "MISSED":
					missed++
				case r.StartedAt != nil:
					st, _ := time.Parse(time.RFC3339Nano, *r.StartedAt)
					late = append(late, st.Sub(sched))
				}
			}
		}
		sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
		pct := func(p float64) float64 {
			if len(late) == 0 {
				return 0
			}
			return late[int(p*float64(len(late)-1))].Seconds() * 1000
		}
		b.ReportMetric(pct(0.5), "ms_p50_lateness")
		b.ReportMetric(pct(0.99), "ms_p99_lateness")
		b.ReportMetric(pct(1), "ms_max_lateness")
		b.ReportMetric(float64(runs), "occurrences")
		b.ReportMetric(float64(missed), "missed")
		b.ReportMetric(float64(doubled), "doubled")
	}
}

// BenchmarkChainHop runs a 100-job linear chain of `true` and reports the
// time per hop: from one job's run ending to the next one's ending.
func BenchmarkChainHop(b *testing.B) {
	const n = 100
	c := testcluster.Start(b, testcluster.Options{Agents: 1, Resources: func(int) string { return "cpus:8;mem:8192;disk:100000;ports:[31000-32000]" }})
	f := c.StartFramework("jobs")
	a := api{t: b, url: f.URL}
	a.must("POST", "/v1/jobs", map[string]any{"name": "c000", "command": "true", "schedule": "R1/2030-01-01T00:00:00Z/PT1H", "cpus": 0.01, "mem": 8}, 201)
	for i := 1; i < n; i++ {
		a.must("POST", "/v1/jobs", map[string]any{"name": fmt.Sprintf("c%03d", i), "command": "true", "parents": []string{fmt.Sprintf("c%03d", i-1)}, "cpus": 0.01, "mem": 8}, 201)
	}
	round := 0
	for b.Loop() {
		round++
		start := time.Now()
		a.must("POST", "/v1/jobs/c000/run", nil, 201)
		last := fmt.Sprintf("c%03d", n-1)
		testcluster.Eventually(b, 300*time.Second, func() bool { return count(a.runs(last), "SUCCEEDED") == round }, "the chain to finish")
		b.ReportMetric(time.Since(start).Seconds()*1000/n, "ms_per_hop")
	}
}
