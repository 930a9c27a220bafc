package runner

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"corral/kernel/agent/task"
)

var testSeq atomic.Int64

// newTestRunner returns a runner whose task cgroups live under a parent
// unique to the test, removed (with any leftover process) at cleanup.
func newTestRunner(t testing.TB, mode string) *Runner {
	t.Helper()
	parent := fmt.Sprintf("/corral-test/%d-%d", os.Getpid(), testSeq.Add(1))
	r, err := New(Config{Cgroups: mode, CgroupParent: parent}, nil)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	t.Cleanup(func() {
		r.Close()
		removeCgroupTree(parent)
	})
	return r
}

// removeCgroupTree kills what is left under parent and removes it.
func removeCgroupTree(parent string) {
	for _, root := range []string{"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/memory", "/sys/fs/cgroup"} {
		dir := filepath.Join(root, parent)
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		var dirs []string
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
				if b, err := os.ReadFile(filepath.Join(p, "cgroup.procs")); err == nil {
					for _, f := range strings.Fields(string(b)) {
						var pid int
						fmt.Sscan(f, &pid)
						unix.Kill(pid, unix.SIGKILL)
					}
				}
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			for try := 0; try < 20 && os.Remove(dirs[i]) != nil; try++ {
				time.Sleep(10 * time.Millisecond)
			}
		}
		os.Remove(filepath.Dir(dir)) // the shared /corral-test parent, if empty
	}
}

// cgroupsRequired skips or fails a test that needs cgroups: in CI a
// machine without usable cgroups is a failure, elsewhere a skip.
func cgroupsRequired(t *testing.T, r *Runner) {
	t.Helper()
	if mode, why := r.Cgroups(); mode == "none" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cgroups unavailable in CI: %s", why)
		}
		t.Skipf("cgroups unavailable: %s", why)
	}
}

func spec(t *testing.T, id, shell string) Spec {
	dir := t.TempDir()
	return Spec{
		ID:       id,
		Argv:     []string{"/bin/sh", "-c", shell},
		Env:      []string{"PATH=/usr/bin:/bin", "GREETING=hello"},
		Dir:      dir,
		ExitFile: filepath.Join(dir, "exit"),
		Cgroup:   id,
	}
}

func waitExit(t *testing.T, r *Runner, timeout time.Duration) Exit {
	t.Helper()
	select {
	case ex := <-r.Exits():
		return ex
	case <-time.After(timeout):
		t.Fatalf("no exit within %v", timeout)
	}
	return Exit{}
}

func TestExitCodes(t *testing.T) {
	r := newTestRunner(t, "auto")
	tests := []struct {
		name, cmd string
		want      task.Exit
	}{
		{"success", "exit 0", task.Exit{Kind: task.Exited, Code: 0}},
		{"failure", "exit 3", task.Exit{Kind: task.Exited, Code: 3}},
		{"not found", "/nonexistent/program", task.Exit{Kind: task.Exited, Code: 127}},
		{"signal", "kill -KILL $$", task.Exit{Kind: task.Exited, Code: 137}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := spec(t, strings.ReplaceAll(tt.name, " ", "-"), tt.cmd)
			if _, err := r.Start(s); err != nil {
				t.Fatalf("Start() = %v", err)
			}
			ex := waitExit(t, r, 10*time.Second)
			if ex.ID != s.ID || ex.Exit != tt.want {
				t.Errorf("exit of %q = %+v; want %+v", tt.cmd, ex, tt.want)
			}
		})
	}
	if n := r.Running(); n != 0 {
		t.Errorf("Running() = %d after all exits; want 0", n)
	}
}

func TestEnvAndSandbox(t *testing.T) {
	r := newTestRunner(t, "auto")
	s := spec(t, "env", `echo "$GREETING from $(pwd)"; echo oops >&2; echo made > file`)
	if _, err := r.Start(s); err != nil {
		t.Fatal(err)
	}
	if ex := waitExit(t, r, 10*time.Second); ex.Code != 0 {
		t.Fatalf("exit = %+v", ex)
	}
	out, _ := os.ReadFile(filepath.Join(s.Dir, "stdout"))
	if got, want := string(out), "hello from "+s.Dir+"\n"; got != want {
		t.Errorf("stdout = %q; want %q", got, want)
	}
	errOut, _ := os.ReadFile(filepath.Join(s.Dir, "stderr"))
	if string(errOut) != "oops\n" {
		t.Errorf("stderr = %q; want %q", errOut, "oops\n")
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "file")); err != nil {
		t.Errorf("file written by the task: %v", err)
	}
}

