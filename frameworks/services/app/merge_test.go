package app

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// stored is the current app that patches apply to.
const stored = `{"id":"/prod/web","cmd":"sleep 100","instances":3,"cpus":0.5,"env":{"B":"2"},
 "portDefinitions":[{"port":8080,"name":"http"}],"healthChecks":[{"protocol":"TCP","maxConsecutiveFailures":0}],
 "upgradeStrategy":{"minimumHealthCapacity":0.5,"maximumOverCapacity":0},"labels":{"team":"a"},
 "version":"2015-09-29T15:59:51.164Z","versionInfo":{"lastScalingAt":"2015-09-29T15:59:51.164Z","lastConfigChangeAt":"2015-09-29T15:59:51.164Z"}}`

func TestMerge(t *testing.T) {
	tests := []struct {
		name  string
		patch string
		get   func(App) any
		want  any
		scale bool // OnlyScale(current, merged)
	}{
		{"empty patch", `{}`, func(a App) any { return a.Instances }, 3, false},
		{"nulls mean unchanged", `{"cmd":null,"instances":null,"env":null,"healthChecks":null,"upgradeStrategy":null}`,
			func(a App) any {
				return [4]any{*a.Cmd, a.Instances, a.Env["B"], a.HealthChecks[0].MaxConsecutiveFailures}
			},
			[4]any{"sleep 100", 3, "2", 0}, false},
		{"scale", `{"instances":5}`, func(a App) any { return a.Instances }, 5, true},
		{"scale to zero", `{"instances":0}`, func(a App) any { return a.Instances }, 0, true},
		{"same id is fine", `{"id":"prod/web/","instances":4}`, func(a App) any { return a.ID }, "/prod/web", true},
		{"cmd replaced", `{"cmd":"sleep 200"}`, func(a App) any { return *a.Cmd }, "sleep 200", false},
		{"args drop cmd", `{"args":["sleep","1"]}`, func(a App) any { return [2]any{a.Cmd, a.Args} },
			[2]any{(*string)(nil), []string{"sleep", "1"}}, false},
		{"env replaced whole", `{"env":{"A":"1"}}`, func(a App) any { return a.Env }, map[string]string{"A": "1"}, false},
		{"env emptied", `{"env":{}}`, func(a App) any { return a.Env }, map[string]string{}, false},
		{"labels untouched by env", `{"env":{"A":"1"}}`, func(a App) any { return a.Labels }, map[string]string{"team": "a"}, false},
		{"legacy ports replace definitions", `{"ports":[9000,0]}`, func(a App) any { return a.PortDefinitions },
			[]PortDefinition{{Port: 9000, Protocol: "tcp"}, {Port: 0, Protocol: "tcp"}}, false},
		{"definitions replaced", `{"portDefinitions":[],"healthChecks":[]}`, func(a App) any { return a.PortDefinitions }, []PortDefinition{}, false},
		{"new health checks get defaults", `{"healthChecks":[{"protocol":"TCP"}]}`, func(a App) any { return a.HealthChecks },
			[]HealthCheck{{Protocol: "TCP", PortIndex: ptr(0), GracePeriodSeconds: 300, IntervalSeconds: 60,
				TimeoutSeconds: 20, MaxConsecutiveFailures: 3, DelaySeconds: 15}}, false},
		{"upgrade strategy replaced whole", `{"upgradeStrategy":{"minimumHealthCapacity":0.8}}`,
			func(a App) any { return a.UpgradeStrategy }, UpgradeStrategy{0.8, 1, 600, false}, false},
		{"progress deadline set", `{"upgradeStrategy":{"minimumHealthCapacity":1,"progressDeadlineSeconds":60,"autoRollback":true}}`,
			func(a App) any { return a.UpgradeStrategy }, UpgradeStrategy{1, 1, 60, true}, false},
		{"cpus zero", `{"cpus":0}`, func(a App) any { return a.CPUs }, 0.0, false},
		{"version not taken", `{"version":"2020-01-01T00:00:00.000Z","versionInfo":{"lastScalingAt":"x"}}`,
			func(a App) any { return [2]any{a.Version, a.VersionInfo.LastScalingAt} },
			[2]any{"2015-09-29T15:59:51.164Z", "2015-09-29T15:59:51.164Z"}, false},
		{"unknown fields ignored", `{"tasks":[],"foo":1}`, func(a App) any { return a.Instances }, 3, false},
		{"same value is no change", `{"cpus":0.5}`, func(a App) any { return a.CPUs }, 0.5, false},
		{"user set", `{"user":"nobody"}`, func(a App) any { return a.User }, "nobody", false},
		{"user set with a scale is a restart", `{"user":"nobody","instances":5}`, func(a App) any { return [2]any{a.User, a.Instances} },
			[2]any{"nobody", 5}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur := mustDecode(t, stored)
			before, _ := json.Marshal(cur)
			got, _, err := Merge(cur, []byte(tt.patch), fw)
			if err != nil {
				t.Fatalf("Merge(stored, %s) = %v; want no error", tt.patch, err)
			}
			if d := cmp.Diff(tt.want, tt.get(got)); d != "" {
				t.Errorf("Merge(stored, %s) (-want +got):\n%s", tt.patch, d)
			}
			if s := OnlyScale(cur, got); s != tt.scale {
				t.Errorf("OnlyScale(stored, Merge(stored, %s)) = %v; want %v", tt.patch, s, tt.scale)
			}
			if after, _ := json.Marshal(cur); string(after) != string(before) {
				t.Errorf("Merge(stored, %s) modified current:\n%s\nwas\n%s", tt.patch, after, before)
			}
			if verr := Validate(got); verr != nil {
				t.Errorf("Validate(Merge(stored, %s)) = %v; want nil", tt.patch, verr)
			}
		})
	}
}

