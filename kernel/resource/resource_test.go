package resource_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"corral/internal/purity"
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

func parse(t testing.TB, s string) resource.Resources {
	t.Helper()
	r, err := resource.Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return r
}

func TestParseString(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"names sorted, kinds in order", "zones:{b,a};ports:[31000-32000,40000-40010];mem:8192;disk:10000;cpus:4",
			"cpus:4;disk:10000;mem:8192;ports:[31000-32000,40000-40010];zones:{a,b}"},
		{"spaces and empty parts", " cpus : 1.5 ;; mem:256 ;", "cpus:1.5;mem:256"},
		{"three decimals, rounded", "cpus:1.0006;mem:1.0004", "cpus:1.001;mem:1"},
		{"rounds to zero", "cpus:0.0004", ""},
		{"zero", "cpus:0;mem:0", ""},
		{"exponent", "mem:1e3", "mem:1000"},
		{"range coalescing", "ports:[5-6,1-2,3-4,10-12,11-15]", "ports:[1-6,10-15]"},
		{"single value range", "ports:[80]", "ports:[80-80]"},
		{"empty ranges", "ports:[]", ""},
		{"range at the top of uint64", "ids:[18446744073709551614-18446744073709551615,0-0]",
			"ids:[0-0,18446744073709551614-18446744073709551615]"},
		{"set sorted and deduplicated", "tags:{ b , a,b,}", "tags:{a,b}"},
		{"empty set", "tags:{}", ""},
		{"largest amount", "mem:1e15", "mem:1000000000000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := parse(t, tc.in)
			if got := r.String(); got != tc.want {
				t.Fatalf("Parse(%q).String() = %q; want %q", tc.in, got, tc.want)
			}
			if back := parse(t, r.String()); !back.Equal(r) {
				t.Errorf("Parse(%q) = %v; want %v", r.String(), back, r)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string // substrings of the error
	}{
		{"no value", "cpus", []string{`"cpus"`, "name:value"}},
		{"no name", ":4", []string{`":4"`, "name:value"}},
		{"empty value", "cpus:", []string{`"cpus:"`, "name:value"}},
		{"role", "cpus(web):2", []string{`"cpus(web):2"`, "roles"}},
		{"twice", "cpus:1;mem:2;cpus:2", []string{`"cpus"`, "twice"}},
		{"not a number", "cpus:abc", []string{`"cpus"`, "not a number"}},
		{"NaN", "cpus:NaN", []string{`"cpus"`, "not a number"}},
		{"infinite", "mem:Inf", []string{`"mem"`, "not a number"}},
		{"negative", "mem:-1", []string{`"mem"`, "negative"}},
		{"too large", "mem:1e300", []string{`"mem"`, "too large"}},
		{"unclosed ranges", "ports:[1-2", []string{`"ports"`, "]"}},
		{"reversed range", "ports:[2-1]", []string{`"ports"`, "begin after end"}},
		{"bad range", "ports:[a-b]", []string{`"ports"`, `"a-b"`}},
		{"negative range", "ports:[-1-2]", []string{`"ports"`, "bad range"}},
		{"unclosed set", "zones:{a,b", []string{`"zones"`, "}"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := resource.Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, nil; want an error", tc.in, r)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse(%q) error = %q; want it to contain %q", tc.in, err, w)
				}
			}
			if !r.IsEmpty() {
				t.Errorf("Parse(%q) = %v with an error; want empty", tc.in, r)
			}
		})
	}
}

