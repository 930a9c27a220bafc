package services

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
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

// wantRefused checks a 422 in Marathon's shape whose only detail is at
// path and says the field is not supported.
func wantRefused(t *testing.T, r response, path string) {
	t.Helper()
	body := wantError(t, r, http.StatusUnprocessableEntity, "Object is not valid")
	details, _ := body["details"].([]any)
	if len(details) != 1 || get(details[0], "path") != path {
		t.Fatalf("%s details = %v; want one, at %s", r, body["details"], path)
	}
	errs, _ := get(details[0], "errors").([]any)
	if len(errs) != 1 || !strings.Contains(errs[0].(string), "is not supported by corral yet") {
		t.Errorf("%s errors at %s = %v; want one saying it is not supported by corral yet", r, path, errs)
	}
}

// TestUnsupportedFieldsAreRefused: a Marathon field corral does not
// implement, given a value that would change what the app does, is a 422
// naming it, whichever request carries it; nothing is stored or deployed.
func TestUnsupportedFieldsAreRefused(t *testing.T) {
	s := startServer(t, newDB(t))
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/there","cmd":"sleep 1","instances":0}`)
	s.settle("/there")
	before := s.app("/there")

	for _, tc := range []struct {
		name, method, path, body, detail string
	}{
		{"POST storeUrls", "POST", "/v2/apps", `{"id":"/new","cmd":"x","instances":0,"storeUrls":["https://example.com/a.tgz"]}`, "/storeUrls"},
		{"POST residency", "POST", "/v2/apps", `{"id":"/new","cmd":"x","instances":0,"residency":{"taskLostBehavior":"WAIT_FOREVER"}}`, "/residency"},
		{"POST volumes", "POST", "/v2/apps", `{"id":"/new","cmd":"x","instances":0,"container":{"type":"MESOS","volumes":[{"containerPath":"d","hostPath":"/d","mode":"RW"}]}}`, "/container/volumes"},
		{"POST networks", "POST", "/v2/apps", `{"id":"/new","cmd":"x","instances":0,"networks":[{"mode":"container/bridge"}]}`, "/networks"},
		{"POST acceptedResourceRoles", "POST", "/v2/apps", `{"id":"/new","cmd":"x","instances":0,"acceptedResourceRoles":["slave_public"]}`, "/acceptedResourceRoles"},
		{"POST role", "POST", "/v2/apps", `{"id":"/new","cmd":"x","instances":0,"role":"prod"}`, "/role"},
		{"POST check", "POST", "/v2/apps", `{"id":"/new","cmd":"x","instances":0,"check":{"http":{"portIndex":1}}}`, "/check"},
		{"PUT merge", "PUT", "/v2/apps/there", `{"storeUrls":["https://example.com/a.tgz"]}`, "/storeUrls"},
		{"PUT replace", "PUT", "/v2/apps/there?partialUpdate=false", `{"id":"/there","cmd":"sleep 1","instances":0,"storeUrls":["u"]}`, "/storeUrls"},
		{"PUT create", "PUT", "/v2/apps/new", `{"cmd":"x","instances":0,"storeUrls":["u"]}`, "/storeUrls"},
		{"PATCH", "PATCH", "/v2/apps/there", `{"executor":"/opt/custom"}`, "/executor"},
		{"bulk PUT", "PUT", "/v2/apps", `[{"id":"/there","tty":true}]`, "/tty"},
		{"group", "POST", "/v2/groups", `{"id":"/g","apps":[{"id":"a","cmd":"x","instances":0,"storeUrls":["u"]}]}`, "/apps(0)/storeUrls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := s.with(t)
			wantRefused(t, s.do(tc.method, tc.path, tc.body), tc.detail)
		})
	}
	if got := s.storedApps(); !slices.Equal(got, []string{"/there"}) {
		t.Errorf("stored apps = %v; want [/there]", got)
	}
	if after := s.app("/there"); !cmp.Equal(after, before) {
		t.Errorf("/there after refused changes (-before +after):\n%s", cmp.Diff(before, after))
	}
}

