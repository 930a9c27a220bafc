package job

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fakeParse stands in for the schedule parser: it knows a few zones,
// 5-field cron, descriptors and R…/…/… intervals.
func fakeParse(expr, tz string) error {
	switch tz {
	case "", "UTC", "Europe/Berlin", "America/New_York":
	default:
		return fmt.Errorf("unknown time zone %q", tz)
	}
	switch {
	case strings.HasPrefix(expr, "R") && strings.Count(expr, "/") == 2,
		strings.HasPrefix(expr, "@"),
		len(strings.Fields(expr)) == 5:
		return nil
	}
	return fmt.Errorf("cannot parse schedule %q", expr)
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name string
		in   Job
		want Job
	}{
		{"zeros become defaults", Job{Name: "a", Schedule: "@daily"},
			Job{Name: "a", Schedule: "@daily", Timezone: "UTC", CPUs: 0.1, Mem: 128, Disk: 256,
				ConcurrencyPolicy: Allow, StartingDeadlineSeconds: 60}},
		{"given values stay", Job{Name: "a", Schedule: "@daily", Timezone: "Europe/Berlin", CPUs: 2, Mem: 1, Disk: 3,
			ConcurrencyPolicy: Forbid, StartingDeadlineSeconds: 5, Shell: true, Retries: 0},
			Job{Name: "a", Schedule: "@daily", Timezone: "Europe/Berlin", CPUs: 2, Mem: 1, Disk: 3,
				ConcurrencyPolicy: Forbid, StartingDeadlineSeconds: 5, Shell: true}},
		{"policy is upper-cased", Job{ConcurrencyPolicy: " replace "},
			Job{CPUs: 0.1, Mem: 128, Disk: 256, ConcurrencyPolicy: Replace, StartingDeadlineSeconds: 60}},
		{"a dependent job gets no time zone", Job{Parents: []string{"p"}},
			Job{Parents: []string{"p"}, CPUs: 0.1, Mem: 128, Disk: 256, ConcurrencyPolicy: Allow, StartingDeadlineSeconds: 60}},
		{"args never use a shell", Job{Shell: true, Args: []string{"/bin/true"}},
			Job{Args: []string{"/bin/true"}, CPUs: 0.1, Mem: 128, Disk: 256, ConcurrencyPolicy: Allow, StartingDeadlineSeconds: 60}},
		{"negative values are left for Validate", Job{CPUs: -1, StartingDeadlineSeconds: -2},
			Job{CPUs: -1, Mem: 128, Disk: 256, ConcurrencyPolicy: Allow, StartingDeadlineSeconds: -2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in
			got.Normalize()
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Normalize(%+v) differs (-want +got):\n%s", tt.in, d)
			}
			again := got
			again.Normalize()
			if d := cmp.Diff(got, again); d != "" {
				t.Errorf("Normalize is not idempotent (-once +twice):\n%s", d)
			}
		})
	}
}

func TestNew(t *testing.T) {
	want := Job{Name: "n", Shell: true, Retries: 2, RetryBackoffSeconds: 10, CPUs: 0.1, Mem: 128, Disk: 256,
		ConcurrencyPolicy: Allow, StartingDeadlineSeconds: 60}
	if d := cmp.Diff(want, New("n")); d != "" {
		t.Errorf("New(n) differs (-want +got):\n%s", d)
	}
	fromJSON, _, err := DecodeNative([]byte(`{"name":"n"}`), fw)
	if err != nil {
		t.Fatal(err)
	}
	fromJSON.Normalize()
	if d := cmp.Diff(fromJSON, New("n")); d != "" {
		t.Errorf("New(n) differs from the decoded and normalized {name: n} (-decoded +New):\n%s", d)
	}
}

