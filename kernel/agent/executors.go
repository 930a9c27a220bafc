package agent

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"corral/kernel/agent/checkpoint"
	"corral/kernel/agent/logrotate"
	"corral/kernel/agent/runner"
	"corral/kernel/agent/task"
	"corral/kernel/agent/update"
	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// Custom executors. The agent starts a framework's executor (the process
// its ExecutorInfo names) the first time a task names it, in a sandbox of
// its own that its tasks share, and then talks to it over the v1 executor
// API (executorapi.go): the executor SUBSCRIBEs, gets its tasks as LAUNCH
// events and reports their states as UPDATE calls, which the agent
// journals and sends on like its own. The executor's process is run,
// journaled and recovered as a task under task.ExecutorTaskID, so that
// everything the agent does for a task's process (user, fetching, cgroup,
// log rotation, adoption after a restart) it does for an executor.

// execKey names an executor among the agent's.
type execKey struct{ FrameworkID, ExecutorID string }

// runKey is the key the executor's process runs and is journaled under.
func (k execKey) runKey() update.Key {
	return update.Key{FrameworkID: k.FrameworkID, TaskID: task.ExecutorTaskID(k.ExecutorID)}
}

// execState is where an executor is in its life.
type execState int

const (
	execLaunching   execState = iota // its process is being started
	execRegistering                  // started or recovered, not subscribed
	execSubscribed                   // its SUBSCRIBE stream is open
	execTerminating                  // told to shut down, or killed
)

// executorRun is the loop's record of one executor.
type executorRun struct {
	key       execKey
	info      mesos.ExecutorInfo
	framework *mesos.FrameworkInfo
	sandbox   string
	token     string
	state     execState
	proc      runner.Proc
	launching bool
	// pendingExit arrived while launching.
	pendingExit *runner.Exit
	stream      *execStream
	// queued are tasks not yet sent to the executor, in launch order.
	queued []update.Key
	// tasks are the executor's tasks the agent still knows.
	tasks map[update.Key]bool
	// delivered is set once a task was sent to it.
	delivered bool
	// why says, once the agent gave up on it, why: the reason and
	// message its unfinished tasks end with.
	whyReason, whyMessage string
	timer                 *time.Timer
	startedAt             time.Time
}

// execStream is one SUBSCRIBE stream: the loop queues events, the HTTP
// handler writes them. Closing done ends it.
type execStream struct {
	events chan *mesos.ExecutorEvent
	done   chan struct{}
	closed bool
	// codec is the stream's media type's name: "json" or "protobuf".
	codec string
}

// execStreamBuffer bounds the events queued for a slow executor; beyond
// it the stream is closed and the executor must subscribe again.
const execStreamBuffer = 4096

func newExecStream(codec string) *execStream {
	return &execStream{events: make(chan *mesos.ExecutorEvent, execStreamBuffer), done: make(chan struct{}), codec: codec}
}

func (s *execStream) close() {
	if !s.closed {
		s.closed = true
		close(s.done)
	}
}

// sendExec queues ev on ex's stream, if it has one; a full stream is
// closed.
func (l *loop) sendExec(ex *executorRun, ev *mesos.ExecutorEvent) bool {
	s := ex.stream
	if s == nil || s.closed {
		return false
	}
	select {
	case s.events <- ev:
		return true
	default:
		l.a.log.Warn("executor is not reading its events; closing its stream", "framework", ex.key.FrameworkID, "executor", ex.key.ExecutorID)
		s.close()
		ex.stream = nil
		if ex.state == execSubscribed {
			ex.state = execRegistering
		}
		return false
	}
}

// executorGrace is how long executor ei has between SHUTDOWN and being
// killed.
func (a *Agent) executorGrace(ei *mesos.ExecutorInfo) time.Duration {
	if g := ei.ShutdownGracePeriod; g != nil && g.Nanoseconds > 0 {
		return time.Duration(g.Nanoseconds)
	}
	return a.cfg.ExecutorShutdownGracePeriod
}

