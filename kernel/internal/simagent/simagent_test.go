package simagent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/internal/migrate"
	"corral/internal/testpg"
	"corral/kernel/agent/update"
	"corral/kernel/detect"
	"corral/kernel/internal/agentproto"
	"corral/kernel/internal/registry"
	"corral/kernel/master"
	"corral/kernel/mesos"
	"corral/kernel/resource"
	"corral/kernel/sched"
)

func TestMain(m *testing.M) { testpg.Main(m) }

// --- the agent's handling of events, without a network ---

func testAgent(t *testing.T) *agent {
	t.Helper()
	f, err := New(Config{Masters: detect.Static{"http://127.0.0.1:1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := f.agents[0]
	a.id = "S1"
	return a
}

func launchEv(fid string, ids ...string) agentproto.Event {
	l := &agentproto.Launch{FrameworkID: fid, FrameworkInfo: mesos.FrameworkInfo{Name: fid, ID: &mesos.ID{Value: fid}}}
	for _, id := range ids {
		l.Tasks = append(l.Tasks, mesos.TaskInfo{Name: id, TaskID: mesos.ID{Value: id}})
	}
	return agentproto.Event{Type: agentproto.EventLaunch, Launch: l}
}

func killEv(fid, id string) agentproto.Event {
	return agentproto.Event{Type: agentproto.EventKill, Kill: &agentproto.Kill{FrameworkID: fid, TaskID: id}}
}

// sent returns "task:STATE" for every update due now, acknowledging each
// when ack is set.
func sent(a *agent, ack bool) []string {
	var out []string
	for _, u := range a.updates.Due(time.Now()) {
		out = append(out, u.Status.TaskID.Value+":"+string(u.Status.State))
		if ack {
			a.handle(agentproto.Event{Type: agentproto.EventAcknowledge, Acknowledge: &agentproto.Acknowledge{
				FrameworkID: u.FrameworkID, TaskID: u.Status.TaskID.Value, UUID: u.Status.UUID}})
		}
	}
	slices.Sort(out)
	return out
}

func TestHandle(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []agentproto.Event
		want   []string // updates due after the events
		live   int
	}{
		{"launch runs at once", []agentproto.Event{launchEv("F", "a", "b")}, []string{"a:TASK_RUNNING", "b:TASK_RUNNING"}, 2},
		{"a known task is not launched twice", []agentproto.Event{launchEv("F", "a"), launchEv("F", "a")}, []string{"a:TASK_RUNNING"}, 1},
		{"kill of an unknown task is answered lost", []agentproto.Event{killEv("F", "x")}, []string{"x:TASK_LOST"}, 0},
		{"reconcile answers dropped for unknown tasks only", []agentproto.Event{launchEv("F", "a"), {Type: agentproto.EventReconcile,
			Reconcile: &agentproto.Reconcile{Tasks: []agentproto.ReconcileTask{{FrameworkID: "F", TaskID: "a"}, {FrameworkID: "F", TaskID: "z"}}}}},
			[]string{"a:TASK_RUNNING", "z:TASK_DROPPED"}, 1},
		{"shutdown kills that framework's tasks", []agentproto.Event{launchEv("F", "a"), launchEv("G", "b"), {Type: agentproto.EventShutdownFramework,
			ShutdownFramework: &agentproto.ShutdownFramework{FrameworkID: "F"}}},
			// Only a's first update is due: a stream sends its oldest.
			[]string{"a:TASK_RUNNING", "b:TASK_RUNNING"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := testAgent(t)
			for _, ev := range tc.events {
				a.handle(ev)
			}
			if got := sent(a, false); !slices.Equal(got, tc.want) {
				t.Errorf("updates = %v; want %v", got, tc.want)
			}
			if a.live != tc.live {
				t.Errorf("live tasks = %d; want %d", a.live, tc.live)
			}
		})
	}
}

func TestUpdatesUntilAcknowledged(t *testing.T) {
	a := testAgent(t)
	a.handle(launchEv("F", "a"))
	a.handle(killEv("F", "a"))
	if got, want := sent(a, true), []string{"a:TASK_RUNNING"}; !slices.Equal(got, want) {
		t.Fatalf("first round = %v; want %v", got, want)
	}
	// The next update of the stream is due once the head is acknowledged.
	if got, want := sent(a, true), []string{"a:TASK_KILLED"}; !slices.Equal(got, want) {
		t.Fatalf("second round = %v; want %v", got, want)
	}
	if n := a.updates.Pending(); n != 0 {
		t.Errorf("pending after acks = %d; want 0", n)
	}
	if len(a.tasks) != 0 {
		t.Errorf("tasks after the terminal update was acknowledged = %v; want none", a.tasks)
	}

	// An acknowledgement of anything but the head changes nothing.
	a.handle(launchEv("F", "b"))
	a.handle(agentproto.Event{Type: agentproto.EventAcknowledge, Acknowledge: &agentproto.Acknowledge{FrameworkID: "F", TaskID: "b", UUID: "bogus"}})
	if n := a.updates.Pending(); n != 1 {
		t.Errorf("pending after a stale ack = %d; want 1", n)
	}
}

func TestRegisterCallReportsTasksNotGhosts(t *testing.T) {
	a := testAgent(t)
	a.handle(launchEv("F", "a"))
	a.handle(killEv("F", "ghost"))
	call := a.registerCall()
	if call.AgentID != "S1" || call.Register == nil {
		t.Fatalf("registerCall() = %+v; want agent S1 with a register body", call)
	}
	var got []string
	for _, tk := range call.Register.Tasks {
		got = append(got, tk.TaskInfo.TaskID.Value+":"+string(tk.State))
		if tk.Status == nil || tk.Status.UUID == "" {
			t.Errorf("task %s reported without its latest status", tk.TaskInfo.TaskID.Value)
		}
	}
	if want := []string{"a:TASK_RUNNING"}; !slices.Equal(got, want) {
		t.Errorf("registerCall() tasks = %v; want %v", got, want)
	}
	if k := (update.Key{FrameworkID: "F", TaskID: "ghost"}); a.tasks[k] == nil || !a.tasks[k].ghost() {
		t.Errorf("the killed unknown task is not kept as a ghost until acknowledged")
	}
}

// --- against a real master ---

// testMaster is a master in this process on a real Postgres.
type testMaster struct {
	url  string
	stop func()
}

func startMaster(t *testing.T, db string) *testMaster {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startMasterOn(t, db, ln)
}

// startMasterOn is startMaster serving on ln.
func startMasterOn(t *testing.T, db string, ln net.Listener) *testMaster {
	t.Helper()
	ctx := t.Context()
	if err := migrate.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	store, err := registry.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	cfg := master.DefaultConfig()
	cfg.DB = db
	cfg.Listen = ln.Addr().String()
	cfg.Advertise = "http://" + ln.Addr().String()
	cfg.AgentPingInterval = 200 * time.Millisecond
	cfg.AllocationInterval = 100 * time.Millisecond
	m, err := master.New(cfg, store, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := m.Serve(runCtx, ln); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	select {
	case <-m.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("master did not recover its registry")
	}
	var once sync.Once
	tm := &testMaster{url: cfg.Advertise, stop: func() {
		once.Do(func() {
			cancel()
			<-done
			store.Close()
		})
	}}
	t.Cleanup(tm.stop)
	return tm
}

func (m *testMaster) state(t *testing.T) master.State {
	t.Helper()
	resp, err := http.Get(m.url + "/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st master.State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// runFleet runs f until the test ends.
func runFleet(t *testing.T, f *Fleet) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func eventually(t *testing.T, d time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: "+format, args...)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func quick(cfg Config) Config {
	cfg.RegisterBackoffFactor = 50 * time.Millisecond
	cfg.RegisterBackoffMax = 500 * time.Millisecond
	return cfg
}

// simFramework owns preloaded tasks. Its failover timeout keeps it (and
// its tasks) through a master failover although it never subscribes.
func simFramework() mesos.FrameworkInfo {
	ft := mesos.Float(3600)
	return mesos.FrameworkInfo{Name: "sim", User: "nobody", ID: &mesos.ID{Value: "sim-framework"}, FailoverTimeout: &ft}
}

// Fifty agents register with their hostnames and preloaded tasks; the
// master adopts the tasks under the (disconnected) framework.
func TestFleetRegisters(t *testing.T) {
	m := startMaster(t, testpg.URL(t))
	const n, per = 50, 2
	fw := simFramework()
	f, err := New(quick(Config{Masters: detect.Static{m.url}, Count: n, TasksPer: per, Framework: fw}), nil)
	if err != nil {
		t.Fatal(err)
	}
	runFleet(t, f)
	eventually(t, 30*time.Second, func() bool { return m.state(t).ActivatedAgents == n }, "%d agents active", n)

	st := m.state(t)
	hosts := map[string]bool{}
	for _, a := range st.Agents {
		hosts[a.Hostname] = true
		if a.TaskCount != per {
			t.Errorf("agent %s (%s) has %d tasks; want %d", a.ID, a.Hostname, a.TaskCount, per)
		}
	}
	for i := range n {
		if h := fmt.Sprintf("sim%d.agents.test", i); !hosts[h] {
			t.Errorf("no agent %s in /state", h)
		}
	}
	if len(st.Frameworks) != 1 || st.Frameworks[0].ID != "sim-framework" || len(st.Frameworks[0].Tasks) != n*per {
		t.Fatalf("frameworks in /state = %+v; want sim-framework with %d tasks", st.Frameworks, n*per)
	}
	for _, tk := range st.Frameworks[0].Tasks {
		if tk.State != string(mesos.TaskRunning) {
			t.Errorf("task %s is %s; want TASK_RUNNING", tk.ID, tk.State)
		}
	}
	fs := f.Status()
	if fs.Registered != n || fs.ByMaster[m.url] != n || fs.Tasks != n*per || fs.Pending != 0 {
		t.Errorf("Status() = %+v; want %d registered with %s, %d tasks, nothing pending", fs, n, m.url, n*per)
	}
}

// The master goes away and another takes over on the same registry: every
// agent re-registers with it, with its id and its tasks.
func TestFleetReregistersWithNewMaster(t *testing.T) {
	db := testpg.URL(t)
	a := startMaster(t, db)
	// The second master's address is reserved now and served later.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bURL := "http://" + ln.Addr().String()
	ln.Close()

	const n = 50
	fw := simFramework()
	f, err := New(quick(Config{Masters: detect.Static{a.url, bURL}, Count: n, TasksPer: 1, Framework: fw}), nil)
	if err != nil {
		t.Fatal(err)
	}
	runFleet(t, f)
	eventually(t, 30*time.Second, func() bool { return f.Status().ByMaster[a.url] == n }, "%d agents registered with the first master", n)
	before := map[string]bool{}
	for _, s := range a.state(t).Agents {
		before[s.ID] = true
	}

	a.stop()
	var lnB net.Listener
	eventually(t, 10*time.Second, func() bool { lnB, err = net.Listen("tcp", ln.Addr().String()); return err == nil }, "%s free again", ln.Addr())
	b := startMasterOn(t, db, lnB)
	eventually(t, 30*time.Second, func() bool { return f.Status().ByMaster[b.url] == n }, "%d agents registered with the second master", n)
	st := b.state(t)
	if st.ActivatedAgents != n {
		t.Errorf("second master: %d active agents; want %d", st.ActivatedAgents, n)
	}
	for _, s := range st.Agents {
		if !before[s.ID] {
			t.Errorf("agent %s (%s) came back with a new id", s.ID, s.Hostname)
		}
		if s.TaskCount != 1 {
			t.Errorf("agent %s came back with %d tasks; want 1", s.ID, s.TaskCount)
		}
	}
	for _, s := range f.Agents() {
		if s.Registrations != 2 {
			t.Errorf("agent %d registered %d times; want 2", s.Index, s.Registrations)
		}
	}
}

// A framework launches a task on a simulated agent through the scheduler
// API: it runs at once, its update is acknowledged, and a kill ends it.
func TestFleetRunsLaunchedTasks(t *testing.T) {
	m := startMaster(t, testpg.URL(t))
	f, err := New(quick(Config{Masters: detect.Static{m.url}, Count: 3}), nil)
	if err != nil {
		t.Fatal(err)
	}
	runFleet(t, f)
	eventually(t, 30*time.Second, func() bool { return f.Status().Registered == 3 }, "3 agents registered")

	taskRes, err := resource.Parse("cpus:1;mem:128")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		launched bool
		states   []mesos.TaskState
	)
	h := sched.HandlerFunc(func(ctx context.Context, c *sched.Client, ev *mesos.Event) {
		switch ev.Type {
		case mesos.EventOffers:
			mu.Lock()
			first := !launched
			launched = true
			mu.Unlock()
			for i, o := range ev.Offers.Offers {
				var tasks []mesos.TaskInfo
				if first && i == 0 {
					tasks = []mesos.TaskInfo{{Name: "t", TaskID: mesos.ID{Value: "t"}, AgentID: o.AgentID,
						Resources: taskRes.Wire(""), Command: &mesos.CommandInfo{Value: "sleep 1000"}}}
				}
				_ = c.Launch(ctx, []mesos.ID{o.ID}, tasks, nil)
			}
		case mesos.EventUpdate:
			mu.Lock()
			states = append(states, ev.Update.Status.State)
			mu.Unlock()
		}
	})
	cl, err := sched.New(sched.Config{Masters: []string{m.url}, Framework: mesos.FrameworkInfo{Name: "test", User: "nobody"},
		AutoAcknowledge: true}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = cl.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	last := func() mesos.TaskState {
		mu.Lock()
		defer mu.Unlock()
		if len(states) == 0 {
			return ""
		}
		return states[len(states)-1]
	}
	eventually(t, 30*time.Second, func() bool { return last() == mesos.TaskRunning }, "TASK_RUNNING")
	eventually(t, 30*time.Second, func() bool { s := f.Status(); return s.Tasks == 1 && s.Pending == 0 }, "the running task acknowledged")
	if err := cl.Kill(ctx, "t", ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() bool { return last() == mesos.TaskKilled }, "TASK_KILLED")
	eventually(t, 30*time.Second, func() bool { s := f.Status(); return s.Tasks == 0 && s.Pending == 0 }, "the killed task acknowledged and forgotten")
}

func TestRecordReader(t *testing.T) {
	var stream bytes.Buffer
	big := bytes.Repeat([]byte("x"), 10<<10) // larger than the buffer
	for _, rec := range [][]byte{[]byte(`{"type":"HEARTBEAT"}`), big, []byte("z")} {
		if err := mesos.WriteRecord(&stream, rec); err != nil {
			t.Fatal(err)
		}
	}
	whole := stream.String()
	rd := newRecordReader(strings.NewReader(whole))
	for i, want := range []string{`{"type":"HEARTBEAT"}`, string(big), "z"} {
		got, err := rd.next()
		if err != nil || string(got) != want {
			t.Fatalf("record %d: next() = %d bytes, %v; want %d bytes", i, len(got), err, len(want))
		}
	}
	if _, err := rd.next(); err != io.EOF {
		t.Errorf("next() at the end = %v; want io.EOF", err)
	}

	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"cut in the length", "12", io.ErrUnexpectedEOF},
		{"cut in the record", "5\nab", io.ErrUnexpectedEOF},
	} {
		if _, err := newRecordReader(strings.NewReader(tc.in)).next(); err != tc.want {
			t.Errorf("%s: next() = %v; want %v", tc.name, err, tc.want)
		}
	}
	for _, in := range []string{"x\nab", "0\n", "\n", "99999999999999999999\n"} {
		if _, err := newRecordReader(strings.NewReader(in)).next(); err == nil {
			t.Errorf("next() on %q = nil error; want one", in)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	static := detect.Static{"http://127.0.0.1:1"}
	fw := simFramework()
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no masters", Config{Count: 1}},
		{"negative count", Config{Masters: static, Count: -1}},
		{"tasks without a framework id", Config{Masters: static, TasksPer: 1}},
		{"tasks that do not fit", Config{Masters: static, Resources: "cpus:1;mem:64", TasksPer: 3, Framework: fw}},
		{"resources without mem", Config{Masters: static, Resources: "cpus:1"}},
		{"negative backoff", Config{Masters: static, RegisterBackoffFactor: -time.Second}},
	} {
		if _, err := New(tc.cfg, nil); err == nil {
			t.Errorf("%s: New(%+v) = nil error; want one", tc.name, tc.cfg)
		}
	}
	if _, err := New(Config{Masters: static, Resources: "cpus:1;mem:64", TasksPer: 2, Framework: fw}, nil); err != nil {
		t.Errorf("New with tasks that just fit: %v", err)
	}
}
