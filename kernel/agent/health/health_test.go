package health

import (
	"math"
	"strings"
	"testing"
	"time"

	"corral/kernel/mesos"
)

func f(v float64) *mesos.Float { x := mesos.Float(v); return &x }
func n(v int64) *mesos.Int     { x := mesos.Int(v); return &x }

func cmd(v string) *mesos.CommandInfo { return &mesos.CommandInfo{Value: v} }

func TestParseDefaults(t *testing.T) {
	c, err := Parse(&mesos.HealthCheck{Type: "COMMAND", Command: cmd("true")})
	if err != nil {
		t.Fatalf("Parse(COMMAND true) = %v", err)
	}
	if c.Kind != Command || c.Delay != 15*time.Second || c.Interval != 10*time.Second || c.Timeout != 20*time.Second ||
		c.Grace != 10*time.Second || c.MaxFailures != 3 {
		t.Errorf("Parse(COMMAND true) = %+v; want Mesos defaults", c)
	}
	c, err = Parse(&mesos.HealthCheck{Type: "http", HTTP: &mesos.HTTPCheckInfo{Port: 8080, Path: "ping"},
		DelaySeconds: f(0), IntervalSeconds: f(0.25), TimeoutSeconds: f(1.5), GracePeriodSeconds: f(0), ConsecutiveFailures: n(0)})
	if err != nil {
		t.Fatalf("Parse(HTTP) = %v", err)
	}
	if c.Kind != HTTP || c.Scheme != "http" || c.Path != "/ping" || c.Port != 8080 || c.Delay != 0 ||
		c.Interval != 250*time.Millisecond || c.Timeout != 1500*time.Millisecond || c.Grace != 0 || c.MaxFailures != 0 {
		t.Errorf("Parse(HTTP) = %+v", c)
	}
}

func TestParseInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		hc   mesos.HealthCheck
		want string // in the error
	}{
		{"unknown type", mesos.HealthCheck{Type: "GRPC"}, "type"},
		{"no type", mesos.HealthCheck{Command: cmd("true")}, "type"},
		{"command missing", mesos.HealthCheck{Type: "COMMAND"}, "command"},
		{"command empty", mesos.HealthCheck{Type: "COMMAND", Command: cmd("  ")}, "command.value"},
		{"command uris", mesos.HealthCheck{Type: "COMMAND", Command: &mesos.CommandInfo{Value: "x", URIs: []mesos.CommandURI{{Value: "http://x"}}}}, "command.uris"},
		{"command user", mesos.HealthCheck{Type: "COMMAND", Command: &mesos.CommandInfo{Value: "x", User: "nobody"}}, "command.user"},
		{"http missing", mesos.HealthCheck{Type: "HTTP"}, "http"},
		{"http port 0", mesos.HealthCheck{Type: "HTTP", HTTP: &mesos.HTTPCheckInfo{}}, "http.port"},
		{"http port too big", mesos.HealthCheck{Type: "HTTP", HTTP: &mesos.HTTPCheckInfo{Port: 70000}}, "http.port"},
		{"http scheme", mesos.HealthCheck{Type: "HTTP", HTTP: &mesos.HTTPCheckInfo{Port: 80, Scheme: "ftp"}}, "http.scheme"},
		{"http path", mesos.HealthCheck{Type: "HTTP", HTTP: &mesos.HTTPCheckInfo{Port: 80, Path: "/a b"}}, "http.path"},
		{"http statuses", mesos.HealthCheck{Type: "HTTP", HTTP: &mesos.HTTPCheckInfo{Port: 80, Statuses: []mesos.Int{200, 42}}}, "http.statuses"},
		{"tcp missing", mesos.HealthCheck{Type: "TCP"}, "tcp"},
		{"tcp port 0", mesos.HealthCheck{Type: "TCP", TCP: &mesos.TCPCheckInfo{}}, "tcp.port"},
		{"negative delay", mesos.HealthCheck{Type: "TCP", TCP: &mesos.TCPCheckInfo{Port: 1}, DelaySeconds: f(-1)}, "delay_seconds"},
		{"negative interval", mesos.HealthCheck{Type: "TCP", TCP: &mesos.TCPCheckInfo{Port: 1}, IntervalSeconds: f(-1)}, "interval_seconds"},
		{"zero interval", mesos.HealthCheck{Type: "TCP", TCP: &mesos.TCPCheckInfo{Port: 1}, IntervalSeconds: f(0)}, "interval_seconds"},
		{"negative timeout", mesos.HealthCheck{Type: "TCP", TCP: &mesos.TCPCheckInfo{Port: 1}, TimeoutSeconds: f(-0.5)}, "timeout_seconds"},
		{"negative grace", mesos.HealthCheck{Type: "TCP", TCP: &mesos.TCPCheckInfo{Port: 1}, GracePeriodSeconds: f(-3)}, "grace_period_seconds"},
		{"infinite grace", mesos.HealthCheck{Type: "TCP", TCP: &mesos.TCPCheckInfo{Port: 1}, GracePeriodSeconds: f(math.Inf(1))}, "grace_period_seconds"},
		{"huge delay", mesos.HealthCheck{Type: "TCP", TCP: &mesos.TCPCheckInfo{Port: 1}, DelaySeconds: f(1e12)}, "delay_seconds"},
		{"negative failures", mesos.HealthCheck{Type: "TCP", TCP: &mesos.TCPCheckInfo{Port: 1}, ConsecutiveFailures: n(-1)}, "consecutive_failures"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(&tc.hc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%+v) = %v; want an error naming %q", tc.hc, err, tc.want)
			}
		})
	}
}

