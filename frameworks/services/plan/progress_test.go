package plan

import (
	"strings"
	"testing"
	"time"

	"corral/kernel/mesos"
)

// step is one event of a scripted deployment: at a second after the
// start, the instances as they are (Observe), a failure (Failed), or
// nothing; then Judge, whose verdict must be of kind want (NotFailed
// unless given) with reason a substring of its reason.
type step struct {
	at      int
	observe []Instance
	fail    string // task id of a failed new instance
	want    FailureKind
	reason  string
}

func TestProgressScripts(t *testing.T) {
	v1 := func(id string) Instance { return with(running(id, "v1", 0), func(i *Instance) { i.Healthy = yes() }) }
	staging := func(id string) Instance { return mk(id, "v2", mesos.TaskStaging, 1) }
	unhealthy := func(id string) Instance { return with(running(id, "v2", 1), func(i *Instance) { i.Healthy = no() }) }
	healthy := func(id string) Instance { return with(running(id, "v2", 1), func(i *Instance) { i.Healthy = yes() }) }
	passed := func(in Instance) Instance { return with(in, func(i *Instance) { i.ReadinessPassed = true }) }
	killing := func(in Instance) Instance { return with(in, func(i *Instance) { i.Killing = true }) }
	upgrade := func(s Spec) Spec { s.HealthChecked = true; return s }
	gated := func(s Spec) Spec { s.HealthChecked, s.ReadinessChecked = true, true; return s }
	deadline10 := Policy{ProgressDeadline: 10 * time.Second, FailureLimit: 3}

	tests := []struct {
		name   string
		spec   Spec
		policy Policy
		steps  []step
	}{
		{"nothing ever ready fails at the deadline", upgrade(spec(2, "v2", 1, 1)), deadline10, []step{
			{at: 0, observe: []Instance{v1("a"), v1("b")}},
			{at: 1, observe: []Instance{v1("a"), v1("b"), staging("c"), staging("d")}},
			{at: 5, observe: []Instance{v1("a"), v1("b"), unhealthy("c"), unhealthy("d")}},
			{at: 9, want: NotFailed},
			{at: 10, want: NoProgress, reason: "no progress for 10s (progressDeadlineSeconds 10)"},
		}},
		{"a new instance ready resets the clock", upgrade(spec(2, "v2", 1, 1)), deadline10, []step{
			{at: 0, observe: []Instance{v1("a"), v1("b"), staging("c"), staging("d")}},
			{at: 8, observe: []Instance{v1("a"), v1("b"), healthy("c"), unhealthy("d")}},
			{at: 17, want: NotFailed},
			{at: 18, want: NoProgress},
		}},
		{"an instance ready again is no progress", upgrade(spec(1, "v2", 1, 1)), deadline10, []step{
			{at: 0, observe: []Instance{healthy("c")}},
			{at: 4, observe: []Instance{unhealthy("c")}},
			{at: 6, observe: []Instance{healthy("c")}},
			{at: 9, want: NotFailed},
			{at: 10, want: NoProgress},
		}},
		{"an old instance ending is progress", upgrade(spec(1, "v2", 0, 0)), deadline10, []step{
			{at: 0, observe: []Instance{v1("a"), v1("b")}},
			{at: 3, observe: []Instance{killing(v1("a")), killing(v1("b"))}},
			{at: 12, observe: []Instance{killing(v1("b"))}},
			{at: 21, want: NotFailed},
			{at: 22, want: NoProgress},
		}},
		{"a surplus new instance ending is progress", spec(1, "v2", 1, 1), deadline10, []step{
			{at: 0, observe: []Instance{running("a", "v2", 0), running("b", "v2", 1)}},
			{at: 9, observe: []Instance{running("a", "v2", 0)}},
			{at: 18, want: NotFailed},
		}},
		{"deadline 0 never fails", upgrade(spec(1, "v2", 1, 1)), Policy{}, []step{
			{at: 0, observe: []Instance{unhealthy("c")}},
			{at: 100000, want: NotFailed},
		}},
		{"crash loop fails before the deadline", upgrade(spec(2, "v2", 1, 1)), Policy{ProgressDeadline: time.Hour, FailureLimit: 3}, []step{
			{at: 0, observe: []Instance{v1("a"), v1("b"), staging("c"), staging("d")}},
			{at: 1, fail: "c"},
			{at: 1, fail: "d", want: NotFailed},
			{at: 3, fail: "e", want: CrashLoop, reason: "3 new instances failed in a row (crash loop; the limit is 3): step 1 of 1, RestartApplication /app: c on h-c: exited; d on h-d: exited; e on h-e: exited"},
		}},
		{"a ready instance between failures restarts the count", upgrade(spec(2, "v2", 1, 1)), Policy{FailureLimit: 3}, []step{
			{at: 0, observe: []Instance{staging("c"), staging("d")}},
			{at: 1, fail: "c"},
			{at: 2, fail: "d"},
			{at: 3, observe: []Instance{healthy("e"), staging("f")}},
			{at: 4, fail: "f"},
			{at: 5, fail: "g", want: NotFailed},
			{at: 6, fail: "h", want: CrashLoop, reason: "f on h-f: exited; g on h-g: exited; h on h-h: exited"},
		}},
		{"failure limit 0 never fails", upgrade(spec(1, "v2", 1, 1)), Policy{}, []step{
			{at: 1, fail: "a"}, {at: 2, fail: "b"}, {at: 3, fail: "c"}, {at: 4, fail: "d", want: NotFailed},
		}},
		{"healthy but not readiness-passed is no progress", gated(spec(1, "v2", 1, 1)), deadline10, []step{
			{at: 0, observe: []Instance{v1("a"), staging("c")}},
			{at: 2, observe: []Instance{v1("a"), healthy("c")}},
			{at: 10, want: NoProgress, reason: "0 of 1 new instances ready"},
		}},
		{"passing the readiness check is progress", gated(spec(1, "v2", 1, 1)), deadline10, []step{
			{at: 0, observe: []Instance{v1("a"), staging("c")}},
			{at: 2, observe: []Instance{v1("a"), healthy("c")}},
			{at: 9, observe: []Instance{v1("a"), passed(healthy("c"))}},
			{at: 18, want: NotFailed},
			{at: 19, want: NoProgress},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := StartProgress(t0)
			st := Stall{App: "/app", Action: "RestartApplication", Step: 1, Steps: 1, Wanted: tt.spec.Instances}
			for i, s := range tt.steps {
				now := t0.Add(time.Duration(s.at) * time.Second)
				if s.observe != nil {
					p = p.Observe(tt.spec, s.observe, now)
				}
				if s.fail != "" {
					p = p.Failed(Failure{TaskID: s.fail, Host: "h-" + s.fail, At: now, Why: "exited"}, tt.policy.FailureLimit)
				}
				v := p.Judge(tt.policy, st, now)
				if v.Kind != s.want {
					t.Fatalf("step %d (%ds): Judge = %v %q; want %v", i, s.at, v.Kind, v.Reason, s.want)
				}
				if !strings.Contains(v.Reason, s.reason) {
					t.Errorf("step %d (%ds): reason %q; want it to contain %q", i, s.at, v.Reason, s.reason)
				}
			}
		})
	}
}

