package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"corral/kernel/agent/checkpoint"
	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

var cgSeq atomic.Int64

func testConfig(t *testing.T, masters ...string) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Masters = masters
	cfg.Listen = "127.0.0.1:0"
	cfg.Hostname = "localhost"
	cfg.WorkDir = t.TempDir()
	cfg.SecretsDir = filepath.Join(t.TempDir(), "secrets")
	cfg.Resources = "cpus:2;mem:1024;disk:1000;ports:[31000-31010]"
	cfg.Attributes = "rack:a"
	cfg.RegisterBackoffFactor = 20 * time.Millisecond
	cfg.RegisterBackoffMax = 200 * time.Millisecond
	cfg.UpdateRetryInterval = 300 * time.Millisecond
	cfg.UpdateRetryMax = time.Second
	cfg.KillGracePeriod = 2 * time.Second
	cfg.CgroupRoot = fmt.Sprintf("corral-test/agent-%d-%d", os.Getpid(), cgSeq.Add(1))
	t.Cleanup(func() { cleanupTasks(cfg) })
	return cfg
}

// cleanupTasks kills every task process the work dir knows and removes the
// test's cgroups: tasks outlive agents by design.
func cleanupTasks(cfg Config) {
	filepath.WalkDir(filepath.Join(cfg.WorkDir, "meta"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.Name() != checkpoint.JournalFile {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var r checkpoint.Record
			// A pid of 0 or less would signal this test's own group.
			if json.Unmarshal(sc.Bytes(), &r) == nil && r.Spawned != nil && r.Spawned.PID > 0 {
				unix.Kill(-r.Spawned.PID, unix.SIGKILL)
			}
		}
		return nil
	})
	for _, ctrl := range []string{"cpu", "memory", ""} {
		dir := filepath.Join("/sys/fs/cgroup", ctrl, cfg.CgroupRoot)
		var dirs []string
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if b, err := os.ReadFile(filepath.Join(dirs[i], "cgroup.procs")); err == nil {
				for _, f := range strings.Fields(string(b)) {
					var pid int
					fmt.Sscan(f, &pid)
					unix.Kill(pid, unix.SIGKILL)
				}
			}
			for try := 0; try < 50 && os.Remove(dirs[i]) != nil; try++ {
				time.Sleep(10 * time.Millisecond)
			}
		}
		os.Remove(filepath.Dir(dir))
	}
}

// startAgent runs an agent until the returned stop function is called (or
// the test ends).
func startAgent(t *testing.T, cfg Config) (stop func()) {
	t.Helper()
	var logger *slog.Logger
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	a, err := New(cfg, logger)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run() = %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run() did not return after cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}

func cmdTask(id, shell string) mesos.TaskInfo {
	return mesos.TaskInfo{
		Name:   id,
		TaskID: mesos.ID{Value: id},
		Resources: []mesos.Resource{
			{Name: "cpus", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 0.1}},
			{Name: "mem", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 64}},
			{Name: "ports", Type: mesos.Ranges, Ranges: &mesos.RangesValue{Range: []mesos.Range{{Begin: 31002, End: 31003}}}},
		},
		Command: &mesos.CommandInfo{Value: shell},
	}
}

func launch(fid string, tasks ...mesos.TaskInfo) agentproto.Event {
	return agentproto.Event{Type: agentproto.EventLaunch, Launch: &agentproto.Launch{
		FrameworkID: fid, FrameworkInfo: mesos.FrameworkInfo{Name: "test", ID: &mesos.ID{Value: fid}}, Tasks: tasks}}
}

func getJSON(t *testing.T, u string, v any) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v: %s", u, err, b)
		}
	}
	return resp.StatusCode
}

