package plan

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"corral/kernel/mesos"
	"corral/kernel/resource"
)

func res(t *testing.T, s string) resource.Resources {
	t.Helper()
	r, err := resource.Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return r
}

// off makes an offer on agent id with hostname "h"+id; attrs is "k=v,k=v".
func off(t *testing.T, id, attrs, resources string) Offer {
	t.Helper()
	o := Offer{ID: "o-" + id, AgentID: id, Hostname: "h" + id, Resources: res(t, resources), Attributes: map[string]string{}}
	for kv := range strings.SplitSeq(attrs, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			o.Attributes[k] = v
		}
	}
	return o
}

// on makes a running instance on the agent of offer o.
func on(o Offer, id string) Instance {
	return Instance{TaskID: id, AppID: "/app", ConfigVersion: "v1", State: mesos.TaskRunning,
		AgentID: o.AgentID, Hostname: o.Hostname, Attributes: o.Attributes}
}

func hosts(ps []Placement) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Hostname)
	}
	return out
}

func reasons(rs []Rejection) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Hostname+": "+strings.Join(r.Reasons, " | "))
	}
	return out
}

func small() Spec { return Spec{AppID: "/app", ConfigVersion: "v1", CPUs: 1, Mem: 128} }

func TestPlaceResources(t *testing.T) {
	s := small()
	offers := []Offer{off(t, "b", "", "cpus:2;mem:256;disk:10"), off(t, "a", "", "cpus:1;mem:64")}
	placed, rejected := Place(s, 3, offers, nil)
	if got := hosts(placed); !slices.Equal(got, []string{"hb", "hb"}) {
		t.Errorf("Place() placed on %v; want [hb hb]", got)
	}
	want := []string{
		"ha: insufficient mem: needs 128, offer has 64",
		"hb: insufficient cpus: needs 1, offer has 0 | insufficient mem: needs 128, offer has 0",
	}
	if got := reasons(rejected); !slices.Equal(got, want) {
		t.Errorf("Place() rejected %q; want %q", got, want)
	}
	if len(placed) > 0 && !placed[0].Resources.Equal(res(t, "cpus:1;mem:128")) {
		t.Errorf("Place()[0].Resources = %v; want cpus:1;mem:128", placed[0].Resources)
	}
	if got := Explain(3, placed, rejected); got != "1 instance not placed: insufficient mem on every one of the 2 offers, e.g. insufficient mem: needs 128, offer has 64" {
		t.Errorf("Explain() = %q", got)
	}

	s.Disk, s.GPUs = 20, 1
	_, rejected = Place(s, 1, offers[:1], nil)
	want = []string{"hb: insufficient disk: needs 20, offer has 10 | insufficient gpus: needs 1, offer has 0"}
	if got := reasons(rejected); !slices.Equal(got, want) {
		t.Errorf("Place(disk, gpus) rejected %q; want %q", got, want)
	}

	if p, r := Place(s, 0, offers, nil); p != nil || r != nil {
		t.Errorf("Place(n=0) = %v, %v; want nothing", p, r)
	}
	if got := Explain(2, nil, nil); got != "2 instances not placed: no offers" {
		t.Errorf("Explain(no offers) = %q", got)
	}
	if got := Explain(1, []Placement{{}}, nil); got != "" {
		t.Errorf("Explain(all placed) = %q; want empty", got)
	}
}

