package app

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// mustDecode decodes and normalizes body, failing the test on an error.
func mustDecode(t *testing.T, body string) App {
	t.Helper()
	a, err := Decode([]byte(body))
	if err != nil {
		t.Fatalf("Decode(%s) = %v; want no error", body, err)
	}
	a.Normalize()
	return a
}

func TestDecodeWrongTypes(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []Detail
	}{
		{"malformed", `{"id":`, []Detail{{"/", []string{"malformed JSON at byte 6: unexpected end of JSON input"}}}},
		{"empty body", ``, []Detail{{"/", []string{"malformed JSON at byte 0: unexpected end of JSON input"}}}},
		{"trailing garbage", `{"id":"/a"} x`, []Detail{{"/", []string{"malformed JSON at byte 13: invalid character 'x' after top-level value"}}}},
		{"array body", `[]`, []Detail{{"/", []string{expObject}}}},
		{"null body", `null`, []Detail{{"/", []string{expObject}}}},
		{"cpus string", `{"id":"/a","cpus":"x"}`, []Detail{{"/cpus", []string{expNumber}}}},
		{"id number", `{"id":1}`, []Detail{{"/id", []string{expString}}}},
		{"instances fraction", `{"instances":2.5}`, []Detail{{"/instances", []string{"must be an integer"}}}},
		{"instances huge", `{"instances":1e20}`, []Detail{{"/instances", []string{"number out of range"}}}},
		{"mem huge", `{"mem":1e400}`, []Detail{{"/mem", []string{"number out of range"}}}},
		{"instances bool", `{"instances":true}`, []Detail{{"/instances", []string{expNumber}}}},
		{"args string", `{"args":"ls"}`, []Detail{{"/args", []string{expArray}}}},
		{"args element", `{"args":["ls",1]}`, []Detail{{"/args(1)", []string{expString}}}},
		{"env number", `{"env":{"A":1}}`, []Detail{{"/env/A", []string{expString}}}},
		{"labels object", `{"labels":{"a":{}}}`, []Detail{{"/labels/a", []string{expString}}}},
		{"labels array", `{"labels":[]}`, []Detail{{"/labels", []string{expObject}}}},
		{"requirePorts string", `{"requirePorts":"yes"}`, []Detail{{"/requirePorts", []string{expBool}}}},
		{"port string", `{"portDefinitions":[{"port":"80"}]}`, []Detail{{"/portDefinitions(0)/port", []string{expNumber}}}},
		{"port definition not object", `{"portDefinitions":[80]}`, []Detail{{"/portDefinitions(0)", []string{expObject}}}},
		{"ports element", `{"ports":[80,"x"]}`, []Detail{{"/ports(1)", []string{expNumber}}}},
		{"constraint not array", `{"constraints":["hostname:UNIQUE"]}`, []Detail{{"/constraints(0)", []string{expArray}}}},
		{"constraint number", `{"constraints":[["hostname","MAX_PER",2]]}`, []Detail{{"/constraints(0)", []string{"constraint elements must be strings"}}}},
		{"health check portIndex", `{"healthChecks":[{"portIndex":"a"}]}`, []Detail{{"/healthChecks(0)/portIndex", []string{expNumber}}}},
		{"health check command", `{"healthChecks":[{},{"command":"ls"}]}`, []Detail{{"/healthChecks(1)/command", []string{expObject}}}},
		{"health check command value", `{"healthChecks":[{"command":{"value":1}}]}`, []Detail{{"/healthChecks(0)/command/value", []string{expString}}}},
		{"upgrade strategy field", `{"upgradeStrategy":{"minimumHealthCapacity":"x"}}`, []Detail{{"/upgradeStrategy/minimumHealthCapacity", []string{expNumber}}}},
		{"unreachable word", `{"unreachableStrategy":"never"}`, []Detail{{"/unreachableStrategy", []string{`must be "disabled" or an object`}}}},
		{"unreachable field", `{"unreachableStrategy":{"inactiveAfterSeconds":"x"}}`, []Detail{{"/unreachableStrategy/inactiveAfterSeconds", []string{expNumber}}}},
		{"container string", `{"container":"docker"}`, []Detail{{"/container", []string{expObject}}}},
		{"fetch object", `{"fetch":{}}`, []Detail{{"/fetch", []string{expArray}}}},
		{"taskKillGracePeriodSeconds string", `{"taskKillGracePeriodSeconds":"5"}`, []Detail{{"/taskKillGracePeriodSeconds", []string{expNumber}}}},
		{"several, in field order", `{"mem":"a","cpus":"b","id":2}`, []Detail{
			{"/id", []string{expString}}, {"/cpus", []string{expNumber}}, {"/mem", []string{expNumber}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.body))
			var ij *InvalidJSON
			if !errors.As(err, &ij) {
				t.Fatalf("Decode(%s) = %v; want *InvalidJSON", tt.body, err)
			}
			if ij.Message != "Invalid JSON" {
				t.Errorf("Decode(%s).Message = %q; want %q", tt.body, ij.Message, "Invalid JSON")
			}
			if d := cmp.Diff(tt.want, ij.Details); d != "" {
				t.Errorf("Decode(%s) details (-want +got):\n%s", tt.body, d)
			}
		})
	}
}

