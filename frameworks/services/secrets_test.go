package services

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"corral/frameworks/services/app"
	"corral/frameworks/services/plan"
	"corral/kernel/mesos"
	"corral/kernel/resource"

	"github.com/google/go-cmp/cmp"
)

// secretVar is the SECRET variable that references the stored secret
// name.
func secretVar(env, name string) mesos.Variable {
	return mesos.Variable{Name: env, Type: mesos.VariableSecret,
		Secret: &mesos.Secret{Type: mesos.SecretReferenceType, Reference: &mesos.SecretReference{Name: name}}}
}

// TestTaskInfoSecrets: each env reference becomes a SECRET variable that
// references the secret's source without its leading slash; plain values
// stay plain; all in name order, before the MARATHON_* variables.
func TestTaskInfoSecrets(t *testing.T) {
	p := plan.Placement{OfferID: "o1", AgentID: "a1", Hostname: "h1", Resources: resource.Scalar(resource.CPUs, 1)}
	tests := []struct {
		name string
		app  string // fields besides id and cmd
		want []mesos.Variable
	}{
		{"plain only", `"env":{"B":"2","A":"1"}`,
			[]mesos.Variable{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}}},
		{"reference", `"env":{"DB_PASSWORD":{"secret":"db"}},"secrets":{"db":{"source":"team/db"}}`,
			[]mesos.Variable{secretVar("DB_PASSWORD", "team/db")}},
		{"leading slash dropped", `"env":{"DB_PASSWORD":{"secret":"db"}},"secrets":{"db":{"source":"/team/db"}}`,
			[]mesos.Variable{secretVar("DB_PASSWORD", "team/db")}},
		{"mixed, in name order", `"env":{"Z":"last","A":{"secret":"a"},"M":"mid","B":{"secret":"b"}},
			"secrets":{"a":{"source":"/x/a"},"b":{"source":"y.b"},"unused":{"source":"z"}}`,
			[]mesos.Variable{secretVar("A", "x/a"), secretVar("B", "y.b"), {Name: "M", Value: "mid"}, {Name: "Z", Value: "last"}}},
		{"one secret, two variables", `"env":{"P":{"secret":"db"},"Q":{"secret":"db"}},"secrets":{"db":{"source":"team/db"}}`,
			[]mesos.Variable{secretVar("P", "team/db"), secretVar("Q", "team/db")}},
		{"secrets without references", `"env":{"A":"1"},"secrets":{"db":{"source":"team/db"}}`,
			[]mesos.Variable{{Name: "A", Value: "1"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := app.Decode([]byte(`{"id":"/s","cmd":"sleep 1",` + tc.app + `}`))
			if err != nil {
				t.Fatalf("app.Decode(%s) = %v", tc.app, err)
			}
			a.Normalize()
			if v := app.Validate(a); v != nil {
				t.Fatalf("app.Validate(%s) = %v; want nil", tc.app, v)
			}
			ti := taskInfo(a, app.NewTaskID(a.ID), "*", p)
			vars := ti.Command.Environment.Variables
			end := slices.IndexFunc(vars, func(v mesos.Variable) bool { return v.Name == "MARATHON_APP_ID" })
			if end < 0 {
				t.Fatalf("taskInfo(%s) environment = %+v; want MARATHON_APP_ID", tc.app, vars)
			}
			if d := cmp.Diff(tc.want, vars[:end]); d != "" {
				t.Errorf("taskInfo(%s) app variables (-want +got):\n%s", tc.app, d)
			}
			if got, want := ti.SecretRefs(), secretNames(tc.want); !slices.Equal(got, want) {
				t.Errorf("taskInfo(%s) SecretRefs() = %q; want %q", tc.app, got, want)
			}
		})
	}
}

// jsonOf decodes a JSON document.
func jsonOf(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON %s: %v", s, err)
	}
	return v
}

func secretNames(vs []mesos.Variable) []string {
	var out []string
	for _, v := range vs {
		if v.Secret != nil && !slices.Contains(out, v.Secret.Reference.Name) {
			out = append(out, v.Secret.Reference.Name)
		}
	}
	return out
}