func TestKill(t *testing.T) {
	r := newTestRunner(t, "auto")
	s := spec(t, "kill", "echo ready; sleep 600")
	if _, err := r.Start(s); err != nil {
		t.Fatal(err)
	}
	// Signalled before it runs the command, the wrapper would die with
	// the command and leave no exit code.
	waitFile(t, filepath.Join(s.Dir, "stdout"), "ready")
	if err := r.Kill(s.ID, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	ex := waitExit(t, r, 5*time.Second)
	if ex.Exit != (task.Exit{Kind: task.Exited, Code: 143}) {
		t.Errorf("exit after SIGTERM = %+v; want code 143", ex)
	}
	// The runner forgets the process just after reporting its exit.
	eventually(t, 5*time.Second, "Kill() after exit to return ErrUnknown", func() bool { return r.Kill(s.ID, time.Second) == ErrUnknown })
}

func TestKillIgnoringTERM(t *testing.T) {
	r := newTestRunner(t, "auto")
	s := spec(t, "stubborn", `trap "" TERM; echo ready; sleep 600`)
	if _, err := r.Start(s); err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(s.Dir, "stdout"), "ready")
	start := time.Now()
	const grace = 300 * time.Millisecond
	if err := r.Kill(s.ID, grace); err != nil {
		t.Fatal(err)
	}
	ex := waitExit(t, r, 5*time.Second)
	if el := time.Since(start); el < grace {
		t.Errorf("task ended after %v, before the grace period %v", el, grace)
	}
	// SIGKILL hits the wrapper too, so the exit code is unknown; the agent
	// reports TASK_KILLED because it asked for the kill.
	if ex.Kind != task.Unknown && ex.Code != 137 {
		t.Errorf("exit = %+v; want unknown or 137", ex)
	}
}

// waitFile waits until the file at path contains want.
func waitFile(t *testing.T, path, want string) {
	t.Helper()
	eventually(t, 5*time.Second, fmt.Sprintf("%s to contain %q", path, want), func() bool {
		b, _ := os.ReadFile(path)
		return strings.Contains(string(b), want)
	})
}

// eventually polls cond until it holds, failing the test after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMemoryLimit(t *testing.T) {
	r := newTestRunner(t, "auto")
	cgroupsRequired(t, r)
	s := spec(t, "hog", "dd if=/dev/zero of=/dev/null bs=96M count=1")
	s.MemMB, s.CPUs = 32, 0.5
	if _, err := r.Start(s); err != nil {
		t.Fatal(err)
	}
	ex := waitExit(t, r, 20*time.Second)
	if !ex.OOM {
		t.Fatalf("exit of memory hog = %+v; want OOM", ex)
	}
	if v := task.Outcome(ex.Exit, false, s.MemMB); v.Reason != "REASON_CONTAINER_LIMITATION_MEMORY" {
		t.Errorf("Outcome = %+v", v)
	}
}

func TestCgroupLimitsAndRemoval(t *testing.T) {
	r := newTestRunner(t, "auto")
	cgroupsRequired(t, r)
	if mode, _ := r.Cgroups(); mode != "v1" {
		t.Skipf("limit files checked for v1 only; mode is %s", mode)
	}
	s := spec(t, "limited", "sleep 600")
	s.CPUs, s.MemMB = 0.5, 64
	pr, err := r.Start(s)
	if err != nil {
		t.Fatal(err)
	}
	cgPath := func(ctrl string) string {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pr.PID))
		for _, l := range strings.Split(string(b), "\n") {
			if parts := strings.SplitN(l, ":", 3); len(parts) == 3 && parts[1] == ctrl {
				return filepath.Join("/sys/fs/cgroup", ctrl, parts[2])
			}
		}
		return ""
	}
	mem, cpu := cgPath("memory"), cgPath("cpu")
	read := func(p string) string { b, _ := os.ReadFile(p); return strings.TrimSpace(string(b)) }
	if got := read(filepath.Join(mem, "memory.limit_in_bytes")); got != fmt.Sprint(64<<20) {
		t.Errorf("memory.limit_in_bytes = %q (cgroup %q); want %d", got, mem, 64<<20)
	}
	if got := read(filepath.Join(cpu, "cpu.cfs_quota_us")); got != "50000" {
		t.Errorf("cpu.cfs_quota_us = %q; want 50000", got)
	}
	if got := read(filepath.Join(cpu, "cpu.shares")); got != "512" {
		t.Errorf("cpu.shares = %q; want 512", got)
	}
	r.Kill(s.ID, time.Second)
	waitExit(t, r, 5*time.Second)
	eventually(t, 10*time.Second, fmt.Sprintf("cgroup %s to be removed after the task ended", mem), func() bool {
		_, err := os.Stat(mem)
		return os.IsNotExist(err)
	})
}