// TestUnsupportedFieldDefaultsAreAccepted: the empty values and defaults
// that client libraries send with every app are not refused, and draw no
// warning.
func TestUnsupportedFieldDefaultsAreAccepted(t *testing.T) {
	s := startServer(t, newDB(t))
	body := `{"id":"/defaults","cmd":"sleep 1","instances":0,"fetch":[],"uris":[],"user":null,"residency":null,
		"acceptedResourceRoles":["*"],"role":"*","networks":[{"mode":"host"}],"readinessChecks":[],
		"resourceLimits":null,"container":{"volumes":[]},"executor":"","storeUrls":[],"secrets":{}}`
	r := s.must(http.StatusCreated, "POST", "/v2/apps", body)
	if ws := warningsOf(t, r); ws != nil {
		t.Errorf("%s warnings = %q; want none", r, ws)
	}
	s.settle("/defaults")
	r = s.must(http.StatusOK, "PUT", "/v2/apps/defaults", `{"acceptedResourceRoles":[],"networks":[],"user":"root","tty":false}`)
	if ws := warningsOf(t, r); ws != nil {
		t.Errorf("%s warnings = %q; want none", r, ws)
	}
	// What GET answers can be sent back as it is.
	s.settle("/defaults")
	r = s.must(http.StatusOK, "GET", "/v2/apps/defaults", "")
	back, _ := json.Marshal(get(r.json(t), "app"))
	r = s.must(http.StatusOK, "PUT", "/v2/apps/defaults?partialUpdate=false", string(back))
	if ws := warningsOf(t, r); ws != nil {
		t.Errorf("PUT of the GET answer warnings = %q; want none", ws)
	}
}

// TestUnknownFieldsWarn: a field nobody knows is ignored, as Marathon
// ignores it, but the answers to creating and updating say so.
func TestUnknownFieldsWarn(t *testing.T) {
	s := startServer(t, newDB(t))

	r := s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/typo","cmd":"sleep 1","intances":3,"instances":0,
		"healthChecks":[{"protocol":"COMMAND","command":{"value":"true"},"intervalSecond":5}]}`)
	want := []string{`unknown field "/healthChecks(0)/intervalSecond" ignored`, `unknown field "/intances" ignored`}
	if got := warningsOf(t, r); !cmp.Equal(got, want) {
		t.Errorf("%s warnings = %q; want %q", r, got, want)
	}
	if got := get(r.json(t), "id"); got != "/typo" {
		t.Errorf("%s id = %v; want the app as before, /typo", r, got)
	}
	if got := get(r.json(t), "instances"); got != 0.0 {
		t.Errorf("%s instances = %v; want 0: the misspelt field is ignored", r, got)
	}
	s.settle("/typo")

	for _, tc := range []struct {
		name, method, path, body string
		want                     []string
	}{
		{"PUT merge", "PUT", "/v2/apps/typo", `{"intances":2}`, []string{`unknown field "/intances" ignored`}},
		{"PUT replace", "PUT", "/v2/apps/typo?partialUpdate=false", `{"id":"/typo","cmd":"sleep 2","instances":0,"upgradeStrategy":{"minimumHealthCapacty":0}}`,
			[]string{`unknown field "/upgradeStrategy/minimumHealthCapacty" ignored`}},
		{"PUT create", "PUT", "/v2/apps/other", `{"cmd":"sleep 1","instances":0,"labls":{}}`, []string{`unknown field "/labls" ignored`}},
		{"PATCH", "PATCH", "/v2/apps/typo", `{"cmd":"sleep 3","intances":2}`, []string{`unknown field "/intances" ignored`}},
		{"bulk PUT", "PUT", "/v2/apps", `[{"id":"/typo","cmd":"sleep 4"},{"id":"/other","cmd":"sleep 5","instances":0,"intances":1}]`,
			[]string{`unknown field "(1)/intances" ignored`}},
		{"group", "PUT", "/v2/groups/g", `{"apps":[{"id":"a","cmd":"x","instances":0}],"groups":[{"id":"sub","apps":[{"id":"b","cmd":"y","instances":0,"portDefinitions":[{"prot":"udp"}]}]}],"enforceRol":true}`,
			[]string{`unknown field "/enforceRol" ignored`, `unknown field "/groups(0)/apps(0)/portDefinitions(0)/prot" ignored`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := s.with(t)
			s.settle("/typo", "/other")
			r := s.do(tc.method, tc.path, tc.body)
			if r.code != http.StatusOK && r.code != http.StatusCreated {
				t.Fatalf("%s = %d %s; want 200 or 201", r, r.code, r.body)
			}
			if got := warningsOf(t, r); !cmp.Equal(got, tc.want) {
				t.Errorf("%s warnings = %q; want %q", r, got, tc.want)
			}
			if id, _ := r.object(t)["deploymentId"].(string); id != "" && r.header.Get("Marathon-Deployment-Id") != id {
				t.Errorf("%s deploymentId %q, Marathon-Deployment-Id %q; want them equal", r, id, r.header.Get("Marathon-Deployment-Id"))
			}
		})
	}
}
