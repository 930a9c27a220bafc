//go:build chaos

package chaos

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"corral/internal/testcluster"
	"corral/kernel/master"
)

func TestMain(m *testing.M) { testcluster.Main(m) }

// Environment variables of the suite.
const (
	// envZKServers sets the ZooKeeper ensemble size (1 or 3).
	envZKServers = "CORRAL_CHAOS_ZK_SERVERS"
	// envSummary names a file the summary table is written to as well.
	envSummary = "CORRAL_CHAOS_SUMMARY"
	// envKeepLogs, when set, keeps the logs of passed scenarios too.
	envKeepLogs = "CORRAL_CHAOS_KEEP_LOGS"
)

// defaultZKServers is the ensemble size when envZKServers is unset.
const defaultZKServers = 3

// Deadlines. They are generous on purpose: the suite measures how long
// things take, it does not assert it.
const (
	convergeTimeout = 90 * time.Second // from the end of the fault to the desired state
	settleTimeout   = 30 * time.Second // for runs and probe tasks to finish once converged
	// maxProblems caps the violations printed per check.
	maxProblems = 25
	// steadyBefore is how long the load runs before the fault.
	steadyBefore = 4 * time.Second
	// stableFor is how long the converged state must hold before the
	// verdict.
	stableFor = 5 * time.Second
	// minPartition is the shortest partition of the partition scenario.
	minPartition = 8 * time.Second
	// pinnedRunDeadline is how long after its agent was killed a run
	// there may still be active.
	pinnedRunDeadline = 60 * time.Second
)

// TestChaos runs the scenarios in order, each on a cluster of its own,
// and logs the summary table (also written to $CORRAL_CHAOS_SUMMARY).
func TestChaos(t *testing.T) {
	zkServers := defaultZKServers
	if v := os.Getenv(envZKServers); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || (n != 1 && n != 3) {
			t.Fatalf("%s=%q: want 1 or 3", envZKServers, v)
		}
		zkServers = n
	}
	began := time.Now()
	for _, sc := range scenarios() {
		sc.opts.zkServers = zkServers
		t.Run(sc.name, func(t *testing.T) { runScenario(t, sc) })
	}
	resultsMu.Lock()
	table := summaryTable(results, time.Since(began))
	resultsMu.Unlock()
	table = fmt.Sprintf("chaos summary (ZooKeeper: %d server(s))\n%s", zkServers, table)
	t.Log("\n" + table)
	if p := os.Getenv(envSummary); p != "" {
		if err := os.WriteFile(p, []byte(table), 0o644); err != nil {
			t.Errorf("writing the summary: %v", err)
		}
	}
}

// runScenario starts a cluster and its load, injects the fault, waits for
// the cluster to converge, checks the invariants and records the row.
func runScenario(t *testing.T, sc scenario) {
	began := time.Now()
	r := result{scenario: sc.name, newLeader: "-", backToDesired: "-", verdict: "broke off"}
	f := &faultRun{t: t}
	defer func() {
		r.took = time.Since(began)
		r.notes = append(r.notes, f.notes...)
		if t.Skipped() {
			r.verdict = "skipped"
		}
		record(r)
	}()

	c := startCluster(t, sc.opts)
	l := startLoad(t, c)
	f.c, f.l = c, l
	f.watch = watchLeaders(c, sc.watch...)
	defer f.watch.stop()
	if !sc.quiet {
		l.startWriter()
	}
	defer l.stopWriterAndWait()
	time.Sleep(steadyBefore) // steady load, writes through every instance

	if sc.onAgent {
		f.agent, f.agentID = target(t, f)
	}
	if sc.prepare != nil {
		sc.prepare(t, f)
	}
	before, err := runningTasks(c)
	if err != nil {
		t.Fatal(err)
	}
	epochsBefore := epochs(c.db, sc.watch)
	if sc.scaleTo > 0 {
		l.scale(t, sleepAppID, sc.scaleTo)
	}
	sc.fault(t, f)
	healedAt := time.Now()
	t.Logf("%s: fault over", healedAt.Format("15:04:05.000"))
	time.Sleep(3 * time.Second) // the writer goes on through and just after the fault
	l.stopWriterAndWait()
	if !sc.quiet {
		r.notes = append(r.notes, l.writeStats())
	}

	converged := awaitConvergence(t, c, l, sc, healedAt)
	if converged {
		r.backToDesired = fmt.Sprintf("%.1fs", time.Since(f.faultAt).Seconds())
		t.Logf("converged %s after the fault", r.backToDesired)
		time.Sleep(stableFor) // what converged must stay so
	} else {
		r.backToDesired = fmt.Sprintf("not in %v", convergeTimeout)
	}
	f.watch.stop()
	r.newLeader = f.watch.summary()
	if len(sc.watch) > 0 {
		// A term begun by the same instance (it stepped down and was
		// elected again) shows in the epochs, not in who leads.
		r.notes = append(r.notes, "without a leader after the fault: "+f.watch.withoutLeader(),
			"terms begun since just before the fault: "+termsBegun(sc.watch, epochsBefore, epochs(c.db, sc.watch)))
	}

	problems := judge(c, l, sc, f, before, &r)
	for _, p := range capped(problems) {
		t.Error(p)
	}
	if len(problems) == 0 {
		r.verdict = "ok"
	} else {
		r.verdict = fmt.Sprintf("%d violations", len(problems))
	}
}

