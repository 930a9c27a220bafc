// Package run decides what becomes of a job run when one of its attempts
// ends: success, failure, a kill corral asked for, or another attempt
// after a delay. It is pure: the scheduler feeds it what the kernel
// reported and applies the verdict.
//
//	attempt ends ──▶ TASK_FINISHED ─────────────────────────────▶ Succeeded
//	             ├─▶ killed because corral asked (stop, REPLACE) ─▶ Killed
//	             ├─▶ killed by its agent going away ─────────────▶ Retry (free)
//	             └─▶ any failure (a timeout kill included) ──┬──▶ Retry after Backoff
//	                                                          └──▶ Failed (no attempts left)
package run

import (
	"regexp"
	"strconv"
	"time"

	"corral/kernel/mesos"
)

// MaxBackoff caps the doubling delay between attempts, unless the job's
// own base delay is longer.
const MaxBackoff = time.Hour

// Backoff is the delay before the next attempt after failed attempts have
// failed (failed ≥ 1): base, doubled for each further failure, capped at
// MaxBackoff or base, whichever is longer. It never overflows.
func Backoff(base time.Duration, failed int) time.Duration {
	if base <= 0 {
		return 0
	}
	limit := max(base, MaxBackoff)
	d := base
	for i := 1; i < failed && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// Ending is how one attempt of a run ended, as the scheduler learned it.
type Ending struct {
	State   mesos.TaskState // a terminal state, or TASK_UNKNOWN
	Reason  string          // the status reason, if any
	Message string
	// Kill is why corral killed the attempt ("" if it did not ask):
	// a stop through the API, a REPLACE, a timeout.
	Kill string
	// FailAfterKill makes corral's kill count as a failure (a timeout).
	FailAfterKill bool
}

// Outcome is what a run becomes.
type Outcome int

// Outcomes.
const (
	Succeeded Outcome = iota
	Failed
	Killed
	Retry
)

// String names o.
func (o Outcome) String() string {
	switch o {
	case Succeeded:
		return "succeeded"
	case Failed:
		return "failed"
	case Killed:
		return "killed"
	case Retry:
		return "retry"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Verdict is the fate of a run after an attempt ended.
type Verdict struct {
	Outcome Outcome
	// Reason is what the run records: why it failed, was killed or is
	// retried.
	Reason string
	// Exit is the attempt's exit status when the message names one.
	Exit *int
	// Delay is how long a retry waits.
	Delay time.Duration
	// Free says a retry does not use up one of the run's attempts: the
	// attempt ended for reasons that were not the job's (its agent went
	// away).
	Free bool
}

var exitRe = regexp.MustCompile(`exited with status (\d+)`)

// ExitStatus is the exit status a task status message names, if any.
func ExitStatus(msg string) *int {
	if m := exitRe.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &n
	}
	return nil
}

// Judge decides the fate of a run whose attempt (0-based) of maxAttempts
// ended as e; base is the job's retry delay.
func Judge(e Ending, attempt, maxAttempts int, base time.Duration) Verdict {
	exit := ExitStatus(e.Message)
	asked := e.Kill != "" && !e.FailAfterKill
	var reason string
	switch e.State {
	case mesos.TaskFinished:
		return Verdict{Outcome: Succeeded, Exit: exit}
	case mesos.TaskKilled:
		switch {
		case asked:
			return Verdict{Outcome: Killed, Reason: e.Kill}
		case e.Kill == "" && e.Reason == mesos.ReasonAgentDraining:
			return Verdict{Outcome: Retry, Free: true, Reason: "attempt " + strconv.Itoa(attempt+1) + " was killed by its agent going away (" + e.Message + "); retrying"}
		}
		reason = e.Message
		if e.Kill != "" {
			reason = e.Kill
		}
	default: // FAILED, ERROR, LOST, DROPPED, GONE, GONE_BY_OPERATOR, UNKNOWN
		if asked && e.State != mesos.TaskFailed {
			return Verdict{Outcome: Killed, Reason: e.Kill}
		}
		reason = string(e.State) + ": " + e.Message
		if e.Reason != "" {
			reason += " (" + e.Reason + ")"
		}
	}
	v := Fail(reason, attempt, maxAttempts, base)
	v.Exit = exit
	return v
}

// Fail is the verdict on an attempt (0-based) of maxAttempts that failed
// for reason: another attempt after Backoff while attempts remain, else
// the run fails.
func Fail(reason string, attempt, maxAttempts int, base time.Duration) Verdict {
	if attempt+1 >= maxAttempts {
		return Verdict{Outcome: Failed, Reason: reason}
	}
	d := Backoff(base, attempt+1)
	return Verdict{Outcome: Retry, Delay: d,
		Reason: "attempt " + strconv.Itoa(attempt+1) + " failed: " + reason + "; retrying in " + d.String()}
}
