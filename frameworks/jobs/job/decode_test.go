package job

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// decoded is what a decoder gives for a body that only names the job.
func decoded(name string) Job {
	return Job{Name: name, Shell: true, Retries: DefaultRetries, RetryBackoffSeconds: DefaultRetryBackoffSeconds}
}

func with(j Job, f func(*Job)) Job { f(&j); return j }

// pathsOf returns the paths of an error's details, or nil.
func pathsOf(err error) []string {
	var ds []Detail
	var ij *InvalidJSON
	var ve *ValidationError
	switch {
	case errors.As(err, &ij):
		ds = ij.Details
	case errors.As(err, &ve):
		ds = ve.Details
	}
	var out []string
	for _, d := range ds {
		out = append(out, d.Path)
	}
	return out
}

func TestDecodeNative(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Job
	}{
		{"minimal gets the decoder defaults", `{"name":"a"}`, decoded("a")},
		{
			name: "every field",
			in: `{"name":"etl","command":"run.sh","shell":true,"args":[],"cpus":1.5,"mem":256,"disk":10,
				"env":{"A":"1"},"owner":"o@example.com","ownerName":"O","description":"d","labels":{"team":"data"},
				"disabled":true,"constraints":[["rack","EQUALS","r1"]],"schedule":"*/5 * * * *","timezone":"Europe/Paris",
				"parents":[],"retries":4,"retryBackoffSeconds":2.5,"timeoutSeconds":600,"concurrencyPolicy":"FORBID",
				"startingDeadlineSeconds":30,"softError":true,"onDemand":false,"scheduleId":"nightly","maxLaunchDelaySeconds":3600,
				"killGracePeriodSeconds":5,"user":"etl","version":"2024-03-10T09:00:00.000Z"}`,
			want: Job{Name: "etl", Command: "run.sh", Shell: true, CPUs: 1.5, Mem: 256, Disk: 10,
				Env: map[string]string{"A": "1"}, Owner: "o@example.com", OwnerName: "O", Description: "d",
				Labels: map[string]string{"team": "data"}, Disabled: true, Constraints: [][]string{{"rack", "EQUALS", "r1"}},
				Schedule: "*/5 * * * *", Timezone: "Europe/Paris", Retries: 4, RetryBackoffSeconds: 2.5,
				TimeoutSeconds: 600, ConcurrencyPolicy: "FORBID", StartingDeadlineSeconds: 30, SoftError: true,
				ScheduleID: "nightly", MaxLaunchDelaySeconds: 3600, KillGracePeriodSeconds: 5,
				User: "etl", Version: "2024-03-10T09:00:00.000Z"},
		},
		{"explicit zeros are kept", `{"name":"a","shell":false,"retries":0,"retryBackoffSeconds":0}`,
			with(decoded("a"), func(j *Job) { j.Shell, j.Retries, j.RetryBackoffSeconds = false, 0, 0 })},
		{"null means absent", `{"name":"a","shell":null,"retries":null,"env":null,"args":null}`, decoded("a")},
		{"integers may be written as floats", `{"name":"a","retries":3.0}`,
			with(decoded("a"), func(j *Job) { j.Retries = 3 })},
		{"unknown fields are ignored", `{"name":"a","id":"x","run":{"cmd":"y"},"schedules":[1],"Retries":"no"}`, decoded("a")},
		{"args", `{"name":"a","args":["/bin/echo","hi",""]}`,
			with(decoded("a"), func(j *Job) { j.Args = []string{"/bin/echo", "hi", ""} })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := DecodeNative([]byte(tt.in), fw)
			if err != nil {
				t.Fatalf("DecodeNative(%s) = %v; want no error", tt.in, err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("DecodeNative(%s) differs (-want +got):\n%s", tt.in, d)
			}
		})
	}
}

