package app

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fw is the framework of the request tests: DefaultConfig's role and user.
var fw = Framework{Role: "*", User: "root"}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkRequest decodes, normalizes and validates body as the API does and
// returns the validation error (nil if valid) and the warnings.
func checkRequest(t *testing.T, body string, fw Framework) (*ValidationError, []Warning) {
	t.Helper()
	a, ws, err := DecodeRequest([]byte(body), fw)
	if err != nil {
		t.Fatalf("DecodeRequest(%s) = %v; want no error", body, err)
	}
	a.Normalize()
	return Validate(a), ws
}

// TestDecodeRequestRefusesUnsupported: a field corral does not implement,
// given a value that would change what the app does, is a 422 naming it.
func TestDecodeRequestRefusesUnsupported(t *testing.T) {
	const app = `"id":"/a","cmd":"x",`
	tests := []struct {
		name string
		body string
		fw   Framework
		path string
	}{
		{"storeUrls", `{` + app + `"storeUrls":["https://example.com/a.tgz"]}`, fw, "/storeUrls"},
		{"executor", `{` + app + `"executor":"/opt/executors/custom"}`, fw, "/executor"},
		{"residency", `{` + app + `"residency":{"relaunchEscalationTimeoutSeconds":3600,"taskLostBehavior":"WAIT_FOREVER"}}`, fw, "/residency"},
		{"container volumes", `{` + app + `"container":{"type":"MESOS","volumes":[{"containerPath":"data","hostPath":"/var/data","mode":"RW"}]}}`, fw, "/container/volumes"},
		{"container port mappings", `{` + app + `"container":{"type":"MESOS","portMappings":[{"containerPort":80}]}}`, fw, "/container/portMappings"},
		{"secret volume with hostPath", `{` + app + `"container":{"type":"MESOS","volumes":[{"containerPath":"pw","secret":"db","hostPath":"/etc"}]},"secrets":{"db":{"source":"team/db"}}}`, fw, "/container/volumes(0)/hostPath"},
		{"container linuxInfo", `{` + app + `"container":{"type":"MESOS","linuxInfo":{"seccomp":{"unconfined":true}}}}`, fw, "/container/linuxInfo"},
		{"container network", `{` + app + `"networks":[{"mode":"container","name":"dcos"}]}`, fw, "/networks"},
		{"bridge network", `{` + app + `"networks":[{"mode":"container/bridge"}]}`, fw, "/networks"},
		{"named host network", `{` + app + `"networks":[{"mode":"host","name":"x"}]}`, fw, "/networks"},
		{"ipAddress", `{` + app + `"ipAddress":{"networkName":"dcos"}}`, fw, "/ipAddress"},
		{"acceptedResourceRoles", `{` + app + `"acceptedResourceRoles":["slave_public"]}`, fw, "/acceptedResourceRoles"},
		{"role", `{` + app + `"role":"prod"}`, fw, "/role"},
		{"role * when the framework's is another", `{` + app + `"role":"*"}`, Framework{Role: "services", User: "root"}, "/role"},
		{"check", `{` + app + `"check":{"http":{"portIndex":1}}}`, fw, "/check"},
		{"tty", `{` + app + `"tty":true}`, fw, "/tty"},
		{"check", `{` + app + `"check":{"http":{"portIndex":0,"path":"/ping"}}}`, fw, "/check"},
		{"health check over IPv6", `{` + app + `"healthChecks":[{"protocol":"TCP"},{"protocol":"HTTP","ipProtocol":"IPv6"}]}`, fw, "/healthChecks(1)/ipProtocol"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verr, _ := checkRequest(t, tt.body, tt.fw)
			if verr == nil {
				t.Fatalf("Validate(DecodeRequest(%s)) = nil; want a refusal at %s", tt.body, tt.path)
			}
			if verr.Message != "Object is not valid" {
				t.Errorf("Validate(DecodeRequest(%s)).Message = %q; want %q", tt.body, verr.Message, "Object is not valid")
			}
			var paths []string
			for _, d := range verr.Details {
				paths = append(paths, d.Path)
				if d.Path == tt.path && (len(d.Errors) != 1 || !strings.Contains(d.Errors[0], "is not supported by corral yet")) {
					t.Errorf("Validate(DecodeRequest(%s)) at %s = %q; want one error saying it is not supported by corral yet", tt.body, d.Path, d.Errors)
				}
			}
			if want := []string{tt.path}; !cmp.Equal(paths, want) {
				t.Errorf("Validate(DecodeRequest(%s)) paths = %q; want %q", tt.body, paths, want)
			}
		})
	}
}