// executorRecoveryTimeout is MESOS_RECOVERY_TIMEOUT: how long a
// checkpointing executor keeps trying to subscribe again (Mesos' default).
const executorRecoveryTimeout = 15 * time.Minute

// launchExecutorTask takes over task e, which names a custom executor:
// the executor is started if it is not running, and gets the task once
// it has subscribed.
func (l *loop) launchExecutorTask(ctx context.Context, e *entry) {
	k, ti := e.key, e.info
	ek := execKey{FrameworkID: k.FrameworkID, ExecutorID: ti.Executor.ExecutorID.Value}
	ex := l.executors[ek]
	e.cpus, e.mem = task.Limits(ti.Resources)
	l.setState(e, mesos.TaskStaging)
	if ex != nil && (ex.state == execTerminating || ex.whyReason != "") {
		l.emit(e, l.execStatus(e, ek, mesos.TaskLost, mesos.ReasonExecutorTerminated,
			fmt.Sprintf("Executor %q is shutting down; the task was not launched", ek.ExecutorID), mesos.SourceAgent))
		return
	}
	if ex == nil {
		ex = l.startExecutor(ctx, ek, ti.Executor, e.framework)
	}
	e.exec = ex
	e.sandbox = ex.sandbox
	ex.tasks[k] = true
	if err := l.a.store.CreateTask(checkpoint.Task{FrameworkID: k.FrameworkID, FrameworkInfo: e.framework, TaskInfo: task.Redacted(ti),
		Sandbox: ex.sandbox, LaunchedAt: e.startedAt}); err != nil {
		l.a.log.Error("checkpointing task", "task", k.TaskID, "err", err)
	}
	if ex.state == execSubscribed {
		l.deliver(ex, e)
	} else {
		ex.queued = append(ex.queued, k)
	}
	l.resizeExecutor(ex)
}

// execStatus is a status of executor task e, sent by the agent.
func (l *loop) execStatus(e *entry, ek execKey, state mesos.TaskState, reason, msg, source string) mesos.TaskStatus {
	st := l.newStatus(e.key, state, reason, msg, source)
	st.ExecutorID = &mesos.ID{Value: ek.ExecutorID}
	return st
}

// deliver sends task e to its subscribed executor.
func (l *loop) deliver(ex *executorRun, e *entry) {
	if l.sendExec(ex, &mesos.ExecutorEvent{Type: mesos.ExecEventLaunch, Launch: &mesos.ExecutorLaunch{Task: *e.info}}) {
		e.delivered = true
		ex.delivered = true
		if e.killed {
			l.sendKill(ex, e)
		}
	} else {
		ex.queued = append(ex.queued, e.key)
	}
}

// sendKill tells e's executor to kill it.
func (l *loop) sendKill(ex *executorRun, e *entry) {
	var kp *mesos.KillPolicy
	if e.killGrace > 0 {
		kp = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: mesos.Int(e.killGrace.Nanoseconds())}}
	}
	l.sendExec(ex, &mesos.ExecutorEvent{Type: mesos.ExecEventKill, Kill: &mesos.ExecutorKill{TaskID: e.info.TaskID, KillPolicy: kp}})
}

