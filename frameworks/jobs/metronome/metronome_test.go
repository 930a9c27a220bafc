package metronome

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"corral/frameworks/jobs/job"
	"corral/frameworks/jobs/schedule"
	"corral/internal/purity"
)

// TestPure keeps the package a pure function of its inputs.
func TestPure(t *testing.T) {
	purity.Check(t, "bytes", "corral/frameworks/internal/blank", "corral/frameworks/jobs/job", "encoding/json", "fmt", "math", "regexp", "slices", "strings", "time")
}

func parse(expr, tz string) error {
	_, err := schedule.Parse(expr, tz)
	return err
}

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "metronome", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestValidID(t *testing.T) {
	for _, tt := range []struct {
		id string
		ok bool
	}{
		{"prod.example.app", true}, {"a", true}, {"a--b.c-d", true}, {"0.1", true},
		{"", false}, {"Prod", false}, {"a_b", false}, {"-a", false}, {"a-", false}, {"a..b", false},
		{".a", false}, {"a.", false}, {"a/b", false}, {strings.Repeat("a", 300), false},
	} {
		if err := ValidID(tt.id); (err == nil) != tt.ok {
			t.Errorf("ValidID(%q) = %v; want ok %v", tt.id, err, tt.ok)
		}
	}
}

// TestDecodeJob reads the job file of the API tests into the native job
// it stands for.
func TestDecodeJob(t *testing.T) {
	got, err := DecodeJob(testdata(t, "job.json"))
	if err != nil {
		t.Fatalf("DecodeJob(job.json) = %v", err)
	}
	want := job.Job{Name: "prod.example.hello", Description: "says hello, and writes a file the test reads back",
		Labels:  map[string]string{"owner": "data", "tier": "batch"},
		Command: `echo "hello from $GREETING" && echo done > done.txt`, Shell: true, OnDemand: true,
		CPUs: 0.1, Mem: 32, Disk: job.DefaultDisk, Env: map[string]string{"GREETING": "metronome"},
		Constraints: [][]string{{"hostname", "LIKE", ".*"}}, MaxLaunchDelaySeconds: 600, KillGracePeriodSeconds: 3,
		Retries: 0, RetryBackoffSeconds: job.DefaultRetryBackoffSeconds,
		StartingDeadlineSeconds: job.DefaultStartingDeadlineSeconds, ConcurrencyPolicy: job.Allow}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("DecodeJob(job.json) differs (-want +got):\n%s", d)
	}
}

