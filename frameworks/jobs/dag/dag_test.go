package dag

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		parents map[string][]string
		want    *Error // nil: no error
	}{
		{"empty", nil, nil},
		{"one scheduled job", map[string][]string{"a": nil}, nil},
		{"chain", map[string][]string{"a": nil, "b": {"a"}, "c": {"b"}}, nil},
		{"diamond", map[string][]string{"a": nil, "b": {"a"}, "c": {"a"}, "d": {"b", "c"}}, nil},
		{"duplicate parent is not a cycle", map[string][]string{"a": nil, "b": {"a", "a"}}, nil},
		{"unknown parent", map[string][]string{"a": nil, "b": {"a", "zz"}},
			&Error{Job: "b", Problem: `unknown parent "zz"`}},
		{"unknown parent is found before a cycle", map[string][]string{"a": {"a"}, "b": {"x"}},
			&Error{Job: "b", Problem: `unknown parent "x"`}},
		{"own parent", map[string][]string{"a": {"a"}},
			&Error{Job: "a", Problem: "cycle: a -> a", Cycle: []string{"a", "a"}}},
		{"three-cycle written parent to child", map[string][]string{"a": {"c"}, "b": {"a"}, "c": {"b"}},
			&Error{Job: "a", Problem: "cycle: a -> b -> c -> a", Cycle: []string{"a", "b", "c", "a"}}},
		{"cycle below a root", map[string][]string{"root": nil, "x": {"root", "z"}, "y": {"x"}, "z": {"y"}},
			&Error{Job: "x", Problem: "cycle: x -> y -> z -> x", Cycle: []string{"x", "y", "z", "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.parents)
			if tt.want == nil {
				if err != nil {
					t.Errorf("Check(%v) = %v; want nil", tt.parents, err)
				}
				return
			}
			var got *Error
			if !errors.As(err, &got) {
				t.Fatalf("Check(%v) = %v; want *Error %v", tt.parents, err, tt.want)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Check(%v) differs (-want +got):\n%s", tt.parents, d)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	err := Check(map[string][]string{"a": {"b"}, "b": {"a"}})
	if got, want := err.Error(), `job "a": cycle: a -> b -> a`; got != want {
		t.Errorf("Check(a<->b).Error() = %q; want %q", got, want)
	}
}

// randomGraph has up to 8 jobs; each possible edge is present with
// probability density. Self-edges are possible.
func randomGraph(r *rand.Rand, density float64) map[string][]string {
	n := 1 + r.IntN(8)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("j%d", i)
	}
	g := make(map[string][]string, n)
	for _, child := range names {
		g[child] = nil
		for _, p := range names {
			if r.Float64() < density {
				g[child] = append(g[child], p)
			}
		}
	}
	return g
}

// acyclic is the reference: Kahn's algorithm, which removes jobs whose
// parents are all removed; a cycle leaves some behind.
func acyclic(g map[string][]string) bool {
	removed := map[string]bool{}
	for progress := true; progress; {
		progress = false
		for job, ps := range g {
			if removed[job] {
				continue
			}
			free := true
			for _, p := range ps {
				if !removed[p] {
					free = false
				}
			}
			if free {
				removed[job] = true
				progress = true
			}
		}
	}
	return len(removed) == len(g)
}

// TestCheckProperty: Check fails on random graphs exactly when they have
// a cycle, and the cycle it names is one.
func TestCheckProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	cycles := 0
	for i := range 5000 {
		g := randomGraph(r, r.Float64()*0.4)
		err := Check(g)
		if want := acyclic(g); (err == nil) != want {
			t.Fatalf("case %d: Check(%v) = %v; the graph is acyclic: %v", i, g, err, want)
		}
		if err == nil {
			continue
		}
		cycles++
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("case %d: Check(%v) = %T; want *Error", i, g, err)
		}
		c := e.Cycle
		if len(c) < 2 || c[0] != c[len(c)-1] || c[0] != e.Job || slices.Min(c) != e.Job {
			t.Fatalf("case %d: Check(%v) names cycle %v for job %q; want a closed path starting at its smallest job", i, g, c, e.Job)
		}
		for k := 0; k+1 < len(c); k++ {
			if !slices.Contains(g[c[k+1]], c[k]) {
				t.Fatalf("case %d: cycle %v of %v has %s -> %s, which is not an edge", i, c, g, c[k], c[k+1])
			}
		}
		if slices.Contains(c[1:len(c)-1], c[0]) {
			t.Fatalf("case %d: cycle %v repeats its first job", i, c)
		}
	}
	if cycles < 500 || cycles > 4500 {
		t.Errorf("the random graphs had %d cycles in 5000; want a mix", cycles)
	}
}

func TestChildren(t *testing.T) {
	g := map[string][]string{"a": nil, "c": {"a"}, "b": {"a", "a"}, "d": {"b"}}
	tests := []struct {
		job  string
		want []string
	}{
		{"a", []string{"b", "c"}},
		{"b", []string{"d"}},
		{"d", nil},
		{"unknown", nil},
	}
	for _, tt := range tests {
		if got := Children(g, tt.job); !slices.Equal(got, tt.want) {
			t.Errorf("Children(g, %q) = %v; want %v", tt.job, got, tt.want)
		}
	}
}

func TestRewire(t *testing.T) {
	tests := []struct {
		name          string
		parents       map[string][]string
		schedules     map[string]string
		deleted       string
		wantParents   map[string][]string
		wantSchedules map[string]string
		wantChanges   []Change
	}{
		{
			name:          "dependent job deleted: children inherit its parents",
			parents:       map[string][]string{"a": nil, "b": nil, "m": {"a", "b"}, "c": {"m"}, "d": {"m", "b"}},
			schedules:     map[string]string{"a": "@hourly", "b": "@daily"},
			deleted:       "m",
			wantParents:   map[string][]string{"a": nil, "b": nil, "c": {"a", "b"}, "d": {"b", "a"}},
			wantSchedules: map[string]string{"a": "@hourly", "b": "@daily"},
			wantChanges: []Change{
				{Job: "c", Kind: InheritedParents, Description: `parent "m" was deleted; "c" now depends on "a", "b" (the parents of "m")`},
				{Job: "d", Kind: InheritedParents, Description: `parent "m" was deleted; "d" now depends on "b", "a" (the parents of "m")`},
			},
		},
		{
			name:          "scheduled job deleted: an only child takes its schedule",
			parents:       map[string][]string{"s": nil, "c": {"s"}, "g": {"c"}},
			schedules:     map[string]string{"s": "R/2024-01-01T00:00:00Z/PT1H"},
			deleted:       "s",
			wantParents:   map[string][]string{"c": nil, "g": {"c"}},
			wantSchedules: map[string]string{"c": "R/2024-01-01T00:00:00Z/PT1H"},
			wantChanges: []Change{
				{Job: "c", Kind: TookSchedule, Description: `parent "s" was deleted; "c" is now a scheduled job with its schedule "R/2024-01-01T00:00:00Z/PT1H"`},
			},
		},
		{
			name:          "scheduled job deleted: a child with two parents loses the edge",
			parents:       map[string][]string{"s": nil, "t": nil, "c": {"s", "t"}, "o": {"s"}},
			schedules:     map[string]string{"s": "@daily", "t": "@hourly"},
			deleted:       "s",
			wantParents:   map[string][]string{"t": nil, "c": {"t"}, "o": nil},
			wantSchedules: map[string]string{"t": "@hourly", "o": "@daily"},
			wantChanges: []Change{
				{Job: "c", Kind: LostParent, Description: `parent "s" was deleted; "c" still depends on "t"`},
				{Job: "o", Kind: TookSchedule, Description: `parent "s" was deleted; "o" is now a scheduled job with its schedule "@daily"`},
			},
		},
		{
			name:          "deleted job without schedule or parents",
			parents:       map[string][]string{"x": nil, "c": {"x"}},
			deleted:       "x",
			wantParents:   map[string][]string{"c": nil},
			wantSchedules: map[string]string{},
			wantChanges: []Change{
				{Job: "c", Kind: LostParent, Description: `parent "x" was deleted; it had no schedule to hand over, so "c" has neither parents nor a schedule`},
			},
		},
		{
			name:          "job without children",
			parents:       map[string][]string{"a": nil, "b": {"a"}},
			schedules:     map[string]string{"a": "@daily"},
			deleted:       "b",
			wantParents:   map[string][]string{"a": nil},
			wantSchedules: map[string]string{"a": "@daily"},
		},
		{
			name:          "unknown job",
			parents:       map[string][]string{"a": nil},
			schedules:     map[string]string{"a": "@daily"},
			deleted:       "zz",
			wantParents:   map[string][]string{"a": nil},
			wantSchedules: map[string]string{"a": "@daily"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := json.Marshal([]any{tt.parents, tt.schedules})
			gotP, gotS, gotC := Rewire(tt.parents, tt.schedules, tt.deleted)
			if d := cmp.Diff(tt.wantParents, gotP); d != "" {
				t.Errorf("Rewire(%q) parents differ (-want +got):\n%s", tt.deleted, d)
			}
			if d := cmp.Diff(tt.wantSchedules, gotS); d != "" {
				t.Errorf("Rewire(%q) schedules differ (-want +got):\n%s", tt.deleted, d)
			}
			if d := cmp.Diff(tt.wantChanges, gotC); d != "" {
				t.Errorf("Rewire(%q) changes differ (-want +got):\n%s", tt.deleted, d)
			}
			if after, _ := json.Marshal([]any{tt.parents, tt.schedules}); string(after) != string(before) {
				t.Errorf("Rewire(%q) modified its inputs: %s; was %s", tt.deleted, after, before)
			}
		})
	}
}

// TestRewireProperty: deleting any job of a random DAG leaves a DAG that
// no longer mentions it, where every job keeps a parent or a schedule if
// it had one before, and where only the deleted job's children changed.
func TestRewireProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for i := range 2000 {
		g := randomGraph(r, 0.3)
		if Check(g) != nil {
			continue
		}
		schedules := map[string]string{}
		for job, ps := range g {
			if len(ps) == 0 {
				schedules[job] = "@every " + job
			}
		}
		deleted := fmt.Sprintf("j%d", r.IntN(len(g)))
		np, ns, changes := Rewire(g, schedules, deleted)
		if err := Check(np); err != nil {
			t.Fatalf("case %d: Rewire(%v, %q) = %v, which fails Check: %v", i, g, deleted, np, err)
		}
		if _, ok := np[deleted]; ok || len(np) != len(g)-1 {
			t.Fatalf("case %d: Rewire(%v, %q) = %v; want every job but the deleted one", i, g, deleted, np)
		}
		if _, ok := ns[deleted]; ok {
			t.Fatalf("case %d: Rewire(%q) kept the deleted job's schedule", i, deleted)
		}
		children := Children(g, deleted)
		var changed []string
		for _, c := range changes {
			changed = append(changed, c.Job)
		}
		if !slices.Equal(changed, slices.DeleteFunc(slices.Clone(children), func(c string) bool { return c == deleted })) {
			t.Fatalf("case %d: Rewire(%q) changed %v; want the children %v", i, deleted, changed, children)
		}
		for job, ps := range np {
			if len(ps) == 0 && ns[job] == "" {
				t.Fatalf("case %d: after Rewire(%v, %q) job %q has neither parents nor a schedule", i, g, deleted, job)
			}
			if !slices.Contains(children, job) && !slices.Equal(ps, g[job]) {
				t.Fatalf("case %d: Rewire(%q) changed %q, which is not a child", i, deleted, job)
			}
		}
	}
}