// startExecutor records executor ek and starts launching its process.
func (l *loop) startExecutor(ctx context.Context, ek execKey, ei *mesos.ExecutorInfo, fw *mesos.FrameworkInfo) *executorRun {
	tok := make([]byte, 24)
	rand.Read(tok)
	ex := &executorRun{key: ek, info: *ei, framework: fw, sandbox: l.a.store.ExecutorSandboxDir(ek.FrameworkID, ek.ExecutorID),
		token: hex.EncodeToString(tok), state: execLaunching, launching: true, tasks: map[update.Key]bool{}, startedAt: time.Now()}
	l.executors[ek] = ex
	k := ek.runKey()
	ti := task.ExecutorTask(ei)
	ti.AgentID = mesos.ID{Value: l.agentID}
	cpus, mem := task.Limits(ei.Resources)
	outLimit, errLimit, _ := task.LogLimits(ti, task.LogLimit{MaxSize: l.a.cfg.TaskLogMaxSize, MaxFiles: l.a.cfg.TaskLogMaxFiles})
	var logger *runner.Logger
	if l.a.cfg.Logger != "" && (outLimit.MaxSize > 0 || errLimit.MaxSize > 0) {
		logger = &runner.Logger{Exe: l.a.cfg.Logger, Args: l.a.cfg.LoggerArgs, Stdout: logrotate.Limits(outLimit), Stderr: logrotate.Limits(errLimit)}
	}
	checkpointing := fw != nil && fw.Checkpoint != nil && *fw.Checkpoint
	job := launchJob{
		key: k,
		checkpoint: checkpoint.Task{FrameworkID: ek.FrameworkID, FrameworkInfo: fw, TaskInfo: task.Redacted(ti), Executor: ei,
			Sandbox: ex.sandbox, Cgroup: cgroupName(k), LaunchedAt: ex.startedAt},
		info: ti,
		user: launchUser(ti, fw),
		env: task.EnvInput{FrameworkID: ek.FrameworkID, AgentID: l.agentID, Sandbox: ex.sandbox,
			AgentEndpoint: l.a.endpointHostPort(), Hostname: l.a.cfg.Hostname,
			Executor: &task.ExecutorEnv{ID: ek.ExecutorID, AgentURL: l.a.endpoint, Checkpoint: checkpointing,
				RecoveryTimeout: executorRecoveryTimeout, BackoffMax: l.a.cfg.ExecutorReregistrationTimeout,
				ShutdownGrace: l.a.executorGrace(ei), Token: ex.token}},
		spec: runner.Spec{
			ID:       runnerID(k),
			Argv:     task.Argv(ei.Command),
			Dir:      ex.sandbox,
			ExitFile: exitFileOf(l.a.store, k),
			Cgroup:   cgroupName(k),
			CPUs:     cpus,
			MemMB:    mem,
			CPULimit: l.a.defaultCPULimit(),
			Logger:   logger,
		},
		logs:     [2]logrotate.Limits{logrotate.Limits(outLimit), logrotate.Limits(errLimit)},
		starting: l.newStatus(k, mesos.TaskStarting, "", "", mesos.SourceAgent),
		running:  l.newStatus(k, mesos.TaskRunning, "", "", mesos.SourceAgent),
		failed:   l.newStatus(k, mesos.TaskFailed, mesos.ReasonContainerLaunchFailed, "", mesos.SourceAgent),
	}
	if err := l.a.saveExecutorToken(k, ex.token); err != nil {
		l.a.log.Error("saving an executor's token", "executor", ek.ExecutorID, "err", err)
	}
	l.a.log.Info("starting executor", "framework", ek.FrameworkID, "executor", ek.ExecutorID, "command", ei.Command.Value)
	l.armExecutorTimer(ex, l.a.cfg.ExecutorRegistrationTimeout, func(l *loop) {
		l.giveUpExecutor(ex, mesos.ReasonExecutorRegistrationTimeout,
			fmt.Sprintf("Executor %q did not subscribe within %s (--executor_registration_timeout)", ek.ExecutorID, l.a.cfg.ExecutorRegistrationTimeout))
	})
	l.bg.Go(func() {
		select {
		case l.launchSem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		res := l.a.doLaunch(ctx, job)
		<-l.launchSem
		l.a.send(ctx, func(ctx context.Context, l *loop) { l.executorLaunched(ex, res) })
	})
	return ex
}

// killExecutorProc stops an executor's process or container: SIGTERM,
// then SIGKILL after grace.
func (a *Agent) killExecutorProc(ex *executorRun, grace time.Duration) {
	id := runnerID(ex.key.runKey())
	var err error
	if ex.info.Container != nil {
		if a.docker == nil {
			return
		}
		err = a.docker.Kill(id, grace)
	} else {
		err = a.runner.Kill(id, grace)
	}
	if err != nil && !errors.Is(err, runner.ErrUnknown) {
		a.log.Warn("killing executor", "executor", ex.key.ExecutorID, "err", err)
	}
}

// armExecutorTimer runs f on the loop after d unless the executor's timer
// is re-armed or stopped first.
func (l *loop) armExecutorTimer(ex *executorRun, d time.Duration, f func(l *loop)) {
	if ex.timer != nil {
		ex.timer.Stop()
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		l.a.send(context.Background(), func(_ context.Context, l *loop) {
			if ex.timer == t {
				ex.timer = nil
				f(l)
			}
		})
	})
	ex.timer = t
}