func TestDecodeJobDefaultsAndMapping(t *testing.T) {
	tests := []struct {
		name, in string
		want     func(j *job.Job)
	}{
		{"Metronome's defaults", `{"id":"a","run":{"cmd":"x"}}`, func(j *job.Job) {}},
		{"args", `{"id":"a","run":{"args":["/bin/echo","hi"]}}`, func(j *job.Job) { j.Command, j.Args, j.Shell = "", []string{"/bin/echo", "hi"}, false }},
		{"docker without a command", `{"id":"a","run":{"docker":{"image":"busybox","forcePullImage":true,"privileged":false,"parameters":[{"key":"label","value":"x=y"}]}}}`,
			func(j *job.Job) {
				j.Command = ""
				j.Container = &job.Container{Image: "busybox", ForcePullImage: true, Parameters: []job.Parameter{{Key: "label", Value: "x=y"}}}
			}},
		{"ON_FAILURE", `{"id":"a","run":{"cmd":"x","restart":{"policy":"ON_FAILURE","activeDeadlineSeconds":null}}}`, func(j *job.Job) { j.Retries = job.MaxRetries }},
		{"EQ is EQUALS", `{"id":"a","run":{"cmd":"x","placement":{"constraints":[{"attribute":"rack","operator":"EQ","value":"r1"}]}}}`,
			func(j *job.Job) { j.Constraints = [][]string{{"rack", "EQUALS", "r1"}} }},
		{"artifacts", `{"id":"a","run":{"cmd":"x","artifacts":[{"uri":"https://h.example/a.tgz"},{"uri":"https://h.example/b","executable":true,"cache":true}]}}`,
			func(j *job.Job) {
				j.Fetch = []job.Fetch{{URI: "https://h.example/a.tgz", Extract: true}, {URI: "https://h.example/b", Executable: true, Cache: true}}
			}},
		{"dependencies", `{"id":"a","dependencies":[{"id":"b.c"}],"run":{"cmd":"x"}}`, func(j *job.Job) { j.Parents, j.OnDemand = []string{"b.c"}, false }},
		{"blanks clients send", `{"id":"a","run":{"cmd":"x","gpus":0,"ucr":null,"volumes":[],"secrets":{},"networks":[],"user":"","docker":null},"schedules":[],"history":{"successCount":3},"activeRuns":[]}`,
			func(j *job.Job) {}},
		{"maxLaunchDelay 0 waits for ever", `{"id":"a","run":{"cmd":"x","maxLaunchDelay":0}}`, func(j *job.Job) { j.MaxLaunchDelaySeconds = 0 }},
		{"user", `{"id":"a","run":{"cmd":"x","user":"nobody"}}`, func(j *job.Job) { j.User = "nobody" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := job.Job{Name: "a", Command: "x", Shell: true, OnDemand: true, CPUs: 1, Mem: 128, Disk: job.DefaultDisk,
				MaxLaunchDelaySeconds: 3600, RetryBackoffSeconds: job.DefaultRetryBackoffSeconds,
				StartingDeadlineSeconds: job.DefaultStartingDeadlineSeconds, ConcurrencyPolicy: job.Allow}
			tt.want(&want)
			got, err := DecodeJob([]byte(tt.in))
			if err != nil {
				t.Fatalf("DecodeJob(%s) = %v", tt.in, err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("DecodeJob(%s) differs (-want +got):\n%s", tt.in, d)
			}
		})
	}
}

// paths returns the paths of a *job.ValidationError, failing t for any
// other error.
func paths(t *testing.T, err error) []string {
	t.Helper()
	var ve *job.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v (%T); want a *job.ValidationError", err, err)
	}
	var out []string
	for _, d := range ve.Details {
		out = append(out, d.Path)
	}
	return out
}

