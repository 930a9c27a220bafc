package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"corral/internal/testcluster"
	"corral/internal/testpg"
	"corral/internal/testzk"
	"corral/kernel/detect"
	"corral/kernel/internal/simagent"
	"corral/kernel/master"
	"corral/kernel/mesos"
	"corral/kernel/resource"
	"corral/kernel/sched"
)

// Sizes and timeouts of the failover benchmarks, each overridable from the
// environment.
const (
	envAgents         = "CORRAL_BENCH_AGENTS"             // simulated agents (default 1000)
	envTasks          = "CORRAL_BENCH_TASKS"              // tasks over all of them (default 10000)
	envSessionTimeout = "CORRAL_BENCH_ZK_SESSION_TIMEOUT" // masters' ZooKeeper session timeout (default 2s)
)

func envInt(tb testing.TB, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

func envDuration(tb testing.TB, name string, def time.Duration) time.Duration {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		tb.Fatalf("%s=%q: want a positive duration", name, s)
	}
	return d
}

// haMasters are master processes electing a leader through ZooKeeper,
// started here rather than by testcluster.Start so that their session
// timeout is the benchmark's.
type haMasters struct {
	tb    testing.TB
	db    string
	zk    string
	procs []*testcluster.Proc
	urls  []string
}

func startHAMasters(tb testing.TB, n int, zkURL string, session time.Duration, args ...string) *haMasters {
	tb.Helper()
	h := &haMasters{tb: tb, db: testpg.URL(tb), zk: zkURL}
	for i := range n {
		addr := testcluster.FreeAddr(tb)
		u := "http://" + addr
		all := append([]string{"master", "--listen", addr, "--advertise", u, "--db", h.db,
			"--zk", zkURL, "--zk_session_timeout", session.String(),
			"--allocation_interval", "100ms", "--agent_reregister_timeout", "2m"}, args...)
		h.procs = append(h.procs, testcluster.StartProc(tb, fmt.Sprintf("master-%d", i), all...))
		h.urls = append(h.urls, u)
	}
	for _, u := range h.urls {
		testcluster.WaitHTTP(tb, u+"/health")
	}
	return h
}

// leader waits for a master other than except that leads and has
// recovered its registry; it returns its URL, its index and when it was
// first seen so (polled every few milliseconds).
func (h *haMasters) leader(except string, d time.Duration) (string, int, time.Time) {
	h.tb.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		for i, u := range h.urls {
			if u == except {
				continue
			}
			if hl, ok := health(u); ok && hl.Leader && hl.Recovered {
				return u, i, time.Now()
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.tb.Fatalf("no leading master (other than %q) within %v", except, d)
	return "", -1, time.Time{}
}

// restart starts a killed master again and waits until it stands by for
// leader.
func (h *haMasters) restart(i int, leader string) {
	h.tb.Helper()
	h.procs[i].Start()
	testcluster.Eventually(h.tb, 60*time.Second, func() bool {
		hl, ok := health(h.urls[i])
		return ok && !hl.Leader && hl.LeaderURL == leader
	}, "master %d standing by for %s", i, leader)
}

// masterState is GET /state of the master at url.
func masterState(url string) (master.State, error) {
	var st master.State
	resp, err := http.Get(url + "/state")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET %s/state: %s", url, resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// medianMS times fn n times and returns the median in milliseconds.
// scrapeMetrics reads a process's /metrics and sums each metric's
// samples over their labels, by name (histograms as NAME_sum and
// NAME_count).
func scrapeMetrics(tb testing.TB, base string) map[string]float64 {
	tb.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]float64{}
	for line := range strings.SplitSeq(string(body), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name, _, _ := strings.Cut(line, " ")
		name, _, _ = strings.Cut(name, "{")
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			out[name] += v
		}
	}
	return out
}

func medianMS(tb testing.TB, n int, fn func() error) float64 {
	tb.Helper()
	ds := make([]float64, n)
	for i := range ds {
		start := time.Now()
		if err := fn(); err != nil {
			tb.Fatal(err)
		}
		ds[i] = float64(time.Since(start).Microseconds()) / 1000
	}
	slices.Sort(ds)
	return ds[n/2]
}

// drain reads an answer to its end and fails unless it is a 200.
func drain(resp *http.Response, err error) error {
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s", resp.Request.Method, resp.Request.URL, resp.Status)
	}
	return nil
}

