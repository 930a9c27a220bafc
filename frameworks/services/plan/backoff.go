package plan

import (
	"math"
	"time"

	"corral/kernel/mesos"
)

// Backoff tracks the launch delay of one app after failed instances. It is a
// value: every method returns a new one, and the zero value means "no
// failures, no delay".
type Backoff struct {
	Failures    int
	LastFailure time.Time
}

// Delay is Backoff × BackoffFactor^(Failures-1), capped by MaxLaunchDelay
// (no cap when MaxLaunchDelay is 0), and 0 without failures. A factor
// below 1 is taken as 1.
func (b Backoff) Delay(s Spec) time.Duration {
	if b.Failures <= 0 || s.Backoff <= 0 {
		return 0
	}
	limit := s.MaxLaunchDelay
	if limit <= 0 {
		limit = math.MaxInt64
	}
	factor := max(s.BackoffFactor, 1)
	d := float64(s.Backoff) * math.Pow(factor, float64(b.Failures-1))
	if math.IsNaN(d) || d >= float64(limit) {
		return limit
	}
	return time.Duration(math.Round(d))
}

// ReadyAt is when the next launch may happen: LastFailure + Delay. Without
// failures it is the zero time, before any now.
func (b Backoff) ReadyAt(s Spec) time.Time {
	if b.Failures <= 0 {
		return time.Time{}
	}
	return b.LastFailure.Add(b.Delay(s))
}

// Failed records one more failure at now.
func (b Backoff) Failed(now time.Time) Backoff {
	return Backoff{Failures: max(b.Failures, 0) + 1, LastFailure: now}
}

// Reset forgets all failures: after a new app version, DELETE
// /v2/queue/{id}/delay, or a healthy run.
func (b Backoff) Reset() Backoff { return Backoff{} }

// Expire resets b when the app has been quiet long enough: no failure for
// Delay + MaxLaunchDelay since the last one (Marathon's rule; Delay + Delay
// when MaxLaunchDelay is 0). Otherwise it returns b unchanged.
func (b Backoff) Expire(s Spec, now time.Time) Backoff {
	quiet := s.MaxLaunchDelay
	if quiet <= 0 {
		quiet = b.Delay(s)
	}
	if b.Failures > 0 && !now.Before(b.ReadyAt(s).Add(quiet)) {
		return Backoff{}
	}
	return b
}

// CountsAsFailure reports whether a task reaching state st should increase
// the app's backoff. TASK_FAILED, TASK_FINISHED (a long-running app must not
// exit), TASK_ERROR, TASK_LOST, TASK_DROPPED and TASK_GONE count;
// TASK_KILLED counts unless the kill was ours (scaling, upgrade, deletion).
// Kills because of failed health checks should be passed with killedByUs
// false: they feed the backoff like failures. A kill by an agent going
// away (reason REASON_AGENT_DRAINING: a drain, or an agent that kills its
// tasks as it stops), a kill learnt from reconciliation (the master's
// answer says REASON_RECONCILIATION, not why it was killed, e.g. by an
// agent stopping while the framework was away), TASK_GONE_BY_OPERATOR and
// non-terminal states do not count.
func CountsAsFailure(st mesos.TaskState, reason string, killedByUs bool) bool {
	switch st {
	case mesos.TaskFailed, mesos.TaskFinished, mesos.TaskError, mesos.TaskLost, mesos.TaskDropped, mesos.TaskGone:
		return true
	case mesos.TaskKilled:
		return !killedByUs && reason != mesos.ReasonAgentDraining && reason != mesos.ReasonReconciliation
	}
	return false
}