func (ex *executorRun) stopTimer() {
	if ex.timer != nil {
		ex.timer.Stop()
		ex.timer = nil
	}
}

// executorLaunched takes over an executor whose launch worker is done.
func (l *loop) executorLaunched(ex *executorRun, res launchResult) {
	ex.launching = false
	ex.proc = res.proc
	var failed *mesos.TaskStatus
	for _, u := range res.updates {
		if u.Status.State.Terminal() {
			st := u.Status
			failed = &st
		}
	}
	if failed != nil {
		ex.stopTimer()
		msg := strings.Replace(failed.Message, "Failed to launch the command", "Failed to launch the executor", 1)
		l.endExecutor(ex, mesos.ReasonContainerLaunchFailed, msg, nil)
		return
	}
	if ex.state == execLaunching {
		ex.state = execRegistering
	}
	if ex.pendingExit != nil {
		x := *ex.pendingExit
		ex.pendingExit = nil
		l.executorExited(ex, x)
		return
	}
	if ex.state == execTerminating {
		l.a.killExecutorProc(ex, 0)
	}
}

// resizeExecutor sets the executor's cgroup to its own resources plus
// those of its live tasks, as Mesos resizes an executor's container.
func (l *loop) resizeExecutor(ex *executorRun) {
	if ex.launching || ex.proc.PID <= 0 {
		return
	}
	cpus, mem := task.Limits(ex.info.Resources)
	for k := range ex.tasks {
		if e := l.tasks[k]; e != nil && !e.state.Terminal() {
			cpus += e.cpus
			mem += e.mem
		}
	}
	if err := l.a.runner.Resize(runnerID(ex.key.runKey()), runner.Limits{CPUs: cpus, MemMB: mem}); err != nil && !errors.Is(err, runner.ErrUnknown) {
		l.a.log.Warn("resizing an executor's cgroup", "executor", ex.key.ExecutorID, "err", err)
	}
}

