package runner

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"corral/kernel/agent/logd"
	"corral/kernel/agent/logrotate"
	"corral/kernel/agent/task"
)

// wrapperScript is run as: sh -c wrapperScript corral-task CMD... in the
// sandbox, as the task's user, with the release pipe on fd 3 and the exit
// file, opened by the agent, on fd 4. It opens the sandbox's stdout and
// stderr itself, so that creating them is off the agent's launch path and
// they belong to the task's user. A failed read means the agent died
// before releasing the task. The command gets neither fd 3 nor fd 4: only
// the wrapper writes the exit file, which lives in the agent's own
// checkpoint where the task's user may not write.
const wrapperScript = "exec >>stdout 2>>stderr\n" + pipedWrapperScript

// pipedWrapperScript is wrapperScript for a task whose output goes to its
// logger (Spec.Logger): its stdout and stderr are already the pipes to
// it.
const pipedWrapperScript = `read -r go <&3 || { echo aborted >&4; exit 0; }
exec 3<&-
trap : TERM INT HUP
"$@" 4>&-
echo $? >&4
`

// Logger says how a task's output is written: by a log writer process
// (`corral-logger`, or `corral logger`: Exe with Args before its own),
// one per task user and shared by all that user's tasks (package logd),
// reading each task's stdout and stderr from pipes and rotating the
// sandbox files at the task's limits (Stdout, Stderr). The writer runs as
// the task's user but outside its cgroup and process group: it costs the
// task no memory, a kill of the task does not cut its last output, and
// it outlives an agent restart, ending once its tasks' output has.
type Logger struct {
	Exe            string
	Args           []string
	Stdout, Stderr logrotate.Limits
}

// loggerDrain bounds how long the end of a task waits for its log writer
// to write its last output.
const loggerDrain = 2 * time.Second

// attachLogger hands the task's output to the log writer of its user,
// starting one if there is none (or it has ended), and returns the write
// ends of the task's pipes (close-on-exec, for the wrapper's stdout and
// stderr) and a channel closed once the writer has written all of it.
func (r *Runner) attachLogger(spec Spec, cred *syscall.Credential, l *Logger) (stdout, stderr int, done <-chan struct{}, err error) {
	key := writerKey(cred, l)
	r.wmu.Lock()
	defer r.wmu.Unlock()
	for attempt := 0; ; attempt++ {
		c := r.writers[key]
		if c == nil {
			log := r.log.With("user", userName(spec.User))
			if c, err = logd.Start(l.Exe, l.Args, cred, func(err error) { log.Warn("task output not written", "err", err) }); err != nil {
				return -1, -1, nil, err
			}
			r.writers[key] = c
		}
		out, errw, s, err := c.Attach(spec.Dir, l.Stdout, l.Stderr)
		if err == nil {
			return out, errw, s.Done(), nil
		}
		delete(r.writers, key)
		c.Close()
		if !errors.Is(err, logd.ErrGone) || attempt > 0 {
			return -1, -1, nil, fmt.Errorf("handing the task's output to its log writer: %w", err)
		}
	}
}

// writerKey tells log writers apart: one per executable and identity.
func writerKey(cred *syscall.Credential, l *Logger) string {
	k := l.Exe + "\x00" + strings.Join(l.Args, "\x00")
	if cred != nil {
		k += fmt.Sprintf("\x00%d:%d:%v", cred.Uid, cred.Gid, cred.Groups)
	}
	return k
}

// userName names a task's user in the log; "" is the agent's own.
func userName(u *User) string {
	if u == nil {
		return ""
	}
	return u.Name
}

// abortedMarker is what the wrapper writes when it never ran the command.
const abortedMarker = "aborted"

// ErrUnknown is returned by Kill for a process the runner does not watch.
var ErrUnknown = errors.New("runner: no such task process")

