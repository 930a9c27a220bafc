package plan

import (
	"testing"
	"time"

	"corral/kernel/mesos"
)

func TestBackoffDelay(t *testing.T) {
	s := Spec{Backoff: time.Second, BackoffFactor: 2, MaxLaunchDelay: 10 * time.Second}
	want := []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	var b Backoff
	for i, w := range want {
		if b.Failures != i {
			t.Fatalf("Failures = %d; want %d", b.Failures, i)
		}
		if got := b.Delay(s); got != w {
			t.Errorf("Delay(failures=%d) = %v; want %v", i, got, w)
		}
		b = b.Failed(t0.Add(time.Duration(i) * time.Minute))
	}
	if got, want := b.ReadyAt(s), t0.Add(7*time.Minute-time.Minute+10*time.Second); !got.Equal(want) {
		t.Errorf("ReadyAt = %v; want %v", got, want)
	}
	if got := b.Reset(); got != (Backoff{}) || got.Delay(s) != 0 || !got.ReadyAt(s).IsZero() {
		t.Errorf("Reset() = %+v; want zero with no delay", got)
	}

	marathon := Spec{Backoff: time.Second, BackoffFactor: 1.15, MaxLaunchDelay: time.Hour}
	if got := (Backoff{Failures: 3}).Delay(marathon); got != time.Duration(1.15*1.15*float64(time.Second)) {
		t.Errorf("Delay(1.15, 3 failures) = %v; want 1.3225s", got)
	}
	if got := (Backoff{Failures: 10000}).Delay(marathon); got != time.Hour {
		t.Errorf("Delay(10000 failures) = %v; want the cap", got)
	}
	if got := (Backoff{Failures: 10000}).Delay(Spec{Backoff: time.Second, BackoffFactor: 2}); got <= 0 {
		t.Errorf("Delay(uncapped, 10000 failures) = %v; want a huge positive delay", got)
	}
	if got := (Backoff{Failures: 3}).Delay(Spec{Backoff: time.Second, BackoffFactor: 0.5}); got != time.Second {
		t.Errorf("Delay(factor 0.5) = %v; want 1s (factor taken as 1)", got)
	}
	if got := (Backoff{Failures: 3}).Delay(Spec{BackoffFactor: 2, MaxLaunchDelay: time.Hour}); got != 0 {
		t.Errorf("Delay(backoff 0) = %v; want 0", got)
	}
}

func TestBackoffExpire(t *testing.T) {
	s := Spec{Backoff: time.Second, BackoffFactor: 2, MaxLaunchDelay: time.Minute}
	b := Backoff{}.Failed(t0).Failed(t0) // delay 2s
	if got := b.Expire(s, t0.Add(time.Minute)); got != b {
		t.Errorf("Expire(before delay+max) = %+v; want unchanged", got)
	}
	if got := b.Expire(s, t0.Add(time.Minute+2*time.Second)); got != (Backoff{}) {
		t.Errorf("Expire(after delay+max) = %+v; want reset", got)
	}
}

func TestCountsAsFailure(t *testing.T) {
	tests := []struct {
		st     mesos.TaskState
		reason string
		ours   bool
		want   bool
	}{
		{mesos.TaskFailed, "", false, true}, {mesos.TaskFinished, "", false, true}, {mesos.TaskError, "", false, true},
		{mesos.TaskLost, "", false, true}, {mesos.TaskDropped, "", false, true}, {mesos.TaskGone, "", false, true},
		{mesos.TaskFailed, "", true, true},
		{mesos.TaskKilled, "", true, false}, {mesos.TaskKilled, "", false, true},
		{mesos.TaskKilled, mesos.ReasonAgentDraining, false, false},
		// A kill learnt from reconciliation (after a restart) says not
		// why: the task was killed, not failing.
		{mesos.TaskKilled, mesos.ReasonReconciliation, false, false},
		{mesos.TaskFailed, mesos.ReasonReconciliation, false, true},
		{mesos.TaskFailed, mesos.ReasonAgentDraining, false, true},
		{mesos.TaskGoneByOperator, "", false, false}, {mesos.TaskRunning, "", false, false}, {mesos.TaskUnreachable, "", false, false},
	}
	for _, tc := range tests {
		if got := CountsAsFailure(tc.st, tc.reason, tc.ours); got != tc.want {
			t.Errorf("CountsAsFailure(%s, %q, %v) = %v; want %v", tc.st, tc.reason, tc.ours, got, tc.want)
		}
	}
}