func TestAgentLifecycle(t *testing.T) {
	m := newFakeMaster(t)
	cfg := testConfig(t, m.srv.URL)
	startAgent(t, cfg)

	reg := m.waitRegister(t)
	if reg.AgentID != "" || reg.Register == nil || len(reg.Register.Tasks) != 0 {
		t.Fatalf("first REGISTER = %+v; want a new agent without tasks", reg)
	}
	info := reg.Register.Info
	if info.Hostname != "localhost" || !strings.HasPrefix(info.Endpoint, "http://127.0.0.1:") || len(info.Resources) != 4 || len(info.Attributes) != 1 {
		t.Errorf("agent info = %+v", info)
	}
	if info.Cgroups == "" || (info.Cgroups == agentproto.CgroupsNone && info.CgroupsReason == "") {
		t.Errorf("cgroups = %q reason %q", info.Cgroups, info.CgroupsReason)
	}

	m.event(launch("fw-1",
		cmdTask("ok", `echo "$CORRAL_TASK_ID $PORT0 $PORTS $MESOS_SANDBOX $CORRAL_AGENT_ID"; exit 0`),
		cmdTask("fail", "exit 3"),
		cmdTask("sleeper", "sleep 600"),
		cmdTask("bad/id", "true"),
	))
	m.waitState(t, "ok", mesos.TaskFinished, 10*time.Second)
	u := m.waitState(t, "fail", mesos.TaskFailed, 10*time.Second)
	if u.Status.Message != "Command exited with status 3" || u.Status.Reason != mesos.ReasonCommandExecutorFailed {
		t.Errorf("fail: status = %+v", u.Status)
	}
	m.waitState(t, "sleeper", mesos.TaskRunning, 10*time.Second)
	u = m.waitState(t, "bad/id", mesos.TaskError, 10*time.Second)
	if !strings.Contains(u.Status.Message, "invalid task id") || u.Status.Source != mesos.SourceAgent {
		t.Errorf("bad/id: status = %+v", u.Status)
	}
	for id, want := range map[string][]mesos.TaskState{
		"ok":      {mesos.TaskStarting, mesos.TaskRunning, mesos.TaskFinished},
		"fail":    {mesos.TaskStarting, mesos.TaskRunning, mesos.TaskFailed},
		"sleeper": {mesos.TaskStarting, mesos.TaskRunning},
		"bad/id":  {mesos.TaskError},
	} {
		if got := m.states(id); !slices.Equal(got, want) {
			t.Errorf("task %s: updates %v; want %v", id, got, want)
		}
	}
	st := m.updatesOf("ok")[0].Status
	if st.UUID == "" || st.AgentID == nil || st.AgentID.Value != "agent-1" || st.ExecutorID == nil || st.ExecutorID.Value != "ok" ||
		st.Timestamp == 0 || st.Source != mesos.SourceExecutor {
		t.Errorf("status fields = %+v", st)
	}

	// The sandbox, its files, and the environment.
	var state State
	if code := getJSON(t, info.Endpoint+"/state", &state); code != 200 {
		t.Fatalf("/state = %d", code)
	}
	if state.ID != "agent-1" || !state.Registered || state.Master != m.srv.URL {
		t.Errorf("/state = id %q registered %v master %q", state.ID, state.Registered, state.Master)
	}
	var sleeper *TaskState
	for i := range state.Tasks {
		if state.Tasks[i].TaskID == "sleeper" {
			sleeper = &state.Tasks[i]
		}
	}
	if sleeper == nil || sleeper.State != mesos.TaskRunning || sleeper.PID == 0 {
		t.Fatalf("/state tasks = %+v; want sleeper RUNNING", state.Tasks)
	}
	okSandbox := filepath.Join(filepath.Dir(sleeper.Sandbox), "ok")
	var read struct {
		Data   string `json:"data"`
		Offset int64  `json:"offset"`
	}
	q := url.Values{"path": {filepath.Join(okSandbox, "stdout")}, "offset": {"0"}}
	if code := getJSON(t, info.Endpoint+"/files/read?"+q.Encode(), &read); code != 200 {
		t.Fatalf("/files/read = %d", code)
	}
	if want := fmt.Sprintf("ok 31002 31002,31003 %s agent-1\n", okSandbox); read.Data != want {
		t.Errorf("stdout of ok = %q; want %q", read.Data, want)
	}
	var health map[string]string
	if code := getJSON(t, info.Endpoint+"/health", &health); code != 200 || health["status"] != "ok" {
		t.Errorf("/health = %d %v", code, health)
	}
	resp, err := http.Get(info.Endpoint + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`corral_agent_tasks{state="TASK_RUNNING"} 1`, "corral_agent_registered 1", "corral_agent_status_updates_pending"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// The master goes away: the agent re-registers with its id and tasks.
	m.breakStream()
	reg = m.waitRegister(t)
	if reg.AgentID != "agent-1" {
		t.Fatalf("re-REGISTER agent id = %q; want agent-1", reg.AgentID)
	}
	var regTasks []string
	for _, rt := range reg.Register.Tasks {
		regTasks = append(regTasks, rt.TaskInfo.TaskID.Value+"="+string(rt.State))
	}
	if !slices.Contains(regTasks, "sleeper=TASK_RUNNING") {
		t.Errorf("re-REGISTER tasks = %v; want sleeper=TASK_RUNNING", regTasks)
	}

	// Kill, reconcile of an unknown task, kill of an unknown task.
	m.event(agentproto.Event{Type: agentproto.EventKill, Kill: &agentproto.Kill{FrameworkID: "fw-1", TaskID: "sleeper"}})
	u = m.waitState(t, "sleeper", mesos.TaskKilled, 10*time.Second)
	m.event(agentproto.Event{Type: agentproto.EventReconcile, Reconcile: &agentproto.Reconcile{Tasks: []agentproto.ReconcileTask{{FrameworkID: "fw-1", TaskID: "ghost"}, {FrameworkID: "fw-1", TaskID: "ok"}}}})
	u = m.waitState(t, "ghost", mesos.TaskDropped, 10*time.Second)
	if u.Status.Reason != mesos.ReasonReconciliation || u.Status.UUID == "" {
		t.Errorf("DROPPED status = %+v", u.Status)
	}
	m.event(agentproto.Event{Type: agentproto.EventKill, Kill: &agentproto.Kill{FrameworkID: "fw-1", TaskID: "nobody"}})
	m.waitState(t, "nobody", mesos.TaskLost, 10*time.Second)

	// Everything acknowledged: checkpoints are gone, sandboxes stay.
	waitFor(t, 15*time.Second, "checkpoints removed", func() bool {
		ents, _ := os.ReadDir(filepath.Join(cfg.WorkDir, "meta", "frameworks"))
		return len(ents) == 0
	})
	if _, err := os.Stat(filepath.Join(okSandbox, "stdout")); err != nil {
		t.Errorf("sandbox of a finished task: %v", err)
	}
	getJSON(t, info.Endpoint+"/state", &state)
	if len(state.Tasks) != 0 || len(state.CompletedTasks) != 4 || state.PendingUpdates != 0 {
		t.Errorf("/state after acks: tasks %+v completed %d pending %d", state.Tasks, len(state.CompletedTasks), state.PendingUpdates)
	}
}

// agentState returns the agent's GET /state.
func agentState(t *testing.T, endpoint string) State {
	t.Helper()
	var st State
	if code := getJSON(t, endpoint+"/state", &st); code != 200 {
		t.Fatalf("/state = %d", code)
	}
	return st
}

// waitFor polls cond until it holds, failing the test after timeout. It
// is the package's one polling loop.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestShutdownFrameworkAndGrace: SHUTDOWN_FRAMEWORK kills all the
// framework's tasks; a task ignoring SIGTERM dies by SIGKILL after its kill
// policy's grace period and is reported KILLED.
func TestShutdownFrameworkAndGrace(t *testing.T) {
	m := newFakeMaster(t)
	cfg := testConfig(t, m.srv.URL)
	cfg.KillGracePeriod = 30 * time.Second // the task's policy must win
	startAgent(t, cfg)
	endpoint := m.waitRegister(t).Register.Info.Endpoint
	ready := filepath.Join(t.TempDir(), "ready")
	// The marker says the trap is set: a SIGTERM before it would kill the
	// task at once and prove nothing about the grace period.
	stubborn := cmdTask("stubborn", `trap "" TERM; touch `+ready+`; sleep 600`)
	stubborn.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: mesos.Int(300 * time.Millisecond)}}
	m.event(launch("fw-2", stubborn, cmdTask("plain", "sleep 600")))
	m.event(launch("fw-other", cmdTask("bystander", "sleep 600")))
	m.waitState(t, "stubborn", mesos.TaskRunning, 10*time.Second)
	m.waitState(t, "plain", mesos.TaskRunning, 10*time.Second)
	m.waitState(t, "bystander", mesos.TaskRunning, 10*time.Second)
	waitFor(t, 10*time.Second, "the stubborn task to set its trap", func() bool {
		_, err := os.Stat(ready)
		return err == nil
	})
	start := time.Now()
	m.event(agentproto.Event{Type: agentproto.EventShutdownFramework, ShutdownFramework: &agentproto.ShutdownFramework{FrameworkID: "fw-2"}})
	m.waitState(t, "plain", mesos.TaskKilled, 10*time.Second)
	m.waitState(t, "stubborn", mesos.TaskKilled, 10*time.Second)
	if el := time.Since(start); el < 300*time.Millisecond || el > 10*time.Second {
		t.Errorf("stubborn task killed after %v; want about the 300ms grace period", el)
	}
	// The agent kills a framework's tasks in the step that handles its
	// SHUTDOWN_FRAMEWORK, marking each (and journaling the kill) before
	// signalling it; plain's TASK_KILLED shows that step is over. A
	// bystander it had touched would show the mark, whether or not its
	// process has ended yet.
	if ts := taskOf(t, endpoint, "bystander"); ts.KillRequested || ts.State != mesos.TaskRunning || ts.PID == 0 {
		t.Errorf("bystander after the shutdown = %s, kill requested %v, pid %d; want it RUNNING and untouched", ts.State, ts.KillRequested, ts.PID)
	} else if err := unix.Kill(ts.PID, 0); err != nil {
		t.Errorf("bystander's process %d: %v; want it alive", ts.PID, err)
	}
	if got := m.states("bystander"); !slices.Equal(got, []mesos.TaskState{mesos.TaskStarting, mesos.TaskRunning}) {
		t.Errorf("bystander updates = %v; want it untouched", got)
	}
}