// Spec describes one task process.
type Spec struct {
	// ID identifies the task within the runner (e.g. framework/task).
	ID string
	// Argv is the command (argv[0] is looked up in PATH of Env).
	Argv []string
	Env  []string
	// Dir is the sandbox: the cwd, where the wrapper appends the command's
	// output to the files stdout and stderr. Start makes it owned by User
	// (the directory itself, not following a symlink); its parents must
	// let User search them.
	Dir string
	// ExitFile is where the wrapper writes the command's exit code. Start
	// creates (or truncates) it as the agent and hands it to the wrapper
	// open, so its directory must exist but need not be writable by User.
	ExitFile string
	// Logger, if set, writes the command's output (see Logger); nil
	// appends it to the sandbox's files directly, unbounded.
	Logger *Logger
	// User is who the wrapper and the command run as (uid, primary gid,
	// supplementary groups); nil means the agent's own user. Running as
	// another user needs a root agent (see CanRunAs).
	User *User
	// Cgroup names the task's cgroup under the runner's parent; empty means
	// no cgroup for this task.
	Cgroup string
	// CPUs and MemMB are the task's requests, and its limits unless
	// CPULimit and MemLimitMB are set (above them; +Inf: none); zero CPUs
	// or MemMB means no cgroup control of that resource.
	CPUs, MemMB          float64
	CPULimit, MemLimitMB float64
}

// Limits are what a task's cgroup enforces (see Spec's fields of the
// same names).
type Limits struct {
	CPUs, MemMB          float64
	CPULimit, MemLimitMB float64
}

// cpuLimit is the CFS quota's cpus: the limit, else the request.
func (l Limits) cpuLimit() float64 {
	if l.CPULimit > 0 {
		return l.CPULimit
	}
	return l.CPUs
}

// memLimit is the memory limit in MB: the limit, else the request.
func (l Limits) memLimit() float64 {
	if l.MemLimitMB > 0 {
		return l.MemLimitMB
	}
	return l.MemMB
}

// Proc identifies a running wrapper process.
type Proc struct {
	PID       int
	StartTime uint64
}

// Exit reports the end of a task process.
type Exit struct {
	ID string
	task.Exit
}

// Runner starts and watches task processes. Its methods are safe for
// concurrent use. Exits are delivered on the channel returned by Exits
// until Close.
type Runner struct {
	log   *slog.Logger
	shell string
	euid  int // the agent's effective uid: root may start tasks as any user
	cg    driver
	mode  string
	why   string

	devnull int // read-write: the wrapper's stdin until it opens its own output
	exits   chan Exit
	closing chan struct{}
	wg      sync.WaitGroup

	mu    sync.Mutex
	procs map[string]*proc

	wmu     sync.Mutex
	writers map[string]*logd.Client // by writerKey
}

type proc struct {
	id       string
	pid      int
	child    bool // started by this runner, so reaping is ours
	exitFile string
	cg       group    // nil without cgroup
	pidfd    *os.File // nil when the process was already gone or pidfds are unsupported
	rawfd    int
	gone     bool // the process was not alive when adopted
	// neverStarted: adopted without a recorded process
	neverStarted bool
	killT        *time.Timer
	done         bool
	// loggers is closed when the task's log writer (Spec.Logger) has
	// written all its output; nil without one or for an adopted process.
	loggers <-chan struct{}
}

// Config configures a Runner.
type Config struct {
	// Cgroups is "auto", "v1", "v2" or "none".
	Cgroups string
	// CgroupParent is the cgroup path all task cgroups go under, e.g.
	// "/corral/3f2a9c1e". It should be unique per agent.
	CgroupParent string
	// Shell runs the wrapper; default /bin/sh.
	Shell string
}

