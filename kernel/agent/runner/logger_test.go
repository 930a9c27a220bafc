package runner

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corral/kernel/agent/logd"
	"corral/kernel/agent/logrotate"
	"corral/kernel/agent/task"
)

// TestMain lets the test binary stand in for `corral logger`: run as
// "logger FLAGS" it is the logger.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "logger" {
		os.Exit(logd.Main(os.Args[2:], os.Stderr))
	}
	os.Exit(m.Run())
}

// testLogger is the test binary as the logger.
func testLogger(t *testing.T, size int64, files int) *Logger {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	l := logrotate.Limits{MaxSize: size, MaxFiles: files}
	return &Logger{Exe: exe, Args: []string{"logger"}, Stdout: l, Stderr: l}
}

// TestLoggedOutput: a command's output goes through the loggers: 3 MB
// of numbered lines on stdout rotate at 256 KB with 4 files kept, none
// lost or repeated among those kept; stderr has its own file; the exit
// status is still the command's.
func TestLoggedOutput(t *testing.T) {
	r := newTestRunner(t, "none")
	s := spec(t, "logged", `i=0; while [ $i -lt 60000 ]; do echo "line $i abcdefghijklmnopqrstuvwxyz0123456789"; i=$((i+1)); done; echo oops >&2; exit 7`)
	s.Logger = testLogger(t, 256<<10, 4)
	if _, err := r.Start(s); err != nil {
		t.Fatal(err)
	}
	ex := waitExit(t, r, 120*time.Second)
	if ex.Kind != task.Exited || ex.Code != 7 {
		t.Fatalf("exit = %+v; want 7", ex)
	}
	var kept []byte
	for _, name := range []string{"stdout.3", "stdout.2", "stdout.1", "stdout"} {
		b, err := os.ReadFile(filepath.Join(s.Dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(b) > 256<<10 {
			t.Errorf("%s has %d bytes; want at most 256 KB", name, len(b))
		}
		kept = append(kept, b...)
	}
	lines := strings.Split(strings.TrimSuffix(string(kept), "\n"), "\n")
	last := 59999
	first := last - len(lines) + 1
	for i, l := range lines {
		if want := fmt.Sprintf("line %d abcdefghijklmnopqrstuvwxyz0123456789", first+i); l != want {
			t.Fatalf("kept line %d = %q; want %q (lines lost or repeated)", i, l, want)
		}
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "stdout.4")); !os.IsNotExist(err) {
		t.Errorf("stdout.4 exists; want 4 files kept")
	}
	if b, _ := os.ReadFile(filepath.Join(s.Dir, "stderr")); !bytes.Equal(b, []byte("oops\n")) {
		t.Errorf("stderr = %q; want oops", b)
	}
}

// TestLoggedKill: a killed command's output up to the kill is in its
// file, and the kill is reported as before.
func TestLoggedKill(t *testing.T) {
	r := newTestRunner(t, "none")
	s := spec(t, "loggedkill", `echo before; exec sleep 600`)
	s.Logger = testLogger(t, 1<<20, 2)
	if _, err := r.Start(s); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(filepath.Join(s.Dir, "stdout")); string(b) == "before\n" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.Kill("loggedkill", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	ex := waitExit(t, r, 30*time.Second)
	if ex.Kind != task.Exited || ex.Code != 128+15 {
		t.Errorf("exit = %+v; want killed by SIGTERM (143)", ex)
	}
	if b, _ := os.ReadFile(filepath.Join(s.Dir, "stdout")); string(b) != "before\n" {
		t.Errorf("stdout = %q; want the output before the kill", b)
	}
}

// TestLoggedOutputBeforeExit: a task that ends at once has its output in
// its files by the time its end is reported, so that whoever reads them
// on TASK_FINISHED or TASK_FAILED finds them.
func TestLoggedOutputBeforeExit(t *testing.T) {
	r := newTestRunner(t, "none")
	for i := range 10 {
		s := spec(t, fmt.Sprintf("quick%d", i), `echo out; echo late >&2; exit 3`)
		s.Logger = testLogger(t, 1<<20, 2)
		if _, err := r.Start(s); err != nil {
			t.Fatal(err)
		}
		if ex := waitExit(t, r, 30*time.Second); ex.Code != 3 {
			t.Fatalf("exit = %+v; want 3", ex)
		}
		out, _ := os.ReadFile(filepath.Join(s.Dir, "stdout"))
		errb, _ := os.ReadFile(filepath.Join(s.Dir, "stderr"))
		if string(out) != "out\n" || string(errb) != "late\n" {
			t.Fatalf("run %d: at the reported exit stdout = %q, stderr = %q; want out and late", i, out, errb)
		}
	}
}

// TestTasksShareOneWriter: the tasks of one user share one log writer
// process, each with its own files.
func TestTasksShareOneWriter(t *testing.T) {
	r := newTestRunner(t, "none")
	l := testLogger(t, 1<<20, 2)
	var dirs []string
	for i := range 10 {
		s := spec(t, fmt.Sprintf("shared%d", i), fmt.Sprintf(`echo task %d; echo err %d >&2`, i, i))
		s.Logger = l
		if _, err := r.Start(s); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, s.Dir)
	}
	for range dirs {
		if ex := waitExit(t, r, 30*time.Second); ex.Code != 0 {
			t.Fatalf("exit = %+v; want 0", ex)
		}
	}
	r.wmu.Lock()
	n := len(r.writers)
	r.wmu.Unlock()
	if n != 1 {
		t.Errorf("%d log writers for one user's tasks; want 1", n)
	}
	for i, dir := range dirs {
		out, _ := os.ReadFile(filepath.Join(dir, "stdout"))
		errb, _ := os.ReadFile(filepath.Join(dir, "stderr"))
		if string(out) != fmt.Sprintf("task %d\n", i) || string(errb) != fmt.Sprintf("err %d\n", i) {
			t.Errorf("task %d: stdout %q, stderr %q", i, out, errb)
		}
	}
}

// TestLoggedOutputAfterAgentStops: a task's output written after its
// runner has closed (the agent stopped) still reaches its file, and a
// new runner's tasks get a writer of their own.
func TestLoggedOutputAfterAgentStops(t *testing.T) {
	r1 := newTestRunner(t, "none")
	s := spec(t, "outlives", `echo before; while [ ! -f release ]; do sleep 0.05; done; echo after`)
	s.Logger = testLogger(t, 1<<20, 2)
	pr, err := r1.Start(s)
	if err != nil {
		t.Fatal(err)
	}
	r1.Close()
	r2 := newTestRunner(t, "none")
	r2.Adopt(s, pr)
	s2 := spec(t, "next", `echo next`)
	s2.Logger = s.Logger
	if _, err := r2.Start(s2); err != nil {
		t.Fatal(err)
	}
	if ex := waitExit(t, r2, 30*time.Second); ex.ID != "next" || ex.Code != 0 {
		t.Fatalf("exit = %+v; want next's, 0", ex)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if ex := waitExit(t, r2, 30*time.Second); ex.ID != "outlives" || ex.Code != 0 {
		t.Fatalf("exit = %+v; want outlives', 0", ex)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(s.Dir, "stdout"))
		if string(b) == "before\nafter\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stdout = %q; want before and after the agent stopped", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if b, _ := os.ReadFile(filepath.Join(s2.Dir, "stdout")); string(b) != "next\n" {
		t.Errorf("the new runner's task wrote %q; want next", b)
	}
}
