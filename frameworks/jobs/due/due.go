package due

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Policy says what to do when an occurrence comes due while runs of the
// same job are still active.
type Policy string

// The concurrency policies. The empty Policy, and any value not listed
// here, behaves as Allow: the job package validates policies before they
// reach Plan.
const (
	// Allow starts the new run next to the active ones.
	Allow Policy = "ALLOW"
	// Forbid skips the new occurrence and records it as skipped.
	Forbid Policy = "FORBID"
	// Replace starts the new run and asks the caller to stop the active ones.
	Replace Policy = "REPLACE"
)

// String returns the policy's wire name.
func (p Policy) String() string { return string(p) }

// Outcome is the decision Plan makes for one occurrence.
type Outcome string

// The outcomes of an occurrence.
const (
	// Run means the caller starts a run for the occurrence.
	Run Outcome = "RUN"
	// Missed means the occurrence came due while nothing could start it
	// (the framework was down) and it is too old, or superseded by a newer
	// occurrence, to run now. The caller records it and starts nothing.
	Missed Outcome = "MISSED"
	// Skipped means the occurrence was on time but the job's state said
	// not to run it (disabled, or FORBID with an active run). The caller
	// records it and starts nothing.
	Skipped Outcome = "SKIPPED"
)

// String returns the outcome's wire name.
func (o Outcome) String() string { return string(o) }

// DefaultStartingDeadline is the starting deadline Plan uses when
// Input.StartingDeadline is not positive.
const DefaultStartingDeadline = 60 * time.Second

// DefaultMaxMissed is the number of older occurrences Plan lists
// individually when Input.MaxMissed is not positive.
const DefaultMaxMissed = 100

// Input is everything Plan needs to decide one job's window. It is a
// snapshot taken by the caller; Plan does not keep it.
type Input struct {
	// Next is the job's schedule: the first occurrence strictly after t,
	// or false when the schedule has no more occurrences. It must be
	// deterministic and strictly increasing; Plan stops at the first
	// result that is not after the previous one.
	Next func(t time.Time) (time.Time, bool)
	// From is the lower, exclusive bound of the window: the newest
	// occurrence already recorded, or the job's creation time.
	From time.Time
	// Now is the upper, inclusive bound of the window.
	Now time.Time
	// StartingDeadline is how late the newest occurrence may be and still
	// run; not positive means DefaultStartingDeadline.
	StartingDeadline time.Duration
	// Policy is the job's concurrency policy.
	Policy Policy
	// ActiveRuns counts the job's runs that are queued, starting or
	// running now.
	ActiveRuns int
	// Disabled says the job is disabled: every occurrence is skipped.
	Disabled bool
	// MaxMissed bounds how many occurrences older than the newest are
	// listed individually; not positive means DefaultMaxMissed. Older
	// ones still count: they are summarised in the Reason of the oldest
	// occurrence listed.
	MaxMissed int
}

// Occurrence is the decision for one occurrence of a window.
type Occurrence struct {
	// At is the occurrence's scheduled time, as the schedule returned it.
	At time.Time
	// Outcome is what the caller does with it.
	Outcome Outcome
	// Reason explains a MISSED or SKIPPED outcome, or marks a RUN as a
	// catch-up; it is empty for a RUN that is simply on time.
	Reason string
	// ReplaceActive asks the caller to stop the job's active runs before
	// starting this one (policy REPLACE with active runs).
	ReplaceActive bool
	// Late is Now minus At.
	Late time.Duration
}

