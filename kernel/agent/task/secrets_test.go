package task

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"corral/kernel/mesos"
)

func ref(env, name string) mesos.Variable {
	return mesos.Variable{Name: env, Type: mesos.VariableSecret,
		Secret: &mesos.Secret{Type: mesos.SecretReferenceType, Reference: &mesos.SecretReference{Name: name}}}
}

func inline(env, value string) mesos.Variable {
	return mesos.Variable{Name: env, Type: mesos.VariableSecret,
		Secret: &mesos.Secret{Type: mesos.SecretValueType, Value: &mesos.SecretValue{Data: []byte(value)}}}
}

func envTask(vars ...mesos.Variable) *mesos.TaskInfo {
	return &mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: &mesos.CommandInfo{Value: "x", Environment: &mesos.Environment{Variables: vars}}}
}

func TestResolveSecrets(t *testing.T) {
	stored := map[string][]byte{"team/db": []byte("db-pw"), "/team/token": []byte("tok"), "bin": []byte("a\x00b")}
	for _, tc := range []struct {
		name string
		ti   *mesos.TaskInfo
		want Secrets
		err  []string // parts of the error; none: no error
	}{
		{"no command", &mesos.TaskInfo{}, nil, nil},
		{"no environment", &mesos.TaskInfo{Command: &mesos.CommandInfo{Value: "x"}}, nil, nil},
		{"plain only", envTask(mesos.Variable{Name: "A", Value: "1"}), nil, nil},
		{"references and inline", envTask(ref("DB", "team/db"), ref("TOKEN", "/team/token"), inline("IN", "v"), mesos.Variable{Name: "A", Value: "1"}),
			Secrets{"DB": "db-pw", "TOKEN": "tok", "IN": "v"}, nil},
		{"one secret, two variables", envTask(ref("DB", "team/db"), ref("DB2", "team/db")), Secrets{"DB": "db-pw", "DB2": "db-pw"}, nil},
		{"not given", envTask(ref("DB", "team/db"), ref("X", "team/other")), nil, []string{"X", `"team/other"`, "not given"}},
		{"NUL stored", envTask(ref("B", "bin")), nil, []string{"B", `"bin"`, "NUL"}},
		{"NUL inline", envTask(inline("B", "x\x00")), nil, []string{"B", "inline", "NUL"}},
		{"no secret", envTask(mesos.Variable{Name: "S", Type: mesos.VariableSecret}), nil, []string{"S", "must set 'secret'"}},
		{"reference without a name", envTask(mesos.Variable{Name: "S", Type: mesos.VariableSecret,
			Secret: &mesos.Secret{Type: mesos.SecretReferenceType, Reference: &mesos.SecretReference{}}}), nil, []string{"S", "REFERENCE"}},
	} {
		r, err := Resolve(tc.ti, stored, false)
		got := r.Env
		if len(tc.err) == 0 {
			if err != nil || !maps.Equal(got, tc.want) {
				t.Errorf("%s: Resolve().Env = %v, %v; want %v", tc.name, got, err, tc.want)
			}
			continue
		}
		for _, part := range tc.err {
			if err == nil || !strings.Contains(err.Error(), part) {
				t.Errorf("%s: Resolve().Env = %v, %v; want an error saying %q", tc.name, got, err, part)
			}
		}
		if err != nil && (strings.Contains(err.Error(), "db-pw") || strings.Contains(err.Error(), "a\x00b")) {
			t.Errorf("%s: the error %q holds a value", tc.name, err)
		}
	}
}

func TestSecretRefs(t *testing.T) {
	ti := envTask(ref("A", "x"), inline("B", "v"), ref("C", "/y"), ref("D", "x"))
	if got := ti.SecretRefs(); !slices.Equal(got, []string{"x", "/y"}) {
		t.Errorf("SecretRefs() = %v; want [x /y]", got)
	}
	if got := (&mesos.TaskInfo{}).SecretRefs(); got != nil {
		t.Errorf("SecretRefs(no command) = %v; want none", got)
	}
}

