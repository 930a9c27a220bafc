package agent

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

func secs(v float64) *mesos.Float { f := mesos.Float(v); return &f }
func count(v int64) *mesos.Int    { n := mesos.Int(v); return &n }

// fastCheck is a health check that starts at once and probes every 100ms,
// with no grace period and the default three failures.
func fastCheck(hc mesos.HealthCheck) *mesos.HealthCheck {
	hc.DelaySeconds, hc.IntervalSeconds, hc.TimeoutSeconds, hc.GracePeriodSeconds = secs(0), secs(0.1), secs(2), secs(0)
	return &hc
}

func commandCheck(shell string) *mesos.HealthCheck {
	return fastCheck(mesos.HealthCheck{Type: "COMMAND", Command: &mesos.CommandInfo{Value: shell}})
}

// healthUpdates returns the distinct health updates of a task, in order.
func (m *fakeMaster) healthUpdates(taskID string) []mesos.TaskStatus {
	seen := map[string]bool{}
	var out []mesos.TaskStatus
	for _, u := range m.updatesOf(taskID) {
		if u.Status.Reason == mesos.ReasonTaskHealthCheckStatusUpdated && !seen[u.Status.UUID] {
			seen[u.Status.UUID] = true
			out = append(out, u.Status)
		}
	}
	return out
}

// waitHealth waits for the task's latest health update to say healthy.
func (m *fakeMaster) waitHealth(t *testing.T, taskID string, healthy bool, timeout time.Duration) mesos.TaskStatus {
	t.Helper()
	var st mesos.TaskStatus
	waitFor(t, timeout, taskID+" healthy="+map[bool]string{true: "true", false: "false"}[healthy], func() bool {
		us := m.healthUpdates(taskID)
		if len(us) == 0 {
			return false
		}
		st = us[len(us)-1]
		return st.Healthy != nil && *st.Healthy == healthy
	})
	if st.State != mesos.TaskRunning || st.Source != mesos.SourceExecutor || st.UUID == "" {
		t.Errorf("health update = %+v; want a reliable TASK_RUNNING from the executor", st)
	}
	return st
}

// healthSeq renders a task's distinct updates as STATE or STATE/healthy.
func (m *fakeMaster) healthSeq(taskID string) []string {
	seen := map[string]bool{}
	var out []string
	for _, u := range m.updatesOf(taskID) {
		if seen[u.Status.UUID] {
			continue
		}
		seen[u.Status.UUID] = true
		s := string(u.Status.State)
		if u.Status.Healthy != nil {
			s += map[bool]string{true: "/healthy", false: "/unhealthy"}[*u.Status.Healthy]
		}
		out = append(out, s)
	}
	return out
}

func taskOf(t *testing.T, endpoint, taskID string) TaskState {
	t.Helper()
	var st State
	if code := getJSON(t, endpoint+"/state", &st); code != 200 {
		t.Fatalf("/state = %d", code)
	}
	for _, ts := range st.Tasks {
		if ts.TaskID == taskID {
			return ts
		}
	}
	t.Fatalf("/state has no task %s: %+v", taskID, st.Tasks)
	return TaskState{}
}