// subscribeExecutor handles SUBSCRIBE (see executorapi.go): the new
// stream replaces an old one; the executor's unacknowledged updates are
// taken as if sent again; tasks it never got are sent. It returns an
// error for the caller (400) when the executor is unknown or the call
// does not fit it.
func (l *loop) subscribeExecutor(ek execKey, sub *mesos.ExecutorSubscribe, s *execStream) error {
	ex := l.executors[ek]
	if ex == nil {
		return fmt.Errorf("executor %q of framework %q is not running on this agent", ek.ExecutorID, ek.FrameworkID)
	}
	if ex.stream != nil {
		l.sendExec(ex, &mesos.ExecutorEvent{Type: mesos.ExecEventError, Error: &mesos.Error{
			Message: "The executor subscribed again on another connection; this stream ends"}})
		ex.stream.close()
		ex.stream = nil
	}
	if ex.state == execTerminating || ex.whyReason != "" {
		ex.stream = s
		l.sendExec(ex, &mesos.ExecutorEvent{Type: mesos.ExecEventShutdown})
		s.close()
		ex.stream = nil
		return nil
	}
	ex.stream = s
	if sub != nil {
		for _, u := range sub.UnacknowledgedUpdates {
			if err := l.executorUpdate(ex, u.Status); err != nil {
				l.a.log.Warn("dropping a re-sent executor update", "executor", ek.ExecutorID, "err", err)
			}
		}
	}
	held := map[string]bool{}
	if sub != nil {
		for _, t := range sub.UnacknowledgedTasks {
			held[t.TaskID.Value] = true
		}
	}
	// Tasks the executor never got are sent now, in launch order: those
	// queued, and after an agent restart those still STAGING that it
	// does not hold.
	var send []update.Key
	for _, k := range ex.queued {
		if e := l.tasks[k]; e != nil && !e.state.Terminal() {
			send = append(send, k)
		}
	}
	ex.queued = nil
	for k := range ex.tasks {
		if e := l.tasks[k]; e != nil && e.delivered && e.state == mesos.TaskStaging && !held[k.TaskID] {
			send = append(send, k)
		}
	}
	if !ex.delivered && len(send) == 0 && len(ex.tasks) == 0 {
		// Its every task was killed before it got one (MESOS-8411).
		l.shutdownExecutor(ex)
		return nil
	}
	ex.stopTimer()
	ex.state = execSubscribed
	agentInfo := mesos.AgentInfo{Hostname: l.a.cfg.Hostname, Resources: l.a.resources.Wire("")}
	if l.agentID != "" {
		agentInfo.ID = &mesos.ID{Value: l.agentID}
	}
	fw := mesos.FrameworkInfo{}
	if ex.framework != nil {
		fw = *ex.framework
	}
	fw.ID = &mesos.ID{Value: ek.FrameworkID}
	l.sendExec(ex, &mesos.ExecutorEvent{Type: mesos.ExecEventSubscribed, Subscribed: &mesos.ExecutorSubscribed{
		ExecutorInfo: ex.info, FrameworkInfo: fw, AgentInfo: agentInfo, ContainerID: &mesos.ContainerID{Value: cgroupName(ek.runKey())}}})
	sent := map[update.Key]bool{}
	for _, k := range send {
		l.deliver(ex, l.tasks[k]) // with its KILL, if it was killed
		sent[k] = true
	}
	// Kills of the tasks it holds that came while it was away.
	for k := range ex.tasks {
		if e := l.tasks[k]; e != nil && e.killed && e.delivered && !e.state.Terminal() && !sent[k] {
			l.sendKill(ex, e)
		}
	}
	l.a.log.Info("executor subscribed", "framework", ek.FrameworkID, "executor", ek.ExecutorID, "tasks", len(send))
	return nil
}

// unsubscribed handles the end of an executor's stream.
func (l *loop) unsubscribed(ek execKey, s *execStream) {
	ex := l.executors[ek]
	s.close()
	if ex == nil || ex.stream != s {
		return
	}
	ex.stream = nil
	if ex.state == execSubscribed {
		ex.state = execRegistering
		l.a.log.Info("executor disconnected", "framework", ek.FrameworkID, "executor", ek.ExecutorID)
	}
}

// executorUpdate takes a status update an executor sent (UPDATE, or one
// re-sent at SUBSCRIBE): it is journaled and queued for the master like
// the agent's own, and acknowledged to the executor. A repeat of an
// update already taken is only acknowledged again.
func (l *loop) executorUpdate(ex *executorRun, st mesos.TaskStatus) error {
	k := update.Key{FrameworkID: ex.key.FrameworkID, TaskID: st.TaskID.Value}
	e := l.tasks[k]
	if e == nil || e.exec != ex {
		return fmt.Errorf("task %q is not a task of executor %q", st.TaskID.Value, ex.key.ExecutorID)
	}
	ack := &mesos.ExecutorEvent{Type: mesos.ExecEventAcknowledged, Acknowledged: &mesos.ExecutorAcknowledged{TaskID: st.TaskID, UUID: st.UUID}}
	if e.execUUIDs[st.UUID] {
		l.sendExec(ex, ack)
		return nil
	}
	if e.state.Terminal() {
		// Nothing follows a terminal state; acknowledge so the executor
		// stops resending.
		l.sendExec(ex, ack)
		return nil
	}
	st.ExecutorID = &mesos.ID{Value: ex.key.ExecutorID}
	st.Source = mesos.SourceExecutor
	if e.drainKill && (st.State == mesos.TaskKilled || st.State == mesos.TaskKilling) {
		st.Reason = mesos.ReasonAgentDraining // as Mesos' agent does
	}
	if l.agentID != "" {
		st.AgentID = &mesos.ID{Value: l.agentID}
	}
	if st.Timestamp == 0 {
		st.Timestamp = mesos.Float(float64(time.Now().UnixNano()) / 1e9)
	}
	if e.execUUIDs == nil {
		e.execUUIDs = map[string]bool{}
	}
	e.execUUIDs[st.UUID] = true
	e.delivered = true
	l.emit(e, st)
	l.sendExec(ex, ack)
	if st.State.Terminal() {
		l.resizeExecutor(ex)
	}
	return nil
}

