package jobs

import (
	"bytes"
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// warningsOf returns the "warnings" of an answer's body, nil if it has
// none.
func warningsOf(t *testing.T, r response) []string {
	t.Helper()
	raw, ok := r.object(t)["warnings"]
	if !ok {
		return nil
	}
	list, ok := raw.([]any)
	if !ok {
		t.Fatalf("%s warnings = %v; want a list of strings", r, raw)
	}
	var out []string
	for _, w := range list {
		s, ok := w.(string)
		if !ok {
			t.Fatalf("%s warnings = %v; want a list of strings", r, raw)
		}
		out = append(out, s)
	}
	return out
}

// TestUnimplementedFieldsAreRefused: a Chronos field corral does not
// implement, with a value other than its default, is refused in each API's
// own error shape (native: 422 with details; Chronos: 400 naming it), and
// nothing is saved.
func TestUnimplementedFieldsAreRefused(t *testing.T) {
	s := startServer(t, newDB(t))
	s.must(http.StatusCreated, "POST", "/v1/jobs", `{"name":"a","command":"true","schedule":"@daily"}`)
	before := s.must(http.StatusOK, "GET", "/v1/jobs", "").body

	native := []struct{ name, method, path, body, detail string }{
		{"async", "POST", "/v1/jobs", `{"name":"x","command":"true","schedule":"@daily","async":true}`, "/async"},
		{"highPriority on PUT", "PUT", "/v1/jobs/a", `{"name":"a","command":"true","schedule":"@daily","highPriority":true}`, "/highPriority"},
		{"executor", "POST", "/v1/jobs", `{"name":"x","command":"true","schedule":"@daily","executor":"/opt/exec"}`, "/executor"},
	}
	for _, tc := range native {
		t.Run("native/"+tc.name, func(t *testing.T) {
			s := s.with(t)
			r := s.do(tc.method, tc.path, tc.body)
			body := wantJSONError(t, r, http.StatusUnprocessableEntity, "Object is not valid")
			if got := detailPaths(t, r, body); !slices.Equal(got, []string{tc.detail}) {
				t.Errorf("%s detail paths = %v; want [%s]\n%s", r, got, tc.detail, r.body)
			}
			if !bytes.Contains(r.body, []byte("is not supported by corral yet")) {
				t.Errorf("%s = %s; want it to say the field is not supported by corral yet", r, r.body)
			}
		})
	}
	chronos := []struct{ name, body, field string }{
		{"async", `{"name":"x","command":"true","schedule":"R/2030-01-01T00:00:00Z/PT1H","async":true}`, "async"},
		{"highPriority", `{"name":"x","command":"true","schedule":"R/2030-01-01T00:00:00Z/PT1H","highPriority":true}`, "highPriority"},
		{"maxCompletionTime", `{"name":"x","command":"true","schedule":"R/2030-01-01T00:00:00Z/PT1H","maxCompletionTime":60}`, "maxCompletionTime"},
	}
	for _, tc := range chronos {
		t.Run("Chronos/"+tc.name, func(t *testing.T) {
			s := s.with(t)
			wantChronosError(t, s.do("POST", "/v1/scheduler/iso8601", tc.body), tc.field, "is not supported by corral yet")
		})
	}
	if after := s.must(http.StatusOK, "GET", "/v1/jobs", "").body; !bytes.Equal(after, before) {
		t.Errorf("GET /v1/jobs = %s; want it unchanged by the refused requests: %s", after, before)
	}
}

// TestUnimplementedFieldDefaultsAreAccepted: what Chronos' clients send
// with every job (and what GET /v1/scheduler/jobs answers) is accepted
// without a warning.
func TestUnimplementedFieldDefaultsAreAccepted(t *testing.T) {
	s := startServer(t, newDB(t))
	r := s.must(http.StatusNoContent, "POST", "/v1/scheduler/iso8601", `{"name":"c","command":"true","schedule":"R/2030-01-01T00:00:00Z/PT1H",
		"runAsUser":"root","async":false,"highPriority":false,"dataProcessingJobType":false,"uris":[],"fetch":[],"executor":"",
		"executorFlags":"","container":null}`)
	if got := r.header.Values("Warning"); len(got) != 0 {
		t.Errorf("%s Warning = %q; want none", r, got)
	}
	all := s.must(http.StatusOK, "GET", "/v1/scheduler/job/c", "")
	r = s.must(http.StatusNoContent, "POST", "/v1/scheduler/iso8601", string(all.body))
	if got := r.header.Values("Warning"); len(got) != 0 {
		t.Errorf("POST of the GET answer: Warning = %q; want none", got)
	}
	r = s.must(http.StatusCreated, "POST", "/v1/jobs", `{"name":"n","command":"true","schedule":"@daily","runAsUser":"","uris":[]}`)
	if ws := warningsOf(t, r); ws != nil {
		t.Errorf("%s warnings = %q; want none", r, ws)
	}
	view := s.must(http.StatusOK, "GET", "/v1/jobs/n", "")
	r = s.must(http.StatusOK, "PUT", "/v1/jobs/n", string(view.body))
	if ws := warningsOf(t, r); ws != nil {
		t.Errorf("PUT of the GET answer warnings = %q; want none", ws)
	}
}

// TestUnknownJobFieldsWarn: a field nobody knows is ignored, and the
// answers to creating and updating say so: native answers in a
// "warnings" list, Chronos' empty 204 in Warning headers.
func TestUnknownJobFieldsWarn(t *testing.T) {
	s := startServer(t, newDB(t))
	r := s.must(http.StatusCreated, "POST", "/v1/jobs", `{"name":"w","command":"true","schedule":"@daily","retires":5}`)
	if got, want := warningsOf(t, r), []string{`unknown field "/retires" ignored`}; !cmp.Equal(got, want) {
		t.Errorf("%s warnings = %q; want %q", r, got, want)
	}
	if got := get(r.json(t), "retries"); got != 2.0 {
		t.Errorf("%s retries = %v; want the default 2: the misspelt field is ignored", r, got)
	}
	if got := get(r.json(t), "name"); got != "w" {
		t.Errorf("%s name = %v; want the job as before", r, got)
	}
	r = s.must(http.StatusOK, "PUT", "/v1/jobs/w", `{"name":"w","command":"true","schedule":"@daily","timezon":"Europe/Paris"}`)
	if got, want := warningsOf(t, r), []string{`unknown field "/timezon" ignored`}; !cmp.Equal(got, want) {
		t.Errorf("%s warnings = %q; want %q", r, got, want)
	}

	r = s.must(http.StatusNoContent, "POST", "/v1/scheduler/iso8601", `{"name":"cw","command":"true","schedule":"R/2030-01-01T00:00:00Z/PT1H","scheduleTimezone":"Europe/Paris"}`)
	if got, want := r.header.Values("Warning"), []string{`299 - "unknown field \"/scheduleTimezone\" ignored"`}; !cmp.Equal(got, want) {
		t.Errorf("%s Warning = %q; want %q", r, got, want)
	}
	r = s.must(http.StatusNoContent, "PUT", "/v1/scheduler/dependency", `{"name":"cd","command":"true","parents":["cw"],"environmentVariables":[{"name":"A","vaule":"1"}]}`)
	if got, want := r.header.Values("Warning"), []string{`299 - "unknown field \"/environmentVariables(0)/vaule\" ignored"`}; !cmp.Equal(got, want) {
		t.Errorf("%s Warning = %q; want %q", r, got, want)
	}
}
