package agent

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"

	"corral/kernel/agent/checkpoint"
	"corral/kernel/agent/fetcher"
	"corral/kernel/agent/health"
	"corral/kernel/agent/logrotate"
	"corral/kernel/agent/runner"
	"corral/kernel/agent/task"
	"corral/kernel/agent/update"
	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// entry is the loop's record of one task. A ghost is a task the agent
// never ran but had to answer for (TASK_DROPPED, TASK_LOST).
type entry struct {
	key       update.Key
	ghost     bool
	info      *mesos.TaskInfo
	framework *mesos.FrameworkInfo
	sandbox   string
	cpus, mem float64

	state  mesos.TaskState
	status mesos.TaskStatus // latest
	proc   runner.Proc

	launching   bool
	pendingExit *runner.Exit // arrived while launching
	killed      bool         // a kill was requested
	killGrace   time.Duration
	startedAt   time.Time

	// secrets are the values of the task's SECRET variables, known when
	// this run of the agent launched it (in memory only), for its
	// health check; nil for a task recovered from the checkpoint.
	secrets *task.Resolved

	health     *checker // the running health check, if any
	healthKill string   // set when a failed health check killed the task: the terminal message
	stopKill   bool     // set when the agent killed the task because the agent was stopping
	drainKill  bool     // set when the task was killed because the agent is being drained

	// exec is the custom executor running the task, if it names one;
	// delivered is set once the task was sent to it, and execUUIDs are
	// the updates it sent that the agent took.
	exec      *executorRun
	delivered bool
	execUUIDs map[string]bool
}

// killCause says why the agent kills a task on its own (not because a
// framework asked): it shapes the terminal update. The zero value is a
// kill a framework asked for.
type killCause struct {
	health   string // a failed health check: the terminal message
	stopping bool   // the agent is stopping and kills its tasks first
	draining bool   // the master drains the agent
}

// completedTask is what /state keeps of a task after its checkpoint is gone.
type completedTask struct {
	FrameworkID string          `json:"framework_id"`
	TaskID      string          `json:"task_id"`
	Name        string          `json:"name,omitempty"`
	State       mesos.TaskState `json:"state"`
	Message     string          `json:"message,omitempty"`
	Sandbox     string          `json:"sandbox,omitempty"`
}

const maxCompleted = 200

// session is one registration with a master.
type session struct {
	base         string // the leader's base URL
	agentID      string
	connectionID string
	interval     time.Duration
	cancel       context.CancelFunc
}

// loop owns all mutable agent state; only its goroutine touches it.
type loop struct {
	a       *Agent
	agentID string
	session *session
	tasks   map[update.Key]*entry
	updates *update.Manager
	sending bool
	counts  map[mesos.TaskState]int

	completed []completedTask

	launchSem chan struct{}
	bg        sync.WaitGroup // goroutines started by the loop; Run joins them

	executors map[execKey]*executorRun
	// execReports are executor ends and messages for the master;
	// sendingExec is set while an EXECUTORS call is under way.
	execReports agentproto.Executors
	sendingExec bool
}

func newLoop(a *Agent) *loop {
	return &loop{
		a:         a,
		tasks:     map[update.Key]*entry{},
		updates:   update.New(a.cfg.UpdateRetryInterval, a.cfg.UpdateRetryMax),
		counts:    map[mesos.TaskState]int{},
		launchSem: make(chan struct{}, a.cfg.LaunchConcurrency),
		executors: map[execKey]*executorRun{},
	}
}

// run is the owner goroutine's loop.
func (l *loop) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	gc := time.NewTicker(time.Hour)
	defer gc.Stop()
	l.gcSandboxes(ctx)
	exits, dexits := l.a.runner.Exits(), l.a.dockerExits()
	l.removeOrphanContainers(ctx)
	l.resumeHealthChecks(ctx)
	for {
		l.pump(ctx)
		l.pumpExecutorReports(ctx)
		l.arm(timer)
		l.a.metrics.pending.Set(float64(l.updates.Pending()))
		select {
		case <-ctx.Done():
			return
		case m := <-l.a.inbox:
			m(ctx, l)
			// Drain what is queued so that one UPDATE carries many tasks.
			for i := 0; i < 512; i++ {
				select {
				case m := <-l.a.inbox:
					m(ctx, l)
					continue
				case ex := <-exits:
					l.exited(ex)
					continue
				case ex := <-dexits:
					l.exited(ex)
					continue
				default:
				}
				break
			}
		case ex := <-exits:
			l.exited(ex)
		case ex := <-dexits:
			l.exited(ex)
		case <-timer.C:
		case <-gc.C:
			l.gcSandboxes(ctx)
		}
	}
}

// arm sets the timer to the next resend, if any is due while registered.
func (l *loop) arm(t *time.Timer) {
	next, ok := l.updates.Next()
	if l.session == nil || l.sending || !ok {
		t.Stop()
		return
	}
	t.Reset(max(0, time.Until(next)))
}