// TestMemoryLimitReported: a task over its memory limit is reported
// TASK_FAILED with the memory limitation reason.
func TestMemoryLimitReported(t *testing.T) {
	m := newFakeMaster(t)
	startAgent(t, testConfig(t, m.srv.URL))
	reg := m.waitRegister(t)
	if reg.Register.Info.Cgroups == agentproto.CgroupsNone {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cgroups unavailable in CI: %s", reg.Register.Info.CgroupsReason)
		}
		t.Skipf("cgroups unavailable: %s", reg.Register.Info.CgroupsReason)
	}
	hog := cmdTask("hog", "dd if=/dev/zero of=/dev/null bs=96M count=1")
	hog.Resources[1].Scalar.Value = 32
	m.event(launch("fw-1", hog))
	u := m.waitState(t, "hog", mesos.TaskFailed, 20*time.Second)
	if u.Status.Reason != mesos.ReasonContainerLimitationMem || !strings.Contains(u.Status.Message, "32 MB") {
		t.Errorf("hog status = %+v", u.Status)
	}
}

// TestCPUQuotaFollowsCFSFlag: a task that gives no cpu limit gets no CFS
// quota (it may use idle cpu, as in Mesos by default), unless the agent
// runs with CgroupsEnableCFS, which caps it at its request; a task that
// gives a limit is capped at it either way. The task reads its own
// cgroup's quota.
func TestCPUQuotaFollowsCFSFlag(t *testing.T) {
	const readQuota = `p=$(grep -E '^[0-9]+:([^:]*,)?cpu(,[^:]*)?:' /proc/self/cgroup | cut -d: -f3)
if [ -n "$p" ]; then for d in /sys/fs/cgroup/cpu,cpuacct /sys/fs/cgroup/cpu; do [ -f "$d$p/cpu.cfs_quota_us" ] && { cat "$d$p/cpu.cfs_quota_us"; exit 0; }; done; fi
p=$(grep '^0::' /proc/self/cgroup | cut -d: -f3); cut -d' ' -f1 "/sys/fs/cgroup$p/cpu.max"`
	for _, tc := range []struct {
		name  string
		cfs   bool
		limit float64 // 0: none
		want  []string
	}{
		{"no limit", false, 0, []string{"-1", "max"}},
		{"no limit, CFS enabled", true, 0, []string{"10000"}},
		{"a limit", false, 0.5, []string{"50000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newFakeMaster(t)
			cfg := testConfig(t, m.srv.URL)
			cfg.CgroupsEnableCFS = tc.cfs
			startAgent(t, cfg)
			reg := m.waitRegister(t)
			if reg.Register.Info.Cgroups == agentproto.CgroupsNone {
				if os.Getenv("CI") == "true" {
					t.Fatalf("cgroups unavailable in CI: %s", reg.Register.Info.CgroupsReason)
				}
				t.Skipf("cgroups unavailable: %s", reg.Register.Info.CgroupsReason)
			}
			ti := cmdTask("q", readQuota)
			if tc.limit > 0 {
				ti.Limits = map[string]mesos.Limit{"cpus": {Value: mesos.LimitValue(tc.limit)}}
			}
			m.event(launch("fw-1", ti))
			m.waitState(t, "q", mesos.TaskFinished, 20*time.Second)
			out, _ := os.ReadFile(filepath.Join(sandboxOfTask(cfg, "fw-1", "q"), "stdout"))
			if got := strings.TrimSpace(string(out)); !slices.Contains(tc.want, got) {
				t.Errorf("the task's cpu quota = %q; want one of %q", got, tc.want)
			}
		})
	}
}

