package mesos

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// formats are the four MULTI_ROLE × RESERVATION_REFINEMENT combinations,
// named as the golden files in testdata/format/.
var formats = []struct {
	name string
	rf   ResourceFormat
}{
	{"multi_role+refinement", ResourceFormat{MultiRole: true, ReservationRefinement: true}},
	{"multi_role", ResourceFormat{MultiRole: true}},
	{"refinement", ResourceFormat{ReservationRefinement: true}},
	{"legacy", ResourceFormat{}},
}

func readGolden(t *testing.T, file string, v any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "format", file))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decoding %s: %v", file, err)
	}
}

// asJSON is v as a generic JSON value, so that comparisons are by meaning
// (and by the JSON a framework receives), not by Go representation.
func asJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func checkGolden(t *testing.T, what, file string, got any) {
	t.Helper()
	var want any
	readGolden(t, file, &want)
	if d := cmp.Diff(want, asJSON(t, got)); d != "" {
		t.Errorf("%s differs from %s (-golden +got):\n%s", what, file, d)
	}
}

// TestResourceFormatGolden shapes one offer (unreserved, dynamically and
// statically reserved, and refined resources, allocated to eng/web) for
// each kind of framework, then converts the resources of the offer each
// one received, copied verbatim into a LAUNCH, back to the master's form.
func TestResourceFormatGolden(t *testing.T) {
	var master Offer
	readGolden(t, "offer.master.json", &master)
	before := asJSON(t, master)
	for _, tc := range formats {
		t.Run(tc.name, func(t *testing.T) {
			checkGolden(t, "Offer", "offer."+tc.name+".json", tc.rf.Offer(master))

			var offered Offer
			readGolden(t, "offer."+tc.name+".json", &offered)
			back, err := tc.rf.FromFramework(offered.Resources, "eng/web")
			if err != nil {
				t.Fatalf("FromFramework(offered resources) = %v", err)
			}
			checkGolden(t, "FromFramework", "accepted."+tc.name+".json", back)
		})
	}
	if d := cmp.Diff(before, asJSON(t, master)); d != "" {
		t.Errorf("Offer changed its input:\n%s", d)
	}
}

func TestFrameworkResourceFormat(t *testing.T) {
	mr, rr := Capability{Type: CapMultiRole}, Capability{Type: CapReservationRefinement}
	for _, tc := range []struct {
		caps []Capability
		want ResourceFormat
	}{
		{nil, ResourceFormat{}},
		{[]Capability{{Type: CapPartitionAware}, rr}, ResourceFormat{ReservationRefinement: true}},
		{[]Capability{mr}, ResourceFormat{MultiRole: true}},
		{[]Capability{rr, mr}, ResourceFormat{MultiRole: true, ReservationRefinement: true}},
	} {
		fi := FrameworkInfo{Capabilities: tc.caps}
		if got := fi.ResourceFormat(); got != tc.want {
			t.Errorf("ResourceFormat(%v) = %+v; want %+v", tc.caps, got, tc.want)
		}
	}
}

// The master's resources may come in the pre-refinement format (role "*"),
// as package resource writes them; every framework still gets its own.
func TestForFrameworkFromPreRefinement(t *testing.T) {
	in := []Resource{{Name: "cpus", Type: Scalar, Scalar: &ScalarValue{Value: 1}, Role: "*", AllocationInfo: &AllocationInfo{Role: "eng"}}}
	for _, tc := range formats {
		got := tc.rf.ForFramework(in)
		if len(got) != 1 {
			t.Fatalf("%s: ForFramework = %+v", tc.name, got)
		}
		r := got[0]
		wantRole := "*"
		if tc.rf.ReservationRefinement {
			wantRole = ""
		}
		if r.Role != wantRole || len(r.Reservations) != 0 || r.Reservation != nil || (r.AllocationInfo != nil) != tc.rf.MultiRole {
			t.Errorf("%s: ForFramework = %+v; want role %q, allocation_info only with MULTI_ROLE", tc.name, r, wantRole)
		}
	}
	if in[0].Role != "*" || in[0].AllocationInfo == nil {
		t.Errorf("ForFramework changed its input: %+v", in[0])
	}
}

