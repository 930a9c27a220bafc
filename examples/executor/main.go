// Command executor is an example custom executor on corral's executor SDK
// (package corral/kernel/executor). A framework ships it as an executable
// URI in its ExecutorInfo; the agent fetches and starts it, and it runs
// each task's data (TaskInfo.data) as a shell command in the executor's
// sandbox: TASK_RUNNING when the command starts, then TASK_FINISHED or
// TASK_FAILED by its exit status. KILL stops a task's command (SIGTERM,
// then SIGKILL after the kill policy's grace period) and reports
// TASK_KILLED; SHUTDOWN does that for every task and exits. A framework
// message is answered with "echo: " and the message.
//
// Every task's command gets MESOS_TASK_ID (and the executor's own
// environment). The executor reads its settings from the environment the
// agent gives it (executor.FromEnv).
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"corral/kernel/executor"
	"corral/kernel/mesos"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := executor.FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "executor:", err)
		os.Exit(2)
	}
	cfg.Logger = log
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	h := &shell{log: log, tasks: map[string]*exec.Cmd{}, killed: map[string]bool{}}
	if err := executor.Run(ctx, cfg, h); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("executor ended", "err", err)
		os.Exit(1)
	}
}

// shell runs each task's data as a shell command.
type shell struct {
	log    *slog.Logger
	mu     sync.Mutex
	tasks  map[string]*exec.Cmd
	killed map[string]bool
	wg     sync.WaitGroup
}

func (s *shell) Subscribed(ctx context.Context, d *executor.Driver, info mesos.ExecutorSubscribed) {
	s.log.Info("subscribed", "executor", info.ExecutorInfo.ExecutorID.Value, "agent", info.AgentInfo.Hostname)
}

func (s *shell) Launch(ctx context.Context, d *executor.Driver, task mesos.TaskInfo) {
	id := task.TaskID.Value
	script, err := base64.StdEncoding.DecodeString(task.Data)
	if err != nil {
		_ = d.Update(ctx, id, mesos.TaskError, "task data is not base64: "+err.Error(), nil)
		return
	}
	cmd := exec.Command("/bin/sh", "-c", string(script))
	cmd.Env = append(os.Environ(), "MESOS_TASK_ID="+id)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s.mu.Lock()
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		_ = d.Update(ctx, id, mesos.TaskFailed, "starting the command: "+err.Error(), nil)
		return
	}
	s.tasks[id] = cmd
	s.mu.Unlock()
	_ = d.Update(ctx, id, mesos.TaskRunning, "", nil)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := cmd.Wait()
		s.mu.Lock()
		delete(s.tasks, id)
		killed := s.killed[id]
		s.mu.Unlock()
		switch {
		case killed:
			_ = d.Update(context.WithoutCancel(ctx), id, mesos.TaskKilled, "killed", nil)
		case err == nil:
			_ = d.Update(context.WithoutCancel(ctx), id, mesos.TaskFinished, "command exited with status 0", nil)
		default:
			_ = d.Update(context.WithoutCancel(ctx), id, mesos.TaskFailed, "command: "+err.Error(), nil)
		}
	}()
}

func (s *shell) Kill(ctx context.Context, d *executor.Driver, taskID mesos.ID, policy *mesos.KillPolicy) {
	grace := 3 * time.Second
	if policy != nil && policy.GracePeriod != nil {
		grace = time.Duration(policy.GracePeriod.Nanoseconds)
	}
	s.kill(taskID.Value, grace)
}

func (s *shell) kill(id string, grace time.Duration) {
	s.mu.Lock()
	cmd := s.tasks[id]
	s.killed[id] = true
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	time.AfterFunc(grace, func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
}

func (s *shell) Message(ctx context.Context, d *executor.Driver, data []byte) {
	if err := d.SendMessage(ctx, append([]byte("echo: "), data...)); err != nil {
		s.log.Warn("answering a message", "err", err)
	}
}

func (s *shell) Shutdown(ctx context.Context, d *executor.Driver) {
	s.mu.Lock()
	ids := make([]string, 0, len(s.tasks))
	for id := range s.tasks {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	grace := d.Config().ShutdownGracePeriod / 2
	for _, id := range ids {
		s.kill(id, grace)
	}
	s.wg.Wait() // every task's terminal update has been sent
}
