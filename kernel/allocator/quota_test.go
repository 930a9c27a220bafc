package allocator_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"corral/kernel/allocator"
	"corral/kernel/resource"
)

// offeredTo sums the offers of one cycle by role.
func offeredTo(offers []allocator.Offer) map[string]resource.Resources {
	out := map[string]resource.Resources{}
	for _, o := range offers {
		out[o.Role] = out[o.Role].Add(o.Resources)
	}
	return out
}

// TestQuotaLimit: a role is never offered beyond its limit, and what its
// limit keeps from it goes to the other roles.
func TestQuotaLimit(t *testing.T) {
	a := allocator.New(allocator.Config{})
	for i := range 4 {
		a.AddAgent(fmt.Sprint("a", i), mustParse(t, "cpus:2;mem:2048"))
	}
	a.SetQuota("capped", allocator.Quota{Limits: map[string]float64{"cpus": 3}})
	a.AddFramework("f-capped", []string{"capped"}, nil)
	a.AddFramework("f-other", []string{"other"}, nil)
	got := offeredTo(a.Cycle(time.Unix(0, 0)))
	check(t, a)
	if c := got["capped"].Scalar("cpus"); c > 3 {
		t.Errorf("capped offered %v cpus; limit 3", c)
	}
	// What the limit kept from the capped role goes to the other role
	// (the rest of a split agent in the next cycle), never to it.
	for i := range 5 {
		more := offeredTo(a.Cycle(time.Unix(int64(i+1), 0)))
		if c := more["capped"].Scalar("cpus"); c > 0 {
			t.Errorf("cycle %d offered the capped role %v more cpus", i, c)
		}
		got["other"] = got["other"].Add(more["other"])
	}
	if c := got["capped"].Scalar("cpus") + got["other"].Scalar("cpus"); c != 8 {
		t.Errorf("offered %v cpus in all; want the whole cluster (8)", c)
	}
	if q := a.Quotas()["capped"]; q.Limits["cpus"] != 3 {
		t.Errorf("Quotas() = %v", a.Quotas())
	}
}

// TestQuotaGuaranteeFirst: a role below its guarantee is served before a
// role with a lower share; once its guarantee is met, DRF decides.
func TestQuotaGuaranteeFirst(t *testing.T) {
	a := allocator.New(allocator.Config{})
	for i := range 4 {
		a.AddAgent(fmt.Sprint("a", i), mustParse(t, "cpus:2;mem:2048"))
	}
	// "big" already holds a lot: without its guarantee DRF would serve
	// "small" first.
	a.AddFramework("f-big", []string{"big"}, nil)
	a.AddFramework("f-small", []string{"small"}, nil)
	a.Allocate("a0", "f-big", "big", mustParse(t, "cpus:2;mem:2048"))
	a.SetQuota("big", allocator.Quota{Guarantees: map[string]float64{"cpus": 6}})
	offers := a.CycleAgents(time.Unix(0, 0), []string{"a1"})
	if len(offers) != 1 || offers[0].Role != "big" {
		t.Fatalf("first offer = %+v; want it to the role below its guarantee", offers)
	}
	a.SetQuota("big", allocator.Quota{})
	offers = a.CycleAgents(time.Unix(0, 0), []string{"a2"})
	if len(offers) != 1 || offers[0].Role != "small" {
		t.Fatalf("offer without the guarantee = %+v; want DRF's choice (small)", offers)
	}
}

// TestQuotaHeadroom: resources a guarantee still needs are held back from
// other roles even while the guaranteed role takes nothing.
func TestQuotaHeadroom(t *testing.T) {
	a := allocator.New(allocator.Config{})
	for i := range 4 {
		a.AddAgent(fmt.Sprint("a", i), mustParse(t, "cpus:2;mem:2048"))
	}
	a.SetQuota("reserved-for", allocator.Quota{Guarantees: map[string]float64{"cpus": 3}})
	a.AddFramework("f-other", []string{"other"}, nil)
	got := offeredTo(a.Cycle(time.Unix(0, 0)))
	check(t, a)
	if c := got["other"].Scalar("cpus"); c > 5 {
		t.Errorf("other offered %v cpus; at most 5 of 8 while 3 are guaranteed to another role", c)
	}
	// The guaranteed role arrives and gets its share.
	a.AddFramework("f-g", []string{"reserved-for"}, nil)
	got = offeredTo(a.Cycle(time.Unix(1, 0)))
	if c := got["reserved-for"].Scalar("cpus"); c < 3 {
		t.Errorf("the guaranteed role was offered %v cpus; want at least its 3", c)
	}
}

