package services

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// An app stored before upgradeStrategy had progressDeadlineSeconds and
// autoRollback loads with their defaults, and sending its definition
// again changes nothing: no restart for a field its JSON lacked.
func TestStoredAppGetsNewDefaults(t *testing.T) {
	db := newDB(t)
	s := startServer(t, db)
	def := `{"id":"/old","cmd":"sleep 1","instances":0,"upgradeStrategy":{"minimumHealthCapacity":0.5,"maximumOverCapacity":0}}`
	v1, _ := get(s.must(http.StatusCreated, "POST", "/v2/apps", def).json(t), "version").(string)
	s.settle("/old")
	rec, err := s.store.App(t.Context(), "/old")
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(rec.Spec, &spec); err != nil {
		t.Fatal(err)
	}
	spec["upgradeStrategy"] = map[string]any{"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0}
	old, _ := json.Marshal(spec)
	if err := s.store.PutApp(t.Context(), "/old", rec.Version, old); err != nil {
		t.Fatal(err)
	}
	s.stop()

	s2 := startServer(t, db)
	us := s2.app("/old")["upgradeStrategy"]
	if get(us, "progressDeadlineSeconds") != 600.0 || get(us, "autoRollback") != false {
		t.Errorf("upgradeStrategy of an app stored without the new fields = %v; want progressDeadlineSeconds 600, autoRollback false", us)
	}
	_, v := deploymentResultOf(t, s2.do("PUT", "/v2/apps/old", def), http.StatusOK)
	if v != v1 {
		t.Errorf("PUT of the same definition = version %s; want the unchanged %s", v, v1)
	}
}

// Bad values of the deployment fields are a 422 naming each.
func TestDeploymentFieldsValidated(t *testing.T) {
	s := startServer(t, newDB(t))
	for _, tc := range []struct {
		name, body string
		paths      []string
	}{
		{"negative deadline", `{"upgradeStrategy":{"progressDeadlineSeconds":-5}}`, []string{"/upgradeStrategy/progressDeadlineSeconds"}},
		{"deadline not a number", `{"upgradeStrategy":{"progressDeadlineSeconds":"10m"}}`, []string{"/upgradeStrategy/progressDeadlineSeconds"}},
		{"rollback not a boolean", `{"upgradeStrategy":{"autoRollback":"yes"}}`, []string{"/upgradeStrategy/autoRollback"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := s.with(t)
			body := `{"id":"/v","cmd":"sleep 1","instances":0,` + strings.TrimPrefix(tc.body, "{")
			r := s.do("POST", "/v2/apps", body)
			want := http.StatusUnprocessableEntity
			if strings.Contains(tc.name, "not a") {
				want = http.StatusBadRequest // a wrong JSON type
			}
			if r.code != want {
				t.Fatalf("%s %s = %d %s; want %d", r, body, r.code, r.body, want)
			}
			var got []string
			for _, d := range get(r.json(t), "details").([]any) {
				got = append(got, get(d, "path").(string))
			}
			if strings.Join(got, " ") != strings.Join(tc.paths, " ") {
				t.Errorf("%s %s details at %v; want %v", r, body, got, tc.paths)
			}
		})
	}
	if got := s.storedApps(); len(got) != 0 {
		t.Errorf("stored apps after refused requests = %v; want none", got)
	}
}