// New returns a Runner. With Cgroups "auto" it falls back to no limits when
// cgroups cannot be used (see Cgroups for the reason); an explicit "v1" or
// "v2" that cannot be used is an error.
func New(cfg Config, logger *slog.Logger) (*Runner, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{
		log:     logger.With("component", "runner"),
		shell:   cfg.Shell,
		euid:    os.Geteuid(),
		exits:   make(chan Exit, 1024),
		closing: make(chan struct{}),
		procs:   map[string]*proc{},
		writers: map[string]*logd.Client{},
	}
	if r.shell == "" {
		r.shell = "/bin/sh"
	}
	drv, why, err := DetectCgroups(cfg.Cgroups, cfg.CgroupParent)
	if err != nil {
		return nil, err
	}
	r.cg, r.why = drv, why
	r.mode = "none"
	if drv != nil {
		r.mode = drv.mode()
	}
	fd, err := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", os.DevNull, err)
	}
	r.devnull = fd
	return r, nil
}

// Cgroups returns the cgroups mode in use ("v1", "v2" or "none") and, for
// "none", why.
func (r *Runner) Cgroups() (mode, reason string) { return r.mode, r.why }

// Exits returns the channel on which the end of every started or adopted
// process is reported exactly once (unless Close comes first; then a later
// runner adopting the process reports it).
func (r *Runner) Exits() <-chan Exit { return r.exits }

// Start spawns the task's wrapper as spec.User, puts it in its cgroup and
// lets it run the command. The process survives the runner. A user the
// runner cannot switch to is a *SwitchError and starts nothing.
func (r *Runner) Start(spec Spec) (Proc, error) {
	if len(spec.Argv) == 0 {
		return Proc{}, errors.New("empty command")
	}
	cred, err := credential(spec.User, r.euid)
	if err != nil {
		return Proc{}, err
	}
	if cred != nil {
		// Only the sandbox itself, which the agent just made: what is in
		// it (a symlink planted by a task) is never followed as root.
		if err := unix.Lchown(spec.Dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return Proc{}, fmt.Errorf("giving the sandbox to user %q: %w", spec.User.Name, err)
		}
	}
	// O_NOFOLLOW: the agent opens it as root, possibly in a directory a
	// task could have written to.
	exitFD, err := unix.Open(spec.ExitFile, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return Proc{}, fmt.Errorf("creating exit file: %w", err)
	}
	defer unix.Close(exitFD)
	var cg group
	if r.cg != nil && spec.Cgroup != "" {
		if cg, err = r.cg.create(spec.Cgroup, Limits{CPUs: spec.CPUs, MemMB: spec.MemMB, CPULimit: spec.CPULimit, MemLimitMB: spec.MemLimitMB}); err != nil {
			return Proc{}, fmt.Errorf("creating cgroup: %w", err)
		}
	}
	fail := func(err error) (Proc, error) {
		if cg != nil {
			cg.remove()
		}
		return Proc{}, err
	}
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
		return fail(fmt.Errorf("creating pipe: %w", err))
	}
	pidfd := -1
	argv := append([]string{r.shell, "-c", wrapperScript, "corral-task"}, spec.Argv...)
	files := []uintptr{uintptr(r.devnull), uintptr(r.devnull), uintptr(r.devnull), uintptr(pipe[0]), uintptr(exitFD)}
	var loggers <-chan struct{}
	if l := spec.Logger; l != nil {
		out, errw, done, err := r.attachLogger(spec, cred, l)
		if err != nil {
			unix.Close(pipe[0])
			unix.Close(pipe[1])
			return fail(err)
		}
		defer unix.Close(out)
		defer unix.Close(errw)
		argv = append([]string{r.shell, "-c", pipedWrapperScript, "corral-task"}, spec.Argv...)
		files[1], files[2] = uintptr(out), uintptr(errw)
		loggers = done
	}
	// The credential is applied in the child between fork and exec: the
	// wrapper and all it starts are the user's, at no extra process.
	pid, err := syscall.ForkExec(r.shell, argv, &syscall.ProcAttr{
		Dir:   spec.Dir,
		Env:   spec.Env,
		Files: files,
		Sys:   &syscall.SysProcAttr{Setsid: true, PidFD: &pidfd, Credential: cred},
	})
	unix.Close(pipe[0])
	if err != nil {
		unix.Close(pipe[1])
		if cred != nil && errors.Is(err, unix.EACCES) {
			return fail(fmt.Errorf("starting %s as user %q: %w (the sandbox %s and every directory above it must be searchable by that user)",
				r.shell, spec.User.Name, err, spec.Dir))
		}
		return fail(fmt.Errorf("starting %s: %w", r.shell, err))
	}
	p := &proc{id: spec.ID, pid: pid, child: true, exitFile: spec.ExitFile, cg: cg, rawfd: -1, loggers: loggers}
	if pidfd >= 0 {
		p.pidfd, p.rawfd = pollable(pidfd)
	}
	if cg != nil {
		if err := cg.add(pid); err != nil {
			unix.Close(pipe[1]) // the wrapper reads EOF and exits without running the command
			unix.Kill(-pid, unix.SIGKILL)
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, 0, nil)
			if p.pidfd != nil {
				p.pidfd.Close()
			}
			return fail(fmt.Errorf("adding process to cgroup: %w", err))
		}
	}
	st, _ := StartTime(pid)
	_, werr := unix.Write(pipe[1], []byte("go\n"))
	unix.Close(pipe[1])
	r.watch(p)
	if werr != nil {
		return Proc{}, fmt.Errorf("releasing wrapper: %w", werr)
	}
	return Proc{PID: pid, StartTime: st}, nil
}