func TestDecodeNativeErrors(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		paths []string
	}{
		{"malformed", `{"name":`, []string{"/"}},
		{"not an object", `["a"]`, []string{"/"}},
		{"null body", `null`, []string{"/"}},
		{"wrong types", `{"name":1,"cpus":"2","shell":"yes","args":"ls","env":[],"retries":"2"}`,
			[]string{"/name", "/shell", "/args", "/cpus", "/env", "/retries"}},
		{"fractional retries", `{"name":"a","retries":2.5}`, []string{"/retries"}},
		{"huge retries", `{"name":"a","retries":1e300}`, []string{"/retries"}},
		{"element types", `{"name":"a","args":["x",2,null],"parents":[true],"env":{"A":1,"B":"ok"},"labels":{"l":null}}`,
			[]string{"/args(1)", "/args(2)", "/env/A", "/labels/l", "/parents(0)"}},
		{"constraint shapes", `{"name":"a","constraints":[["a","LIKE",3],"x"]}`,
			[]string{"/constraints(0)(2)", "/constraints(1)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := DecodeNative([]byte(tt.in), fw)
			var ij *InvalidJSON
			if !errors.As(err, &ij) {
				t.Fatalf("DecodeNative(%s) = %v; want *InvalidJSON", tt.in, err)
			}
			if ij.Message != "Invalid JSON" {
				t.Errorf("DecodeNative(%s).Message = %q; want Invalid JSON", tt.in, ij.Message)
			}
			if d := cmp.Diff(tt.paths, pathsOf(err)); d != "" {
				t.Errorf("DecodeNative(%s) paths differ (-want +got):\n%s", tt.in, d)
			}
		})
	}
}

func TestDecodeChronos(t *testing.T) {
	base := func(f func(*Job)) Job {
		j := with(decoded("a"), func(j *Job) { j.ConcurrencyPolicy = Forbid })
		f(&j)
		return j
	}
	tests := []struct {
		name string
		in   string
		want Job
	}{
		{"minimal: FORBID, shell, retries 2", `{"name":"a","command":"true","schedule":"R/2024-01-01T00:00:00Z/PT1M"}`,
			base(func(j *Job) { j.Command, j.Schedule = "true", "R/2024-01-01T00:00:00Z/PT1M" })},
		{"concurrent true is ALLOW", `{"name":"a","concurrent":true}`,
			base(func(j *Job) { j.ConcurrencyPolicy = Allow })},
		{"concurrent false is FORBID", `{"name":"a","concurrent":false}`, base(func(*Job) {})},
		{"shell false: command and arguments become args", `{"name":"a","shell":false,"command":"/bin/echo","arguments":["-n","hi"]}`,
			base(func(j *Job) { j.Shell, j.Args = false, []string{"/bin/echo", "-n", "hi"} })},
		{"shell false without arguments", `{"name":"a","shell":false,"command":"/bin/date"}`,
			base(func(j *Job) { j.Shell, j.Args = false, []string{"/bin/date"} })},
		{"shell true ignores arguments, as Chronos did", `{"name":"a","command":"date","arguments":["-u"]}`,
			base(func(j *Job) { j.Command = "date" })},
		{"time zone, parents, stats ignored", `{"name":"a","scheduleTimeZone":"Asia/Tokyo","parents":["p"],"successCount":3,"lastError":"x"}`,
			base(func(j *Job) { j.Timezone, j.Parents = "Asia/Tokyo", []string{"p"} })},
		{"environment variables, later wins", `{"name":"a","environmentVariables":[{"name":"A","value":"1"},{"name":"B"},{"name":"A","value":"2"}]}`,
			base(func(j *Job) { j.Env = map[string]string{"A": "2", "B": ""} })},
		{"epsilon is the starting deadline", `{"name":"a","epsilon":"PT1M30S"}`,
			base(func(j *Job) { j.StartingDeadlineSeconds = 90 })},
		{"empty epsilon is absent", `{"name":"a","epsilon":""}`, base(func(*Job) {})},
		{"Chronos fields at their defaults", `{"name":"a","async":false,"dataProcessingJobType":false,"highPriority":false,"runAsUser":"",
			"uris":[],"fetch":[],"executor":"","executorFlags":"","taskInfoData":"","maxCompletionTime":0,
			"container":{"type":"DOCKER","volumes":[]},"unknownThing":[1]}`, base(func(*Job) {})},
		{"runAsUser is the user", `{"name":"a","runAsUser":"root"}`, base(func(j *Job) { j.User = "root" })},
		{"resources and texts", `{"name":"a","cpus":2,"mem":64,"disk":1,"owner":"o","ownerName":"n","description":"d","disabled":true,"softError":true,"retries":0}`,
			base(func(j *Job) {
				j.CPUs, j.Mem, j.Disk, j.Owner, j.OwnerName, j.Description = 2, 64, 1, "o", "n", "d"
				j.Disabled, j.SoftError, j.Retries = true, true, 0
			})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := DecodeChronos([]byte(tt.in), fw)
			if err != nil {
				t.Fatalf("DecodeChronos(%s) = %v; want no error", tt.in, err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("DecodeChronos(%s) differs (-want +got):\n%s", tt.in, d)
			}
		})
	}
}