// TestHealthCommand: a passing command check (run in the sandbox with the
// task's environment and its own) reports healthy; when the file it checks
// goes away the task is reported unhealthy, then killed after three
// failures with TASK_KILLED healthy=false.
func TestHealthCommand(t *testing.T) {
	m := newFakeMaster(t)
	cfg := testConfig(t, m.srv.URL)
	startAgent(t, cfg)
	endpoint := m.waitRegister(t).Register.Info.Endpoint
	web := cmdTask("web", "touch healthy; exec sleep 600")
	web.HealthCheck = commandCheck(`test -f healthy && test "$PORT0" = 31002 && test "$CHECK_VAR" = 1`)
	web.HealthCheck.Command.Environment = &mesos.Environment{Variables: []mesos.Variable{{Name: "CHECK_VAR", Value: "1"}}}
	web.HealthCheck.GracePeriodSeconds = secs(10) // the task may not have touched the file yet
	m.event(launch("fw-1", web))

	st := m.waitHealth(t, "web", true, 10*time.Second)
	if st.Message != "Health check passed: command exited with status 0" {
		t.Errorf("healthy message = %q", st.Message)
	}
	ts := taskOf(t, endpoint, "web")
	if ts.Health != "healthy" || ts.Healthy == nil || !*ts.Healthy || ts.State != mesos.TaskRunning {
		t.Errorf("/state task = health %q healthy %v state %s; want healthy RUNNING", ts.Health, ts.Healthy, ts.State)
	}

	if err := os.Remove(filepath.Join(ts.Sandbox, "healthy")); err != nil {
		t.Fatal(err)
	}
	st = m.waitHealth(t, "web", false, 10*time.Second)
	if st.Message != "Health check failed: command exited with status 1" {
		t.Errorf("unhealthy message = %q", st.Message)
	}
	u := m.waitState(t, "web", mesos.TaskKilled, 10*time.Second)
	want := "Task killed after 3 consecutive failed health checks: command exited with status 1"
	if u.Status.Message != want || u.Status.Healthy == nil || *u.Status.Healthy {
		t.Errorf("terminal status = message %q healthy %v; want %q, healthy=false", u.Status.Message, u.Status.Healthy, want)
	}
	wantSeq := []string{"TASK_STARTING", "TASK_RUNNING", "TASK_RUNNING/healthy", "TASK_RUNNING/unhealthy", "TASK_KILLED/unhealthy"}
	if got := m.healthSeq("web"); !slices.Equal(got, wantSeq) {
		t.Errorf("updates = %v; want %v", got, wantSeq)
	}
	// Health updates are acknowledged like any other: the checkpoint goes.
	waitFor(t, 10*time.Second, "checkpoints removed", func() bool {
		ents, _ := os.ReadDir(filepath.Join(cfg.WorkDir, "meta", "frameworks"))
		return len(ents) == 0
	})
}

// checkCounter returns a function counting the lines a task's check
// command appended to the file "checks" in its sandbox.
func checkCounter(t *testing.T, endpoint, taskID string) func() int {
	sandbox := taskOf(t, endpoint, taskID).Sandbox
	return func() int {
		b, _ := os.ReadFile(filepath.Join(sandbox, "checks"))
		return strings.Count(string(b), "x")
	}
}

// TestHealthNeverKillAndStop: with consecutive_failures 0 a failing check
// reports unhealthy once and never kills; once the task is killed the
// checks stop.
func TestHealthNeverKillAndStop(t *testing.T) {
	m := newFakeMaster(t)
	startAgent(t, testConfig(t, m.srv.URL))
	endpoint := m.waitRegister(t).Register.Info.Endpoint
	tk := cmdTask("sick", "sleep 600")
	tk.HealthCheck = commandCheck(`echo x >> "$MESOS_SANDBOX/checks"; exit 1`)
	tk.HealthCheck.IntervalSeconds = secs(0.05)
	tk.HealthCheck.ConsecutiveFailures = count(0)
	// witness has a check on the same interval that goes on: its runs
	// measure how many of sick's would have come.
	witness := cmdTask("witness", "sleep 600")
	witness.HealthCheck = commandCheck(`echo x >> "$MESOS_SANDBOX/checks"`)
	witness.HealthCheck.IntervalSeconds = secs(0.05)
	m.event(launch("fw-1", tk, witness))
	m.waitHealth(t, "sick", false, 10*time.Second)
	m.waitHealth(t, "witness", true, 10*time.Second)
	checks, witnessChecks := checkCounter(t, endpoint, "sick"), checkCounter(t, endpoint, "witness")
	waitFor(t, 10*time.Second, "ten checks", func() bool { return checks() >= 10 })
	if got := m.healthSeq("sick"); !slices.Equal(got, []string{"TASK_STARTING", "TASK_RUNNING", "TASK_RUNNING/unhealthy"}) {
		t.Errorf("updates after %d failed checks = %v; want one unhealthy update and no kill", checks(), got)
	}
	if ts := taskOf(t, endpoint, "sick"); ts.Health != "unhealthy" || ts.HealthFailures < 5 {
		t.Errorf("/state task = health %q failures %d; want unhealthy with >= 5 failures", ts.Health, ts.HealthFailures)
	}

	m.event(agentproto.Event{Type: agentproto.EventKill, Kill: &agentproto.Kill{FrameworkID: "fw-1", TaskID: "sick"}})
	u := m.waitState(t, "sick", mesos.TaskKilled, 10*time.Second)
	if u.Status.Message != "Command was killed" || u.Status.Healthy != nil {
		t.Errorf("terminal status = %+v; want a plain kill", u.Status)
	}
	n, w := checks(), witnessChecks()
	waitFor(t, 10*time.Second, "eight more checks of the witness", func() bool { return witnessChecks() >= w+8 })
	if after := checks(); after != n {
		t.Errorf("%d checks ran after the task ended (the witness's ran %d times)", after-n, witnessChecks()-w)
	}
}

