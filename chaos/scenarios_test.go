//go:build chaos

package chaos

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"corral/internal/testpg"
)

// scenario is one fault and what to expect after it.
type scenario struct {
	name string
	opts clusterOptions
	// watch lists the components whose leadership the fault hits.
	watch []string
	// scaleTo is the sleep app's size, set (a deployment) right before
	// the fault; 0 sets none.
	scaleTo int
	// quiet runs no writer, so that the frameworks go idle before the
	// fault: services suppresses its offers once its apps are deployed.
	quiet bool
	// agentsAfter is how many agents are registered once converged.
	agentsAfter int
	// replaces says that the fault makes services replace tasks (an agent
	// dies or is cut off); otherwise every task running before the fault
	// must still run after it.
	replaces bool
	// onAgent says that the fault hits an agent: the runner picks it
	// (see target) before the scale-up, into faultRun.agent.
	onAgent bool
	// prepare, if set, runs right before the scale-up and the fault.
	prepare func(t *testing.T, f *faultRun)
	// check, if set, adds the scenario's own invariants to the verdict.
	check func(f *faultRun) []string
	// fault injects the fault: it calls f.begin when it strikes and
	// returns once it is over (healed, restarted).
	fault func(t *testing.T, f *faultRun)
}

// faultRun is a scenario's cluster and load while its fault runs, and
// what the fault left behind.
type faultRun struct {
	t     *testing.T
	c     *cluster
	l     *load
	watch *leaderWatch
	// faultAt is when the fault struck.
	faultAt time.Time
	// agent and agentID are the agent the fault hits, when it hits one.
	agent   int
	agentID string
	// deadAgent is the kernel id of an agent killed for good: tasks lost
	// there are expected.
	deadAgent string
	notes     []string
}

// begin marks the moment the fault strikes.
func (f *faultRun) begin() {
	f.faultAt = time.Now()
	f.watch.fault(f.faultAt)
	f.t.Logf("%s: fault strikes", f.faultAt.Format("15:04:05.000"))
}

// note adds a line to the scenario's notes under the table.
func (f *faultRun) note(format string, args ...any) {
	f.notes = append(f.notes, fmt.Sprintf(format, args...))
}

// scenarios are the faults of the suite, in the order they run. Agent
// faults strike the agent running the most services tasks (see target).
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
			name: "4 kill -9 agent", watch: []string{compMaster}, scaleTo: 8, agentsAfter: numAgents - 1, replaces: true, onAgent: true,
			prepare: startPinnedRun, check: pinnedRunProblems,
			fault: func(t *testing.T, f *faultRun) {
				i, id := f.agent, f.agentID
				f.deadAgent = id
				f.begin()
				f.c.agents[i].kill(syscall.SIGKILL)
				f.note("killed agent-%d (%s) for good; its task processes keep running, unreachable", i, id)
			},
		},
		{
			name: "5 restart agent", watch: []string{compMaster}, scaleTo: 8, agentsAfter: numAgents, onAgent: true,
			fault: func(t *testing.T, f *faultRun) {
				i, id := f.agent, f.agentID
				f.begin()
				f.c.agents[i].kill(syscall.SIGKILL)
				if err := f.c.agents[i].start(); err != nil {
					t.Fatal(err)
				}
				f.note("agent-%d (%s) killed with SIGKILL and started again at once", i, id)
			},
		},
		{
			name: "6 partition agent", opts: clusterOptions{netnsAgents: true}, watch: []string{compMaster}, scaleTo: 8, agentsAfter: numAgents, replaces: true, onAgent: true,
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
		idleScaleScenario("9 kill -9 leading master, scale an idle app at once"),
	}
}

// partitionAgent cuts the agent running most services tasks off from the
// masters (and everything else) until its tasks are unreachable and
// services runs replacements elsewhere, then heals the partition.
func partitionAgent(t *testing.T, f *faultRun) {
	i, id := f.agent, f.agentID
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

// pinnedJob is a job whose run the agent scenario starts on the agent it
// kills: a run that cannot finish there must still end.
const pinnedJob = "on-dead-agent"

// startPinnedRun creates pinnedJob (5 s of sleep, no retries, only on the
// fault's agent), starts a run of it and waits until the run is RUNNING.
func startPinnedRun(t *testing.T, f *faultRun) {
	t.Helper()
	api := f.c.jobsAPI()
	host := fmt.Sprintf("agent%d.chaos", f.agent)
	def := map[string]any{"name": pinnedJob, "command": "sleep 5", "schedule": "R1/2099-01-01T00:00:00Z/PT1H",
		"retries": 0, "cpus": 0.01, "mem": 16, "constraints": [][]string{{"hostname", "IS", host}}}
	if err := api.create(def); err != nil {
		t.Fatalf("creating job %s: %v", pinnedJob, err)
	}
	if err := api.trigger(pinnedJob); err != nil {
		t.Fatalf("starting a run of %s: %v", pinnedJob, err)
	}
	f.c.waitFor(30*time.Second, "the run of "+pinnedJob+" to run on "+host, func() bool {
		rs, err := f.c.jobsAPI().runs(pinnedJob)
		return err == nil && len(rs) == 1 && rs[0].State == "RUNNING"
	})
	f.note("a run of job %s (sleep 5, no retries, hostname IS %s) was RUNNING on agent-%d when it was killed", pinnedJob, host, f.agent)
}

// pinnedRunProblems checks that the run on the killed agent ends (any
// final state) within pinnedRunDeadline of the kill; on a live agent it
// would have ended 5 s after it started.
func pinnedRunProblems(f *faultRun) []string {
	var rs []jobRun
	for {
		var err error
		if rs, err = f.c.jobsAPI().runs(pinnedJob); err != nil {
			return []string{"jobs: " + err.Error()}
		}
		if len(rs) > 0 && !activeRun(rs[0].State) || time.Since(f.faultAt) > pinnedRunDeadline {
			break
		}
		time.Sleep(time.Second)
	}
	var ps []string
	for _, r := range rs {
		if activeRun(r.State) {
			ps = append(ps, fmt.Sprintf("job %s: run %d is still %s %v after its agent %s was killed for good (task %s): a run whose agent never returns never ends",
				pinnedJob, r.ID, r.State, time.Since(f.faultAt).Round(time.Second), r.AgentID, r.TaskID))
		}
	}
	return ps
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

// target returns the agent a fault is for: the one running the most
// services tasks, so that it hits the apps, once a probe task runs there
// too (waiting up to 15 s for one; the probe gets offers when the other
// frameworks do not hold them).
func target(t *testing.T, f *faultRun) (int, string) {
	t.Helper()
	i, id := busiestAgent(t, f.c)
	deadline := time.Now().Add(15 * time.Second)
	for !f.l.probe.runningOn(id) {
		if time.Now().After(deadline) {
			f.note("no probe task ran on agent-%d within 15 s; struck anyway", i)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return i, id
}

// busiestAgent returns the agent (index and kernel id) running the most
// services tasks.
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