// BenchmarkMasterFailover: ZooKeeper, two masters, an agent, and the
// services and jobs frameworks finding the leader through ZooKeeper. The
// leading master is killed with SIGKILL; measured from the kill are the
// moment the other master leads with its registry recovered (its /health)
// and the moment both frameworks are connected to it again with their ids
// (its /state). The goal is ms_to_frameworks_resubscribed ≤
// ms_session_timeout + 1000.
func BenchmarkMasterFailover(b *testing.B) {
	session := envDuration(b, envSessionTimeout, 2*time.Second)
	zk := testzk.Start(b, 1)
	zkURL := zk.URL("/corral")
	h := startHAMasters(b, 2, zkURL, session)
	leader, _, _ := h.leader("", 60*time.Second)

	agentAddr := testcluster.FreeAddr(b)
	wd := b.TempDir()
	testcluster.StartProc(b, "agent", "agent", "--master", zkURL, "--listen", agentAddr, "--advertise", "http://"+agentAddr,
		"--work_dir", wd, "--resources", "cpus:2;mem:1024;disk:1000;ports:[31000-31099]", "--hostname", "agent0.test")
	b.Cleanup(func() { testcluster.KillSandboxProcs(wd) })
	for _, kind := range []string{"services", "jobs"} {
		addr := testcluster.FreeAddr(b)
		testcluster.StartProc(b, kind, kind, "--master", zkURL, "--db", h.db, "--http", addr, "--advertise", "http://"+addr)
		testcluster.WaitHTTP(b, "http://"+addr+"/ping")
	}

	// connected returns the ids of the services and jobs frameworks
	// connected to the master at url, and how many agents are active there.
	connected := func(url string) (map[string]string, int) {
		st, err := masterState(url)
		if err != nil {
			return nil, 0
		}
		ids := map[string]string{}
		for _, f := range st.Frameworks {
			if (f.Name == "services" || f.Name == "jobs") && f.Connected {
				ids[f.Name] = f.ID
			}
		}
		return ids, st.ActivatedAgents
	}
	var ids map[string]string
	testcluster.Eventually(b, 60*time.Second, func() bool {
		var agents int
		ids, agents = connected(leader)
		return len(ids) == 2 && agents == 1
	}, "the agent and both frameworks with the leader")

	var toLeader, toFrameworks time.Duration
	runs := 0
	for b.Loop() {
		_, li, _ := h.leader("", 60*time.Second)
		old := h.urls[li]
		killed := time.Now()
		h.procs[li].Kill(syscall.SIGKILL)
		next, _, led := h.leader(old, 60*time.Second)
		var back time.Time
		testcluster.Eventually(b, 60*time.Second, func() bool {
			now, _ := connected(next)
			if now["services"] != ids["services"] || now["jobs"] != ids["jobs"] {
				return false
			}
			back = time.Now()
			return true
		}, "both frameworks re-subscribed to %s with their ids %v", next, ids)
		toLeader += led.Sub(killed)
		toFrameworks += back.Sub(killed)
		runs++

		b.StopTimer()
		h.restart(li, next)
		b.StartTimer()
	}
	b.ReportMetric(float64(toLeader.Milliseconds())/float64(runs), "ms_to_new_leader")
	b.ReportMetric(float64(toFrameworks.Milliseconds())/float64(runs), "ms_to_frameworks_resubscribed")
	b.ReportMetric(float64(session.Milliseconds()), "ms_session_timeout")
}

