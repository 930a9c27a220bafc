package plan

import "time"

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
// task is to be killed.
//
// A success makes the task alive and clears the failure count. A failure
// while within GracePeriod of startedAt, of a task that was never healthy, is
// recorded in LastFailure and LastFailureCause but not counted: the state
// stays unknown. Any other failure is counted and makes the task not alive;
// kill is true once MaxConsecutiveFailures consecutive failures are counted
// (and stays true for further failures), never when it is 0.
func (h Health) Observe(hc HealthCheck, startedAt, now time.Time, ok bool, cause string) (next Health, kill bool) {
	if ok {
		h.Alive, h.Known, h.ConsecutiveFailures = true, true, 0
		if h.FirstSuccess.IsZero() {
			h.FirstSuccess = now
		}
		h.LastSuccess = now
		return h, false
	}
	h.LastFailure, h.LastFailureCause = now, cause
	if h.FirstSuccess.IsZero() && now.Before(startedAt.Add(hc.GracePeriod)) {
		return h, false
	}
	h.Alive, h.Known = false, true
	h.ConsecutiveFailures++
	return h, hc.MaxConsecutiveFailures > 0 && h.ConsecutiveFailures >= hc.MaxConsecutiveFailures
}
