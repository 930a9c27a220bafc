package plan

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"corral/frameworks/internal/place"
	"corral/kernel/mesos"
)

// Kill selections: which instances go first on a scale-down, or when an
// instance that was replaced while unreachable comes back.
const (
	YoungestFirst = "YOUNGEST_FIRST" // latest StagedAt first (the default)
	OldestFirst   = "OLDEST_FIRST"   // earliest StagedAt first
)

// Spec is what the planner needs of one app version. It is a plain value
// built by the caller from the app definition; the planner never modifies it.
type Spec struct {
	AppID string
	// ConfigVersion identifies the configuration instances must run. It
	// changes on configuration changes and restarts, not on scaling.
	ConfigVersion string
	// Instances is the wanted number of instances (0 deletes the app's tasks).
	Instances int

	CPUs, Mem, Disk, GPUs float64
	// Ports has one entry per port definition; 0 means any free port of
	// the offer.
	Ports []uint64
	// RequirePorts makes the non-zero Ports the host ports to take.
	RequirePorts bool
	Constraints  []Constraint
	// Docker says instances run in a DOCKER container (place.Demand).
	Docker bool

	// MinimumHealthCapacity (0..1) and MaximumOverCapacity (≥ 0) are the
	// upgrade strategy; see Bounds.
	MinimumHealthCapacity, MaximumOverCapacity float64
	// HealthChecked makes an instance of this version ready only once
	// healthy; otherwise it is ready once running.
	HealthChecked bool
	// ReadinessChecked makes an instance of this version ready only once
	// its readiness check has passed (Instance.ReadinessPassed), on top of
	// HealthChecked: old instances are killed, and a deployment
	// progresses, only as new ones pass it.
	ReadinessChecked bool
	// KillSelection is YoungestFirst (also when empty) or OldestFirst.
	KillSelection string

	// Backoff is the launch delay after the first failure, multiplied by
	// BackoffFactor for each further one and capped by MaxLaunchDelay.
	Backoff, MaxLaunchDelay time.Duration
	BackoffFactor           float64

	// UnreachableInactiveAfter is how long an unreachable instance still
	// counts; after that it is inactive and gets replaced. Negative: never
	// (the unreachable strategy is disabled).
	UnreachableInactiveAfter time.Duration
	// UnreachableExpungeAfter is how long an unreachable instance is
	// remembered; after that it is expunged (forgotten, and killed should it
	// come back). Negative: never.
	UnreachableExpungeAfter time.Duration
}

// Validate reports the first problem with s that would make planning
// meaningless: negative instances or resources, a capacity outside its range,
// an unknown kill selection, an invalid constraint, a backoff factor below 1.
func (s Spec) Validate() error {
	switch {
	case s.Instances < 0:
		return errors.New("instances must not be negative")
	case s.CPUs < 0 || s.Mem < 0 || s.Disk < 0 || s.GPUs < 0:
		return errors.New("cpus, mem, disk and gpus must not be negative")
	case !(s.MinimumHealthCapacity >= 0 && s.MinimumHealthCapacity <= 1):
		return errors.New("minimumHealthCapacity must be between 0 and 1")
	case !(s.MaximumOverCapacity >= 0 && s.MaximumOverCapacity <= 1):
		return errors.New("maximumOverCapacity must be between 0 and 1")
	case s.KillSelection != "" && s.KillSelection != YoungestFirst && s.KillSelection != OldestFirst:
		return fmt.Errorf("unknown killSelection %q (want YOUNGEST_FIRST or OLDEST_FIRST)", s.KillSelection)
	case s.Backoff < 0 || s.MaxLaunchDelay < 0:
		return errors.New("backoff and maxLaunchDelay must not be negative")
	case s.BackoffFactor != 0 && !(s.BackoffFactor >= 1):
		return errors.New("backoffFactor must be at least 1")
	case s.UnreachableInactiveAfter >= 0 && s.UnreachableExpungeAfter >= 0 && s.UnreachableExpungeAfter < s.UnreachableInactiveAfter:
		return errors.New("unreachable expungeAfter must not be shorter than inactiveAfter")
	}
	return place.ValidConstraints(s.Constraints)
}

