package task

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"corral/kernel/agent/health"
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// MaxIDLen bounds task and framework ids, which name directories.
const MaxIDLen = 255

// SafeID reports why id cannot be used as one path component, or nil.
func SafeID(id string) error {
	switch {
	case id == "":
		return errors.New("id is empty")
	case len(id) > MaxIDLen:
		return fmt.Errorf("id is longer than %d bytes", MaxIDLen)
	case id == "." || id == "..":
		return fmt.Errorf("id %q is not a valid path component", id)
	case strings.Contains(id, ".."):
		return fmt.Errorf("id %q contains \"..\"", id)
	case strings.ContainsAny(id, "/\x00"):
		return errors.New("id contains '/' or a NUL byte")
	}
	return nil
}

// Validate returns the reason a task cannot run on this agent, or nil. The
// reason is meant for the framework (it becomes a TASK_ERROR message).
func Validate(frameworkID string, ti *mesos.TaskInfo) error {
	if err := SafeID(ti.TaskID.Value); err != nil {
		return fmt.Errorf("invalid task id: %w", err)
	}
	if err := SafeID(frameworkID); err != nil {
		return fmt.Errorf("invalid framework id: %w", err)
	}
	if ti.Executor != nil {
		switch {
		case ti.Command != nil:
			return errors.New("task sets both command and executor")
		case ti.Container != nil:
			return errors.New("a task of a custom executor may not set container")
		case ti.Executor.Container != nil && ti.Executor.Container.Type != mesos.ContainerDocker:
			return errors.New("executor.container: only DOCKER containers run executors")
		case ti.Executor.Command == nil:
			return errors.New("executor has no command")
		}
		if err := SafeID(ti.Executor.ExecutorID.Value); err != nil {
			return fmt.Errorf("invalid executor id: %w", err)
		}
		if err := validateCommand(ExecutorTask(ti.Executor)); err != nil {
			return fmt.Errorf("executor: %w", err)
		}
		if _, err := resource.FromWire(ti.Resources); err != nil {
			return fmt.Errorf("invalid resources: %w", err)
		}
		return nil
	}
	return validateCommand(ti)
}

// validateCommand checks what the agent needs of a task it runs itself
// (or of an executor as ExecutorTask gives it).
func validateCommand(ti *mesos.TaskInfo) error {
	if ti.Container != nil {
		if p := ti.Container.Problem(); p != "" {
			return errors.New(p)
		}
	}
	if ti.Command == nil {
		return errors.New("task has no command")
	}
	for _, u := range ti.Command.URIs {
		if p := u.Problem(); p != "" {
			return fmt.Errorf("invalid command.uris: %s", p)
		}
	}
	if ti.Command.User != "" {
		if err := validUser(ti.Command.User); err != nil {
			return fmt.Errorf("invalid command.user: %w", err)
		}
	}
	if ti.Command.IsShell() {
		if strings.TrimSpace(ti.Command.Value) == "" {
			return errors.New("shell command is empty")
		}
	} else if ti.Command.Value == "" && (ti.Container == nil || ti.Container.Type != mesos.ContainerDocker) {
		// A DOCKER container without one runs its image's own.
		return errors.New("command value (the program to run) is empty")
	}
	if strings.ContainsRune(ti.Command.Value, 0) {
		return errors.New("command contains a NUL byte")
	}
	if _, err := resource.FromWire(ti.Resources); err != nil {
		return fmt.Errorf("invalid resources: %w", err)
	}
	if _, _, err := LogLimits(ti, LogLimit{}); err != nil {
		return err
	}
	if cpus, mem := Limits(ti.Resources); len(ti.Limits) > 0 {
		if p := mesos.LimitsProblem(ti.Limits, cpus, mem); p != "" {
			return errors.New(p)
		}
	}
	if ti.HealthCheck != nil {
		if _, err := health.Parse(ti.HealthCheck); err != nil {
			return fmt.Errorf("invalid health_check: %w", err)
		}
	}
	return nil
}

// maxUserLen bounds a user name; longer names exist in no user database
// worth looking up.
const maxUserLen = 256

// validUser reports why name cannot name an OS user, or nil. Whether the
// user exists is up to the host (the launch fails naming it).
func validUser(name string) error {
	if len(name) > maxUserLen {
		return fmt.Errorf("user name is longer than %d bytes", maxUserLen)
	}
	if strings.TrimSpace(name) == "" {
		return errors.New("user name is blank")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == ':' || r == '/' {
			return fmt.Errorf("user name %q contains %q", name, r)
		}
	}
	return nil
}