// TestDecodeRequestAcceptsDefaults: the defaults and empty values that
// client libraries send on every request ask for nothing, and are neither
// refused nor warned about.
func TestDecodeRequestAcceptsDefaults(t *testing.T) {
	const app = `"id":"/a","cmd":"x",`
	tests := []struct {
		name string
		body string
		fw   Framework
	}{
		{"empty lists", `{` + app + `"fetch":[],"uris":[],"storeUrls":[],"readinessChecks":[],"networks":[],"acceptedResourceRoles":[]}`, fw},
		{"nulls", `{` + app + `"user":null,"residency":null,"resourceLimits":null,"check":null,"ipAddress":null,"container":null,"role":null}`, fw},
		{"empty objects", `{` + app + `"residency":{},"resourceLimits":{},"check":{},"ipAddress":{},"container":{}}`, fw},
		{"empty strings and false", `{` + app + `"user":"","executor":"","role":"","tty":false}`, fw},
		{"the command executor", `{` + app + `"executor":"//cmd"}`, fw},
		{"the framework's user", `{` + app + `"user":"root"}`, fw},
		{"another framework's user", `{` + app + `"user":"corral"}`, Framework{Role: "*", User: "corral"}},
		{"any user", `{` + app + `"user":"nobody"}`, fw},
		{"root under another framework's user", `{` + app + `"user":"root"}`, Framework{Role: "*", User: "corral"}},
		{"the framework's role", `{` + app + `"role":"*"}`, fw},
		{"another framework's role", `{` + app + `"role":"services"}`, Framework{Role: "services", User: "root"}},
		{"unreserved resources", `{` + app + `"acceptedResourceRoles":["*"]}`, fw},
		{"unreserved resources among others", `{` + app + `"acceptedResourceRoles":["slave_public","*"]}`, fw},
		{"host networking", `{` + app + `"networks":[{"mode":"host"}]}`, fw},
		{"host networking with empty labels", `{` + app + `"networks":[{"mode":"host","labels":{}}]}`, fw},
		{"container without anything", `{` + app + `"container":{"type":"MESOS","volumes":[],"portMappings":[]}}`, fw},
		{"container with only empty volumes", `{` + app + `"container":{"volumes":[]}}`, fw},
		{"empty ipAddress parts", `{` + app + `"ipAddress":{"groups":[],"labels":{},"discovery":{"ports":[]}}}`, fw},
		{"secrets and env references", `{` + app + `"env":{"A":"1","P":{"secret":"db"}},"secrets":{"db":{"source":"team/db"},"spare":{"source":"/team/spare"}}}`, fw},
		{"container with an empty volume", `{` + app + `"container":{"volumes":[{"secret":null,"containerPath":""}]}}`, fw},
		{"health check over IPv4", `{` + app + `"healthChecks":[{"protocol":"TCP","ipProtocol":"IPv4"}]}`, fw},
		{"a readiness check", `{` + app + `"portDefinitions":[{"port":0,"name":"http"}],"readinessChecks":[{"name":"ready","protocol":"HTTP","path":"/ready","portName":"http"}]}`, fw},
		{"deadline and rollback", `{` + app + `"upgradeStrategy":{"minimumHealthCapacity":1,"maximumOverCapacity":1,"progressDeadlineSeconds":30,"autoRollback":true}}`, fw},
		{"read-only fields of a GET", `{` + app + `"version":"2015-09-29T15:59:51.164Z","versionInfo":{"lastScalingAt":"2015-09-29T15:59:51.164Z","lastConfigChangeAt":"2015-09-29T15:59:51.164Z"},
			"tasksStaged":0,"tasksRunning":1,"tasksHealthy":1,"tasksUnhealthy":0,"deployments":[],"tasks":[],"lastTaskFailure":null,
			"readinessCheckResults":[],"taskStats":{},"tasksStats":{}}`, fw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verr, ws := checkRequest(t, tt.body, tt.fw)
			if verr != nil {
				t.Errorf("Validate(DecodeRequest(%s)) = %v; want nil", tt.body, verr)
			}
			if len(ws) != 0 {
				t.Errorf("DecodeRequest(%s) warnings = %v; want none", tt.body, ws)
			}
		})
	}
}

