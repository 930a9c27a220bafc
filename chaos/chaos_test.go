//go:build chaos

package chaos

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"corral/internal/testcluster"
	"corral/internal/testpg"
	"corral/kernel/master"
)

func TestMain(m *testing.M) { testcluster.Main(m) }

// Environment variables of the suite.
const (
	// envZKServers sets the ZooKeeper ensemble size (1 or 3).
	envZKServers = "CORRAL_CHAOS_ZK_SERVERS"
	// envSummary names a file the summary table is written to as well.
	envSummary = "CORRAL_CHAOS_SUMMARY"
)

// defaultZKServers is the ensemble size when envZKServers is unset.
const defaultZKServers = 3

// Deadlines. They are generous on purpose: the suite measures how long
// things take, it does not assert it.
const (
	convergeTimeout = 120 * time.Second // from the end of the fault to the desired state
	settleTimeout   = 60 * time.Second  // for runs and probe tasks to finish once converged
	// maxProblems caps the violations printed per check.
	maxProblems = 25
	// steadyBefore is how long the load runs before the fault.
	steadyBefore = 4 * time.Second
	// stableFor is how long the converged state must hold before the
	// verdict.
	stableFor = 5 * time.Second
	// minPartition is the shortest partition of the partition scenario.
	minPartition = 8 * time.Second
)

// scenario is one fault and what to expect after it.
type scenario struct {
	name string
	opts clusterOptions
	// watch lists the components whose leadership the fault hits.
	watch []string
	// scaleTo is the sleep app's size, set (a deployment) right before
	// the fault.
	scaleTo int
	// agentsAfter is how many agents are registered once converged.
	agentsAfter int
	// fault injects the fault: it calls f.begin when it strikes and
	// returns once it is over (healed, restarted).
	fault func(t *testing.T, f *faultRun)
}

// faultRun is a scenario's cluster and load while its fault runs, and
// what the fault left behind.
type faultRun struct {
	c     *cluster
	l     *load
	watch *leaderWatch
	// faultAt is when the fault struck.
	faultAt time.Time
	// deadAgent is the kernel id of an agent killed for good: tasks lost
	// there are expected.
	deadAgent string
	notes     []string
}

// begin marks the moment the fault strikes.
func (f *faultRun) begin() {
	f.faultAt = time.Now()
	f.watch.fault(f.faultAt)
}

// note adds a line to the scenario's notes under the table.
func (f *faultRun) note(format string, args ...any) {
	f.notes = append(f.notes, fmt.Sprintf(format, args...))
}

func scenarios() []scenario {
	return []scenario{
		{
			name: "1 kill -9 leading master", watch: []string{compMaster}, scaleTo: 8, agentsAfter: numAgents,
			fault: func(t *testing.T, f *faultRun) {
				i := mustLeader(t, "master", f.c.masterLeader)
				f.begin()
				f.c.masters[i].kill(syscall.SIGKILL)
			},
		},
		{
			name: "2 kill -9 leading services mid-deployment", watch: []string{compServices}, scaleTo: 15, agentsAfter: numAgents,
			fault: func(t *testing.T, f *faultRun) {
				// The scale to 15 was acknowledged a moment ago: kill at once.
				i := mustLeader(t, "services", f.c.servicesLeader)
				f.begin()
				f.c.services[i].kill(syscall.SIGKILL)
			},
		},
		{
			name: "3 kill -9 leading jobs before a second", watch: []string{compJobs}, scaleTo: 8, agentsAfter: numAgents,
			fault: func(t *testing.T, f *faultRun) {
				i := mustLeader(t, "jobs", f.c.jobsLeader)
				next := time.Now().Truncate(time.Second).Add(time.Second)
				if time.Until(next) < 100*time.Millisecond {
					next = next.Add(time.Second)
				}
				time.Sleep(time.Until(next.Add(-30 * time.Millisecond)))
				f.begin()
				f.c.jobs[i].kill(syscall.SIGKILL)
				f.note("jobs-%d killed %v before the occurrence %s", i, next.Sub(f.faultAt).Round(time.Millisecond), next.UTC().Format("15:04:05"))
			},
		},
		{
			name: "4 kill -9 agent", watch: []string{compMaster}, scaleTo: 8, agentsAfter: numAgents - 1,
			fault: func(t *testing.T, f *faultRun) {
				i, id := busiestAgent(t, f.c)
				f.deadAgent = id
				f.begin()
				f.c.agents[i].kill(syscall.SIGKILL)
				f.note("killed agent-%d (%s) for good; its task processes keep running, unreachable", i, id)
			},
		},
		{
			name: "5 restart agent", watch: []string{compMaster}, scaleTo: 8, agentsAfter: numAgents,
			fault: func(t *testing.T, f *faultRun) {
				i, id := busiestAgent(t, f.c)
				f.begin()
				f.c.agents[i].kill(syscall.SIGKILL)
				if err := f.c.agents[i].start(); err != nil {
					t.Fatal(err)
				}
				f.note("agent-%d (%s) killed with SIGKILL and started again at once", i, id)
			},
		},
		{
			name: "6 partition agent", opts: clusterOptions{netnsAgents: true}, watch: []string{compMaster}, scaleTo: 8, agentsAfter: numAgents,
			fault: partitionAgent,
		},
		{
			name: "7 restart postgres", watch: []string{compMaster, compServices, compJobs}, scaleTo: 8, agentsAfter: numAgents,
			fault: func(t *testing.T, f *faultRun) {
				f.begin()
				testpg.Stop(t)
				time.Sleep(3 * time.Second)
				testpg.Start(t)
				f.note("Postgres stopped (fast shutdown) for 3 s, then started again")
			},
		},
		{
			name: "8 restart zookeeper leader", watch: []string{compMaster, compServices, compJobs}, scaleTo: 8, agentsAfter: numAgents,
			fault: func(t *testing.T, f *faultRun) {
				i := f.c.zk.LeaderIndex()
				if i < 0 {
					t.Fatal("no ZooKeeper server leads")
				}
				f.begin()
				f.c.zk.Restart(i)
				f.note("ZooKeeper server %d of %d (the leader) stopped and started again, back after %v",
					i, len(f.c.zk.Servers()), time.Since(f.faultAt).Round(100*time.Millisecond))
			},
		},
	}
}

