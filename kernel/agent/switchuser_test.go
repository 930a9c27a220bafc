package agent

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"corral/kernel/agent/checkpoint"
	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// rootRequired skips a test that switches users when not run as root (CI
// and the dev container run the tests as root).
func rootRequired(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("switching users needs root; run the tests as root to cover it")
	}
}

// nobodyUID returns the uid of the user nobody, skipping without one.
func nobodyUID(t *testing.T) uint32 {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody on this host: %v", err)
	}
	var uid uint32
	fmt.Sscan(u.Uid, &uid)
	return uid
}

// userConfig is testConfig with a work dir every user may search, as
// /var/lib/corral/agent is (t.TempDir's are root's alone).
func userConfig(t *testing.T, masters ...string) Config {
	t.Helper()
	cfg := testConfig(t, masters...)
	for _, d := range []string{filepath.Dir(cfg.WorkDir), cfg.WorkDir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return cfg
}

// launchAs is launch with the framework's user set.
func launchAs(fid, fwUser string, tasks ...mesos.TaskInfo) agentproto.Event {
	ev := launch(fid, tasks...)
	ev.Launch.FrameworkInfo.User = fwUser
	return ev
}

// userTask is a task that prints its uid, USER, LOGNAME and HOME, and
// writes a file in its sandbox; user may be empty.
func userTask(id, user string) mesos.TaskInfo {
	ti := cmdTask(id, `id -u; echo "$USER|$LOGNAME|$HOME"; echo made > file`)
	ti.Command.User = user
	return ti
}

func sandboxOfTask(cfg Config, fid, tid string) string {
	return filepath.Join(cfg.WorkDir, "sandboxes", fid, tid)
}

func ownerUID(t *testing.T, p string) uint32 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Uid
}

// TestSwitchUser: a task runs as its command's user, else its
// framework's, with that user's environment, and owns its sandbox; a task
// naming no user runs as the agent's user.
func TestSwitchUser(t *testing.T) {
	rootRequired(t)
	nobody := nobodyUID(t)
	home := func(name string) string {
		u, _ := user.Lookup(name)
		return u.HomeDir
	}
	tests := []struct {
		name    string
		fwUser  string
		cmdUser string
		wantUID uint32
		wantEnv string // USER|LOGNAME|HOME
	}{
		{"command user", "", "nobody", nobody, "nobody|nobody|" + home("nobody")},
		{"framework user when the command has none", "nobody", "", nobody, "nobody|nobody|" + home("nobody")},
		{"command user over framework user", "root", "nobody", nobody, "nobody|nobody|" + home("nobody")},
		{"framework user root", "root", "", 0, "root|root|" + home("root")},
		{"no user named", "", "", uint32(os.Geteuid()), "||<sandbox>"},
	}
	m := newFakeMaster(t)
	cfg := userConfig(t, m.srv.URL)
	if !cfg.SwitchUser {
		t.Fatal("DefaultConfig().SwitchUser = false; want true")
	}
	startAgent(t, cfg)
	m.waitRegister(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fid, tid := fmt.Sprintf("fw-%d", i), fmt.Sprintf("t%d", i)
			m.event(launchAs(fid, tt.fwUser, userTask(tid, tt.cmdUser)))
			u := waitFinished(t, m, tid)
			checkUserTask(t, cfg, fid, tid, u, tt.wantUID, tt.wantEnv)
		})
	}
}

// waitFinished waits for the task's terminal update and fails the test,
// with the update's message, unless it is TASK_FINISHED.
func waitFinished(t *testing.T, m *fakeMaster, tid string) agentproto.StatusUpdate {
	t.Helper()
	var last agentproto.StatusUpdate
	waitFor(t, 15*time.Second, "task "+tid+" to end", func() bool {
		us := m.updatesOf(tid)
		if len(us) == 0 {
			return false
		}
		last = us[len(us)-1]
		return last.Status.State.Terminal()
	})
	if last.Status.State != mesos.TaskFinished {
		t.Fatalf("task %s ended %s: %q (%s); want TASK_FINISHED", tid, last.Status.State, last.Status.Message, last.Status.Reason)
	}
	return last
}

// checkUserTask checks the output of a finished userTask.
func checkUserTask(t *testing.T, cfg Config, fid, tid string, u agentproto.StatusUpdate, wantUID uint32, wantEnv string) {
	t.Helper()
	sandbox := sandboxOfTask(cfg, fid, tid)
	out, _ := os.ReadFile(filepath.Join(sandbox, "stdout"))
	errOut, _ := os.ReadFile(filepath.Join(sandbox, "stderr"))
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	wantEnv = strings.ReplaceAll(wantEnv, "<sandbox>", sandbox)
	if len(lines) != 2 || lines[0] != fmt.Sprint(wantUID) || lines[1] != wantEnv {
		t.Errorf("task %s printed %q (stderr %q; status %q); want uid %d and %q", tid, lines, errOut, u.Status.Message, wantUID, wantEnv)
	}
	for _, name := range []string{".", "stdout", "stderr", "file"} {
		if got := ownerUID(t, filepath.Join(sandbox, name)); got != wantUID {
			t.Errorf("owner of %s in the sandbox = %d; want %d", name, got, wantUID)
		}
	}
}

