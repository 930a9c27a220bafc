package job

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fw is the framework of the decoder tests: DefaultConfig's user.
var fw = Framework{User: "root"}

// decoders are the two request decoders, by the name of their format.
var decoders = []struct {
	format string
	decode func([]byte, Framework) (Job, []Warning, error)
}{
	{"native", DecodeNative},
	{"Chronos", DecodeChronos},
}

// TestDecodeRefusesUnimplemented: a Chronos field corral does not
// implement, given a value other than its default, is refused with a
// *ValidationError naming it, in the Chronos format and in the native one
// (a job file converted from Chronos that relies on it would run wrong).
func TestDecodeRefusesUnimplemented(t *testing.T) {
	const job = `"name":"a","command":"true",`
	tests := []struct {
		name string
		body string
		fw   Framework
		path string
	}{
		{"async", `{` + job + `"async":true}`, fw, "/async"},
		{"highPriority", `{` + job + `"highPriority":true}`, fw, "/highPriority"},
		{"dataProcessingJobType", `{` + job + `"dataProcessingJobType":true}`, fw, "/dataProcessingJobType"},
		{"executor", `{` + job + `"executor":"/opt/executor"}`, fw, "/executor"},
		{"executorFlags", `{` + job + `"executorFlags":"--x"}`, fw, "/executorFlags"},
		{"taskInfoData", `{` + job + `"taskInfoData":"data"}`, fw, "/taskInfoData"},
		{"maxCompletionTime", `{` + job + `"maxCompletionTime":600}`, fw, "/maxCompletionTime"},
		{"wrong type is not a default", `{` + job + `"async":"no"}`, fw, "/async"},
	}
	for _, dec := range decoders {
		for _, tt := range tests {
			t.Run(dec.format+"/"+tt.name, func(t *testing.T) {
				_, ws, err := dec.decode([]byte(tt.body), tt.fw)
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("Decode%s(%s) = %v; want *ValidationError at %s", dec.format, tt.body, err, tt.path)
				}
				if ws != nil {
					t.Errorf("Decode%s(%s) warnings = %v; want none with an error", dec.format, tt.body, ws)
				}
				if d := cmp.Diff([]string{tt.path}, pathsOf(err)); d != "" {
					t.Errorf("Decode%s(%s) paths (-want +got):\n%s", dec.format, tt.body, d)
				}
				if errs := ve.Details[0].Errors; len(errs) != 1 || !strings.Contains(errs[0], "is not supported by corral yet") {
					t.Errorf("Decode%s(%s) errors = %q; want one saying it is not supported by corral yet", dec.format, tt.body, errs)
				}
			})
		}
	}
}

// TestDecodeAcceptsDefaults: the defaults and empty values of the Chronos
// fields corral does not implement, which Chronos' clients send with
// every job, ask for nothing: no error and no warning.
func TestDecodeAcceptsDefaults(t *testing.T) {
	const job = `"name":"a","command":"true",`
	tests := []struct {
		name string
		body string
		fw   Framework
	}{
		{"falses", `{` + job + `"async":false,"highPriority":false,"dataProcessingJobType":false}`, fw},
		{"empty lists and strings", `{` + job + `"uris":[],"fetch":[],"executor":"","executorFlags":"","taskInfoData":"","runAsUser":""}`, fw},
		{"nulls", `{` + job + `"uris":null,"fetch":null,"runAsUser":null,"container":null,"maxCompletionTime":null}`, fw},
		{"zero maxCompletionTime", `{` + job + `"maxCompletionTime":0}`, fw},
		{"the framework's user", `{` + job + `"runAsUser":"root"}`, fw},
		{"another framework's user", `{` + job + `"runAsUser":"batch"}`, Framework{User: "batch"}},
		{"any user", `{` + job + `"runAsUser":"nobody"}`, fw},
		{"root under another framework's user", `{` + job + `"runAsUser":"root"}`, Framework{User: "batch"}},
		{"container without anything", `{` + job + `"container":{"type":"MESOS","volumes":[],"networkInfos":[],"network":"HOST","forcePullImage":false,"parameters":[]}}`, fw},
		{"empty container", `{` + job + `"container":{}}`, fw},
		{"read-only statistics", `{` + job + `"successCount":3,"errorCount":1,"errorsSinceLastSuccess":0,"lastSuccess":"2024-01-01T00:00:00.000Z","lastError":""}`, fw},
	}
	for _, dec := range decoders {
		for _, tt := range tests {
			t.Run(dec.format+"/"+tt.name, func(t *testing.T) {
				_, ws, err := dec.decode([]byte(tt.body), tt.fw)
				if err != nil {
					t.Errorf("Decode%s(%s) = %v; want no error", dec.format, tt.body, err)
				}
				if len(ws) != 0 {
					t.Errorf("Decode%s(%s) warnings = %v; want none", dec.format, tt.body, ws)
				}
			})
		}
	}
	// A native job's own answer, nextRun included, goes back without a
	// warning.
	body := `{"name":"a","command":"true","schedule":"@daily","nextRun":"2024-01-02T00:00:00Z","successCount":0}`
	if _, ws, err := DecodeNative([]byte(body), fw); err != nil || len(ws) != 0 {
		t.Errorf("DecodeNative(%s) = %v, %v; want no error and no warnings", body, ws, err)
	}
}