// TestUpdateResentUntilAcked: an unacknowledged update is resent with the
// same uuid, and the next one is held back until the acknowledgement.
func TestUpdateResentUntilAcked(t *testing.T) {
	m := newFakeMaster(t)
	m.setAutoAck(false)
	startAgent(t, testConfig(t, m.srv.URL))
	m.waitRegister(t)
	m.event(launch("fw-1", cmdTask("t", "exit 0")))
	waitFor(t, 15*time.Second, "a resend", func() bool { return len(m.updatesOf("t")) >= 3 })
	us := m.updatesOf("t")
	for _, u := range us {
		if u.Status.UUID != us[0].Status.UUID || u.Status.State != mesos.TaskStarting {
			t.Fatalf("updates before ack = %+v; want only STARTING resent", us)
		}
	}
	if us[len(us)-1].LatestState != mesos.TaskFinished {
		t.Errorf("latest_state = %s; want TASK_FINISHED", us[len(us)-1].LatestState)
	}
	m.setAutoAck(true)
	m.ack(us[0])
	m.waitState(t, "t", mesos.TaskFinished, 15*time.Second)
	if got := m.states("t"); !slices.Equal(got, []mesos.TaskState{mesos.TaskStarting, mesos.TaskRunning, mesos.TaskFinished}) {
		t.Errorf("updates = %v", got)
	}
}

