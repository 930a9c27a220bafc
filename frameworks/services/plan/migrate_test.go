package plan

import (
	"fmt"
	"testing"

	"corral/kernel/mesos"
)

// TestDecideMigratesDrainingInstances drives a drain of the agent that
// runs every instance, step by step: replacements are launched elsewhere
// first, draining instances are killed only as replacements become
// ready, the ready count never drops below MinReady, and the app ends
// with all its instances off the draining agent. It runs with the
// default strategy (1, 1), with no room to surge (1, 0: one at a time),
// and with half the capacity allowed down (0.5, 0).
func TestDecideMigratesDrainingInstances(t *testing.T) {
	for _, strat := range []struct{ minHC, over float64 }{{1, 1}, {1, 0}, {0.5, 0}} {
		t.Run(fmt.Sprintf("%g-%g", strat.minHC, strat.over), func(t *testing.T) {
			s := spec(4, "v1", strat.minHC, strat.over)
			s.HealthChecked = true
			minReady, _ := Bounds(s)
			var ins []Instance
			for i := range 4 {
				ins = append(ins, with(running(fmt.Sprintf("old%d", i), "v1", i), func(in *Instance) {
					in.AgentID, in.Healthy, in.Draining = "drained", yes(), true
				}))
			}
			fresh := 0
			for step := 0; step < 50; step++ {
				d := Decide(s, ins, t0)
				if d.Done {
					for _, in := range ins {
						if in.AgentID == "drained" {
							t.Fatalf("done with %s still on the draining agent", in.TaskID)
						}
					}
					return
				}
				if step == 0 && (d.Migrating != 4 || d.Launch+len(d.Kill) == 0) {
					t.Fatalf("first decision = %+v; want 4 migrating, and launches or kills", d)
				}
				ready := 0
				for _, in := range ins {
					if Ready(s, in) && !contains(d.Kill, in.TaskID) {
						ready++
					}
				}
				if ready < minReady {
					t.Fatalf("step %d: %d ready after the kills %v; want at least %d", step, ready, d.Kill, minReady)
				}
				// Apply: kills end at once, launches start, and
				// instances launched before become healthy.
				var next []Instance
				for _, in := range ins {
					if contains(d.Kill, in.TaskID) {
						continue
					}
					if in.State == mesos.TaskStaging {
						in.State, in.Healthy = mesos.TaskRunning, yes()
					}
					next = append(next, in)
				}
				for range d.Launch {
					fresh++
					next = append(next, with(mk(fmt.Sprintf("new%d", fresh), "v1", mesos.TaskStaging, 100+fresh), func(in *Instance) { in.AgentID = "elsewhere" }))
				}
				ins = next
			}
			t.Fatalf("the migration did not finish: %+v", ins)
		})
	}
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