// BenchmarkFailover1000Agents: ZooKeeper, two masters, a fleet of
// simulated agents (package simagent, in this process) running the tasks
// of one framework (on kernel/sched, in this process) that launched them
// through offers and then suppressed them. The leading master is killed
// with SIGKILL; measured from the kill are the moment every agent holds a
// stream to the new leader again and the moment an explicit
// reconciliation of every task, sent once both the agents and the
// framework are back, has been answered TASK_RUNNING for all of them.
// Before the first kill, with every task running, it also reports the
// leader as a user sees it from outside: the median time of GET /state
// and of the operator API's GET_STATE over HTTP, and its resident memory;
// and, from the leader's /metrics over the launch of every task, the
// status updates it absorbed a second and its mean allocation cycle (most
// cycles cover only the agents whose resources just changed; the full
// cycle over every agent is measured in-process by BenchmarkScale).
func BenchmarkFailover1000Agents(b *testing.B) {
	agents := envInt(b, envAgents, 1000)
	tasks := envInt(b, envTasks, 10000)
	session := envDuration(b, envSessionTimeout, 2*time.Second)
	perAgent := (tasks + agents - 1) / agents

	zk := testzk.Start(b, 1)
	zkURL := zk.URL("/corral")
	h := startHAMasters(b, 2, zkURL, session)
	h.leader("", 60*time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() { cancel(); wg.Wait() })

	var heapBefore runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&heapBefore)
	src, err := detect.New(ctx, zkURL, detect.Options{})
	if err != nil {
		b.Fatal(err)
	}
	// Room for perAgent tasks of 0.1 cpus and 32 MB each.
	fleet, err := simagent.New(simagent.Config{Masters: src, Count: agents,
		Resources: fmt.Sprintf("cpus:%g;mem:%d;disk:10000;ports:[31000-32000]", 1+0.1*float64(perAgent), 1024+32*perAgent)}, nil)
	if err != nil {
		b.Fatal(err)
	}
	wg.Go(func() { _ = fleet.Run(ctx) })
	testcluster.Eventually(b, 120*time.Second, func() bool { return fleet.Status().Registered == agents }, "%d simulated agents registered", agents)

	// The launch as the leader's /metrics shows it from outside: status
	// updates absorbed a second, and the mean allocation cycle, over the
	// time from the framework's start to every task running.
	firstLead, _, _ := h.leader("", 60*time.Second)
	m0, launchStart := scrapeMetrics(b, firstLead), time.Now()
	fw := startFleetScheduler(b, ctx, &wg, zkURL, tasks, perAgent)
	testcluster.Eventually(b, 180*time.Second, func() bool {
		st := fleet.Status()
		return fw.running() == tasks && st.Tasks == tasks && st.Pending == 0
	}, "%d tasks running and acknowledged", tasks)
	m1, launchTook := scrapeMetrics(b, firstLead), time.Since(launchStart)
	updatesPerSec := (m1["corral_master_status_updates_total"] - m0["corral_master_status_updates_total"]) / launchTook.Seconds()
	cycleMS := 0.0
	if n := m1["corral_master_allocation_cycle_seconds_count"] - m0["corral_master_allocation_cycle_seconds_count"]; n > 0 {
		cycleMS = (m1["corral_master_allocation_cycle_seconds_sum"] - m0["corral_master_allocation_cycle_seconds_sum"]) / n * 1000
	}
	var heapAfter runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&heapAfter)

	// The leader as its users see it, from outside: its /state and
	// GET_STATE over HTTP, and its resident memory, with every task running.
	lead, li, _ := h.leader("", 60*time.Second)
	stateMS, getStateMS := medianMS(b, 5, func() error { return drain(http.Get(lead + "/state")) }),
		medianMS(b, 5, func() error {
			return drain(http.Post(lead+"/api/v1", "application/json", strings.NewReader(`{"type":"GET_STATE"}`)))
		})
	rss := float64(rssKB(h.procs[li].PID()))

	var toLeader, toAgents, toReconciled time.Duration
	runs := 0
	for b.Loop() {
		_, li, _ := h.leader("", 60*time.Second)
		old := h.urls[li]
		subs := fw.subscriptions()
		killed := time.Now()
		h.procs[li].Kill(syscall.SIGKILL)
		next, _, led := h.leader(old, 60*time.Second)
		var last time.Time
		testcluster.Eventually(b, 120*time.Second, func() bool {
			st := fleet.Status()
			last = st.LastRegistered
			return st.ByMaster[next] == agents
		}, "%d agents re-registered with %s", agents, next)
		testcluster.Eventually(b, 60*time.Second, func() bool {
			return fw.subscriptions() > subs && fw.client.Connected() && fw.client.Leader() == next
		}, "the framework re-subscribed to %s", next)
		done := fw.reconcile(b)
		select {
		case <-done:
		case <-time.After(120 * time.Second):
			b.Fatalf("reconciliation of %d tasks not answered TASK_RUNNING in time: %s", tasks, fw.reconcileProgress())
		}
		toLeader += led.Sub(killed)
		toAgents += last.Sub(killed)
		toReconciled += fw.reconciledAt().Sub(killed)
		runs++

		b.StopTimer()
		st, err := masterState(next)
		if err != nil {
			b.Fatal(err)
		}
		if st.ActivatedAgents != agents {
			b.Fatalf("new leader has %d active agents; want %d", st.ActivatedAgents, agents)
		}
		h.restart(li, next)
		b.StartTimer()
	}
	b.ReportMetric(float64(toLeader.Milliseconds())/float64(runs), "ms_to_new_leader")
	b.ReportMetric(float64(toAgents.Milliseconds())/float64(runs), "ms_all_agents_reregistered")
	b.ReportMetric(float64(toReconciled.Milliseconds())/float64(runs), "ms_reconciled")
	// Reported after the loop: b.Loop's first call resets the metrics.
	b.ReportMetric(updatesPerSec, "updates/s_launch_outside")
	b.ReportMetric(cycleMS, "ms_cycle_mean_outside")
	b.ReportMetric(launchTook.Seconds(), "s_launch_all_running")
	b.ReportMetric(stateMS, "ms_state_outside")
	b.ReportMetric(getStateMS, "ms_get_state_outside")
	b.ReportMetric(rss/1024, "master_rss_MB")
	b.ReportMetric(rss/float64(agents), "master_rss_kB/agent")
	b.ReportMetric(float64(session.Milliseconds()), "ms_session_timeout")
	b.ReportMetric(float64(agents), "agents")
	b.ReportMetric(float64(tasks), "tasks")
	// The heap the fleet and the framework hold with every task running.
	b.ReportMetric((float64(heapAfter.HeapInuse)-float64(heapBefore.HeapInuse))/(1<<20), "heap_MB")
}