// TestDecodeRequestGoldenApps: the example apps, a GET answer of Marathon
// 1.4 and the golden output corral writes back, are accepted as requests
// without warnings, so that what a client reads it may send back.
func TestDecodeRequestGoldenApps(t *testing.T) {
	for _, name := range []string{"testdata/marathon14.json", "testdata/minimal.golden.json", "testdata/marathon14.golden.json",
		"testdata/secrets.json", "testdata/secrets.golden.json"} {
		body := readFile(t, name)
		verr, ws := checkRequest(t, body, fw)
		if verr != nil {
			t.Errorf("Validate(DecodeRequest(%s)) = %v; want nil", name, verr)
		}
		if len(ws) != 0 {
			t.Errorf("DecodeRequest(%s) warnings = %v; want none", name, ws)
		}
	}
}

// TestDecodeRequestWarnings: fields nobody knows are ignored, as Marathon
// ignores them, and named in warnings by their path.
func TestDecodeRequestWarnings(t *testing.T) {
	const app = `"id":"/a","cmd":"x",`
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"top level", `{` + app + `"intances":3}`, []string{`unknown field "/intances" ignored`}},
		{"several, sorted", `{` + app + `"zeta":null,"Instances":3,"cpu":1}`,
			[]string{`unknown field "/Instances" ignored`, `unknown field "/cpu" ignored`, `unknown field "/zeta" ignored`}},
		{"health check", `{` + app + `"healthChecks":[{"protocol":"TCP"},{"protocol":"TCP","intervalSecond":5}]}`,
			[]string{`unknown field "/healthChecks(1)/intervalSecond" ignored`}},
		{"health check command", `{` + app + `"healthChecks":[{"protocol":"COMMAND","command":{"value":"true","shell":true}}]}`,
			[]string{`unknown field "/healthChecks(0)/command/shell" ignored`}},
		{"port definition", `{` + app + `"portDefinitions":[{"port":0,"proto":"udp"}]}`,
			[]string{`unknown field "/portDefinitions(0)/proto" ignored`}},
		{"upgrade strategy", `{` + app + `"upgradeStrategy":{"minimumHealthCapacity":0.5,"maximumOverCapcity":0}}`,
			[]string{`unknown field "/upgradeStrategy/maximumOverCapcity" ignored`}},
		{"upgrade strategy, corral's fields known", `{` + app + `"upgradeStrategy":{"progressDeadlineSeconds":60,"autoRollback":true,"autoRevert":true}}`,
			[]string{`unknown field "/upgradeStrategy/autoRevert" ignored`}},
		{"readiness check", `{` + app + `"readinessChecks":[{"name":"r","protocol":"HTTP","path":"/","portName":"p","intervalSeconds":30,"timeoutSeconds":10,
			"httpStatusCodesForReady":[200],"preserveLastResponse":false,"interval":5}]}`,
			[]string{`unknown field "/readinessChecks(0)/interval" ignored`}},
		{"unreachable strategy", `{` + app + `"unreachableStrategy":{"inactiveAfterSeconds":0,"expungeAfter":0}}`,
			[]string{`unknown field "/unreachableStrategy/expungeAfter" ignored`}},
		{"container", `{` + app + `"container":{"type":"MESOS","volume":[]}}`,
			[]string{`unknown field "/container/volume" ignored`}},
		{"network", `{` + app + `"networks":[{"mode":"host","nmae":""}]}`,
			[]string{`unknown field "/networks(0)/nmae" ignored`}},
		{"with a refusal", `{` + app + `"intances":3,"storeUrls":["u"]}`, []string{`unknown field "/intances" ignored`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ws, err := DecodeRequest([]byte(tt.body), fw)
			if err != nil {
				t.Fatalf("DecodeRequest(%s) = %v; want no error", tt.body, err)
			}
			var got []string
			for _, w := range ws {
				got = append(got, w.String())
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("DecodeRequest(%s) warnings (-want +got):\n%s", tt.body, d)
			}
			if a.Instances != 0 {
				t.Errorf("DecodeRequest(%s).Instances = %d; want 0 (the misspelt field is ignored)", tt.body, a.Instances)
			}
		})
	}
	// Invalid JSON gives no warnings, only the error.
	if _, ws, err := DecodeRequest([]byte(`{"intances":"3","cpus":"x"}`), fw); err == nil || ws != nil {
		t.Errorf("DecodeRequest(wrong types) = %v, %v; want an error and no warnings", ws, err)
	}
}

