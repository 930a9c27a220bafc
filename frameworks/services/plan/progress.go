package plan

import (
	"fmt"
	"strings"
	"time"

	"corral/frameworks/internal/place"
)

// Policy is how one app's part of a deployment may fail: its
// upgradeStrategy's progressDeadlineSeconds and the framework's limit on
// consecutive failures of new instances.
type Policy struct {
	// ProgressDeadline fails the deployment once it has made no progress
	// for this long. 0: never (Marathon's behaviour).
	ProgressDeadline time.Duration
	// FailureLimit fails the deployment once this many new instances in a
	// row failed (crashed, or were killed for failing health checks)
	// without one becoming ready in between. 0: never.
	FailureLimit int
}

// Failure is one new instance that failed during a deployment.
type Failure struct {
	TaskID, Host string
	At           time.Time
	// Why is the failure as the caller words it: "TASK_FAILED: exited
	// with status 1", "killed after 3 failed health checks: …".
	Why string
}

// Progress is one app's part of a deployment as the watch over it sees
// it: when it last moved, and the failures of its new instances since.
// It is a value: Observe and Failed return the next one, sharing nothing
// the caller could see change.
//
// Progress means that the app got closer to its target: a new instance
// (of the target's ConfigVersion) became Ready for the first time, or an
// instance the deployment removes (an old one, a surplus one) terminated.
// It is Nomad's progress_deadline clock, which a new healthy allocation
// resets; instance ends count too, so that a scale-down whose kills take
// their grace period is not mistaken for a stalled one.
type Progress struct {
	// Since is when the app last made progress, or when watching began.
	Since time.Time
	// Failures are the consecutive failures of new instances since the
	// last progress, oldest first; Failed keeps the last FailureLimit of
	// them at most (see Failed).
	Failures []Failure

	// seen holds the new instances seen ready; it is replaced, never
	// written, once shared.
	seen map[string]bool
	// left is how many instances the deployment still had to remove at
	// the last Observe; -1 before the first.
	left int
}

// StartProgress begins watching at now, the deployment's start (or the
// time a restarted framework found it running).
func StartProgress(now time.Time) Progress {
	return Progress{Since: now, left: -1}
}

// Observe folds the app's current instances into p at now: a new instance
// Ready for target for the first time, or fewer instances left to remove
// than at the last observation, is progress, which moves Since to now and
// forgets the failures. Inactive unreachable instances and terminal ones
// are not counted, as in Decide.
func (p Progress) Observe(target Spec, instances []Instance, now time.Time) Progress {
	left := 0
	kept := 0
	var fresh []string
	for _, in := range instances {
		if in.State.Terminal() || Inactive(target, in, now) {
			continue
		}
		if in.ConfigVersion != target.ConfigVersion || going(in) {
			left++
			continue
		}
		kept++
		if Ready(target, in) && !p.seen[in.TaskID] {
			fresh = append(fresh, in.TaskID)
		}
	}
	// New instances beyond the target are removed too.
	left += max(0, kept-max(target.Instances, 0))
	moved := len(fresh) > 0 || (p.left >= 0 && left < p.left)
	next := p
	next.left = left
	if len(fresh) > 0 {
		seen := make(map[string]bool, len(p.seen)+len(fresh))
		for id := range p.seen {
			seen[id] = true
		}
		for _, id := range fresh {
			seen[id] = true
		}
		next.seen = seen
	}
	if moved {
		next.Since = now
		next.Failures = nil
	}
	return next
}

// Failed records a failure of a new instance. Only the last limit
// failures are kept (all of them when limit ≤ 0), enough to judge and to
// name them.
func (p Progress) Failed(f Failure, limit int) Progress {
	fs := make([]Failure, 0, len(p.Failures)+1)
	fs = append(fs, p.Failures...)
	fs = append(fs, f)
	if limit > 0 && len(fs) > limit {
		fs = fs[len(fs)-limit:]
	}
	next := p
	next.Failures = fs
	return next
}

// FailureKind says why a deployment failed.
type FailureKind int

// Failure kinds.
const (
	// NotFailed: the deployment may go on.
	NotFailed FailureKind = iota
	// CrashLoop: Policy.FailureLimit new instances failed in a row.
	CrashLoop
	// NoProgress: no progress for Policy.ProgressDeadline.
	NoProgress
)

