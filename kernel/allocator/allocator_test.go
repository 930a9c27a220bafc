package allocator_test

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"corral/internal/purity"
	"corral/kernel/allocator"
	"corral/kernel/resource"
)

func mustParse(t testing.TB, s string) resource.Resources {
	t.Helper()
	r, err := resource.Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return r
}

func check(t testing.TB, a *allocator.Allocator) {
	t.Helper()
	if err := a.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}

// dominant returns the dominant share of r in a cluster of total.
func dominant(r, total resource.Resources) float64 {
	var s float64
	for _, n := range total.ScalarNames() {
		s = max(s, r.Scalar(n)/total.Scalar(n))
	}
	return s
}

// simulate runs allocation rounds until a round launches nothing and
// returns what each framework then runs. Offered an agent, a framework
// launches tasks of its demand, at most perOffer of them (0: as many as
// fit), and declines the rest without a filter.
//
// In batch mode a round is one Cycle, so every agent is on offer at once
// and offered resources count in the shares until declined. Otherwise a
// round offers one agent at a time with CycleAgents, as the master does when
// resources are recovered, so shares reflect running tasks only: the
// progressive filling of the DRF paper.
func simulate(t *testing.T, a *allocator.Allocator, agents []string, batch bool, perOffer int, demand map[string]resource.Resources) map[string]resource.Resources {
	t.Helper()
	now := time.Unix(0, 0)
	used := map[string]resource.Resources{}
	for round := 0; ; round++ {
		if round > 10000 {
			t.Fatal("simulation did not settle")
		}
		launched := false
		answer := func(offers []allocator.Offer) {
			for _, o := range offers {
				rest, d := o.Resources, demand[o.FrameworkID]
				for n := 0; (perOffer == 0 || n < perOffer) && rest.Contains(d); n++ {
					rest = rest.Sub(d)
					used[o.FrameworkID] = used[o.FrameworkID].Add(d)
					launched = true
				}
				a.Recover(o.AgentID, o.FrameworkID, o.Role, rest, 0, now)
			}
		}
		if batch {
			answer(a.Cycle(now))
		} else {
			for _, id := range agents {
				answer(a.CycleAgents(now, []string{id}))
			}
		}
		check(t, a)
		if !launched {
			return used
		}
		now = now.Add(time.Second)
	}
}

// TestDRFPaperExample is the example of the DRF paper: 9 cpus and 18 GB,
// framework A runs tasks of <1 cpu, 4 GB>, B of <3 cpus, 1 GB>. DRF gives A
// three tasks and B two, both at a dominant share of 2/3, whether the two
// are frameworks of one role or each in a role of its own.
func TestDRFPaperExample(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rolesA []string
		rolesB []string
		batch  bool
	}{
		{"one role/batch", []string{"r"}, []string{"r"}, true},
		{"one role/event-driven", []string{"r"}, []string{"r"}, false},
		{"two roles/batch", []string{"ra"}, []string{"rb"}, true},
		{"two roles/event-driven", []string{"ra"}, []string{"rb"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			total := mustParse(t, "cpus:9;mem:18432")
			a := allocator.New(allocator.Config{})
			a.AddAgent("agent", total)
			a.AddFramework("A", tc.rolesA, nil)
			a.AddFramework("B", tc.rolesB, nil)
			demand := map[string]resource.Resources{
				"A": mustParse(t, "cpus:1;mem:4096"),
				"B": mustParse(t, "cpus:3;mem:1024"),
			}
			used := simulate(t, a, []string{"agent"}, tc.batch, 1, demand)
			if got, want := used["A"], mustParse(t, "cpus:3;mem:12288"); !got.Equal(want) {
				t.Errorf("A runs %v; want %v", got, want)
			}
			if got, want := used["B"], mustParse(t, "cpus:6;mem:2048"); !got.Equal(want) {
				t.Errorf("B runs %v; want %v", got, want)
			}
			for _, fw := range []string{"A", "B"} {
				if got := dominant(used[fw], total); math.Abs(got-2.0/3) > 1e-9 {
					t.Errorf("dominant share of %s = %.4f; want 2/3", fw, got)
				}
			}
		})
	}
}

// TestDRFConverges runs two frameworks with opposite demand vectors,
// <1 cpu, 4 GB> and <3 cpus, 1 GB>, on 20 agents of <32 cpus, 64 GB>.
// Perfect packing would give both a dominant share of 2/3; agent-sized
// fragments keep real runs near 0.6.
func TestDRFConverges(t *testing.T) {
	for _, tc := range []struct {
		name     string
		batch    bool
		perOffer int
		maxGap   float64 // tolerated difference of the dominant shares
	}{
		// One task per offer, one offer out at a time: the paper's
		// progressive filling; only packing keeps the shares apart.
		{"event-driven/one task per offer", false, 1, 0.02},
		// Each framework filling what it is offered: the grain of fairness
		// is about one agent (a share of 0.05). In batch mode all agents
		// are on offer at once and the leftovers of filled agents (cpus
		// without mem, mem without cpus) go to the other framework, so
		// allow two agents' worth. Offering in name order instead would
		// end near 0.94 against 0.13.
		{"batch/fill each offer", true, 0, 0.1},
		{"event-driven/fill each offer", false, 0, 0.06},
	} {
		t.Run(tc.name, func(t *testing.T) {
			total := resource.Resources{}
			var agents []string
			a := allocator.New(allocator.Config{})
			for i := range 20 {
				r := mustParse(t, "cpus:32;mem:65536")
				agents = append(agents, fmt.Sprintf("a%02d", i))
				a.AddAgent(agents[i], r)
				total = total.Add(r)
			}
			a.AddFramework("mem-heavy", []string{"r"}, nil)
			a.AddFramework("cpu-heavy", []string{"r"}, nil)
			used := simulate(t, a, agents, tc.batch, tc.perOffer, map[string]resource.Resources{
				"mem-heavy": mustParse(t, "cpus:1;mem:4096"),
				"cpu-heavy": mustParse(t, "cpus:3;mem:1024"),
			})
			m, c := dominant(used["mem-heavy"], total), dominant(used["cpu-heavy"], total)
			t.Logf("dominant shares mem-heavy %.4f, cpu-heavy %.4f", m, c)
			if math.Abs(m-c) > tc.maxGap {
				t.Errorf("dominant shares mem-heavy %.3f, cpu-heavy %.3f; want equal within %.2f", m, c, tc.maxGap)
			}
		})
	}
}