// killExecutorTask kills task e of a custom executor: a task the executor
// has not got yet ends at once; otherwise the executor is told.
func (l *loop) killExecutorTask(e *entry) {
	ex := e.exec
	if !e.delivered {
		for i, k := range ex.queued {
			if k == e.key {
				ex.queued = append(ex.queued[:i:i], ex.queued[i+1:]...)
				break
			}
		}
		l.emit(e, l.execStatus(e, ex.key, mesos.TaskKilled, "", "Killed before the executor got the task", mesos.SourceAgent))
		delete(ex.tasks, e.key)
		if !ex.delivered && len(ex.queued) == 0 && len(ex.tasks) == 0 {
			l.shutdownExecutor(ex) // it would have nothing to do (MESOS-8411)
		}
		return
	}
	if ex.state == execSubscribed {
		l.sendKill(ex, e)
	}
	// Otherwise it is told when it subscribes again.
}

// shutdownExecutor asks an executor to shut down, and kills it after its
// grace period.
func (l *loop) shutdownExecutor(ex *executorRun) {
	if ex.state == execTerminating {
		return
	}
	ex.state = execTerminating
	grace := l.a.executorGrace(&ex.info)
	l.a.log.Info("shutting executor down", "framework", ex.key.FrameworkID, "executor", ex.key.ExecutorID, "grace", grace)
	if l.sendExec(ex, &mesos.ExecutorEvent{Type: mesos.ExecEventShutdown}) {
		l.armExecutorTimer(ex, grace, func(l *loop) {
			if !ex.launching {
				l.a.killExecutorProc(ex, 0)
			}
		})
		return
	}
	ex.stopTimer()
	if !ex.launching {
		l.a.killExecutorProc(ex, grace)
	}
}

// giveUpExecutor kills an executor the agent no longer waits for; its
// unfinished tasks end with reason and msg.
func (l *loop) giveUpExecutor(ex *executorRun, reason, msg string) {
	if ex.state == execSubscribed {
		return
	}
	l.a.log.Warn("giving up on executor", "framework", ex.key.FrameworkID, "executor", ex.key.ExecutorID, "why", msg)
	ex.whyReason, ex.whyMessage = reason, msg
	ex.state = execTerminating
	if !ex.launching {
		l.a.killExecutorProc(ex, 0)
	}
}

// executorExited handles the end of an executor's process.
func (l *loop) executorExited(ex *executorRun, x runner.Exit) {
	if ex.launching {
		ex.pendingExit = &x
		return
	}
	status, how := waitStatus(x.Exit)
	reason, msg := mesos.ReasonExecutorTerminated, fmt.Sprintf("Executor %q %s", ex.key.ExecutorID, how)
	if ex.whyReason != "" {
		reason, msg = ex.whyReason, ex.whyMessage
	}
	l.endExecutor(ex, reason, msg, status)
}

// waitStatus is a process end as a wait(2) status (Event.Failure's
// status), nil when unknown, and in words.
func waitStatus(x task.Exit) (*int, string) {
	switch {
	case x.Kind != task.Exited:
		return nil, "ended; its exit status is unknown"
	case x.OOM:
		ws := 9
		return &ws, "was killed by the kernel's OOM killer: it and its tasks used more memory than they asked for"
	case x.Code > 128:
		ws := x.Code - 128
		return &ws, "terminated with signal " + task.SignalName(ws)
	}
	ws := x.Code << 8
	return &ws, fmt.Sprintf("exited with status %d", x.Code)
}