// TestSwitchUserOff: with SwitchUser false every task runs as the
// agent's own user, whatever user it names.
func TestSwitchUserOff(t *testing.T) {
	rootRequired(t)
	nobodyUID(t)
	m := newFakeMaster(t)
	cfg := userConfig(t, m.srv.URL)
	cfg.SwitchUser = false
	startAgent(t, cfg)
	m.waitRegister(t)
	m.event(launchAs("fw-1", "nobody", userTask("cmd", "nobody"), userTask("fw", "")))
	for _, tid := range []string{"cmd", "fw"} {
		u := waitFinished(t, m, tid)
		checkUserTask(t, cfg, "fw-1", tid, u, uint32(os.Geteuid()), "||<sandbox>")
	}
}

// TestSwitchUserMissing: a task whose user does not exist fails naming
// the user, and nothing of it starts: no TASK_STARTING, no sandbox, no
// process.
func TestSwitchUserMissing(t *testing.T) {
	const missing = "corral-no-such-user"
	if _, err := user.Lookup(missing); err == nil {
		t.Skipf("user %s exists on this host", missing)
	}
	m := newFakeMaster(t)
	cfg := testConfig(t, m.srv.URL)
	stop := startAgent(t, cfg)
	m.waitRegister(t)
	m.setAutoAck(false)
	m.event(launchAs("fw-1", missing, userTask("by-command", missing), userTask("by-framework", "")))
	for _, tid := range []string{"by-command", "by-framework"} {
		u := m.waitState(t, tid, mesos.TaskFailed, 10*time.Second)
		want := `user "corral-no-such-user" does not exist on this agent`
		if u.Status.Message != want || u.Status.Reason != mesos.ReasonExecutorTerminated {
			t.Errorf("%s: status = %q (%s); want %q (%s)", tid, u.Status.Message, u.Status.Reason, want, mesos.ReasonExecutorTerminated)
		}
		if got := m.states(tid); !slices.Equal(got, []mesos.TaskState{mesos.TaskFailed}) {
			t.Errorf("%s: updates = %v; want TASK_FAILED alone", tid, got)
		}
		if _, err := os.Lstat(sandboxOfTask(cfg, "fw-1", tid)); !os.IsNotExist(err) {
			t.Errorf("%s: sandbox exists (%v); want none", tid, err)
		}
		for _, rec := range journal(t, cfg, "fw-1", tid) {
			if rec.Spawned != nil {
				t.Errorf("%s: journal records a process: %+v", tid, rec.Spawned)
			}
		}
	}
	// The unacknowledged TASK_FAILED survives a restart, and the task is
	// still not started.
	stop()
	m.setAutoAck(true)
	startAgent(t, cfg)
	reg := m.waitRegister(t)
	for _, rt := range reg.Register.Tasks {
		if rt.State != mesos.TaskFailed {
			t.Errorf("REGISTER after restart: task %s is %s; want TASK_FAILED", rt.TaskInfo.TaskID.Value, rt.State)
		}
	}
	waitFor(t, 10*time.Second, "TASK_FAILED resent", func() bool { return len(m.updatesOf("by-command")) > 1 })
	if got := m.states("by-command"); !slices.Equal(got, []mesos.TaskState{mesos.TaskFailed}) {
		t.Errorf("updates after restart = %v; want the same TASK_FAILED alone", got)
	}
}

// journal reads a task's checkpoint journal.
func journal(t *testing.T, cfg Config, fid, tid string) []checkpoint.Record {
	t.Helper()
	st, err := checkpoint.Open(cfg.WorkDir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(st.TaskDir(fid, tid), checkpoint.JournalFile))
	if err != nil {
		t.Fatalf("journal of %s: %v", tid, err)
	}
	defer f.Close()
	var out []checkpoint.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r checkpoint.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("journal of %s: %v", tid, err)
		}
		out = append(out, r)
	}
	return out
}

