package plan

import (
	"slices"
	"strings"
	"testing"
	"time"

	"corral/kernel/mesos"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

// mk builds an instance: id, config version, state, minute it was staged.
func mk(id, ver string, st mesos.TaskState, stagedMin int) Instance {
	return Instance{TaskID: id, AppID: "/app", ConfigVersion: ver, State: st,
		AgentID: "a-" + id, Hostname: "h-" + id, StagedAt: t0.Add(time.Duration(stagedMin) * time.Minute)}
}

func running(id, ver string, stagedMin int) Instance {
	return mk(id, ver, mesos.TaskRunning, stagedMin)
}

func with(in Instance, f func(*Instance)) Instance { f(&in); return in }

func spec(n int, ver string, minHC, over float64) Spec {
	return Spec{AppID: "/app", ConfigVersion: ver, Instances: n, CPUs: 1, Mem: 128,
		MinimumHealthCapacity: minHC, MaximumOverCapacity: over,
		UnreachableInactiveAfter: 5 * time.Minute, UnreachableExpungeAfter: 10 * time.Minute}
}

func TestDecide(t *testing.T) {
	now := t0.Add(time.Hour)
	unreachable := func(in Instance, ago time.Duration) Instance {
		return with(in, func(i *Instance) { i.State = mesos.TaskUnreachable; i.UnreachableSince = now.Add(-ago) })
	}
	killing := func(in Instance) Instance { return with(in, func(i *Instance) { i.Killing = true }) }
	oldestFirst := func(s Spec) Spec { s.KillSelection = OldestFirst; return s }
	healthChecked := func(s Spec) Spec { s.HealthChecked = true; return s }
	disabled := func(s Spec) Spec { s.UnreachableInactiveAfter, s.UnreachableExpungeAfter = -1, -1; return s }
	gated := func(s Spec) Spec { s.HealthChecked, s.ReadinessChecked = true, true; return s }
	healthy := func(in Instance) Instance { return with(in, func(i *Instance) { i.Healthy = yes() }) }
	passed := func(in Instance) Instance { return with(in, func(i *Instance) { i.ReadinessPassed = true }) }

	r := func(id string, m int) Instance { return running(id, "v2", m) }
	o := func(id string, m int) Instance { return running(id, "v1", m) }

	tests := []struct {
		name    string
		spec    Spec
		in      []Instance
		launch  int
		kill    []string
		expunge []string
		done    bool
		waiting string // substring; "" means Waiting must be empty
		note    string // substring of a note
	}{
		{name: "start", spec: spec(3, "v2", 1, 1), launch: 3},
		{name: "steady", spec: spec(3, "v2", 1, 1), in: []Instance{r("a", 1), r("b", 2), r("c", 3)}, done: true},
		{name: "starting", spec: spec(2, "v2", 1, 1),
			in:      []Instance{mk("a", "v2", mesos.TaskStaging, 1), mk("b", "v2", mesos.TaskStarting, 2)},
			waiting: "waiting for 2 new instances to become running"},
		{name: "health checked new instance with unknown health is not ready", spec: healthChecked(spec(1, "v2", 1, 1)),
			in: []Instance{r("a", 1)}, waiting: "waiting for 1 new instance to become healthy"},
		{name: "health checked new instance healthy", spec: healthChecked(spec(1, "v2", 1, 1)),
			in: []Instance{with(r("a", 1), func(i *Instance) { i.Healthy = yes() })}, done: true},
		{name: "scale up", spec: spec(5, "v2", 1, 1), in: []Instance{r("a", 1), r("b", 2), r("c", 3)}, launch: 2},
		{name: "scale down youngest first", spec: spec(2, "v2", 1, 1),
			in:   []Instance{r("a", 1), r("b", 2), r("c", 3), r("d", 4), r("e", 5)},
			kill: []string{"e", "d", "c"}},
		{name: "scale down oldest first", spec: oldestFirst(spec(2, "v2", 1, 1)),
			in:   []Instance{r("a", 1), r("b", 2), r("c", 3), r("d", 4), r("e", 5)},
			kill: []string{"a", "b", "c"}},
		{name: "scale down kills unready first", spec: spec(2, "v2", 1, 1),
			in:   []Instance{mk("a", "v2", mesos.TaskStaging, 1), r("b", 2), with(r("c", 3), func(i *Instance) { i.Healthy = no() }), r("d", 4)},
			kill: []string{"a", "c"}},
		{name: "scale down ignores instances being killed", spec: spec(1, "v2", 1, 1),
			in: []Instance{killing(r("a", 1)), r("b", 2), r("c", 3)}, kill: []string{"c"}},
		{name: "upgrade 1/1 starts all new", spec: spec(3, "v2", 1, 1),
			in: []Instance{o("a", 1), o("b", 2), o("c", 3)}, launch: 3},
		{name: "upgrade 1/1 waits for new", spec: spec(3, "v2", 1, 1),
			in: []Instance{o("a", 1), o("b", 2), o("c", 3),
				mk("d", "v2", mesos.TaskStaging, 4), mk("e", "v2", mesos.TaskStaging, 4), mk("f", "v2", mesos.TaskStaging, 4)},
			waiting: "keeping 3 old instances until new ones are ready: minimumHealthCapacity 1 needs 3 ready, 3 ready now"},
		{name: "upgrade 1/1 kills one old per ready new", spec: spec(3, "v2", 1, 1),
			in: []Instance{o("a", 1), o("b", 2), o("c", 3),
				r("d", 4), mk("e", "v2", mesos.TaskStaging, 4), mk("f", "v2", mesos.TaskStaging, 4)},
			kill: []string{"c"}},
		{name: "upgrade 1/1 kills old oldest first", spec: oldestFirst(spec(3, "v2", 1, 1)),
			in:   []Instance{o("a", 1), o("b", 2), o("c", 3), r("d", 4), r("e", 4), mk("f", "v2", mesos.TaskStaging, 4)},
			kill: []string{"a", "b"}},
		{name: "upgrade 1/1 all new ready", spec: spec(3, "v2", 1, 1),
			in:   []Instance{o("a", 1), o("b", 2), o("c", 3), r("d", 4), r("e", 4), r("f", 4)},
			kill: []string{"c", "b", "a"}},
		{name: "upgrade kills unhealthy old first", spec: spec(3, "v2", 1, 1),
			in:     []Instance{o("a", 1), with(o("b", 2), func(i *Instance) { i.Healthy = no() }), o("c", 3)},
			launch: 3, kill: []string{"b"}},
		{name: "upgrade old with unknown health counts as ready", spec: healthChecked(spec(2, "v2", 1, 0.5)),
			in: []Instance{o("a", 1), o("b", 2)}, launch: 1},
		{name: "readiness: healthy but not passed is not ready", spec: gated(spec(1, "v2", 1, 1)),
			in: []Instance{healthy(r("a", 1))}, waiting: "waiting for 1 new instance to become healthy and pass the readiness check"},
		{name: "readiness: passed and healthy is done", spec: gated(spec(1, "v2", 1, 1)),
			in: []Instance{passed(healthy(r("a", 1)))}, done: true},
		{name: "readiness: passed but unhealthy is not ready", spec: gated(spec(1, "v2", 1, 1)),
			in: []Instance{passed(with(r("a", 1), func(i *Instance) { i.Healthy = no() }))}, waiting: "waiting for 1 new instance"},
		{name: "readiness: old kept until new pass", spec: gated(spec(2, "v2", 1, 1)),
			in:      []Instance{o("a", 1), o("b", 2), healthy(r("c", 3)), healthy(r("d", 3))},
			waiting: "keeping 2 old instances until new ones are ready"},
		{name: "readiness: one old killed per new that passed", spec: gated(spec(2, "v2", 1, 1)),
			in:   []Instance{o("a", 1), o("b", 2), passed(healthy(r("c", 3))), healthy(r("d", 3))},
			kill: []string{"b"}},
		{name: "readiness gates only the new version", spec: gated(spec(2, "v2", 0.5, 0)),
			in: []Instance{o("a", 1), o("b", 2)}, kill: []string{"b"}},
		{name: "readiness: scale down kills the not yet ready first", spec: gated(spec(1, "v2", 1, 1)),
			in: []Instance{passed(healthy(r("a", 1))), healthy(r("b", 0))}, kill: []string{"b"}},
		{name: "upgrade 0.5/0 kills half first", spec: spec(4, "v2", 0.5, 0),
			in: []Instance{o("a", 1), o("b", 2), o("c", 3), o("d", 4)}, kill: []string{"d", "c"}},
		{name: "upgrade 0.5/0 replaces when killed ones are gone", spec: spec(4, "v2", 0.5, 0),
			in: []Instance{o("a", 1), o("b", 2)}, launch: 2},
		{name: "upgrade 0.5/0 waits for killed ones", spec: spec(4, "v2", 0.5, 0),
			in:      []Instance{o("a", 1), o("b", 2), killing(o("c", 3)), killing(o("d", 4))},
			waiting: "no room to launch 4 more instances: 4 instances present (2 being killed), maximumOverCapacity 0 allows 4"},
		{name: "upgrade 0 kills all first", spec: spec(3, "v2", 0, 0),
			in: []Instance{o("a", 1), o("b", 2), o("c", 3)}, kill: []string{"c", "b", "a"}},
		{name: "upgrade 0/1 kills all and launches", spec: spec(3, "v2", 0, 1),
			in: []Instance{o("a", 1), o("b", 2), o("c", 3)}, kill: []string{"c", "b", "a"}, launch: 3},
		{name: "deadlock 1/0 surges by one", spec: spec(3, "v2", 1, 0),
			in: []Instance{o("a", 1), o("b", 2), o("c", 3)}, launch: 1,
			note: "allowing 1 instance over capacity"},
		{name: "deadlock 1/0 kills one old once the surge is ready", spec: spec(3, "v2", 1, 0),
			in:   []Instance{o("a", 1), o("b", 2), o("c", 3), r("d", 4)},
			kill: []string{"c"}, note: "allowing 1 instance over capacity"},
		{name: "deadlock 1/0 waits for the surge", spec: spec(3, "v2", 1, 0),
			in:      []Instance{o("a", 1), o("b", 2), o("c", 3), mk("d", "v2", mesos.TaskStaging, 4)},
			waiting: "waiting for 1 new instance to become running", note: "over capacity"},
		{name: "deadlock 0.9/0.1 with 3 surges too", spec: spec(3, "v2", 0.9, 0.1),
			in: []Instance{o("a", 1), o("b", 2), o("c", 3)}, launch: 1, note: "over capacity"},
		{name: "deadlock 1/0 needs no surge for unready old", spec: spec(2, "v2", 1, 0),
			in:   []Instance{with(o("a", 1), func(i *Instance) { i.Healthy = no() }), mk("b", "v1", mesos.TaskStaging, 2)},
			kill: []string{"b", "a"}},
		{name: "delete", spec: spec(0, "v2", 1, 1),
			in: []Instance{r("a", 1), o("b", 2), mk("c", "v2", mesos.TaskStaging, 3)}, kill: []string{"c", "a", "b"}},
		{name: "delete waits for kills", spec: spec(0, "v2", 1, 1),
			in:      []Instance{killing(r("a", 1)), with(r("b", 2), func(i *Instance) { i.State = mesos.TaskKilling })},
			waiting: "waiting for 2 instances being killed to terminate"},
		{name: "delete done", spec: spec(0, "v2", 1, 1), done: true},
		{name: "terminal and foreign instances are ignored", spec: spec(1, "v2", 1, 1),
			in:   []Instance{r("a", 1), mk("b", "v2", mesos.TaskFailed, 2), with(r("c", 3), func(i *Instance) { i.AppID = "/other" })},
			done: true},
		{name: "replacement waits for a killed instance at cap", spec: spec(3, "v2", 1, 0),
			in: []Instance{r("a", 1), r("b", 2), killing(r("c", 3))}, waiting: "no room to launch 1 more instance"},
		{name: "replacement at once with room", spec: spec(3, "v2", 1, 1),
			in: []Instance{r("a", 1), r("b", 2), killing(r("c", 3))}, launch: 1},
		{name: "unreachable still counts", spec: spec(2, "v2", 1, 1),
			in:      []Instance{r("a", 1), unreachable(r("b", 2), time.Minute)},
			waiting: "1 instance unreachable, replaced from 2025-03-01T13:04:00Z on"},
		{name: "unreachable inactive is replaced", spec: spec(2, "v2", 1, 1),
			in: []Instance{r("a", 1), unreachable(r("b", 2), 6*time.Minute)}, launch: 1},
		{name: "unreachable inactive replacement ready is done", spec: spec(2, "v2", 1, 1),
			in: []Instance{r("a", 1), unreachable(r("b", 2), 6*time.Minute), r("c", 50)}, done: true},
		{name: "unreachable expunged", spec: spec(2, "v2", 1, 1),
			in:      []Instance{r("a", 1), unreachable(r("b", 2), 11*time.Minute), r("c", 50)},
			expunge: []string{"b"}, done: true},
		{name: "unreachable disabled never replaced", spec: disabled(spec(2, "v2", 1, 1)),
			in:      []Instance{r("a", 1), unreachable(r("b", 2), 100*time.Hour)},
			waiting: "1 instance unreachable, not replaced (unreachableStrategy disabled)"},
		{name: "unreachable 0/0 expunged at once", spec: func() Spec {
			s := spec(2, "v2", 1, 1)
			s.UnreachableInactiveAfter, s.UnreachableExpungeAfter = 0, 0
			return s
		}(),
			in: []Instance{r("a", 1), unreachable(r("b", 2), 0)}, expunge: []string{"b"}, launch: 1},
		{name: "returned instance: youngest (the replacement) killed", spec: spec(2, "v2", 1, 1),
			in: []Instance{r("a", 1), r("b", 2), r("c", 50)}, kill: []string{"c"}},
		{name: "returned instance: oldest (the returned one) killed", spec: oldestFirst(spec(2, "v2", 1, 1)),
			in: []Instance{r("b", 2), r("a", 1), r("c", 50)}, kill: []string{"a"}},
		{name: "returned instance: unready replacement killed first", spec: oldestFirst(spec(2, "v2", 1, 1)),
			in: []Instance{r("a", 1), r("b", 2), mk("c", "v2", mesos.TaskStaging, 50)}, kill: []string{"c"}},
		{name: "unreachable old killed first in upgrade", spec: spec(2, "v2", 1, 1),
			in:     []Instance{o("a", 1), unreachable(o("b", 2), time.Minute)},
			launch: 2, kill: []string{"b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.spec, tc.in, now)
			if d.Launch != tc.launch || !slices.Equal(d.Kill, tc.kill) || !slices.Equal(d.Expunge, tc.expunge) || d.Done != tc.done {
				t.Errorf("Decide() = launch %d kill %v expunge %v done %v; want launch %d kill %v expunge %v done %v (waiting %q)",
					d.Launch, d.Kill, d.Expunge, d.Done, tc.launch, tc.kill, tc.expunge, tc.done, d.Waiting)
			}
			if tc.waiting == "" && d.Waiting != "" || !strings.Contains(d.Waiting, tc.waiting) {
				t.Errorf("Decide().Waiting = %q; want it to contain %q", d.Waiting, tc.waiting)
			}
			notes := strings.Join(d.Notes, "\n")
			if tc.note == "" && notes != "" || !strings.Contains(notes, tc.note) {
				t.Errorf("Decide().Notes = %q; want %q", notes, tc.note)
			}
		})
	}
}

func TestDecideDoesNotModifyInput(t *testing.T) {
	in := []Instance{running("c", "v1", 3), running("a", "v1", 1), running("b", "v1", 2)}
	orig := slices.Clone(in)
	Decide(spec(1, "v2", 0, 0), in, t0)
	for i := range in {
		if in[i].TaskID != orig[i].TaskID {
			t.Fatalf("Decide reordered its input: %v", in)
		}
	}
}

func TestBounds(t *testing.T) {
	tests := []struct {
		n                  int
		minHC, over        float64
		minReady, maxTotal int
	}{
		{3, 1, 1, 3, 6},
		{5, 0.6, 0, 3, 5},
		{4, 0.5, 0.5, 2, 6},
		{3, 0.5, 0.5, 2, 4},
		{10, 0.1, 0.15, 1, 11},
		{0, 1, 1, 0, 0},
		{3, -1, -1, 0, 3},
		{3, 2, 0, 3, 3},
	}
	for _, tc := range tests {
		s := Spec{Instances: tc.n, MinimumHealthCapacity: tc.minHC, MaximumOverCapacity: tc.over}
		if mr, mt := Bounds(s); mr != tc.minReady || mt != tc.maxTotal {
			t.Errorf("Bounds(n=%d minHC=%g over=%g) = %d, %d; want %d, %d", tc.n, tc.minHC, tc.over, mr, mt, tc.minReady, tc.maxTotal)
		}
	}
}

func TestSpecValidate(t *testing.T) {
	good := spec(3, "v1", 1, 1)
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate(good) = %v", err)
	}
	bad := map[string]func(*Spec){
		"instances":   func(s *Spec) { s.Instances = -1 },
		"mem":         func(s *Spec) { s.Mem = -1 },
		"minHC":       func(s *Spec) { s.MinimumHealthCapacity = 1.5 },
		"over":        func(s *Spec) { s.MaximumOverCapacity = -0.1 },
		"kill":        func(s *Spec) { s.KillSelection = "RANDOM" },
		"factor":      func(s *Spec) { s.BackoffFactor = 0.5 },
		"unreachable": func(s *Spec) { s.UnreachableExpungeAfter = time.Minute },
		"constraint":  func(s *Spec) { s.Constraints = []Constraint{{Field: "hostname", Operator: "SOMETIMES", Value: ""}} },
	}
	for name, f := range bad {
		s := good
		f(&s)
		if err := s.Validate(); err == nil {
			t.Errorf("Validate(%s) = nil; want an error", name)
		}
	}
}