func TestDecodeJobRefusals(t *testing.T) {
	tests := []struct {
		name, in string
		paths    []string
		text     string // in the first detail
	}{
		{"no id", `{"run":{"cmd":"x"}}`, []string{"/id"}, "an id is required"},
		{"bad id", `{"id":"Prod_App","run":{"cmd":"x"}}`, []string{"/id"}, "not a valid job id"},
		{"no run", `{"id":"a"}`, []string{"/run"}, "is required"},
		{"no command", `{"id":"a","run":{"cpus":1}}`, []string{"/run"}, "one of cmd or args"},
		{"cmd and args", `{"id":"a","run":{"cmd":"x","args":["y"]}}`, []string{"/run"}, "mutually exclusive"},
		{"wrong types", `{"id":"a","run":{"cmd":1,"cpus":"1","env":{"A":2}}}`, []string{"/run/cmd", "/run/cpus", "/run/env/A"}, "must be a string"},
		{"too little", `{"id":"a","run":{"cmd":"x","cpus":0.001,"mem":16,"disk":-1}}`, []string{"/run/cpus", "/run/mem", "/run/disk"}, "at least 0.01"},
		{"gpus", `{"id":"a","run":{"cmd":"x","gpus":1}}`, []string{"/run/gpus"}, "GPUs are not supported by corral yet"},
		{"ucr", `{"id":"a","run":{"cmd":"x","ucr":{"image":{"id":"busybox"}}}}`, []string{"/run/ucr"}, "UCR"},
		{"volumes", `{"id":"a","run":{"cmd":"x","volumes":[{"containerPath":"/data","hostPath":"/srv","mode":"RW"}]}}`, []string{"/run/volumes"}, "volumes are not supported"},
		{"secrets", `{"id":"a","run":{"cmd":"x","secrets":{"pw":{"source":"db/pw"}},"env":{"PW":{"secret":"pw"}}}}`, []string{"/run/secrets", "/run/env/PW"}, "secret references"},
		{"networks", `{"id":"a","run":{"cmd":"x","networks":[{"mode":"container","name":"dcos"}]}}`, []string{"/run/networks"}, "networks are not supported"},
		{"privileged", `{"id":"a","run":{"docker":{"image":"i","privileged":true}}}`, []string{"/run/docker/privileged"}, "privileged"},
		{"docker without an image", `{"id":"a","run":{"docker":{}}}`, []string{"/run/docker/image"}, "is required"},
		{"refused docker option", `{"id":"a","run":{"docker":{"image":"i","parameters":[{"key":"privileged","value":"true"}]}}}`, []string{"/run/docker/parameters(0)/key"}, ""},
		{"restart deadline", `{"id":"a","run":{"cmd":"x","restart":{"policy":"ON_FAILURE","activeDeadlineSeconds":60}}}`, []string{"/run/restart/activeDeadlineSeconds"}, "not supported by corral yet"},
		{"restart policy", `{"id":"a","run":{"cmd":"x","restart":{"policy":"ALWAYS"}}}`, []string{"/run/restart/policy"}, "NEVER or ON_FAILURE"},
		{"restart without a policy", `{"id":"a","run":{"cmd":"x","restart":{}}}`, []string{"/run/restart/policy"}, "is required"},
		{"operator", `{"id":"a","run":{"cmd":"x","placement":{"constraints":[{"attribute":"rack","operator":"UNIQUE"}]}}}`, []string{"/run/placement/constraints(0)/operator"}, "EQ, IS, LIKE, UNLIKE"},
		{"artifact without a uri", `{"id":"a","run":{"cmd":"x","artifacts":[{"extract":false}]}}`, []string{"/run/artifacts(0)/uri"}, "is required"},
		{"artifact the agents cannot fetch", `{"id":"a","run":{"cmd":"x","artifacts":[{"uri":"ftp://h/x"}]}}`, []string{"/run/artifacts(0)/uri"}, ""},
		{"unknown fields", `{"id":"a","owner":"me","run":{"cmd":"x","cpu":1,"docker":{"image":"i","network":"BRIDGE"}}}`, []string{"/owner", "/run/cpu", "/run/docker/network"}, "unknown field"},
		{"schedules", `{"id":"a","run":{"cmd":"x"},"schedules":[{"id":"s1","cron":"* * * * *"}]}`, []string{"/schedules"}, "POST /v1/jobs/{id}/schedules"},
		{"bad user", `{"id":"a","run":{"cmd":"x","user":"Root Admin"}}`, []string{"/run/user"}, "not a valid user name"},
		{"negative grace and delay", `{"id":"a","run":{"cmd":"x","taskKillGracePeriodSeconds":-1,"maxLaunchDelay":-5}}`, []string{"/run/maxLaunchDelay", "/run/taskKillGracePeriodSeconds"}, "must be 0"},
		{"bad dependency", `{"id":"a","dependencies":[{"id":"B"}],"run":{"cmd":"x"}}`, []string{"/dependencies(0)/id"}, "not a valid job id"},
		{"own dependency", `{"id":"a","dependencies":[{"id":"a"}],"run":{"cmd":"x"}}`, []string{"/dependencies(0)"}, "its own parent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeJob([]byte(tt.in))
			if err == nil {
				t.Fatalf("DecodeJob(%s) = nil error; want %v", tt.in, tt.paths)
			}
			if got := paths(t, err); !slices.Equal(got, tt.paths) {
				t.Errorf("DecodeJob(%s) paths = %v; want %v (%v)", tt.in, got, tt.paths, err)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("DecodeJob(%s) = %v; want it to say %q", tt.in, err, tt.text)
			}
		})
	}
}