// partitionAgent cuts the agent running most services tasks off from the
// masters (and everything else) until its tasks are unreachable and
// services runs replacements elsewhere, then heals the partition.
func partitionAgent(t *testing.T, f *faultRun) {
	i, id := busiestAgent(t, f.c)
	a := f.c.agents[i]
	f.begin()
	if err := a.ns.partition(); err != nil {
		t.Fatal(err)
	}
	a.note("chaos: partitioned")
	// Hold it until the kernel has marked the agent unreachable and the
	// apps run their instances elsewhere, or a minute at most.
	replaced := func() bool {
		st, err := f.c.state()
		if err != nil {
			return false
		}
		unreachable := false
		for _, ag := range st.Agents {
			unreachable = unreachable || (ag.ID == id && ag.State == "unreachable")
		}
		if !unreachable {
			return false
		}
		apps, err := f.c.marathon().apps()
		if err != nil {
			return false
		}
		want, _, _ := f.l.desired()
		for _, ap := range apps {
			running := 0
			for _, tk := range ap.Tasks {
				if tk.SlaveID != id && tk.State == kernelRunning {
					running++
				}
			}
			if n, ok := want[ap.ID]; ok && running < n {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(time.Minute)
	for !replaced() && time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
	}
	if !replaced() {
		f.note("after %v of partition the apps were still not replaced elsewhere; healing anyway", time.Since(f.faultAt).Round(100*time.Millisecond))
	}
	// A little longer: the replacements settle, the agent's registration
	// attempts back off, the probe's tasks there end unheard.
	time.Sleep(max(2*time.Second, time.Until(f.faultAt.Add(minPartition))))
	if err := a.ns.heal(); err != nil {
		t.Fatal(err)
	}
	a.note("chaos: healed")
	f.note("agent-%d (%s) partitioned for %v (until unreachable and replaced elsewhere, at least %v), then healed",
		i, id, time.Since(f.faultAt).Round(100*time.Millisecond), minPartition)
}

// mustLeader returns the index of a component's leader.
func mustLeader(t *testing.T, what string, get func() (int, bool)) int {
	t.Helper()
	i, ok := get()
	if !ok {
		t.Fatalf("no leading %s instance", what)
	}
	return i
}

// busiestAgent returns the agent (index and kernel id) running the most
// services tasks, so that a fault there hits the apps.
func busiestAgent(t *testing.T, c *cluster) (int, string) {
	t.Helper()
	st, err := c.state()
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, fw := range st.Frameworks {
		if fw.Name == "services" {
			for _, tk := range fw.Tasks {
				count[tk.AgentID]++
			}
		}
	}
	ids := c.agentIDs(st)
	best, bestID := -1, ""
	for id, i := range ids {
		if best < 0 || count[id] > count[bestID] || (count[id] == count[bestID] && id < bestID) {
			best, bestID = i, id
		}
	}
	if best < 0 {
		t.Fatal("no agent known to the kernel")
	}
	return best, bestID
}

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
	f := &faultRun{}
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
	l.startWriter()
	defer l.stopWriterAndWait()
	time.Sleep(steadyBefore) // steady load, writes through every instance

	l.scale(t, sleepAppID, sc.scaleTo)
	sc.fault(t, f)
	healedAt := time.Now()
	time.Sleep(3 * time.Second) // the writer goes on through and just after the fault
	l.stopWriterAndWait()
	r.notes = append(r.notes, l.writeStats())

	// Converge: everything the APIs acknowledged is back in place and
	// every component works again.
	converge := func() []string {
		ps := clusterProblems(c, sc.agentsAfter)
		ps = append(ps, appProblems(c, l)...)
		ps = append(ps, jobsAliveProblems(c, healedAt)...)
		if !l.probe.finishedSince(healedAt) {
			ps = append(ps, "probe: no task launched after the fault has finished")
		}
		return ps
	}
	var last []string
	converged := false
	for deadline := healedAt.Add(convergeTimeout); ; {
		if last = converge(); len(last) == 0 {
			converged = true
			r.backToDesired = fmt.Sprintf("%.1fs", time.Since(f.faultAt).Seconds())
			break
		}
		if time.Now().After(deadline) {
			r.backToDesired = fmt.Sprintf("not in %v", convergeTimeout)
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	f.watch.stop()
	r.newLeader = f.watch.summary()

	// The verdict, a while later: what converged must stay so (no late
	// duplicate, no task coming back from the dead).
	var problems []string
	if !converged {
		t.Logf("not back to the desired state %v after the fault; still wrong: %s", convergeTimeout, strings.Join(capped(last), "; "))
	} else {
		time.Sleep(stableFor)
	}
	problems = append(problems, clusterProblems(c, sc.agentsAfter)...)
	problems = append(problems, appProblems(c, l)...)
	problems = append(problems, appListingProblems(c)...)
	problems = append(problems, jobsExistProblems(c, l)...)

	runs := settleRuns(c)
	for _, rep := range runs {
		r.runsMissed += rep.missed
		r.runsSkipped += rep.skipped
		r.runsDoubled += rep.doubled
		problems = append(problems, rep.problems...)
	}
	problems = append(problems, activeRunProblems(c)...)

	probeRep := settleProbe(l.probe, f.deadAgent)
	problems = append(problems, probeRep.problems...)
	r.tasksLost = probeRep.byOutcome[probeLost]
	var detail []string
	if n := probeRep.byOutcome[probeLost]; n > 0 {
		detail = append(detail, fmt.Sprintf("probe %d", n))
	}
	if st, err := c.state(); err == nil {
		for name, n := range kernelLost(st) {
			if n > 0 {
				r.tasksLost += n
				detail = append(detail, fmt.Sprintf("%s %d", name, n))
			}
		}
		if f.deadAgent == "" {
			for name, n := range kernelLost(st) {
				if n > 0 {
					problems = append(problems, fmt.Sprintf("kernel: %d %s tasks lost or unreachable although no agent died: %s", n, name, lostTasks(st, name)))
				}
			}
		}
	}
	sort.Strings(detail)
	r.lostDetail = strings.Join(detail, ", ")
	r.notes = append(r.notes, fmt.Sprintf("probe: %d tasks launched: %d finished, %d never ran (refused at launch), %d lost (%d on the dead agent); %d were unreachable for a while; %d reliable updates redelivered; %d subscriptions",
		probeRep.launched, probeRep.byOutcome[probeFinished], probeRep.byOutcome[probeNeverRan], probeRep.byOutcome[probeLost],
		probeRep.lostExpected, probeRep.wereUnreachable, probeRep.redelivered, l.probe.subscriptions()))

	for _, p := range capped(problems) {
		t.Error(p)
	}
	if len(problems) == 0 {
		r.verdict = "ok"
	} else {
		r.verdict = fmt.Sprintf("%d violations", len(problems))
	}
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
			case "TASK_LOST", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN", "TASK_DROPPED":
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