// User returns the name of the OS user a task runs as when the agent
// switches users: its command's user, else its framework's (fw may be
// nil). "" means neither names one, and the task runs as the agent's own
// user.
func User(ti *mesos.TaskInfo, fw *mesos.FrameworkInfo) string {
	if ti.Command != nil && ti.Command.User != "" {
		return ti.Command.User
	}
	if fw != nil {
		return fw.User
	}
	return ""
}

// Argv returns the command line of a validated task: /bin/sh -c value for a
// shell command, otherwise value followed by arguments[1:] (arguments[0],
// the conventional argv[0], cannot be set apart from the program path).
func Argv(c *mesos.CommandInfo) []string {
	if c.IsShell() {
		return []string{"/bin/sh", "-c", c.Value}
	}
	argv := []string{c.Value}
	if len(c.Arguments) > 1 {
		argv = append(argv, c.Arguments[1:]...)
	}
	return argv
}

// MaxLimits returns a task's cpu and memory (MB) limits above its
// requests (TaskInfo.limits): 0 when it sets none (the request is the
// limit), +Inf for no limit.
func MaxLimits(ti *mesos.TaskInfo) (cpus, memMB float64) {
	if l, ok := ti.Limits["cpus"]; ok {
		cpus = float64(l.Value)
	}
	if l, ok := ti.Limits["mem"]; ok {
		memMB = float64(l.Value)
	}
	return cpus, memMB
}

// Limits returns the cpus and memory (MB) a task asked for; zero when absent.
func Limits(rs []mesos.Resource) (cpus, memMB float64) {
	r, err := resource.FromWire(rs)
	if err != nil {
		return 0, 0
	}
	return r.Scalar(resource.CPUs), r.Scalar(resource.Mem)
}

// Ports returns the task's assigned ports in the order its ports resources
// list them.
func Ports(rs []mesos.Resource) []uint64 {
	var out []uint64
	for _, r := range rs {
		if r.Name != resource.Ports || r.Ranges == nil {
			continue
		}
		for _, x := range r.Ranges.Range {
			for p := uint64(x.Begin); p <= uint64(x.End) && len(out) < 65536; p++ {
				out = append(out, p)
			}
		}
	}
	return out
}

// executorTaskPrefix starts the ids under which the agent runs and
// journals custom executors: no task's id contains '/'.
const executorTaskPrefix = "executor/"

// ExecutorTaskID is the id under which the agent runs, journals and
// names the process of executor eid.
func ExecutorTaskID(eid string) string { return executorTaskPrefix + eid }

// ExecutorOf returns the executor id an ExecutorTaskID names, and whether
// tid is one.
func ExecutorOf(tid string) (string, bool) { return strings.CutPrefix(tid, executorTaskPrefix) }

// ExecutorTask is executor ei as the agent launches it: a task with the
// executor's command, container, resources and labels, under
// ExecutorTaskID.
func ExecutorTask(ei *mesos.ExecutorInfo) *mesos.TaskInfo {
	return &mesos.TaskInfo{Name: ei.Name, TaskID: mesos.ID{Value: ExecutorTaskID(ei.ExecutorID.Value)},
		Resources: ei.Resources, Command: ei.Command, Container: ei.Container, Labels: ei.Labels}
}

// ExecutorEnv is what an executor's environment says of its executor API
// (see Env).
type ExecutorEnv struct {
	ID string
	// AgentURL is the agent's base URL (its scheme included).
	AgentURL string
	// Checkpoint is the framework's checkpoint flag: the executor should
	// ride out an agent restart.
	Checkpoint                                 bool
	RecoveryTimeout, BackoffMax, ShutdownGrace time.Duration
	// Token authenticates the executor's calls to the agent.
	Token string
}

// EnvInput is what Env needs to know about the task's surroundings.
type EnvInput struct {
	FrameworkID   string
	AgentID       string
	Sandbox       string
	AgentEndpoint string // host:port of the agent's HTTP server
	Hostname      string
	// User is the name of the OS user the task runs as, when the agent
	// switched to it, and Home that user's home directory. Empty User
	// means the agent's own user.
	User, Home string
	// Secrets are the values of the command's SECRET variables
	// (Resolve). A SECRET variable without one is left out of the
	// environment, never set empty.
	Secrets Secrets
	// Executor is set for a custom executor (ExecutorTask): its
	// environment is the one Mesos gives executors.
	Executor *ExecutorEnv
}

