package services

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// wantDetails checks a 422 in Marathon's shape whose details are exactly
// want, as path → errors.
func wantDetails(t *testing.T, r response, want map[string][]string) {
	t.Helper()
	body := wantError(t, r, http.StatusUnprocessableEntity, "Object is not valid")
	got := map[string][]string{}
	details, _ := body["details"].([]any)
	for _, d := range details {
		path, _ := get(d, "path").(string)
		errs, _ := get(d, "errors").([]any)
		for _, e := range errs {
			s, _ := e.(string)
			got[path] = append(got[path], s)
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s details (-want +got):\n%s", r, d)
	}
}

// TestOutOfRangeAppsAreRefused: resources the kernel cannot account,
// absurd instance counts and ids whose task ids Mesos would refuse are a
// 422 naming the field, whichever request carries them; nothing is stored
// or changed.
func TestOutOfRangeAppsAreRefused(t *testing.T) {
	s := startServer(t, newDB(t))
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/there","cmd":"sleep 1","instances":0}`)
	s.settle("/there")
	before := s.app("/there")

	longID := "/" + strings.Repeat("a", 219)
	longIDMsg := `"` + longID + `" has 220 bytes: its task ids would have 256, more than the 255 bytes Mesos allows; an app id has at most 219 bytes`
	for _, tc := range []struct {
		name, method, path, body string
		want                     map[string][]string
	}{
		{"POST huge cpus", "POST", "/v2/apps", `{"id":"/new","cmd":"x","instances":0,"cpus":1e308}`,
			map[string][]string{"/cpus": {"must be at most 1e+15 (got 1e+308)"}}},
		{"POST huge mem", "POST", "/v2/apps", `{"id":"/new","cmd":"x","instances":0,"mem":1e16}`,
			map[string][]string{"/mem": {"must be at most 1e+15 (got 1e+16)"}}},
		{"POST huge disk", "POST", "/v2/apps", `{"id":"/new","cmd":"x","instances":0,"disk":2e15}`,
			map[string][]string{"/disk": {"must be at most 1e+15 (got 2e+15)"}}},
		{"POST negative gpus", "POST", "/v2/apps", `{"id":"/new","cmd":"x","instances":0,"gpus":-1}`,
			map[string][]string{"/gpus": {"must be 0 or more (got -1)"}}},
		{"POST too many instances", "POST", "/v2/apps", `{"id":"/new","cmd":"x","instances":1000000}`,
			map[string][]string{"/instances": {"must be at most 100000 (got 1000000)"}}},
		{"POST long id", "POST", "/v2/apps", `{"id":"` + longID + `","cmd":"x","instances":0}`,
			map[string][]string{"/id": {longIDMsg}}},
		{"PUT create long id", "PUT", "/v2/apps" + longID, `{"cmd":"x","instances":0}`,
			map[string][]string{"/id": {longIDMsg}}},
		{"PUT merge huge cpus", "PUT", "/v2/apps/there", `{"cpus":1e300}`,
			map[string][]string{"/cpus": {"must be at most 1e+15 (got 1e+300)"}}},
		{"PUT scale too far", "PUT", "/v2/apps/there", `{"instances":100001}`,
			map[string][]string{"/instances": {"must be at most 100000 (got 100001)"}}},
		{"PATCH huge mem", "PATCH", "/v2/apps/there", `{"mem":1e100}`,
			map[string][]string{"/mem": {"must be at most 1e+15 (got 1e+100)"}}},
		{"bulk PUT", "PUT", "/v2/apps", `[{"id":"/there","disk":1e20}]`,
			map[string][]string{"/disk": {"must be at most 1e+15 (got 1e+20)"}}},
		{"group", "POST", "/v2/groups", `{"id":"/g","apps":[{"id":"a","cmd":"x","instances":0,"cpus":1e16}]}`,
			map[string][]string{"/apps(0)/cpus": {"must be at most 1e+15 (got 1e+16)"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := s.with(t)
			wantDetails(t, s.do(tc.method, tc.path, tc.body), tc.want)
		})
	}
	if got := s.storedApps(); !slices.Equal(got, []string{"/there"}) {
		t.Errorf("stored apps = %v; want [/there]", got)
	}
	if got := s.storedGroups(); len(got) != 0 {
		t.Errorf("stored groups = %v; want none", got)
	}
	if after := s.app("/there"); !cmp.Equal(after, before) {
		t.Errorf("/there after refused changes (-before +after):\n%s", cmp.Diff(before, after))
	}
}
