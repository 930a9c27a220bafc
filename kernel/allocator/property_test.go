package allocator_test

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"corral/kernel/allocator"
	"corral/kernel/resource"
)

// TestRandomOps drives an Allocator with seeded random sequences of every
// call and checks each answer against a plain model of the cluster:
//
//   - an offer is exactly the agent's free resources (total minus what the
//     model says is held there), so nothing is offered twice while it is
//     outstanding and allocations never exceed the total;
//   - offers go only to active agents, to registered, active, subscribed,
//     unsuppressed and unfiltered (framework, role)s, at most one per agent
//     per cycle, and only above the minimum allocatable size;
//   - each offer goes to the role with the lowest weighted share among the
//     roles that could take it, and to the framework with the lowest share
//     within that role;
//   - no visited agent with allocatable free resources is left unoffered
//     while some (framework, role) could take it;
//   - Free and Shares agree with the model, and the allocator's internal
//     bookkeeping agrees with itself.
func TestRandomOps(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			newSim(t, seed).run(400)
		})
	}
}

type key struct{ fw, role string }

type mAgent struct {
	total  resource.Resources
	active bool
	held   map[key]resource.Resources
}

type mFilter struct {
	until   time.Time
	refused resource.Resources
}

type mFramework struct {
	registered, active bool
	roles              []string
	suppressed         map[string]bool
	filters            map[[2]string]mFilter // (role, agent)
}

type sim struct {
	t       *testing.T
	rng     *rand.Rand
	a       *allocator.Allocator
	now     time.Time
	agents  map[string]*mAgent
	fws     map[string]*mFramework
	weights map[string]float64
	log     []string // the calls made, printed on failure
}

var (
	agentIDs     = []string{"a0", "a1", "a2", "a3", "a4", "a5"}
	frameworkIDs = []string{"f0", "f1", "f2", "f3", "f4"}
	roleNames    = []string{"r0", "r1", "r2"}
	agentShapes  = []string{
		"cpus:4;mem:4096;ports:[31000-31009]",
		"cpus:2;mem:1024;disk:100",
		"cpus:0.5;mem:64;gpus:1",
		"cpus:8;mem:16384;ports:[31000-31099];zones:{a,b}",
		"cpus:0.005;mem:16",
		"mem:2048",
	}
)

func newSim(t *testing.T, seed uint64) *sim {
	return &sim{
		t:       t,
		rng:     rand.New(rand.NewPCG(seed, 42)),
		a:       allocator.New(allocator.Config{Seed: seed + 1}),
		now:     time.Unix(1_700_000_000, 0),
		agents:  map[string]*mAgent{},
		fws:     map[string]*mFramework{},
		weights: map[string]float64{},
	}
}

func (s *sim) fatalf(format string, args ...any) {
	s.t.Helper()
	tail := s.log[max(0, len(s.log)-30):]
	s.t.Fatalf("%s\nlast calls:\n\t%s", fmt.Sprintf(format, args...), joinLines(tail))
}

func joinLines(l []string) string {
	out := ""
	for i, x := range l {
		if i > 0 {
			out += "\n\t"
		}
		out += x
	}
	return out
}

func (s *sim) pick(list []string) string { return list[s.rng.IntN(len(list))] }

func (s *sim) subset(list []string) []string {
	var out []string
	for _, x := range list {
		if s.rng.IntN(2) == 0 {
			out = append(out, x)
		}
	}
	return out
}

func (s *sim) run(steps int) {
	for range steps {
		switch op := s.rng.IntN(100); {
		case op < 8:
			s.addAgent()
		case op < 11:
			s.removeAgent()
		case op < 15:
			s.setAgentActive()
		case op < 23:
			s.addFramework()
		case op < 26:
			s.removeFramework()
		case op < 30:
			s.setFrameworkActive()
		case op < 36:
			s.allocate()
		case op < 58:
			s.recover()
		case op < 62:
			s.suppressOrRevive()
		case op < 64:
			s.setWeight()
		case op < 70:
			d := time.Duration(s.rng.IntN(4000)) * time.Millisecond
			s.log = append(s.log, fmt.Sprintf("now += %v", d))
			s.now = s.now.Add(d)
		case op < 90:
			s.cycle(nil)
		default:
			s.cycle(s.subset(append(agentIDs, "nope")))
		}
		s.verify()
	}
}