// TestSwitchUserRestart: a task running as its user keeps running as it
// through an agent restart, and its end is reported as usual.
func TestSwitchUserRestart(t *testing.T) {
	rootRequired(t)
	nobody := nobodyUID(t)
	m := newFakeMaster(t)
	cfg := userConfig(t, m.srv.URL)
	stop := startAgent(t, cfg)
	m.waitRegister(t)
	ti := cmdTask("survivor", `id -u; while [ ! -f release ]; do sleep 0.05; done; id -u; echo done > file`)
	ti.Command.User = "nobody"
	m.event(launch("fw-1", ti))
	m.waitState(t, "survivor", mesos.TaskRunning, 15*time.Second)
	stop()

	startAgent(t, cfg)
	reg := m.waitRegister(t)
	if len(reg.Register.Tasks) != 1 || reg.Register.Tasks[0].State != mesos.TaskRunning {
		t.Fatalf("REGISTER after restart: tasks %+v; want survivor RUNNING", reg.Register.Tasks)
	}
	sandbox := sandboxOfTask(cfg, "fw-1", "survivor")
	os.WriteFile(filepath.Join(sandbox, "release"), nil, 0o644)
	waitFinished(t, m, "survivor")
	out, _ := os.ReadFile(filepath.Join(sandbox, "stdout"))
	if want := fmt.Sprintf("%d\n%d\n", nobody, nobody); string(out) != want {
		t.Errorf("stdout = %q; want %q (nobody before and after the restart)", out, want)
	}
	if got := ownerUID(t, filepath.Join(sandbox, "file")); got != nobody {
		t.Errorf("owner of the file written after the restart = %d; want %d", got, nobody)
	}
}

// TestSandboxOfAnotherUserReplaced: a sandbox left by an earlier task of
// the same id but another user is replaced, so that a symlink planted
// there is never opened as the new task's user.
func TestSandboxOfAnotherUserReplaced(t *testing.T) {
	rootRequired(t)
	nobody := nobodyUID(t)
	m := newFakeMaster(t)
	cfg := userConfig(t, m.srv.URL)
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sandbox := sandboxOfTask(cfg, "fw-1", "reused")
	if err := os.MkdirAll(sandbox, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(sandbox, "stdout")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{sandbox, filepath.Join(sandbox, "stdout")} {
		if err := os.Lchown(p, int(nobody), int(nobody)); err != nil {
			t.Fatal(err)
		}
	}
	startAgent(t, cfg)
	m.waitRegister(t)
	m.event(launch("fw-1", cmdTask("reused", "echo root was here")))
	waitFinished(t, m, "reused")
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the symlink's target = %q; want it untouched", b)
	}
	fi, err := os.Lstat(filepath.Join(sandbox, "stdout"))
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("sandbox stdout = %v, %v; want a regular file", fi, err)
	}
	if b, _ := os.ReadFile(filepath.Join(sandbox, "stdout")); string(b) != "root was here\n" {
		t.Errorf("stdout = %q", b)
	}
}

func TestMakeSandbox(t *testing.T) {
	rootRequired(t)
	nobody := int(nobodyUID(t))
	tests := []struct {
		name     string
		setup    func(t *testing.T, dir string)
		uid      int
		wantKept bool // the marker file survives
	}{
		{"new", func(*testing.T, string) {}, 0, false},
		{"same owner kept", func(t *testing.T, dir string) { mkMarked(t, dir, 0) }, 0, true},
		{"same user kept", func(t *testing.T, dir string) { mkMarked(t, dir, nobody) }, nobody, true},
		{"other owner replaced", func(t *testing.T, dir string) { mkMarked(t, dir, nobody) }, 0, false},
		{"root's replaced for a user", func(t *testing.T, dir string) { mkMarked(t, dir, 0) }, nobody, false},
		{"symlink replaced", func(t *testing.T, dir string) {
			target := t.TempDir()
			mkMarked(t, filepath.Join(target, "d"), 0)
			if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(target, "d"), dir); err != nil {
				t.Fatal(err)
			}
		}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "fw", "task")
			tt.setup(t, dir)
			if err := makeSandbox(dir, tt.uid); err != nil {
				t.Fatalf("makeSandbox() = %v", err)
			}
			fi, err := os.Lstat(dir)
			if err != nil || !fi.IsDir() {
				t.Fatalf("sandbox = %v, %v; want a directory", fi, err)
			}
			_, err = os.Lstat(filepath.Join(dir, "marker"))
			if kept := err == nil; kept != tt.wantKept {
				t.Errorf("earlier content kept = %v; want %v", kept, tt.wantKept)
			}
		})
	}
}

// mkMarked makes dir, owned by uid, holding a file named marker.
func mkMarked(t *testing.T, dir string, uid int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "marker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(dir, uid, uid); err != nil {
		t.Fatal(err)
	}
}

// TestCommandCheckRunsAsTheTask: a COMMAND health check runs as the user
// its task runs as, never as the agent (root): a check that is healthy
// only as nobody reports healthy.
func TestCommandCheckRunsAsTheTask(t *testing.T) {
	rootRequired(t)
	nobody := nobodyUID(t)
	m := newFakeMaster(t)
	cfg := userConfig(t, m.srv.URL)
	startAgent(t, cfg)
	m.waitRegister(t)
	tk := cmdTask("checked", "sleep 600")
	tk.Command.User = "nobody"
	tk.HealthCheck = commandCheck(fmt.Sprintf(`test "$(id -u)" = %d`, nobody))
	m.event(launch("fw-check", tk))
	m.waitHealth(t, "checked", true, 20*time.Second)
}