func TestReady(t *testing.T) {
	tests := []struct {
		name  string
		edges []Edge
		want  bool
	}{
		{"no edges", nil, false},
		{"one parent pending", []Edge{{"a", "run-1"}}, true},
		{"one parent not yet", []Edge{{"a", ""}}, false},
		{"all parents pending", []Edge{{"a", "run-1"}, {"b", "run-7"}}, true},
		{"one of two pending", []Edge{{"a", "run-1"}, {"b", ""}}, false},
	}
	for _, tt := range tests {
		if got := Ready(tt.edges); got != tt.want {
			t.Errorf("Ready(%s: %v) = %v; want %v", tt.name, tt.edges, got, tt.want)
		}
	}
}

var drawing = []NodeInfo{
	{Name: "report", Parents: []string{"transform", "extract"}, LastState: "fresh", Status: "idle"},
	{Name: "extract", LastState: "success", Status: "idle"},
	{Name: "transform", Parents: []string{"extract"}, LastState: "failure", Status: "running"},
	{Name: "load", Parents: []string{"transform", "transform"}, LastState: "success", Status: "queued"},
	{Name: `odd"name`, Parents: []string{"gone"}},
}

func TestDotGolden(t *testing.T) {
	got := Dot(drawing)
	golden := filepath.Join("testdata", "graph.dot")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("Dot(drawing) differs from %s (-want +got):\n%s", golden, d)
	}
	reversed := slices.Clone(drawing)
	slices.Reverse(reversed)
	if again := Dot(reversed); again != got {
		t.Errorf("Dot depends on the order of its input")
	}
}

func TestJSON(t *testing.T) {
	got, err := json.Marshal(JSON(drawing))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"edges":[` +
		`{"from":"extract","to":"report"},{"from":"extract","to":"transform"},{"from":"gone","to":"odd\"name"},` +
		`{"from":"transform","to":"load"},{"from":"transform","to":"report"}],` +
		`"nodes":[{"lastState":"success","name":"extract","status":"idle"},{"lastState":"success","name":"load","status":"queued"},` +
		`{"lastState":"fresh","name":"odd\"name","status":"idle"},{"lastState":"fresh","name":"report","status":"idle"},` +
		`{"lastState":"failure","name":"transform","status":"running"}]}`
	if string(got) != want {
		t.Errorf("JSON(drawing) = %s; want %s", got, want)
	}
	empty, _ := json.Marshal(JSON(nil))
	if string(empty) != `{"edges":[],"nodes":[]}` {
		t.Errorf("JSON(nil) = %s; want empty lists", empty)
	}
}

func TestChangeKindString(t *testing.T) {
	if got := TookSchedule.String(); got != "TOOK_SCHEDULE" {
		t.Errorf("TookSchedule.String() = %q; want TOOK_SCHEDULE", got)
	}
}