// pump sends the due updates in one UPDATE call, one call at a time.
func (l *loop) pump(ctx context.Context) {
	if l.session == nil || l.sending {
		return
	}
	batch := l.updates.Due(time.Now())
	if len(batch) == 0 {
		return
	}
	l.sending = true
	sess := l.session
	call := agentproto.Call{Type: agentproto.CallUpdate, AgentID: sess.agentID, ConnectionID: sess.connectionID,
		Update: &agentproto.Updates{Updates: batch}}
	l.bg.Go(func() {
		err := l.a.call(ctx, sess, call)
		l.a.send(ctx, func(_ context.Context, l *loop) {
			l.sending = false
			if err == nil {
				l.a.metrics.updatesSent.Add(float64(len(batch)))
				return
			}
			l.a.log.Warn("sending status updates failed; re-registering", "updates", len(batch), "err", err)
			if l.session == sess {
				sess.cancel()
			}
		})
	})
}

// setState moves e to state s, keeping the per-state counts.
func (l *loop) setState(e *entry, s mesos.TaskState) {
	if e.state != "" {
		l.counts[e.state]--
	}
	e.state = s
	l.counts[s]++
}

// newStatus builds a reliable status for e.
func (l *loop) newStatus(k update.Key, state mesos.TaskState, reason, msg, source string) mesos.TaskStatus {
	u := uuid.New()
	st := mesos.TaskStatus{
		TaskID:     mesos.ID{Value: k.TaskID},
		State:      state,
		Message:    msg,
		Source:     source,
		Reason:     reason,
		ExecutorID: &mesos.ID{Value: k.TaskID},
		Timestamp:  mesos.Float(float64(time.Now().UnixNano()) / 1e9),
		UUID:       base64.StdEncoding.EncodeToString(u[:]),
	}
	if l.agentID != "" {
		st.AgentID = &mesos.ID{Value: l.agentID}
	}
	return st
}

// emit checkpoints a new status of e and queues it for sending.
func (l *loop) emit(e *entry, st mesos.TaskStatus) {
	u := agentproto.StatusUpdate{FrameworkID: e.key.FrameworkID, Status: st}
	if err := l.a.store.Append(e.key.FrameworkID, e.key.TaskID, checkpoint.Record{Update: &u}); err != nil {
		// Still send it: losing reliability beats losing the update.
		l.a.log.Error("checkpointing status update", "task", e.key.TaskID, "err", err)
	}
	l.add(e, u)
}

// add hands an already checkpointed update to the manager.
func (l *loop) add(e *entry, u agentproto.StatusUpdate) {
	l.updates.Add(u)
	l.setState(e, u.Status.State)
	e.status = u.Status
	l.a.log.Debug("status update", "framework", e.key.FrameworkID, "task", e.key.TaskID, "state", u.Status.State, "message", u.Status.Message)
}

// ghost answers for a task the agent does not know.
func (l *loop) ghost(k update.Key, state mesos.TaskState, reason, msg string) {
	e := &entry{key: k, ghost: true}
	l.tasks[k] = e
	l.emit(e, l.newStatus(k, state, reason, msg, mesos.SourceAgent))
}

// --- events from the master ---

func (l *loop) registered(s *session) {
	if l.agentID != s.agentID {
		if l.agentID != "" {
			l.a.log.Warn("master assigned a new agent id", "old", l.agentID, "new", s.agentID)
		}
		l.agentID = s.agentID
		if err := l.a.store.SaveAgent(checkpoint.Agent{AgentID: s.agentID, BootID: l.a.bootID}); err != nil {
			l.a.log.Error("saving agent id", "err", err)
		}
	}
	if l.session != nil {
		l.session.cancel()
	}
	l.session = s
	l.updates.ResendAll()
	l.a.metrics.registered.Set(1)
	l.a.metrics.registrations.Inc()
	l.a.log.Info("registered with master", "master", s.base, "agent_id", s.agentID, "tasks", len(l.tasks), "pending_updates", l.updates.Pending())
}

func (l *loop) disconnected(s *session) {
	if l.session == s {
		l.session = nil
		l.a.metrics.registered.Set(0)
	}
}

// registerCall builds the REGISTER call body from the current tasks.
func (l *loop) registerCall() agentproto.Call {
	reg := &agentproto.Register{Info: l.a.info()}
	for _, e := range l.tasks {
		if e.ghost || e.info == nil {
			continue
		}
		t := agentproto.Task{FrameworkID: e.key.FrameworkID, FrameworkInfo: e.framework, TaskInfo: *e.info, State: e.state}
		if e.status.UUID != "" {
			st := e.status
			t.Status = &st
		}
		if t.State == "" {
			t.State = mesos.TaskStaging
		}
		reg.Tasks = append(reg.Tasks, t)
	}
	reg.Executors = l.liveExecutors()
	return agentproto.Call{Type: agentproto.CallRegister, AgentID: l.agentID, Register: reg}
}

