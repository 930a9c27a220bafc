package app

import (
	"encoding/json"
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// base is a valid app with one port and one HTTP health check; cases
// override its fields.
const base = `{"id":"/prod/web","cmd":"sleep 100","portDefinitions":[{"port":0}],"healthChecks":[{"protocol":"HTTP"}]}`

// with returns base with the fields of extra set; a null in extra removes
// the field.
func with(t *testing.T, extra string) []byte {
	t.Helper()
	var m, x map[string]json.RawMessage
	if err := json.Unmarshal([]byte(base), &m); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(extra), &x); err != nil {
		t.Fatalf("bad case %s: %v", extra, err)
	}
	for k, v := range x {
		if string(v) == "null" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func paths(e *ValidationError) []string {
	if e == nil {
		return nil
	}
	var ps []string
	for _, d := range e.Details {
		if len(d.Errors) == 0 {
			ps = append(ps, d.Path+" (no errors)")
		}
		ps = append(ps, d.Path)
	}
	return ps
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		want  []string // paths, in order; nil means valid
	}{
		{"base", `{}`, nil},

		{"id missing", `{"id":null}`, []string{"/id"}},
		{"id uppercase", `{"id":"/Web"}`, []string{"/id"}},
		{"id underscore", `{"id":"/prod_web"}`, []string{"/id"}},
		{"id restart", `{"id":"/web/restart"}`, []string{"/id"}},
		{"id relative form", `{"id":"prod/web"}`, nil},

		{"cmd and args", `{"args":["sleep","1"]}`, []string{"/"}},
		{"neither cmd nor args", `{"cmd":null}`, []string{"/"}},
		{"args only", `{"cmd":null,"args":["sleep","1"]}`, nil},
		{"empty args only", `{"cmd":null,"args":[]}`, []string{"/"}},
		{"empty cmd", `{"cmd":""}`, []string{"/cmd"}},
		{"docker container", `{"container":{"type":"DOCKER","docker":{"image":"nginx"}}}`, nil},
		{"docker container without cmd", `{"cmd":null,"container":{"type":"DOCKER","docker":{"image":"nginx"}}}`, nil},
		{"docker container without image", `{"container":{"type":"DOCKER","docker":{"image":""}}}`, []string{"/container/docker/image"}},
		{"mesos container with docker image", `{"container":{"type":"MESOS","docker":{"image":"nginx"}}}`, []string{"/container/docker/image"}},
		{"docker bridge", `{"portDefinitions":null,"networks":[{"mode":"container/bridge"}],"container":{"type":"DOCKER","docker":{"image":"nginx"},
			"portMappings":[{"containerPort":80,"hostPort":0,"name":"http"}]},"healthChecks":[{"portIndex":0}]}`, nil},
		{"docker legacy bridge", `{"portDefinitions":null,"container":{"type":"DOCKER","docker":{"image":"nginx","network":"BRIDGE",
			"portMappings":[{"containerPort":80}]}},"healthChecks":[{"portIndex":0}]}`, nil},
		{"docker bridge with port definitions", `{"networks":[{"mode":"container/bridge"}],"container":{"type":"DOCKER","docker":{"image":"nginx"}}}`, []string{"/portDefinitions"}},
		{"docker both networks", `{"portDefinitions":null,"networks":[{"mode":"container/bridge"}],"container":{"type":"DOCKER","docker":{"image":"nginx","network":"BRIDGE"}}}`, []string{"/networks"}},
		{"docker both port mappings", `{"portDefinitions":null,"networks":[{"mode":"container/bridge"}],"container":{"type":"DOCKER","docker":{"image":"nginx",
			"portMappings":[{"containerPort":80}]},"portMappings":[{"containerPort":80}]}}`, []string{"/container/portMappings"}},
		{"docker mappings on host", `{"container":{"type":"DOCKER","docker":{"image":"nginx"},"portMappings":[{"containerPort":80}]}}`, []string{"/container/portMappings"}},
		{"docker legacy NONE", `{"container":{"type":"DOCKER","docker":{"image":"nginx","network":"NONE"}}}`, []string{"/container/docker/network"}},
		{"docker network without name", `{"portDefinitions":null,"healthChecks":[],"networks":[{"mode":"container"}],"container":{"type":"DOCKER","docker":{"image":"nginx"}}}`, []string{"/networks(0)/name"}},
		{"docker bad protocol", `{"portDefinitions":null,"networks":[{"mode":"container/bridge"}],"container":{"type":"DOCKER","docker":{"image":"nginx"},
			"portMappings":[{"containerPort":80,"protocol":"sctp"}]}}`, []string{"/container/portMappings(0)/protocol"}},
		{"docker unknown option", `{"container":{"type":"DOCKER","docker":{"image":"nginx","parameters":[{"key":"pid","value":"host"}]}}}`, []string{"/container/docker/parameters(0)/key"}},
		{"docker pull config", `{"container":{"type":"DOCKER","docker":{"image":"nginx","pullConfig":{"secret":"s"}}}}`, []string{"/container/docker/pullConfig"}},
		{"docker host volume", `{"container":{"type":"DOCKER","docker":{"image":"nginx"},"volumes":[{"containerPath":"/data","hostPath":"data","mode":"RW"}]}}`, nil},
		{"docker persistent volume", `{"container":{"type":"DOCKER","docker":{"image":"nginx"},"volumes":[{"containerPath":"data","persistent":{"size":10},"mode":"RW"}]}}`,
			[]string{"/container/volumes(0)/persistent", "/container/volumes(0)/hostPath"}},
		{"mesos container without image", `{"container":{"type":"MESOS","volumes":[]}}`, nil},

		{"negative cpus", `{"cpus":-1}`, []string{"/cpus"}},
		{"resource limits", `{"cpus":0.5,"mem":64,"resourceLimits":{"cpus":"unlimited","mem":128}}`, nil},
		{"limit below request", `{"cpus":0.5,"mem":64,"resourceLimits":{"mem":32}}`, []string{"/resourceLimits/mem"}},
		{"negative mem", `{"mem":-1}`, []string{"/mem"}},
		{"negative disk", `{"disk":-0.5}`, []string{"/disk"}},
		{"no cpus and no mem", `{"cpus":0,"mem":0}`, []string{"/"}},
		{"no cpus", `{"cpus":0}`, nil},
		{"negative instances", `{"instances":-1}`, []string{"/instances"}},
		{"zero instances", `{"instances":0}`, nil},
		{"negative gpus", `{"gpus":-1}`, []string{"/gpus"}},
		{"cpus at the limit", `{"cpus":1e15}`, nil},
		{"cpus above the limit", `{"cpus":1.000001e15}`, []string{"/cpus"}},
		{"huge cpus", `{"cpus":1e308}`, []string{"/cpus"}},
		{"huge mem", `{"mem":1e308}`, []string{"/mem"}},
		{"huge disk", `{"disk":1e16}`, []string{"/disk"}},
		{"instances at the limit", `{"instances":100000}`, nil},
		{"instances above the limit", `{"instances":100001}`, []string{"/instances"}},

		{"negative backoff", `{"backoffSeconds":-1}`, []string{"/backoffSeconds"}},
		{"backoff factor below 1", `{"backoffFactor":0.9}`, []string{"/backoffFactor"}},
		{"backoff factor 1", `{"backoffFactor":1}`, nil},
		{"negative max launch delay", `{"maxLaunchDelaySeconds":-1}`, []string{"/maxLaunchDelaySeconds"}},

		{"min health above 1", `{"upgradeStrategy":{"minimumHealthCapacity":1.5}}`, []string{"/upgradeStrategy/minimumHealthCapacity"}},
		{"over capacity negative", `{"upgradeStrategy":{"maximumOverCapacity":-0.1}}`, []string{"/upgradeStrategy/maximumOverCapacity"}},
		{"upgrade bounds", `{"upgradeStrategy":{"minimumHealthCapacity":0,"maximumOverCapacity":1}}`, nil},
		{"progress deadline", `{"upgradeStrategy":{"progressDeadlineSeconds":2.5,"autoRollback":true}}`, nil},
		{"no progress deadline", `{"upgradeStrategy":{"progressDeadlineSeconds":0}}`, nil},
		{"negative progress deadline", `{"upgradeStrategy":{"progressDeadlineSeconds":-1}}`, []string{"/upgradeStrategy/progressDeadlineSeconds"}},
		{"progress deadline beyond a year", `{"upgradeStrategy":{"progressDeadlineSeconds":31536001}}`, []string{"/upgradeStrategy/progressDeadlineSeconds"}},

		{"kill selection", `{"killSelection":"RANDOM"}`, []string{"/killSelection"}},
		{"kill oldest", `{"killSelection":"OLDEST_FIRST"}`, nil},
		{"negative task kill grace", `{"taskKillGracePeriodSeconds":-1}`, []string{"/taskKillGracePeriodSeconds"}},

		{"inactive after expunge", `{"unreachableStrategy":{"inactiveAfterSeconds":600,"expungeAfterSeconds":300}}`, []string{"/unreachableStrategy"}},
		{"negative inactive", `{"unreachableStrategy":{"inactiveAfterSeconds":-1}}`, []string{"/unreachableStrategy/inactiveAfterSeconds"}},
		{"negative expunge", `{"unreachableStrategy":{"expungeAfterSeconds":-1}}`, []string{"/unreachableStrategy/expungeAfterSeconds", "/unreachableStrategy"}},
		{"unreachable disabled", `{"unreachableStrategy":"disabled"}`, nil},

		{"port too high", `{"portDefinitions":[{"port":65536}]}`, []string{"/portDefinitions(0)/port"}},
		{"port negative", `{"portDefinitions":[{"port":0},{"port":-1}]}`, []string{"/portDefinitions(1)/port"}},
		{"port 65535", `{"portDefinitions":[{"port":65535}]}`, nil},
		{"duplicate ports", `{"portDefinitions":[{"port":80},{"port":80}]}`, []string{"/portDefinitions"}},
		{"duplicate legacy ports", `{"portDefinitions":null,"ports":[80,80]}`, []string{"/portDefinitions"}},
		{"several dynamic ports", `{"portDefinitions":[{"port":0},{"port":0}]}`, nil},
		{"bad protocol", `{"portDefinitions":[{"port":0,"protocol":"sctp"}]}`, []string{"/portDefinitions(0)/protocol"}},
		{"udp,tcp", `{"portDefinitions":[{"port":0,"protocol":"udp,tcp"},{"port":0,"protocol":"udp"}]}`, nil},
		{"duplicate port names", `{"portDefinitions":[{"port":0,"name":"http"},{"port":0,"name":"http"}]}`, []string{"/portDefinitions"}},
		{"empty port label name", `{"portDefinitions":[{"port":0,"labels":{"":"x"}}]}`, []string{"/portDefinitions(0)/labels"}},
		{"ports disagree", `{"ports":[80],"portDefinitions":[{"port":81}]}`, []string{"/ports"}},
		{"ports agree", `{"ports":[80],"portDefinitions":[{"port":80}]}`, nil},

		{"unique", `{"constraints":[["hostname","UNIQUE"]]}`, nil},
		{"all operators", `{"constraints":[["hostname","UNIQUE"],["rack","CLUSTER","r1"],["zone","GROUP_BY"],["zone","GROUP_BY","3"],
			["rack","LIKE","r[12]"],["rack","UNLIKE","r3"],["hostname","MAX_PER","2"],["@region","IS","eu"]]}`, nil},
		{"unknown operator", `{"constraints":[["hostname","UNIQUE"],["hostname","NEAR"]]}`, []string{"/constraints(1)"}},
		{"lowercase operator", `{"constraints":[["hostname","unique"]]}`, []string{"/constraints(0)"}},
		{"unique with value", `{"constraints":[["hostname","UNIQUE","x"]]}`, []string{"/constraints(0)"}},
		{"cluster without value", `{"constraints":[["rack","CLUSTER"]]}`, nil},
		{"is without value", `{"constraints":[["rack","IS"]]}`, []string{"/constraints(0)"}},
		{"like without value", `{"constraints":[["rack","LIKE"]]}`, []string{"/constraints(0)"}},
		{"like bad regexp", `{"constraints":[["rack","LIKE","a("]]}`, []string{"/constraints(0)"}},
		{"unlike bad regexp", `{"constraints":[["rack","UNLIKE","[a"]]}`, []string{"/constraints(0)"}},
		{"max per not a number", `{"constraints":[["rack","MAX_PER","x"]]}`, []string{"/constraints(0)"}},
		{"max per zero", `{"constraints":[["rack","MAX_PER","0"]]}`, []string{"/constraints(0)"}},
		{"max per missing", `{"constraints":[["rack","MAX_PER"]]}`, []string{"/constraints(0)"}},
		{"group by not a number", `{"constraints":[["rack","GROUP_BY","x"]]}`, []string{"/constraints(0)"}},
		{"empty field", `{"constraints":[["","UNIQUE"]]}`, []string{"/constraints(0)"}},
		{"one element", `{"constraints":[["hostname"]]}`, []string{"/constraints(0)"}},
		{"four elements", `{"constraints":[["hostname","IS","a","b"]]}`, []string{"/constraints(0)"}},

		{"unknown check protocol", `{"healthChecks":[{"protocol":"UDP"}]}`, []string{"/healthChecks(0)/protocol"}},
		{"every check protocol", `{"healthChecks":[{"protocol":"HTTP"},{"protocol":"HTTPS"},{"protocol":"TCP"},
			{"protocol":"COMMAND","command":{"value":"true"}},{"protocol":"MESOS_HTTP"},{"protocol":"MESOS_HTTPS"},{"protocol":"MESOS_TCP"}]}`, nil},
		{"command without value", `{"healthChecks":[{"protocol":"COMMAND"}]}`, []string{"/healthChecks(0)/command"}},
		{"command with empty value", `{"healthChecks":[{"protocol":"COMMAND","command":{"value":""}}]}`, []string{"/healthChecks(0)/command"}},
		{"command on http check", `{"healthChecks":[{"protocol":"HTTP","command":{"value":"true"}}]}`, []string{"/healthChecks(0)/command"}},
		{"command check without ports", `{"portDefinitions":[],"healthChecks":[{"protocol":"COMMAND","command":{"value":"true"}}]}`, nil},
		{"port index out of range", `{"healthChecks":[{"protocol":"HTTP","portIndex":1}]}`, []string{"/healthChecks(0)/portIndex"}},
		{"port index negative", `{"healthChecks":[{"protocol":"TCP","portIndex":-1}]}`, []string{"/healthChecks(0)/portIndex"}},
		{"http check without ports", `{"portDefinitions":[],"healthChecks":[{"protocol":"HTTP"}]}`, []string{"/healthChecks(0)/portIndex"}},
		{"tcp check second port", `{"portDefinitions":[{"port":0},{"port":0}],"healthChecks":[{"protocol":"TCP","portIndex":1}]}`, nil},
		{"explicit port without ports", `{"portDefinitions":[],"healthChecks":[{"protocol":"MESOS_TCP","port":8080}]}`, nil},
		{"explicit port zero", `{"healthChecks":[{"protocol":"HTTP","port":0}]}`, []string{"/healthChecks(0)/port"}},
		{"port and port index", `{"healthChecks":[{"protocol":"HTTP","port":80,"portIndex":0}]}`, []string{"/healthChecks(0)"}},
		{"interval zero", `{"healthChecks":[{"intervalSeconds":0}]}`, []string{"/healthChecks(0)/intervalSeconds"}},
		{"timeout zero", `{"healthChecks":[{"timeoutSeconds":0}]}`, []string{"/healthChecks(0)/timeoutSeconds"}},
		{"timeout above interval", `{"healthChecks":[{"intervalSeconds":10,"timeoutSeconds":11}]}`, nil},
		{"timeout equal interval", `{"healthChecks":[{"intervalSeconds":10,"timeoutSeconds":10}]}`, nil},
		{"negative grace", `{"healthChecks":[{"gracePeriodSeconds":-1}]}`, []string{"/healthChecks(0)/gracePeriodSeconds"}},
		{"negative max failures", `{"healthChecks":[{"maxConsecutiveFailures":-1}]}`, []string{"/healthChecks(0)/maxConsecutiveFailures"}},
		{"zero grace and failures", `{"healthChecks":[{"gracePeriodSeconds":0,"maxConsecutiveFailures":0}]}`, nil},
		{"negative delay", `{"healthChecks":[{"delaySeconds":-1}]}`, []string{"/healthChecks(0)/delaySeconds"}},
		{"second check", `{"healthChecks":[{},{"protocol":"TCP","portIndex":5}]}`, []string{"/healthChecks(1)/portIndex"}},

		{"readiness check", `{"portDefinitions":[{"port":0,"name":"http"}],"readinessChecks":[{"portName":"http","path":"/ready","intervalSeconds":2,"timeoutSeconds":1,
			"httpStatusCodesForReady":[200,204],"preserveLastResponse":true}]}`, nil},
		{"readiness check defaults", `{"portDefinitions":[{"port":0,"name":"http-api"}],"readinessChecks":[{}]}`, nil},
		{"readiness check HTTPS", `{"portDefinitions":[{"port":0,"name":"http-api"}],"readinessChecks":[{"protocol":"HTTPS"}]}`, nil},
		{"readiness check on a docker mapping", `{"portDefinitions":null,"networks":[{"mode":"container/bridge"}],"container":{"type":"DOCKER","docker":{"image":"nginx"},
			"portMappings":[{"containerPort":80,"hostPort":0,"name":"web"}]},"healthChecks":[{"portIndex":0}],"readinessChecks":[{"portName":"web"}]}`, nil},
		{"readiness check port not named", `{"readinessChecks":[{}]}`, []string{"/readinessChecks(0)/portName"}},
		{"readiness check unknown port", `{"portDefinitions":[{"port":0,"name":"http"}],"readinessChecks":[{"portName":"admin"}]}`, []string{"/readinessChecks(0)/portName"}},
		{"readiness check TCP", `{"portDefinitions":[{"port":0,"name":"http-api"}],"readinessChecks":[{"protocol":"TCP"}]}`, []string{"/readinessChecks(0)/protocol"}},
		{"readiness check empty name and path", `{"portDefinitions":[{"port":0,"name":"http-api"}],"readinessChecks":[{"name":"","path":""}]}`,
			[]string{"/readinessChecks(0)/name", "/readinessChecks(0)/path"}},
		{"readiness check relative path", `{"portDefinitions":[{"port":0,"name":"http-api"}],"readinessChecks":[{"path":"ready"}]}`, []string{"/readinessChecks(0)/path"}},
		{"readiness check interval not above timeout", `{"portDefinitions":[{"port":0,"name":"http-api"}],"readinessChecks":[{"intervalSeconds":5,"timeoutSeconds":5}]}`,
			[]string{"/readinessChecks(0)/intervalSeconds"}},
		{"readiness check zero timeout", `{"portDefinitions":[{"port":0,"name":"http-api"}],"readinessChecks":[{"timeoutSeconds":0}]}`, []string{"/readinessChecks(0)/timeoutSeconds"}},
		{"readiness check default timeout above interval", `{"portDefinitions":[{"port":0,"name":"http-api"}],"readinessChecks":[{"intervalSeconds":5}]}`,
			[]string{"/readinessChecks(0)/intervalSeconds"}},
		{"readiness check no codes", `{"portDefinitions":[{"port":0,"name":"http-api"}],"readinessChecks":[{"httpStatusCodesForReady":[]}]}`,
			[]string{"/readinessChecks(0)/httpStatusCodesForReady"}},
		{"readiness check bad codes", `{"portDefinitions":[{"port":0,"name":"http-api"}],"readinessChecks":[{"httpStatusCodesForReady":[200,99,1000,200]}]}`,
			[]string{"/readinessChecks(0)/httpStatusCodesForReady(1)", "/readinessChecks(0)/httpStatusCodesForReady(2)", "/readinessChecks(0)/httpStatusCodesForReady"}},
		{"two readiness checks", `{"portDefinitions":[{"port":0,"name":"http-api"}],"readinessChecks":[{},{"name":"other"}]}`, []string{"/readinessChecks"}},

		{"dependencies", `{"dependencies":["/db","cache","../x"]}`, []string{"/dependencies(2)"}},
		{"bad dependency", `{"dependencies":["/db","/Cache"]}`, []string{"/dependencies(1)"}},
		{"self dependency", `{"dependencies":["web"]}`, []string{"/dependencies(0)"}},

		{"empty label name", `{"labels":{"":"x","a":"b"}}`, []string{"/labels"}},
		{"empty env name", `{"env":{"":"x"}}`, []string{"/env"}},
		{"env secret undefined", `{"env":{"A":"1","DB_PASSWORD":{"secret":"db"}}}`, []string{"/env/DB_PASSWORD"}},
		{"env secret", `{"env":{"A":"1","DB_PASSWORD":{"secret":"db"}},"secrets":{"db":{"source":"/db/password"}}}`, nil},
		{"secrets", `{"secrets":{"db":{"source":"/db/password"}}}`, nil},
		{"bad secret source", `{"secrets":{"db":{"source":"db//password"}}}`, []string{"/secrets/db/source"}},
		{"empty secrets", `{"secrets":{}}`, nil},

		{"user", `{"user":"nobody"}`, nil},
		{"user with digits, hyphen and underscore", `{"user":"_svc-web2"}`, nil},
		{"machine account user", `{"user":"host1$"}`, nil},
		{"longest user", `{"user":"abcdefghijabcdefghijabcdefghij12"}`, nil},
		{"user too long", `{"user":"abcdefghijabcdefghijabcdefghij123"}`, []string{"/user"}},
		{"uppercase user", `{"user":"Nobody"}`, []string{"/user"}},
		{"user starting with a digit", `{"user":"1x"}`, []string{"/user"}},
		{"user starting with a hyphen", `{"user":"-x"}`, []string{"/user"}},
		{"user with a space", `{"user":"a b"}`, []string{"/user"}},
		{"user with a colon", `{"user":"root:x"}`, []string{"/user"}},
		{"user with an inner dollar", `{"user":"a$b"}`, []string{"/user"}},
		{"user with a slash", `{"user":"../root"}`, []string{"/user"}},

		{"several, grouped", `{"id":"/A","cpus":-1,"mem":-1,"healthChecks":[{"protocol":"UDP","intervalSeconds":0,"timeoutSeconds":0}]}`,
			[]string{"/id", "/cpus", "/mem", "/healthChecks(0)/protocol", "/healthChecks(0)/intervalSeconds", "/healthChecks(0)/timeoutSeconds"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := with(t, tt.extra)
			a, err := Decode(body)
			if err != nil {
				t.Fatalf("Decode(%s) = %v; want no error", body, err)
			}
			a.Normalize()
			got := Validate(a)
			if !slices.Equal(paths(got), tt.want) {
				t.Errorf("Validate(%s) = %v; want paths %q", body, got, tt.want)
			}
			if got != nil && got.Message != "Object is not valid" {
				t.Errorf("Validate(%s).Message = %q; want %q", body, got.Message, "Object is not valid")
			}
		})
	}
}

// TestValidateMessages pins a few complete error bodies.
func TestValidateMessages(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		want  []Detail
	}{
		{"min health", `{"upgradeStrategy":{"minimumHealthCapacity":1.5}}`,
			[]Detail{{"/upgradeStrategy/minimumHealthCapacity", []string{"must be between 0 and 1 (got 1.5)"}}}},
		{"two errors on one path", `{"constraints":[["","UNIQUE","x"]]}`,
			[]Detail{{"/constraints(0)", []string{"the field must not be empty", "UNIQUE takes no value"}}}},
		{"port index", `{"healthChecks":[{"portIndex":2}]}`,
			[]Detail{{"/healthChecks(0)/portIndex", []string{"there is no port definition with index 2 (the app has 1)"}}}},
		{"container", `{"container":{"type":"DOCKER","docker":{"image":"nginx"}},"portDefinitions":null,"networks":[{"mode":"container/bridge"}],"healthChecks":[{"portIndex":1}]}`,
			[]Detail{{"/healthChecks(0)/portIndex", []string{"there is no port definition with index 1 (the app has 1)"}}}},
		{"undefined secret", `{"env":{"P":{"secret":"p"}}}`,
			[]Detail{{"/env/P", []string{"references an undefined secret"}}}},
		{"bad user", `{"user":"Nobody"}`,
			[]Detail{{"/user", []string{`"Nobody" is not a valid user name: want a lowercase letter or '_', then lowercase letters, digits, '_' or '-', optionally ending in '$'`}}}},
		{"long user", `{"user":"abcdefghijabcdefghijabcdefghij123"}`,
			[]Detail{{"/user", []string{"a user name has at most 32 bytes (got 33)"}}}},
		{"huge cpus", `{"cpus":1e308}`,
			[]Detail{{"/cpus", []string{"must be at most 1e+15 (got 1e+308)"}}}},
		{"too many instances", `{"instances":1000000}`,
			[]Detail{{"/instances", []string{"must be at most 100000 (got 1000000)"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustDecode(t, string(with(t, tt.extra)))
			got := Validate(a)
			if got == nil {
				t.Fatalf("Validate(%s) = nil; want %v", tt.extra, tt.want)
			}
			if d := cmp.Diff(tt.want, got.Details); d != "" {
				t.Errorf("Validate(%s) details (-want +got):\n%s", tt.extra, d)
			}
		})
	}
}

// TestValidateNonFinite covers values that JSON cannot carry but Go can.
func TestValidateNonFinite(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*App)
		want []string
	}{
		{"NaN cpus", func(a *App) { a.CPUs = math.NaN() }, []string{"/cpus"}},
		{"infinite mem", func(a *App) { a.Mem = math.Inf(1) }, []string{"/mem"}},
		{"infinite disk", func(a *App) { a.Disk = math.Inf(-1) }, []string{"/disk"}},
		{"gpus above the limit", func(a *App) { big := int64(2 * MaxResource); a.GPUs = int(big) }, []string{"/gpus"}},
		{"NaN backoff factor", func(a *App) { a.BackoffFactor = math.NaN() }, []string{"/backoffFactor"}},
		{"NaN min health", func(a *App) { a.UpgradeStrategy.MinimumHealthCapacity = math.NaN() }, []string{"/upgradeStrategy/minimumHealthCapacity"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustDecode(t, base)
			tt.mod(&a)
			if got := Validate(a); !slices.Equal(paths(got), tt.want) {
				t.Errorf("Validate(%s) = %v; want paths %q", tt.name, got, tt.want)
			}
		})
	}
}