// TestMergeUnchangedFields: fields the patch does not name keep their
// values, including explicit zeros that would otherwise default.
func TestMergeUnchangedFields(t *testing.T) {
	cur := mustDecode(t, stored)
	got, _, err := Merge(cur, []byte(`{"instances":7}`), fw)
	if err != nil {
		t.Fatal(err)
	}
	if !ConfigEqual(cur, got) {
		a, _ := json.Marshal(cur)
		b, _ := json.Marshal(got)
		t.Errorf("ConfigEqual(stored, Merge(stored, instances 7)) = false; want true\n%s\n%s", a, b)
	}
}

func TestMergeErrors(t *testing.T) {
	tests := []struct {
		name    string
		patch   string
		invalid bool // *InvalidJSON; otherwise *ValidationError
		want    []Detail
	}{
		{"other id", `{"id":"/prod/api"}`, false,
			[]Detail{{"/id", []string{`"/prod/api" does not match the app being updated (/prod/web)`}}}},
		{"malformed", `{"instances":`, true,
			[]Detail{{"/", []string{"malformed JSON at byte 13: unexpected end of JSON input"}}}},
		{"not an object", `[1]`, true, []Detail{{"/", []string{expObject}}}},
		{"wrong type", `{"cpus":"x"}`, true, []Detail{{"/cpus", []string{expNumber}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Merge(mustDecode(t, stored), []byte(tt.patch), fw)
			var details []Detail
			var ij *InvalidJSON
			var ve *ValidationError
			switch {
			case tt.invalid && errors.As(err, &ij):
				details = ij.Details
			case !tt.invalid && errors.As(err, &ve):
				details = ve.Details
			default:
				t.Fatalf("Merge(stored, %s) = %v (%T); want invalid JSON %v", tt.patch, err, err, tt.invalid)
			}
			if d := cmp.Diff(tt.want, details); d != "" {
				t.Errorf("Merge(stored, %s) details (-want +got):\n%s", tt.patch, d)
			}
		})
	}
}

// TestMergeKeepsPatchProblems: a patch with an env object that is no
// secret reference is merged, and Validate reports it.
func TestMergeKeepsPatchProblems(t *testing.T) {
	got, _, err := Merge(mustDecode(t, stored), []byte(`{"env":{"P":{"secert":"p"}}}`), fw)
	if err != nil {
		t.Fatal(err)
	}
	want := []Detail{
		{"/env/P/secert", []string{`unknown field: a secret reference has only "secret"`}},
		{"/env/P", []string{`must be a string or a secret reference {"secret": "<name of an entry of secrets>"}`}},
	}
	if v := Validate(got); v == nil || !cmp.Equal(v.Details, want) {
		t.Errorf("Validate(Merge(stored, misspelt secret reference)) = %v; want %v", v, want)
	}
	// A later patch replacing env clears the problem.
	again, _, err := Merge(got, []byte(`{"env":{"P":"plain"}}`), fw)
	if err != nil {
		t.Fatal(err)
	}
	if v := Validate(again); v != nil {
		t.Errorf("Validate(Merge(invalid, plain env)) = %v; want nil", v)
	}
}

func TestConfigEqual(t *testing.T) {
	a := mustDecode(t, stored)
	tests := []struct {
		name  string
		mod   func(*App)
		equal bool
		scale bool
	}{
		{"identical", func(*App) {}, true, false},
		{"instances", func(b *App) { b.Instances = 9 }, true, true},
		{"version", func(b *App) { b.Version = "2020-01-01T00:00:00.000Z"; b.VersionInfo = nil }, true, false},
		{"version and instances", func(b *App) { b.Version = "x"; b.Instances = 1 }, true, true},
		{"nil and empty labels", func(b *App) { b.Labels = nil; a.Labels = map[string]string{} }, true, false},
		{"cmd", func(b *App) { c := "other"; b.Cmd = &c }, false, false},
		{"cmd and instances", func(b *App) { c := "other"; b.Cmd = &c; b.Instances = 1 }, false, false},
		{"env value", func(b *App) { b.Env = map[string]string{"B": "3"} }, false, false},
		{"health check", func(b *App) { b.HealthChecks = nil }, false, false},
		{"compat field spacing", func(b *App) {
			a.Container = json.RawMessage(`{"type":"MESOS"}`)
			b.Container = json.RawMessage(`{"type":"MESOS"}`)
		}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a = mustDecode(t, stored)
			b := mustDecode(t, stored)
			tt.mod(&b)
			if got := ConfigEqual(a, b); got != tt.equal {
				t.Errorf("ConfigEqual(stored, %s) = %v; want %v", tt.name, got, tt.equal)
			}
			if got := OnlyScale(a, b); got != tt.scale {
				t.Errorf("OnlyScale(stored, %s) = %v; want %v", tt.name, got, tt.scale)
			}
		})
	}
}

// TestMergeKeepsZeroDeadline: scaling an app whose progress deadline is
// off (0) keeps it off, and is only a scale, not a restart; a readiness
// check's fields stay as stored.
func TestMergeKeepsZeroDeadline(t *testing.T) {
	cur := mustDecode(t, `{"id":"/web","cmd":"sleep 100","instances":2,"portDefinitions":[{"port":0,"name":"http"}],
 "upgradeStrategy":{"progressDeadlineSeconds":0},"readinessChecks":[{"name":"ready","portName":"http","path":"/ready"}]}`)
	got, _, err := Merge(cur, []byte(`{"instances":3}`), fw)
	if err != nil {
		t.Fatal(err)
	}
	if d := got.UpgradeStrategy.ProgressDeadlineSeconds; d != 0 {
		t.Errorf("progressDeadlineSeconds after a scale = %v; want 0 kept", d)
	}
	if !OnlyScale(cur, got) {
		t.Errorf("scaling an app with no progress deadline is not OnlyScale")
	}
	if rc := got.ReadinessChecks[0]; rc.Name != "ready" || rc.Path != "/ready" {
		t.Errorf("readiness check after a scale = %+v", rc)
	}
}