func TestDecodeChronosErrors(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		validation bool // *ValidationError; otherwise *InvalidJSON
		paths      []string
	}{
		{"MESOS container image", `{"name":"a","container":{"type":"MESOS","image":"busybox"}}`, true, []string{"/container/type"}},
		{"bad epsilon", `{"name":"a","epsilon":"30 seconds"}`, true, []string{"/epsilon"}},
		{"wrong types use Chronos names", `{"name":"a","arguments":"x","scheduleTimeZone":1,"concurrent":"no","epsilon":30}`,
			false, []string{"/arguments", "/scheduleTimeZone", "/concurrent", "/epsilon"}},
		{"environment entries", `{"name":"a","environmentVariables":[{"name":"A","value":1},"x"]}`,
			false, []string{"/environmentVariables(0)/value", "/environmentVariables(1)"}},
		{"type errors come before meaning", `{"name":"a","cpus":"x","container":{"type":"MESOS","image":"i"}}`, false, []string{"/cpus"}},
		{"malformed", `{`, false, []string{"/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := DecodeChronos([]byte(tt.in), fw)
			var ve *ValidationError
			var ij *InvalidJSON
			if tt.validation && !errors.As(err, &ve) {
				t.Fatalf("DecodeChronos(%s) = %v; want *ValidationError", tt.in, err)
			}
			if !tt.validation && !errors.As(err, &ij) {
				t.Fatalf("DecodeChronos(%s) = %v; want *InvalidJSON", tt.in, err)
			}
			if d := cmp.Diff(tt.paths, pathsOf(err)); d != "" {
				t.Errorf("DecodeChronos(%s) paths differ (-want +got):\n%s", tt.in, d)
			}
		})
	}
	_, _, err := DecodeChronos([]byte(`{"name":"a","container":{"type":"MESOS","image":"busybox"}}`), fw)
	if want := `Object is not valid: /container/type images run as Docker containers: give "type": "DOCKER" (corral's MESOS containerizer runs no images)`; err == nil || err.Error() != want {
		t.Errorf("DecodeChronos(MESOS container image) = %v; want %q", err, want)
	}
}

