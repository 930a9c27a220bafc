package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"corral/frameworks/jobs/job"
)

func TestTargets(t *testing.T) {
	const def = "https://ops.example/hook"
	hooks := []job.Webhook{
		{URL: "https://a.example/", On: []string{job.OnFailed, job.OnMissed}},
		{URL: "https://b.example/", On: []string{job.OnSucceeded, job.OnFailed}},
	}
	tests := []struct {
		name  string
		hooks []job.Webhook
		def   string
		state string
		want  []Target
	}{
		{"the job's webhooks that want the state", hooks, def, job.OnFailed, []Target{{URL: "https://a.example/"}, {URL: "https://b.example/"}}},
		{"only those", hooks, def, job.OnSucceeded, []Target{{URL: "https://b.example/"}}},
		{"none wants it", hooks, def, job.OnSkipped, nil},
		{"KILLED: nobody", hooks, def, "KILLED", nil},
		{"no webhooks: the default for a failure", nil, def, job.OnFailed, []Target{{URL: def, Default: true}}},
		{"no webhooks: not for a success", nil, def, job.OnSucceeded, nil},
		{"no webhooks: not for a miss", nil, def, job.OnMissed, nil},
		{"no webhooks, no default", nil, "", job.OnFailed, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, Targets(tt.hooks, tt.def, tt.state)); d != "" {
				t.Errorf("Targets(%v, %q, %s) (-want +got):\n%s", tt.hooks, tt.def, tt.state, d)
			}
		})
	}
}

