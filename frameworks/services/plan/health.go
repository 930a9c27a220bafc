package plan

import (
	"time"

	"corral/internal/healthcheck"
)

// HealthCheck holds the timing of one framework-run health check (HTTP,
// HTTPS or TCP). The caller probes every Interval with Timeout and folds each
// result into the task's Health with Observe.
type HealthCheck struct {
	GracePeriod, Interval, Timeout time.Duration
	// MaxConsecutiveFailures is how many counted failures in a row get the
	// task killed; 0 never kills.
	MaxConsecutiveFailures int
}

// Health is the state of one health check of one task, as shown in a
// task's healthCheckResults. The zero value is "not known yet". It is a
// value: Observe returns the next state.
type Health struct {
	// Alive is the verdict of the last counted probe.
	Alive bool
	// ConsecutiveFailures counts counted failures since the last success.
	ConsecutiveFailures int
	FirstSuccess        time.Time
	LastSuccess         time.Time
	LastFailure         time.Time
	LastFailureCause    string
	// Known is false until a probe counted: Alive means nothing before.
	Known bool
}

// Observe folds one probe result (ok, or a failure with its cause) taken at
// now into h, for a task that started at startedAt, and reports whether the
// task is to be killed. It runs the shared health state machine
// (healthcheck): a success makes the task alive and clears the failure
// count; a failure within GracePeriod of startedAt, of a task that was never
// healthy, is recorded in LastFailure and LastFailureCause but not counted;
// any other failure is counted and makes the task not alive. kill is true
// once MaxConsecutiveFailures consecutive failures are counted (and stays
// true for further failures), never when it is 0.
func (h Health) Observe(hc HealthCheck, startedAt, now time.Time, ok bool, cause string) (next Health, kill bool) {
	st := healthcheck.State{Failures: h.ConsecutiveFailures, FirstSuccess: h.FirstSuccess, LastSuccess: h.LastSuccess,
		LastFailure: h.LastFailure, LastFailureCause: h.LastFailureCause}
	switch {
	case !h.Known:
		st.Status = healthcheck.Unknown
	case h.Alive:
		st.Status = healthcheck.Healthy
	default:
		st.Status = healthcheck.Unhealthy
	}
	st, d := st.Observe(healthcheck.Policy{Grace: hc.GracePeriod, MaxFailures: hc.MaxConsecutiveFailures}, startedAt, now, ok, cause)
	next = Health{Alive: st.Status == healthcheck.Healthy, Known: st.Status != healthcheck.Unknown,
		ConsecutiveFailures: st.Failures, FirstSuccess: st.FirstSuccess, LastSuccess: st.LastSuccess,
		LastFailure: st.LastFailure, LastFailureCause: st.LastFailureCause}
	return next, d.Kill
}