// TestDecodeWarnings: fields nobody knows are ignored and named, by path,
// in warnings sorted by path.
func TestDecodeWarnings(t *testing.T) {
	tests := []struct {
		name   string
		decode func([]byte, Framework) (Job, []Warning, error)
		body   string
		want   []string
	}{
		{"native top level", DecodeNative, `{"name":"a","command":"true","schedul":"@daily","retires":3}`,
			[]string{`unknown field "/retires" ignored`, `unknown field "/schedul" ignored`}},
		{"native null is still unknown", DecodeNative, `{"name":"a","timeout":null}`, []string{`unknown field "/timeout" ignored`}},
		{"native takes no Chronos names", DecodeNative, `{"name":"a","scheduleTimeZone":"UTC","environmentVariables":[]}`,
			[]string{`unknown field "/environmentVariables" ignored`, `unknown field "/scheduleTimeZone" ignored`}},
		{"Chronos top level", DecodeChronos, `{"name":"a","command":"true","schedul":"R/2030-01-01T00:00:00Z/PT1H"}`,
			[]string{`unknown field "/schedul" ignored`}},
		{"Chronos takes no native names", DecodeChronos, `{"name":"a","timezone":"UTC","env":{}}`,
			[]string{`unknown field "/env" ignored`, `unknown field "/timezone" ignored`}},
		{"Chronos environment variable", DecodeChronos, `{"name":"a","environmentVariables":[{"name":"A","value":"1"},{"name":"B","vaule":"2"}]}`,
			[]string{`unknown field "/environmentVariables(1)/vaule" ignored`}},
		{"Chronos container", DecodeChronos, `{"name":"a","container":{"type":"MESOS","volume":[]}}`,
			[]string{`unknown field "/container/volume" ignored`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ws, err := tt.decode([]byte(tt.body), fw)
			if err != nil {
				t.Fatalf("decoding %s = %v; want no error", tt.body, err)
			}
			var got []string
			for _, w := range ws {
				got = append(got, w.String())
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("decoding %s warnings (-want +got):\n%s", tt.body, d)
			}
		})
	}
}

// TestUnmarshalJSONRefusesNothing: stored jobs are read back without the
// checks of a request.
func TestUnmarshalJSONRefusesNothing(t *testing.T) {
	var j Job
	if err := j.UnmarshalJSON([]byte(`{"name":"a","command":"true","runAsUser":"nobody","foo":1}`)); err != nil {
		t.Errorf("UnmarshalJSON(stored job) = %v; want nil", err)
	}
}

// TestDecodeUser: the user a job's runs run as is "user" in the native
// format, where Chronos' "runAsUser" is read too, and "runAsUser" in the
// Chronos format. A runAsUser that is not a user name, or that
// contradicts user, is refused at /runAsUser.
func TestDecodeUser(t *testing.T) {
	const job = `"name":"a","command":"true",`
	const badName = `"Nobody" is not a valid user name: want a lowercase letter or '_', then lowercase letters, digits, '_' or '-', optionally ending in '$'`
	tests := []struct {
		name   string
		decode func([]byte, Framework) (Job, []Warning, error)
		body   string
		want   string   // the job's user
		errs   []Detail // a *ValidationError's details instead
	}{
		{"native user", DecodeNative, `{` + job + `"user":"nobody"}`, "nobody", nil},
		{"native runAsUser", DecodeNative, `{` + job + `"runAsUser":"nobody"}`, "nobody", nil},
		{"native both, equal", DecodeNative, `{` + job + `"user":"nobody","runAsUser":"nobody"}`, "nobody", nil},
		{"native user, empty runAsUser", DecodeNative, `{` + job + `"user":"nobody","runAsUser":""}`, "nobody", nil},
		{"native no user", DecodeNative, `{` + job + `"user":""}`, "", nil},
		{"native both, different", DecodeNative, `{` + job + `"user":"a","runAsUser":"b"}`, "",
			[]Detail{{"/runAsUser", []string{`"b" contradicts user "a"; give one of them`}}}},
		{"native runAsUser not a user name", DecodeNative, `{` + job + `"runAsUser":"Nobody"}`, "",
			[]Detail{{"/runAsUser", []string{badName}}}},
		{"Chronos runAsUser", DecodeChronos, `{` + job + `"runAsUser":"nobody"}`, "nobody", nil},
		{"Chronos empty runAsUser", DecodeChronos, `{` + job + `"runAsUser":""}`, "", nil},
		{"Chronos runAsUser not a user name", DecodeChronos, `{` + job + `"runAsUser":"Nobody"}`, "",
			[]Detail{{"/runAsUser", []string{badName}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := tt.decode([]byte(tt.body), fw)
			if tt.errs != nil {
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("decoding %s = %v; want a *ValidationError", tt.body, err)
				}
				if d := cmp.Diff(tt.errs, ve.Details); d != "" {
					t.Errorf("decoding %s details (-want +got):\n%s", tt.body, d)
				}
				return
			}
			if err != nil {
				t.Fatalf("decoding %s = %v; want no error", tt.body, err)
			}
			if got.User != tt.want {
				t.Errorf("decoding %s: user = %q; want %q", tt.body, got.User, tt.want)
			}
		})
	}
	// What either format writes reads back to the same user.
	j := New("a")
	j.Command, j.Schedule, j.User = "true", "@daily", "nobody"
	j.Normalize()
	native, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	if back, _, err := DecodeNative(native, fw); err != nil || back.User != "nobody" {
		t.Errorf("DecodeNative(%s) = user %q, %v; want nobody", native, back.User, err)
	}
	chronos, err := json.Marshal(ChronosView(j, Stats{}))
	if err != nil {
		t.Fatal(err)
	}
	if back, _, err := DecodeChronos(chronos, fw); err != nil || back.User != "nobody" {
		t.Errorf("DecodeChronos(%s) = user %q, %v; want nobody", chronos, back.User, err)
	}
}
