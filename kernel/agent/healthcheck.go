package agent

import (
	"context"
	"corral/kernel/agent/runner"
	"os"
	"syscall"
	"time"

	"corral/kernel/agent/health"
	"corral/kernel/agent/health/probe"
	"corral/kernel/agent/task"
	"corral/kernel/agent/update"
	"corral/kernel/mesos"
)

// checker is the loop's record of a task's running health check. The
// loop owns it; its goroutine only reads check, a copy made before it
// started, and uses the pointer to name itself in results.
type checker struct {
	check   health.Check
	tracker *health.Tracker
	cancel  context.CancelFunc
}

// startHealth starts checking e's health: the first probe the check's
// delay after start, then one every interval after the previous probe
// ends, until stopHealth or the end of ctx (the loop's). start also begins
// the grace period, and status is the health to start from. A task without
// a valid check is left alone.
func (l *loop) startHealth(ctx context.Context, e *entry, start time.Time, status health.Status) {
	if e.health != nil || e.info == nil || e.info.HealthCheck == nil {
		return
	}
	check, err := health.Parse(e.info.HealthCheck)
	if err != nil {
		// Validated at launch; a checkpoint from an older agent may differ.
		l.a.log.Warn("not running an invalid health check", "framework", e.key.FrameworkID, "task", e.key.TaskID, "err", err)
		return
	}
	in := task.EnvInput{FrameworkID: e.key.FrameworkID, AgentID: l.agentID, Sandbox: e.sandbox,
		AgentEndpoint: l.a.endpointHostPort(), Hostname: l.a.cfg.Hostname}
	var checkSecrets task.Secrets
	if e.secrets != nil {
		in.Secrets, checkSecrets = e.secrets.Env, e.secrets.Check
	}
	// A command check of a task recovered from the checkpoint asks the
	// master for its secrets again, in its goroutine.
	refetch := check.Command != nil && e.secrets == nil && task.HasSecretVars(e.info)
	target := probe.Target{Dir: e.sandbox, Env: task.CheckEnv(e.info, in, checkSecrets)}
	if isDocker(e.info) {
		target.Exec = l.a.containerExec(e.key, e.info)
	} else if name := task.User(e.info, e.framework); l.a.cfg.SwitchUser && os.Geteuid() == 0 && name != "" {
		// A command check runs as its task does, never as the agent.
		u, err := runner.LookupUser(name)
		if err != nil {
			l.a.log.Warn("not running the health check: its task's user is gone", "framework", e.key.FrameworkID, "task", e.key.TaskID, "err", err)
			return
		}
		target.Credential = &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: u.Groups}
	}
	hctx, cancel := context.WithCancel(ctx)
	c := &checker{check: check, tracker: health.NewTracker(check, start, status), cancel: cancel}
	e.health = c
	k, info := e.key, e.info
	first := start.Add(check.Delay)
	l.bg.Go(func() {
		if refetch {
			target.Env = l.a.recoveredCheckEnv(hctx, k, info, in)
		}
		l.a.checkHealth(hctx, k, c, check, target, first)
	})
}

// recoveredCheckEnv returns the environment of the command health check
// of task k, recovered from the checkpoint, with the values of its
// stored secrets fetched from the master again. Inline values are not in
// the checkpoint, and a secret the master does not give is logged and
// left out: the check runs without it rather than not at all.
func (a *Agent) recoveredCheckEnv(ctx context.Context, k update.Key, ti *mesos.TaskInfo, in task.EnvInput) []string {
	var stored map[string][]byte
	if refs := ti.SecretRefs(); len(refs) > 0 {
		var err error
		if stored, err = a.fetchSecrets(ctx, k, refs); err != nil && ctx.Err() == nil {
			a.log.Warn("running the health check without its secrets", "framework", k.FrameworkID, "task", k.TaskID, "err", err)
		}
	}
	r, _ := task.Resolve(ti, stored, true)
	in.Secrets = r.Env
	return task.CheckEnv(ti, in, r.Check)
}

// stopHealth stops e's health check, if any; a probe in flight is
// abandoned (a command's process group is killed) and its result dropped.
func (l *loop) stopHealth(e *entry) {
	if e.health != nil {
		e.health.cancel()
		e.health = nil
	}
}

// resumeHealthChecks starts the checks of the running tasks recovered from
// the checkpoint. Their health starts from the last one reported, so an
// agent restart alone reports no change; the delay and the grace period
// still count from the task's launch (a delay already over means a probe
// at once).
func (l *loop) resumeHealthChecks(ctx context.Context) {
	for _, e := range l.tasks {
		if !e.ghost && !e.killed && e.state == mesos.TaskRunning {
			l.startHealth(ctx, e, e.startedAt, health.StatusOf(e.status.Healthy))
		}
	}
}

// healthResult applies the result of one probe of c, e's checker: a change
// of health becomes a reliable TASK_RUNNING update, and too many failures
// kill the task.
func (l *loop) healthResult(k update.Key, c *checker, r health.Result) {
	e := l.tasks[k]
	if e == nil || e.health != c || e.killed || e.state != mesos.TaskRunning {
		return // stale: the check was stopped after this probe began
	}
	d := c.tracker.Observe(r, time.Now())
	if d.Changed {
		msg := "Health check passed"
		if d.Status == health.Unhealthy {
			msg = "Health check failed"
		}
		if r.Detail != "" {
			msg += ": " + r.Detail
		}
		st := l.newStatus(k, mesos.TaskRunning, mesos.ReasonTaskHealthCheckStatusUpdated, msg, mesos.SourceExecutor)
		st.Healthy = d.Status.Healthy()
		l.emit(e, st)
		l.a.log.Info("task health changed", "framework", k.FrameworkID, "task", k.TaskID, "health", d.Status, "detail", r.Detail)
	}
	if d.Kill {
		l.a.log.Warn("killing unhealthy task", "framework", k.FrameworkID, "task", k.TaskID, "reason", d.Message)
		l.stop(e, 0, killCause{health: d.Message})
	}
}

// checkHealth is the goroutine of one task's health check: it waits until
// first, then probes and reports each result to the loop, waiting interval
// between the end of a probe and the next, until ctx ends. Probes of
// different tasks run in their own goroutines, so a slow one delays no
// other task's.
func (a *Agent) checkHealth(ctx context.Context, k update.Key, c *checker, check health.Check, t probe.Target, first time.Time) {
	timer := time.NewTimer(time.Until(first))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		r := a.prober.Probe(ctx, check, t)
		if ctx.Err() != nil {
			return
		}
		if !a.send(ctx, func(_ context.Context, l *loop) { l.healthResult(k, c, r) }) {
			return
		}
		timer.Reset(check.Interval)
	}
}