// endExecutor forgets an executor that ended: its unfinished tasks end
// (killed ones TASK_KILLED, the others TASK_FAILED with reason and msg)
// and the master hears of it.
func (l *loop) endExecutor(ex *executorRun, reason, msg string, status *int) {
	ex.stopTimer()
	if ex.stream != nil {
		ex.stream.close()
		ex.stream = nil
	}
	for k := range ex.tasks {
		e := l.tasks[k]
		if e == nil || e.state.Terminal() {
			continue
		}
		if e.killed {
			l.emit(e, l.execStatus(e, ex.key, mesos.TaskKilled, reason, msg, mesos.SourceAgent))
		} else {
			l.emit(e, l.execStatus(e, ex.key, mesos.TaskFailed, reason, msg, mesos.SourceAgent))
		}
	}
	delete(l.executors, ex.key)
	k := ex.key.runKey()
	if err := l.a.store.RemoveTask(k.FrameworkID, k.TaskID); err != nil {
		l.a.log.Warn("removing executor checkpoint", "err", err)
	}
	l.a.log.Info("executor ended", "framework", ex.key.FrameworkID, "executor", ex.key.ExecutorID, "message", msg)
	l.execReports.Exited = append(l.execReports.Exited, agentproto.ExecutorExited{FrameworkID: ex.key.FrameworkID, ExecutorID: ex.key.ExecutorID, Status: status})
}

// executorMessage queues an executor's MESSAGE for its framework.
func (l *loop) executorMessage(ek execKey, data string) error {
	if l.executors[ek] == nil {
		return fmt.Errorf("executor %q of framework %q is not running on this agent", ek.ExecutorID, ek.FrameworkID)
	}
	if len(l.execReports.Messages) >= 1024 {
		return errors.New("too many executor messages are waiting for the master; try again later")
	}
	l.execReports.Messages = append(l.execReports.Messages, agentproto.ExecutorMessage{FrameworkID: ek.FrameworkID, ExecutorID: ek.ExecutorID, Data: data})
	return nil
}

// pumpExecutorReports sends the queued executor ends and messages in one
// EXECUTORS call, one call at a time. Ends that fail to go stay queued
// until the next registration, which reports the live executors instead;
// messages are best effort.
func (l *loop) pumpExecutorReports(ctx context.Context) {
	if l.session == nil || l.sendingExec || (len(l.execReports.Exited) == 0 && len(l.execReports.Messages) == 0) {
		return
	}
	batch := l.execReports
	l.execReports = agentproto.Executors{}
	l.sendingExec = true
	sess := l.session
	call := agentproto.Call{Type: agentproto.CallExecutors, AgentID: sess.agentID, ConnectionID: sess.connectionID, Executors: &batch}
	l.bg.Go(func() {
		err := l.a.call(ctx, sess, call)
		l.a.send(ctx, func(_ context.Context, l *loop) {
			l.sendingExec = false
			if err != nil {
				l.a.log.Warn("reporting executors failed", "exited", len(batch.Exited), "messages", len(batch.Messages), "err", err)
			}
		})
	})
}

// frameworkMessage passes a framework's message on to its executor.
func (l *loop) frameworkMessage(m *agentproto.ExecutorMessage) {
	ex := l.executors[execKey{FrameworkID: m.FrameworkID, ExecutorID: m.ExecutorID}]
	if ex == nil || !l.sendExec(ex, &mesos.ExecutorEvent{Type: mesos.ExecEventMessage, Message: &mesos.ExecutorEventMessage{Data: m.Data}}) {
		l.a.log.Debug("dropping a framework message for an executor that is not subscribed", "framework", m.FrameworkID, "executor", m.ExecutorID)
	}
}

// liveExecutors are the executors reported on registration.
func (l *loop) liveExecutors() []agentproto.Executor {
	var out []agentproto.Executor
	for _, ex := range l.executors {
		out = append(out, agentproto.Executor{FrameworkID: ex.key.FrameworkID, Info: ex.info})
	}
	return out
}