func TestDecodeJobMalformed(t *testing.T) {
	for _, in := range []string{`{`, `{"id":}`} {
		var ij *InvalidJSON
		if _, err := DecodeJob([]byte(in)); !errors.As(err, &ij) {
			t.Errorf("DecodeJob(%s) = %v; want *InvalidJSON", in, err)
		}
	}
	if _, err := DecodeJob([]byte(`[1]`)); err == nil || !slices.Equal(paths(t, err), []string{"/"}) {
		t.Errorf("DecodeJob([1]) = %v; want a 422 at /", err)
	}
}

// TestViewRoundTrip: what View writes, DecodeJob reads back to the same
// job (Metronome's own fields).
func TestViewRoundTrip(t *testing.T) {
	for _, in := range []string{
		string(testdata(t, "job.json")),
		`{"id":"b","dependencies":[{"id":"a"}],"run":{"args":["/bin/true"],"restart":{"policy":"ON_FAILURE"},"user":"nobody",
		  "docker":{"image":"busybox","parameters":[{"key":"label","value":"a=b"}]},
		  "placement":{"constraints":[{"attribute":"rack","operator":"EQ","value":"1"}]},
		  "artifacts":[{"uri":"https://h.example/x","executable":true,"extract":false,"cache":false}]}}`,
	} {
		j, err := DecodeJob([]byte(in))
		if err != nil {
			t.Fatalf("DecodeJob(%s) = %v", in, err)
		}
		out, err := json.Marshal(View(j))
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeJob(out)
		if err != nil {
			t.Fatalf("DecodeJob(View(%s)) = %v; view %s", in, err, out)
		}
		if d := cmp.Diff(j, back); d != "" {
			t.Errorf("DecodeJob(View(j)) differs from j (-want +got):\n%s\nview: %s", d, out)
		}
	}
}

func TestViewOfNativeJobs(t *testing.T) {
	j := job.New("native")
	j.Command, j.Shell = "/bin/echo a b", false
	j.URIs = []string{"https://h.example/u"}
	j.Constraints = [][]string{{"host", "UNIQUE"}}
	v := View(j)
	if v.Run.Cmd != "" || !slices.Equal(v.Run.Args, []string{"/bin/echo", "a", "b"}) {
		t.Errorf("View(shell false %q) cmd, args = %q, %q; want the argument vector it runs", j.Command, v.Run.Cmd, v.Run.Args)
	}
	if v.Run.Restart.Policy != OnFailure {
		t.Errorf("View(retries %d) restart = %s; want ON_FAILURE", j.Retries, v.Run.Restart.Policy)
	}
	if want := []Artifact{{URI: "https://h.example/u", Extract: true}}; !cmp.Equal(v.Run.Artifacts, want) {
		t.Errorf("View(uris) artifacts = %v; want %v", v.Run.Artifacts, want)
	}
	if want := []Constraint{{Attribute: "host", Operator: "UNIQUE"}}; !cmp.Equal(v.Run.Placement.Constraints, want) {
		t.Errorf("View constraints = %v; want %v", v.Run.Placement.Constraints, want)
	}
}

func TestDecodeSchedule(t *testing.T) {
	got, err := DecodeSchedule(testdata(t, "schedule.json"), parse)
	if err != nil {
		t.Fatalf("DecodeSchedule(schedule.json) = %v", err)
	}
	want := Schedule{ID: "nightly", Cron: "0 2 * * *", Timezone: "Europe/Berlin", StartingDeadlineSeconds: 600, ConcurrencyPolicy: "FORBID", Enabled: true}
	if got != want {
		t.Errorf("DecodeSchedule(schedule.json) = %+v; want %+v", got, want)
	}
	got, err = DecodeSchedule([]byte(`{"id":"every-minute","cron":"* * * * *","concurrencyPolicy":"replace","nextRunAt":"x"}`), parse)
	want = Schedule{ID: "every-minute", Cron: "* * * * *", Timezone: "UTC", StartingDeadlineSeconds: 900, ConcurrencyPolicy: "REPLACE", Enabled: true}
	if err != nil || got != want {
		t.Errorf("DecodeSchedule(defaults) = %+v, %v; want %+v", got, err, want)
	}
}

