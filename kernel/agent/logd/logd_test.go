package logd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"corral/kernel/agent/logrotate"
)

// TestMain lets the test binary stand in for corral-logger: run as
// "writer" it is the log writer.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "writer" {
		os.Exit(Main(os.Args[2:], os.Stderr))
	}
	os.Exit(m.Run())
}

// start starts the test binary as a writer; errors it reports are
// collected.
func start(t *testing.T) (*Client, func() []error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		errs []error
	)
	c, err := Start(exe, []string{"writer"}, nil, func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		_ = unix.Kill(c.PID(), unix.SIGKILL)
	})
	return c, func() []error {
		mu.Lock()
		defer mu.Unlock()
		return append([]error(nil), errs...)
	}
}

func write(t *testing.T, fd int, s string) {
	t.Helper()
	if _, err := unix.Write(fd, []byte(s)); err != nil {
		t.Fatalf("writing %q: %v", s, err)
	}
}

func wait(t *testing.T, s *Stream) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the writer never reported the stream done")
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var small = logrotate.Limits{MaxSize: 1 << 20, MaxFiles: 2}

// TestOneWriterManyTasks: one writer process writes many tasks' output,
// each into its own files, and reports each done once its pipes end.
func TestOneWriterManyTasks(t *testing.T) {
	c, errs := start(t)
	type task struct {
		dir      string
		out, err int
		s        *Stream
	}
	var tasks []task
	for i := range 20 {
		dir := t.TempDir()
		out, errw, s, err := c.Attach(dir, small, logrotate.Limits{MaxSize: 40, MaxFiles: 2})
		if err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, task{dir, out, errw, s})
		write(t, out, fmt.Sprintf("task %d\n", i))
	}
	for i, tk := range tasks {
		write(t, tk.err, strings.Repeat(fmt.Sprintf("err %d\n", i), 10))
		unix.Close(tk.out)
		unix.Close(tk.err)
	}
	for i, tk := range tasks {
		wait(t, tk.s)
		if got := read(t, filepath.Join(tk.dir, "stdout")); got != fmt.Sprintf("task %d\n", i) {
			t.Errorf("task %d stdout = %q", i, got)
		}
		// stderr rotated at 40 bytes, 2 files kept: the last lines only.
		got := read(t, filepath.Join(tk.dir, "stderr.1")) + read(t, filepath.Join(tk.dir, "stderr"))
		if full := strings.Repeat(fmt.Sprintf("err %d\n", i), 10); got == "" || len(got) > 80 || !strings.HasSuffix(full, got) {
			t.Errorf("task %d stderr files = %q; want the end of %q, at most 80 bytes", i, got, full)
		}
	}
	if e := errs(); len(e) > 0 {
		t.Errorf("errors reported: %v", e)
	}
}

// TestWriterOutlivesAgent: once the agent has gone (its end of the socket
// closed), the writer still writes its tasks' output to the end, then
// ends.
func TestWriterOutlivesAgent(t *testing.T) {
	c, _ := start(t)
	dir := t.TempDir()
	out, errw, _, err := c.Attach(dir, small, small)
	if err != nil {
		t.Fatal(err)
	}
	write(t, out, "before\n")
	c.Close()
	if _, _, _, err := c.Attach(dir, small, small); !errors.Is(err, ErrGone) {
		t.Errorf("Attach after Close = %v; want ErrGone", err)
	}
	time.Sleep(100 * time.Millisecond)
	write(t, out, "after\n")
	if !alive(c.PID()) {
		t.Fatal("the writer ended while a task's output was still open")
	}
	unix.Close(out)
	unix.Close(errw)
	deadline := time.Now().Add(30 * time.Second)
	for alive(c.PID()) {
		if time.Now().After(deadline) {
			t.Fatal("the writer did not end after its agent and its last task had")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := read(t, filepath.Join(dir, "stdout")); got != "before\nafter\n" {
		t.Errorf("stdout = %q; want what was written before and after the agent went", got)
	}
}

// alive reports whether pid is a process that has not been reaped.
func alive(pid int) bool {
	// Start's goroutine reaps the writer; a zombie not yet reaped counts
	// as ended.
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		fields := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:]))
		return len(fields) > 0 && fields[0] != "Z"
	}
	return false
}

// TestUnwritableFileDrained: output whose file cannot be written is
// drained, so the task is neither blocked nor broken, and the reason is
// reported.
func TestUnwritableFileDrained(t *testing.T) {
	c, errs := start(t)
	dir := filepath.Join(t.TempDir(), "missing")
	out, errw, s, err := c.Attach(dir, small, small)
	if err != nil {
		t.Fatal(err)
	}
	chunk := strings.Repeat("x", 64<<10)
	for range 32 { // 2 MB: far more than a pipe holds
		write(t, out, chunk)
	}
	unix.Close(out)
	unix.Close(errw)
	wait(t, s)
	deadline := time.Now().Add(10 * time.Second)
	for len(errs()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	e := errs()
	if len(e) != 1 || !strings.Contains(e[0].Error(), filepath.Join(dir, "stdout")) {
		t.Errorf("errors = %v; want one naming %s", e, filepath.Join(dir, "stdout"))
	}
}

// TestWriterGone: a writer that died is noticed: its streams are released
// and Attach says to start another.
func TestWriterGone(t *testing.T) {
	c, _ := start(t)
	out, errw, s, err := c.Attach(t.TempDir(), small, small)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(out)
	defer unix.Close(errw)
	if err := unix.Kill(c.PID(), unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wait(t, s)
	if _, _, _, err := c.Attach(t.TempDir(), small, small); !errors.Is(err, ErrGone) {
		t.Errorf("Attach to a dead writer = %v; want ErrGone", err)
	}
}

// TestMainRefusesArguments: the writer takes its work from the socket
// only.
func TestMainRefusesArguments(t *testing.T) {
	var b strings.Builder
	if code := Main([]string{"--stdout_max_size=1"}, &b); code != 2 || !strings.Contains(b.String(), "takes no arguments") {
		t.Errorf("Main with arguments = %d %q; want 2 and the reason", code, b.String())
	}
}