func TestFromFramework(t *testing.T) {
	cpus := func(fields string) []Resource {
		var rs []Resource
		if err := jsonUnmarshal(`[{"name":"cpus","type":"SCALAR","scalar":{"value":1}`+fields+`}]`, &rs); err != nil {
			t.Fatal(err)
		}
		return rs
	}
	all := ResourceFormat{MultiRole: true, ReservationRefinement: true}
	for _, tc := range []struct {
		name    string
		rf      ResourceFormat
		in      string // fields after scalar
		want    string // the resource as JSON, when valid
		wantErr string
	}{
		{"no allocation_info is filled in", ResourceFormat{}, ``,
			`{"name":"cpus","type":"SCALAR","scalar":{"value":1},"allocation_info":{"role":"eng"}}`, ""},
		{"multi-role without allocation_info is filled in too", all, ``,
			`{"name":"cpus","type":"SCALAR","scalar":{"value":1},"allocation_info":{"role":"eng"}}`, ""},
		{"legacy unreserved", ResourceFormat{}, `,"role":"*","allocation_info":{"role":"eng"}`,
			`{"name":"cpus","type":"SCALAR","scalar":{"value":1},"allocation_info":{"role":"eng"}}`, ""},
		{"legacy static", all, `,"role":"eng"`,
			`{"name":"cpus","type":"SCALAR","scalar":{"value":1},"allocation_info":{"role":"eng"},"reservations":[{"type":"STATIC","role":"eng"}]}`, ""},
		{"legacy dynamic without principal", ResourceFormat{}, `,"role":"eng","reservation":{}`,
			`{"name":"cpus","type":"SCALAR","scalar":{"value":1},"allocation_info":{"role":"eng"},"reservations":[{"type":"DYNAMIC","role":"eng"}]}`, ""},
		{"endpoint format keeps the stack", all, `,"role":"eng","reservation":{"principal":"x"},"reservations":[{"type":"DYNAMIC","role":"eng","principal":"ops"}]`,
			`{"name":"cpus","type":"SCALAR","scalar":{"value":1},"allocation_info":{"role":"eng"},"reservations":[{"type":"DYNAMIC","role":"eng","principal":"ops"}]}`, ""},
		{"another role", all, `,"allocation_info":{"role":"other"}`, "", `resources[0] "cpus": allocated to role "other", but the offer is allocated to role "eng"`},
		{"another role without MULTI_ROLE", ResourceFormat{}, `,"allocation_info":{"role":"other"}`, "", `allocated to role "other"`},
		{"allocation_info without role", all, `,"allocation_info":{}`, "", "does not name a role"},
		{"star dynamically reserved", all, `,"role":"*","reservation":{"principal":"ops"}`, "", `role "*" cannot be dynamically reserved`},
		{"legacy reservation with type", all, `,"role":"eng","reservation":{"type":"DYNAMIC"}`, "", "'reservation.type' must not be set"},
		{"legacy reservation with role", all, `,"role":"eng","reservation":{"role":"eng"}`, "", "'reservation.role' must not be set"},
		{"stack without type", all, `,"reservations":[{"role":"eng"}]`, "", "must be STATIC or DYNAMIC"},
		{"stack without role", all, `,"reservations":[{"type":"STATIC"}]`, "", "'reservations[0].role' must be set"},
		{"stack reserving star", all, `,"reservations":[{"type":"STATIC","role":"*"}]`, "", `role "*" cannot be reserved`},
		{"static refinement", all, `,"reservations":[{"type":"STATIC","role":"eng"},{"type":"STATIC","role":"eng/web"}]`, "", "cannot be STATIC"},
		{"refinement to a sibling", all, `,"reservations":[{"type":"STATIC","role":"eng"},{"type":"DYNAMIC","role":"engx"}]`, "", `does not refine "eng"`},
		{"refined without the capability", ResourceFormat{MultiRole: true}, `,"reservations":[{"type":"STATIC","role":"eng"},{"type":"DYNAMIC","role":"eng/web"}]`, "", "RESERVATION_REFINEMENT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.rf.FromFramework(cpus(tc.in), "eng")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("FromFramework(%s) = %v, %v; want error containing %q", tc.in, asJSON(t, got), err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("FromFramework(%s) = %v", tc.in, err)
			}
			var want any
			_ = jsonUnmarshal(`[`+tc.want+`]`, &want)
			if d := cmp.Diff(want, asJSON(t, got)); d != "" {
				t.Errorf("FromFramework(%s) differs (-want +got):\n%s", tc.in, d)
			}
		})
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
