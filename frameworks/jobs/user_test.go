package jobs

import (
	"net/http"
	"testing"

	"corral/frameworks/internal/place"
	"corral/frameworks/jobs/job"
	"corral/frameworks/jobs/store"
	"corral/kernel/resource"
)

// TestTaskInfoUser: a run's task runs as its job's user; a job without
// one names no user, so that the agent uses the framework's.
func TestTaskInfoUser(t *testing.T) {
	c := &core{s: &Service{cfg: DefaultConfig()}}
	p := place.Placement{OfferID: "o1", AgentID: "a1", Hostname: "h1", Resources: resource.Scalar(resource.CPUs, 1)}
	for _, tc := range []struct{ name, user string }{
		{"job user", "nobody"},
		{"no user", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := job.New("u")
			j.Command, j.Schedule, j.User = "true", "@daily", tc.user
			r := store.Run{ID: 1, Job: "u", TaskID: job.TaskID(0, 0, "u", 1)}
			ti := c.taskInfo(j, r, p)
			if ti.Command == nil || ti.Command.User != tc.user {
				t.Errorf("taskInfo(user %q).Command = %+v; want user %q", tc.user, ti.Command, tc.user)
			}
		})
	}
}

// TestJobUser: a job's user is stored and read back in both APIs (native
// "user", Chronos "runAsUser"), and a user name that is not one is
// refused naming the field the client sent, with nothing stored.
func TestJobUser(t *testing.T) {
	s := startServer(t, newDB(t))
	r := s.must(http.StatusCreated, "POST", "/v1/jobs", `{"name":"n","command":"true","schedule":"@daily","user":"nobody"}`)
	if got := get(r.json(t), "user"); got != "nobody" {
		t.Errorf("%s user = %v; want nobody", r, got)
	}
	s.must(http.StatusNoContent, "POST", "/v1/scheduler/iso8601", `{"name":"c","command":"true","schedule":"R/2030-01-01T00:00:00Z/PT1H","runAsUser":"www-data"}`)
	s.must(http.StatusNoContent, "POST", "/v1/scheduler/iso8601", `{"name":"d","command":"true","schedule":"R/2030-01-01T00:00:00Z/PT1H","runAsUser":""}`)
	for _, tc := range []struct{ path, field, want string }{
		{"/v1/jobs/n", "user", "nobody"},
		{"/v1/scheduler/job/n", "runAsUser", "nobody"},
		{"/v1/jobs/c", "user", "www-data"},
		{"/v1/scheduler/job/c", "runAsUser", "www-data"},
		{"/v1/jobs/d", "user", ""},
		{"/v1/scheduler/job/d", "runAsUser", ""},
	} {
		r := s.must(http.StatusOK, "GET", tc.path, "")
		if got := get(r.json(t), tc.field); got != tc.want {
			t.Errorf("%s %s = %v; want %q", r, tc.field, got, tc.want)
		}
	}
	before := s.must(http.StatusOK, "GET", "/v1/jobs", "").body

	const badName = `"Nobody" is not a valid user name: want a lowercase letter or '_', then lowercase letters, digits, '_' or '-', optionally ending in '$'`
	for _, tc := range []struct {
		name, method, path, body string
		want                     map[string][]string
	}{
		{"user", "POST", "/v1/jobs", `{"name":"x","command":"true","schedule":"@daily","user":"Nobody"}`,
			map[string][]string{"/user": {badName}}},
		{"runAsUser", "POST", "/v1/jobs", `{"name":"x","command":"true","schedule":"@daily","runAsUser":"Nobody"}`,
			map[string][]string{"/runAsUser": {badName}}},
		{"user and runAsUser disagree", "PUT", "/v1/jobs/n", `{"name":"n","command":"true","schedule":"@daily","user":"a","runAsUser":"b"}`,
			map[string][]string{"/runAsUser": {`"b" contradicts user "a"; give one of them`}}},
		{"PUT user too long", "PUT", "/v1/jobs/n", `{"name":"n","command":"true","schedule":"@daily","user":"abcdefghijabcdefghijabcdefghij123"}`,
			map[string][]string{"/user": {"a user name has at most 32 bytes (got 33)"}}},
	} {
		t.Run("native/"+tc.name, func(t *testing.T) {
			s := s.with(t)
			wantJobDetails(t, s.do(tc.method, tc.path, tc.body), tc.want)
		})
	}
	t.Run("Chronos/runAsUser", func(t *testing.T) {
		s := s.with(t)
		wantChronosError(t, s.do("POST", "/v1/scheduler/iso8601", `{"name":"n","command":"true","schedule":"R/2030-01-01T00:00:00Z/PT1H","runAsUser":"root:0"}`),
			`runAsUser: "root:0" is not a valid user name`)
	})
	if after := s.must(http.StatusOK, "GET", "/v1/jobs", "").body; string(after) != string(before) {
		t.Errorf("GET /v1/jobs = %s; want it unchanged by the refused requests: %s", after, before)
	}
}