func (s *sim) removeAgent() {
	id := s.pick(agentIDs)
	s.log = append(s.log, "RemoveAgent "+id)
	s.a.RemoveAgent(id)
	delete(s.agents, id)
	for _, fw := range s.fws {
		for k := range fw.filters {
			if k[1] == id {
				delete(fw.filters, k)
			}
		}
	}
	s.gcPlaceholders()
}

func (s *sim) addAgent() {
	id := s.pick(agentIDs)
	total := mustParse(s.t, s.pick(agentShapes))
	ag := s.agents[id]
	if ag != nil && !total.Contains(s.heldOn(ag)) {
		return // shrinking below the allocations is covered by the scripts
	}
	s.log = append(s.log, fmt.Sprintf("AddAgent %s %v", id, total))
	s.a.AddAgent(id, total)
	if ag == nil {
		ag = &mAgent{active: true, held: map[key]resource.Resources{}}
		s.agents[id] = ag
	}
	ag.total = total
}

func (s *sim) setAgentActive() {
	id, active := s.pick(agentIDs), s.rng.IntN(3) > 0
	s.log = append(s.log, fmt.Sprintf("SetAgentActive %s %v", id, active))
	s.a.SetAgentActive(id, active)
	if ag := s.agents[id]; ag != nil {
		ag.active = active
	}
}

func (s *sim) addFramework() {
	id := s.pick(frameworkIDs)
	roles := s.subset(roleNames)
	suppressed := s.subset(roleNames)
	s.log = append(s.log, fmt.Sprintf("AddFramework %s %v %v", id, roles, suppressed))
	s.a.AddFramework(id, roles, suppressed)
	fw := s.fws[id]
	if fw == nil {
		fw = &mFramework{}
		s.fws[id] = fw
	}
	if !fw.registered {
		fw.registered, fw.active = true, true
	}
	for k := range fw.filters {
		if !slices.Contains(roles, k[0]) {
			delete(fw.filters, k)
		}
	}
	fw.roles = roles
	fw.suppressed = map[string]bool{}
	for _, r := range suppressed {
		fw.suppressed[r] = slices.Contains(roles, r)
	}
}

func (s *sim) removeFramework() {
	id := s.pick(frameworkIDs)
	s.log = append(s.log, "RemoveFramework "+id)
	s.a.RemoveFramework(id)
	delete(s.fws, id)
	for _, ag := range s.agents {
		for k := range ag.held {
			if k.fw == id {
				delete(ag.held, k)
			}
		}
	}
}

func (s *sim) setFrameworkActive() {
	id, active := s.pick(frameworkIDs), s.rng.IntN(3) > 0
	s.log = append(s.log, fmt.Sprintf("SetFrameworkActive %s %v", id, active))
	s.a.SetFrameworkActive(id, active)
	if fw := s.fws[id]; fw != nil && fw.registered {
		fw.active = active
	}
}

// piece returns a random part of r: some of each scalar, part of each range
// and set.
func (s *sim) piece(r resource.Resources) resource.Resources {
	var out resource.Resources
	for _, n := range r.ScalarNames() {
		out = out.Add(resource.Scalar(n, math.Round(r.Scalar(n)*s.rng.Float64()*1000)/1000))
	}
	for _, n := range []string{resource.Ports} {
		if rs := r.Ranges(n); len(rs) > 0 {
			x := rs[s.rng.IntN(len(rs))]
			b := x.Begin + uint64(s.rng.IntN(int(x.End-x.Begin+1)))
			out = out.Add(resource.RangesOf(n, resource.Range{Begin: b, End: min(x.End, b+uint64(s.rng.IntN(5)))}))
		}
	}
	if items := r.Set("zones"); len(items) > 0 {
		out = out.Add(resource.SetOf("zones", items[s.rng.IntN(len(items))]))
	}
	return out
}

