package plan

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"corral/kernel/mesos"
)

// simTask is one instance of the fake cluster with its scripted future.
type simTask struct {
	Instance
	runAt, healthyAt int // steps at which it runs and turns healthy
	readyAt          int // step at which it passes its readiness check
	dieAt            int // step at which it fails; -1 never
	goneAt           int // step at which a killed task is gone
}

// sim is a fake cluster driven by Decide: launched instances run and turn
// healthy after random numbers of steps, some fail, kills take a few steps.
type sim struct {
	t        *testing.T
	rng      *rand.Rand
	spec     Spec
	tasks    []*simTask
	seq      int
	step     int
	failing  bool // new instances may fail
	reached  bool // ready ≥ minReady was reached under the current spec
	failures int  // failures that happened under the current spec
}

func (s *sim) view() []Instance {
	out := make([]Instance, len(s.tasks))
	for i, tk := range s.tasks {
		out[i] = tk.Instance
	}
	return out
}

func (s *sim) advance() {
	kept := s.tasks[:0]
	for _, tk := range s.tasks {
		switch {
		case tk.Killing && s.step >= tk.goneAt:
			continue
		case tk.dieAt >= 0 && s.step >= tk.dieAt && !tk.Killing:
			s.failures++
			continue
		}
		if tk.State == mesos.TaskStaging && s.step >= tk.runAt {
			tk.State = mesos.TaskRunning
		}
		if tk.State == mesos.TaskRunning && s.spec.HealthChecked && s.step >= tk.healthyAt {
			tk.Healthy = yes()
		}
		if tk.State == mesos.TaskRunning && s.step >= tk.readyAt && (tk.Healthy != nil || !s.spec.HealthChecked) {
			tk.ReadinessPassed = true
		}
		kept = append(kept, tk)
	}
	s.tasks = kept
}

func (s *sim) launch(ver string) {
	s.seq++
	runAt := s.step + 1 + s.rng.IntN(4)
	tk := &simTask{
		Instance: Instance{TaskID: fmt.Sprintf("t%03d", s.seq), AppID: s.spec.AppID, ConfigVersion: ver,
			State: mesos.TaskStaging, StagedAt: t0.Add(time.Duration(s.step) * time.Second)},
		runAt: runAt, healthyAt: runAt + s.rng.IntN(4), dieAt: -1,
	}
	tk.readyAt = tk.healthyAt + s.rng.IntN(4)
	if s.failing && s.rng.IntN(4) == 0 {
		tk.dieAt = s.step + 1 + s.rng.IntN(8)
	}
	s.tasks = append(s.tasks, tk)
}

func (s *sim) setSpec(sp Spec) {
	s.spec, s.reached, s.failures = sp, false, 0
}