func (l *loop) handle(ctx context.Context, ev agentproto.Event) {
	switch ev.Type {
	case agentproto.EventLaunch:
		if ev.Launch != nil {
			l.launch(ctx, ev.Launch)
		}
	case agentproto.EventKill:
		if ev.Kill != nil {
			k := update.Key{FrameworkID: ev.Kill.FrameworkID, TaskID: ev.Kill.TaskID}
			l.kill(k, time.Duration(ev.Kill.GracePeriodSeconds*float64(time.Second)), killCause{draining: ev.Kill.Draining})
		}
	case agentproto.EventAcknowledge:
		if ev.Acknowledge != nil {
			l.ack(update.Key{FrameworkID: ev.Acknowledge.FrameworkID, TaskID: ev.Acknowledge.TaskID}, ev.Acknowledge.UUID)
		}
	case agentproto.EventReconcile:
		if ev.Reconcile != nil {
			for _, t := range ev.Reconcile.Tasks {
				k := update.Key{FrameworkID: t.FrameworkID, TaskID: t.TaskID}
				if l.tasks[k] == nil {
					l.ghost(k, mesos.TaskDropped, mesos.ReasonReconciliation, "Task is unknown to the agent")
				}
			}
		}
	case agentproto.EventShutdownFramework:
		if ev.ShutdownFramework != nil {
			for k := range l.tasks {
				if k.FrameworkID == ev.ShutdownFramework.FrameworkID {
					l.kill(k, 0, killCause{})
				}
			}
			for ek, ex := range l.executors {
				if ek.FrameworkID == ev.ShutdownFramework.FrameworkID {
					l.shutdownExecutor(ex)
				}
			}
		}
	case agentproto.EventMessage:
		if ev.Message != nil {
			l.frameworkMessage(ev.Message)
		}
	case agentproto.EventShutdownExecutor:
		if x := ev.ShutdownExecutor; x != nil {
			if ex := l.executors[execKey{FrameworkID: x.FrameworkID, ExecutorID: x.ExecutorID}]; ex != nil {
				l.shutdownExecutor(ex)
			}
		}
	case agentproto.EventHeartbeat, agentproto.EventRegistered:
	default:
		l.a.log.Warn("ignoring unknown event", "type", ev.Type)
	}
}

// launch validates each task and hands the valid ones to launch workers.
func (l *loop) launch(ctx context.Context, ev *agentproto.Launch) {
	for i := range ev.Tasks {
		ti := ev.Tasks[i]
		fw := ev.FrameworkInfo
		k := update.Key{FrameworkID: ev.FrameworkID, TaskID: ti.TaskID.Value}
		if l.tasks[k] != nil {
			l.a.log.Warn("ignoring launch of a task the agent already knows", "framework", k.FrameworkID, "task", k.TaskID)
			continue
		}
		e := &entry{key: k, info: &ti, framework: &fw, startedAt: time.Now()}
		l.tasks[k] = e
		if err := task.Validate(k.FrameworkID, &ti); err != nil {
			l.emit(e, l.newStatus(k, mesos.TaskError, mesos.ReasonTaskInvalid, err.Error(), mesos.SourceAgent))
			continue
		}
		if ti.Executor != nil {
			l.launchExecutorTask(ctx, e)
			continue
		}
		if isDocker(&ti) && l.a.docker == nil {
			l.emit(e, l.newStatus(k, mesos.TaskFailed, mesos.ReasonContainerLaunchFailed, errNoDocker.Error(), mesos.SourceAgent))
			continue
		}
		e.cpus, e.mem = task.Limits(ti.Resources)
		cpuLimit, memLimit := l.a.limits(&ti)
		e.sandbox = l.a.sandboxOf(k)
		outLimit, errLimit, _ := task.LogLimits(&ti, task.LogLimit{MaxSize: l.a.cfg.TaskLogMaxSize, MaxFiles: l.a.cfg.TaskLogMaxFiles})
		var logger *runner.Logger
		if l.a.cfg.Logger != "" && (outLimit.MaxSize > 0 || errLimit.MaxSize > 0) {
			logger = &runner.Logger{Exe: l.a.cfg.Logger, Args: l.a.cfg.LoggerArgs, Stdout: logrotate.Limits(outLimit), Stderr: logrotate.Limits(errLimit)}
		}
		e.launching = true
		l.setState(e, mesos.TaskStaging)
		job := launchJob{
			key: k,
			// The checkpoint holds no secret's value: references only.
			checkpoint: checkpoint.Task{FrameworkID: k.FrameworkID, FrameworkInfo: &fw, TaskInfo: task.Redacted(&ti),
				Sandbox: e.sandbox, Cgroup: cgroupName(k), LaunchedAt: e.startedAt},
			info:    &ti,
			user:    launchUser(&ti, &fw),
			secrets: ti.SecretRefs(),
			env: task.EnvInput{FrameworkID: k.FrameworkID, AgentID: l.agentID, Sandbox: e.sandbox,
				AgentEndpoint: l.a.endpointHostPort(), Hostname: l.a.cfg.Hostname},
			spec: runner.Spec{
				ID:       runnerID(k),
				Argv:     task.Argv(ti.Command),
				Dir:      e.sandbox,
				ExitFile: exitFileOf(l.a.store, k),
				Cgroup:   cgroupName(k),
				CPUs:     e.cpus,
				MemMB:    e.mem,
				Logger:   logger,
				CPULimit: cpuLimit, MemLimitMB: memLimit,
			},
			logs:     [2]logrotate.Limits{logrotate.Limits(outLimit), logrotate.Limits(errLimit)},
			starting: l.newStatus(k, mesos.TaskStarting, "", "", mesos.SourceExecutor),
			running:  l.newStatus(k, mesos.TaskRunning, "", "", mesos.SourceExecutor),
			failed:   l.newStatus(k, mesos.TaskFailed, mesos.ReasonContainerLaunchFailed, "", mesos.SourceExecutor),
		}
		l.a.metrics.launched.Inc()
		l.bg.Go(func() {
			if l.a.cfg.KillTasksOnStop {
				// The task is launched even while the agent stops, and
				// its result always reaches the loop, so that killAll
				// sees it and kills it: nothing may outlive the agent.
				l.launchSem <- struct{}{}
			} else {
				select {
				case l.launchSem <- struct{}{}:
				case <-ctx.Done():
					return // the next agent run reports the task as never started
				}
			}
			res := l.a.doLaunch(ctx, job)
			<-l.launchSem
			m := func(ctx context.Context, l *loop) { l.launched(ctx, job.key, res) }
			if l.a.cfg.KillTasksOnStop {
				select {
				case l.a.inbox <- m:
				case <-l.a.stopped:
				}
				return
			}
			l.a.send(ctx, m)
		})
	}
}