func TestBuild(t *testing.T) {
	at := func(s int) *time.Time { v := time.Date(2030, 1, 2, 3, 4, s, 500, time.FixedZone("X", 3600)); return &v }
	exit := 3
	r := Run{ID: 42, Job: "etl.nightly", State: "FAILED", Trigger: "schedule", Attempt: 1, MaxAttempts: 2,
		Reason: "TASK_FAILED: Command exited with status 3", ExitStatus: &exit, AgentID: "ag-1", Host: "node7", TaskID: "ct:1:etl.nightly:42",
		Sandbox:      "http://node7:5051/files/browse?path=fw-1%2Fct%3A1%3Aetl.nightly%3A42",
		ScheduledFor: at(0), QueuedAt: *at(0), StartedAt: at(1), FinishedAt: at(9)}
	got, err := json.Marshal(Build("d-1", r, "https://jobs.example:4400/"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"deliveryId":"d-1","event":"run_failed","job":"etl.nightly","runId":42,"state":"FAILED","trigger":"schedule",` +
		`"attempt":1,"maxAttempts":2,"scheduledFor":"2030-01-02T02:04:00.0000005Z","queuedAt":"2030-01-02T02:04:00.0000005Z",` +
		`"startedAt":"2030-01-02T02:04:01.0000005Z","finishedAt":"2030-01-02T02:04:09.0000005Z","exitStatus":3,` +
		`"reason":"TASK_FAILED: Command exited with status 3","host":"node7","agentId":"ag-1","taskId":"ct:1:etl.nightly:42",` +
		`"links":{"run":"https://jobs.example:4400/v1/jobs/etl.nightly/runs/42",` +
		`"sandbox":"http://node7:5051/files/browse?path=fw-1%2Fct%3A1%3Aetl.nightly%3A42",` +
		`"stdout":"http://node7:5051/files/download?path=fw-1%2Fct%3A1%3Aetl.nightly%3A42%2Fstdout",` +
		`"stderr":"http://node7:5051/files/download?path=fw-1%2Fct%3A1%3Aetl.nightly%3A42%2Fstderr"}}`
	if string(got) != want {
		t.Errorf("Build(a failed run) =\n%s\nwant\n%s", got, want)
	}

	// A run that never started: no times but its queueing, no exit, no logs.
	missed := Run{ID: 7, Job: "a", State: "MISSED", Trigger: "schedule", MaxAttempts: 1, Reason: "missed", QueuedAt: *at(0), ScheduledFor: at(0), FinishedAt: at(5)}
	var p map[string]any
	b, _ := json.Marshal(Build("d-2", missed, "http://h:4400"))
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"startedAt", "exitStatus"} {
		if v, ok := p[k]; !ok || v != nil {
			t.Errorf("Build(a missed run)[%s] = %v (present %v); want null", k, v, ok)
		}
	}
	if d := cmp.Diff(map[string]any{"run": "http://h:4400/v1/jobs/a/runs/7"}, p["links"]); d != "" {
		t.Errorf("Build(a missed run) links (-want +got):\n%s", d)
	}
	if p["event"] != "run_missed" {
		t.Errorf("Build(a missed run) event = %v; want run_missed", p["event"])
	}
}

func TestLogLinks(t *testing.T) {
	tests := []struct {
		sandbox, stdout, stderr string
	}{
		{"https://a:5051/files/browse?path=fw%2Ftask", "https://a:5051/files/download?path=fw%2Ftask%2Fstdout", "https://a:5051/files/download?path=fw%2Ftask%2Fstderr"},
		{"http://a:5051/files/browse?path=/var/lib/corral/sandboxes/fw/t/", "http://a:5051/files/download?path=%2Fvar%2Flib%2Fcorral%2Fsandboxes%2Ffw%2Ft%2Fstdout", "http://a:5051/files/download?path=%2Fvar%2Flib%2Fcorral%2Fsandboxes%2Ffw%2Ft%2Fstderr"},
		{"http://a:5051/files/browse", "", ""},
		{"http://a:5051/other?path=x", "", ""},
		{"not a url at all %zz", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		out, errs := LogLinks(tt.sandbox)
		if out != tt.stdout || errs != tt.stderr {
			t.Errorf("LogLinks(%q) = %q, %q; want %q, %q", tt.sandbox, out, errs, tt.stdout, tt.stderr)
		}
	}
}

func TestDelay(t *testing.T) {
	p := Policy{Backoff: 10 * time.Second, MaxBackoff: time.Minute, GiveUp: time.Hour}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute, time.Minute}
	for i, w := range want {
		if got := p.Delay(i + 1); got != w {
			t.Errorf("Delay(%d) = %v; want %v", i+1, got, w)
		}
	}
	if got := p.Delay(1 << 30); got != time.Minute {
		t.Errorf("Delay(2^30) = %v; want the cap", got)
	}
	// Delay never decreases and never passes the cap.
	prev := time.Duration(0)
	for n := 1; n < 200; n++ {
		d := p.Delay(n)
		if d < prev || d > p.MaxBackoff {
			t.Fatalf("Delay(%d) = %v after %v; want non-decreasing, at most %v", n, d, prev, p.MaxBackoff)
		}
		prev = d
	}
}

func TestDecide(t *testing.T) {
	p := Policy{Backoff: time.Second, MaxBackoff: 10 * time.Minute, GiveUp: time.Hour}
	ended := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		ok       bool
		attempts int
		now      time.Time
		want     Verdict
		next     time.Time
	}{
		{"delivered", true, 1, ended, Delivered, time.Time{}},
		{"delivered late", true, 9, ended.Add(2 * time.Hour), Delivered, time.Time{}},
		{"first failure", false, 1, ended, Retry, ended.Add(time.Second)},
		{"third failure", false, 3, ended.Add(time.Minute), Retry, ended.Add(time.Minute + 4*time.Second)},
		{"last chance", false, 30, ended.Add(50 * time.Minute), Retry, ended.Add(time.Hour)},
		{"past the give-up", false, 30, ended.Add(50*time.Minute + time.Second), Abandon, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, next := p.Decide(tt.ok, tt.attempts, ended, tt.now)
			if v != tt.want || !next.Equal(tt.next) {
				t.Errorf("Decide(%v, %d, %s) = %s, %s; want %s, %s", tt.ok, tt.attempts, tt.now.Sub(ended), v, next, tt.want, tt.next)
			}
		})
	}
	// However many attempts fail, each comes later than the last and
	// none after GiveUp.
	now := ended
	for n := 1; ; n++ {
		v, next := p.Decide(false, n, ended, now)
		if v == Abandon {
			break
		}
		if !next.After(now) || next.Sub(ended) > p.GiveUp {
			t.Fatalf("attempt %d at %s: next %s; want later, within %s", n, now.Sub(ended), next.Sub(ended), p.GiveUp)
		}
		now = next
		if n > 1000 {
			t.Fatal("never abandoned")
		}
	}
}

func TestFailure(t *testing.T) {
	tests := []struct {
		status string
		body   string
		want   string
	}{
		{"500 Internal Server Error", "", "HTTP 500 Internal Server Error"},
		{"503 Service Unavailable", "  try\n\tlater \x00\x07 ", "HTTP 503 Service Unavailable: try later"},
		{"404 Not Found", strings.Repeat("é", 150), "HTTP 404 Not Found: " + strings.Repeat("é", 100) + "…"},
		{"302 Found", "\xff\xfe", "HTTP 302 Found"},
	}
	for _, tt := range tests {
		if got := Failure(tt.status, []byte(tt.body)); got != tt.want {
			t.Errorf("Failure(%q, %q) = %q; want %q", tt.status, tt.body, got, tt.want)
		}
	}
}

func TestShown(t *testing.T) {
	tests := []struct {
		url   string
		isDef bool
		want  string
	}{
		{"https://hooks.example/T0/B1/secret", false, "https://hooks.example/T0/B1/secret"},
		{"https://u:pw@hooks.example/x", false, "https://u:xxxxx@hooks.example/x"},
		{"https://u:pw@hooks.example:8443/T0/B1/secret?token=t", true, "https://hooks.example:8443/…"},
	}
	for _, tt := range tests {
		if got := Shown(tt.url, tt.isDef); got != tt.want {
			t.Errorf("Shown(%q, %v) = %q; want %q", tt.url, tt.isDef, got, tt.want)
		}
	}
}

func TestVerdictString(t *testing.T) {
	for v, want := range map[Verdict]string{Delivered: "delivered", Retry: "failing", Abandon: "abandoned", Verdict(9): "Verdict(9)"} {
		if got := v.String(); got != want {
			t.Errorf("Verdict(%d).String() = %q; want %q", int(v), got, want)
		}
	}
}
