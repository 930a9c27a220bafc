// Package healthcheck is the one health state machine of corral: it folds
// the results of a task's health probes into the task's health and says
// when the task must be killed. The agent runs it for the checks it runs
// (COMMAND, and HTTP/TCP checks of any framework), services for the HTTP
// and TCP checks it runs itself. It is pure: the caller probes and passes
// the time.
//
//	           success                    failure, counted
//	Unknown ────────────▶ Healthy ◀───▶ Unhealthy ── MaxFailures in a row ──▶ kill
//	   │ failure within the grace period: ignored
//	   └ failure after it: counted
package healthcheck

import (
	"fmt"
	"strconv"
	"time"
)

// Status is a task's health as far as its checks tell.
type Status int

// Health statuses.
const (
	Unknown Status = iota
	Healthy
	Unhealthy
)

// String names s.
func (s Status) String() string {
	switch s {
	case Unknown:
		return "unknown"
	case Healthy:
		return "healthy"
	case Unhealthy:
		return "unhealthy"
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// StatusOf maps the healthy field of a TaskStatus to a Status.
func StatusOf(healthy *bool) Status {
	switch {
	case healthy == nil:
		return Unknown
	case *healthy:
		return Healthy
	}
	return Unhealthy
}

// Healthy returns s as the healthy field of a TaskStatus: nil for Unknown.
func (s Status) Healthy() *bool {
	if s == Unknown {
		return nil
	}
	b := s == Healthy
	return &b
}

// Policy is how results count.
type Policy struct {
	// Grace is how long after the task started failures do not count, as
	// long as no probe has succeeded: the task may still be starting up.
	Grace time.Duration
	// MaxFailures is how many counted failures in a row get the task
	// killed; 0 never kills.
	MaxFailures int
}

// State is one task's health under one check. It is a value: Observe
// returns the next one. The zero value is a task of which nothing is
// known yet.
type State struct {
	Status Status
	// Failures counts the counted failures since the last success.
	Failures     int
	FirstSuccess time.Time
	LastSuccess  time.Time
	LastFailure  time.Time
	// LastFailureCause is the detail of the last failure, counted or not.
	LastFailureCause string
	// Last is the detail of the last result, success or failure.
	Last string
	// Killed is set once Observe decided a kill; later results are
	// ignored.
	Killed bool
}

// Decision is what one Observe asks of the caller.
type Decision struct {
	// Status is the status after Observe.
	Status Status
	// Changed: Status differs from before Observe; report it.
	Changed bool
	// Ignored: the result was not counted (a failure within the grace
	// period, or any result after a kill).
	Ignored bool
	// Kill: the task must be killed, at most once per State; Message says
	// why, for the framework.
	Kill    bool
	Message string
}

// Observe folds one probe result taken at now (ok, or a failure with its
// detail) into s, for a task that started at start.
//
// A success makes the task healthy and clears the failure count. A failure
// while the status is Unknown and within p.Grace of start is recorded
// (LastFailure, LastFailureCause) but not counted. Any other failure is
// counted and makes the task unhealthy; the p.MaxFailures-th in a row
// decides the kill.
func (s State) Observe(p Policy, start, now time.Time, ok bool, detail string) (State, Decision) {
	if s.Killed {
		return s, Decision{Status: s.Status, Ignored: true}
	}
	s.Last = detail
	prev := s.Status
	if ok {
		s.Status, s.Failures = Healthy, 0
		if s.FirstSuccess.IsZero() {
			s.FirstSuccess = now
		}
		s.LastSuccess = now
		return s, Decision{Status: Healthy, Changed: prev != Healthy}
	}
	s.LastFailure, s.LastFailureCause = now, detail
	if prev == Unknown && now.Sub(start) < p.Grace {
		return s, Decision{Status: prev, Ignored: true}
	}
	s.Status = Unhealthy
	s.Failures++
	d := Decision{Status: Unhealthy, Changed: prev != Unhealthy}
	if p.MaxFailures > 0 && s.Failures >= p.MaxFailures {
		s.Killed = true
		d.Kill, d.Message = true, KillMessage(s.Failures, detail)
	}
	return s, d
}

// KillMessage is the message of the terminal update of a task killed after
// n consecutive failed checks, the last with the given detail.
func KillMessage(n int, detail string) string {
	checks := "checks"
	if n == 1 {
		checks = "check"
	}
	msg := fmt.Sprintf("Task killed after %d consecutive failed health %s", n, checks)
	if detail != "" {
		msg += ": " + detail
	}
	return msg
}