// fleetScheduler is the benchmark's framework: it launches perAgent tasks
// on each offered agent until it has launched total, acknowledging every
// update, then suppresses offers; on demand it reconciles every task
// explicitly and reports when all are answered TASK_RUNNING.
type fleetScheduler struct {
	client   *sched.Client
	total    int
	perAgent int
	taskRes  []mesos.Resource

	mu       sync.Mutex
	subs     int
	launched int
	agentOf  map[string]string // task id → agent id
	agentHas map[string]bool   // agents that got their tasks
	state    map[string]mesos.TaskState
	nRunning int
	// The reconciliation under way: answers by task, how many are
	// TASK_RUNNING, when the last one came, and done, closed then.
	recon        map[string]mesos.TaskState
	reconRunning int
	reconAt      time.Time
	reconDone    chan struct{}
}

func startFleetScheduler(tb testing.TB, ctx context.Context, wg *sync.WaitGroup, zkURL string, total, perAgent int) *fleetScheduler {
	tb.Helper()
	res, err := resource.Parse("cpus:0.1;mem:32")
	if err != nil {
		tb.Fatal(err)
	}
	f := &fleetScheduler{total: total, perAgent: perAgent, taskRes: res.Wire(""),
		agentOf: map[string]string{}, agentHas: map[string]bool{}, state: map[string]mesos.TaskState{}}
	src, err := detect.New(ctx, zkURL, detect.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	ft := mesos.Float(3600)
	f.client, err = sched.New(sched.Config{
		Detector:        src,
		Framework:       mesos.FrameworkInfo{User: "nobody", Name: "fleet-bench", FailoverTimeout: &ft},
		AutoAcknowledge: true,
		BackoffMax:      time.Second,
	}, f, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	wg.Go(func() { _ = f.client.Run(ctx) })
	return f
}

// HandleEvent implements sched.Handler.
func (f *fleetScheduler) HandleEvent(ctx context.Context, c *sched.Client, ev *mesos.Event) {
	switch ev.Type {
	case mesos.EventSubscribed:
		f.mu.Lock()
		f.subs++
		f.mu.Unlock()
	case mesos.EventOffers:
		f.offers(ctx, c, ev.Offers.Offers)
	case mesos.EventUpdate:
		f.update(ev.Update.Status)
	}
}

func (f *fleetScheduler) offers(ctx context.Context, c *sched.Client, offers []mesos.Offer) {
	long := mesos.Float(3600)
	for _, o := range offers {
		f.mu.Lock()
		n := 0
		if !f.agentHas[o.AgentID.Value] {
			n = min(f.perAgent, f.total-f.launched)
		}
		first := f.launched
		f.launched += n
		if n > 0 {
			f.agentHas[o.AgentID.Value] = true
		}
		all := f.launched == f.total
		f.mu.Unlock()
		var ts []mesos.TaskInfo
		for i := range n {
			id := fmt.Sprintf("t%d", first+i)
			ts = append(ts, mesos.TaskInfo{Name: id, TaskID: mesos.ID{Value: id}, AgentID: o.AgentID,
				Resources: f.taskRes, Command: &mesos.CommandInfo{Value: "sleep 3600"}})
		}
		_ = c.Launch(ctx, []mesos.ID{o.ID}, ts, &mesos.Filters{RefuseSeconds: &long})
		if all && n > 0 {
			_ = c.Suppress(ctx)
		}
	}
}

func (f *fleetScheduler) update(st mesos.TaskStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := st.TaskID.Value
	if st.UUID == "" && st.Reason == mesos.ReasonReconciliation {
		if f.recon == nil {
			return
		}
		if prev, ok := f.recon[id]; ok && prev == mesos.TaskRunning {
			f.reconRunning--
		}
		f.recon[id] = st.State
		if st.State == mesos.TaskRunning {
			f.reconRunning++
		}
		if f.reconRunning == f.total && f.reconAt.IsZero() {
			f.reconAt = time.Now()
			close(f.reconDone)
		}
		return
	}
	if st.AgentID != nil {
		f.agentOf[id] = st.AgentID.Value
	}
	if f.state[id] == mesos.TaskRunning {
		f.nRunning--
	}
	f.state[id] = st.State
	if st.State == mesos.TaskRunning {
		f.nRunning++
	}
}

func (f *fleetScheduler) running() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nRunning
}

func (f *fleetScheduler) subscriptions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.subs
}