func TestArithmetic(t *testing.T) {
	for _, tc := range []struct {
		name     string
		a, b     string
		add, sub string // a+b, a-b
		contains bool   // a contains b
		missing  string // what b needs beyond a
	}{
		{"scalars", "cpus:1.5;mem:100", "cpus:0.25;mem:10",
			"cpus:1.75;mem:110", "cpus:1.25;mem:90", true, ""},
		{"scalars saturate", "cpus:1;mem:100", "cpus:2;disk:5",
			"cpus:3;disk:5;mem:100", "mem:100", false, "cpus:1;disk:5"},
		{"scalars exact in milli units", "cpus:0.001", "cpus:0.001",
			"cpus:0.002", "", true, ""},
		{"scalar just over", "cpus:1", "cpus:1.001",
			"cpus:2.001", "", false, "cpus:0.001"},
		{"ranges adjacent coalesce", "ports:[1-5]", "ports:[6-10]",
			"ports:[1-10]", "ports:[1-5]", false, "ports:[6-10]"},
		{"ranges with a gap", "ports:[1-5]", "ports:[7-10]",
			"ports:[1-5,7-10]", "ports:[1-5]", false, "ports:[7-10]"},
		{"ranges overlapping", "ports:[1-5]", "ports:[3-8]",
			"ports:[1-8]", "ports:[1-2]", false, "ports:[6-8]"},
		{"subtraction splits a range", "ports:[1-10]", "ports:[4-6]",
			"ports:[1-10]", "ports:[1-3,7-10]", true, ""},
		{"subtraction at the edges", "ports:[1-10]", "ports:[1-1,10-10]",
			"ports:[1-10]", "ports:[2-9]", true, ""},
		{"subtraction across ranges", "ports:[1-5,10-15]", "ports:[3-12]",
			"ports:[1-15]", "ports:[1-2,13-15]", false, "ports:[6-9]"},
		{"subtraction of everything", "ports:[1-10]", "ports:[0-20]",
			"ports:[0-20]", "", false, "ports:[0-0,11-20]"},
		{"contains needs one covering range", "ports:[1-5,7-10]", "ports:[5-7]",
			"ports:[1-10]", "ports:[1-4,8-10]", false, "ports:[6-6]"},
		{"contains several pieces", "ports:[1-10]", "ports:[2-3,5-6]",
			"ports:[1-10]", "ports:[1-1,4-4,7-10]", true, ""},
		{"top of uint64", "ids:[18446744073709551610-18446744073709551615]", "ids:[18446744073709551615-18446744073709551615]",
			"ids:[18446744073709551610-18446744073709551615]", "ids:[18446744073709551610-18446744073709551614]", true, ""},
		{"sets", "zones:{a,b,c}", "zones:{b}",
			"zones:{a,b,c}", "zones:{a,c}", true, ""},
		{"sets union", "zones:{a}", "zones:{a,b}",
			"zones:{a,b}", "", false, "zones:{b}"},
		{"empty b", "cpus:1;ports:[1-2];zones:{a}", "",
			"cpus:1;ports:[1-2];zones:{a}", "cpus:1;ports:[1-2];zones:{a}", true, ""},
		{"empty a", "", "cpus:1;ports:[1-2];zones:{a}",
			"cpus:1;ports:[1-2];zones:{a}", "", false, "cpus:1;ports:[1-2];zones:{a}"},
		{"mixed kinds", "cpus:4;mem:4096;ports:[31000-31009];zones:{a,b}", "cpus:1;mem:1024;ports:[31000-31000];zones:{a}",
			"cpus:5;mem:5120;ports:[31000-31009];zones:{a,b}", "cpus:3;mem:3072;ports:[31001-31009];zones:{b}", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := parse(t, tc.a), parse(t, tc.b)
			aText, bText := a.String(), b.String()
			if got := a.Add(b).String(); got != tc.add {
				t.Errorf("(%v).Add(%v) = %q; want %q", a, b, got, tc.add)
			}
			if got := a.Sub(b).String(); got != tc.sub {
				t.Errorf("(%v).Sub(%v) = %q; want %q", a, b, got, tc.sub)
			}
			if got := a.Contains(b); got != tc.contains {
				t.Errorf("(%v).Contains(%v) = %v; want %v", a, b, got, tc.contains)
			}
			if got := a.Missing(b).String(); got != tc.missing {
				t.Errorf("(%v).Missing(%v) = %q; want %q", a, b, got, tc.missing)
			}
			if a.String() != aText || b.String() != bText {
				t.Errorf("operands changed: a %v (was %s), b %v (was %s)", a, aText, b, bText)
			}
		})
	}
}