func TestEnvSecrets(t *testing.T) {
	ti := envTask(mesos.Variable{Name: "PLAIN", Value: "p"}, ref("DB", "team/db"), inline("IN", "v"), ref("HOME", "h"))
	env := func(in EnvInput) map[string]string {
		m := map[string]string{}
		for _, kv := range Env(ti, in) {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		return m
	}
	got := env(EnvInput{Sandbox: "/sb", Secrets: Secrets{"DB": "db-pw", "IN": "v", "HOME": "/secret-home"}})
	for k, v := range map[string]string{"PLAIN": "p", "DB": "db-pw", "IN": "v", "HOME": "/secret-home"} {
		if got[k] != v {
			t.Errorf("Env()[%s] = %q; want %q", k, got[k], v)
		}
	}
	// Without values (a health check's environment), the secrets are
	// left out, not set empty, and do not override the defaults.
	got = env(EnvInput{Sandbox: "/sb"})
	for _, k := range []string{"DB", "IN"} {
		if v, ok := got[k]; ok {
			t.Errorf("Env() without secrets has %s=%q; want it left out", k, v)
		}
	}
	if got["HOME"] != "/sb" || got["PLAIN"] != "p" {
		t.Errorf("Env() without secrets: HOME=%q PLAIN=%q; want /sb and p", got["HOME"], got["PLAIN"])
	}
}

func TestRedacted(t *testing.T) {
	ti := envTask(mesos.Variable{Name: "PLAIN", Value: "p"}, ref("DB", "team/db"), inline("IN", "inl1ne"))
	before, _ := json.Marshal(ti)
	r := Redacted(ti)
	after, _ := json.Marshal(ti)
	if string(before) != string(after) {
		t.Fatalf("Redacted changed its argument: %s; was %s", after, before)
	}
	out, _ := json.Marshal(r)
	if strings.Contains(string(out), "aW5sMW5l") || strings.Contains(string(out), "inl1ne") {
		t.Errorf("Redacted() = %s; holds the inline value", out)
	}
	vs := r.Command.Environment.Variables
	if len(vs) != 3 || vs[0] != ti.Command.Environment.Variables[0] || vs[1].Secret.Reference.Name != "team/db" ||
		vs[2].Type != mesos.VariableSecret || vs[2].Secret.Type != mesos.SecretValueType || len(vs[2].Secret.Value.Data) != 0 {
		t.Errorf("Redacted() variables = %s; want the same variables, the inline one without its data", out)
	}
	plain := envTask(ref("DB", "team/db"))
	if Redacted(plain) != plain {
		t.Errorf("Redacted() of a task without inline secrets is a copy; want the task itself")
	}
}

func secretVolume(path, mode string, s *mesos.Secret) mesos.Volume {
	return mesos.Volume{ContainerPath: path, Mode: mode, Source: &mesos.VolumeSource{Type: mesos.VolumeSourceSecret, Secret: s}}
}

func refSecret(name string) *mesos.Secret {
	return &mesos.Secret{Type: mesos.SecretReferenceType, Reference: &mesos.SecretReference{Name: name}}
}

func valueSecret(v string) *mesos.Secret {
	return &mesos.Secret{Type: mesos.SecretValueType, Value: &mesos.SecretValue{Data: []byte(v)}}
}

// fullTask references secrets everywhere a task can: its command's
// environment, its health check's and two secret volumes.
func fullTask() *mesos.TaskInfo {
	ti := envTask(ref("DB", "team/db"), inline("IN", "inl1ne"))
	ti.HealthCheck = &mesos.HealthCheck{Type: "COMMAND", Command: &mesos.CommandInfo{Value: "true",
		Environment: &mesos.Environment{Variables: []mesos.Variable{ref("TOK", "/team/token"), inline("CIN", "ch3ck")}}}}
	ti.Container = &mesos.ContainerInfo{Type: mesos.ContainerMesos, Volumes: []mesos.Volume{
		secretVolume("conf/db.pw", mesos.VolumeRO, refSecret("bin")),
		secretVolume("key", mesos.VolumeRW, valueSecret("f1le")),
	}}
	return ti
}

func TestResolveEverywhere(t *testing.T) {
	stored := map[string][]byte{"team/db": []byte("db-pw"), "/team/token": []byte("tok"), "bin": []byte("a\x00b")}
	ti := fullTask()
	if got, want := ti.SecretRefs(), []string{"team/db", "/team/token", "bin"}; !slices.Equal(got, want) {
		t.Errorf("SecretRefs() = %v; want %v", got, want)
	}
	r, err := Resolve(ti, stored, false)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(r.Env, Secrets{"DB": "db-pw", "IN": "inl1ne"}) || !maps.Equal(r.Check, Secrets{"TOK": "tok", "CIN": "ch3ck"}) {
		t.Errorf("Resolve() env %v, check %v; want the command's and the check's variables apart", r.Env, r.Check)
	}
	want := []SecretFile{{Path: "conf/db.pw", Data: []byte("a\x00b")}, {Path: "key", Data: []byte("f1le"), Writable: true}}
	if !slices.EqualFunc(r.Files, want, func(a, b SecretFile) bool {
		return a.Path == b.Path && string(a.Data) == string(b.Data) && a.Writable == b.Writable
	}) {
		t.Errorf("Resolve() files = %+v; want %+v (a file may hold a NUL byte)", r.Files, want)
	}

	delete(stored, "bin")
	if _, err := Resolve(ti, stored, false); err == nil || !strings.Contains(err.Error(), `secret volume "conf/db.pw": secret "bin" was not given`) {
		t.Errorf("Resolve() without a volume's secret: %v; want an error naming the volume and the secret", err)
	}
	delete(stored, "/team/token")
	if _, err := Resolve(ti, stored, false); err == nil || !strings.Contains(err.Error(), "health check environment variable TOK") {
		t.Errorf("Resolve() without the check's secret: %v; want an error naming the check's variable", err)
	}

	// A recovered task: inline values redacted, the master gives only
	// some secrets; lenient keeps what it can.
	r, err = Resolve(Redacted(ti), map[string][]byte{"team/db": []byte("db-pw")}, true)
	if err != nil || !maps.Equal(r.Env, Secrets{"DB": "db-pw"}) || len(r.Check) != 0 || len(r.Files) != 0 {
		t.Errorf("Resolve(redacted, lenient) = %+v, %v; want only DB", r, err)
	}
	if _, err := Resolve(Redacted(ti), stored, false); err == nil {
		t.Errorf("Resolve(redacted) strictly = nil error; want the redacted inline values refused")
	}
}

func TestRedactedEverywhere(t *testing.T) {
	ti := fullTask()
	before, _ := json.Marshal(ti)
	out, _ := json.Marshal(Redacted(ti))
	after, _ := json.Marshal(ti)
	if string(before) != string(after) {
		t.Fatalf("Redacted changed its argument")
	}
	for _, v := range []string{"inl1ne", "ch3ck", "f1le"} {
		b64, _ := json.Marshal([]byte(v))
		if strings.Contains(string(out), v) || strings.Contains(string(out), strings.Trim(string(b64), `"`)) {
			t.Errorf("Redacted() = %s; holds the inline value %q", out, v)
		}
	}
	var back mesos.TaskInfo
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if got := back.SecretRefs(); !slices.Equal(got, ti.SecretRefs()) || !HasSecretVars(&back) {
		t.Errorf("Redacted() references %v; want those of the task, %v", got, ti.SecretRefs())
	}
	if vs := back.Container.SecretVolumes(); len(vs) != 2 || vs[1].Source.Secret.Type != mesos.SecretValueType || vs[1].Mode != mesos.VolumeRW {
		t.Errorf("Redacted() volumes = %+v; want both, the inline one still of type VALUE", vs)
	}
}