// Instance is one task of an app as the scheduler knows it. Terminal ones are
// not passed in (Decide ignores them if they are).
type Instance struct {
	TaskID, AppID, ConfigVersion string
	AgentID, Hostname            string
	// Attributes are the agent's attributes in text form.
	Attributes map[string]string
	Ports      []uint64
	// State is the last known task state: TASK_STAGING, TASK_STARTING,
	// TASK_RUNNING, TASK_KILLING, TASK_UNREACHABLE, ...
	State mesos.TaskState
	// Healthy is the health check verdict; nil when unknown or unchecked.
	Healthy *bool
	// ReadinessPassed is set once the instance's readiness check passed;
	// it matters only for a ReadinessChecked spec's own instances.
	ReadinessPassed                       bool
	StagedAt, StartedAt, UnreachableSince time.Time
	// Killing is set once a kill was requested.
	Killing bool
	// Draining is set while the instance's agent is being drained or
	// taken down for maintenance: the instance is migrated (see Decide).
	Draining bool
}

// Decision is what to do now for one app. It is a fresh value owned by the
// caller.
type Decision struct {
	// Launch is how many new instances of the target ConfigVersion are
	// wanted now; the caller places them on offers (see Place) and applies
	// the launch backoff.
	Launch int
	// Kill lists task ids to kill now; never ones already Killing.
	Kill []string
	// Expunge lists unreachable instances past UnreachableExpungeAfter: the
	// caller forgets them (and kills them should they come back).
	Expunge []string
	// Done means the target is reached: exactly Instances ready instances of
	// the target ConfigVersion and no others (inactive unreachable ones
	// aside, they are only waiting to be expunged). Expunge may be non-empty
	// when Done: forgetting is bookkeeping, not a step of the deployment.
	Done bool
	// Waiting explains, when not Done and nothing can move (no launch, kill
	// or expunge), what the app waits for.
	Waiting string
	// Notes are remarks that hold even while things move, such as the
	// one-instance surge that breaks the minimumHealthCapacity 1 /
	// maximumOverCapacity 0 deadlock.
	Notes []string
	// Migrating is how many instances are being moved off draining
	// agents (see Decide).
	Migrating int
	// MinReady and MaxTotal are the bounds this decision respected: at least
	// MinReady ready instances are kept (unless fewer were ready already) and
	// launching never takes the instances present above MaxTotal.
	MinReady, MaxTotal int
}

// Bounds returns the rolling-upgrade bounds of s: minReady =
// ceil(MinimumHealthCapacity × Instances) ready instances to keep, and maxTotal
// = floor((1 + MaximumOverCapacity) × Instances) instances at most, old and
// new together, including ones being started or killed. Capacities outside
// their range are clamped. Decide may add one to maxTotal; see Decision.Notes.
func Bounds(s Spec) (minReady, maxTotal int) {
	n := max(s.Instances, 0)
	minHC := clamp(s.MinimumHealthCapacity, 0, 1)
	over := clamp(s.MaximumOverCapacity, 0, math.MaxFloat64)
	// The epsilons keep 0.6×5 = 3.0000000000000004 from becoming 4.
	minReady = int(math.Ceil(minHC*float64(n) - 1e-9))
	total := math.Floor((1+over)*float64(n) + 1e-9)
	maxTotal = n
	if total > float64(n) && total < math.MaxInt32 {
		maxTotal = int(total)
	} else if total >= math.MaxInt32 {
		maxTotal = math.MaxInt32
	}
	return min(max(minReady, 0), n), maxTotal
}

func clamp(v, lo, hi float64) float64 {
	if math.IsNaN(v) || v < lo {
		return lo
	}
	return min(v, hi)
}

// Ready reports whether in counts as a ready (serving) instance for s: it is
// running, no kill was requested, and it is not known to be unhealthy. An
// instance of s's ConfigVersion with s.HealthChecked must moreover be known
// healthy, and with s.ReadinessChecked have passed its readiness check. An
// instance of an older version with unknown health counts as ready,
// because the planner does not know that version's checks; the caller
// marks it unready with Healthy = false. Readiness gates only the new
// version: old instances passed theirs, or had none.
func Ready(s Spec, in Instance) bool {
	if in.State != mesos.TaskRunning || in.Killing {
		return false
	}
	isNew := in.ConfigVersion == s.ConfigVersion
	if isNew && s.ReadinessChecked && !in.ReadinessPassed {
		return false
	}
	if in.Healthy != nil {
		return *in.Healthy
	}
	return !(s.HealthChecked && isNew)
}