// TestRestartRecovery: an agent restarted on the same work dir keeps its
// id, re-registers with its running task, resends the unacknowledged
// update, and reports the task's real exit status exactly once.
func TestRestartRecovery(t *testing.T) {
	m := newFakeMaster(t)
	cfg := testConfig(t, m.srv.URL)
	stop := startAgent(t, cfg)
	m.waitRegister(t)
	m.setAutoAck(false)
	m.event(launch("fw-1", cmdTask("survivor", `while [ ! -f release ]; do sleep 0.05; done; exit 4`)))
	waitFor(t, 15*time.Second, "STARTING", func() bool { return len(m.updatesOf("survivor")) > 0 })
	m.ack(m.updatesOf("survivor")[0])
	m.waitState(t, "survivor", mesos.TaskRunning, 15*time.Second)
	running := m.updatesOf("survivor")[len(m.updatesOf("survivor"))-1]
	stop() // RUNNING is not acknowledged

	var sandbox string
	filepath.WalkDir(filepath.Join(cfg.WorkDir, "sandboxes"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "survivor" {
			sandbox = p
		}
		return nil
	})
	if sandbox == "" {
		t.Fatal("no sandbox for survivor")
	}

	m.setAutoAck(true)
	startAgent(t, cfg)
	reg := m.waitRegister(t)
	if reg.AgentID != "agent-1" || len(reg.Register.Tasks) != 1 || reg.Register.Tasks[0].State != mesos.TaskRunning {
		t.Fatalf("REGISTER after restart = agent %q tasks %+v; want agent-1 with survivor RUNNING", reg.AgentID, reg.Register.Tasks)
	}
	waitFor(t, 15*time.Second, "RUNNING resent", func() bool {
		us := m.updatesOf("survivor")
		return len(us) > 0 && us[len(us)-1].Status.UUID == running.Status.UUID && len(us) > 2
	})
	os.WriteFile(filepath.Join(sandbox, "release"), nil, 0o644)
	u := m.waitState(t, "survivor", mesos.TaskFailed, 10*time.Second)
	if u.Status.Message != "Command exited with status 4" {
		t.Errorf("status after restart = %+v; want exit status 4", u.Status)
	}
	// Once FAILED is acknowledged the agent forgets the task: nothing of it
	// is left to send. An update for another task, sent after that (the
	// agent has one UPDATE call in flight at a time), lands after any
	// resend still on its way.
	waitFor(t, 10*time.Second, "survivor forgotten", func() bool {
		st := agentState(t, reg.Register.Info.Endpoint)
		return st.PendingUpdates == 0 && len(st.Tasks) == 0 && len(st.CompletedTasks) == 1
	})
	m.event(agentproto.Event{Type: agentproto.EventReconcile, Reconcile: &agentproto.Reconcile{Tasks: []agentproto.ReconcileTask{{FrameworkID: "fw-1", TaskID: "later"}}}})
	m.waitState(t, "later", mesos.TaskDropped, 10*time.Second)
	if got := m.states("survivor"); !slices.Equal(got, []mesos.TaskState{mesos.TaskStarting, mesos.TaskRunning, mesos.TaskFailed}) {
		t.Errorf("distinct updates = %v; want STARTING, RUNNING, FAILED once each", got)
	}
	n := 0
	for _, us := range m.updatesOf("survivor") {
		if us.Status.State == mesos.TaskFailed {
			n++
		}
	}
	if n != 1 {
		t.Errorf("TASK_FAILED sent %d times; want once (it was acknowledged at once)", n)
	}
}