// recoverExecutor rebuilds an executor from its journal and adopts its
// process; it has ExecutorReregistrationTimeout to subscribe again.
func (l *loop) recoverExecutor(r checkpoint.Recovered, spawned *checkpoint.Spawned, failed bool) {
	eid, _ := task.ExecutorOf(r.TaskID)
	ek := execKey{FrameworkID: r.FrameworkID, ExecutorID: eid}
	if r.Task == nil || r.Task.Executor == nil || failed {
		if err := l.a.store.RemoveTask(r.FrameworkID, r.TaskID); err != nil {
			l.a.log.Warn("removing executor checkpoint", "err", err)
		}
		return
	}
	ex := &executorRun{key: ek, info: *r.Task.Executor, framework: r.Task.FrameworkInfo, sandbox: r.Task.Sandbox,
		state: execRegistering, tasks: map[update.Key]bool{}, startedAt: r.Task.LaunchedAt, delivered: true}
	ex.token, _ = l.a.loadExecutorToken(ek.runKey())
	l.executors[ek] = ex
	k := ek.runKey()
	if ex.info.Container != nil {
		if l.a.docker == nil {
			l.a.log.Error("an executor runs in a Docker container but the agent now runs without the docker containerizer; "+
				"its end cannot be watched", "framework", ek.FrameworkID, "executor", ek.ExecutorID)
		} else {
			out, errs, _ := task.LogLimits(task.ExecutorTask(&ex.info), task.LogLimit{MaxSize: l.a.cfg.TaskLogMaxSize, MaxFiles: l.a.cfg.TaskLogMaxFiles})
			l.a.docker.Adopt(runnerID(k), l.a.containerName(k), ex.sandbox, l.a.logStateOf(k), logrotate.Limits(out), logrotate.Limits(errs))
		}
	} else {
		spec := runner.Spec{ID: runnerID(k), ExitFile: exitFileOf(l.a.store, k), Cgroup: r.Task.Cgroup}
		if spawned != nil {
			ex.proc = runner.Proc{PID: spawned.PID, StartTime: spawned.StartTime}
		}
		l.a.runner.Adopt(spec, ex.proc)
	}
	l.armExecutorTimer(ex, l.a.cfg.ExecutorReregistrationTimeout, func(l *loop) {
		l.giveUpExecutor(ex, mesos.ReasonExecutorReregistrationTimeout,
			fmt.Sprintf("Executor %q did not subscribe again within %s of the agent's restart (--executor_reregistration_timeout)", ek.ExecutorID, l.a.cfg.ExecutorReregistrationTimeout))
	})
}

// attachExecutorTasks links the recovered tasks of custom executors to
// their executors; a task whose executor is gone has ended with it.
func (l *loop) attachExecutorTasks() {
	for _, e := range l.tasks {
		if e.ghost || e.info == nil || e.info.Executor == nil {
			continue
		}
		ek := execKey{FrameworkID: e.key.FrameworkID, ExecutorID: e.info.Executor.ExecutorID.Value}
		ex := l.executors[ek]
		if e.state.Terminal() {
			continue
		}
		if ex == nil {
			st := l.execStatus(e, ek, mesos.TaskFailed, mesos.ReasonExecutorTerminated, "Executor terminated while the agent was down", mesos.SourceAgent)
			if e.killed {
				st.State = mesos.TaskKilled
			}
			l.emit(e, st)
			continue
		}
		e.exec = ex
		e.sandbox = ex.sandbox
		e.delivered = true // it may hold it; SUBSCRIBE says
		ex.tasks[e.key] = true
	}
}

// saveExecutorToken keeps an executor's token for the agent's next run,
// readable by the agent alone.
func (a *Agent) saveExecutorToken(k update.Key, tok string) error {
	dir := a.store.TaskDir(k.FrameworkID, k.TaskID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "token"), []byte(tok), 0o600)
}

func (a *Agent) loadExecutorToken(k update.Key) (string, error) {
	b, err := os.ReadFile(filepath.Join(a.store.TaskDir(k.FrameworkID, k.TaskID), "token"))
	return string(b), err
}

// checkToken reports whether tok is the executor's.
func (ex *executorRun) checkToken(tok string) bool {
	return ex.token != "" && subtle.ConstantTimeCompare([]byte(ex.token), []byte(tok)) == 1
}