// Inactive reports whether an unreachable instance no longer counts at now:
// UnreachableInactiveAfter has passed since UnreachableSince. Reachable
// instances are never inactive. A zero UnreachableSince is taken as now.
func Inactive(s Spec, in Instance, now time.Time) bool {
	return unreachableFor(s.UnreachableInactiveAfter, in, now)
}

// Expired reports whether an unreachable instance is past
// UnreachableExpungeAfter at now and is to be forgotten.
func Expired(s Spec, in Instance, now time.Time) bool {
	return unreachableFor(s.UnreachableExpungeAfter, in, now)
}

func unreachableFor(after time.Duration, in Instance, now time.Time) bool {
	if in.State != mesos.TaskUnreachable || after < 0 {
		return false
	}
	since := in.UnreachableSince
	if since.IsZero() {
		since = now
	}
	return now.Sub(since) >= after
}

// going reports whether in is on its way out.
func going(in Instance) bool { return in.Killing || in.State == mesos.TaskKilling }

// Decide returns what to do now for the app target given its current
// instances. It is a pure function of its arguments.
//
// Instances of target.ConfigVersion are "new", all others "old", and so
// are instances on draining agents whatever their version: they are
// migrated like an upgrade replaces old instances, a replacement launched
// elsewhere first and the draining instance killed only as the ready
// count allows (so never below MinReady ready). Terminal
// instances and ones of another AppID (when AppID is set) are ignored.
// Unreachable instances are present (they count, but are not ready) until
// Inactive; inactive ones count for nothing, so a replacement is launched;
// Expired ones are listed in Expunge. One that returns is an ordinary
// instance again, and any surplus is killed like on a scale-down.
//
// The rules, applied in this order:
//
//  1. Surplus new instances beyond target.Instances are killed, unready
//     ones (unreachable, then starting, then unhealthy) first, then by
//     KillSelection on StagedAt. Ready ones are kept first, so this never
//     lowers the ready count below the target.
//  2. Old instances are killed, unready first, then by KillSelection, as long
//     as the ready count (old and new) stays at or above MinReady.
//  3. New instances are launched up to target.Instances, as long as the
//     instances present (old, new, and those being killed, including the
//     kills of this decision) stay at or below MaxTotal.
//
// When ready old instances must be replaced but MinReady equals MaxTotal (e.g.
// minimumHealthCapacity 1 with maximumOverCapacity 0), neither a kill nor a
// launch would be allowed and the upgrade could never progress. Decide then
// allows one instance over capacity, so new instances replace old ones one
// at a time, and says so in Notes. Keeping the capacity promise is preferred
// to keeping the size promise: a briefly larger app is harmless where a
// smaller one may drop traffic.
func Decide(target Spec, instances []Instance, now time.Time) Decision {
	n := max(target.Instances, 0)
	minReady, maxTotal := Bounds(target)
	var d Decision

	var newer, older []Instance
	var leaving, unreachable int
	var nextInactive time.Time
	for _, in := range instances {
		if in.State.Terminal() || (target.AppID != "" && in.AppID != "" && in.AppID != target.AppID) {
			continue
		}
		if in.State == mesos.TaskUnreachable {
			if Expired(target, in, now) {
				d.Expunge = append(d.Expunge, in.TaskID)
				continue
			}
			if Inactive(target, in, now) {
				continue
			}
		}
		if going(in) {
			leaving++
			continue
		}
		if in.State == mesos.TaskUnreachable {
			unreachable++
			if target.UnreachableInactiveAfter >= 0 && !in.UnreachableSince.IsZero() {
				at := in.UnreachableSince.Add(target.UnreachableInactiveAfter)
				if nextInactive.IsZero() || at.Before(nextInactive) {
					nextInactive = at
				}
			}
		}
		if in.Draining && in.State != mesos.TaskUnreachable {
			d.Migrating++
		}
		if in.ConfigVersion == target.ConfigVersion && (!in.Draining || in.State == mesos.TaskUnreachable) {
			newer = append(newer, in)
		} else {
			older = append(older, in)
		}
	}
	present := len(newer) + len(older) + leaving

	if n > 0 && minReady >= maxTotal && countReady(target, older) > 0 {
		maxTotal++
		d.Notes = append(d.Notes, fmt.Sprintf(
			"upgradeStrategy leaves no room (minimumHealthCapacity %g and maximumOverCapacity %g with %s): allowing 1 instance over capacity to replace old instances one at a time",
			target.MinimumHealthCapacity, target.MaximumOverCapacity, place.Plural(n, "instance")))
	}
	d.MinReady, d.MaxTotal = minReady, maxTotal
	if d.Migrating > 0 {
		d.Notes = append(d.Notes, fmt.Sprintf("migrating %s off draining agents: each is killed once enough replacements elsewhere are ready (minimumHealthCapacity %g keeps %d ready)",
			place.Plural(d.Migrating, "instance"), target.MinimumHealthCapacity, minReady))
	}

	// 1. Surplus new instances.
	byKillOrder(target, newer)
	if len(newer) > n {
		for _, in := range newer[:len(newer)-n] {
			d.Kill = append(d.Kill, in.TaskID)
		}
		newer = newer[len(newer)-n:]
	}
	readyNew := countReady(target, newer)
	ready := readyNew + countReady(target, older)

	// 2. Old instances.
	byKillOrder(target, older)
	keptOld := 0
	for i, in := range older {
		if Ready(target, in) {
			if ready-1 < minReady {
				keptOld = len(older) - i
				break
			}
			ready--
		}
		d.Kill = append(d.Kill, in.TaskID)
	}

	// 3. Launch.
	want := n - len(newer)
	room := maxTotal - present
	d.Launch = max(0, min(want, room))

	d.Done = len(newer) == n && readyNew == n && len(older) == 0 && leaving == 0 && len(d.Kill) == 0
	if d.Done || d.Launch > 0 || len(d.Kill) > 0 || len(d.Expunge) > 0 {
		return d
	}

	var why []string
	if unready := len(newer) - readyNew; unready > 0 {
		state := "running"
		if target.HealthChecked {
			state = "healthy"
		}
		if target.ReadinessChecked {
			state += " and pass the readiness check"
		}
		why = append(why, fmt.Sprintf("waiting for %s to become %s", place.Plural(unready, "new instance"), state))
	}
	if want > 0 && room <= 0 {
		why = append(why, fmt.Sprintf("no room to launch %s: %s present (%d being killed), maximumOverCapacity %g allows %d",
			place.Plural(want, "more instance"), place.Plural(present, "instance"), leaving, target.MaximumOverCapacity, maxTotal))
	}
	if keptOld > 0 {
		why = append(why, fmt.Sprintf("keeping %s until new ones are ready: minimumHealthCapacity %g needs %d ready, %d ready now",
			place.Plural(keptOld, "old instance"), target.MinimumHealthCapacity, minReady, ready))
	}
	if leaving > 0 {
		why = append(why, fmt.Sprintf("waiting for %s being killed to terminate", place.Plural(leaving, "instance")))
	}
	if unreachable > 0 {
		if nextInactive.IsZero() {
			why = append(why, fmt.Sprintf("%s unreachable, not replaced (unreachableStrategy disabled)", place.Plural(unreachable, "instance")))
		} else {
			why = append(why, fmt.Sprintf("%s unreachable, replaced from %s on", place.Plural(unreachable, "instance"), nextInactive.UTC().Format(time.RFC3339)))
		}
	}
	why = append(why, d.Notes...)
	if len(why) == 0 {
		why = append(why, "waiting for instance states to change")
	}
	d.Waiting = strings.Join(why, "; ")
	return d
}

func countReady(s Spec, ins []Instance) int {
	c := 0
	for _, in := range ins {
		if Ready(s, in) {
			c++
		}
	}
	return c
}

// killRank orders instances by how cheap they are to lose: unreachable, then
// not yet running, then running but unhealthy, then ready.
func killRank(s Spec, in Instance) int {
	switch {
	case in.State == mesos.TaskUnreachable:
		return 0
	case in.State != mesos.TaskRunning:
		return 1
	case !Ready(s, in):
		return 2
	}
	return 3
}

// byKillOrder sorts ins so that the first ones are the first to kill.
func byKillOrder(s Spec, ins []Instance) {
	oldestFirst := s.KillSelection == OldestFirst
	sort.SliceStable(ins, func(i, j int) bool {
		a, b := ins[i], ins[j]
		if ra, rb := killRank(s, a), killRank(s, b); ra != rb {
			return ra < rb
		}
		if !a.StagedAt.Equal(b.StagedAt) {
			if oldestFirst {
				return a.StagedAt.Before(b.StagedAt)
			}
			return a.StagedAt.After(b.StagedAt)
		}
		return a.TaskID < b.TaskID
	})
}