// TestRestartWhileKilling: a kill recorded before a restart makes the
// restarted agent report TASK_KILLED.
func TestRestartWhileKilling(t *testing.T) {
	m := newFakeMaster(t)
	cfg := testConfig(t, m.srv.URL)
	stop := startAgent(t, cfg)
	endpoint := m.waitRegister(t).Register.Info.Endpoint
	tk := cmdTask("k", `trap "" TERM; touch trapped; sleep 600`)
	tk.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: mesos.Int(time.Second)}}
	m.event(launch("fw-1", tk))
	m.waitState(t, "k", mesos.TaskRunning, 15*time.Second)
	// A TERM that came before the shell set its trap would end the task
	// at once.
	sandbox := taskOf(t, endpoint, "k").Sandbox
	waitFor(t, 10*time.Second, "the task's trap set", func() bool { _, err := os.Stat(filepath.Join(sandbox, "trapped")); return err == nil })
	m.event(agentproto.Event{Type: agentproto.EventKill, Kill: &agentproto.Kill{FrameworkID: "fw-1", TaskID: "k"}})
	// The loop journals the kill in the step that marks the task.
	waitFor(t, 10*time.Second, "the kill recorded", func() bool { return taskOf(t, endpoint, "k").KillRequested })
	stop()
	startAgent(t, cfg)
	m.waitRegister(t)
	m.waitState(t, "k", mesos.TaskKilled, 10*time.Second)
}

// TestRebootStartsNewAgent: a changed boot id means the tasks died; the
// agent registers as a new agent without tasks.
func TestRebootStartsNewAgent(t *testing.T) {
	m := newFakeMaster(t)
	cfg := testConfig(t, m.srv.URL)
	cfg.BootID = "boot-1"
	stop := startAgent(t, cfg)
	m.waitRegister(t)
	m.event(launch("fw-1", cmdTask("s", "sleep 600")))
	m.waitState(t, "s", mesos.TaskRunning, 15*time.Second)
	stop()
	cfg.BootID = "boot-2"
	startAgent(t, cfg)
	reg := m.waitRegister(t)
	if reg.AgentID != "" || len(reg.Register.Tasks) != 0 {
		t.Errorf("REGISTER after reboot = agent %q, %d tasks; want a new agent", reg.AgentID, len(reg.Register.Tasks))
	}
}

// TestRedirectAndUnavailable: a master without a leader (503) is skipped;
// a non-leader's protocol-relative 307 leads to the leader.
func TestRedirectAndUnavailable(t *testing.T) {
	m := newFakeMaster(t)
	leader, _ := url.Parse(m.srv.URL)
	unavailable := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no leader", http.StatusServiceUnavailable)
	})
	follower := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "//"+leader.Host+agentproto.Path)
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	cfg := testConfig(t, unavailable, follower)
	startAgent(t, cfg)
	m.waitRegister(t)
	m.event(launch("fw-1", cmdTask("t", "exit 0")))
	m.waitState(t, "t", mesos.TaskFinished, 10*time.Second)
}