// Plan decides every occurrence in the window (in.From, in.Now], oldest
// first, each exactly once. At most one occurrence is RUN: the newest, when
// it is no later than the starting deadline, the job is enabled and the
// concurrency policy lets it start. Older occurrences are MISSED (SKIPPED
// when the job is disabled). When more than in.MaxMissed occurrences are
// older than the newest, only the newest in.MaxMissed of them are listed
// and the Reason of the oldest listed one counts the rest.
//
// Plan returns nil when the window holds no occurrence, when in.Next is nil
// or when in.Now is not after in.From. It is pure and safe to call
// concurrently.
func Plan(in Input) []Occurrence {
	if in.Next == nil || !in.Now.After(in.From) {
		return nil
	}
	deadline := in.StartingDeadline
	if deadline <= 0 {
		deadline = DefaultStartingDeadline
	}
	maxMissed := in.MaxMissed
	if maxMissed <= 0 {
		maxMissed = DefaultMaxMissed
	}

	// Keep only the newest maxMissed+1 occurrences in a ring; count and
	// remember the bounds of the ones that fall out of it.
	ring := make([]time.Time, 0, min(maxMissed+1, 64))
	start := 0 // index of the oldest kept when the ring is full
	var dropped int
	var firstDropped, lastDropped time.Time
	prev := in.From
	for {
		t, ok := in.Next(prev)
		if !ok || !t.After(prev) || t.After(in.Now) {
			break
		}
		prev = t
		if len(ring) < maxMissed+1 {
			ring = append(ring, t)
			continue
		}
		if dropped == 0 {
			firstDropped = ring[start]
		}
		lastDropped = ring[start]
		dropped++
		ring[start] = t
		start = (start + 1) % len(ring)
	}
	if len(ring) == 0 {
		return nil
	}
	times := slices.Concat(ring[start:], ring[:start])

	out := make([]Occurrence, len(times))
	newest := times[len(times)-1]
	for i, t := range times[:len(times)-1] {
		o := Occurrence{At: t, Outcome: Missed, Late: in.Now.Sub(t)}
		if in.Disabled {
			o.Outcome, o.Reason = Skipped, "job is disabled"
		} else {
			o.Reason = fmt.Sprintf("missed: framework was not running at %s; only the newest occurrence (%s) may be caught up",
				clock(t, in.Now), clock(newest, in.Now))
		}
		out[i] = o
	}
	out[len(out)-1] = decideNewest(in, newest, deadline, len(times)-1+dropped)

	if dropped > 0 {
		verb := "missed"
		if in.Disabled {
			verb = "skipped"
		}
		if dropped == 1 {
			out[0].Reason += fmt.Sprintf(" (1 earlier occurrence at %s was also %s and is not listed)",
				clock(firstDropped, in.Now), verb)
		} else {
			out[0].Reason += fmt.Sprintf(" (%d earlier occurrences from %s to %s were also %s and are not listed)",
				dropped, clock(firstDropped, in.Now), clock(lastDropped, in.Now), verb)
		}
	}
	return out
}

// decideNewest decides the newest occurrence of a window; older is how
// many older occurrences the window held.
func decideNewest(in Input, at time.Time, deadline time.Duration, older int) Occurrence {
	o := Occurrence{At: at, Late: in.Now.Sub(at)}
	switch {
	case in.Disabled:
		o.Outcome, o.Reason = Skipped, "job is disabled"
	case o.Late > deadline:
		o.Outcome = Missed
		o.Reason = fmt.Sprintf("missed: framework was not running at %s; %s late, startingDeadlineSeconds is %s",
			clock(at, in.Now), o.Late.Round(time.Millisecond), seconds(deadline))
	case in.Policy == Forbid && in.ActiveRuns > 0:
		o.Outcome = Skipped
		o.Reason = "a run is still active (concurrencyPolicy FORBID)"
	default:
		o.Outcome = Run
		o.ReplaceActive = in.Policy == Replace && in.ActiveRuns > 0
		if older > 0 {
			what := "occurrence was"
			if older > 1 {
				what = "occurrences were"
			}
			o.Reason = fmt.Sprintf("catch-up: %s late; %d older %s missed", o.Late.Round(time.Millisecond), older, what)
		}
	}
	return o
}

// NextDue returns the job's next occurrence strictly after after, which is
// when the caller's timer should fire (pass the later of From and Now).
// It returns false when next is nil, when the schedule has ended, or when
// the schedule misbehaves by returning a time that is not after after.
func NextDue(next func(time.Time) (time.Time, bool), after time.Time) (time.Time, bool) {
	if next == nil {
		return time.Time{}, false
	}
	t, ok := next(after)
	if !ok || !t.After(after) {
		return time.Time{}, false
	}
	return t, true
}

// clock formats t in UTC for a reason: the time of day alone when t falls
// on the same UTC day as now, the full date otherwise.
func clock(t, now time.Time) string {
	t, now = t.UTC(), now.UTC()
	y, m, d := t.Date()
	ny, nm, nd := now.Date()
	if y == ny && m == nm && d == nd {
		return t.Format("15:04:05.999Z07:00")
	}
	return t.Format("2006-01-02T15:04:05.999Z07:00")
}

// seconds formats d as a plain number of seconds, "5" or "0.5".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}