// decide runs one step and checks the invariants; it reports Done.
func (s *sim) decide() bool {
	t := s.t
	now := t0.Add(time.Duration(s.step) * time.Second)
	view := s.view()
	d := Decide(s.spec, view, now)
	minReady, maxTotal := Bounds(s.spec)
	where := fmt.Sprintf("step %d spec n=%d v=%s minHC=%g over=%g kill=%s hc=%v readiness=%v",
		s.step, s.spec.Instances, s.spec.ConfigVersion, s.spec.MinimumHealthCapacity, s.spec.MaximumOverCapacity,
		s.spec.KillSelection, s.spec.HealthChecked, s.spec.ReadinessChecked)

	readyBefore, present, old := 0, 0, 0
	byID := map[string]*simTask{}
	var counted []*simTask
	for _, tk := range s.tasks {
		byID[tk.TaskID] = tk
		if Inactive(s.spec, tk.Instance, now) || Expired(s.spec, tk.Instance, now) {
			continue
		}
		counted = append(counted, tk)
		present++
		if Ready(s.spec, tk.Instance) {
			readyBefore++
		}
		if tk.ConfigVersion != s.spec.ConfigVersion && Ready(s.spec, tk.Instance) {
			old++
		}
	}
	if d.MinReady != minReady {
		t.Fatalf("%s: MinReady = %d; want %d", where, d.MinReady, minReady)
	}
	surge := old > 0 && s.spec.Instances > 0 && minReady >= maxTotal
	if want := maxTotal + map[bool]int{true: 1}[surge]; d.MaxTotal != want {
		t.Fatalf("%s: MaxTotal = %d; want %d", where, d.MaxTotal, want)
	}
	if s.reached && s.failures == 0 && readyBefore < minReady {
		t.Fatalf("%s: ready %d dropped below %d without failures", where, readyBefore, minReady)
	}
	if readyBefore >= minReady {
		s.reached = true
	}

	readyAfter := readyBefore
	seen := map[string]bool{}
	for _, id := range d.Kill {
		tk := byID[id]
		if tk == nil || tk.Killing || seen[id] {
			t.Fatalf("%s: Kill %v names %q: unknown, already killing or twice", where, d.Kill, id)
		}
		seen[id] = true
		if Ready(s.spec, tk.Instance) {
			readyAfter--
		}
	}
	if readyAfter < min(readyBefore, minReady) {
		t.Fatalf("%s: kills %v take ready from %d to %d, below %d", where, d.Kill, readyBefore, readyAfter, minReady)
	}
	if d.Launch > 0 && present+d.Launch > d.MaxTotal {
		t.Fatalf("%s: launching %d with %d present exceeds %d", where, d.Launch, present, d.MaxTotal)
	}
	if d.Launch < 0 {
		t.Fatalf("%s: Launch = %d", where, d.Launch)
	}
	done := present == s.spec.Instances
	for _, tk := range counted {
		done = done && tk.ConfigVersion == s.spec.ConfigVersion && Ready(s.spec, tk.Instance)
	}
	if d.Done != done {
		t.Fatalf("%s: Done = %v; want %v (%d tasks)", where, d.Done, done, present)
	}
	if !d.Done && d.Launch == 0 && len(d.Kill) == 0 && d.Waiting == "" {
		t.Fatalf("%s: no progress and no reason", where)
	}

	for _, id := range d.Kill {
		tk := byID[id]
		tk.Killing = true
		tk.Healthy = nil
		tk.goneAt = s.step + 1 + s.rng.IntN(3)
	}
	// Offers come and go: sometimes only part of the wanted launches happen.
	n := d.Launch
	if n > 0 && s.rng.IntN(3) == 0 {
		n = s.rng.IntN(n + 1)
	}
	for range n {
		s.launch(s.spec.ConfigVersion)
	}
	return d.Done
}

func randomSpec(rng *rand.Rand, ver string) Spec {
	minHCs := []float64{0, 0.25, 0.5, 0.6, 0.75, 0.9, 1, rng.Float64()}
	overs := []float64{0, 0.1, 0.25, 0.5, 1, rng.Float64()}
	s := spec(rng.IntN(9), ver, minHCs[rng.IntN(len(minHCs))], overs[rng.IntN(len(overs))])
	s.HealthChecked = rng.IntN(2) == 0
	s.ReadinessChecked = rng.IntN(3) == 0
	if rng.IntN(2) == 0 {
		s.KillSelection = OldestFirst
	}
	return s
}