// valid is a valid normalized scheduled job for the Validate table.
func valid() Job {
	j := New("etl.daily_v2-x")
	j.Command = "run"
	j.Schedule = "0 3 * * *"
	j.Normalize()
	return j
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Job)
		want   []Detail // nil: valid
	}{
		{"valid scheduled", func(*Job) {}, nil},
		{"valid dependent", func(j *Job) { j.Schedule, j.Timezone, j.Parents = "", "", []string{"a", "b"} }, nil},
		{"valid args", func(j *Job) { j.Command, j.Args = "", []string{"/bin/echo", ""} }, nil},
		{"valid constraints", func(j *Job) {
			j.Constraints = [][]string{{"rack", "EQUALS", "r1"}, {"host", "LIKE", "a.*"}, {"host", "UNLIKE", "b"},
				{"host", "UNIQUE"}, {"zone", "CLUSTER"}, {"zone", "GROUP_BY", "3"}, {"rack", "MAX_PER", "2"}, {"os", "IS", "linux"}}
		}, nil},
		{"valid zero values", func(j *Job) { j.Retries, j.RetryBackoffSeconds, j.TimeoutSeconds = 0, 0, 0 }, nil},
		{"name missing", func(j *Job) { j.Name = "" }, []Detail{{"/name", []string{"a name is required"}}}},
		{"name with slash", func(j *Job) { j.Name = "a/b" },
			[]Detail{{"/name", []string{`"a/b" is not a valid name: use only letters, digits, '.', '_' and '-'`}}}},
		{"name with space", func(j *Job) { j.Name = "a b" },
			[]Detail{{"/name", []string{`"a b" is not a valid name: use only letters, digits, '.', '_' and '-'`}}}},
		{"name dot", func(j *Job) { j.Name = "." }, []Detail{{"/name", []string{`"." is not a valid name`}}}},
		{"name dot dot", func(j *Job) { j.Name = ".." }, []Detail{{"/name", []string{`".." is not a valid name`}}}},
		{"name with dot dot inside", func(j *Job) { j.Name = "a..b" },
			[]Detail{{"/name", []string{`"a..b" is not a valid name: it must not contain "..", which agents refuse in task ids`}}}},
		{"longest name", func(j *Job) { j.Name = strings.Repeat("n", 206) }, nil},
		{"name too long", func(j *Job) { j.Name = strings.Repeat("n", 207) },
			[]Detail{{"/name", []string{"a name has at most 206 bytes, so that its task ids fit the 255 bytes Mesos allows (got 207)"}}}},
		{"user", func(j *Job) { j.User = "www-data" }, nil},
		{"machine account user", func(j *Job) { j.User = "host1$" }, nil},
		{"uppercase user", func(j *Job) { j.User = "Nobody" }, []Detail{{"/user", []string{
			`"Nobody" is not a valid user name: want a lowercase letter or '_', then lowercase letters, digits, '_' or '-', optionally ending in '$'`}}}},
		{"user with a colon", func(j *Job) { j.User = "root:0" }, []Detail{{"/user", []string{
			`"root:0" is not a valid user name: want a lowercase letter or '_', then lowercase letters, digits, '_' or '-', optionally ending in '$'`}}}},
		{"user too long", func(j *Job) { j.User = strings.Repeat("u", 33) }, []Detail{{"/user", []string{
			"a user name has at most 32 bytes (got 33)"}}}},
		{"longest user", func(j *Job) { j.User = strings.Repeat("u", 32) }, nil},
		{"name unicode", func(j *Job) { j.Name = "jöb" },
			[]Detail{{"/name", []string{`"jöb" is not a valid name: use only letters, digits, '.', '_' and '-'`}}}},
		{"no command", func(j *Job) { j.Command = "" }, []Detail{{"/", []string{"one of command or args is required (or a container, to run its image's command)"}}}},
		{"command and args", func(j *Job) { j.Args = []string{"x"} },
			[]Detail{{"/", []string{"command and args are mutually exclusive; give one of them"}}}},
		{"blank command", func(j *Job) { j.Command = "  " }, []Detail{{"/command", []string{"must not be blank"}}}},
		{"empty executable", func(j *Job) { j.Command, j.Args = "", []string{""} },
			[]Detail{{"/args(0)", []string{"the executable must not be empty"}}}},
		{"schedule and parents", func(j *Job) { j.Parents = []string{"p"} },
			[]Detail{{"/", []string{"a job has a schedule or parents, not both"}}}},
		{"neither schedule nor parents", func(j *Job) { j.Schedule = "" },
			[]Detail{{"/", []string{"one of schedule or parents is required (or onDemand: true, for a job that runs only when started)"}}}},
		{"on demand", func(j *Job) { j.Schedule, j.Timezone, j.OnDemand = "", "", true }, nil},
		{"on demand with a schedule", func(j *Job) { j.OnDemand = true },
			[]Detail{{"/onDemand", []string{"an on-demand job has neither schedule nor parents"}}}},
		{"schedule id", func(j *Job) { j.ScheduleID = "nightly-2" }, nil},
		{"bad schedule ids", func(j *Job) { j.ScheduleID = "Nightly" }, []Detail{
			{"/scheduleId", []string{`"Nightly" is not a valid schedule id: use lowercase letters, digits and '-', starting and ending with a letter or digit`}}}},
		{"one-letter schedule id", func(j *Job) { j.ScheduleID = "a" }, []Detail{
			{"/scheduleId", []string{`"a" is not a valid schedule id: use lowercase letters, digits and '-', starting and ending with a letter or digit`}}}},
		{"launch delay and kill grace", func(j *Job) { j.MaxLaunchDelaySeconds, j.KillGracePeriodSeconds = 3600, 30 }, nil},
		{"negative launch delay and kill grace", func(j *Job) { j.MaxLaunchDelaySeconds, j.KillGracePeriodSeconds = -1, math.Inf(1) }, []Detail{
			{"/maxLaunchDelaySeconds", []string{"must be 0 or more (got -1)"}},
			{"/killGracePeriodSeconds", []string{"must be a finite number"}}}},
		{"negative resources", func(j *Job) { j.CPUs, j.Mem, j.Disk = -0.5, -1, -2 }, []Detail{
			{"/cpus", []string{"must be 0 or more (got -0.5)"}},
			{"/mem", []string{"must be 0 or more (got -1)"}},
			{"/disk", []string{"must be 0 or more (got -2)"}},
		}},
		{"resources at the limit", func(j *Job) { j.CPUs, j.Mem, j.Disk = 1e15, 1e15, 1e15 }, nil},
		{"huge resources", func(j *Job) { j.CPUs, j.Mem, j.Disk = 1e308, 1.000001e15, 1e16 }, []Detail{
			{"/cpus", []string{"must be at most 1e+15 (got 1e+308)"}},
			{"/mem", []string{"must be at most 1e+15 (got 1.000001e+15)"}},
			{"/disk", []string{"must be at most 1e+15 (got 1e+16)"}},
		}},
		{"NaN resources", func(j *Job) { j.Mem, j.Disk = math.NaN(), math.Inf(-1) }, []Detail{
			{"/mem", []string{"must be a finite number"}},
			{"/disk", []string{"must be a finite number"}},
		}},
		{"infinite and NaN", func(j *Job) { j.CPUs, j.TimeoutSeconds = math.Inf(1), math.NaN() }, []Detail{
			{"/cpus", []string{"must be a finite number"}},
			{"/timeoutSeconds", []string{"must be a finite number"}},
		}},
		{"negative retries and times", func(j *Job) {
			j.Retries, j.RetryBackoffSeconds, j.TimeoutSeconds, j.StartingDeadlineSeconds = -1, -1, -1, -1
		}, []Detail{
			{"/retries", []string{"must be 0 or more (got -1)"}},
			{"/retryBackoffSeconds", []string{"must be 0 or more (got -1)"}},
			{"/timeoutSeconds", []string{"must be 0 or more (got -1)"}},
			{"/startingDeadlineSeconds", []string{"must be 0 or more (got -1)"}},
		}},
		{"too many retries and too long times", func(j *Job) {
			j.Retries, j.RetryBackoffSeconds, j.TimeoutSeconds, j.StartingDeadlineSeconds = 1001, 86401, 1e12, 1e300
		}, []Detail{
			{"/retries", []string{"must be at most 1000 (got 1001)"}},
			{"/retryBackoffSeconds", []string{"must be at most 86400 (got 86401)"}},
			{"/timeoutSeconds", []string{"must be at most 315360000 (got 1e+12)"}},
			{"/startingDeadlineSeconds", []string{"must be at most 315360000 (got 1e+300)"}},
		}},
		{"unknown policy", func(j *Job) { j.ConcurrencyPolicy = "SOMETIMES" },
			[]Detail{{"/concurrencyPolicy", []string{`must be one of ALLOW, FORBID, REPLACE (got "SOMETIMES")`}}}},
		{"bad schedule", func(j *Job) { j.Schedule = "every day" },
			[]Detail{{"/schedule", []string{`cannot parse schedule "every day"`}}}},
		{"bad time zone", func(j *Job) { j.Timezone = "Mars/Olympus" },
			[]Detail{{"/timezone", []string{`unknown time zone "Mars/Olympus"`}}}},
		{"bad schedule and bad zone blame the schedule", func(j *Job) { j.Schedule, j.Timezone = "x", "Mars/Olympus" },
			[]Detail{{"/schedule", []string{`unknown time zone "Mars/Olympus"`}}}},
		{"parents", func(j *Job) {
			j.Schedule, j.Parents = "", []string{"a", "etl.daily_v2-x", "a", "b c", ""}
		}, []Detail{
			{"/parents(1)", []string{"a job cannot be its own parent"}},
			{"/parents(2)", []string{`duplicate parent "a"`}},
			{"/parents(3)", []string{`"b c" is not a valid name: use only letters, digits, '.', '_' and '-'`}},
			{"/parents(4)", []string{"a name is required"}},
		}},
		{"env and labels", func(j *Job) {
			j.Env = map[string]string{"": "x", "A=B": "y", "OK": "z"}
			j.Labels = map[string]string{"": "x"}
		}, []Detail{
			{"/env", []string{"variable names must not be empty"}},
			{"/env/A=B", []string{"variable names must not contain '=' or NUL"}},
			{"/labels", []string{"label names must not be empty"}},
		}},
		{"constraints", func(j *Job) {
			j.Constraints = [][]string{{"rack"}, {"", "UNIQUE"}, {"rack", "EQUALS"}, {"h", "LIKE", "("},
				{"h", "UNIQUE", "x"}, {"h", "MAX_PER", "0"}, {"h", "GROUP_BY", "x"}, {"h", "NEAR", "x"}, {"a", "IS", "b", "c"}}
		}, []Detail{
			{"/constraints(0)", []string{"must be [attribute, OPERATOR] or [attribute, OPERATOR, value] (got 1 elements)"}},
			{"/constraints(1)", []string{"the attribute must not be empty"}},
			{"/constraints(2)", []string{"EQUALS needs a value"}},
			{"/constraints(3)", []string{"LIKE value is not a valid regular expression: error parsing regexp: missing closing ): `(`"}},
			{"/constraints(4)", []string{"UNIQUE takes no value"}},
			{"/constraints(5)", []string{`MAX_PER needs a positive integer (got "0")`}},
			{"/constraints(6)", []string{`GROUP_BY value must be a positive integer (got "x")`}},
			{"/constraints(7)", []string{`unknown operator "NEAR"; use one of EQUALS, LIKE, UNLIKE, UNIQUE, CLUSTER, GROUP_BY, MAX_PER, IS`}},
			{"/constraints(8)", []string{"must be [attribute, OPERATOR] or [attribute, OPERATOR, value] (got 4 elements)"}},
		}},
		{"several problems at once", func(j *Job) { j.Name, j.CPUs, j.Parents = "", -1, []string{"p"} }, []Detail{
			{"/name", []string{"a name is required"}},
			{"/", []string{"a job has a schedule or parents, not both"}},
			{"/cpus", []string{"must be 0 or more (got -1)"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := valid()
			tt.change(&j)
			got := Validate(j, fakeParse)
			if tt.want == nil {
				if got != nil {
					t.Errorf("Validate(%s) = %v; want nil", tt.name, got)
				}
				return
			}
			if got == nil {
				t.Fatalf("Validate(%s) = nil; want %v", tt.name, tt.want)
			}
			if got.Message != "Object is not valid" {
				t.Errorf("Validate(%s).Message = %q; want Object is not valid", tt.name, got.Message)
			}
			if d := cmp.Diff(tt.want, got.Details); d != "" {
				t.Errorf("Validate(%s) details differ (-want +got):\n%s", tt.name, d)
			}
		})
	}
}

func TestValidateWithoutParser(t *testing.T) {
	j := valid()
	j.Schedule = "anything"
	if got := Validate(j, nil); got != nil {
		t.Errorf("Validate(schedule %q, nil parser) = %v; want nil (no parser, no schedule check)", j.Schedule, got)
	}
}

// TestValidateDecoded runs bodies through the whole request flow.
func TestValidateDecoded(t *testing.T) {
	tests := []struct {
		name   string
		decode func([]byte, Framework) (Job, []Warning, error)
		in     string
		paths  []string
	}{
		{"native: both schedule and parents", DecodeNative, `{"name":"a","command":"x","schedule":"@daily","parents":["b"]}`, []string{"/"}},
		{"native: negative resources", DecodeNative, `{"name":"a","command":"x","schedule":"@daily","cpus":-1,"mem":-5}`, []string{"/cpus", "/mem"}},
		{"native: bad name", DecodeNative, `{"name":"../etc","command":"x","schedule":"@daily"}`, []string{"/name"}},
		{"native: lowercase policy is accepted", DecodeNative, `{"name":"a","command":"x","schedule":"@daily","concurrencyPolicy":"forbid"}`, nil},
		{"chronos: dependent", DecodeChronos, `{"name":"a","command":"x","parents":["b"]}`, nil},
		{"chronos: run-once needs the API layer's schedule", DecodeChronos, `{"name":"a","command":"x"}`, []string{"/"}},
		{"chronos: bad zone", DecodeChronos, `{"name":"a","command":"x","schedule":"R/2024-01-01T00:00:00Z/PT1H","scheduleTimeZone":"Nowhere"}`, []string{"/timezone"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, _, err := tt.decode([]byte(tt.in), fw)
			if err != nil {
				t.Fatalf("decode(%s) = %v", tt.in, err)
			}
			j.Normalize()
			var got []string
			if ve := Validate(j, fakeParse); ve != nil {
				got = pathsOf(ve)
			}
			if d := cmp.Diff(tt.paths, got); d != "" {
				t.Errorf("Validate(decode(%s)) paths differ (-want +got):\n%s", tt.in, d)
			}
		})
	}
}

// TestChronosGolden decodes testdata/chronos-<name>.json as Chronos JSON,
// normalizes and validates it, and compares ChronosView with fixed stats
// to testdata/chronos-<name>.golden.json.
func TestChronosGolden(t *testing.T) {
	stats := Stats{
		SuccessCount: 41, ErrorCount: 2, ErrorsSinceLastSuccess: 1,
		LastSuccess: time.Date(2024, 3, 9, 2, 0, 2, 118e6, time.FixedZone("CET", 3600)),
		LastError:   time.Date(2024, 3, 10, 1, 0, 3, 0, time.UTC),
	}
	for _, name := range []string{"scheduled", "dependent", "minimal"} {
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", "chronos-"+name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			j, _, err := DecodeChronos(in, fw)
			if err != nil {
				t.Fatalf("DecodeChronos(%s) = %v", name, err)
			}
			j.Normalize()
			if ve := Validate(j, fakeParse); ve != nil {
				t.Fatalf("Validate(%s) = %v; want nil", name, ve)
			}
			st := stats
			if name == "minimal" {
				st = Stats{}
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(ChronosView(j, st)); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			golden := filepath.Join("testdata", "chronos-"+name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(want), string(got)); d != "" {
				t.Errorf("ChronosView(%s) differs from %s (-want +got):\n%s", name, golden, d)
			}
			// What ChronosView writes is Chronos JSON too: it decodes back
			// to the same job.
			back, _, err := DecodeChronos(got, fw)
			if err != nil {
				t.Fatalf("DecodeChronos(ChronosView(%s)) = %v", name, err)
			}
			back.Normalize()
			if d := cmp.Diff(j, back); d != "" {
				t.Errorf("DecodeChronos(ChronosView(%s)) differs (-want +got):\n%s", name, d)
			}
		})
	}
}