func TestDecodeTolerates(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"unknown fields", `{"id":"/a","cmd":"x","foo":1,"tasksRunning":2,"deployments":[],"tty":true}`},
		{"unknown nested fields", `{"id":"/a","cmd":"x","healthChecks":[{"ipProtocol":"IPv4","foo":{}}],"upgradeStrategy":{"x":1}}`},
		{"nulls", `{"id":"/a","cmd":"x","args":null,"user":null,"env":null,"container":null,"healthChecks":[{"port":null}]}`},
		{"integral float", `{"id":"/a","cmd":"x","instances":2.0}`},
		{"whitespace", " \n{ \"id\" : \"/a\" , \"cmd\" : \"x\" }\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustDecode(t, tt.body)
			if err := Validate(a); err != nil {
				t.Errorf("Validate(Decode(%s)) = %v; want nil", tt.body, err)
			}
		})
	}
}

// TestNormalizeDefaults checks that absent and null fields get defaults and
// that explicit zeros are kept.
func TestNormalizeDefaults(t *testing.T) {
	one := func(a App) any { return a.Instances }
	tests := []struct {
		name string
		body string
		get  func(App) any
		want any
	}{
		{"instances absent", `{}`, one, 1},
		{"instances null", `{"instances":null}`, one, 1},
		{"instances zero kept", `{"instances":0}`, one, 0},
		{"instances given", `{"instances":7}`, one, 7},
		{"cpus zero kept", `{"cpus":0}`, func(a App) any { return a.CPUs }, 0.0},
		{"cpus default", `{}`, func(a App) any { return a.CPUs }, 1.0},
		{"mem default", `{}`, func(a App) any { return a.Mem }, 128.0},
		{"backoff defaults", `{}`, func(a App) any {
			return [3]float64{a.BackoffSeconds, a.BackoffFactor, a.MaxLaunchDelaySeconds}
		}, [3]float64{1, 1.15, 300}},
		{"backoff zero kept", `{"backoffSeconds":0,"maxLaunchDelaySeconds":0}`, func(a App) any {
			return [2]float64{a.BackoffSeconds, a.MaxLaunchDelaySeconds}
		}, [2]float64{0, 0}},
		{"upgrade default", `{}`, func(a App) any { return a.UpgradeStrategy }, UpgradeStrategy{1, 1, 600, false}},
		{"upgrade partial", `{"upgradeStrategy":{"minimumHealthCapacity":0.5}}`, func(a App) any { return a.UpgradeStrategy }, UpgradeStrategy{0.5, 1, 600, false}},
		{"upgrade zeros kept", `{"upgradeStrategy":{"minimumHealthCapacity":0,"maximumOverCapacity":0,"progressDeadlineSeconds":0}}`,
			func(a App) any { return a.UpgradeStrategy }, UpgradeStrategy{0, 0, 0, false}},
		{"upgrade deadline and rollback", `{"upgradeStrategy":{"progressDeadlineSeconds":30,"autoRollback":true}}`,
			func(a App) any { return a.UpgradeStrategy }, UpgradeStrategy{1, 1, 30, true}},
		{"readiness defaults", `{"readinessChecks":[{}]}`, func(a App) any { return a.ReadinessChecks },
			[]ReadinessCheck{{Name: "readinessCheck", Protocol: "HTTP", Path: "/", PortName: "http-api", IntervalSeconds: 30, TimeoutSeconds: 10,
				HTTPStatusCodesForReady: []int{200}}}},
		{"readiness given", `{"readinessChecks":[{"name":"warm","protocol":"HTTPS","path":"/ready","portName":"web","intervalSeconds":3,"timeoutSeconds":1,
			"httpStatusCodesForReady":[204],"preserveLastResponse":true}]}`, func(a App) any { return a.ReadinessChecks },
			[]ReadinessCheck{{Name: "warm", Protocol: "HTTPS", Path: "/ready", PortName: "web", IntervalSeconds: 3, TimeoutSeconds: 1,
				HTTPStatusCodesForReady: []int{204}, PreserveLastResponse: true}}},
		{"readiness zeros kept", `{"readinessChecks":[{"intervalSeconds":0,"timeoutSeconds":0,"httpStatusCodesForReady":[],"name":""}]}`,
			func(a App) any { return a.ReadinessChecks },
			[]ReadinessCheck{{Protocol: "HTTP", Path: "/", PortName: "http-api", HTTPStatusCodesForReady: []int{}}}},
		{"kill selection", `{}`, func(a App) any { return a.KillSelection }, KillYoungestFirst},
		{"unreachable default", `{}`, func(a App) any { return a.UnreachableStrategy }, UnreachableStrategy{}},
		{"unreachable disabled", `{"unreachableStrategy":"disabled"}`, func(a App) any { return a.UnreachableStrategy }, UnreachableStrategy{Disabled: true}},
		{"unreachable object", `{"unreachableStrategy":{"inactiveAfterSeconds":60,"expungeAfterSeconds":120}}`,
			func(a App) any { return a.UnreachableStrategy }, UnreachableStrategy{InactiveAfterSeconds: 60, ExpungeAfterSeconds: 120}},
		{"no ports: one dynamic", `{}`, func(a App) any { return a.PortDefinitions }, []PortDefinition{{Port: 0, Protocol: "tcp"}}},
		{"null ports: one dynamic", `{"portDefinitions":null}`, func(a App) any { return a.PortDefinitions }, []PortDefinition{{Port: 0, Protocol: "tcp"}}},
		{"empty port definitions stay", `{"portDefinitions":[]}`, func(a App) any { return a.PortDefinitions }, []PortDefinition{}},
		{"empty legacy ports stay", `{"ports":[]}`, func(a App) any { return a.PortDefinitions }, []PortDefinition{}},
		{"legacy ports", `{"ports":[8080,0]}`, func(a App) any { return a.PortDefinitions },
			[]PortDefinition{{Port: 8080, Protocol: "tcp"}, {Port: 0, Protocol: "tcp"}}},
		{"protocol default", `{"portDefinitions":[{"port":53,"name":"dns"},{"port":0,"protocol":"udp"}]}`, func(a App) any { return a.PortDefinitions },
			[]PortDefinition{{Port: 53, Protocol: "tcp", Name: "dns"}, {Port: 0, Protocol: "udp"}}},
		{"both, definitions win", `{"ports":[80],"portDefinitions":[{"port":80,"protocol":"udp"}]}`, func(a App) any { return a.PortDefinitions },
			[]PortDefinition{{Port: 80, Protocol: "udp"}}},
		{"health check defaults", `{"healthChecks":[{}]}`, func(a App) any { return a.HealthChecks },
			[]HealthCheck{{Protocol: "HTTP", Path: "/", PortIndex: ptr(0), GracePeriodSeconds: 300, IntervalSeconds: 60,
				TimeoutSeconds: 20, MaxConsecutiveFailures: 3, DelaySeconds: 15}}},
		{"health check zeros kept", `{"healthChecks":[{"protocol":"TCP","gracePeriodSeconds":0,"maxConsecutiveFailures":0,"delaySeconds":0}]}`,
			func(a App) any { return a.HealthChecks },
			[]HealthCheck{{Protocol: "TCP", PortIndex: ptr(0), GracePeriodSeconds: 0, IntervalSeconds: 60,
				TimeoutSeconds: 20, MaxConsecutiveFailures: 0, DelaySeconds: 0}}},
		{"health check explicit port", `{"healthChecks":[{"protocol":"MESOS_HTTP","port":8080,"path":"/ping"}]}`,
			func(a App) any { return a.HealthChecks },
			[]HealthCheck{{Protocol: "MESOS_HTTP", Path: "/ping", Port: ptr(8080), GracePeriodSeconds: 300, IntervalSeconds: 60,
				TimeoutSeconds: 20, MaxConsecutiveFailures: 3, DelaySeconds: 15}}},
		{"command check has no port", `{"healthChecks":[{"protocol":"COMMAND","command":{"value":"true"}}]}`,
			func(a App) any { return a.HealthChecks },
			[]HealthCheck{{Protocol: "COMMAND", Command: &Command{Value: "true"}, GracePeriodSeconds: 300, IntervalSeconds: 60,
				TimeoutSeconds: 20, MaxConsecutiveFailures: 3, DelaySeconds: 15}}},
		{"id canonical", `{"id":"prod/web/"}`, func(a App) any { return a.ID }, "/prod/web"},
		{"dependencies resolved", `{"id":"/prod/web","dependencies":["db","/cache/","/x/y"]}`, func(a App) any { return a.Dependencies },
			[]string{"/prod/db", "/cache", "/x/y"}},
		{"top-level dependency", `{"id":"/web","dependencies":["db"]}`, func(a App) any { return a.Dependencies }, []string{"/db"}},
		{"empty args dropped", `{"args":[]}`, func(a App) any { return a.Args }, []string(nil)},
		{"env secret not a plain value", `{"env":{"A":"1","B":{"secret":"b"}}}`, func(a App) any { return a.Env }, map[string]string{"A": "1"}},
		{"version kept", `{"version":"2014-09-12T23:28:21.737Z","versionInfo":{"lastScalingAt":"x","lastConfigChangeAt":"y"}}`,
			func(a App) any { return [2]any{a.Version, *a.VersionInfo} },
			[2]any{"2014-09-12T23:28:21.737Z", VersionInfo{"x", "y"}}},
		{"task kill grace", `{"taskKillGracePeriodSeconds":0}`, func(a App) any { return *a.TaskKillGracePeriodSeconds }, 0},
		{"constraints", `{"constraints":[["hostname","UNIQUE"],["rack","LIKE","a.*"]]}`, func(a App) any { return a.Constraints },
			[]Constraint{{"hostname", "UNIQUE", ""}, {"rack", "LIKE", "a.*"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustDecode(t, tt.body)
			if d := cmp.Diff(tt.want, tt.get(a)); d != "" {
				t.Errorf("Normalize(Decode(%s)) (-want +got):\n%s", tt.body, d)
			}
			b := a
			b.Normalize()
			if d := cmp.Diff(tt.get(a), tt.get(b)); d != "" || b.Instances != a.Instances {
				t.Errorf("Normalize twice (%s) changed the app (-once +twice):\n%s", tt.body, d)
			}
		})
	}
}

func ptr(n int) *int { return &n }

// TestNormalizeGoLiteral: without a record of given fields, zero means
// absent.
func TestNormalizeGoLiteral(t *testing.T) {
	cmd := "sleep 1"
	a := App{ID: "web", Cmd: &cmd, Instances: 3, HealthChecks: []HealthCheck{{Protocol: ProtocolTCP}}}
	a.Normalize()
	got := [4]any{a.ID, a.Instances, a.CPUs, a.HealthChecks[0].IntervalSeconds}
	want := [4]any{"/web", 3, 1.0, 60}
	if got != want {
		t.Errorf("Normalize(literal) = %v; want %v", got, want)
	}
	a.Instances = 0
	a.Normalize()
	if a.Instances != 0 {
		t.Errorf("Normalize(normalized app with instances 0).Instances = %d; want 0", a.Instances)
	}
}

// TestNormalizeDoesNotAlias: normalizing a copy leaves the original's
// slices alone.
func TestNormalizeDoesNotAlias(t *testing.T) {
	a, err := Decode([]byte(`{"id":"/prod/web","cmd":"x","portDefinitions":[{"port":1}],"healthChecks":[{}],"dependencies":["db"]}`))
	if err != nil {
		t.Fatal(err)
	}
	b := a
	b.Normalize()
	if a.PortDefinitions[0].Protocol != "" || a.HealthChecks[0].Protocol != "" || a.Dependencies[0] != "db" {
		t.Errorf("Normalize(copy) changed the original: %+v %+v %v", a.PortDefinitions, a.HealthChecks, a.Dependencies)
	}
}

func TestUnmarshalJSON(t *testing.T) {
	var wrapper struct {
		App App `json:"app"`
	}
	if err := json.Unmarshal([]byte(`{"app":{"id":"/a","cmd":"x","instances":0}}`), &wrapper); err != nil {
		t.Fatalf("json.Unmarshal = %v; want nil", err)
	}
	wrapper.App.Normalize()
	if wrapper.App.ID != "/a" || wrapper.App.Instances != 0 {
		t.Errorf("json.Unmarshal into App = %+v; want id /a, instances 0", wrapper.App)
	}
	err := json.Unmarshal([]byte(`{"app":{"cpus":"x"}}`), &wrapper)
	var ij *InvalidJSON
	if !errors.As(err, &ij) {
		t.Errorf("json.Unmarshal(cpus x) = %v; want *InvalidJSON", err)
	}
}

func TestSubtypeJSON(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"constraint two", Constraint{"hostname", "UNIQUE", ""}, `["hostname","UNIQUE"]`},
		{"constraint three", Constraint{"rack", "LIKE", "a.*"}, `["rack","LIKE","a.*"]`},
		{"unreachable disabled", UnreachableStrategy{Disabled: true}, `"disabled"`},
		{"unreachable object", UnreachableStrategy{InactiveAfterSeconds: 1, ExpungeAfterSeconds: 2}, `{"inactiveAfterSeconds":1,"expungeAfterSeconds":2}`},
		{"port definition", PortDefinition{Port: 80, Protocol: "tcp", Name: "http"}, `{"port":80,"protocol":"tcp","name":"http","labels":{}}`},
		{"http check", HealthCheck{Protocol: "HTTP", Path: "/", PortIndex: ptr(0), Command: &Command{"x"}},
			`{"protocol":"HTTP","path":"/","portIndex":0,"command":null,"gracePeriodSeconds":0,"intervalSeconds":0,"timeoutSeconds":0,"maxConsecutiveFailures":0,"ignoreHttp1xx":false,"delaySeconds":0}`},
		{"port check", HealthCheck{Protocol: "TCP", Port: ptr(9000)},
			`{"protocol":"TCP","port":9000,"command":null,"gracePeriodSeconds":0,"intervalSeconds":0,"timeoutSeconds":0,"maxConsecutiveFailures":0,"ignoreHttp1xx":false,"delaySeconds":0}`},
		{"command check", HealthCheck{Protocol: "COMMAND", Command: &Command{"true"}},
			`{"protocol":"COMMAND","command":{"value":"true"},"gracePeriodSeconds":0,"intervalSeconds":0,"timeoutSeconds":0,"maxConsecutiveFailures":0,"ignoreHttp1xx":false,"delaySeconds":0}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.v)
			if err != nil || string(got) != tt.want {
				t.Errorf("json.Marshal(%+v) = %s, %v; want %s", tt.v, got, err, tt.want)
			}
		})
	}
	var c Constraint
	if err := json.Unmarshal([]byte(`["rack","IS","a"]`), &c); err != nil || c != (Constraint{"rack", "IS", "a"}) {
		t.Errorf("json.Unmarshal(constraint) = %+v, %v; want {rack IS a}", c, err)
	}
	if err := json.Unmarshal([]byte(`["rack"]`), &c); err == nil {
		t.Errorf("json.Unmarshal([\"rack\"]) into Constraint = nil error; want an error")
	}
	var u UnreachableStrategy
	if err := json.Unmarshal([]byte(`"disabled"`), &u); err != nil || !u.Disabled {
		t.Errorf("json.Unmarshal(\"disabled\") = %+v, %v; want Disabled", u, err)
	}
}

func TestErrorStrings(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"invalid json", &InvalidJSON{"Invalid JSON", []Detail{{"/cpus", []string{expNumber}}, {"/id", []string{"a", "b"}}}},
			"Invalid JSON: /cpus error.expected.jsnumber; /id a, b"},
		{"validation", &ValidationError{"Object is not valid", []Detail{{"/", []string{"x"}}}}, "Object is not valid: / x"},
		{"no details", &ValidationError{Message: "Object is not valid"}, "Object is not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q; want %q", got, tt.want)
			}
		})
	}
}

// TestMarshalGivenFields: fields that are null or absent by default are
// written when given.
func TestMarshalGivenFields(t *testing.T) {
	a := mustDecode(t, `{"id":"/a","args":["x"],"user":"nobody","acceptedResourceRoles":["*"],"role":"web",
		"taskKillGracePeriodSeconds":5,"ipAddress":{"networkName":"n"},"networks":[{"mode":"host"}],"residency":{}}`)
	out, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"cmd": nil, "args": []any{"x"}, "user": "nobody", "acceptedResourceRoles": []any{"*"}, "role": "web",
		"taskKillGracePeriodSeconds": 5.0, "ipAddress": map[string]any{"networkName": "n"},
		"networks": []any{map[string]any{"mode": "host"}}, "residency": map[string]any{},
	}
	for k, w := range want {
		if d := cmp.Diff(w, got[k]); d != "" {
			t.Errorf("MarshalJSON(app)[%q] (-want +got):\n%s", k, d)
		}
	}
}