// TestDecideSimulation drives a fake cluster with Decide through a first
// deployment, an upgrade and a change of mind mid-upgrade, with and without
// failures, and checks the invariants at every step and convergence.
func TestDecideSimulation(t *testing.T) {
	for seed := range uint64(400) {
		rng := rand.New(rand.NewPCG(seed, 7))
		s := &sim{t: t, rng: rng, failing: seed%2 == 1}
		s.setSpec(randomSpec(rng, "v1"))
		// Old instances already running.
		for range rng.IntN(9) {
			s.launch("v0")
			tk := s.tasks[len(s.tasks)-1]
			tk.State, tk.runAt, tk.dieAt = mesos.TaskRunning, 0, -1
		}
		changeAt := 1 + rng.IntN(30)
		const limit = 2000
		// Without failures a deployment keeps moving: tasks run, turn
		// healthy and pass their readiness check within a few steps each,
		// so the progress watch never sees it stall for long.
		policy := Policy{ProgressDeadline: 30 * time.Second}
		progress := StartProgress(t0)
		for s.step = 0; ; s.step++ {
			now := t0.Add(time.Duration(s.step) * time.Second)
			if s.step == 400 {
				s.failing = false // failures stop, so the app must converge
			}
			if s.step == changeAt {
				sp := randomSpec(rng, []string{"v1", "v2"}[rng.IntN(2)])
				s.setSpec(sp)
				progress = StartProgress(now)
			}
			if s.step >= limit {
				t.Fatalf("seed %d: not done after %d steps: %d tasks", seed, limit, len(s.tasks))
			}
			s.advance()
			progress = progress.Observe(s.spec, s.view(), now)
			if v := progress.Judge(policy, Stall{}, now); v.Failed() && !s.failing {
				t.Fatalf("seed %d step %d: a deployment without failures judged %v: %s", seed, s.step, v.Kind, v.Reason)
			}
			if s.decide() && s.step > changeAt {
				break
			}
		}
		if len(s.tasks) != s.spec.Instances {
			t.Fatalf("seed %d: done with %d tasks; want %d", seed, len(s.tasks), s.spec.Instances)
		}
		for _, tk := range s.tasks {
			if tk.ConfigVersion != s.spec.ConfigVersion || !Ready(s.spec, tk.Instance) {
				t.Fatalf("seed %d: done with %+v", seed, tk.Instance)
			}
		}
	}
}

// TestDecideSimulationUnreachable partitions instances away and back.
func TestDecideSimulationUnreachable(t *testing.T) {
	var launches, expunges int
	defer func() {
		t.Logf("%d launches, %d expunged", launches, expunges)
		if expunges == 0 {
			t.Errorf("no instance was ever expunged in %d launches: the simulation does not exercise the unreachable strategy", launches)
		}
	}()
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 11))
		s := &sim{t: t, rng: rng}
		sp := randomSpec(rng, "v1")
		sp.Instances = 1 + rng.IntN(6)
		sp.UnreachableInactiveAfter = time.Duration(rng.IntN(5)) * time.Second
		sp.UnreachableExpungeAfter = sp.UnreachableInactiveAfter + time.Duration(rng.IntN(20))*time.Second
		s.setSpec(sp)
		expunged := map[string]bool{}
		partitioned := map[string]int{} // task → step it comes back
		for s.step = 0; s.step < 300; s.step++ {
			now := t0.Add(time.Duration(s.step) * time.Second)
			s.advance()
			for id := range partitioned {
				if !slices.ContainsFunc(s.tasks, func(tk *simTask) bool { return tk.TaskID == id }) {
					delete(partitioned, id) // killed while unreachable
				}
			}
			// Partitions happen only in the first 100 steps.
			for _, tk := range s.tasks {
				if back, ok := partitioned[tk.TaskID]; ok && s.step >= back {
					delete(partitioned, tk.TaskID)
					tk.State, tk.UnreachableSince = mesos.TaskRunning, time.Time{}
				} else if !ok && s.step < 100 && tk.State == mesos.TaskRunning && !tk.Killing && rng.IntN(30) == 0 {
					partitioned[tk.TaskID] = s.step + 1 + rng.IntN(30)
					s.failures++ // readiness lost, not because of a kill
					tk.State, tk.UnreachableSince = mesos.TaskUnreachable, now
				}
			}
			d := Decide(s.spec, s.view(), now)
			for _, id := range d.Expunge {
				expunged[id] = true
			}
			// The shell forgets expunged instances; if they return, it kills them.
			s.tasks = slices.DeleteFunc(s.tasks, func(tk *simTask) bool {
				if expunged[tk.TaskID] {
					delete(partitioned, tk.TaskID)
					return true
				}
				return false
			})
			if d.Done && len(partitioned) == 0 && s.step > 100 {
				break
			}
			s.decide()
		}
		if s.step >= 300 {
			t.Fatalf("seed %d: not done after 300 steps: %d tasks, %d partitioned", seed, len(s.tasks), len(partitioned))
		}
		launches += s.seq
		expunges += len(expunged)
		if len(s.tasks) != s.spec.Instances {
			t.Fatalf("seed %d: ended with %d tasks; want %d", seed, len(s.tasks), s.spec.Instances)
		}
	}
}
