package jobs

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// wantJobDetails checks a native 422 whose details are exactly want, as
// path → errors.
func wantJobDetails(t *testing.T, r response, want map[string][]string) {
	t.Helper()
	body := wantJSONError(t, r, http.StatusUnprocessableEntity, "Object is not valid")
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

// TestOutOfRangeJobsAreRefused: resources the kernel cannot account, ISO
// 8601 schedules that would start runs faster than once a second or never,
// and names whose task ids agents would refuse are refused naming the
// field, in the native API (422) and the Chronos API (400, its error
// shape); nothing is stored or changed.
func TestOutOfRangeJobsAreRefused(t *testing.T) {
	s := startServer(t, newDB(t))
	s.must(http.StatusCreated, "POST", "/v1/jobs", `{"name":"a","command":"true","schedule":"@daily"}`)
	beforeNative := s.must(http.StatusOK, "GET", "/v1/jobs", "").body
	beforeChronos := s.must(http.StatusOK, "GET", "/v1/scheduler/jobs", "").body

	const (
		fast       = `schedule: ISO 8601 schedule "R/2026-01-01T00:00:00Z/PT0.001S": period "PT0.001S" is shorter than one second; runs start at most once a second`
		never      = `schedule: ISO 8601 schedule "R0/2030-01-01T00:00:00Z/PT1H": repetitions "R0": a schedule repeated zero times never runs; want R (for ever) or Rn with n >= 1, and disable or delete a job to stop it`
		nameTooBig = "a name has at most 206 bytes, so that its task ids fit the 255 bytes Mesos allows (got 207)"
	)
	long := strings.Repeat("n", 207)
	for _, tc := range []struct {
		name, method, path, body string
		want                     map[string][]string
	}{
		{"huge resources", "POST", "/v1/jobs", `{"name":"x","command":"true","schedule":"@daily","cpus":1e308,"mem":1e16,"disk":2e15}`,
			map[string][]string{
				"/cpus": {"must be at most 1e+15 (got 1e+308)"},
				"/mem":  {"must be at most 1e+15 (got 1e+16)"},
				"/disk": {"must be at most 1e+15 (got 2e+15)"},
			}},
		{"sub-second period", "POST", "/v1/jobs", `{"name":"x","command":"true","schedule":"R/2026-01-01T00:00:00Z/PT0.001S"}`,
			map[string][]string{"/schedule": {fast}}},
		{"R0", "POST", "/v1/jobs", `{"name":"x","command":"true","schedule":"R0/2030-01-01T00:00:00Z/PT1H"}`,
			map[string][]string{"/schedule": {never}}},
		{"long name", "POST", "/v1/jobs", `{"name":"` + long + `","command":"true","schedule":"@daily"}`,
			map[string][]string{"/name": {nameTooBig}}},
		{"dot dot in name", "POST", "/v1/jobs", `{"name":"a..b","command":"true","schedule":"@daily"}`,
			map[string][]string{"/name": {`"a..b" is not a valid name: it must not contain "..", which agents refuse in task ids`}}},
		{"PUT huge cpus", "PUT", "/v1/jobs/a", `{"name":"a","command":"true","schedule":"@daily","cpus":1e16}`,
			map[string][]string{"/cpus": {"must be at most 1e+15 (got 1e+16)"}}},
		{"PUT sub-second period", "PUT", "/v1/jobs/a", `{"name":"a","command":"true","schedule":"R/2026-01-01T00:00:00Z/PT0.001S"}`,
			map[string][]string{"/schedule": {fast}}},
	} {
		t.Run("native/"+tc.name, func(t *testing.T) {
			s := s.with(t)
			wantJobDetails(t, s.do(tc.method, tc.path, tc.body), tc.want)
		})
	}

	for _, tc := range []struct {
		name, path, body, want string
	}{
		{"sub-second period", "/v1/scheduler/iso8601", `{"name":"x","command":"true","schedule":"R/2026-01-01T00:00:00Z/PT0.001S"}`, fast},
		{"R0", "/v1/scheduler/iso8601", `{"name":"x","command":"true","schedule":"R0/2030-01-01T00:00:00Z/PT1H"}`, never},
		{"huge cpus", "/v1/scheduler/iso8601", `{"name":"x","command":"true","schedule":"R/2030-01-01T00:00:00Z/PT1H","cpus":1e308}`,
			"cpus: must be at most 1e+15 (got 1e+308)"},
		{"huge mem of a dependent job", "/v1/scheduler/dependency", `{"name":"x","command":"true","parents":["a"],"mem":1e16}`,
			"mem: must be at most 1e+15 (got 1e+16)"},
		{"long name", "/v1/scheduler/iso8601", `{"name":"` + long + `","command":"true","schedule":"R/2030-01-01T00:00:00Z/PT1H"}`,
			"name: " + nameTooBig},
	} {
		t.Run("Chronos/"+tc.name, func(t *testing.T) {
			s := s.with(t)
			wantChronosError(t, s.do("POST", tc.path, tc.body), tc.want)
		})
	}

	if after := s.must(http.StatusOK, "GET", "/v1/jobs", "").body; !bytes.Equal(after, beforeNative) {
		t.Errorf("GET /v1/jobs = %s; want it unchanged by the refused requests: %s", after, beforeNative)
	}
	if after := s.must(http.StatusOK, "GET", "/v1/scheduler/jobs", "").body; !bytes.Equal(after, beforeChronos) {
		t.Errorf("GET /v1/scheduler/jobs = %s; want it unchanged by the refused requests: %s", after, beforeChronos)
	}
	if runs := s.runsOf("a"); len(runs) != 0 {
		t.Errorf("GET /v1/jobs/a/runs = %v; want no runs after refused requests", runs)
	}
}