// awaitConvergence polls, up to convergeTimeout after the fault, until
// everything the APIs acknowledged is back in place and every component
// works again; it logs what is still wrong when that does not happen.
func awaitConvergence(t *testing.T, c *cluster, l *load, sc scenario, healedAt time.Time) bool {
	converge := func() []string {
		ps := clusterProblems(c, sc.agentsAfter)
		ps = append(ps, appProblems(c, l)...)
		ps = append(ps, jobsAliveProblems(c, healedAt)...)
		if !l.probe.finishedSince(healedAt) {
			ps = append(ps, "probe: no task launched after the fault has finished")
		}
		return ps
	}
	for deadline := healedAt.Add(convergeTimeout); ; time.Sleep(500 * time.Millisecond) {
		last := converge()
		if len(last) == 0 {
			return true
		}
		if time.Now().After(deadline) {
			t.Logf("not back to the desired state %v after the fault; still wrong: %s", convergeTimeout, strings.Join(capped(last), "; "))
			return false
		}
	}
}

// judge checks every invariant once the cluster has converged (or given
// up on it), fills in the row's counts and notes, and returns the
// violations.
func judge(c *cluster, l *load, sc scenario, f *faultRun, before map[string]string, r *result) []string {
	var problems []string
	problems = append(problems, clusterProblems(c, sc.agentsAfter)...)
	problems = append(problems, appProblems(c, l)...)
	problems = append(problems, appListingProblems(c)...)
	if !sc.replaces {
		problems = append(problems, survivorProblems(c, before)...)
	}
	problems = append(problems, jobsExistProblems(c, l)...)
	if sc.check != nil {
		problems = append(problems, sc.check(f)...)
	}

	for _, rep := range settleRuns(c) {
		r.runsMissed += rep.missed
		r.runsSkipped += rep.skipped
		r.runsDoubled += rep.doubled
		problems = append(problems, rep.problems...)
	}
	problems = append(problems, activeRunProblems(c)...)

	pr := settleProbe(l.probe, f.deadAgent)
	problems = append(problems, pr.problems...)
	r.tasksLost = pr.byOutcome[probeLost]
	var detail []string
	if n := pr.byOutcome[probeLost]; n > 0 {
		detail = append(detail, fmt.Sprintf("probe %d", n))
	}
	st, err := c.state()
	if err != nil {
		return append(problems, "kernel: "+err.Error())
	}
	for name, n := range kernelLost(st) {
		if n == 0 {
			continue
		}
		r.tasksLost += n
		detail = append(detail, fmt.Sprintf("%s %d", name, n))
		if f.deadAgent == "" {
			problems = append(problems, fmt.Sprintf("kernel: %d %s tasks lost or unreachable although no agent died: %s", n, name, lostTasks(st, name)))
		}
	}
	sort.Strings(detail)
	r.lostDetail = strings.Join(detail, ", ")
	r.notes = append(r.notes,
		fmt.Sprintf("probe: %d tasks launched: %d finished, %d never ran%s, %d lost (%d on the dead agent); %d were unreachable for a while; %d reliable updates redelivered; %d subscriptions",
			pr.launched, pr.byOutcome[probeFinished], pr.byOutcome[probeNeverRan], counts(pr.neverRanWhy), pr.byOutcome[probeLost],
			pr.lostExpected, pr.wereUnreachable, pr.redelivered, l.probe.subscriptions()),
		"probe tasks per agent: "+probeSpread(l.probe.snapshot(), c.agentIDs(st)))
	return problems
}