// launched takes over a task whose launch worker is done, and starts its
// health check once it runs.
func (l *loop) launched(ctx context.Context, k update.Key, res launchResult) {
	e := l.tasks[k]
	if e == nil {
		return
	}
	e.launching = false
	e.proc = res.proc
	e.secrets = res.secrets
	for _, u := range res.updates {
		l.add(e, u)
	}
	if e.state.Terminal() {
		return
	}
	if e.killed {
		l.a.killProc(e, e.killGrace)
	}
	if e.pendingExit != nil {
		ex := *e.pendingExit
		e.pendingExit = nil
		l.exited(ex)
		return
	}
	if !e.killed && e.state == mesos.TaskRunning {
		l.startHealth(ctx, e, time.Now(), health.Unknown)
	}
}

// kill asks a task to stop; grace zero means the task's or the agent's
// default.
func (l *loop) kill(k update.Key, grace time.Duration, why killCause) {
	e := l.tasks[k]
	if e == nil {
		l.ghost(k, mesos.TaskLost, mesos.ReasonTaskUnknown, "Task is unknown to the agent")
		return
	}
	l.stop(e, grace, why)
}

// stop kills e's process and stops its health check; healthMsg, when set,
// says the agent kills the task because its health check failed and
// becomes the message of its TASK_KILLED update. Only the first call
// decides the grace period and the cause.
func (l *loop) stop(e *entry, grace time.Duration, why killCause) {
	k := e.key
	if e.ghost || e.state.Terminal() {
		return
	}
	l.stopHealth(e)
	if !e.killed {
		e.killed = true
		e.killGrace = task.GracePeriod(grace, e.info, l.a.cfg.KillGracePeriod)
		e.healthKill, e.stopKill, e.drainKill = why.health, why.stopping, why.draining
		// Journaled at once, even while a launch worker writes the same
		// journal: each record is a single O_APPEND write, and replay does
		// not depend on where the kill record lands.
		rec := checkpoint.Kill{GraceSeconds: e.killGrace.Seconds(), At: time.Now(), Health: why.health, AgentStopping: why.stopping, Draining: why.draining}
		if err := l.a.store.Append(k.FrameworkID, k.TaskID, checkpoint.Record{Kill: &rec}); err != nil {
			l.a.log.Error("checkpointing kill", "task", k.TaskID, "err", err)
		}
	}
	if e.launching {
		return // signalled when the launch completes
	}
	if e.exec != nil {
		l.killExecutorTask(e)
		return
	}
	l.a.log.Info("killing task", "framework", k.FrameworkID, "task", k.TaskID, "grace", e.killGrace)
	if err := l.a.killProc(e, e.killGrace); err != nil && !errors.Is(err, runner.ErrUnknown) {
		l.a.log.Warn("killing task", "task", k.TaskID, "err", err)
	}
}

// killAll kills every live task and then handles exits and finishing
// launches until no task is live or the longest grace period plus slack
// has passed. The terminal updates are journaled like any other and sent
// at the next registration.
func (l *loop) killAll(slack time.Duration) {
	live := func() int {
		n := 0
		for _, e := range l.tasks {
			if !e.ghost && !e.state.Terminal() {
				n++
			}
		}
		return n
	}
	for _, e := range l.tasks {
		l.stop(e, 0, killCause{stopping: true})
	}
	for _, ex := range l.executors {
		l.shutdownExecutor(ex)
	}
	if live() == 0 {
		return
	}
	wait := time.Duration(0)
	for _, e := range l.tasks {
		if !e.ghost && !e.state.Terminal() {
			wait = max(wait, e.killGrace)
		}
	}
	wait += slack
	l.a.log.Info("killing every task before stopping", "tasks", live(), "wait", wait)
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	exits, dexits := l.a.runner.Exits(), l.a.dockerExits()
	for live() > 0 {
		select {
		case ex := <-exits:
			l.exited(ex)
		case ex := <-dexits:
			l.exited(ex)
		case m := <-l.a.inbox:
			// Launch workers report here; a task that finishes launching
			// is killed by launched because it is marked killed. A
			// LAUNCH that was still queued starts a task: kill it too.
			m(context.Background(), l)
			for _, e := range l.tasks {
				if !e.killed {
					l.stop(e, 0, killCause{stopping: true})
				}
			}
		case <-deadline.C:
			l.a.log.Warn("tasks still running after the kill", "tasks", live())
			return
		}
	}
}