// TestAppSecrets: an app's secrets and env references are stored and read
// back as given, kept in its versions; a change of a secret or of a
// reference is a configuration change (a restart), a scale leaves them;
// and a reference to no secret, a bad source or a file-based secret is a
// 422 that changes nothing.
func TestAppSecrets(t *testing.T) {
	s := startServer(t, newDB(t))
	const env = `{"A":"1","DB_PASSWORD":{"secret":"db"}}`
	const secrets1 = `{"db":{"source":"/team/db"},"spare":{"source":"team/spare"}}`
	r := s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/s","cmd":"sleep 1","instances":0,"env":`+env+`,"secrets":`+secrets1+`}`)
	body := r.object(t)
	v1, _ := body["version"].(string)
	wantSecrets := func(what string, a map[string]any, env, secrets string) {
		t.Helper()
		if d := cmp.Diff(jsonOf(t, env), a["env"]); d != "" {
			t.Errorf("%s env (-want +got):\n%s", what, d)
		}
		if d := cmp.Diff(jsonOf(t, secrets), a["secrets"]); d != "" {
			t.Errorf("%s secrets (-want +got):\n%s", what, d)
		}
	}
	wantSecrets(r.String(), body, env, secrets1)
	s.settle("/s")
	wantSecrets("GET /v2/apps/s", s.app("/s"), env, secrets1)

	// A new source is a configuration change.
	const secrets2 = `{"db":{"source":"team/db2"},"spare":{"source":"team/spare"}}`
	_, v2 := deploymentResultOf(t, s.do("PATCH", "/v2/apps/s", `{"secrets":`+secrets2+`}`), http.StatusOK)
	s.settle("/s")
	a := s.app("/s")
	wantSecrets("after a PATCH of secrets", a, env, secrets2)
	if got := get(a, "versionInfo", "lastConfigChangeAt"); got != v2 {
		t.Errorf("after a PATCH of secrets, lastConfigChangeAt = %v; want %s", got, v2)
	}

	// So is a moved reference, even with a scale: a restart.
	const env3 = `{"A":"1","DB_PASSWORD":{"secret":"spare"}}`
	r = s.do("PUT", "/v2/apps/s", `{"env":`+env3+`,"instances":2}`)
	id, v3 := deploymentResultOf(t, r, http.StatusOK)
	if got := s.deploymentActions(id); !slices.Equal(got, []string{"RestartApplication /s"}) {
		t.Errorf("%s deployment actions = %v; want [RestartApplication /s]", r, got)
	}
	a = s.app("/s")
	wantSecrets("after a PUT of env", a, env3, secrets2)
	if got := get(a, "versionInfo", "lastConfigChangeAt"); got != v3 {
		t.Errorf("after a PUT of env, lastConfigChangeAt = %v; want %s", got, v3)
	}

	// A scale keeps them, and is only a scale.
	r = s.do("PUT", "/v2/apps/s?force=true", `{"instances":3}`)
	id, v4 := deploymentResultOf(t, r, http.StatusOK)
	if got := s.deploymentActions(id); !slices.Equal(got, []string{"ScaleApplication /s"}) {
		t.Errorf("%s deployment actions = %v; want [ScaleApplication /s]", r, got)
	}
	before := s.app("/s")
	wantSecrets("after a scale", before, env3, secrets2)
	if got := get(before, "versionInfo", "lastConfigChangeAt"); got != v3 {
		t.Errorf("after a scale, lastConfigChangeAt = %v; want %s (unchanged)", got, v3)
	}

	for _, tc := range []struct {
		version, env, secrets string
	}{
		{v1, env, secrets1}, {v2, env, secrets2}, {v3, env3, secrets2}, {v4, env3, secrets2},
	} {
		r := s.must(http.StatusOK, "GET", "/v2/apps/s/versions/"+tc.version, "")
		wantSecrets(r.String(), r.object(t), tc.env, tc.secrets)
	}

	const badName = `is not a valid secret name: want components of letters, digits, '.', '_' and '-' separated by '/', none empty, "." or ".."`
	for _, tc := range []struct {
		name, method, path, body string
		want                     map[string][]string
	}{
		{"POST undefined", "POST", "/v2/apps", `{"id":"/bad","cmd":"x","instances":0,"env":{"DB_PASSWORD":{"secret":"db"}}}`,
			map[string][]string{"/env/DB_PASSWORD": {"references an undefined secret"}}},
		{"POST empty source", "POST", "/v2/apps", `{"id":"/bad","cmd":"x","instances":0,"secrets":{"db":{"source":""}}}`,
			map[string][]string{"/secrets/db/source": {"must not be empty"}}},
		{"POST unknown field", "POST", "/v2/apps", `{"id":"/bad","cmd":"x","instances":0,"secrets":{"db":{"source":"team/db","value":"hunter2"}}}`,
			map[string][]string{"/secrets/db/value": {`unknown field: a secret has only "source" and "file"`}}},
		{"POST secret volume of an undefined secret", "POST", "/v2/apps", `{"id":"/bad","cmd":"x","instances":0,"secrets":{"db":{"source":"team/db"}},
			"container":{"type":"MESOS","volumes":[{"containerPath":"pw","secret":"nope"}]}}`,
			map[string][]string{"/container/volumes(0)/secret": {"volume.secret must refer to an existing secret"}}},
		{"PUT bad source", "PUT", "/v2/apps/s?force=true", `{"secrets":{"db":{"source":"team/../db"},"spare":{"source":"team/spare"}}}`,
			map[string][]string{"/secrets/db/source": {`"team/../db" ` + badName}}},
		{"PUT replace without secrets", "PUT", "/v2/apps/s?force=true&partialUpdate=false", `{"id":"/s","cmd":"sleep 1","env":` + env3 + `}`,
			map[string][]string{"/env/DB_PASSWORD": {"references an undefined secret"}}},
		{"PATCH removing the secret", "PATCH", "/v2/apps/s?force=true", `{"secrets":{"db":{"source":"team/db"}}}`,
			map[string][]string{"/env/DB_PASSWORD": {"references an undefined secret"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := s.with(t)
			wantDetails(t, s.do(tc.method, tc.path, tc.body), tc.want)
		})
	}
	if got := s.storedApps(); !slices.Equal(got, []string{"/s"}) {
		t.Errorf("stored apps = %v; want [/s]", got)
	}
	if after := s.app("/s"); !cmp.Equal(after, before) {
		t.Errorf("/s after refused changes (-before +after):\n%s", cmp.Diff(before, after))
	}
}

// TestTaskInfoSecretFiles: an app's secret files, in both shapes, become
// read-only SECRET volumes of a MESOS container, each referencing the
// store name of its secret; an app without any has no container.
func TestTaskInfoSecretFiles(t *testing.T) {
	p := plan.Placement{OfferID: "o1", AgentID: "a1", Hostname: "h1", Resources: resource.Scalar(resource.CPUs, 1)}
	a, err := app.Decode([]byte(`{"id":"/s","cmd":"sleep 1","secrets":{"db":{"source":"/team/db","file":"db.pw"},"tok":{"source":"t"}},
		"container":{"type":"MESOS","volumes":[{"containerPath":"conf/tok","secret":"tok"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	a.Normalize()
	if v := app.Validate(a); v != nil {
		t.Fatalf("app.Validate = %v", v)
	}
	ti := taskInfo(a, app.NewTaskID(a.ID), "*", p)
	vol := func(path, name string) mesos.Volume {
		return mesos.Volume{ContainerPath: path, Mode: mesos.VolumeRO, Source: &mesos.VolumeSource{Type: mesos.VolumeSourceSecret,
			Secret: &mesos.Secret{Type: mesos.SecretReferenceType, Reference: &mesos.SecretReference{Name: name}}}}
	}
	want := &mesos.ContainerInfo{Type: mesos.ContainerMesos, Volumes: []mesos.Volume{vol("conf/tok", "t"), vol("db.pw", "team/db")}}
	if d := cmp.Diff(want, ti.Container); d != "" {
		t.Errorf("taskInfo container (-want +got):\n%s", d)
	}
	if ti.Container.Problem() != "" {
		t.Errorf("the master would refuse the container: %s", ti.Container.Problem())
	}
	plain, _ := app.Decode([]byte(`{"id":"/p","cmd":"sleep 1","container":{"type":"MESOS","volumes":[]}}`))
	plain.Normalize()
	if c := taskInfo(plain, app.NewTaskID(plain.ID), "*", p).Container; c != nil {
		t.Errorf("taskInfo of an app without secret files has container %+v; want none", c)
	}
}