// Env returns the environment of a task's process, as NAME=value strings.
// A SECRET variable gets its value from in.Secrets, and is left out
// without one.
// HOME is the sandbox, unless the task runs as a user the agent switched
// to: then HOME is that user's home and USER and LOGNAME its name, as a
// login would set them. Variables from the command come last so a task
// may override the agent's defaults (PATH, HOME), as with Mesos.
func Env(ti *mesos.TaskInfo, in EnvInput) []string {
	home := in.Sandbox
	if in.User != "" && in.Home != "" {
		home = in.Home
	}
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + home,
		"HOST=" + in.Hostname,
		"CORRAL_TASK_ID=" + ti.TaskID.Value,
		"CORRAL_FRAMEWORK_ID=" + in.FrameworkID,
		"CORRAL_AGENT_ID=" + in.AgentID,
		"CORRAL_SANDBOX=" + in.Sandbox,
		"MESOS_TASK_ID=" + ti.TaskID.Value,
		"MESOS_EXECUTOR_ID=" + ti.TaskID.Value,
		"MESOS_FRAMEWORK_ID=" + in.FrameworkID,
		"MESOS_AGENT_ID=" + in.AgentID,
		"MESOS_SLAVE_ID=" + in.AgentID,
		"MESOS_SANDBOX=" + in.Sandbox,
		"MESOS_DIRECTORY=" + in.Sandbox,
		"MESOS_AGENT_ENDPOINT=" + in.AgentEndpoint,
	}
	if x := in.Executor; x != nil {
		env = env[:0:0]
		env = append(env,
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"HOME="+home,
			"HOST="+in.Hostname,
			"CORRAL_FRAMEWORK_ID="+in.FrameworkID,
			"CORRAL_AGENT_ID="+in.AgentID,
			"CORRAL_SANDBOX="+in.Sandbox,
			"CORRAL_AGENT_URL="+x.AgentURL,
			"MESOS_EXECUTOR_ID="+x.ID,
			"MESOS_FRAMEWORK_ID="+in.FrameworkID,
			"MESOS_AGENT_ID="+in.AgentID,
			"MESOS_SLAVE_ID="+in.AgentID,
			"MESOS_SANDBOX="+in.Sandbox,
			"MESOS_DIRECTORY="+in.Sandbox,
			"MESOS_AGENT_ENDPOINT="+in.AgentEndpoint,
			"MESOS_SLAVE_PID=slave(1)@"+in.AgentEndpoint,
			"MESOS_HTTP_COMMAND_EXECUTOR=0",
			"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD="+mesos.FormatDuration(x.ShutdownGrace),
			"MESOS_EXECUTOR_AUTHENTICATION_TOKEN="+x.Token,
		)
		if x.Checkpoint {
			env = append(env, "MESOS_CHECKPOINT=1",
				"MESOS_RECOVERY_TIMEOUT="+mesos.FormatDuration(x.RecoveryTimeout),
				"MESOS_SUBSCRIPTION_BACKOFF_MAX="+mesos.FormatDuration(x.BackoffMax))
		} else {
			env = append(env, "MESOS_CHECKPOINT=0")
		}
	}
	if in.User != "" {
		env = append(env, "USER="+in.User, "LOGNAME="+in.User)
	}
	ports := Ports(ti.Resources)
	if len(ports) > 0 {
		list := make([]string, len(ports))
		for i, p := range ports {
			s := strconv.FormatUint(p, 10)
			list[i] = s
			env = append(env, "PORT"+strconv.Itoa(i)+"="+s, "PORT_"+s+"="+s)
		}
		env = append(env, "PORT="+list[0], "PORTS="+strings.Join(list, ","))
	}
	if ti.Command != nil && ti.Command.Environment != nil {
		env = appendVars(env, ti.Command.Environment.Variables, in.Secrets)
	}
	return dedupEnv(env)
}

// CheckEnv returns the environment of the task's command health check: the
// task's (Env), with the check command's own variables last, as in Mesos.
// The task's SECRET variables get their values from in.Secrets, the
// check's from check (Resolved.Check); one without a value is left out.
func CheckEnv(ti *mesos.TaskInfo, in EnvInput, check Secrets) []string {
	env := Env(ti, in)
	if hc := ti.HealthCheck; hc != nil && hc.Command != nil && hc.Command.Environment != nil {
		env = appendVars(env, hc.Command.Environment.Variables, check)
	}
	return dedupEnv(env)
}