func TestChronosViewNative(t *testing.T) {
	j := New("n")
	j.Args = []string{"/bin/echo", "a", "b"}
	j.Parents = []string{"p"}
	j.ConcurrencyPolicy = Replace
	j.Normalize()
	v := ChronosView(j, Stats{})
	checks := map[string]any{
		"command": "/bin/echo", "shell": false, "concurrent": false, "epsilon": "PT60S",
		"lastSuccess": "", "lastError": "", "runAsUser": "",
	}
	for k, want := range checks {
		if !cmp.Equal(v[k], want) {
			t.Errorf("ChronosView(n)[%q] = %v; want %v", k, v[k], want)
		}
	}
	if d := cmp.Diff([]string{"a", "b"}, v["arguments"]); d != "" {
		t.Errorf("ChronosView(n)[arguments] differs:\n%s", d)
	}
	if _, ok := v["schedule"]; ok {
		t.Errorf("ChronosView(dependent job) has a schedule field; Chronos writes parents only")
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		t.Errorf("ChronosView(n) does not encode: %v", err)
	}
}

// TestTaskID: task ids have Chronos' shape, and those of the longest
// valid name fit Mesos' limit exactly, whatever the occurrence, attempt
// and run.
func TestTaskID(t *testing.T) {
	if got, want := TaskID(1420843781398, 1, "etl", 42), "ct:1420843781398:1:etl:42"; got != want {
		t.Errorf("TaskID(1420843781398, 1, etl, 42) = %q; want %q", got, want)
	}
	longest := strings.Repeat("n", MaxNameLen)
	if err := ValidName(longest); err != nil {
		t.Fatalf("ValidName(%d bytes) = %v; want nil", MaxNameLen, err)
	}
	if got := len(TaskID(math.MinInt64, MaxRetries, longest, math.MaxInt64)); got != MaxTaskIDLen {
		t.Errorf("the longest task id of a %d-byte name has %d bytes; want exactly %d", MaxNameLen, got, MaxTaskIDLen)
	}
	if err := ValidName(longest + "n"); err == nil {
		t.Errorf("ValidName(%d bytes) = nil; want an error", MaxNameLen+1)
	}
}