// TestHealthGracePeriod: failures inside the grace period are neither
// reported nor counted.
func TestHealthGracePeriod(t *testing.T) {
	m := newFakeMaster(t)
	startAgent(t, testConfig(t, m.srv.URL))
	m.waitRegister(t)
	tk := cmdTask("slow-start", "sleep 600")
	tk.HealthCheck = commandCheck("exit 1")
	tk.HealthCheck.GracePeriodSeconds = secs(0.8)
	tk.HealthCheck.ConsecutiveFailures = count(1)
	start := time.Now()
	m.event(launch("fw-1", tk))
	m.waitState(t, "slow-start", mesos.TaskRunning, 10*time.Second)
	u := m.waitState(t, "slow-start", mesos.TaskKilled, 10*time.Second)
	if el := time.Since(start); el < 800*time.Millisecond {
		t.Errorf("killed %v after launch; want after the 800ms grace period", el)
	}
	if want := "Task killed after 1 consecutive failed health check: command exited with status 1"; u.Status.Message != want {
		t.Errorf("terminal message = %q; want %q", u.Status.Message, want)
	}
	wantSeq := []string{"TASK_STARTING", "TASK_RUNNING", "TASK_RUNNING/unhealthy", "TASK_KILLED/unhealthy"}
	if got := m.healthSeq("slow-start"); !slices.Equal(got, wantSeq) {
		t.Errorf("updates = %v; want %v", got, wantSeq)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestHealthHTTP: an HTTP check against the server the task runs on its
// assigned port.
func TestHealthHTTP(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("needs /usr/bin/python3 for the task's HTTP server")
	}
	m := newFakeMaster(t)
	startAgent(t, testConfig(t, m.srv.URL))
	m.waitRegister(t)
	port := freePort(t)
	tk := cmdTask("http", "exec python3 -m http.server $PORT0 --bind 127.0.0.1")
	tk.Resources[2].Ranges.Range = []mesos.Range{{Begin: mesos.Uint(port), End: mesos.Uint(port)}}
	tk.HealthCheck = fastCheck(mesos.HealthCheck{Type: "HTTP", HTTP: &mesos.HTTPCheckInfo{Port: mesos.Int(port), Path: "/"}})
	tk.HealthCheck.GracePeriodSeconds = secs(20) // python takes a moment to listen
	m.event(launch("fw-1", tk))
	st := m.waitHealth(t, "http", true, 20*time.Second)
	if !strings.Contains(st.Message, "returned status 200") {
		t.Errorf("healthy message = %q", st.Message)
	}
}

// TestHealthTCP: a TCP check passes against a listening port and kills its
// task against a closed one; a hanging command check of a third task holds
// up neither.
func TestHealthTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	m := newFakeMaster(t)
	startAgent(t, testConfig(t, m.srv.URL))
	m.waitRegister(t)
	up := cmdTask("up", "sleep 600")
	up.HealthCheck = fastCheck(mesos.HealthCheck{Type: "TCP", TCP: &mesos.TCPCheckInfo{Port: mesos.Int(ln.Addr().(*net.TCPAddr).Port)}})
	down := cmdTask("down", "sleep 600")
	down.HealthCheck = fastCheck(mesos.HealthCheck{Type: "TCP", TCP: &mesos.TCPCheckInfo{Port: mesos.Int(freePort(t))}})
	down.HealthCheck.ConsecutiveFailures = count(2)
	hang := cmdTask("hang", "sleep 600")
	hang.HealthCheck = commandCheck("sleep 60")
	hang.HealthCheck.TimeoutSeconds = secs(30)
	start := time.Now()
	m.event(launch("fw-1", hang, up, down))
	m.waitHealth(t, "up", true, 10*time.Second)
	u := m.waitState(t, "down", mesos.TaskKilled, 10*time.Second)
	if !strings.HasPrefix(u.Status.Message, "Task killed after 2 consecutive failed health checks: connecting to 127.0.0.1:") {
		t.Errorf("terminal message = %q", u.Status.Message)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("TCP checks took %v; a hanging command check must not hold them up", el)
	}
	if got := m.healthUpdates("hang"); len(got) != 0 {
		t.Errorf("hanging check reported %+v; want nothing before its timeout", got)
	}
}

