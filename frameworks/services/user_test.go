package services

import (
	"net/http"
	"slices"
	"testing"

	"corral/frameworks/services/app"
	"corral/frameworks/services/plan"
	"corral/kernel/resource"

	"github.com/google/go-cmp/cmp"
)

// TestTaskInfoUser: a task runs as its app's user; an app without one
// names no user, so that the agent uses the framework's.
func TestTaskInfoUser(t *testing.T) {
	p := plan.Placement{OfferID: "o1", AgentID: "a1", Hostname: "h1", Resources: resource.Scalar(resource.CPUs, 1)}
	for _, tc := range []struct{ name, user string }{
		{"app user", "nobody"},
		{"no user", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := "sleep 1"
			a := app.App{ID: "/u", Cmd: &cmd, User: tc.user}
			a.Normalize()
			ti := taskInfo(a, app.NewTaskID(a.ID), "*", p)
			if ti.Command == nil || ti.Command.User != tc.user {
				t.Errorf("taskInfo(user %q).Command = %+v; want user %q", tc.user, ti.Command, tc.user)
			}
		})
	}
}

// TestAppUser: an app's user is stored and read back, a change of user
// restarts the app's tasks even when instances change too, and a user
// name that is not one is a 422 that changes nothing.
func TestAppUser(t *testing.T) {
	s := startServer(t, newDB(t))
	r := s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/u","cmd":"sleep 1","instances":0,"user":"nobody"}`)
	if got := get(r.json(t), "user"); got != "nobody" {
		t.Errorf("%s user = %v; want nobody", r, got)
	}
	s.settle("/u")
	if got := s.app("/u")["user"]; got != "nobody" {
		t.Errorf("GET /v2/apps/u user = %v; want nobody", got)
	}

	r = s.do("PUT", "/v2/apps/u", `{"user":"www-data","instances":2}`)
	id, v := deploymentResultOf(t, r, http.StatusOK)
	if got := s.deploymentActions(id); !slices.Equal(got, []string{"RestartApplication /u"}) {
		t.Errorf("%s deployment actions = %v; want [RestartApplication /u]", r, got)
	}
	before := s.app("/u")
	if before["user"] != "www-data" || get(before, "versionInfo", "lastConfigChangeAt") != v {
		t.Errorf("after a change of user, user %v, lastConfigChangeAt %v; want www-data, %s", before["user"], get(before, "versionInfo", "lastConfigChangeAt"), v)
	}

	for _, tc := range []struct {
		name, method, path, body string
		want                     map[string][]string
	}{
		{"POST", "POST", "/v2/apps", `{"id":"/bad","cmd":"x","instances":0,"user":"Nobody"}`, map[string][]string{"/user": {
			`"Nobody" is not a valid user name: want a lowercase letter or '_', then lowercase letters, digits, '_' or '-', optionally ending in '$'`}}},
		{"PUT", "PUT", "/v2/apps/u?force=true", `{"user":"a b"}`, map[string][]string{"/user": {
			`"a b" is not a valid user name: want a lowercase letter or '_', then lowercase letters, digits, '_' or '-', optionally ending in '$'`}}},
		{"PATCH", "PATCH", "/v2/apps/u?force=true", `{"user":"abcdefghijabcdefghijabcdefghij123"}`, map[string][]string{"/user": {
			"a user name has at most 32 bytes (got 33)"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := s.with(t)
			wantDetails(t, s.do(tc.method, tc.path, tc.body), tc.want)
		})
	}
	if got := s.storedApps(); !slices.Equal(got, []string{"/u"}) {
		t.Errorf("stored apps = %v; want [/u]", got)
	}
	if after := s.app("/u"); !cmp.Equal(after, before) {
		t.Errorf("/u after refused changes (-before +after):\n%s", cmp.Diff(before, after))
	}
}