func TestWarningIn(t *testing.T) {
	if got, want := (Warning{"/x"}).In("/apps(2)").String(), `unknown field "/apps(2)/x" ignored`; got != want {
		t.Errorf(`Warning{"/x"}.In("/apps(2)").String() = %q; want %q`, got, want)
	}
}

// TestDecodeKeepsStoredFields: Decode, which reads stored apps back, does
// not refuse what an app stored before the refusals carries, so that such
// an app still loads and scales.
func TestDecodeKeepsStoredFields(t *testing.T) {
	body := `{"id":"/old","cmd":"x","storeUrls":["https://example.com/a.tgz"],"user":"nobody"}`
	a := mustDecode(t, body)
	if v := Validate(a); v != nil {
		t.Fatalf("Validate(Decode(%s)) = %v; want nil", body, v)
	}
	if !cmp.Equal(a.StoreURLs, []string{"https://example.com/a.tgz"}) || a.User != "nobody" {
		t.Errorf("Decode(%s) = storeUrls %v, user %q; want them kept", body, a.StoreURLs, a.User)
	}
	// A scale of such an app asks for nothing new and is accepted; a
	// patch that gives an unsupported field is refused.
	got, _, err := Merge(a, []byte(`{"instances":3}`), fw)
	if err != nil {
		t.Fatal(err)
	}
	if v := Validate(got); v != nil {
		t.Errorf("Validate(Merge(old, instances 3)) = %v; want nil", v)
	}
	got, _, err = Merge(a, []byte(`{"instances":3,"storeUrls":["v"]}`), fw)
	if err != nil {
		t.Fatal(err)
	}
	want := []Detail{{"/storeUrls", []string{"the artifact store (storeUrls) is not supported by corral yet; give [] or leave storeUrls out"}}}
	if v := Validate(got); v == nil || !cmp.Equal(v.Details, want) {
		t.Errorf("Validate(Merge(old, storeUrls)) = %v; want %v", v, want)
	}
}

// TestMergeWarnings: a patch's unknown fields are warned about; replacing
// them later clears nothing, as warnings belong to one request.
func TestMergeWarnings(t *testing.T) {
	_, ws, err := Merge(mustDecode(t, stored), []byte(`{"intances":5,"healthChecks":[{"protocol":"TCP","gracePeriod":1}]}`), fw)
	if err != nil {
		t.Fatal(err)
	}
	want := []Warning{{"/healthChecks(0)/gracePeriod"}, {"/intances"}}
	if !cmp.Equal(ws, want) {
		t.Errorf("Merge(stored, intances) warnings = %v; want %v", ws, want)
	}
	_, ws, err = Merge(mustDecode(t, stored), []byte(`{"instances":"5","intances":5}`), fw)
	var ij *InvalidJSON
	if !errors.As(err, &ij) || ws != nil {
		t.Errorf("Merge(stored, wrong type) = %v, %v; want *InvalidJSON and no warnings", ws, err)
	}
}