// TestStaleStream: no event for three heartbeat intervals makes the agent
// give up the stream and register again.
func TestStaleStream(t *testing.T) {
	m := newFakeMaster(t)
	m.heartbeat = 0.1
	m.silent = true // announce heartbeats but never send them
	startAgent(t, testConfig(t, m.srv.URL))
	m.waitRegister(t)
	start := time.Now()
	reg := m.waitRegister(t)
	if el := time.Since(start); el < 250*time.Millisecond || el > 5*time.Second {
		t.Errorf("re-registered %v after the stream went quiet; want about 3 x 100ms", el)
	}
	if reg.AgentID == "" {
		t.Errorf("re-REGISTER without agent id")
	}
}

// TestRecoverMidLaunch: a task checkpointed as STARTING without a recorded
// process (the agent died while spawning it) is reported TASK_FAILED as
// never started, once; a torn last journal line is ignored.
func TestRecoverMidLaunch(t *testing.T) {
	m := newFakeMaster(t)
	cfg := testConfig(t, m.srv.URL)
	cfg.BootID = "boot-x"
	st, err := checkpoint.Open(cfg.WorkDir)
	if err != nil {
		t.Fatal(err)
	}
	st.SaveAgent(checkpoint.Agent{AgentID: "agent-7", BootID: "boot-x"})
	ti := cmdTask("half", "sleep 600")
	starting := agentproto.StatusUpdate{FrameworkID: "fw-1", Status: mesos.TaskStatus{TaskID: ti.TaskID, State: mesos.TaskStarting, UUID: "dXVpZC1zdGFydGluZw=="}}
	if err := st.CreateTask(checkpoint.Task{FrameworkID: "fw-1", TaskInfo: &ti}, checkpoint.Record{Update: &starting}); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(filepath.Join(st.TaskDir("fw-1", "half"), checkpoint.JournalFile), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"spawned":{"pid":`)
	f.Close()

	startAgent(t, cfg)
	reg := m.waitRegister(t)
	if reg.AgentID != "agent-7" {
		t.Errorf("REGISTER agent id = %q; want agent-7", reg.AgentID)
	}
	u := m.waitState(t, "half", mesos.TaskFailed, 10*time.Second)
	if u.Status.Reason != mesos.ReasonContainerLaunchFailed {
		t.Errorf("status = %+v; want launch failed", u.Status)
	}
	if got := m.states("half"); !slices.Equal(got, []mesos.TaskState{mesos.TaskStarting, mesos.TaskFailed}) {
		t.Errorf("updates = %v; want the checkpointed STARTING, then FAILED", got)
	}
	if m.updatesOf("half")[0].Status.UUID != starting.Status.UUID {
		t.Errorf("STARTING was not resent with its checkpointed uuid")
	}
}

// TestKillTasksOnStop: an agent told to kill its tasks when it stops
// reports them TASK_KILLED with REASON_AGENT_DRAINING at the next
// registration, so that frameworks do not take a clean stop for the
// tasks' failure; a task a framework killed keeps a plain TASK_KILLED.
func TestKillTasksOnStop(t *testing.T) {
	m := newFakeMaster(t)
	cfg := testConfig(t, m.srv.URL)
	cfg.KillTasksOnStop = true
	stop := startAgent(t, cfg)
	m.waitRegister(t)
	m.event(launch("fw-1", cmdTask("asked", "sleep 600"), cmdTask("bystander", "sleep 600")))
	m.waitState(t, "asked", mesos.TaskRunning, 15*time.Second)
	m.waitState(t, "bystander", mesos.TaskRunning, 15*time.Second)
	m.event(agentproto.Event{Type: agentproto.EventKill, Kill: &agentproto.Kill{FrameworkID: "fw-1", TaskID: "asked"}})
	m.waitState(t, "asked", mesos.TaskKilled, 10*time.Second)
	stop()

	startAgent(t, cfg)
	m.waitRegister(t)
	u := m.waitState(t, "bystander", mesos.TaskKilled, 10*time.Second)
	if u.Status.Reason != mesos.ReasonAgentDraining || u.Status.Message != "The agent stopped and killed its tasks" {
		t.Errorf("bystander's terminal update = %s %q (%s); want TASK_KILLED with %s and a message naming the agent's stop",
			u.Status.State, u.Status.Message, u.Status.Reason, mesos.ReasonAgentDraining)
	}
	us := m.updatesOf("asked")
	if last := us[len(us)-1].Status; last.Reason != "" || last.Message != "Command was killed" {
		t.Errorf("asked's terminal update = %s %q (%s); want a plain TASK_KILLED", last.State, last.Message, last.Reason)
	}
}