// Adopt watches a process started by an earlier runner (before an agent
// restart). If it is gone, or its pid now belongs to another process, its
// end is reported at once from its exit file. A zero Proc means the process
// was never recorded (the agent stopped while launching): its end is
// reported at once as task.NotStarted. Either way the task's cgroup is
// removed afterwards.
func (r *Runner) Adopt(spec Spec, pr Proc) {
	p := &proc{id: spec.ID, pid: pr.PID, exitFile: spec.ExitFile, rawfd: -1}
	if r.cg != nil && spec.Cgroup != "" {
		p.cg = r.cg.load(spec.Cgroup)
	}
	if pr.PID <= 0 {
		p.gone, p.neverStarted = true, true
		r.watch(p)
		return
	}
	fd, err := unix.PidfdOpen(pr.PID, unix.PIDFD_NONBLOCK)
	switch {
	case err == nil:
		if st, serr := StartTime(pr.PID); serr != nil || st != pr.StartTime {
			unix.Close(fd)
			p.gone = true
		} else {
			p.pidfd, p.rawfd = pollable(fd)
		}
	case errors.Is(err, unix.ESRCH):
		p.gone = true
	default: // no pidfd support: poll
		if st, serr := StartTime(pr.PID); serr != nil || st != pr.StartTime {
			p.gone = true
		}
	}
	r.watch(p)
}

// Kill sends SIGTERM to the task's process group and, if it is still alive
// after grace, SIGKILL to the group and its cgroup. Repeated calls resend
// SIGTERM but keep the first deadline.
func (r *Runner) Kill(id string, grace time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.procs[id]
	if p == nil || p.done {
		return ErrUnknown
	}
	if p.gone || p.pid <= 0 {
		return nil
	}
	if err := unix.Kill(-p.pid, unix.SIGTERM); err != nil && !errors.Is(err, unix.ESRCH) {
		r.log.Warn("sending SIGTERM", "task", id, "pid", p.pid, "err", err)
	}
	if p.killT == nil {
		p.killT = time.AfterFunc(grace, func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if p.done {
				return
			}
			r.log.Info("grace period over, sending SIGKILL", "task", id, "pid", p.pid)
			unix.Kill(-p.pid, unix.SIGKILL)
			if p.cg != nil {
				p.cg.killAll()
			}
		})
	}
	return nil
}