// TestQuotaRandom: under random quotas, frameworks, declines and
// recoveries, a cycle never takes a role above its limit, and never lets
// other roles cut into what unmet guarantees need.
func TestQuotaRandom(t *testing.T) {
	for seed := range uint64(30) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			a := allocator.New(allocator.Config{Seed: seed + 1})
			roles := []string{"r0", "r1", "r2"}
			total := resource.Resources{}
			for i := range 5 {
				r := mustParse(t, fmt.Sprintf("cpus:%d;mem:%d", 1+rng.IntN(4), 1024*(1+rng.IntN(4))))
				a.AddAgent(fmt.Sprint("a", i), r)
				total = total.Add(r)
			}
			limits := map[string]float64{}
			guar := map[string]float64{}
			for _, r := range roles {
				var q allocator.Quota
				if rng.IntN(2) == 0 {
					limits[r] = float64(rng.IntN(6))
					q.Limits = map[string]float64{"cpus": limits[r]}
				}
				if rng.IntN(3) == 0 {
					guar[r] = float64(rng.IntN(3))
					if l, ok := limits[r]; ok && guar[r] > l {
						guar[r] = l
					}
					q.Guarantees = map[string]float64{"cpus": guar[r]}
				}
				a.SetQuota(r, q)
			}
			held := map[string]resource.Resources{} // by role
			type hold struct {
				fw, agent, role string
				res             resource.Resources
			}
			var holds []hold
			for i, r := range roles {
				a.AddFramework(fmt.Sprint("f", i), []string{r}, nil)
			}
			now := time.Unix(0, 0)
			for step := range 60 {
				now = now.Add(time.Second)
				before := map[string]float64{}
				for _, r := range roles {
					before[r] = held[r].Scalar("cpus")
				}
				offers := a.Cycle(now)
				check(t, a)
				for _, o := range offers {
					held[o.Role] = held[o.Role].Add(o.Resources)
					holds = append(holds, hold{o.FrameworkID, o.AgentID, o.Role, o.Resources})
				}
				for _, r := range roles {
					if l, ok := limits[r]; ok && held[r].Scalar("cpus") > max(l, before[r])+1e-9 {
						t.Fatalf("step %d: role %s holds %v cpus; limit %v", step, r, held[r].Scalar("cpus"), l)
					}
				}
				// Headroom: free cpus never drop below what unmet
				// guarantees need, unless a guaranteed role took them.
				var needs, heldAll float64
				for _, r := range roles {
					if g := guar[r]; g > held[r].Scalar("cpus") {
						needs += g - held[r].Scalar("cpus")
					}
					heldAll += held[r].Scalar("cpus")
				}
				if free := total.Scalar("cpus") - heldAll; free+1e-9 < needs {
					var grew bool
					for _, o := range offers {
						if guar[o.Role] > 0 {
							grew = true
						}
					}
					if !grew {
						t.Fatalf("step %d: %v cpus free, %v needed by unmet guarantees, taken by roles without one", step, free, needs)
					}
				}
				// Give some back, as frameworks decline and tasks end.
				rng.Shuffle(len(holds), func(i, j int) { holds[i], holds[j] = holds[j], holds[i] })
				keep := holds[:0]
				for _, h := range holds {
					if rng.IntN(3) == 0 {
						a.Recover(h.agent, h.fw, h.role, h.res, 0, now)
						held[h.role] = held[h.role].Sub(h.res)
						continue
					}
					keep = append(keep, h)
				}
				holds = keep
			}
		})
	}
}