// The reason of a stalled deployment names its step, every unready
// instance with why, and why offers do not fit, with long lists cut.
func TestJudgeReason(t *testing.T) {
	st := Stall{App: "/web", Action: "RestartApplication", Step: 1, Steps: 1, Wanted: 3, Ready: 1,
		Unready: []Unready{
			{TaskID: "web.a", Host: "h1", Why: "unhealthy: HTTP 503 from http://h1:31000/health"},
			{TaskID: "web.b", Why: "staging"},
		},
		Unlaunched: 1,
		Placement:  []string{"h1: insufficient mem: needs 128, offer has 64", "h2: constraint [rack IS r1] not met: rack is \"r2\""},
		Waiting:    "keeping 2 old instances until new ones are ready",
	}
	p := StartProgress(t0)
	v := p.Judge(Policy{ProgressDeadline: time.Minute}, st, t0.Add(time.Minute))
	want := "no progress for 1m0s (progressDeadlineSeconds 60): step 1 of 1, RestartApplication /web: 1 of 3 new instances ready; " +
		"web.a on h1 unhealthy: HTTP 503 from http://h1:31000/health; web.b on an unknown host staging; " +
		"1 instance not launched, no offer fits: h1: insufficient mem: needs 128, offer has 64; h2: constraint [rack IS r1] not met: rack is \"r2\"; " +
		"keeping 2 old instances until new ones are ready"
	if v.Kind != NoProgress || v.Reason != want {
		t.Errorf("Judge = %v %q;\nwant %v %q", v.Kind, v.Reason, NoProgress, want)
	}

	var many []Unready
	var agents []string
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		many = append(many, Unready{TaskID: id, Host: "h", Why: "staging"})
		agents = append(agents, id+": no cpus")
	}
	st = Stall{App: "/web", Action: "StartApplication", Step: 1, Steps: 1, Wanted: 9, Unready: many, Unlaunched: 2, Placement: agents}
	v = p.Judge(Policy{ProgressDeadline: time.Second}, st, t0.Add(time.Second))
	for _, w := range []string{"e on h staging; and 2 more unready instances;", "e: no cpus; and 2 more agents"} {
		if !strings.Contains(v.Reason, w) {
			t.Errorf("Judge reason %q; want it to contain %q", v.Reason, w)
		}
	}
	if strings.Contains(v.Reason, "f on h") || strings.Contains(v.Reason, "f: no cpus") {
		t.Errorf("Judge reason %q names more than %d instances or agents", v.Reason, maxNamed)
	}
}

// Observe and Failed never change the Progress they are called on: a
// caller may keep an earlier value.
func TestProgressIsAValue(t *testing.T) {
	s := spec(2, "v2", 1, 1)
	p0 := StartProgress(t0)
	p1 := p0.Observe(s, []Instance{running("a", "v2", 0)}, t0.Add(time.Second))
	p2 := p1.Observe(s, []Instance{running("a", "v2", 0), running("b", "v2", 0)}, t0.Add(2*time.Second))
	if len(p1.seen) != 1 || len(p2.seen) != 2 || p1.Since != t0.Add(time.Second) || p2.Since != t0.Add(2*time.Second) {
		t.Fatalf("Observe: p1 seen %v since %v, p2 seen %v since %v; want 1 then 2 seen, each at its time", p1.seen, p1.Since, p2.seen, p2.Since)
	}
	f1 := p2.Failed(Failure{TaskID: "x"}, 2)
	f2 := f1.Failed(Failure{TaskID: "y"}, 2)
	f3 := f2.Failed(Failure{TaskID: "z"}, 2)
	if len(p2.Failures) != 0 || len(f1.Failures) != 1 || len(f2.Failures) != 2 || len(f3.Failures) != 2 || f3.Failures[0].TaskID != "y" || f2.Failures[0].TaskID != "x" {
		t.Errorf("Failed: %v, %v, %v, %v; want 0, [x], [x y], [y z]", p2.Failures, f1.Failures, f2.Failures, f3.Failures)
	}
}

func TestFailureKindString(t *testing.T) {
	for k, want := range map[FailureKind]string{NotFailed: "none", CrashLoop: "crashLoop", NoProgress: "progressDeadline"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q; want %q", k, got, want)
		}
	}
}