// Resize sets new limits on a running task's cgroup: an executor's grows
// and shrinks with its tasks. A task without a cgroup is left alone.
func (r *Runner) Resize(id string, l Limits) error {
	r.mu.Lock()
	p := r.procs[id]
	r.mu.Unlock()
	if p == nil || p.done {
		return ErrUnknown
	}
	if p.cg == nil {
		return nil
	}
	return p.cg.update(l)
}

// Running returns the number of processes being watched.
func (r *Runner) Running() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.procs)
}

// Close stops watching without touching the processes: they keep running
// and a later runner can Adopt them. Exits not yet delivered are dropped
// (the exit files keep them). Close waits for the watchers to return.
func (r *Runner) Close() {
	r.mu.Lock()
	select {
	case <-r.closing:
		r.mu.Unlock()
		return
	default:
	}
	close(r.closing)
	for _, p := range r.procs {
		if p.killT != nil {
			p.killT.Stop()
		}
		if p.pidfd != nil {
			p.pidfd.SetReadDeadline(time.Now())
		}
	}
	r.mu.Unlock()
	r.wg.Wait()
	r.wmu.Lock()
	for k, c := range r.writers {
		c.Close() // each writer ends once its tasks' output has
		delete(r.writers, k)
	}
	r.wmu.Unlock()
	unix.Close(r.devnull)
}

func (r *Runner) watch(p *proc) {
	r.mu.Lock()
	if old := r.procs[p.id]; old != nil && !old.done {
		r.log.Warn("replacing watched process with the same id", "task", p.id, "old_pid", old.pid, "pid", p.pid)
	}
	r.procs[p.id] = p
	r.mu.Unlock()
	r.wg.Add(1)
	go r.wait(p)
}

// wait is the watcher of one process; it owns p.pidfd.
func (r *Runner) wait(p *proc) {
	defer r.wg.Done()
	if p.pidfd != nil {
		defer p.pidfd.Close()
	}
	if !p.gone && !r.waitExit(p) {
		return // closing: leave the process and its cgroup to the next runner
	}
	if p.loggers != nil {
		// The task's last output reaches its files before its end is
		// reported, unless a background child keeps the pipes open.
		t := time.NewTimer(loggerDrain)
		select {
		case <-p.loggers:
		case <-t.C:
		case <-r.closing:
		}
		t.Stop()
	}
	ex := Exit{ID: p.id, Exit: readExit(p.exitFile)}
	if p.neverStarted {
		ex.Exit = task.Exit{Kind: task.NotStarted}
	}
	if p.cg != nil && p.cg.oomKilled() {
		ex.OOM = true
	}
	select {
	case r.exits <- ex:
	case <-r.closing:
		return
	}
	r.mu.Lock()
	p.done = true
	if p.killT != nil {
		p.killT.Stop()
	}
	if r.procs[p.id] == p {
		delete(r.procs, p.id)
	}
	// Leftovers of the task (background children) die with it, while the
	// unreaped wrapper still pins the group id.
	if p.child {
		unix.Kill(-p.pid, unix.SIGKILL)
	}
	r.mu.Unlock()
	if p.cg != nil {
		p.cg.killAll()
	}
	r.reap(p)
	if p.cg != nil {
		r.removeCgroup(p)
	}
}