// appendVars appends the well-formed variables of vs to env: plain ones
// with their value, SECRET ones with theirs from secrets, if it has one.
func appendVars(env []string, vs []mesos.Variable, secrets Secrets) []string {
	for _, v := range vs {
		value := v.Value
		if v.Type == mesos.VariableSecret {
			var ok bool
			if value, ok = secrets[v.Name]; !ok {
				continue
			}
		}
		if v.Name == "" || strings.ContainsAny(v.Name, "=\x00") || strings.ContainsRune(value, 0) {
			continue
		}
		env = append(env, v.Name+"="+value)
	}
	return env
}

// dedupEnv keeps the last value of each name, in first-seen order.
func dedupEnv(env []string) []string {
	idx := make(map[string]int, len(env))
	out := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[name]; ok {
			out[i] = kv
			continue
		}
		idx[name] = len(out)
		out = append(out, kv)
	}
	return out
}

// GracePeriod returns the kill grace period: the kill's own if positive,
// else the task's kill policy, else def.
func GracePeriod(kill time.Duration, ti *mesos.TaskInfo, def time.Duration) time.Duration {
	if kill > 0 {
		return kill
	}
	if ti != nil && ti.KillPolicy != nil && ti.KillPolicy.GracePeriod != nil && ti.KillPolicy.GracePeriod.Nanoseconds > 0 {
		return time.Duration(ti.KillPolicy.GracePeriod.Nanoseconds)
	}
	return def
}

// ExitKind says how much is known about how a task's process ended.
type ExitKind int

// Exit kinds.
const (
	// Exited: the wrapper recorded the command's exit code.
	Exited ExitKind = iota
	// Unknown: the wrapper died without recording an exit code.
	Unknown
	// NotStarted: the command never ran because the agent stopped while
	// launching it.
	NotStarted
)

// String names the kind.
func (k ExitKind) String() string {
	switch k {
	case Exited:
		return "exited"
	case Unknown:
		return "unknown"
	case NotStarted:
		return "not-started"
	}
	return "ExitKind(" + strconv.Itoa(int(k)) + ")"
}

// Exit is what the runner learned when a task's process ended.
type Exit struct {
	Kind ExitKind
	// Code is the shell's $? for Exited: the exit status, or 128+n when the
	// command was killed by signal n.
	Code int
	// OOM is set when the kernel's OOM killer acted in the task's cgroup.
	OOM bool
}

// Verdict is the terminal status a task's end maps to.
type Verdict struct {
	State   mesos.TaskState
	Reason  string
	Message string
}

// Outcome maps a task's end to its terminal status. killed says the agent
// was asked to kill the task; memMB is its memory limit (for the message).
// Order matters: an OOM kill is reported even if a kill was also requested,
// and a requested kill wins over whatever status the kill produced.
func Outcome(e Exit, killed bool, memMB float64) Verdict {
	if e.OOM {
		if memMB <= 0 || math.IsInf(memMB, 1) {
			return Verdict{mesos.TaskFailed, mesos.ReasonContainerLimitationMem, "Memory limit exceeded: the task was killed by the OOM killer"}
		}
		return Verdict{mesos.TaskFailed, mesos.ReasonContainerLimitationMem,
			fmt.Sprintf("Memory limit exceeded: task used more than %s MB", strconv.FormatFloat(memMB, 'f', -1, 64))}
	}
	if killed {
		return Verdict{mesos.TaskKilled, "", "Command was killed"}
	}
	switch e.Kind {
	case NotStarted:
		return Verdict{mesos.TaskFailed, mesos.ReasonContainerLaunchFailed, "The agent stopped while launching the task; the command did not run"}
	case Unknown:
		return Verdict{mesos.TaskFailed, mesos.ReasonExecutorTerminated, "Command ended but its exit status is unknown (its wrapper process died)"}
	}
	if e.Code == 0 {
		return Verdict{mesos.TaskFinished, "", "Command exited with status 0"}
	}
	if sig := e.Code - 128; sig > 0 && sig < 65 {
		return Verdict{mesos.TaskFailed, mesos.ReasonCommandExecutorFailed, "Command terminated with signal " + SignalName(sig)}
	}
	return Verdict{mesos.TaskFailed, mesos.ReasonCommandExecutorFailed, fmt.Sprintf("Command exited with status %d", e.Code)}
}

var signalNames = [...]string{1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
	7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE",
	14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP",
	21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF",
	28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR", 31: "SIGSYS"}

// SignalName returns the Linux name of signal n ("SIGTERM"), or "signal n".
func SignalName(n int) string {
	if n > 0 && n < len(signalNames) && signalNames[n] != "" {
		return signalNames[n]
	}
	return "signal " + strconv.Itoa(n)
}