func TestParseISODuration(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"PT30S", 30, true},
		{"PT0S", 0, true},
		{"PT1M30S", 90, true},
		{"PT1.5M", 90, true},
		{"PT0,5S", 0.5, true},
		{"P1D", 86400, true},
		{"P1DT2H", 93600, true},
		{"P2W", 14 * 86400, true},
		{"pt10s", 10, true},
		{"P1Y", 0, false},
		{"P1M", 0, false},
		{"PT", 0, false},
		{"P", 0, false},
		{"30S", 0, false},
		{"PT1S1M", 0, false},
		{"PT1.5M30S", 0, false},
		{"PT1H1H", 0, false},
		{"P1H", 0, false},
		{"PTS", 0, false},
		{"PT1X", 0, false},
		{"P1DTT1H", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := parseISODuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseISODuration(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	for _, secs := range []float64{0, 1, 60, 0.25, 86400} {
		back, err := parseISODuration(formatISODuration(secs))
		if err != nil || back != secs {
			t.Errorf("parseISODuration(formatISODuration(%v)) = %v, %v; want %v", secs, back, err, secs)
		}
	}
}

func TestMarshalJSON(t *testing.T) {
	got, err := json.Marshal(Job{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"a","command":"","shell":false,"args":[],"cpus":0,"mem":0,"disk":0,"env":{},"owner":"",` +
		`"ownerName":"","description":"","labels":{},"disabled":false,"constraints":[],"schedule":"","timezone":"",` +
		`"parents":[],"retries":0,"retryBackoffSeconds":0,"timeoutSeconds":0,"concurrencyPolicy":"",` +
		`"startingDeadlineSeconds":0,"softError":false,"onDemand":false,"scheduleId":"","maxLaunchDelaySeconds":0,"killGracePeriodSeconds":0,` +
		`"user":"","uris":[],"fetch":[],"webhooks":[],"version":""}`
	if string(got) != want {
		t.Errorf("json.Marshal(Job{Name: a}) = %s; want %s", got, want)
	}
	if _, err := json.Marshal(Job{CPUs: math.NaN()}); err == nil {
		t.Errorf("json.Marshal(NaN cpus) = nil error; want an error (Validate rejects it first)")
	}
}

// TestRoundTrip: what MarshalJSON writes, DecodeNative and
// json.Unmarshal read back to the same job.
func TestRoundTrip(t *testing.T) {
	jobs := []Job{
		New("plain"),
		{Name: "full", Command: "x", Shell: true, CPUs: 1, Mem: 2, Disk: 3, Env: map[string]string{"A": "b"},
			Owner: "o", OwnerName: "n", Description: "d", Labels: map[string]string{"k": "v"}, Disabled: true,
			Constraints: [][]string{{"a", "UNIQUE"}}, Parents: []string{"p", "q"}, Retries: 0, RetryBackoffSeconds: 0,
			TimeoutSeconds: 9, ConcurrencyPolicy: Replace, StartingDeadlineSeconds: 5, SoftError: true, Version: "v1",
			ScheduleID: "every-day", MaxLaunchDelaySeconds: 60, KillGracePeriodSeconds: 2.5,
			Webhooks: []Webhook{{URL: "https://h.example/x", On: []string{OnFailed, OnMissed}}, {URL: "http://h.example/y", On: []string{}}}},
		{Name: "args", Args: []string{"/bin/true"}, Schedule: "@hourly", Timezone: "UTC"},
		{Name: "on-demand", Command: "x", OnDemand: true},
	}
	for _, j := range jobs {
		data, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := DecodeNative(data, fw)
		if err != nil {
			t.Fatalf("DecodeNative(%s) = %v", data, err)
		}
		if d := cmp.Diff(j, got); d != "" {
			t.Errorf("DecodeNative(MarshalJSON(%s)) differs (-want +got):\n%s", j.Name, d)
		}
		var viaStd Job
		if err := json.Unmarshal(data, &viaStd); err != nil {
			t.Fatalf("json.Unmarshal(%s) = %v", data, err)
		}
		if d := cmp.Diff(j, viaStd); d != "" {
			t.Errorf("json.Unmarshal(MarshalJSON(%s)) differs (-want +got):\n%s", j.Name, d)
		}
	}
	var j Job
	if err := json.Unmarshal([]byte(`{"name":3}`), &j); pathsOf(err) == nil {
		t.Errorf("json.Unmarshal into Job of a bad body = %v; want the decoder's *InvalidJSON", err)
	}
}

func TestClone(t *testing.T) {
	j := Job{Args: []string{"a"}, Env: map[string]string{"A": "1"}, Labels: map[string]string{"l": "1"},
		Parents: []string{"p"}, Constraints: [][]string{{"a", "IS", "b"}}, Webhooks: []Webhook{{URL: "http://h/", On: []string{OnFailed}}}}
	c := j.Clone()
	c.Args[0], c.Env["A"], c.Labels["l"], c.Parents[0], c.Constraints[0][2] = "x", "x", "x", "x", "x"
	c.Webhooks[0].URL, c.Webhooks[0].On[0] = "x", "x"
	if j.Args[0] != "a" || j.Env["A"] != "1" || j.Labels["l"] != "1" || j.Parents[0] != "p" || j.Constraints[0][2] != "b" ||
		j.Webhooks[0].URL != "http://h/" || j.Webhooks[0].On[0] != OnFailed {
		t.Errorf("Clone shares storage with the original: %+v", j)
	}
	if d := cmp.Diff(Job{}, Job{}.Clone()); d != "" {
		t.Errorf("Job{}.Clone() differs:\n%s", d)
	}
}