// removeCgroup removes a finished task's cgroup, retrying for a while: the
// kernel may still be tearing down its last processes.
func (r *Runner) removeCgroup(p *proc) {
	delay := 50 * time.Millisecond
	for try := 0; ; try++ {
		err := p.cg.remove()
		if err == nil {
			return
		}
		if try == 6 {
			r.log.Warn("removing cgroup", "task", p.id, "err", err)
			return
		}
		p.cg.killAll()
		select {
		case <-r.closing:
			return
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// waitExit blocks until the process has exited; false means the runner is
// closing.
func (r *Runner) waitExit(p *proc) bool {
	if p.pidfd != nil {
		rc, err := p.pidfd.SyscallConn()
		for err == nil {
			var pollErr error
			err = rc.Read(func(fd uintptr) bool {
				exited, perr := pidfdExited(int(fd))
				pollErr = perr
				return exited || perr != nil
			})
			if err == nil && pollErr != nil {
				err = pollErr
			}
			if err != nil {
				break
			}
			// A pidfd is readable once the process exited; for our own
			// child, confirm before anything destructive happens.
			if !p.child || childExited(p.rawfd) {
				return true
			}
		}
		select {
		case <-r.closing:
			return false
		default:
		}
		r.log.Warn("waiting on pidfd failed; polling instead", "task", p.id, "err", err)
	}
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		if p.child {
			var ws unix.WaitStatus
			if pid, _ := unix.Wait4(p.pid, &ws, unix.WNOHANG, nil); pid == p.pid {
				p.child = false // reaped
				return true
			}
		} else if err := unix.Kill(p.pid, 0); errors.Is(err, unix.ESRCH) {
			return true
		}
		select {
		case <-r.closing:
			return false
		case <-t.C:
		}
	}
}

// pidfdExited polls a pidfd without blocking: readable means exited.
func pidfdExited(fd int) (bool, error) {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(pfd, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("poll on pidfd: %w", err)
		}
		if n > 0 && pfd[0].Revents&unix.POLLNVAL != 0 {
			return false, errors.New("poll on pidfd: invalid descriptor")
		}
		return n > 0 && pfd[0].Revents&(unix.POLLIN|unix.POLLHUP) != 0, nil
	}
}

// childExited reports whether our child behind pidfd has exited, without
// reaping it.
func childExited(pidfd int) bool {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PIDFD, pidfd, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return true // ECHILD: not (or no longer) ours to wait for
		}
		// With WNOHANG and nothing to report, Linux returns a zeroed
		// siginfo; an exited child fills in SIGCHLD.
		return info.Signo != 0
	}
}

// reap collects the wrapper's status if it is our child (it is not after a
// real agent restart; it may be in tests that restart within one process).
func (r *Runner) reap(p *proc) {
	if p.rawfd >= 0 {
		var info unix.Siginfo
		unix.Waitid(unix.P_PIDFD, p.rawfd, &info, unix.WEXITED|unix.WNOHANG, nil)
		return
	}
	if p.child {
		var ws unix.WaitStatus
		unix.Wait4(p.pid, &ws, unix.WNOHANG, nil)
	}
}

// pollable wraps a pidfd so that waiting on it parks a goroutine in the
// network poller instead of blocking a thread.
func pollable(fd int) (*os.File, int) {
	unix.SetNonblock(fd, true)
	return os.NewFile(uintptr(fd), "pidfd"), fd
}

func readExit(path string) task.Exit {
	b, err := os.ReadFile(path)
	if err != nil {
		return task.Exit{Kind: task.Unknown}
	}
	s := strings.TrimSpace(string(b))
	if s == abortedMarker {
		return task.Exit{Kind: task.NotStarted}
	}
	code, err := strconv.Atoi(s)
	if err != nil {
		return task.Exit{Kind: task.Unknown}
	}
	return task.Exit{Kind: task.Exited, Code: code}
}

// readProcFile reads a small /proc file with bare system calls (no
// *os.File, which would also try the network poller): it is read at
// every task's start.
func readProcFile(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	b := make([]byte, 0, 1024)
	for {
		n, err := unix.Read(fd, b[len(b):cap(b)])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return b, nil
		}
		b = b[:len(b)+n]
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// StartTime returns field 22 of /proc/<pid>/stat: the process start time in
// clock ticks since boot, which tells a process from a later one with the
// same pid.
func StartTime(pid int) (uint64, error) {
	b, err := readProcFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return 0, fmt.Errorf("parsing /proc/%d/stat: too few fields", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}
