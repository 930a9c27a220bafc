package app

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// envAndSecrets returns the "env" and "secrets" of an app's JSON form.
func envAndSecrets(t *testing.T, a App) (env, secrets any) {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatalf("json.Marshal(app) = %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m["env"], m["secrets"]
}

func jsonValue(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad case %s: %v", s, err)
	}
	return v
}

// TestDecodeSecrets: secrets and env references are read, written back
// exactly as given, and survive a write-and-read round trip; the plain
// env holds only the plain values.
func TestDecodeSecrets(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		plain   map[string]string
		env     string // JSON of "env" written back
		secrets string // JSON of "secrets" written back
	}{
		{"reference and plain value",
			`{"env":{"A":"1","DB_PASSWORD":{"secret":"db"}},"secrets":{"db":{"source":"team/db"}}}`,
			map[string]string{"A": "1"}, `{"A":"1","DB_PASSWORD":{"secret":"db"}}`, `{"db":{"source":"team/db"}}`},
		{"leading slash kept", `{"env":{"P":{"secret":"db"}},"secrets":{"db":{"source":"/team/db"}}}`,
			map[string]string{}, `{"P":{"secret":"db"}}`, `{"db":{"source":"/team/db"}}`},
		{"two variables, one secret", `{"env":{"P":{"secret":"db"},"Q":{"secret":"db"}},"secrets":{"db":{"source":"db"}}}`,
			map[string]string{}, `{"P":{"secret":"db"},"Q":{"secret":"db"}}`, `{"db":{"source":"db"}}`},
		{"unreferenced secret kept", `{"secrets":{"db":{"source":"team/db"},"spare":{"source":"team/spare"}}}`,
			nil, `{}`, `{"db":{"source":"team/db"},"spare":{"source":"team/spare"}}`},
		{"no secrets", `{"env":{"A":"1"}}`, map[string]string{"A": "1"}, `{"A":"1"}`, `{}`},
		{"empty secrets", `{"secrets":{}}`, nil, `{}`, `{}`},
		{"null secret entry", `{"secrets":{"db":null}}`, nil, `{}`, `{}`},
		{"null source", `{"secrets":{"db":{"source":null}}}`, nil, `{}`, `{"db":{"source":""}}`},
		{"null env value", `{"env":{"A":null,"P":{"secret":"db"}},"secrets":{"db":{"source":"x"}}}`,
			map[string]string{}, `{"P":{"secret":"db"}}`, `{"db":{"source":"x"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustDecode(t, tt.body)
			if d := cmp.Diff(tt.plain, a.Env); d != "" {
				t.Errorf("Decode(%s).Env (-want +got):\n%s", tt.body, d)
			}
			env, secrets := envAndSecrets(t, a)
			if d := cmp.Diff(jsonValue(t, tt.env), env); d != "" {
				t.Errorf("json.Marshal(Decode(%s)) env (-want +got):\n%s", tt.body, d)
			}
			if d := cmp.Diff(jsonValue(t, tt.secrets), secrets); d != "" {
				t.Errorf("json.Marshal(Decode(%s)) secrets (-want +got):\n%s", tt.body, d)
			}
			out, _ := json.Marshal(a)
			b := mustDecode(t, string(out))
			again, _ := json.Marshal(b)
			if string(again) != string(out) || !ConfigEqual(a, b) {
				t.Errorf("round trip of %s changed the app:\n%s\n%s", tt.body, out, again)
			}
		})
	}
}

// TestDecodeSecretsWrongTypes: a secret or a reference of the wrong JSON
// type is a 400 naming the path.
func TestDecodeSecretsWrongTypes(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []Detail
	}{
		{"secrets array", `{"secrets":[]}`, []Detail{{"/secrets", []string{expObject}}}},
		{"secret string", `{"secrets":{"db":"team/db"}}`, []Detail{{"/secrets/db", []string{expObject}}}},
		{"source number", `{"secrets":{"db":{"source":1}}}`, []Detail{{"/secrets/db/source", []string{expString}}}},
		{"reference number", `{"env":{"P":{"secret":1}}}`, []Detail{{"/env/P/secret", []string{expString}}}},
		{"reference object", `{"env":{"P":{"secret":{"name":"db"}}}}`, []Detail{{"/env/P/secret", []string{expString}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.body))
			var ij *InvalidJSON
			if !errors.As(err, &ij) {
				t.Fatalf("Decode(%s) = %v; want *InvalidJSON", tt.body, err)
			}
			if d := cmp.Diff(tt.want, ij.Details); d != "" {
				t.Errorf("Decode(%s) details (-want +got):\n%s", tt.body, d)
			}
		})
	}
}

// TestValidateSecrets pins the 422 answers about secrets: references to
// undefined secrets, bad sources, unknown fields.
func TestValidateSecrets(t *testing.T) {
	const badName = `is not a valid secret name: want components of letters, digits, '.', '_' and '-' separated by '/', none empty, "." or ".."`
	long := strings.Repeat("a", 200) + "/" + strings.Repeat("b", 54) // 255 bytes
	tests := []struct {
		name  string
		extra string
		want  []Detail // nil: valid
	}{
		{"reference", `{"env":{"DB_PASSWORD":{"secret":"db"}},"secrets":{"db":{"source":"team/db"}}}`, nil},
		{"unreferenced secret", `{"env":{"A":"1"},"secrets":{"db":{"source":"team/db"}}}`, nil},
		{"leading slash", `{"secrets":{"db":{"source":"/team/db"}}}`, nil},
		{"one component", `{"secrets":{"db":{"source":"db"}}}`, nil},
		{"every allowed character", `{"secrets":{"db":{"source":"A-Z_a.z/0-9/...x/x.."}}}`, nil},
		{"255 bytes", `{"secrets":{"db":{"source":"` + long + `"}}}`, nil},
		{"255 bytes and a leading slash", `{"secrets":{"db":{"source":"/` + long + `"}}}`, nil},

		{"undefined", `{"env":{"A":"1","DB_PASSWORD":{"secret":"db"}}}`,
			[]Detail{{"/env/DB_PASSWORD", []string{"references an undefined secret"}}}},
		{"undefined among defined", `{"env":{"DB_PASSWORD":{"secret":"db"},"TOKEN":{"secret":"token"}},"secrets":{"db":{"source":"team/db"}}}`,
			[]Detail{{"/env/TOKEN", []string{"references an undefined secret"}}}},
		{"reference by source rather than name", `{"env":{"P":{"secret":"team/db"}},"secrets":{"db":{"source":"team/db"}}}`,
			[]Detail{{"/env/P", []string{"references an undefined secret"}}}},
		{"empty reference", `{"env":{"P":{"secret":""}},"secrets":{"db":{"source":"team/db"}}}`,
			[]Detail{{"/env/P", []string{"references an undefined secret"}}}},
		{"reference without secret", `{"env":{"P":{}}}`,
			[]Detail{{"/env/P", []string{`must be a string or a secret reference {"secret": "<name of an entry of secrets>"}`}}}},
		{"reference with another field", `{"env":{"P":{"secret":"db","key":"password"}},"secrets":{"db":{"source":"team/db"}}}`,
			[]Detail{{"/env/P/key", []string{`unknown field: a secret reference has only "secret"`}}}},
		{"empty variable name", `{"env":{"":{"secret":"db"}},"secrets":{"db":{"source":"team/db"}}}`,
			[]Detail{{"/env", []string{"variable names must not be empty"}}}},

		{"empty source", `{"secrets":{"db":{"source":""}}}`,
			[]Detail{{"/secrets/db/source", []string{"must not be empty"}}}},
		{"missing source", `{"secrets":{"db":{}}}`,
			[]Detail{{"/secrets/db/source", []string{"must not be empty"}}}},
		{"unknown field", `{"secrets":{"db":{"source":"team/db","key":"password"}}}`,
			[]Detail{{"/secrets/db/key", []string{`unknown field: a secret has only "source" and "file"`}}}},
		{"empty secret name", `{"secrets":{"":{"source":"team/db"}}}`,
			[]Detail{{"/secrets", []string{"secret names must not be empty"}}}},
		{"256 bytes", `{"secrets":{"db":{"source":"` + long + `b"}}}`,
			[]Detail{{"/secrets/db/source", []string{"a secret name has at most 255 bytes (got 256)"}}}},
		{"empty component", `{"secrets":{"db":{"source":"team//db"}}}`,
			[]Detail{{"/secrets/db/source", []string{`"team//db" ` + badName}}}},
		{"trailing slash", `{"secrets":{"db":{"source":"team/"}}}`,
			[]Detail{{"/secrets/db/source", []string{`"team/" ` + badName}}}},
		{"only a slash", `{"secrets":{"db":{"source":"/"}}}`,
			[]Detail{{"/secrets/db/source", []string{`"/" ` + badName}}}},
		{"two leading slashes", `{"secrets":{"db":{"source":"//team/db"}}}`,
			[]Detail{{"/secrets/db/source", []string{`"//team/db" ` + badName}}}},
		{"dot dot", `{"secrets":{"db":{"source":"team/../admin/db"}}}`,
			[]Detail{{"/secrets/db/source", []string{`"team/../admin/db" ` + badName}}}},
		{"dot", `{"secrets":{"db":{"source":"./db"}}}`,
			[]Detail{{"/secrets/db/source", []string{`"./db" ` + badName}}}},
		{"space", `{"secrets":{"db":{"source":"team/my db"}}}`,
			[]Detail{{"/secrets/db/source", []string{`"team/my db" ` + badName}}}},
		{"colon", `{"secrets":{"db":{"source":"team:db"}}}`,
			[]Detail{{"/secrets/db/source", []string{`"team:db" ` + badName}}}},
		{"non-ASCII", `{"secrets":{"db":{"source":"équipe/db"}}}`,
			[]Detail{{"/secrets/db/source", []string{`"équipe/db" ` + badName}}}},

		{"several, in field order", `{"env":{"P":{"secret":"pw"}},"secrets":{"db":{"source":""},"x":{"source":"a","key":"k"}}}`,
			[]Detail{
				{"/env/P", []string{"references an undefined secret"}},
				{"/secrets/db/source", []string{"must not be empty"}},
				{"/secrets/x/key", []string{`unknown field: a secret has only "source" and "file"`}},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := string(with(t, tt.extra))
			for _, request := range []bool{false, true} {
				var a App
				if request {
					var err error
					if a, _, err = DecodeRequest([]byte(body), fw); err != nil {
						t.Fatalf("DecodeRequest(%s) = %v; want no error", body, err)
					}
					a.Normalize()
				} else {
					a = mustDecode(t, body)
				}
				got := Validate(a)
				if tt.want == nil {
					if got != nil {
						t.Errorf("Validate(%s) = %v; want nil", tt.extra, got)
					}
					continue
				}
				if got == nil {
					t.Fatalf("Validate(%s) = nil; want %v", tt.extra, tt.want)
				}
				if d := cmp.Diff(tt.want, got.Details); d != "" {
					t.Errorf("Validate(%s) (request %v) details (-want +got):\n%s", tt.extra, request, d)
				}
			}
		})
	}
}

// TestFileSecrets: Marathon's secret volumes (container volumes with
// "secret") and secrets with a "file" are files of the app's tasks:
// accepted when they name a defined secret at a path a sandbox can hold,
// refused at their own path otherwise; other volumes beside them still
// get the refusal of volumes, and a secret volume has no other field.
func TestFileSecrets(t *testing.T) {
	const app = `"id":"/a","cmd":"x","secrets":{"db":{"source":"team/db"}},`
	const volumesMsg = "mounting volumes is not supported by corral yet; give [] or leave volumes out"
	tests := []struct {
		name  string
		body  string
		want  []Detail // nil: valid
		files []SecretFile
	}{
		{"secret volume", `{` + app + `"container":{"type":"MESOS","volumes":[{"containerPath":"conf/pw","secret":"db"}]}}`,
			nil, []SecretFile{{Path: "conf/pw", Secret: "db"}}},
		{"secret with a file", `{"id":"/a","cmd":"x","secrets":{"db":{"source":"team/db","file":"db.pw"},"tok":{"source":"t"}}}`,
			nil, []SecretFile{{Path: "db.pw", Secret: "db"}}},
		{"both forms", `{"id":"/a","cmd":"x","secrets":{"db":{"source":"team/db","file":"b"}},"container":{"type":"MESOS","volumes":[{"containerPath":"a","secret":"db"}]}}`,
			nil, []SecretFile{{Path: "a", Secret: "db"}, {Path: "b", Secret: "db"}}},
		{"secret volume after a host volume", `{` + app + `"container":{"type":"MESOS","volumes":[{"containerPath":"d","hostPath":"/d","mode":"RW"},{"containerPath":"pw","secret":"db"}]}}`,
			[]Detail{{"/container/volumes", []string{volumesMsg}}}, nil},
		{"secret volume of an undefined secret", `{"id":"/a","cmd":"x","container":{"volumes":[{"containerPath":"pw","secret":"nope"}]}}`,
			[]Detail{{"/container/volumes(0)/secret", []string{"volume.secret must refer to an existing secret"}}}, nil},
		{"secret volume with a mode", `{` + app + `"container":{"volumes":[{"containerPath":"pw","secret":"db","mode":"RW"}]}}`,
			[]Detail{{"/container/volumes(0)/mode", []string{`"mode" in a secret volume is not supported by corral yet: a secret volume has only "containerPath" and "secret", a read-only file in the sandbox`}}}, nil},
		{"absolute path", `{` + app + `"container":{"volumes":[{"containerPath":"/etc/pw","secret":"db"}]}}`,
			[]Detail{{"/container/volumes(0)/containerPath", []string{`"/etc/pw" is absolute: tasks have no file system of their own; give a path relative to the sandbox`}}}, nil},
		{"escaping file", `{"id":"/a","cmd":"x","secrets":{"db":{"source":"team/db","file":"../pw"}}}`,
			[]Detail{{"/secrets/db/file", []string{`"../pw" must be a clean path inside the sandbox (no '.', '..', empty components or trailing '/')`}}}, nil},
		{"over stdout", `{"id":"/a","cmd":"x","secrets":{"db":{"source":"team/db","file":"stdout"}}}`,
			[]Detail{{"/secrets/db/file", []string{`"stdout" is where the agent writes the task's output`}}}, nil},
		{"no path", `{` + app + `"container":{"volumes":[{"secret":"db"}]}}`,
			[]Detail{{"/container/volumes(0)/containerPath", []string{`"" is empty: give a path relative to the sandbox`}}}, nil},
		{"same path twice", `{"id":"/a","cmd":"x","secrets":{"db":{"source":"team/db","file":"pw"}},"container":{"volumes":[{"containerPath":"pw","secret":"db"}]}}`,
			[]Detail{{"/secrets/db/file", []string{`"pw" is the path of another secret file of the app`}}}, nil},
		{"secret not a string", `{` + app + `"container":{"volumes":[{"containerPath":"pw","secret":{"source":"db"}}]}}`,
			[]Detail{{"/container/volumes(0)/secret", []string{"must be the name of an entry of secrets"}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _, err := DecodeRequest([]byte(tt.body), fw)
			if err != nil {
				t.Fatalf("DecodeRequest(%s) = %v", tt.body, err)
			}
			a.Normalize()
			got := Validate(a)
			if tt.want == nil {
				if got != nil {
					t.Fatalf("Validate(DecodeRequest(%s)) = %v; want valid", tt.body, got)
				}
				if d := cmp.Diff(tt.files, a.SecretFiles(), cmp.Comparer(func(x, y SecretFile) bool { return x.Path == y.Path && x.Secret == y.Secret })); d != "" {
					t.Errorf("SecretFiles() (-want +got):\n%s", d)
				}
				return
			}
			if got == nil {
				t.Fatalf("Validate(DecodeRequest(%s)) = nil; want %v", tt.body, tt.want)
			}
			if d := cmp.Diff(tt.want, got.Details); d != "" {
				t.Errorf("Validate(DecodeRequest(%s)) details (-want +got):\n%s", tt.body, d)
			}
		})
	}
}

// withSecrets is a stored app whose env references a secret.
const withSecrets = `{"id":"/prod/web","cmd":"sleep 100","instances":3,"env":{"A":"1","DB":{"secret":"db"}},
 "secrets":{"db":{"source":"team/db"}},"version":"2015-09-29T15:59:51.164Z",
 "versionInfo":{"lastScalingAt":"2015-09-29T15:59:51.164Z","lastConfigChangeAt":"2015-09-29T15:59:51.164Z"}}`

// TestMergeSecrets: a patch (PUT or PATCH) replaces env and secrets as
// wholes, keeps them when it names neither, and any change of a secret
// or a reference is a change of configuration (a restart), never a
// scale; a patch that leaves a reference without its secret is refused.
func TestMergeSecrets(t *testing.T) {
	tests := []struct {
		name    string
		patch   string
		env     string
		secrets string
		scale   bool     // OnlyScale(current, merged)
		same    bool     // ConfigEqual(current, merged)
		invalid []Detail // Validate(merged); nil: valid
	}{
		{"scale keeps them", `{"instances":5}`,
			`{"A":"1","DB":{"secret":"db"}}`, `{"db":{"source":"team/db"}}`, true, true, nil},
		{"same secrets are no change", `{"secrets":{"db":{"source":"team/db"}},"env":{"A":"1","DB":{"secret":"db"}}}`,
			`{"A":"1","DB":{"secret":"db"}}`, `{"db":{"source":"team/db"}}`, false, true, nil},
		{"new source", `{"secrets":{"db":{"source":"team/db2"}}}`,
			`{"A":"1","DB":{"secret":"db"}}`, `{"db":{"source":"team/db2"}}`, false, false, nil},
		{"leading slash added", `{"secrets":{"db":{"source":"/team/db"}}}`,
			`{"A":"1","DB":{"secret":"db"}}`, `{"db":{"source":"/team/db"}}`, false, false, nil},
		{"new source and a scale", `{"secrets":{"db":{"source":"team/db2"}},"instances":5}`,
			`{"A":"1","DB":{"secret":"db"}}`, `{"db":{"source":"team/db2"}}`, false, false, nil},
		{"secret added, unreferenced", `{"secrets":{"db":{"source":"team/db"},"spare":{"source":"team/spare"}}}`,
			`{"A":"1","DB":{"secret":"db"}}`, `{"db":{"source":"team/db"},"spare":{"source":"team/spare"}}`, false, false, nil},
		{"reference moved", `{"env":{"A":"1","DB":{"secret":"other"}},"secrets":{"db":{"source":"team/db"},"other":{"source":"team/other"}}}`,
			`{"A":"1","DB":{"secret":"other"}}`, `{"db":{"source":"team/db"},"other":{"source":"team/other"}}`, false, false, nil},
		{"reference renamed", `{"env":{"A":"1","DB_PASSWORD":{"secret":"db"}},"instances":5}`,
			`{"A":"1","DB_PASSWORD":{"secret":"db"}}`, `{"db":{"source":"team/db"}}`, false, false, nil},
		{"reference becomes a value", `{"env":{"A":"1","DB":"plain"}}`,
			`{"A":"1","DB":"plain"}`, `{"db":{"source":"team/db"}}`, false, false, nil},
		{"value becomes a reference", `{"env":{"A":{"secret":"db"},"DB":{"secret":"db"}}}`,
			`{"A":{"secret":"db"},"DB":{"secret":"db"}}`, `{"db":{"source":"team/db"}}`, false, false, nil},
		{"env emptied", `{"env":{}}`, `{}`, `{"db":{"source":"team/db"}}`, false, false, nil},
		{"secrets emptied", `{"secrets":{}}`, `{"A":"1","DB":{"secret":"db"}}`, `{}`, false, false,
			[]Detail{{"/env/DB", []string{"references an undefined secret"}}}},
		{"reference to a secret not given", `{"env":{"DB":{"secret":"nope"}}}`, `{"DB":{"secret":"nope"}}`, `{"db":{"source":"team/db"}}`, false, false,
			[]Detail{{"/env/DB", []string{"references an undefined secret"}}}},
		{"bad source", `{"secrets":{"db":{"source":"team/../db"}}}`, `{"A":"1","DB":{"secret":"db"}}`, `{"db":{"source":"team/../db"}}`, false, false,
			[]Detail{{"/secrets/db/source", []string{`"team/../db" is not a valid secret name: want components of letters, digits, '.', '_' and '-' separated by '/', none empty, "." or ".."`}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur := mustDecode(t, withSecrets)
			got, _, err := Merge(cur, []byte(tt.patch), fw)
			if err != nil {
				t.Fatalf("Merge(stored, %s) = %v; want no error", tt.patch, err)
			}
			env, secrets := envAndSecrets(t, got)
			if d := cmp.Diff(jsonValue(t, tt.env), env); d != "" {
				t.Errorf("Merge(stored, %s) env (-want +got):\n%s", tt.patch, d)
			}
			if d := cmp.Diff(jsonValue(t, tt.secrets), secrets); d != "" {
				t.Errorf("Merge(stored, %s) secrets (-want +got):\n%s", tt.patch, d)
			}
			if s := OnlyScale(cur, got); s != tt.scale {
				t.Errorf("OnlyScale(stored, Merge(stored, %s)) = %v; want %v", tt.patch, s, tt.scale)
			}
			if s := ConfigEqual(cur, got); s != tt.same {
				t.Errorf("ConfigEqual(stored, Merge(stored, %s)) = %v; want %v", tt.patch, s, tt.same)
			}
			v := Validate(got)
			var details []Detail
			if v != nil {
				details = v.Details
			}
			if d := cmp.Diff(tt.invalid, details); d != "" {
				t.Errorf("Validate(Merge(stored, %s)) details (-want +got):\n%s", tt.patch, d)
			}
		})
	}
}

// TestMergeDropsSecretProblems: the problems of a replaced env or secrets
// go with them.
func TestMergeDropsSecretProblems(t *testing.T) {
	bad := mustDecode(t, `{"id":"/a","cmd":"x","env":{"P":{"secret":"db","key":"k"}},"secrets":{"db":{"source":"team/db","key":"k"}}}`)
	want := []Detail{
		{"/env/P/key", []string{`unknown field: a secret reference has only "secret"`}},
		{"/secrets/db/key", []string{`unknown field: a secret has only "source" and "file"`}},
	}
	if v := Validate(bad); v == nil || !cmp.Equal(v.Details, want) {
		t.Fatalf("Validate(bad) = %v; want %v", v, want)
	}
	fixed, _, err := Merge(bad, []byte(`{"env":{"P":{"secret":"db"}},"secrets":{"db":{"source":"team/db"}}}`), fw)
	if err != nil {
		t.Fatal(err)
	}
	if v := Validate(fixed); v != nil {
		t.Errorf("Validate(Merge(bad, fixed env and secrets)) = %v; want nil", v)
	}
}