func TestDecodeScheduleRefusals(t *testing.T) {
	tests := []struct {
		name, in string
		paths    []string
		text     string
	}{
		{"nothing", `{}`, []string{"/id", "/cron"}, "is required"},
		{"bad id", `{"id":"Nightly","cron":"* * * * *"}`, []string{"/id"}, "not a valid schedule id"},
		{"short id", `{"id":"n","cron":"* * * * *"}`, []string{"/id"}, "not a valid schedule id"},
		{"bad cron", `{"id":"ab","cron":"61 * * * *"}`, []string{"/cron"}, ""},
		{"ISO 8601", `{"id":"ab","cron":"R/2030-01-01T00:00:00Z/P1D"}`, []string{"/cron"}, "must be a cron expression"},
		{"bad zone", `{"id":"ab","cron":"* * * * *","timezone":"Mars/Olympus"}`, []string{"/timezone"}, ""},
		{"policy", `{"id":"ab","cron":"* * * * *","concurrencyPolicy":"QUEUE"}`, []string{"/concurrencyPolicy"}, "ALLOW, FORBID, REPLACE"},
		{"deadline", `{"id":"ab","cron":"* * * * *","startingDeadlineSeconds":0}`, []string{"/startingDeadlineSeconds"}, "at least 1"},
		{"types", `{"id":"ab","cron":"* * * * *","enabled":"yes"}`, []string{"/enabled"}, "must be a boolean"},
		{"unknown", `{"id":"ab","cron":"* * * * *","suspend":true}`, []string{"/suspend"}, "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeSchedule([]byte(tt.in), parse)
			if err == nil {
				t.Fatalf("DecodeSchedule(%s) = nil error; want %v", tt.in, tt.paths)
			}
			if got := paths(t, err); !slices.Equal(got, tt.paths) {
				t.Errorf("DecodeSchedule(%s) paths = %v; want %v (%v)", tt.in, got, tt.paths, err)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("DecodeSchedule(%s) = %v; want it to say %q", tt.in, err, tt.text)
			}
		})
	}
}