// exited turns a process end into the task's terminal update.
func (l *loop) exited(ex runner.Exit) {
	k := keyOfRunnerID(ex.ID)
	if eid, ok := task.ExecutorOf(k.TaskID); ok {
		if x := l.executors[execKey{FrameworkID: k.FrameworkID, ExecutorID: eid}]; x != nil {
			l.executorExited(x, ex)
		}
		return
	}
	e := l.tasks[k]
	if e == nil || e.ghost || e.state.Terminal() {
		return
	}
	if e.launching {
		e.pendingExit = &ex
		return
	}
	l.stopHealth(e)
	e.secrets = nil
	if e.info != nil && len(e.info.Container.SecretVolumes()) > 0 {
		l.a.removeSecretFiles(k)
	}
	memLimit := e.mem
	if e.info != nil {
		if _, m := task.MaxLimits(e.info); m > 0 {
			memLimit = m
		}
	}
	v := task.Outcome(ex.Exit, e.killed, memLimit)
	st := l.newStatus(k, v.State, v.Reason, v.Message, mesos.SourceExecutor)
	switch {
	case v.State != mesos.TaskKilled:
	case e.healthKill != "":
		st.Message, st.Healthy = e.healthKill, health.Unhealthy.Healthy()
		v.Message = st.Message
	case e.stopKill:
		// Not the task's failure: frameworks replace it elsewhere without
		// counting it against the app (as for a drain, whose reason it is).
		st.Reason, st.Message = mesos.ReasonAgentDraining, "The agent stopped and killed its tasks"
		v.Message = st.Message
	case e.drainKill:
		st.Reason, st.Message = mesos.ReasonAgentDraining, "Killed because the agent is being drained"
		v.Message = st.Message
	}
	l.emit(e, st)
	l.a.log.Info("task ended", "framework", k.FrameworkID, "task", k.TaskID, "state", v.State, "message", v.Message)
}

// ack applies an acknowledgement; a task whose terminal update is
// acknowledged is forgotten (its sandbox stays).
func (l *loop) ack(k update.Key, id string) {
	e := l.tasks[k]
	if e == nil || !l.updates.IsHead(k, id) {
		return
	}
	if err := l.a.store.Append(k.FrameworkID, k.TaskID, checkpoint.Record{Ack: id}); err != nil {
		l.a.log.Error("checkpointing acknowledgement", "task", k.TaskID, "err", err)
	}
	r := l.updates.Ack(k, id)
	if r.Drained && r.Terminal {
		l.forget(e)
	}
}

// forget drops a finished task whose updates are all acknowledged.
func (l *loop) forget(e *entry) {
	l.stopHealth(e)
	if err := l.a.store.RemoveTask(e.key.FrameworkID, e.key.TaskID); err != nil {
		l.a.log.Warn("removing task checkpoint", "err", err)
	}
	l.updates.Remove(e.key)
	delete(l.tasks, e.key)
	if e.exec != nil {
		delete(e.exec.tasks, e.key)
	}
	l.counts[e.state]--
	if e.ghost {
		return
	}
	name := ""
	if e.info != nil {
		name = e.info.Name
	}
	l.completed = append(l.completed, completedTask{FrameworkID: e.key.FrameworkID, TaskID: e.key.TaskID, Name: name,
		State: e.state, Message: e.status.Message, Sandbox: e.sandbox})
	if len(l.completed) > maxCompleted {
		l.completed = append(l.completed[:0], l.completed[len(l.completed)-maxCompleted:]...)
	}
}

// --- recovery ---

