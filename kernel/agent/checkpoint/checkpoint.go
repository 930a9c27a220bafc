package checkpoint

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"corral/kernel/agent/task"
	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// File names inside a task's checkpoint directory.
const (
	JournalFile = "journal.jsonl"
	ExitFile    = "exit"
)

// Store reads and writes the checkpoint of one agent work dir. Methods on
// different tasks may run concurrently; appends to one task's journal must
// come from one goroutine at a time.
type Store struct {
	workDir string
	meta    string
}

// Open prepares the checkpoint and sandbox directories under workDir.
func Open(workDir string) (*Store, error) {
	abs, err := filepath.Abs(workDir)
	if err != nil {
		return nil, fmt.Errorf("work dir %q: %w", workDir, err)
	}
	s := &Store{workDir: abs, meta: filepath.Join(abs, "meta")}
	for _, d := range []string{filepath.Join(s.meta, "frameworks"), s.SandboxRoot()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	return s, nil
}

// WorkDir returns the absolute work dir.
func (s *Store) WorkDir() string { return s.workDir }

// SandboxRoot returns the directory holding all sandboxes.
func (s *Store) SandboxRoot() string { return filepath.Join(s.workDir, "sandboxes") }

// dirName maps an id to a directory name that is always a safe component.
func dirName(id string) string {
	if task.SafeID(id) == nil && !strings.HasPrefix(id, "~") {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "~" + hex.EncodeToString(sum[:16])
}

// TaskDir returns the checkpoint directory of a task.
func (s *Store) TaskDir(fid, tid string) string {
	return filepath.Join(s.meta, "frameworks", dirName(fid), "tasks", dirName(tid))
}

// SandboxDir returns the sandbox of a task.
func (s *Store) SandboxDir(fid, tid string) string {
	return filepath.Join(s.SandboxRoot(), dirName(fid), dirName(tid))
}

// ExecutorSandboxDir returns the sandbox of framework fid's executor eid,
// shared by its tasks. Its name cannot be a task's: task directories
// starting with '~' are hashes.
func (s *Store) ExecutorSandboxDir(fid, eid string) string {
	return filepath.Join(s.SandboxRoot(), dirName(fid), "~executor."+dirName(eid))
}

// ExitPath returns the file the task's wrapper writes its exit code to.
func (s *Store) ExitPath(fid, tid string) string { return filepath.Join(s.TaskDir(fid, tid), ExitFile) }

// Agent is meta/agent.json.
type Agent struct {
	AgentID string `json:"agent_id"`
	BootID  string `json:"boot_id"`
}

// LoadAgent returns the saved agent identity; ok is false when there is none.
func (s *Store) LoadAgent() (a Agent, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(s.meta, "agent.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return Agent{}, false, nil
	}
	if err != nil {
		return Agent{}, false, fmt.Errorf("reading agent.json: %w", err)
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return Agent{}, false, fmt.Errorf("parsing agent.json: %w", err)
	}
	return a, true, nil
}

// SaveAgent writes meta/agent.json atomically.
func (s *Store) SaveAgent(a Agent) error {
	return writeJSON(filepath.Join(s.meta, "agent.json"), a)
}

// Reset archives every task checkpoint (after a reboot the tasks are gone):
// meta/frameworks moves to meta/archive/<timestamp>, and only the newest
// few archives are kept.
func (s *Store) Reset(now time.Time) error {
	src := filepath.Join(s.meta, "frameworks")
	arch := filepath.Join(s.meta, "archive")
	if err := os.MkdirAll(arch, 0o755); err != nil {
		return fmt.Errorf("creating archive dir: %w", err)
	}
	dst := filepath.Join(arch, now.UTC().Format("20060102T150405.000000000"))
	if err := os.Rename(src, dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("archiving checkpoints: %w", err)
	}
	if err := os.MkdirAll(src, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", src, err)
	}
	if ents, err := os.ReadDir(arch); err == nil && len(ents) > 3 {
		for _, e := range ents[:len(ents)-3] { // names sort by time
			os.RemoveAll(filepath.Join(arch, e.Name()))
		}
	}
	return nil
}

// Task is what is known about a task before it is spawned: the first
// record of its journal.
type Task struct {
	FrameworkID   string               `json:"framework_id"`
	FrameworkInfo *mesos.FrameworkInfo `json:"framework_info,omitempty"`
	TaskInfo      *mesos.TaskInfo      `json:"task_info,omitempty"`
	Sandbox       string               `json:"sandbox,omitempty"`
	Cgroup        string               `json:"cgroup,omitempty"`
	LaunchedAt    time.Time            `json:"launched_at"`
	// Executor is set in the journal of a custom executor (whose TaskInfo
	// is task.ExecutorTask's): its ExecutorInfo as the master sent it.
	Executor *mesos.ExecutorInfo `json:"executor,omitempty"`
}

// CreateTask makes the task's checkpoint directory and starts its journal
// with t followed by recs, in one write.
func (s *Store) CreateTask(t Task, recs ...Record) error {
	dir := s.TaskDir(t.FrameworkID, t.TaskInfo.TaskID.Value)
	if err := mkdirLeaf(dir); err != nil {
		return fmt.Errorf("creating task checkpoint: %w", err)
	}
	return s.Append(t.FrameworkID, t.TaskInfo.TaskID.Value, append([]Record{{Task: &t}}, recs...)...)
}

// mkdirLeaf creates dir, and its parents only when they are missing: one
// mkdir(2) in the common case, which matters when launching many tasks.
// RemoveTask drops a framework's directories once they are empty, which
// can race with creating a first task under them: a parent that vanishes
// midway is created again (once dir exists its parents are not empty, so
// they stay).
func mkdirLeaf(dir string) error {
	err := os.Mkdir(dir, 0o755)
	for try := 0; try < 5 && errors.Is(err, fs.ErrNotExist); try++ {
		err = os.MkdirAll(dir, 0o755)
	}
	if err == nil || errors.Is(err, fs.ErrExist) {
		return nil
	}
	return err
}

// MkdirLeaf creates dir like os.MkdirAll, with a single mkdir(2) when the
// parent exists.
func MkdirLeaf(dir string) error { return mkdirLeaf(dir) }

// Record is one journal line; exactly one field is set. A launched task's
// journal starts with its Task record.
type Record struct {
	Task    *Task                    `json:"task,omitempty"`
	Update  *agentproto.StatusUpdate `json:"update,omitempty"`
	Ack     string                   `json:"ack,omitempty"`
	Spawned *Spawned                 `json:"spawned,omitempty"`
	Kill    *Kill                    `json:"kill,omitempty"`
}

// Spawned records the task's wrapper process.
type Spawned struct {
	PID int `json:"pid"`
	// StartTime is field 22 of /proc/<pid>/stat, to tell the process from
	// a later one that reuses its pid.
	StartTime uint64 `json:"start_time"`
}

// Kill records that the task was asked to be killed.
type Kill struct {
	GraceSeconds float64   `json:"grace_seconds"`
	At           time.Time `json:"at"`
	// Health is set when the agent killed the task itself because its
	// health check failed: the message of its terminal update.
	Health string `json:"health,omitempty"`
	// AgentStopping is set when the agent killed the task because it was
	// stopping (Config.KillTasksOnStop): not the task's failure.
	AgentStopping bool `json:"agent_stopping,omitempty"`
	// Draining is set when the master drains the agent: the terminal
	// update's reason is REASON_AGENT_DRAINING.
	Draining bool `json:"draining,omitempty"`
}

// Append adds records to the journal of task (fid, tid), creating the
// directory if needed (a task the agent never ran still gets a journal for
// its TASK_DROPPED or TASK_LOST update). All records go in one write.
func (s *Store) Append(fid, tid string, recs ...Record) error {
	var buf bytes.Buffer
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encoding journal record: %w", err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	dir := s.TaskDir(fid, tid)
	if err := appendFile(dir, filepath.Join(dir, JournalFile), buf.Bytes()); err != nil {
		return fmt.Errorf("appending to journal of task %q: %w", tid, err)
	}
	return nil
}

// appendFile appends b to path, creating it and, if missing, its
// directory dir, with bare system calls: an *os.File would also try to
// register the descriptor with the network poller and set a finalizer,
// which cost as much as the append at a launch of hundreds of tasks.
func appendFile(dir, path string, b []byte) error {
	const flags = unix.O_WRONLY | unix.O_APPEND | unix.O_CREAT | unix.O_CLOEXEC
	fd, err := unix.Open(path, flags, 0o644)
	if errors.Is(err, unix.ENOENT) {
		if err = os.MkdirAll(dir, 0o755); err == nil {
			fd, err = unix.Open(path, flags, 0o644)
		}
	}
	if err != nil {
		return err
	}
	for len(b) > 0 && err == nil {
		var n int
		n, err = unix.Write(fd, b)
		if errors.Is(err, unix.EINTR) {
			n, err = 0, nil // interrupted by a signal before writing: again
		}
		b = b[max(n, 0):]
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	return err
}

// RemoveTask deletes a task's checkpoint (its sandbox stays).
func (s *Store) RemoveTask(fid, tid string) error {
	if err := os.RemoveAll(s.TaskDir(fid, tid)); err != nil {
		return fmt.Errorf("removing checkpoint of task %q: %w", tid, err)
	}
	// Drop the framework directory once its last task is gone.
	fwDir := filepath.Dir(filepath.Dir(s.TaskDir(fid, tid)))
	os.Remove(filepath.Join(fwDir, "tasks"))
	os.Remove(fwDir)
	return nil
}

// Recovered is one task's checkpoint as found by Load.
type Recovered struct {
	FrameworkID string
	TaskID      string
	// Task is nil for a task the agent never ran.
	Task    *Task
	Records []Record
	// Dropped counts journal lines that could not be parsed.
	Dropped int
	Dir     string
}

// Load reads every task checkpoint. A torn last journal line is dropped
// and truncated away; unreadable tasks are reported in errs and skipped.
func (s *Store) Load() (out []Recovered, errs []error) {
	fws, err := os.ReadDir(filepath.Join(s.meta, "frameworks"))
	if err != nil {
		return nil, []error{fmt.Errorf("reading checkpoints: %w", err)}
	}
	for _, fw := range fws {
		tasksDir := filepath.Join(s.meta, "frameworks", fw.Name(), "tasks")
		ts, err := os.ReadDir(tasksDir)
		if err != nil {
			continue
		}
		for _, t := range ts {
			r, err := loadTask(filepath.Join(tasksDir, t.Name()))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if r != nil {
				out = append(out, *r)
			}
		}
	}
	return out, errs
}

func loadTask(dir string) (*Recovered, error) {
	recs, dropped, err := readJournal(filepath.Join(dir, JournalFile))
	if err != nil {
		return nil, fmt.Errorf("task checkpoint %s: %w", dir, err)
	}
	r := &Recovered{Dir: dir, Dropped: dropped}
	for _, rec := range recs {
		switch {
		case rec.Task != nil && rec.Task.TaskInfo != nil:
			r.Task, r.FrameworkID, r.TaskID = rec.Task, rec.Task.FrameworkID, rec.Task.TaskInfo.TaskID.Value
		case rec.Task == nil:
			r.Records = append(r.Records, rec)
			if r.TaskID == "" && rec.Update != nil {
				r.FrameworkID, r.TaskID = rec.Update.FrameworkID, rec.Update.Status.TaskID.Value
			}
		}
	}
	if r.TaskID == "" { // nothing worth keeping (e.g. only a torn first line)
		os.RemoveAll(dir)
		return nil, nil
	}
	return r, nil
}

func readJournal(path string) (recs []Record, dropped int, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reading journal: %w", err)
	}
	if n := len(b); n > 0 && b[n-1] != '\n' {
		// A torn last record: cut it so the next append starts a new line.
		keep := bytes.LastIndexByte(b, '\n') + 1
		if err := os.Truncate(path, int64(keep)); err != nil {
			return nil, 0, fmt.Errorf("truncating torn journal: %w", err)
		}
		b = b[:keep]
		dropped++
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			dropped++
			continue
		}
		recs = append(recs, r)
	}
	return recs, dropped, sc.Err()
}

// writeJSON writes v to path atomically (temp file + rename).
func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", filepath.Base(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming %s: %w", tmp, err)
	}
	return nil
}