func TestApplyClearScheduleOf(t *testing.T) {
	j, err := DecodeJob(testdata(t, "job.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ScheduleOf(j); ok {
		t.Errorf("ScheduleOf(a job without) = ok; want none")
	}
	sc := Schedule{ID: "nightly", Cron: "0 2 * * *", Timezone: "Europe/Berlin", StartingDeadlineSeconds: 600, ConcurrencyPolicy: "FORBID", Enabled: false}
	if err := Apply(&j, sc); err != nil {
		t.Fatal(err)
	}
	if !j.Disabled || j.Schedule != sc.Cron || j.ScheduleID != "nightly" || j.OnDemand {
		t.Errorf("Apply(%+v) = %+v; want the schedule, disabled", sc, j)
	}
	if ve := job.Validate(j, parse); ve != nil {
		t.Errorf("Validate(after Apply) = %v", ve)
	}
	if got, ok := ScheduleOf(j); !ok || got != sc {
		t.Errorf("ScheduleOf(Apply(%+v)) = %+v, %v; want it back", sc, got, ok)
	}
	Clear(&j)
	if _, ok := ScheduleOf(j); ok || j.Disabled || j.ScheduleID != "" || !j.OnDemand {
		t.Errorf("Clear left %+v; want no schedule, enabled", j)
	}
	if ve := job.Validate(j, parse); ve != nil {
		t.Errorf("Validate(after Clear) = %v; want an on-demand job", ve)
	}

	native := job.New("n")
	native.Command, native.Schedule, native.Timezone = "x", "@daily", "UTC"
	if got, _ := ScheduleOf(native); got.ID != DefaultScheduleID {
		t.Errorf("ScheduleOf(a native job) id = %q; want %q", got.ID, DefaultScheduleID)
	}
	child := job.New("c")
	child.Parents = []string{"p"}
	if err := Apply(&child, sc); err == nil || !slices.Equal(paths(t, err), []string{"/"}) {
		t.Errorf("Apply(a job with dependencies) = %v; want a 422 at /", err)
	}
}

func TestReplace(t *testing.T) {
	old := job.New("a")
	old.Command, old.Schedule, old.Timezone, old.ScheduleID, old.Disabled = "x", "@daily", "UTC", "daily", true
	old.Owner, old.SoftError, old.TimeoutSeconds, old.Retries, old.RetryBackoffSeconds = "o@h", true, 60, 5, 2
	old.Webhooks = []job.Webhook{{URL: "https://h.example/hook", On: []string{job.OnFailed}}}
	next, err := DecodeJob([]byte(`{"id":"a","run":{"cmd":"y","restart":{"policy":"ON_FAILURE"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	got := Replace(old, next)
	want := next.Clone()
	want.Schedule, want.Timezone, want.ScheduleID, want.Disabled = "@daily", "UTC", "daily", true
	want.Owner, want.SoftError, want.TimeoutSeconds, want.Retries, want.RetryBackoffSeconds = "o@h", true, 60, 5, 2
	want.Webhooks, want.OnDemand = old.Webhooks, false
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Replace differs (-want +got):\n%s", d)
	}
	never, _ := DecodeJob([]byte(`{"id":"a","run":{"cmd":"y"}}`))
	if got := Replace(old, never); got.Retries != 0 {
		t.Errorf("Replace(ON_FAILURE by NEVER) retries = %d; want 0", got.Retries)
	}
}

func TestJobPaths(t *testing.T) {
	ve := &job.ValidationError{Message: "m", Details: []job.Detail{
		{Path: "/name"}, {Path: "/cpus"}, {Path: "/container/parameters(0)/key"}, {Path: "/fetch(1)/uri"},
		{Path: "/parents"}, {Path: "/commandline"}, {Path: "/"},
	}}
	var got []string
	for _, d := range JobPaths(ve).Details {
		got = append(got, d.Path)
	}
	want := []string{"/id", "/run/cpus", "/run/docker/parameters(0)/key", "/run/artifacts(1)/uri", "/dependencies", "/commandline", "/"}
	if !slices.Equal(got, want) {
		t.Errorf("JobPaths = %v; want %v", got, want)
	}
	if ve.Details[0].Path != "/name" {
		t.Errorf("JobPaths modified its argument")
	}
}

func TestParseEmbeds(t *testing.T) {
	e, err := ParseEmbeds([]string{"activeRuns,schedules", "history", ""})
	if err != nil || e != EmbedActiveRuns|EmbedSchedules|EmbedHistory {
		t.Errorf("ParseEmbeds = %v, %v; want activeRuns,schedules,history", e, err)
	}
	if e.String() != "activeRuns,schedules,history" {
		t.Errorf("String() = %q", e.String())
	}
	if _, err := ParseEmbeds([]string{"historySummary,tasks"}); err == nil || !strings.Contains(err.Error(), `"tasks"`) {
		t.Errorf("ParseEmbeds(tasks) = %v; want an error naming it", err)
	}
}

func TestRunView(t *testing.T) {
	queued := time.Date(2024, 3, 10, 9, 0, 0, 123e6, time.UTC)
	started, finished := queued.Add(time.Second), queued.Add(3*time.Second)
	exit := 1
	tests := []struct {
		state   string
		attempt int
		task    string
		status  string
		tasks   []Task
		done    bool
	}{
		{"QUEUED", 0, "", StatusStarting, []Task{}, false},
		{"QUEUED", 1, "", StatusActive, []Task{}, false},
		{"STARTING", 0, "t1", StatusActive, []Task{{ID: "t1", Status: "TASK_STAGING", StartedAt: Time(&started)}}, false},
		{"RUNNING", 0, "t1", StatusActive, []Task{{ID: "t1", Status: "TASK_RUNNING", StartedAt: Time(&started)}}, false},
		{"SUCCEEDED", 0, "t1", StatusSuccess, []Task{{ID: "t1", Status: "TASK_FINISHED", StartedAt: Time(&started), CompletedAt: Time(&finished)}}, true},
		{"FAILED", 2, "t3", StatusFailed, []Task{{ID: "t3", Status: "TASK_FAILED", StartedAt: Time(&started), CompletedAt: Time(&finished)}}, true},
		{"KILLED", 0, "t1", StatusFailed, []Task{{ID: "t1", Status: "TASK_KILLED", StartedAt: Time(&started), CompletedAt: Time(&finished)}}, true},
		{"MISSED", 0, "", StatusFailed, []Task{}, true},
	}
	for _, tt := range tests {
		f := Facts{ID: 7, Job: "a", Trigger: "manual", State: tt.state, Attempt: tt.attempt, TaskID: tt.task, QueuedAt: queued,
			StartedAt: &started, ExitStatus: &exit}
		if tt.done {
			f.FinishedAt = &finished
		}
		got, ok := RunView(f)
		if !ok {
			t.Fatalf("RunView(%s) = not a run; want %s", tt.state, tt.status)
		}
		if got.Status != tt.status || !cmp.Equal(got.Tasks, tt.tasks) {
			t.Errorf("RunView(%s, attempt %d) = %s %+v; want %s %+v", tt.state, tt.attempt, got.Status, got.Tasks, tt.status, tt.tasks)
		}
		if got.ID != "7" || got.JobID != "a" || got.CreatedAt != "2024-03-10T09:00:00.123+0000" {
			t.Errorf("RunView(%s) id, jobId, createdAt = %s, %s, %s", tt.state, got.ID, got.JobID, got.CreatedAt)
		}
		if (got.CompletedAt != nil) != tt.done {
			t.Errorf("RunView(%s) completedAt = %v; want set %v", tt.state, got.CompletedAt, tt.done)
		}
	}
	if _, ok := RunView(Facts{State: "SKIPPED"}); ok {
		t.Errorf("RunView(SKIPPED) = a run; want none: the occurrence never ran")
	}
}

func TestNewHistory(t *testing.T) {
	at := time.Date(2024, 3, 10, 9, 0, 0, 0, time.UTC)
	h := NewHistory(Stats{SuccessCount: 1, FailureCount: 2, LastSuccess: &at}, []Facts{
		{ID: 3, State: "FAILED", TaskID: "t3", QueuedAt: at, FinishedAt: &at},
		{ID: 2, State: "SKIPPED", QueuedAt: at, FinishedAt: &at},
		{ID: 1, State: "SUCCEEDED", TaskID: "t1", QueuedAt: at, FinishedAt: &at},
		{ID: 4, State: "RUNNING", TaskID: "t4", QueuedAt: at},
	})
	if h.SuccessCount != 1 || h.FailureCount != 2 || *h.LastSuccessAt != "2024-03-10T09:00:00.000+0000" || h.LastFailureAt != nil {
		t.Errorf("NewHistory summary = %+v", h.HistorySummary)
	}
	ids := func(rs []FinishedRun) (out []string) {
		for _, r := range rs {
			out = append(out, r.ID+":"+strings.Join(r.Tasks, ","))
		}
		return out
	}
	if got := ids(h.SuccessfulFinishedRuns); !slices.Equal(got, []string{"1:t1"}) {
		t.Errorf("successfulFinishedRuns = %v; want [1:t1]", got)
	}
	if got := ids(h.FailedFinishedRuns); !slices.Equal(got, []string{"3:t3"}) {
		t.Errorf("failedFinishedRuns = %v; want [3:t3]", got)
	}
}