func TestFixedPoint(t *testing.T) {
	var r resource.Resources
	for range 10 {
		r = r.Add(resource.Scalar(resource.CPUs, 0.1))
	}
	if got := r.Scalar(resource.CPUs); got != 1 {
		t.Errorf("ten times cpus:0.1 = %v; want exactly 1", got)
	}
	for range 10 {
		r = r.Sub(resource.Scalar(resource.CPUs, 0.1))
	}
	if !r.IsEmpty() {
		t.Errorf("after subtracting it back: %v; want empty", r)
	}
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0.0004, ""}, {-1, ""}, {math.NaN(), ""}, {0.0015, "cpus:0.002"}, {2.5, "cpus:2.5"},
	} {
		if got := resource.Scalar(resource.CPUs, tc.in).String(); got != tc.want {
			t.Errorf("Scalar(cpus, %v) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestAccessors(t *testing.T) {
	r := parse(t, "cpus:2;mem:64;gpus:1;ports:[1-3,10-11];zones:{a,b}")
	if got, want := strings.Join(r.ScalarNames(), ","), "cpus,gpus,mem"; got != want {
		t.Errorf("ScalarNames() = %q; want %q", got, want)
	}
	if got := r.NumRangeValues(resource.Ports); got != 5 {
		t.Errorf("NumRangeValues(ports) = %d; want 5", got)
	}
	if got := r.Scalars().String(); got != "cpus:2;gpus:1;mem:64" {
		t.Errorf("Scalars() = %q; want %q", got, "cpus:2;gpus:1;mem:64")
	}
	if got := r.Scalar("nope"); got != 0 {
		t.Errorf("Scalar(nope) = %v; want 0", got)
	}
	if got := strings.Join(r.Set("zones"), ","); got != "a,b" {
		t.Errorf("Set(zones) = %q; want a,b", got)
	}
	if !resource.RangesOf(resource.Ports, resource.Range{Begin: 5, End: 1}).IsEmpty() {
		t.Errorf("RangesOf with begin > end is not empty")
	}
	if !resource.SetOf("zones").IsEmpty() || !(resource.Resources{}).IsEmpty() {
		t.Errorf("empty SetOf or zero Resources is not empty")
	}
}

func TestWire(t *testing.T) {
	r := parse(t, "cpus:1.5;mem:256;ports:[31000-31002,31005-31005];zones:{a,b}")
	ws := r.Wire("web")
	var names []string
	for _, w := range ws {
		names = append(names, w.Name+"/"+string(w.Type))
		if w.Role != "*" || w.AllocationInfo == nil || w.AllocationInfo.Role != "web" {
			t.Errorf("Wire(web): %s has role %q, allocation_info %+v; want * and web", w.Name, w.Role, w.AllocationInfo)
		}
	}
	if got, want := strings.Join(names, " "), "cpus/SCALAR mem/SCALAR ports/RANGES zones/SET"; got != want {
		t.Errorf("Wire order = %q; want %q", got, want)
	}
	if ws := r.Wire(""); ws[0].AllocationInfo != nil {
		t.Errorf("Wire(\"\") sets allocation_info %+v; want none", ws[0].AllocationInfo)
	}

	// Through JSON and back, as a framework would see it.
	b, err := json.Marshal(ws)
	if err != nil {
		t.Fatal(err)
	}
	var decoded []mesos.Resource
	if err := json.Unmarshal(b, &decoded); err != nil {
		t.Fatal(err)
	}
	back, err := resource.FromWire(decoded)
	if err != nil {
		t.Fatalf("FromWire(Wire(%v)): %v", r, err)
	}
	if !back.Equal(r) {
		t.Errorf("FromWire(Wire(%v)) = %v", r, back)
	}

	// Editing the messages must not change r.
	for _, w := range ws {
		if w.Set != nil {
			w.Set.Item[0] = "changed"
		}
		if w.Ranges != nil {
			w.Ranges.Range[0].Begin = 0
		}
	}
	if got := r.String(); got != "cpus:1.5;mem:256;ports:[31000-31002,31005-31005];zones:{a,b}" {
		t.Errorf("editing Wire's output changed r to %s", got)
	}
}

func TestFromWireJSON(t *testing.T) {
	// Lenient decoding of a framework's JSON: numbers as strings, entries
	// with the same name adding up.
	const in = `[
		{"name":"cpus","type":"SCALAR","scalar":{"value":"0.5"},"role":"*"},
		{"name":"cpus","type":"SCALAR","scalar":{"value":1}},
		{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":"31000","end":31001}]}},
		{"name":"zones","type":"SET","set":{"item":["b","a"]},"allocation_info":{"role":"web"}}
	]`
	var ws []mesos.Resource
	if err := json.Unmarshal([]byte(in), &ws); err != nil {
		t.Fatal(err)
	}
	r, err := resource.FromWire(ws)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.String(), "cpus:1.5;ports:[31000-31001];zones:{a,b}"; got != want {
		t.Errorf("FromWire = %q; want %q", got, want)
	}
}

func TestFromWireErrors(t *testing.T) {
	scalar := func(v float64) *mesos.ScalarValue { return &mesos.ScalarValue{Value: mesos.Float(v)} }
	for _, tc := range []struct {
		name string
		in   []mesos.Resource
		want []string
	}{
		{"no name", []mesos.Resource{{Type: mesos.Scalar, Scalar: scalar(1)}},
			[]string{"resources[0]", "name is required"}},
		{"reserved role", []mesos.Resource{{Name: "cpus", Type: mesos.Scalar, Scalar: scalar(1), Role: "web"}},
			[]string{"resources[0]", `"cpus"`, "reserved"}},
		{"reservations", []mesos.Resource{{Name: "mem", Type: mesos.Scalar, Scalar: scalar(1), Reservations: []mesos.ReservationInfo{{Type: "DYNAMIC", Role: "web"}}}},
			[]string{`"mem"`, "reserved"}},
		{"scalar without value", []mesos.Resource{{Name: "cpus", Type: mesos.Scalar}},
			[]string{`"cpus"`, "without scalar"}},
		{"negative", []mesos.Resource{{Name: "cpus", Type: mesos.Scalar, Scalar: scalar(-1)}},
			[]string{`"cpus"`, "invalid amount"}},
		{"NaN", []mesos.Resource{{Name: "cpus", Type: mesos.Scalar, Scalar: scalar(math.NaN())}},
			[]string{`"cpus"`, "invalid amount"}},
		{"too large", []mesos.Resource{{Name: "mem", Type: mesos.Scalar, Scalar: scalar(1e300)}},
			[]string{`"mem"`, "invalid amount"}},
		{"ranges without value", []mesos.Resource{{Name: "ports", Type: mesos.Ranges}},
			[]string{`"ports"`, "without ranges"}},
		{"reversed range", []mesos.Resource{{Name: "cpus", Type: mesos.Scalar, Scalar: scalar(1)}, {Name: "ports", Type: mesos.Ranges, Ranges: &mesos.RangesValue{Range: []mesos.Range{{Begin: 9, End: 1}}}}},
			[]string{"resources[1]", `"ports"`, "9-1"}},
		{"set without value", []mesos.Resource{{Name: "zones", Type: mesos.Set}},
			[]string{`"zones"`, "without set"}},
		{"unknown type", []mesos.Resource{{Name: "x", Type: "TEXT"}},
			[]string{`"x"`, "unknown type"}},
		{"one name, two types", []mesos.Resource{{Name: "ports", Type: mesos.Scalar, Scalar: scalar(1)}, {Name: "ports", Type: mesos.Ranges, Ranges: &mesos.RangesValue{}}},
			[]string{"resources[1]", `"ports"`, "RANGES", "SCALAR"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := resource.FromWire(tc.in)
			if err == nil {
				t.Fatalf("FromWire(%+v) = %v, nil; want an error", tc.in, r)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("FromWire error = %q; want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestParseAttributes(t *testing.T) {
	got, err := resource.ParseAttributes(" rack:r1 ; zone:1.5;ports:[3-4,1-2,8];tags:{x, y};url:http://h:80/x;ssd:true")
	if err != nil {
		t.Fatal(err)
	}
	want := []mesos.Attribute{
		{Name: "rack", Type: mesos.Text, Text: &mesos.TextValue{Value: "r1"}},
		{Name: "zone", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 1.5}},
		{Name: "ports", Type: mesos.Ranges, Ranges: &mesos.RangesValue{Range: []mesos.Range{{Begin: 1, End: 4}, {Begin: 8, End: 8}}}},
		{Name: "tags", Type: mesos.Set, Set: &mesos.SetValue{Item: []string{"x", "y"}}},
		{Name: "url", Type: mesos.Text, Text: &mesos.TextValue{Value: "http://h:80/x"}},
		{Name: "ssd", Type: mesos.Text, Text: &mesos.TextValue{Value: "true"}},
	}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Errorf("ParseAttributes = %s; want %s", gb, wb)
	}
	if got, err := resource.ParseAttributes(""); err != nil || len(got) != 0 {
		t.Errorf(`ParseAttributes("") = %v, %v; want none, nil`, got, err)
	}

	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"rack", []string{`"rack"`, "name:value"}},
		{"rack:", []string{`"rack:"`, "name:value"}},
		{"rack:a;rack:b", []string{`"rack"`, "twice"}},
		{"ports:[1-2", []string{`"ports"`, "]"}},
		{"ports:[2-1]", []string{`"ports"`, "begin after end"}},
	} {
		if _, err := resource.ParseAttributes(tc.in); err == nil {
			t.Errorf("ParseAttributes(%q) = nil error; want one", tc.in)
		} else {
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ParseAttributes(%q) error = %q; want it to contain %q", tc.in, err, w)
				}
			}
		}
	}
}

// TestPure keeps the value type pure: no I/O, clock or goroutines.
func TestPure(t *testing.T) {
	purity.Check(t, "corral/kernel/mesos", "errors", "fmt", "math", "slices", "sort", "strconv", "strings")
}