func (s *sim) allocate() {
	id := s.pick(agentIDs)
	fwID := s.pick(append(frameworkIDs, "placeholder"))
	role := s.pick(roleNames)
	free := s.a.Free(id)
	r := s.piece(free)
	if s.rng.IntN(4) == 0 {
		r = r.Add(mustParse(s.t, "cpus:100")) // more than is free
	}
	s.log = append(s.log, fmt.Sprintf("Allocate %s %s %s %v", id, fwID, role, r))
	s.a.Allocate(id, fwID, role, r)
	ag := s.agents[id]
	if ag == nil {
		return
	}
	take := r.Sub(r.Sub(s.free(ag)))
	if take.IsEmpty() {
		return
	}
	if s.fws[fwID] == nil {
		s.fws[fwID] = &mFramework{}
	}
	k := key{fwID, role}
	ag.held[k] = ag.held[k].Add(take)
}

func (s *sim) recover() {
	// Mostly give back part or all of something held; sometimes something
	// bogus.
	type h struct {
		agent string
		k     key
	}
	var held []h
	for _, id := range slices.Sorted(maps.Keys(s.agents)) {
		ag := s.agents[id]
		for _, k := range slices.SortedFunc(maps.Keys(ag.held), func(x, y key) int {
			if x.fw != y.fw {
				return cmpStr(x.fw, y.fw)
			}
			return cmpStr(x.role, y.role)
		}) {
			held = append(held, h{id, k})
		}
	}
	var agentID string
	var k key
	var r resource.Resources
	switch {
	case len(held) > 0 && s.rng.IntN(6) > 0:
		x := held[s.rng.IntN(len(held))]
		agentID, k = x.agent, x.k
		r = s.agents[agentID].held[k]
		if s.rng.IntN(2) == 0 {
			r = s.piece(r)
		}
	default:
		agentID, k = s.pick(agentIDs), key{s.pick(frameworkIDs), s.pick(roleNames)}
		r = mustParse(s.t, s.pick(agentShapes))
	}
	var refuse time.Duration
	if s.rng.IntN(2) == 0 {
		refuse = time.Duration(1+s.rng.IntN(10)) * time.Second
	}
	s.log = append(s.log, fmt.Sprintf("Recover %s %s %s %v refuse=%v", agentID, k.fw, k.role, r, refuse))
	s.a.Recover(agentID, k.fw, k.role, r, refuse, s.now)
	ag, fw := s.agents[agentID], s.fws[k.fw]
	if ag == nil || fw == nil {
		return
	}
	if left := ag.held[k].Sub(r); left.IsEmpty() {
		delete(ag.held, k)
	} else {
		ag.held[k] = left
	}
	if refuse > 0 && fw.registered && slices.Contains(fw.roles, k.role) {
		if fw.filters == nil {
			fw.filters = map[[2]string]mFilter{}
		}
		fw.filters[[2]string{k.role, agentID}] = mFilter{s.now.Add(refuse), r}
	}
	s.gcPlaceholders()
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// gcPlaceholders forgets placeholder frameworks that hold nothing, as the
// allocator does.
func (s *sim) gcPlaceholders() {
	for id, fw := range s.fws {
		if fw.registered {
			continue
		}
		holds := false
		for _, ag := range s.agents {
			for k := range ag.held {
				holds = holds || k.fw == id
			}
		}
		if !holds {
			delete(s.fws, id)
		}
	}
}

func (s *sim) suppressOrRevive() {
	id, roles := s.pick(frameworkIDs), s.subset(roleNames)
	revive := s.rng.IntN(2) == 0
	if revive {
		s.log = append(s.log, fmt.Sprintf("Revive %s %v", id, roles))
		s.a.Revive(id, roles)
	} else {
		s.log = append(s.log, fmt.Sprintf("Suppress %s %v", id, roles))
		s.a.Suppress(id, roles)
	}
	fw := s.fws[id]
	if fw == nil {
		return
	}
	if len(roles) == 0 {
		roles = fw.roles
	}
	for _, r := range roles {
		if !slices.Contains(fw.roles, r) {
			continue
		}
		fw.suppressed[r] = !revive
		if revive {
			for k := range fw.filters {
				if k[0] == r {
					delete(fw.filters, k)
				}
			}
		}
	}
}

func (s *sim) setWeight() {
	role, w := s.pick(roleNames), []float64{0, 0.5, 1, 2, 3}[s.rng.IntN(5)]
	s.log = append(s.log, fmt.Sprintf("SetWeight %s %v", role, w))
	s.a.SetWeight(role, w)
	if w <= 0 {
		w = 1
	}
	s.weights[role] = w
}

func (s *sim) weight(role string) float64 {
	if w, ok := s.weights[role]; ok {
		return w
	}
	return 1
}

func (s *sim) heldOn(ag *mAgent) resource.Resources {
	var used resource.Resources
	for _, r := range ag.held {
		used = used.Add(r)
	}
	return used
}

func (s *sim) free(ag *mAgent) resource.Resources { return ag.total.Sub(s.heldOn(ag)) }

func (s *sim) clusterTotal() resource.Resources {
	var t resource.Resources
	for _, ag := range s.agents {
		t = t.Add(ag.total)
	}
	return t
}

func (s *sim) share(r, total resource.Resources) float64 {
	var sh float64
	for _, n := range r.ScalarNames() {
		if total.Scalar(n) > 0 {
			sh = max(sh, r.Scalar(n)/total.Scalar(n))
		}
	}
	return sh
}

// heldBy sums what the model says is held under role, by fw ("" for all).
func (s *sim) heldBy(fw, role string) resource.Resources {
	var out resource.Resources
	for _, ag := range s.agents {
		for k, r := range ag.held {
			if k.role == role && (fw == "" || k.fw == fw) {
				out = out.Add(r)
			}
		}
	}
	return out
}

// candidates returns the (framework, role)s that may be offered the agent's
// free resources now.
func (s *sim) candidates(agentID string, free resource.Resources) []key {
	var out []key
	for id, fw := range s.fws {
		if !fw.registered || !fw.active {
			continue
		}
		for _, r := range fw.roles {
			if fw.suppressed[r] {
				continue
			}
			if f, ok := fw.filters[[2]string{r, agentID}]; ok && s.now.Before(f.until) && f.refused.Contains(free) {
				continue
			}
			out = append(out, key{id, r})
		}
	}
	return out
}

func allocatable(r resource.Resources) bool {
	return r.Scalar(resource.CPUs) >= allocator.DefaultMinCPUs || r.Scalar(resource.Mem) >= allocator.DefaultMinMem
}

func (s *sim) cycle(ids []string) {
	var offers []allocator.Offer
	visited := map[string]bool{}
	if ids == nil {
		s.log = append(s.log, "Cycle")
		offers = s.a.Cycle(s.now)
		for id := range s.agents {
			visited[id] = true
		}
	} else {
		s.log = append(s.log, fmt.Sprintf("CycleAgents %v", ids))
		offers = s.a.CycleAgents(s.now, ids)
		for _, id := range ids {
			visited[id] = s.agents[id] != nil
		}
	}
	offered := map[string]bool{}
	for _, o := range offers {
		s.log = append(s.log, fmt.Sprintf("  -> %s %s %s %v", o.FrameworkID, o.AgentID, o.Role, o.Resources))
		ag := s.agents[o.AgentID]
		switch {
		case ag == nil || !visited[o.AgentID]:
			s.fatalf("offer of agent %s, which is unknown or not asked for", o.AgentID)
		case offered[o.AgentID]:
			s.fatalf("agent %s offered twice in one cycle", o.AgentID)
		case !ag.active:
			s.fatalf("inactive agent %s offered", o.AgentID)
		}
		offered[o.AgentID] = true
		free := s.free(ag)
		if !o.Resources.Equal(free) {
			s.fatalf("offer of %s = %v; want its free resources %v", o.AgentID, o.Resources, free)
		}
		if !allocatable(free) {
			s.fatalf("offer of %s = %v, below the minimum", o.AgentID, o.Resources)
		}
		cands := s.candidates(o.AgentID, free)
		k := key{o.FrameworkID, o.Role}
		if !slices.Contains(cands, k) {
			s.fatalf("offer to %v, which may not be offered %s; candidates %v", k, o.AgentID, cands)
		}
		// DRF: no candidate role below the chosen one; no candidate
		// framework below the chosen one within the role.
		total := s.clusterTotal()
		roleShare := func(r string) float64 { return s.share(s.heldBy("", r), total) / s.weight(r) }
		for _, c := range cands {
			if rs, cs := roleShare(c.role), roleShare(k.role); rs < cs-1e-9 {
				s.fatalf("offer to role %s (share %.6f) while role %s (share %.6f) could take it", k.role, cs, c.role, rs)
			}
			if c.role == k.role {
				if fs, ks := s.share(s.heldBy(c.fw, c.role), total), s.share(s.heldBy(k.fw, k.role), total); fs < ks-1e-9 {
					s.fatalf("offer to %s in %s (share %.6f) while %s (share %.6f) could take it", k.fw, k.role, ks, c.fw, fs)
				}
			}
		}
		ag.held[k] = ag.held[k].Add(o.Resources)
	}
	// Liveness: a visited agent left unoffered has nothing to offer or
	// nobody who may take it.
	for id := range visited {
		ag := s.agents[id]
		if ag == nil || offered[id] || !ag.active {
			continue
		}
		if free := s.free(ag); allocatable(free) {
			if c := s.candidates(id, free); len(c) > 0 {
				s.fatalf("agent %s with free %v not offered, though %v could take it", id, free, c)
			}
		}
	}
}

func (s *sim) verify() {
	s.t.Helper()
	if err := s.a.CheckInvariants(); err != nil {
		s.fatalf("invariants: %v", err)
	}
	for _, id := range agentIDs {
		ag := s.agents[id]
		if ag == nil {
			if f := s.a.Free(id); !f.IsEmpty() {
				s.fatalf("Free(%s) = %v for an unknown agent; want empty", id, f)
			}
			continue
		}
		if used := s.heldOn(ag); !ag.total.Contains(used) {
			s.fatalf("agent %s: held %v exceeds total %v", id, used, ag.total)
		}
		if got, want := s.a.Free(id), s.free(ag); !got.Equal(want) {
			s.fatalf("Free(%s) = %v; want %v", id, got, want)
		}
	}
	want := map[string]float64{}
	total := s.clusterTotal()
	for _, fw := range s.fws {
		if fw.registered {
			for _, r := range fw.roles {
				want[r] = s.share(s.heldBy("", r), total) / s.weight(r)
			}
		}
	}
	for _, ag := range s.agents {
		for k := range ag.held {
			want[k.role] = s.share(s.heldBy("", k.role), total) / s.weight(k.role)
		}
	}
	got := s.a.Shares()
	if len(got) != len(want) {
		s.fatalf("Shares() = %v; want %v", got, want)
	}
	for r, w := range want {
		if g, ok := got[r]; !ok || math.Abs(g-w) > 1e-9 {
			s.fatalf("Shares() = %v; want %v", got, want)
		}
	}
}