// recover rebuilds the loop's state from the checkpoint and adopts the
// tasks' processes. It runs before the loop starts.
func (l *loop) recover(ctx context.Context) error {
	st := l.a.store
	meta, ok, err := st.LoadAgent()
	if err != nil {
		l.a.log.Warn("unreadable agent checkpoint; starting as a new agent", "err", err)
	}
	switch {
	case ok && meta.BootID == l.a.bootID:
		l.agentID = meta.AgentID
	case ok:
		l.a.log.Warn("the host rebooted since the last run: its tasks are gone; registering as a new agent", "old_agent_id", meta.AgentID)
		fallthrough
	default:
		if err := st.Reset(time.Now()); err != nil {
			return err
		}
		l.sweepSecretFiles()
		return nil
	}
	recs, errs := st.Load()
	for _, err := range errs {
		l.a.log.Error("skipping unreadable task checkpoint", "err", err)
	}
	adopted := 0
	for _, r := range recs {
		k := update.Key{FrameworkID: r.FrameworkID, TaskID: r.TaskID}
		if _, ok := task.ExecutorOf(r.TaskID); ok {
			var spawned *checkpoint.Spawned
			failed := false
			for _, rec := range r.Records {
				switch {
				case rec.Spawned != nil:
					spawned = rec.Spawned
				case rec.Update != nil && rec.Update.Status.State.Terminal():
					failed = true
				}
			}
			l.recoverExecutor(r, spawned, failed)
			if !failed && r.Task != nil && r.Task.Executor != nil {
				adopted++
			}
			continue
		}
		if r.Dropped > 0 {
			l.a.log.Warn("dropped unreadable journal lines", "task", k.TaskID, "lines", r.Dropped)
		}
		e := &entry{key: k, ghost: r.Task == nil}
		if r.Task != nil {
			e.info, e.framework, e.sandbox, e.startedAt = r.Task.TaskInfo, r.Task.FrameworkInfo, r.Task.Sandbox, r.Task.LaunchedAt
			e.cpus, e.mem = task.Limits(e.info.Resources)
		}
		var spawned *checkpoint.Spawned
		for _, rec := range r.Records {
			switch {
			case rec.Update != nil:
				l.add(e, *rec.Update)
				if rec.Update.Status.Source == mesos.SourceExecutor {
					if e.execUUIDs == nil {
						e.execUUIDs = map[string]bool{}
					}
					e.execUUIDs[rec.Update.Status.UUID] = true
				}
			case rec.Ack != "":
				l.updates.Ack(k, rec.Ack)
			case rec.Spawned != nil:
				spawned = rec.Spawned
			case rec.Kill != nil:
				e.killed = true
				e.killGrace = time.Duration(rec.Kill.GraceSeconds * float64(time.Second))
				e.healthKill, e.stopKill, e.drainKill = rec.Kill.Health, rec.Kill.AgentStopping, rec.Kill.Draining
			}
		}
		if e.state == "" {
			l.setState(e, mesos.TaskStaging)
		}
		l.tasks[k] = e
		if e.state.Terminal() {
			if l.updates.PendingOf(k) == 0 {
				l.forget(e)
			}
			continue
		}
		if e.ghost || e.info.Executor != nil {
			continue // an executor's task: attachExecutorTasks
		}
		if isDocker(e.info) {
			l.adoptContainer(e)
			adopted++
			if e.killed {
				l.a.killProc(e, e.killGrace)
			}
			continue
		}
		spec := runner.Spec{ID: runnerID(k), ExitFile: exitFileOf(st, k), Cgroup: r.Task.Cgroup, MemMB: e.mem}
		if spawned != nil {
			e.proc = runner.Proc{PID: spawned.PID, StartTime: spawned.StartTime}
		}
		// Without a recorded process the agent stopped mid-launch: the
		// wrapper (if any) saw its release pipe close and gave up; adopting
		// a zero Proc reports that and removes a leftover cgroup.
		l.a.runner.Adopt(spec, e.proc)
		adopted++
		if e.killed {
			l.a.runner.Kill(spec.ID, e.killGrace)
		}
	}
	l.attachExecutorTasks()
	l.a.log.Info("recovered from checkpoint", "agent_id", l.agentID, "tasks", len(l.tasks), "adopted_processes", adopted,
		"pending_updates", l.updates.Pending())
	l.sweepSecretFiles()
	return nil
}

// sweepSecretFiles removes the secret files of tasks the agent does not
// run: those of tasks that ended while no agent ran.
func (l *loop) sweepSecretFiles() {
	live := map[update.Key]bool{}
	for k, e := range l.tasks {
		if !e.ghost && !e.state.Terminal() {
			live[k] = true
		}
	}
	n, err := l.a.secrets.sweep(live)
	if err != nil {
		l.a.log.Error("removing secret files of ended tasks", "err", err)
	}
	if n > 0 {
		l.a.log.Info("removed secret files of ended tasks", "tasks", n)
	}
}

// gcSandboxes removes sandboxes older than SandboxMaxAge that belong to no
// known task, in the background.
func (l *loop) gcSandboxes(ctx context.Context) {
	live := map[string]bool{}
	for _, e := range l.tasks {
		if e.sandbox != "" {
			live[e.sandbox] = true
		}
	}
	for _, ex := range l.executors {
		live[ex.sandbox] = true
	}
	root, maxAge := l.a.store.SandboxRoot(), l.a.cfg.SandboxMaxAge
	l.bg.Go(func() {
		removed, err := removeOldSandboxes(ctx, root, live, time.Now().Add(-maxAge))
		if err != nil {
			l.a.log.Warn("sandbox garbage collection", "err", err)
		}
		if removed > 0 {
			l.a.log.Info("removed old sandboxes", "count", removed)
		}
	})
}

