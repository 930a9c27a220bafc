package allocator_test

import (
	"fmt"
	"testing"
	"time"

	"corral/kernel/allocator"
	"corral/kernel/resource"
)

// benchCluster builds agents × frameworks, the frameworks spread round-robin
// over roles roles, every agent cpus:8;mem:16384;disk:100000;ports:[31000-32000].
func benchCluster(b *testing.B, agents, frameworks, roles int) *allocator.Allocator {
	b.Helper()
	total, err := resource.Parse("cpus:8;mem:16384;disk:100000;ports:[31000-32000]")
	if err != nil {
		b.Fatal(err)
	}
	a := allocator.New(allocator.Config{})
	for i := range agents {
		a.AddAgent(fmt.Sprintf("agent-%05d", i), total)
	}
	for i := range frameworks {
		a.AddFramework(fmt.Sprintf("fw-%04d", i), []string{fmt.Sprintf("role-%02d", i%roles)}, nil)
	}
	return a
}

func recoverAll(a *allocator.Allocator, offers []allocator.Offer, now time.Time) {
	for _, o := range offers {
		a.Recover(o.AgentID, o.FrameworkID, o.Role, o.Resources, 0, now)
	}
}

// BenchmarkCycle measures one Cycle that offers every agent; the recovery of
// the previous cycle's offers is done with the timer stopped.
func BenchmarkCycle(b *testing.B) {
	for _, c := range []struct{ agents, frameworks, roles int }{
		{1000, 100, 10},
		{10000, 1000, 10},
	} {
		b.Run(fmt.Sprintf("agents=%d/frameworks=%d/roles=%d", c.agents, c.frameworks, c.roles), func(b *testing.B) {
			a := benchCluster(b, c.agents, c.frameworks, c.roles)
			now := time.Unix(0, 0)
			offers := a.Cycle(now) // warm up: the first cycle sizes per-agent slices
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				recoverAll(a, offers, now)
				b.StartTimer()
				offers = a.Cycle(now)
			}
			if len(offers) != c.agents {
				b.Fatalf("Cycle offered %d agents; want %d", len(offers), c.agents)
			}
		})
	}
}

// BenchmarkRecoverAndCycle measures the full round: recover every offer
// (as declines without a filter), then one Cycle that offers them again.
func BenchmarkRecoverAndCycle(b *testing.B) {
	a := benchCluster(b, 10000, 1000, 10)
	now := time.Unix(0, 0)
	offers := a.Cycle(now)
	b.ReportAllocs()
	for b.Loop() {
		recoverAll(a, offers, now)
		offers = a.Cycle(now)
	}
	if len(offers) != 10000 {
		b.Fatalf("Cycle offered %d agents; want 10000", len(offers))
	}
}

// BenchmarkCycleAgents measures event-driven allocation of one agent whose
// resources were just recovered, in the 10k × 1k cluster.
func BenchmarkCycleAgents(b *testing.B) {
	a := benchCluster(b, 10000, 1000, 10)
	now := time.Unix(0, 0)
	ids := []string{"agent-04242"}
	for _, o := range a.Cycle(now) {
		if o.AgentID == ids[0] {
			a.Recover(o.AgentID, o.FrameworkID, o.Role, o.Resources, 0, now)
		}
	}
	offers := a.CycleAgents(now, ids)
	b.ReportAllocs()
	for b.Loop() {
		recoverAll(a, offers, now)
		offers = a.CycleAgents(now, ids)
	}
	if len(offers) != 1 {
		b.Fatalf("CycleAgents offered %d agents; want 1", len(offers))
	}
}

// BenchmarkCycleFiltered measures a Cycle in which every agent carries refuse
// filters from 10 frameworks (all declined with a long refuse), so each
// offer first skips filtered candidates.
func BenchmarkCycleFiltered(b *testing.B) {
	a := benchCluster(b, 10000, 1000, 10)
	now := time.Unix(0, 0)
	for range 10 {
		recoverFiltered(a, a.Cycle(now), time.Hour, now)
	}
	offers := a.Cycle(now)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		recoverAll(a, offers, now)
		b.StartTimer()
		offers = a.Cycle(now)
	}
	if len(offers) != 10000 {
		b.Fatalf("Cycle offered %d agents; want 10000", len(offers))
	}
}

func recoverFiltered(a *allocator.Allocator, offers []allocator.Offer, refuse time.Duration, now time.Time) {
	for _, o := range offers {
		a.Recover(o.AgentID, o.FrameworkID, o.Role, o.Resources, refuse, now)
	}
}
