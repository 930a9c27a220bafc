package run

import (
	"testing"
	"time"

	"corral/internal/purity"
	"corral/kernel/mesos"
)

// TestPure keeps the package a pure function of its inputs.
func TestPure(t *testing.T) {
	purity.Check(t, "corral/kernel/mesos", "regexp", "strconv", "time")
}

func TestBackoff(t *testing.T) {
	const s = time.Second
	for _, tc := range []struct {
		name   string
		base   time.Duration
		failed int
		want   time.Duration
	}{
		{"first retry waits the base", 10 * s, 1, 10 * s},
		{"then doubles", 10 * s, 2, 20 * s},
		{"and doubles again", 10 * s, 4, 80 * s},
		{"capped at an hour", 10 * s, 10, time.Hour},
		{"no overflow after many attempts", 10 * s, 1000, time.Hour},
		{"a base above the cap is kept", 2 * time.Hour, 5, 2 * time.Hour},
		{"no base, no wait", 0, 3, 0},
	} {
		if got := Backoff(tc.base, tc.failed); got != tc.want {
			t.Errorf("%s: Backoff(%v, %d) = %v; want %v", tc.name, tc.base, tc.failed, got, tc.want)
		}
	}
	// Strictly capped and never negative, whatever the count.
	for n := 1; n < 5000; n++ {
		if d := Backoff(10*time.Second, n); d <= 0 || d > MaxBackoff {
			t.Fatalf("Backoff(10s, %d) = %v; want in (0, %v]", n, d, MaxBackoff)
		}
	}
}

func TestJudge(t *testing.T) {
	const base = 10 * time.Second
	exit3 := 3
	for _, tc := range []struct {
		name              string
		e                 Ending
		attempt, attempts int
		want              Verdict
	}{
		{"finished", Ending{State: mesos.TaskFinished, Message: "Command exited with status 0"}, 0, 1,
			Verdict{Outcome: Succeeded, Exit: new(int)}},
		{"failed, retries left", Ending{State: mesos.TaskFailed, Message: "Command exited with status 3"}, 0, 3,
			Verdict{Outcome: Retry, Delay: base, Exit: &exit3, Reason: "attempt 1 failed: TASK_FAILED: Command exited with status 3; retrying in 10s"}},
		{"failed, second retry doubles", Ending{State: mesos.TaskFailed, Message: "Command exited with status 3", Reason: mesos.ReasonCommandExecutorFailed}, 1, 3,
			Verdict{Outcome: Retry, Delay: 2 * base, Exit: &exit3, Reason: "attempt 2 failed: TASK_FAILED: Command exited with status 3 (REASON_COMMAND_EXECUTOR_FAILED); retrying in 20s"}},
		{"failed, none left", Ending{State: mesos.TaskFailed, Message: "Command exited with status 3"}, 2, 3,
			Verdict{Outcome: Failed, Exit: &exit3, Reason: "TASK_FAILED: Command exited with status 3"}},
		{"killed as asked", Ending{State: mesos.TaskKilled, Message: "Command was killed", Kill: "stopped through the API"}, 0, 3,
			Verdict{Outcome: Killed, Reason: "stopped through the API"}},
		{"lost while being killed as asked", Ending{State: mesos.TaskLost, Message: "agent gone", Kill: "replaced by a newer run"}, 0, 3,
			Verdict{Outcome: Killed, Reason: "replaced by a newer run"}},
		{"failed while being killed as asked still fails", Ending{State: mesos.TaskFailed, Message: "Command exited with status 3", Kill: "stopped"}, 0, 1,
			Verdict{Outcome: Failed, Exit: &exit3, Reason: "TASK_FAILED: Command exited with status 3"}},
		{"killed for a timeout is a failure", Ending{State: mesos.TaskKilled, Message: "Command was killed", Kill: "timed out after 5s", FailAfterKill: true}, 0, 1,
			Verdict{Outcome: Failed, Reason: "timed out after 5s"}},
		{"killed by someone else is a failure", Ending{State: mesos.TaskKilled, Message: "Command was killed"}, 0, 1,
			Verdict{Outcome: Failed, Reason: "Command was killed"}},
		{"killed by its agent going away: a free retry", Ending{State: mesos.TaskKilled, Reason: mesos.ReasonAgentDraining, Message: "The agent stopped and killed its tasks"}, 0, 1,
			Verdict{Outcome: Retry, Free: true, Reason: "attempt 1 was killed by its agent going away (The agent stopped and killed its tasks); retrying"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Judge(tc.e, tc.attempt, tc.attempts, base)
			if got.Outcome != tc.want.Outcome || got.Reason != tc.want.Reason || got.Delay != tc.want.Delay || got.Free != tc.want.Free ||
				(got.Exit == nil) != (tc.want.Exit == nil) || (got.Exit != nil && *got.Exit != *tc.want.Exit) {
				t.Errorf("Judge(%+v, attempt %d of %d) = %+v (exit %v); want %+v (exit %v)", tc.e, tc.attempt, tc.attempts, got, got.Exit, tc.want, tc.want.Exit)
			}
		})
	}
}
