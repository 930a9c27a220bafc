package agent

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"time"

	"corral/kernel/agent/docker"
	"corral/kernel/agent/logrotate"
	"corral/kernel/agent/runner"
	"corral/kernel/agent/task"
	"corral/kernel/agent/update"
	"corral/kernel/mesos"
)

// isDocker reports whether a task runs in a DOCKER container.
func isDocker(ti *mesos.TaskInfo) bool {
	return ti != nil && ti.Container != nil && ti.Container.Type == mesos.ContainerDocker
}

// errNoDocker fails a DOCKER task on an agent without the docker
// containerizer.
var errNoDocker = errors.New("this agent does not run DOCKER containers: it was started without docker in --containerizers")

// containerName is the name of task k's Docker container.
func (a *Agent) containerName(k update.Key) string {
	return docker.ContainerName(agentKey(a.store.WorkDir()), k.FrameworkID, k.TaskID)
}

// logStateOf is where the copy of task k's container output records how
// far it got, in the task's checkpoint directory.
func (a *Agent) logStateOf(k update.Key) string {
	return filepath.Join(a.store.TaskDir(k.FrameworkID, k.TaskID), "docker-logs")
}

// dockerSpec is the container of a DOCKER task: its environment is the
// task's (env), without the agent's PATH and HOME unless the task sets
// them (the image has its own); it runs as u when the task's command
// names a user, else as the image's user.
func (a *Agent) dockerSpec(k update.Key, ti *mesos.TaskInfo, env []string, u *runner.User, sandbox string, cpus, mem float64) docker.Spec {
	out := docker.ContainerEnv(env, ownVars(ti.Command))
	user := ""
	if u != nil && ti.Command != nil && ti.Command.User != "" {
		user = fmt.Sprintf("%d:%d", u.UID, u.GID)
	}
	cpuLimit, memLimit := a.limits(ti)
	return docker.Spec{ID: runnerID(k), Name: a.containerName(k), FrameworkID: k.FrameworkID, TaskID: k.TaskID,
		Container: ti.Container, Command: ti.Command, Env: out, Sandbox: sandbox, User: user, CPUs: cpus, MemMB: mem,
		CPULimit: cpuLimit, MemLimitMB: memLimit}
}

// ownVars are the names of the variables a command's environment sets.
func ownVars(c *mesos.CommandInfo) map[string]bool {
	own := map[string]bool{}
	if c != nil && c.Environment != nil {
		for _, v := range c.Environment.Variables {
			own[v.Name] = true
		}
	}
	return own
}

// containerExec is a command health check's probe.Target.Exec for a
// DOCKER task: the check runs inside the task's container, with the
// container's view of the environment.
func (a *Agent) containerExec(k update.Key, ti *mesos.TaskInfo) func(ctx context.Context, argv, env []string) (int, error) {
	own := ownVars(ti.Command)
	if ti.HealthCheck != nil {
		for name := range ownVars(ti.HealthCheck.Command) {
			own[name] = true
		}
	}
	name := a.containerName(k)
	return func(ctx context.Context, argv, env []string) (int, error) {
		if a.docker == nil {
			return -1, errNoDocker
		}
		return a.docker.Exec(ctx, name, argv, docker.ContainerEnv(env, own))
	}
}

// killProc signals task e's process or container, SIGKILL after grace.
func (a *Agent) killProc(e *entry, grace time.Duration) error {
	if isDocker(e.info) {
		if a.docker == nil {
			return runner.ErrUnknown
		}
		return a.docker.Kill(runnerID(e.key), grace)
	}
	return a.runner.Kill(runnerID(e.key), grace)
}

// dockerExits is where the docker containerizer reports containers'
// ends; nil (never ready) without it.
func (a *Agent) dockerExits() <-chan runner.Exit {
	if a.docker == nil {
		return nil
	}
	return a.docker.Exits()
}

// removeOrphanContainers removes the agent's containers that belong to
// no task it runs (those of tasks an agent killed without their
// checkpoint, or launched by a lost agent run), in the background.
func (l *loop) removeOrphanContainers(ctx context.Context) {
	if l.a.docker == nil {
		return
	}
	live := map[string]bool{}
	for k, e := range l.tasks {
		if !e.ghost && isDocker(e.info) {
			live[l.a.containerName(k)] = true
		}
	}
	for ek, ex := range l.executors {
		if ex.info.Container != nil {
			live[l.a.containerName(ek.runKey())] = true
		}
	}
	d, log := l.a.docker, l.a.log
	l.bg.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		n, err := d.RemoveOrphans(ctx, live)
		if err != nil {
			log.Error("removing orphan containers", "err", err)
		}
		if n > 0 {
			log.Info("removed orphan containers", "containers", n)
		}
	})
}

// startContainer is doLaunch's start of a DOCKER task.
func (a *Agent) startContainer(ctx context.Context, j launchJob, env []string, u *runner.User) error {
	if a.docker == nil {
		return errNoDocker
	}
	s := a.dockerSpec(j.key, j.info, env, u, j.spec.Dir, j.spec.CPUs, j.spec.MemMB)
	s.Stdout, s.Stderr = j.logs[0], j.logs[1]
	return a.docker.Start(ctx, s, a.logStateOf(j.key))
}

// adoptContainer is recover's adoption of a DOCKER task's container.
func (l *loop) adoptContainer(e *entry) {
	if l.a.docker == nil {
		l.a.log.Error("a task runs in a Docker container but the agent now runs without the docker containerizer; "+
			"its end cannot be watched", "framework", e.key.FrameworkID, "task", e.key.TaskID)
		return
	}
	var logs [2]logrotate.Limits
	if e.info != nil {
		out, errs, _ := task.LogLimits(e.info, task.LogLimit{MaxSize: l.a.cfg.TaskLogMaxSize, MaxFiles: l.a.cfg.TaskLogMaxFiles})
		logs = [2]logrotate.Limits{logrotate.Limits(out), logrotate.Limits(errs)}
	}
	l.a.docker.Adopt(runnerID(e.key), l.a.containerName(e.key), e.sandbox, l.a.logStateOf(e.key), logs[0], logs[1])
}

// dockerTaskUser is the user a DOCKER task's container runs as on the
// agent's side: only a user its command names (the framework's user
// does not apply: the image has its own).
func dockerTaskUser(ti *mesos.TaskInfo) string {
	if ti.Command != nil {
		return ti.Command.User
	}
	return ""
}

// limits are a task's cpu and memory (MB) limits above its requests as
// its cgroup or container gets them (0: the request, +Inf: none): its own
// (task.MaxLimits), and, for a task that gives no cpu limit, none unless
// CgroupsEnableCFS caps it at its request.
func (a *Agent) limits(ti *mesos.TaskInfo) (cpus, memMB float64) {
	cpus, memMB = task.MaxLimits(ti)
	if cpus == 0 {
		cpus = a.defaultCPULimit()
	}
	return cpus, memMB
}

// defaultCPULimit is the cpu limit of what gives none (a task, an
// executor): the request (0) with CgroupsEnableCFS, else none (+Inf).
func (a *Agent) defaultCPULimit() float64 {
	if a.cfg.CgroupsEnableCFS {
		return 0
	}
	return math.Inf(1)
}