// reconcile starts an explicit reconciliation of every task; the channel
// is closed when all are answered TASK_RUNNING.
func (f *fleetScheduler) reconcile(tb testing.TB) <-chan struct{} {
	tb.Helper()
	f.mu.Lock()
	f.recon, f.reconRunning, f.reconAt = map[string]mesos.TaskState{}, 0, time.Time{}
	f.reconDone = make(chan struct{})
	done := f.reconDone
	rts := make([]mesos.ReconcileTask, 0, len(f.agentOf))
	for id, agent := range f.agentOf {
		rts = append(rts, mesos.ReconcileTask{TaskID: mesos.ID{Value: id}, AgentID: &mesos.ID{Value: agent}})
	}
	f.mu.Unlock()
	if len(rts) != f.total {
		tb.Fatalf("the framework knows the agents of %d tasks; want %d", len(rts), f.total)
	}
	if err := f.client.Reconcile(context.Background(), rts); err != nil {
		tb.Fatal(err)
	}
	return done
}

func (f *fleetScheduler) reconciledAt() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reconAt
}

func (f *fleetScheduler) reconcileProgress() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	other := map[mesos.TaskState]int{}
	for _, s := range f.recon {
		other[s]++
	}
	return fmt.Sprintf("%d answers by state %v", len(f.recon), other)
}