func TestPlacePorts(t *testing.T) {
	tests := []struct {
		name     string
		ports    []uint64
		require  bool
		offer    string
		n        int
		want     [][]uint64
		rejected []string
	}{
		{name: "dynamic lowest first across ranges", ports: []uint64{0, 0}, offer: "cpus:10;mem:1000;ports:[31000-31002,31005-31010]", n: 3,
			want: [][]uint64{{31000, 31001}, {31002, 31005}, {31006, 31007}}},
		{name: "service ports without requirePorts are dynamic", ports: []uint64{80, 443}, offer: "cpus:10;mem:1000;ports:[31000-31010]", n: 1,
			want: [][]uint64{{31000, 31001}}},
		{name: "required and dynamic", ports: []uint64{0, 8080}, require: true, offer: "cpus:10;mem:1000;ports:[8000-8100]", n: 2,
			want:     [][]uint64{{8000, 8080}},
			rejected: []string{"hx: port 8080 is not in the offer's ports [8001-8079,8081-8100]"}},
		{name: "required port not offered", ports: []uint64{8080}, require: true, offer: "cpus:10;mem:1000;ports:[31000-32000]", n: 1,
			rejected: []string{"hx: port 8080 is not in the offer's ports [31000-32000]"}},
		{name: "required port twice", ports: []uint64{8080, 8080}, require: true, offer: "cpus:10;mem:1000;ports:[8080-8081]", n: 1,
			rejected: []string{"hx: port 8080 is requested twice"}},
		{name: "no ports offered", ports: []uint64{0}, offer: "cpus:10;mem:1000", n: 1,
			rejected: []string{"hx: insufficient ports: needs 1, offer has 0 free []"}},
		{name: "too few ports", ports: []uint64{0, 0, 0}, offer: "cpus:10;mem:1000;ports:[31000-31001]", n: 1,
			rejected: []string{"hx: insufficient ports: needs 3, offer has 2 free [31000-31001]"}},
		{name: "dynamic skips required", ports: []uint64{31000, 0}, require: true, offer: "cpus:10;mem:1000;ports:[31000-31001]", n: 1,
			want: [][]uint64{{31000, 31001}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := small()
			s.Ports, s.RequirePorts = tc.ports, tc.require
			placed, rejected := Place(s, tc.n, []Offer{off(t, "x", "", tc.offer)}, nil)
			var got [][]uint64
			for _, p := range placed {
				got = append(got, p.Ports)
				var rs []resource.Range
				for _, port := range p.Ports {
					rs = append(rs, resource.Range{Begin: port, End: port})
				}
				if want := res(t, "cpus:1;mem:128").Add(resource.RangesOf(resource.Ports, rs...)); !p.Resources.Equal(want) {
					t.Errorf("Placement.Resources = %v; want %v", p.Resources, want)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("Place() ports = %v; want %v", got, tc.want)
			}
			if r := reasons(rejected); !slices.Equal(r, tc.rejected) {
				t.Errorf("Place() rejected %q; want %q", r, tc.rejected)
			}
		})
	}
}

func TestPlaceOrderIsDeterministic(t *testing.T) {
	a1, a2, b := off(t, "a", "", "cpus:1;mem:128"), off(t, "a", "", "cpus:1;mem:128"), off(t, "b", "", "cpus:1;mem:128")
	a2.ID = "o-a0"
	for _, offers := range [][]Offer{{b, a1, a2}, {a2, b, a1}, {a1, a2, b}} {
		placed, _ := Place(small(), 3, offers, nil)
		var ids []string
		for _, p := range placed {
			ids = append(ids, p.OfferID)
		}
		if !slices.Equal(ids, []string{"o-a", "o-a0", "o-b"}) {
			t.Errorf("Place() used offers %v; want [o-a o-a0 o-b]", ids)
		}
	}
}

func TestPlaceConstraints(t *testing.T) {
	one := "cpus:1;mem:128"   // room for one instance
	many := "cpus:8;mem:1024" // room for eight
	tests := []struct {
		name     string
		c        Constraint
		offers   []Offer
		existing []Instance
		n        int
		placed   []string
		rejected []string
		explain  string
	}{
		{name: "UNIQUE hostname, 2 agents, 3 instances", c: Constraint{Field: "hostname", Operator: OpUnique, Value: ""},
			offers: []Offer{off(t, "2", "", many), off(t, "1", "", many)}, n: 3,
			placed: []string{"h1", "h2"},
			rejected: []string{
				`h1: constraint [hostname UNIQUE] not met: hostname "h1" already runs an instance`,
				`h2: constraint [hostname UNIQUE] not met: hostname "h2" already runs an instance`,
			},
			explain: "1 instance not placed: constraint [hostname UNIQUE] is not satisfiable: every offered agent already runs an instance"},
		{name: "UNIQUE @hostname counts existing instances", c: Constraint{Field: "@hostname", Operator: OpUnique, Value: ""},
			offers: []Offer{off(t, "1", "", many), off(t, "2", "", many)}, existing: []Instance{on(off(t, "1", "", many), "x")}, n: 3,
			placed:   []string{"h2"},
			rejected: []string{`h1: constraint [@hostname UNIQUE] not met: @hostname "h1" already runs an instance`, `h2: constraint [@hostname UNIQUE] not met: @hostname "h2" already runs an instance`}},
		{name: "UNIQUE ignores instances being killed and terminal ones", c: Constraint{Field: "hostname", Operator: OpUnique, Value: ""},
			offers: []Offer{off(t, "1", "", many)},
			existing: []Instance{with(on(off(t, "1", "", many), "x"), func(i *Instance) { i.Killing = true }),
				with(on(off(t, "1", "", many), "y"), func(i *Instance) { i.State = mesos.TaskFailed })}, n: 1,
			placed: []string{"h1"}},
		{name: "UNIQUE attribute missing", c: Constraint{Field: "rack", Operator: OpUnique, Value: ""},
			offers: []Offer{off(t, "1", "", one), off(t, "2", "rack=r1", one)}, n: 2,
			placed: []string{"h2"},
			rejected: []string{`h1: constraint [rack UNIQUE] not met: agent has no attribute "rack"`,
				`h2: constraint [rack UNIQUE] not met: rack "r1" already runs an instance | insufficient cpus: needs 1, offer has 0 | insufficient mem: needs 128, offer has 0`},
			explain: `1 instance not placed: constraint [rack UNIQUE] not met (1 of 2 offers); constraint [rack UNIQUE] not met: agent has no attribute (1 of 2 offers); insufficient cpus (1 of 2 offers); insufficient mem (1 of 2 offers)`},
		{name: "CLUSTER with value", c: Constraint{Field: "rack", Operator: OpCluster, Value: "r1"},
			offers: []Offer{off(t, "1", "rack=r2", many), off(t, "2", "rack=r1", "cpus:2;mem:256"), off(t, "3", "", many)}, n: 3,
			placed: []string{"h2", "h2"},
			rejected: []string{
				`h1: constraint [rack CLUSTER r1] not met: rack is "r2"`,
				`h2: insufficient cpus: needs 1, offer has 0 | insufficient mem: needs 128, offer has 0`,
				`h3: constraint [rack CLUSTER r1] not met: agent has no attribute "rack"`,
			},
			explain: `1 instance not placed: constraint [rack CLUSTER r1] not met (1 of 3 offers); constraint [rack CLUSTER r1] not met: agent has no attribute (1 of 3 offers); insufficient cpus (1 of 3 offers); insufficient mem (1 of 3 offers)`},
		{name: "CLUSTER without value pins to the first", c: Constraint{Field: "rack", Operator: OpCluster, Value: ""},
			offers: []Offer{off(t, "1", "rack=r2", one), off(t, "2", "rack=r1", one), off(t, "3", "rack=r2", one)}, n: 3,
			placed:   []string{"h1", "h3"},
			rejected: []string{`h1: insufficient cpus: needs 1, offer has 0 | insufficient mem: needs 128, offer has 0`, `h2: constraint [rack CLUSTER] not met: rack is "r1", the app runs on "r2"`, `h3: insufficient cpus: needs 1, offer has 0 | insufficient mem: needs 128, offer has 0`}},
		{name: "CLUSTER without value follows existing", c: Constraint{Field: "rack", Operator: OpCluster, Value: ""},
			offers:   []Offer{off(t, "1", "rack=r2", one), off(t, "2", "rack=r1", one)},
			existing: []Instance{on(off(t, "9", "rack=r1", one), "x")}, n: 1,
			placed:   []string{"h2"},
			rejected: []string{`h1: constraint [rack CLUSTER] not met: rack is "r2", the app runs on "r1"`}},
		{name: "GROUP_BY spreads evenly", c: Constraint{Field: "rack", Operator: OpGroupBy, Value: ""},
			offers: []Offer{off(t, "1", "rack=r1", many), off(t, "2", "rack=r2", many)},
			existing: []Instance{on(off(t, "8", "rack=r1", one), "x"), on(off(t, "8", "rack=r1", one), "y"),
				on(off(t, "9", "rack=r2", one), "z")}, n: 3,
			placed: []string{"h2", "h2"},
			rejected: []string{
				`h1: constraint [rack GROUP_BY] not met: rack "r1" has 2 instances, "r2" has 1`,
				`h2: constraint [rack GROUP_BY] not met: rack "r2" has 3 instances, "r1" has 2`,
			}},
		{name: "GROUP_BY alternates", c: Constraint{Field: "rack", Operator: OpGroupBy, Value: ""},
			offers: []Offer{off(t, "1", "rack=r1", one), off(t, "2", "rack=r1", one), off(t, "3", "rack=r2", one), off(t, "4", "rack=r2", one)},
			n:      4, placed: []string{"h1", "h2", "h3", "h4"},
			rejected: []string{"h1: insufficient cpus: needs 1, offer has 0 | insufficient mem: needs 128, offer has 0", "h2: insufficient cpus: needs 1, offer has 0 | insufficient mem: needs 128, offer has 0", "h3: insufficient cpus: needs 1, offer has 0 | insufficient mem: needs 128, offer has 0"}},
		{name: "GROUP_BY without count accepts a lone known value", c: Constraint{Field: "rack", Operator: OpGroupBy, Value: ""},
			offers:   []Offer{off(t, "1", "rack=r1", one)},
			existing: []Instance{on(off(t, "8", "rack=r1", one), "x")}, n: 1,
			placed: []string{"h1"}},
		{name: "GROUP_BY with count waits for unseen values", c: Constraint{Field: "rack", Operator: OpGroupBy, Value: "3"},
			offers:   []Offer{off(t, "1", "rack=r1", one), off(t, "2", "rack=r2", one), off(t, "3", "rack=r3", one)},
			existing: []Instance{on(off(t, "8", "rack=r1", one), "x"), on(off(t, "9", "rack=r2", one), "y")}, n: 2,
			placed: []string{"h3"},
			rejected: []string{
				`h1: constraint [rack GROUP_BY 3] not met: rack "r1" has 1 instance, 3 values are expected and only 2 are in use`,
				`h2: constraint [rack GROUP_BY 3] not met: rack "r2" has 1 instance, 3 values are expected and only 2 are in use`,
				`h3: insufficient cpus: needs 1, offer has 0 | insufficient mem: needs 128, offer has 0`,
			}},
		{name: "LIKE full match", c: Constraint{Field: "rack", Operator: OpLike, Value: "r[12]"},
			offers: []Offer{off(t, "1", "rack=r1", one), off(t, "2", "rack=r12", one), off(t, "3", "rack=xr1", one), off(t, "4", "", one)}, n: 1,
			placed: []string{"h1"}},
		{name: "LIKE rejections", c: Constraint{Field: "rack", Operator: OpLike, Value: "r[12]"},
			offers: []Offer{off(t, "2", "rack=r12", one), off(t, "3", "rack=xr1", one), off(t, "4", "", one)}, n: 1,
			rejected: []string{
				`h2: constraint [rack LIKE r[12]] not met: rack "r12" does not match "r[12]"`,
				`h3: constraint [rack LIKE r[12]] not met: rack "xr1" does not match "r[12]"`,
				`h4: constraint [rack LIKE r[12]] not met: agent has no attribute "rack"`,
			}},
		{name: "UNLIKE full match, missing attribute passes", c: Constraint{Field: "rack", Operator: OpUnlike, Value: "r1"},
			offers: []Offer{off(t, "1", "rack=r1", one), off(t, "2", "rack=r11", one), off(t, "3", "", one)}, n: 3,
			placed: []string{"h2", "h3"},
			rejected: []string{
				`h1: constraint [rack UNLIKE r1] not met: rack "r1" matches "r1"`,
				`h2: insufficient cpus: needs 1, offer has 0 | insufficient mem: needs 128, offer has 0`,
				`h3: insufficient cpus: needs 1, offer has 0 | insufficient mem: needs 128, offer has 0`,
			}},
		{name: "MAX_PER", c: Constraint{Field: "rack", Operator: OpMaxPer, Value: "2"},
			offers:   []Offer{off(t, "1", "rack=r1", many), off(t, "2", "rack=r2", many)},
			existing: []Instance{on(off(t, "8", "rack=r1", one), "x"), on(off(t, "8", "rack=r1", one), "y")}, n: 3,
			placed: []string{"h2", "h2"},
			rejected: []string{
				`h1: constraint [rack MAX_PER 2] not met: rack "r1" already has 2 instances`,
				`h2: constraint [rack MAX_PER 2] not met: rack "r2" already has 2 instances`,
			},
			explain: `1 instance not placed: constraint [rack MAX_PER 2] is not satisfiable on any of the 2 offered agents, e.g. rack "r1" already has 2 instances`},
		{name: "IS text and number", c: Constraint{Field: "gen", Operator: OpIs, Value: "2"},
			offers: []Offer{off(t, "1", "gen=3", one), off(t, "2", "gen=2.0", one), off(t, "3", "gen=2", one), off(t, "4", "", one)}, n: 2,
			placed:   []string{"h2", "h3"},
			rejected: []string{`h1: constraint [gen IS 2] not met: gen is "3"`, `h2: insufficient cpus: needs 1, offer has 0 | insufficient mem: needs 128, offer has 0`}},
		{name: "IS missing attribute", c: Constraint{Field: "gen", Operator: OpIs, Value: "2"},
			offers: []Offer{off(t, "4", "", one)}, n: 1,
			rejected: []string{`h4: constraint [gen IS 2] not met: agent has no attribute "gen"`}},
		{name: "@zone names the zone attribute", c: Constraint{Field: "@zone", Operator: OpIs, Value: "z1"},
			offers: []Offer{off(t, "1", "zone=z2", one), off(t, "2", "zone=z1", one)}, n: 1,
			placed:   []string{"h2"},
			rejected: []string{`h1: constraint [@zone IS z1] not met: @zone is "z2"`}},
		{name: "invalid constraint rejects every offer", c: Constraint{Field: "rack", Operator: "SOMETIMES", Value: ""},
			offers: []Offer{off(t, "1", "rack=r1", one)}, n: 1,
			rejected: []string{`h1: constraint [rack SOMETIMES] is invalid: constraint [rack SOMETIMES]: unknown operator "SOMETIMES" (want one of UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS)`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := small()
			s.Constraints = []Constraint{tc.c}
			placed, rejected := Place(s, tc.n, tc.offers, tc.existing)
			if got := hosts(placed); !slices.Equal(got, tc.placed) {
				t.Errorf("Place() placed on %v; want %v", got, tc.placed)
			}
			if got := reasons(rejected); !slices.Equal(got, tc.rejected) {
				t.Errorf("Place() rejected\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.rejected, "\n"))
			}
			if tc.explain != "" {
				if got := Explain(tc.n, placed, rejected); got != tc.explain {
					t.Errorf("Explain() = %q; want %q", got, tc.explain)
				}
			}
		})
	}
}

func TestParseConstraint(t *testing.T) {
	good := []struct{ f, op, v string }{
		{"hostname", "UNIQUE", ""}, {"@hostname", "unique", ""}, {"rack", "CLUSTER", ""}, {"rack", "CLUSTER", "r1"},
		{"rack", "GROUP_BY", ""}, {"rack", "GROUP_BY", "3"}, {"rack", "LIKE", "r[0-9]+"}, {"rack", "UNLIKE", "r1"},
		{"rack", "MAX_PER", "2"}, {"gen", "IS", "2"},
	}
	for _, g := range good {
		c, err := ParseConstraint(g.f, g.op, g.v)
		if err != nil || c.Operator != strings.ToUpper(g.op) {
			t.Errorf("ParseConstraint(%q, %q, %q) = %v, %v; want ok", g.f, g.op, g.v, c, err)
		}
	}
	bad := []struct{ f, op, v, msg string }{
		{"", "UNIQUE", "", "field"},
		{"hostname", "UNIQUE", "x", "takes no value"},
		{"rack", "GROUP_BY", "x", "positive integer"},
		{"rack", "MAX_PER", "", "positive integer"},
		{"rack", "MAX_PER", "0", "positive integer"},
		{"rack", "LIKE", "", "regular expression"},
		{"rack", "UNLIKE", "(", "invalid regular expression"},
		{"rack", "IS", "", "needs a value"},
		{"rack", "NEAR", "x", "unknown operator"},
	}
	for _, b := range bad {
		if _, err := ParseConstraint(b.f, b.op, b.v); err == nil || !strings.Contains(err.Error(), b.msg) {
			t.Errorf("ParseConstraint(%q, %q, %q) = %v; want an error about %q", b.f, b.op, b.v, err, b.msg)
		}
	}
}

// TestPlaceNeverOverOffers checks, over random offers and specs, that the
// placements on each offer fit in it together and respect UNIQUE.
func TestPlaceNeverOverOffers(t *testing.T) {
	for seed := range 300 {
		var offers []Offer
		for i := range 1 + seed%5 {
			offers = append(offers, off(t, fmt.Sprint(i%3), fmt.Sprintf("rack=r%d", i%2),
				fmt.Sprintf("cpus:%d;mem:%d;ports:[31000-%d]", 1+(seed*7+i)%5, 128*(1+(seed+i)%4), 31000+(seed*3+i)%6)))
			offers[i].ID = fmt.Sprintf("o%d", i)
		}
		s := small()
		s.Ports = make([]uint64, seed%3)
		if seed%4 == 0 {
			s.Constraints = []Constraint{{Field: "hostname", Operator: OpUnique, Value: ""}}
		}
		placed, rejected := Place(s, 1+seed%7, offers, nil)
		used := map[string]resource.Resources{}
		hostsUsed := map[string]int{}
		for _, p := range placed {
			used[p.OfferID] = used[p.OfferID].Add(p.Resources)
			hostsUsed[p.Hostname]++
			if len(p.Ports) != len(s.Ports) {
				t.Fatalf("seed %d: placement has ports %v; want %d", seed, p.Ports, len(s.Ports))
			}
		}
		for _, o := range offers {
			if !o.Resources.Contains(used[o.ID]) {
				t.Fatalf("seed %d: offer %s %v over-used: %v", seed, o.ID, o.Resources, used[o.ID])
			}
		}
		for h, c := range hostsUsed {
			if len(s.Constraints) > 0 && c > 1 {
				t.Fatalf("seed %d: %d instances on %s despite UNIQUE", seed, c, h)
			}
		}
		if len(placed) < 1+seed%7 && len(rejected) == 0 {
			t.Fatalf("seed %d: %d placed of %d and no rejection", seed, len(placed), 1+seed%7)
		}
		for _, r := range rejected {
			if len(r.Reasons) == 0 {
				t.Fatalf("seed %d: rejection without reasons: %+v", seed, r)
			}
		}
	}
}

// TestPlaceDocker: an app in a Docker container goes only to agents that
// run Docker containers, and the others say why not.
func TestPlaceDocker(t *testing.T) {
	s := small()
	s.Docker = true
	offers := []Offer{off(t, "a", "", "cpus:4;mem:1024"), off(t, "b", "corral.containerizers=mesos", "cpus:4;mem:1024"),
		off(t, "c", "corral.containerizers=docker,mesos", "cpus:1;mem:1024")}
	placed, rejected := Place(s, 2, offers, nil)
	if got := hosts(placed); !slices.Equal(got, []string{"hc"}) {
		t.Errorf("Place() placed on %v; want [hc]", got)
	}
	want := []string{
		"ha: no Docker: the agent runs only mesos tasks (start it with --containerizers docker,mesos and a Docker engine)",
		"hb: no Docker: the agent runs only mesos tasks (start it with --containerizers docker,mesos and a Docker engine)",
		"hc: insufficient cpus: needs 1, offer has 0",
	}
	if got := reasons(rejected); !slices.Equal(got, want) {
		t.Errorf("Place() rejected %q; want %q", got, want)
	}
	s.Docker = false
	if placed, _ := Place(s, 2, offers, nil); len(placed) != 2 || placed[0].Hostname != "ha" {
		t.Errorf("a command app was placed on %v; want any agent", hosts(placed))
	}
}