// settleRuns waits (up to settleTimeout) until the cron jobs' runs up to
// a few seconds ago are all final and complete, then checks them.
func settleRuns(c *cluster) []runsReport {
	end := time.Now().Add(-3 * time.Second).Truncate(time.Second)
	var reps []runsReport
	for deadline := time.Now().Add(settleTimeout); ; {
		reps = reps[:0]
		settled := true
		for _, cj := range cronJobs {
			rs, err := c.jobsAPI().runs(cj.name)
			if err != nil {
				reps = append(reps, runsReport{problems: []string{"jobs: " + err.Error()}})
				settled = false
				continue
			}
			rep := checkRuns(cj.name, rs, end)
			settled = settled && rep.gaps == 0 && rep.active == 0
			reps = append(reps, rep)
		}
		if settled || time.Now().After(deadline) {
			return reps
		}
		time.Sleep(time.Second)
	}
}

// activeRunProblems names the cron jobs' runs that are still active
// although their occurrence is long past.
func activeRunProblems(c *cluster) []string {
	end := time.Now().Add(-settleTimeout / 2)
	var ps []string
	for _, cj := range cronJobs {
		rs, err := c.jobsAPI().runs(cj.name)
		if err != nil {
			continue
		}
		ps = append(ps, activeRuns(cj.name, rs, end)...)
	}
	return ps
}

// settleProbe stops the probe's launches, waits (up to settleTimeout)
// until every task it created has been launched and has a final state,
// and checks them.
func settleProbe(p *probe, deadAgent string) probeReport {
	p.stopLaunching()
	for deadline := time.Now().Add(settleTimeout); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		done := true
		for _, t := range p.snapshot() {
			if t.launched.IsZero() {
				done = false
				break
			}
			if o, _ := classify(t); o == probeActive {
				done = false
				break
			}
		}
		if done {
			break
		}
	}
	return checkProbe(p.snapshot(), deadAgent)
}

// lostTasks lists a framework's lost or unreachable tasks in the kernel.
func lostTasks(st master.State, name string) string {
	var out []string
	for _, f := range st.Frameworks {
		if f.Name != name {
			continue
		}
		for _, tk := range f.UnreachableTask {
			out = append(out, tk.ID+" UNREACHABLE")
		}
		for _, tk := range f.CompletedTasks {
			switch tk.State {
			case "TASK_LOST", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN": // not DROPPED: see kernelLost
				out = append(out, tk.ID+" "+strings.TrimPrefix(tk.State, "TASK_"))
			}
		}
	}
	return strings.Join(capped(out), ", ")
}

// capped keeps the first maxProblems lines and says how many were left
// out.
func capped(ps []string) []string {
	if len(ps) <= maxProblems {
		return ps
	}
	return append(ps[:maxProblems:maxProblems], fmt.Sprintf("… and %d more", len(ps)-maxProblems))
}

// probeSpread counts the probe's launched tasks per agent, "agent-0 12,
// agent-1 3, …", so that the notes show where a fault could hit them.
func probeSpread(tasks []probeTask, agents map[string]int) string {
	count := map[int]int{}
	for _, t := range tasks {
		if !t.launched.IsZero() {
			count[agents[t.agentID]]++
		}
	}
	var parts []string
	for i := range numAgents {
		parts = append(parts, fmt.Sprintf("agent-%d %d", i, count[i]))
	}
	return strings.Join(parts, ", ")
}

// counts renders a tally as " (a 2, b 1)", or "" when empty.
func counts(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return " (" + strings.Join(keys, ", ") + ")"
}