// removeOldSandboxes deletes root/<fid>/<tid> directories modified before
// cutoff and not in live, then empty framework directories.
func removeOldSandboxes(ctx context.Context, root string, live map[string]bool, cutoff time.Time) (int, error) {
	fws, err := os.ReadDir(root)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", root, err)
	}
	removed := 0
	for _, fw := range fws {
		fwDir := filepath.Join(root, fw.Name())
		ts, err := os.ReadDir(fwDir)
		if err != nil {
			continue
		}
		for _, t := range ts {
			if ctx.Err() != nil {
				return removed, ctx.Err()
			}
			dir := filepath.Join(fwDir, t.Name())
			fi, err := t.Info()
			if err != nil || live[dir] || fi.ModTime().After(cutoff) {
				continue
			}
			if err := os.RemoveAll(dir); err == nil {
				removed++
			}
		}
		os.Remove(fwDir) // only succeeds when empty
	}
	return removed, nil
}

// --- launching (runs in worker goroutines, no loop state) ---

type launchJob struct {
	key        update.Key
	checkpoint checkpoint.Task
	info       *mesos.TaskInfo
	// user names who the task runs as (task.User); env is its
	// environment's input but for the user, known once it is looked up,
	// and for the secrets' values, fetched then.
	user string
	env  task.EnvInput
	// secrets are the stored secrets the task references.
	secrets []string
	// spec lacks Env and User, filled in by doLaunch.
	spec runner.Spec
	// logs are the limits of the task's stdout and stderr.
	logs                      [2]logrotate.Limits
	starting, running, failed mesos.TaskStatus
}

type launchResult struct {
	proc    runner.Proc
	updates []agentproto.StatusUpdate
	// secrets are the task's resolved SECRET variables (not its files).
	secrets *task.Resolved
}

// doLaunch looks up the task's user, fetches the values of the secrets
// the task references, checkpoints the task, writes TASK_STARTING, makes
// the sandbox and the secret files, fetches the command's URIs into the
// sandbox (a failure is TASK_FAILED naming the URI), spawns the process and writes
// TASK_RUNNING (or TASK_FAILED). A user the task cannot run as, or a
// secret it cannot have, fails it at once: its checkpoint holds only
// TASK_FAILED and nothing, not even its sandbox, is made. The secrets'
// values go to the process's environment and its secret files
// (secretFiles) and nowhere else.
func (a *Agent) doLaunch(ctx context.Context, j launchJob) launchResult {
	k := j.key
	upd := func(st mesos.TaskStatus) agentproto.StatusUpdate {
		return agentproto.StatusUpdate{FrameworkID: k.FrameworkID, Status: st}
	}
	fail := func(res launchResult, err error) launchResult {
		a.log.Warn("launching task failed", "framework", k.FrameworkID, "task", k.TaskID, "err", err)
		j.failed.Message = "Failed to launch the command: " + err.Error()
		u := upd(j.failed)
		if aerr := a.store.Append(k.FrameworkID, k.TaskID, checkpoint.Record{Update: &u}); aerr != nil {
			a.log.Error("checkpointing status update", "task", k.TaskID, "err", aerr)
		}
		res.updates = append(res.updates, u)
		return res
	}
	// notStarted fails the task before anything of it exists.
	notStarted := func(reason, msg string) launchResult {
		j.failed.Reason, j.failed.Message = reason, msg
		failed := upd(j.failed)
		if cerr := a.store.CreateTask(j.checkpoint, checkpoint.Record{Update: &failed}); cerr != nil {
			a.log.Error("checkpointing status update", "task", k.TaskID, "err", cerr)
		}
		return launchResult{updates: []agentproto.StatusUpdate{failed}}
	}
	var res launchResult
	u, err := a.runAs(j.user)
	if err != nil {
		a.log.Warn("not launching task: cannot run it as its user", "framework", k.FrameworkID, "task", k.TaskID, "user", j.user, "err", err)
		return notStarted(mesos.ReasonExecutorTerminated, err.Error())
	}
	env, owner := j.env, os.Geteuid()
	if u != nil {
		env.User, env.Home, owner = u.Name, u.Home, int(u.UID)
	}
	secrets, err := a.taskSecrets(ctx, j)
	if err != nil {
		a.log.Warn("not launching task: cannot give it its secrets", "framework", k.FrameworkID, "task", k.TaskID, "err", err)
		return notStarted(mesos.ReasonContainerLaunchFailed, err.Error())
	}
	env.Secrets = secrets.Env
	j.spec.Env, j.spec.User = task.Env(j.info, env), u
	docker := isDocker(j.info)
	starting := upd(j.starting)
	if err := a.store.CreateTask(j.checkpoint, checkpoint.Record{Update: &starting}); err != nil {
		return fail(res, err)
	}
	res.updates = append(res.updates, starting)
	if err := makeSandbox(j.spec.Dir, owner); err != nil {
		return fail(res, fmt.Errorf("creating sandbox: %w", err))
	}
	if err := makeOutputFiles(j.spec.Dir, owner); err != nil {
		return fail(res, fmt.Errorf("creating stdout and stderr: %w", err))
	}
	if len(secrets.Files) > 0 {
		gid := os.Getegid()
		if u != nil {
			gid = int(u.GID)
		}
		if err := a.secrets.write(k, j.spec.Dir, owner, gid, secrets.Files); err != nil {
			a.removeSecretFiles(k)
			return fail(res, fmt.Errorf("writing secret files: %w", err))
		}
	}
	if uris := j.info.Command.URIs; len(uris) > 0 {
		var o *fetcher.Owner
		if u != nil {
			o = &fetcher.Owner{UID: int(u.UID), GID: int(u.GID), Groups: u.Groups}
		}
		if err := a.fetcher.Fetch(ctx, j.spec.Dir, uris, o); err != nil {
			a.removeSecretFiles(k)
			// As Mesos reports a failed fetch: the agent's, not the
			// executor's, and REASON_CONTAINER_LAUNCH_FAILED.
			j.failed.Source = mesos.SourceAgent
			return fail(res, err)
		}
	}
	var proc runner.Proc
	if docker {
		err = a.startContainer(ctx, j, j.spec.Env, u)
	} else {
		proc, err = a.runner.Start(j.spec)
	}
	if err != nil {
		a.removeSecretFiles(k)
		return fail(res, err)
	}
	res.proc = proc
	secrets.Files = nil
	res.secrets = &secrets
	running := upd(j.running)
	recs := []checkpoint.Record{{Update: &running}}
	if proc.PID > 0 {
		// A container has no process of the agent's to record: it is
		// found again by name (a pid 0 would name the agent's own group).
		recs = append([]checkpoint.Record{{Spawned: &checkpoint.Spawned{PID: proc.PID, StartTime: proc.StartTime}}}, recs...)
	}
	if err := a.store.Append(k.FrameworkID, k.TaskID, recs...); err != nil {
		a.log.Error("checkpointing spawned task", "task", k.TaskID, "err", err)
	}
	res.updates = append(res.updates, running)
	return res
}