func TestArgvAndPasses(t *testing.T) {
	no := false
	c := Check{Command: &mesos.CommandInfo{Shell: &no, Value: "/bin/test", Arguments: []string{"test", "-f", "x"}}}
	if got := strings.Join(c.Argv(), " "); got != "/bin/test -f x" {
		t.Errorf("Argv() = %q; want %q", got, "/bin/test -f x")
	}
	c = Check{Command: cmd("exit 0")}
	if got := strings.Join(c.Argv(), "|"); got != "/bin/sh|-c|exit 0" {
		t.Errorf("Argv() = %q", got)
	}
	for _, tc := range []struct {
		statuses []int
		code     int
		want     bool
	}{
		{nil, 200, true}, {nil, 302, true}, {nil, 399, true}, {nil, 400, false}, {nil, 199, false}, {nil, 503, false},
		{[]int{200, 404}, 404, true}, {[]int{200, 404}, 301, false},
	} {
		if got := (Check{Statuses: tc.statuses}).Passes(tc.code); got != tc.want {
			t.Errorf("Check{Statuses: %v}.Passes(%d) = %v; want %v", tc.statuses, tc.code, got, tc.want)
		}
	}
}

// step is one scripted probe result and what Observe must decide.
type step struct {
	at      time.Duration // since the task's start
	ok      bool
	changed bool
	status  Status
	ignored bool
	kill    bool
}

func TestTracker(t *testing.T) {
	const s = time.Second
	for _, tc := range []struct {
		name    string
		grace   time.Duration
		max     int
		initial Status
		steps   []step
	}{
		{"healthy then killed after three failures", 0, 3, Unknown, []step{
			{at: 1 * s, ok: true, changed: true, status: Healthy},
			{at: 2 * s, ok: true, status: Healthy},
			{at: 3 * s, changed: true, status: Unhealthy},
			{at: 4 * s, status: Unhealthy},
			{at: 5 * s, status: Unhealthy, kill: true},
			{at: 6 * s, ok: true, status: Unhealthy, ignored: true}, // nothing after the kill
		}},
		{"a success resets the count", 0, 2, Unknown, []step{
			{at: 1 * s, changed: true, status: Unhealthy},
			{at: 2 * s, ok: true, changed: true, status: Healthy},
			{at: 3 * s, changed: true, status: Unhealthy},
			{at: 4 * s, status: Unhealthy, kill: true},
		}},
		{"grace ignores failures until the first success", 10 * s, 1, Unknown, []step{
			{at: 1 * s, status: Unknown, ignored: true},
			{at: 9 * s, status: Unknown, ignored: true},
			{at: 10 * s, changed: true, status: Unhealthy, kill: true},
		}},
		{"grace ends at the first success", 10 * s, 2, Unknown, []step{
			{at: 1 * s, status: Unknown, ignored: true},
			{at: 2 * s, ok: true, changed: true, status: Healthy},
			{at: 3 * s, changed: true, status: Unhealthy},
			{at: 4 * s, status: Unhealthy, kill: true},
		}},
		{"zero never kills", 0, 0, Unknown, []step{
			{at: 1 * s, changed: true, status: Unhealthy},
			{at: 2 * s, status: Unhealthy},
			{at: 3 * s, status: Unhealthy},
			{at: 1000 * s, status: Unhealthy},
			{at: 1001 * s, ok: true, changed: true, status: Healthy},
		}},
		{"recovered healthy: no grace, no repeat", 10 * s, 3, Healthy, []step{
			{at: 1 * s, ok: true, status: Healthy},
			{at: 2 * s, changed: true, status: Unhealthy},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Unix(1000, 0)
			tr := NewTracker(Check{Grace: tc.grace, MaxFailures: tc.max}, start, tc.initial)
			for i, st := range tc.steps {
				d := tr.Observe(Result{OK: st.ok, Detail: "detail"}, start.Add(st.at))
				if d.Changed != st.changed || d.Status != st.status || d.Ignored != st.ignored || d.Kill != st.kill {
					t.Fatalf("step %d: Observe(ok=%v at %v) = %+v; want changed=%v status=%v ignored=%v kill=%v",
						i, st.ok, st.at, d, st.changed, st.status, st.ignored, st.kill)
				}
				if d.Kill && d.Message != KillMessage(tc.max, "detail") {
					t.Errorf("step %d: kill message %q", i, d.Message)
				}
				if d.Status != tr.Status() {
					t.Errorf("step %d: Status() = %v; decision says %v", i, tr.Status(), d.Status)
				}
			}
		})
	}
}