// TestHealthInvalid: an invalid health check fails the launch with
// TASK_ERROR naming the field.
func TestHealthInvalid(t *testing.T) {
	m := newFakeMaster(t)
	startAgent(t, testConfig(t, m.srv.URL))
	m.waitRegister(t)
	cases := map[string]struct {
		hc   mesos.HealthCheck
		want string
	}{
		"bad-type":       {mesos.HealthCheck{Type: "SCRIPT"}, "type"},
		"no-command":     {mesos.HealthCheck{Type: "COMMAND"}, "command"},
		"http-no-port":   {mesos.HealthCheck{Type: "HTTP", HTTP: &mesos.HTTPCheckInfo{Path: "/"}}, "http.port"},
		"tcp-port-0":     {mesos.HealthCheck{Type: "TCP", TCP: &mesos.TCPCheckInfo{Port: 0}}, "tcp.port"},
		"tcp-missing":    {mesos.HealthCheck{Type: "TCP"}, "tcp"},
		"negative-delay": {mesos.HealthCheck{Type: "TCP", TCP: &mesos.TCPCheckInfo{Port: 80}, DelaySeconds: secs(-1)}, "delay_seconds"},
		"negative-grace": {mesos.HealthCheck{Type: "TCP", TCP: &mesos.TCPCheckInfo{Port: 80}, GracePeriodSeconds: secs(-1)}, "grace_period_seconds"},
	}
	var tasks []mesos.TaskInfo
	for id, tc := range cases {
		tk := cmdTask(id, "sleep 600")
		hc := tc.hc
		tk.HealthCheck = &hc
		tasks = append(tasks, tk)
	}
	m.event(launch("fw-1", tasks...))
	for id, tc := range cases {
		u := m.waitState(t, id, mesos.TaskError, 10*time.Second)
		if !strings.HasPrefix(u.Status.Message, "invalid health_check: "+tc.want) || u.Status.Reason != mesos.ReasonTaskInvalid {
			t.Errorf("%s: status = reason %s message %q; want TASK_INVALID naming %q", id, u.Status.Reason, u.Status.Message, tc.want)
		}
	}
}

// TestHealthRecovery: a restarted agent resumes the checks of its running
// tasks from their last reported health, without repeating it, and still
// kills them when they fail.
func TestHealthRecovery(t *testing.T) {
	m := newFakeMaster(t)
	cfg := testConfig(t, m.srv.URL)
	stop := startAgent(t, cfg)
	endpoint := m.waitRegister(t).Register.Info.Endpoint
	tk := cmdTask("svc", "touch healthy; exec sleep 600")
	tk.HealthCheck = commandCheck(`echo x >> checks; test -f healthy`)
	tk.HealthCheck.GracePeriodSeconds = secs(10)
	m.event(launch("fw-1", tk))
	m.waitHealth(t, "svc", true, 10*time.Second)
	sandbox := taskOf(t, endpoint, "svc").Sandbox
	stop()

	startAgent(t, cfg)
	endpoint = m.waitRegister(t).Register.Info.Endpoint
	checks := checkCounter(t, endpoint, "svc")
	n := checks()
	waitFor(t, 10*time.Second, "three checks after the restart", func() bool { return checks() >= n+3 })
	if ts := taskOf(t, endpoint, "svc"); ts.Health != "healthy" {
		t.Errorf("/state after restart: health %q; want healthy", ts.Health)
	}
	if err := os.Remove(filepath.Join(sandbox, "healthy")); err != nil {
		t.Fatal(err)
	}
	u := m.waitState(t, "svc", mesos.TaskKilled, 10*time.Second)
	if !strings.HasPrefix(u.Status.Message, "Task killed after 3 consecutive failed health checks") {
		t.Errorf("terminal message = %q", u.Status.Message)
	}
	wantSeq := []string{"TASK_STARTING", "TASK_RUNNING", "TASK_RUNNING/healthy", "TASK_RUNNING/unhealthy", "TASK_KILLED/unhealthy"}
	if got := m.healthSeq("svc"); !slices.Equal(got, wantSeq) {
		t.Errorf("updates = %v; want %v", got, wantSeq)
	}
}