// taskSecrets returns the values of all of the task's secrets: the
// stored ones fetched from the master, the inline ones from the task.
// The error names the secret and the reason, never a value.
func (a *Agent) taskSecrets(ctx context.Context, j launchJob) (task.Resolved, error) {
	var stored map[string][]byte
	if len(j.secrets) > 0 {
		var err error
		if stored, err = a.fetchSecrets(ctx, j.key, j.secrets); err != nil {
			return task.Resolved{}, err
		}
	}
	return task.Resolve(j.info, stored, false)
}

// removeSecretFiles removes task k's secret files, logging a failure.
func (a *Agent) removeSecretFiles(k update.Key) {
	if err := a.secrets.remove(k); err != nil {
		a.log.Error("removing a task's secret files", "framework", k.FrameworkID, "task", k.TaskID, "err", err)
	}
}

// launchUser is who task ti of a framework fw runs as on the agent
// (task.User), but for a DOCKER task only a user its command names.
func launchUser(ti *mesos.TaskInfo, fw *mesos.FrameworkInfo) string {
	if isDocker(ti) {
		return dockerTaskUser(ti)
	}
	return task.User(ti, fw)
}

// runAs resolves the user a task runs as: nil, the agent's own user,
// without Config.SwitchUser or when the task names no user. The error,
// meant for the framework, names the user when it does not exist or the
// agent cannot switch to it.
func (a *Agent) runAs(name string) (*runner.User, error) {
	if !a.cfg.SwitchUser || name == "" {
		return nil, nil
	}
	u, err := runner.LookupUser(name)
	if err != nil {
		return nil, err
	}
	if err := a.runner.CanRunAs(u); err != nil {
		return nil, err
	}
	return u, nil
}

// makeOutputFiles creates the sandbox's stdout and stderr, empty and
// owned by uid, unless they exist: they are there from the moment the
// task is reported running, before its loggers (or its shell) open them,
// so that reading them never answers "no such file". An existing name
// that is not a regular file is refused (O_NOFOLLOW).
func makeOutputFiles(dir string, uid int) error {
	own := uid != os.Geteuid() // the agent's own files need no chown
	for _, name := range []string{"stdout", "stderr"} {
		// Bare system calls: an *os.File would also try the network
		// poller and set a finalizer, for a file closed at once.
		fd, err := unix.Open(filepath.Join(dir, name), unix.O_WRONLY|unix.O_CREAT|unix.O_APPEND|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return &fs.PathError{Op: "open", Path: filepath.Join(dir, name), Err: err}
		}
		if own {
			err = unix.Fchown(fd, uid, -1)
		}
		if cerr := unix.Close(fd); err == nil {
			err = cerr
		}
		if err != nil && !errors.Is(err, fs.ErrPermission) {
			return err
		}
	}
	return nil
}

// makeSandbox creates dir, the sandbox of a task running as uid. A
// directory left there by an earlier task with the same id is kept (the
// new output is appended to the old) only when uid owns it; another
// owner's is removed first, so that nothing its user left behind, such as
// a symlink named stdout, is ever opened as this task's user.
func makeSandbox(dir string, uid int) error {
	err := os.Mkdir(dir, 0o755)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return checkpoint.MkdirLeaf(dir)
	case !errors.Is(err, fs.ErrExist):
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.IsDir() && int64(st.Uid) == int64(uid) {
		return nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing an earlier task's sandbox of another owner: %w", err)
	}
	// MkdirLeaf: the sandbox GC may remove the framework's directory
	// once it is empty, as it now may be.
	return checkpoint.MkdirLeaf(dir)
}