// String names the kind as the API shows it.
func (k FailureKind) String() string {
	switch k {
	case CrashLoop:
		return "crashLoop"
	case NoProgress:
		return "progressDeadline"
	}
	return "none"
}

// Stall is what keeps an app from its target when its deployment is
// judged, as the caller sees it; Judge words it in the failure's reason.
type Stall struct {
	// App and Action name the app and what the deployment does to it
	// (Marathon's action name); Step and Steps place it in the plan.
	App, Action string
	Step, Steps int
	// Wanted is the app's instances; Ready how many new ones are ready.
	Wanted, Ready int
	// Unready are the new instances that are not ready, each with why.
	Unready []Unready
	// Unlaunched is how many wanted instances are not launched yet;
	// Placement says, per agent, why its last offer did not fit
	// ("agent h1: insufficient mem: needs 128, offer has 64").
	Unlaunched int
	Placement  []string
	// Waiting is what else the planner waits for (Decision.Waiting).
	Waiting string
}

// Unready is one new instance that is not ready, and why: "staging",
// "unhealthy: HTTP 503 from …", "not ready: the readiness check answered
// 503".
type Unready struct {
	TaskID, Host, Why string
}

// Verdict is Judge's answer: Kind is NotFailed, or why the deployment
// failed with Reason in words naming the step, the instances and why.
type Verdict struct {
	Kind   FailureKind
	Reason string
}

// Failed reports whether the verdict fails the deployment.
func (v Verdict) Failed() bool { return v.Kind != NotFailed }

// maxNamed bounds the instances and agents a reason names one by one.
const maxNamed = 5

// Judge decides at now whether the app's part of a deployment has failed
// under pol: first by its failures (CrashLoop, at FailureLimit in a row),
// then by its deadline (NoProgress, once ProgressDeadline has passed since
// p.Since). st says what the app waits for, for the reason.
func (p Progress) Judge(pol Policy, st Stall, now time.Time) Verdict {
	where := fmt.Sprintf("step %d of %d, %s %s", st.Step, st.Steps, st.Action, st.App)
	switch {
	case pol.FailureLimit > 0 && len(p.Failures) >= pol.FailureLimit:
		var b strings.Builder
		fmt.Fprintf(&b, "%d new instances failed in a row (crash loop; the limit is %d): %s: ", len(p.Failures), pol.FailureLimit, where)
		fs := p.Failures
		if len(fs) > maxNamed {
			fs = fs[len(fs)-maxNamed:]
		}
		for i, f := range fs {
			if i > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "%s on %s: %s", f.TaskID, orUnknown(f.Host), f.Why)
		}
		return Verdict{Kind: CrashLoop, Reason: b.String()}
	case pol.ProgressDeadline > 0 && now.Sub(p.Since) >= pol.ProgressDeadline:
		return Verdict{Kind: NoProgress, Reason: fmt.Sprintf("no progress for %v (progressDeadlineSeconds %g): %s: %s",
			pol.ProgressDeadline, pol.ProgressDeadline.Seconds(), where, st.describe())}
	}
	return Verdict{}
}

// describe words a stall: how many new instances are ready, which are
// not and why, what is not launched and why offers did not fit.
func (st Stall) describe() string {
	parts := []string{fmt.Sprintf("%d of %d new instances ready", st.Ready, st.Wanted)}
	for i, u := range st.Unready {
		if i == maxNamed {
			parts = append(parts, "and "+place.Plural(len(st.Unready)-maxNamed, "more unready instance"))
			break
		}
		parts = append(parts, fmt.Sprintf("%s on %s %s", u.TaskID, orUnknown(u.Host), u.Why))
	}
	if st.Unlaunched > 0 {
		s := place.Plural(st.Unlaunched, "instance") + " not launched"
		if len(st.Placement) > 0 {
			shown := st.Placement
			if len(shown) > maxNamed {
				shown = shown[:maxNamed]
			}
			s += ", no offer fits: " + strings.Join(shown, "; ")
			if n := len(st.Placement) - len(shown); n > 0 {
				s += fmt.Sprintf("; and %s", place.Plural(n, "more agent"))
			}
		}
		parts = append(parts, s)
	}
	if st.Waiting != "" {
		parts = append(parts, st.Waiting)
	}
	return strings.Join(parts, "; ")
}

func orUnknown(host string) string {
	if host == "" {
		return "an unknown host"
	}
	return host
}