// TestWeights: with equal demand, a role of weight 2 ends up with twice the
// resources of a role of weight 1.
func TestWeights(t *testing.T) {
	for _, tc := range []struct {
		weight float64
		want   float64 // share of role "heavy" over share of role "light"
	}{
		{1, 1},
		{2, 2},
		{3, 3},
	} {
		t.Run(strconv.FormatFloat(tc.weight, 'f', -1, 64), func(t *testing.T) {
			total := resource.Resources{}
			var agents []string
			a := allocator.New(allocator.Config{})
			for i := range 12 {
				r := mustParse(t, "cpus:10;mem:10240")
				agents = append(agents, fmt.Sprintf("a%02d", i))
				a.AddAgent(agents[i], r)
				total = total.Add(r)
			}
			a.SetWeight("heavy", tc.weight)
			a.AddFramework("h", []string{"heavy"}, nil)
			a.AddFramework("l", []string{"light"}, nil)
			task := mustParse(t, "cpus:1;mem:1024")
			used := simulate(t, a, agents, false, 1, map[string]resource.Resources{"h": task, "l": task})
			ratio := dominant(used["h"], total) / dominant(used["l"], total)
			if math.Abs(ratio-tc.want) > 0.1*tc.want {
				t.Errorf("share ratio heavy/light = %.3f; want %.1f", ratio, tc.want)
			}
			shares := a.Shares()
			if math.Abs(shares["heavy"]-shares["light"]) > 0.02 {
				t.Errorf("weighted shares %v; want equal within 0.02", shares)
			}
		})
	}
}

// TestDeterministicOrder: equal seeds and calls give equal offers; the first
// agent offered changes from cycle to cycle; different seeds differ.
func TestDeterministicOrder(t *testing.T) {
	run := func(seed uint64) [][]string {
		a := allocator.New(allocator.Config{Seed: seed})
		for i := range 50 {
			a.AddAgent(fmt.Sprintf("a%02d", i), mustParse(t, "cpus:1;mem:1024"))
		}
		for i := range 7 {
			a.AddFramework(fmt.Sprintf("f%d", i), []string{fmt.Sprintf("r%d", i%3)}, nil)
		}
		now := time.Unix(0, 0)
		var cycles [][]string
		for range 20 {
			var got []string
			offers := a.Cycle(now)
			for _, o := range offers {
				got = append(got, o.AgentID+"→"+o.FrameworkID)
			}
			cycles = append(cycles, got)
			for _, o := range offers {
				a.Recover(o.AgentID, o.FrameworkID, o.Role, o.Resources, 0, now)
			}
		}
		return cycles
	}
	x, y := run(1), run(1)
	for i := range x {
		if !slices.Equal(x[i], y[i]) {
			t.Fatalf("cycle %d differs between equal seeds:\n%v\n%v", i, x[i], y[i])
		}
	}
	first := map[string]bool{}
	for _, c := range x {
		first[strings.Split(c[0], "→")[0]] = true
	}
	if len(first) < 5 {
		t.Errorf("first agent offered over 20 cycles took %d values; want it to vary", len(first))
	}
	if z := run(2); slices.Equal(x[0], z[0]) && slices.Equal(x[1], z[1]) {
		t.Errorf("seeds 1 and 2 gave the same agent order")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  allocator.Config
		want string // substring of the error; "" for none
	}{
		{"zero is defaults", allocator.Config{}, ""},
		{"set", allocator.Config{MinCPUs: 0.5, MinMem: 64, Seed: 7}, ""},
		{"negative cpus", allocator.Config{MinCPUs: -1}, "MinCPUs"},
		{"NaN mem", allocator.Config{MinMem: math.NaN()}, "MinMem"},
		{"infinite mem", allocator.Config{MinMem: math.Inf(1)}, "MinMem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate(%+v) = %v; want nil", tc.cfg, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate(%+v) = %v; want an error naming %s", tc.cfg, err, tc.want)
			}
		})
	}
}

// TestPureImports keeps the package a pure core: standard library
// computation and package resource only, no I/O, clock or concurrency.
func TestPureImports(t *testing.T) {
	purity.Check(t, "container/heap", "errors", "fmt", "math", "math/rand/v2", "slices", "time", "corral/kernel/resource")
}