// TestAdoptAfterRestart: a second runner (a restarted agent) adopts a
// running wrapper and reports its real exit code, exactly once.
func TestAdoptAfterRestart(t *testing.T) {
	r1 := newTestRunner(t, "auto")
	s := spec(t, "survivor", `while [ ! -f release ]; do sleep 0.05; done; exit 7`)
	pr, err := r1.Start(s)
	if err != nil {
		t.Fatal(err)
	}
	r1.Close() // the agent "crashes"; the task keeps running
	if err := unix.Kill(pr.PID, 0); err != nil {
		t.Fatalf("wrapper died with its runner: %v", err)
	}

	r2, err := New(Config{Cgroups: "auto", CgroupParent: cgroupParentOf(r1)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r2.Close)
	r2.Adopt(s, pr)
	select {
	case ex := <-r2.Exits():
		t.Fatalf("exit before the task ended: %+v", ex)
	case <-time.After(200 * time.Millisecond):
	}
	os.WriteFile(filepath.Join(s.Dir, "release"), nil, 0o644)
	ex := waitExit(t, r2, 10*time.Second)
	if ex.ID != s.ID || ex.Exit != (task.Exit{Kind: task.Exited, Code: 7}) {
		t.Fatalf("adopted exit = %+v; want code 7", ex)
	}
	select {
	case ex := <-r2.Exits():
		t.Fatalf("second exit reported: %+v", ex)
	case ex := <-r1.Exits():
		t.Fatalf("closed runner reported: %+v", ex)
	case <-time.After(300 * time.Millisecond):
	}
}

func cgroupParentOf(r *Runner) string {
	switch d := r.cg.(type) {
	case *v1Driver:
		return d.parent
	case *v2Driver:
		return d.parent
	}
	return "/corral-test/none"
}

// TestAdoptGone: a wrapper that is gone (or whose pid was reused) is
// reported at once, from its exit file.
func TestAdoptGone(t *testing.T) {
	r := newTestRunner(t, "none")
	s := spec(t, "gone", "true")
	os.WriteFile(s.ExitFile, []byte("5\n"), 0o644)
	r.Adopt(s, Proc{PID: os.Getpid(), StartTime: 1}) // our pid, wrong start time
	if ex := waitExit(t, r, 5*time.Second); ex.Exit != (task.Exit{Kind: task.Exited, Code: 5}) {
		t.Errorf("exit = %+v; want code 5", ex)
	}
	s2 := spec(t, "gone2", "true")
	r.Adopt(s2, Proc{PID: 1 << 30, StartTime: 1})
	if ex := waitExit(t, r, 5*time.Second); ex.Kind != task.Unknown {
		t.Errorf("exit without exit file = %+v; want unknown", ex)
	}
}

func TestStartTime(t *testing.T) {
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	a, err := StartTime(cmd.Process.Pid)
	if err != nil || a == 0 {
		t.Fatalf("StartTime() = %d, %v", a, err)
	}
	b, _ := StartTime(os.Getpid())
	if a < b {
		t.Errorf("child start time %d before ours %d", a, b)
	}
}

// TestCgroupLimitsAboveRequests: limits above a task's requests: cpu
// shares from the request and no CFS quota for an unlimited cpu limit;
// the memory limit from the limit, the soft limit from the request.
func TestCgroupLimitsAboveRequests(t *testing.T) {
	r := newTestRunner(t, "auto")
	cgroupsRequired(t, r)
	if mode, _ := r.Cgroups(); mode != "v1" {
		t.Skipf("limit files checked for v1 only; mode is %s", mode)
	}
	s := spec(t, "bursty", "sleep 600")
	s.CPUs, s.MemMB, s.CPULimit, s.MemLimitMB = 0.5, 64, math.Inf(1), 128
	if _, err := r.Start(s); err != nil {
		t.Fatal(err)
	}
	defer r.Kill("bursty", 0)
	parent := cgroupParentOf(r)
	read := func(ctrl, file string) string {
		b, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup", ctrl, parent, "bursty", file))
		return strings.TrimSpace(string(b))
	}
	for _, c := range []struct{ ctrl, file, want string }{
		{"cpu", "cpu.shares", "512"},
		{"cpu", "cpu.cfs_quota_us", "-1"},
		{"memory", "memory.limit_in_bytes", fmt.Sprint(128 << 20)},
		{"memory", "memory.soft_limit_in_bytes", fmt.Sprint(64 << 20)},
	} {
		if got := read(c.ctrl, c.file); got != c.want {
			t.Errorf("%s = %q; want %s", c.file, got, c.want)
		}
	}
}
