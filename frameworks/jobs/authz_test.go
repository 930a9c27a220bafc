package jobs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"corral/internal/acl"
	"corral/internal/edge"
	"corral/internal/edge/edgetest"
)

// Principals of the guarded service: ops may do everything with jobs,
// alice everything with the jobs named team-a-…, eve nothing (but she
// authenticates).
var (
	asOps   = basicAuth("ops", "0ps")
	asAlice = basicAuth("alice", "al1ce")
	asEve   = basicAuth("eve", "ev3")
)

func basicAuth(principal, secret string) string {
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(principal+":"+secret))
}

const guardACLs = `{
	"permissive": false,
	"manage_jobs": [
		{"principals": {"values": ["ops"]}, "jobs": {"type": "ANY"}},
		{"principals": {"values": ["alice"]}, "jobs": {"values": ["team-a-"]}}
	],
	"view_jobs": [
		{"principals": {"values": ["ops"]}, "jobs": {"type": "ANY"}},
		{"principals": {"values": ["alice"]}, "jobs": {"values": ["team-a-"]}}
	]
}`

// startGuarded is startServer with a Trust that demands the credentials
// of ops, alice and eve and holds guardACLs, and the tweaks applied.
func startGuarded(t *testing.T, tweaks ...func(*Config)) *server {
	t.Helper()
	cs, err := edge.ParseCredentials([]byte("ops 0ps\nalice al1ce\neve ev3\n"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := acl.Parse([]byte(guardACLs))
	if err != nil {
		t.Fatal(err)
	}
	s := startServerWith(t, newDB(t), func(c *Config) {
		c.Trust = edge.Trust{Credentials: cs, ACLs: a}
		for _, tweak := range tweaks {
			tweak(c)
		}
	})
	eventually(t, "the service leads", s.svc.Leading)
	return s
}

// guardedJobs creates, as ops, team-a-nightly and team-b-nightly
// (scheduled), team-a-child (a child of team-a-nightly), team-a-after-b
// (a child of team-b-nightly) and team-b-leech (a child of
// team-a-nightly), and a queued run of each nightly job. It returns the
// runs' ids by job.
func guardedJobs(s *server) map[string]string {
	s.t.Helper()
	for _, j := range []string{
		`{"name": "team-a-nightly", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/P1D"}`,
		`{"name": "team-b-nightly", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/P1D"}`,
		`{"name": "team-a-child", "command": "true", "parents": ["team-a-nightly"]}`,
		`{"name": "team-a-after-b", "command": "true", "parents": ["team-b-nightly"]}`,
		`{"name": "team-b-leech", "command": "true", "parents": ["team-a-nightly"]}`,
	} {
		s.must(http.StatusCreated, "POST", "/v1/jobs", j, asOps)
	}
	runs := map[string]string{}
	for _, j := range []string{"team-a-nightly", "team-b-nightly"} {
		r := s.must(http.StatusCreated, "POST", "/v1/jobs/"+j+"/run", "", asOps)
		runs[j] = fmt.Sprint(int64(r.object(s.t)["id"].(float64)))
	}
	return runs
}

// wantDenied checks a 403 in the shape of the API asked (Chronos' under
// /v1/scheduler/) whose message starts with msg.
func wantDenied(t *testing.T, r response, msg string) {
	t.Helper()
	body := wantJSONError(t, r, http.StatusForbidden)
	if got, _ := body["message"].(string); !strings.HasPrefix(got, msg) {
		t.Errorf("%s message = %q; want %q", r, got, msg)
	}
	chronos := strings.HasPrefix(r.path, "/v1/scheduler/")
	if got, ok := body["status"]; chronos && got != "Forbidden" || !chronos && ok {
		t.Errorf("%s status = %v; want %s", r, got, map[bool]string{true: `"Forbidden" (Chronos' shape)`, false: "none (the native shape)"}[chronos])
	}
}

// denied is the message of a refusal of act on the job name to alice.
func denied(act acl.Action, name string) string {
	return (&acl.Denied{Action: act, Principal: "alice", Object: name}).Error()
}

// TestAuthorizationReads checks view_jobs: single jobs and runs refused
// (403) to who may not see them, whether they exist or not; lists and the
// graph filtered; nothing at all for a principal who may see no job.
func TestAuthorizationReads(t *testing.T) {
	s := startGuarded(t)
	runs := guardedJobs(s)

	everyone := []string{"team-a-after-b", "team-a-child", "team-a-nightly", "team-b-leech", "team-b-nightly"}
	teamA := []string{"team-a-after-b", "team-a-child", "team-a-nightly"}
	lists := []struct {
		name, path string
		names      func(t *testing.T, r response) []string
		ops, alice []string
	}{
		{"native jobs", "/v1/jobs", listed(""), everyone, teamA},
		{"Chronos jobs", "/v1/scheduler/jobs", listed(""), everyone, teamA},
		{"Chronos search", "/v1/scheduler/jobs/search?any=nightly", listed(""), []string{"team-a-nightly", "team-b-nightly"}, []string{"team-a-nightly"}},
		{"Chronos summary", "/v1/scheduler/jobs/summary", listed("jobs"), everyone, teamA},
		{"graph", "/v1/graph", listed("nodes"), everyone, teamA},
		{"graph's edges", "/v1/graph", edges, []string{
			"team-a-nightly→team-a-child", "team-a-nightly→team-b-leech", "team-b-nightly→team-a-after-b",
		}, []string{"team-a-nightly→team-a-child"}},
		{"Chronos summary's parents", "/v1/scheduler/jobs/summary", parentsIn("jobs"), []string{
			"team-a-after-b←team-b-nightly", "team-a-child←team-a-nightly", "team-b-leech←team-a-nightly",
		}, []string{"team-a-child←team-a-nightly"}},
		{"graph in DOT", "/v1/graph.dot", quoted, everyone, teamA},
		{"Chronos graph in DOT", "/v1/scheduler/graph/dot", quoted, everyone, teamA},
	}
	for _, tt := range lists {
		t.Run(tt.name, func(t *testing.T) {
			s := s.with(t)
			if got := tt.names(t, s.must(http.StatusOK, "GET", tt.path, "", asOps)); !slices.Equal(got, tt.ops) {
				t.Errorf("GET %s as ops = %v; want %v", tt.path, got, tt.ops)
			}
			if got := tt.names(t, s.must(http.StatusOK, "GET", tt.path, "", asAlice)); !slices.Equal(got, tt.alice) {
				t.Errorf("GET %s as alice = %v; want %v", tt.path, got, tt.alice)
			}
			wantDenied(t, s.do("GET", tt.path, "", asEve), `principal "eve" may not view_jobs`)
			wantJSONError(t, s.do("GET", tt.path, ""), http.StatusUnauthorized, "authentication required")
		})
	}

	singles := []struct {
		name, allowed, refused, job string
	}{
		{"native job", "/v1/jobs/team-a-nightly", "/v1/jobs/team-b-nightly", "team-b-nightly"},
		{"job that does not exist", "", "/v1/jobs/team-b-nothing", "team-b-nothing"},
		{"runs", "/v1/jobs/team-a-nightly/runs", "/v1/jobs/team-b-nightly/runs", "team-b-nightly"},
		{"run", "/v1/jobs/team-a-nightly/runs/" + runs["team-a-nightly"], "/v1/jobs/team-b-nightly/runs/" + runs["team-b-nightly"], "team-b-nightly"},
		{"Chronos job", "/v1/scheduler/job/team-a-nightly", "/v1/scheduler/job/team-b-nightly", "team-b-nightly"},
		{"Metronome job", "/metronome/v1/jobs/team-a-nightly", "/metronome/v1/jobs/team-b-nightly", "team-b-nightly"},
		{"Metronome job that does not exist", "", "/metronome/v1/jobs/team-b-nothing", "team-b-nothing"},
		{"Metronome schedules", "/metronome/v1/jobs/team-a-nightly/schedules", "/metronome/v1/jobs/team-b-nightly/schedules", "team-b-nightly"},
		{"Metronome run", "/metronome/v1/jobs/team-a-nightly/runs/" + runs["team-a-nightly"], "/metronome/v1/jobs/team-b-nightly/runs/" + runs["team-b-nightly"], "team-b-nightly"},
	}
	for _, tt := range singles {
		t.Run(tt.name, func(t *testing.T) {
			s := s.with(t)
			if tt.allowed != "" {
				s.must(http.StatusOK, "GET", tt.allowed, "", asAlice)
			}
			if r := s.do("GET", tt.refused, "", asOps); r.code == http.StatusForbidden {
				t.Errorf("%s as ops = 403; want it allowed", r)
			}
			wantDenied(t, s.do("GET", tt.refused, "", asAlice), denied(acl.ViewJobs, tt.job))
			wantJSONError(t, s.do("GET", tt.refused, ""), http.StatusUnauthorized, "authentication required")
		})
	}

	// Only authentication: what names no job.
	for _, path := range []string{"/v1/info", "/metrics", "/v1/scheduler/leader"} {
		s.must(http.StatusOK, "GET", path, "", asEve)
		wantJSONError(t, s.do("GET", path, ""), http.StatusUnauthorized, "authentication required")
	}
	s.must(http.StatusOK, "GET", "/ping", "")
}

// listed returns the "name" of each item of the list at key (the whole
// body when key is ""), sorted.
func listed(key string) func(t *testing.T, r response) []string {
	return func(t *testing.T, r response) []string {
		v := r.json(t)
		if key != "" {
			v = get(v, key)
		}
		out := names(v)
		slices.Sort(out)
		return out
	}
}

// edges returns the edges of a /v1/graph answer as "from→to", sorted.
func edges(t *testing.T, r response) []string {
	var out []string
	es, _ := get(r.json(t), "edges").([]any)
	for _, e := range es {
		out = append(out, fmt.Sprint(get(e, "from"), "→", get(e, "to")))
	}
	slices.Sort(out)
	return out
}

// parentsIn returns "job←parent" for each parent of each item of the list
// at key, sorted.
func parentsIn(key string) func(t *testing.T, r response) []string {
	return func(t *testing.T, r response) []string {
		var out []string
		list, _ := get(r.json(t), key).([]any)
		for _, j := range list {
			ps, _ := get(j, "parents").([]any)
			for _, p := range ps {
				out = append(out, fmt.Sprint(get(j, "name"), "←", p))
			}
		}
		slices.Sort(out)
		return out
	}
}

// quoted returns the jobs of guardedJobs a DOT graph names (in nodes or
// edges), sorted.
func quoted(t *testing.T, r response) []string {
	var out []string
	for _, name := range []string{"team-a-after-b", "team-a-child", "team-a-nightly", "team-b-leech", "team-b-nightly"} {
		if bytes.Contains(r.body, []byte(`"`+name+`"`)) {
			out = append(out, name)
		}
	}
	return out
}

// TestAuthorizationWrites checks manage_jobs in the native and the
// Chronos API: every change is refused (403) unless each job it touches
// is allowed (and each parent it names may be seen), and goes through when
// it is.
func TestAuthorizationWrites(t *testing.T) {
	s := startGuarded(t)
	runs := guardedJobs(s)
	s.must(http.StatusCreated, "POST", "/v1/jobs", `{"name": "team-a-base", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/P1D"}`, asOps)
	s.must(http.StatusCreated, "POST", "/v1/jobs", `{"name": "team-b-on-base", "command": "true", "parents": ["team-a-base"]}`, asOps)

	const (
		daily = `"schedule": "R/2030-01-01T00:00:00Z/P1D"`
	)
	tests := []struct {
		name, method, path, body string
		want                     int // for alice; 0: refused
		act                      acl.Action
		job                      string // refused: the job named in the 403
	}{
		{"create", "POST", "/v1/jobs", `{"name": "team-a-new", "command": "true", ` + daily + `}`, http.StatusCreated, "", ""},
		{"create elsewhere", "POST", "/v1/jobs", `{"name": "team-b-new", "command": "true", ` + daily + `}`, 0, acl.ManageJobs, "team-b-new"},
		{"create under a parent not seen", "POST", "/v1/jobs", `{"name": "team-a-sneak", "command": "true", "parents": ["team-b-nightly"]}`, 0, acl.ViewJobs, "team-b-nightly"},
		{"replace", "PUT", "/v1/jobs/team-a-nightly", `{"command": "false", ` + daily + `}`, http.StatusOK, "", ""},
		{"replace elsewhere", "PUT", "/v1/jobs/team-b-nightly", `{"command": "false", ` + daily + `}`, 0, acl.ManageJobs, "team-b-nightly"},
		{"run elsewhere", "POST", "/v1/jobs/team-b-nightly/run", "", 0, acl.ManageJobs, "team-b-nightly"},
		{"run", "POST", "/v1/jobs/team-a-nightly/run", "", http.StatusCreated, "", ""},
		{"stop elsewhere", "POST", "/v1/jobs/team-b-nightly/runs/" + runs["team-b-nightly"] + "/stop", "", 0, acl.ManageJobs, "team-b-nightly"},
		{"stop", "POST", "/v1/jobs/team-a-nightly/runs/" + runs["team-a-nightly"] + "/stop", "", http.StatusAccepted, "", ""},
		{"delete elsewhere", "DELETE", "/v1/jobs/team-b-nightly", "", 0, acl.ManageJobs, "team-b-nightly"},
		{"delete rewiring a child elsewhere", "DELETE", "/v1/jobs/team-a-base?force=true", "", 0, acl.ManageJobs, "team-b-on-base"},

		{"Chronos create", "POST", "/v1/scheduler/iso8601", `{"name": "team-a-c", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/P1D"}`, http.StatusNoContent, "", ""},
		{"Chronos create elsewhere", "POST", "/v1/scheduler/iso8601", `{"name": "team-b-c", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/P1D"}`, 0, acl.ManageJobs, "team-b-c"},
		{"Chronos replace elsewhere", "PUT", "/v1/scheduler/iso8601", `{"name": "team-b-nightly", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/P1D"}`, 0, acl.ManageJobs, "team-b-nightly"},
		{"Chronos dependency", "POST", "/v1/scheduler/dependency", `{"name": "team-a-d", "command": "true", "parents": ["team-a-nightly"]}`, http.StatusNoContent, "", ""},
		{"Chronos dependency elsewhere", "PUT", "/v1/scheduler/dependency", `{"name": "team-b-d", "command": "true", "parents": ["team-a-nightly"]}`, 0, acl.ManageJobs, "team-b-d"},
		{"Chronos dependency on a parent not seen", "POST", "/v1/scheduler/dependency", `{"name": "team-a-e", "command": "true", "parents": ["team-b-nightly"]}`, 0, acl.ViewJobs, "team-b-nightly"},
		{"Chronos run now", "PUT", "/v1/scheduler/job/team-a-nightly", "", http.StatusNoContent, "", ""},
		{"Chronos run now elsewhere", "PUT", "/v1/scheduler/job/team-b-nightly", "", 0, acl.ManageJobs, "team-b-nightly"},
		{"Chronos success", "PUT", "/v1/scheduler/job/success/team-a-nightly", "", http.StatusOK, "", ""},
		{"Chronos success elsewhere", "PUT", "/v1/scheduler/job/success/team-b-nightly", "", 0, acl.ManageJobs, "team-b-nightly"},
		{"Chronos kill", "DELETE", "/v1/scheduler/task/kill/team-a-nightly", "", http.StatusNoContent, "", ""},
		{"Chronos kill elsewhere", "DELETE", "/v1/scheduler/task/kill/team-b-nightly", "", 0, acl.ManageJobs, "team-b-nightly"},
		{"Chronos delete elsewhere", "DELETE", "/v1/scheduler/job/team-b-nightly", "", 0, acl.ManageJobs, "team-b-nightly"},
		{"Chronos delete rewiring a child elsewhere", "DELETE", "/v1/scheduler/job/team-a-base", "", 0, acl.ManageJobs, "team-b-on-base"},
		{"Chronos delete", "DELETE", "/v1/scheduler/job/team-a-c", "", http.StatusNoContent, "", ""},
		{"Metronome create", "POST", "/metronome/v1/jobs", `{"id": "team-a-m", "run": {"cmd": "true"}}`, http.StatusCreated, "", ""},
		{"Metronome create elsewhere", "POST", "/metronome/v1/jobs", `{"id": "team-b-m", "run": {"cmd": "true"}}`, 0, acl.ManageJobs, "team-b-m"},
		{"Metronome replace elsewhere", "PUT", "/metronome/v1/jobs/team-b-nightly", `{"id": "team-b-nightly", "run": {"cmd": "true"}}`, 0, acl.ManageJobs, "team-b-nightly"},
		{"Metronome schedule", "POST", "/metronome/v1/jobs/team-a-m/schedules", `{"id": "daily", "cron": "0 2 * * *"}`, http.StatusCreated, "", ""},
		{"Metronome schedule elsewhere", "PUT", "/metronome/v1/jobs/team-b-nightly/schedules/default", `{"id": "default", "cron": "0 2 * * *"}`, 0, acl.ManageJobs, "team-b-nightly"},
		{"Metronome run elsewhere", "POST", "/metronome/v1/jobs/team-b-nightly/runs", "", 0, acl.ManageJobs, "team-b-nightly"},
		{"Metronome stop elsewhere", "POST", "/metronome/v1/jobs/team-b-nightly/runs/" + runs["team-b-nightly"] + "/actions/stop", "", 0, acl.ManageJobs, "team-b-nightly"},
		{"Metronome delete elsewhere", "DELETE", "/metronome/v1/jobs/team-b-nightly", "", 0, acl.ManageJobs, "team-b-nightly"},
		{"Metronome delete", "DELETE", "/metronome/v1/jobs/team-a-m", "", http.StatusOK, "", ""},
		{"delete", "DELETE", "/v1/jobs/team-a-new", "", http.StatusOK, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := s.with(t)
			wantJSONError(t, s.do(tt.method, tt.path, tt.body), http.StatusUnauthorized, "authentication required")
			wantDenied(t, s.do(tt.method, tt.path, tt.body, asEve), `principal "eve" may not manage_jobs`)
			if tt.want == 0 {
				wantDenied(t, s.do(tt.method, tt.path, tt.body, asAlice), denied(tt.act, tt.job))
				return
			}
			s.must(tt.want, tt.method, tt.path, tt.body, asAlice)
		})
	}

	// Without force, the refusal to delete a job with children names only
	// the children alice may see.
	r := s.do("DELETE", "/v1/jobs/team-a-base", "", asAlice)
	body := wantJSONError(t, r, http.StatusConflict, "and 1 you may not view")
	if strings.Contains(string(r.body), "team-b") {
		t.Errorf("%s = %s; want no job of team-b named", r, r.body)
	}
	if got := fmt.Sprint(body["children"]); got != "[]" {
		t.Errorf("%s children = %s; want []", r, got)
	}

	// Nothing refused changed.
	got := listed("")(t, s.must(http.StatusOK, "GET", "/v1/jobs", "", asOps))
	got = slices.DeleteFunc(got, func(n string) bool { return strings.HasPrefix(n, "team-a-") })
	if want := []string{"team-b-leech", "team-b-nightly", "team-b-on-base"}; !slices.Equal(got, want) {
		t.Errorf("jobs outside team-a- = %v; want %v", got, want)
	}
	if got := get(s.must(http.StatusOK, "GET", "/v1/jobs/team-b-nightly", "", asOps).json(t), "command"); got != "true" {
		t.Errorf("command of team-b-nightly = %v; want it unchanged, \"true\"", got)
	}
	for _, r := range s.must(http.StatusOK, "GET", "/v1/jobs/team-b-nightly/runs", "", asOps).list(t) {
		if get(r, "trigger") != "manual" || get(r, "state") != "QUEUED" {
			t.Errorf("a run of team-b-nightly is %v %v; want only the one queued run ops started", get(r, "trigger"), get(r, "state"))
		}
	}
}

// TestAuthorizationEvents checks that the event stream leaves out the
// events naming jobs the principal may not see, and is refused to one
// who may see none.
func TestAuthorizationEvents(t *testing.T) {
	s := startGuarded(t)
	wantDenied(t, s.refusedStream("/v1/events", asEve), `principal "eve" may not view_jobs`)
	wantJSONError(t, s.refusedStream("/v1/events"), http.StatusUnauthorized, "authentication required")

	alice, ops := s.stream(asAlice), s.stream(asOps)
	for _, ch := range []<-chan frame{alice, ops} {
		if f := nextFrame(t, ch); f.event != "event_stream_attached" {
			t.Fatalf("first event = %s; want event_stream_attached", f.event)
		}
	}
	// team-b-e's events come first, then team-a-e's: alice's stream shows
	// only the latter.
	s.must(http.StatusCreated, "POST", "/v1/jobs", `{"name": "team-b-e", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/P1D"}`, asOps)
	s.must(http.StatusCreated, "POST", "/v1/jobs/team-b-e/run", "", asOps)
	s.must(http.StatusCreated, "POST", "/v1/jobs", `{"name": "team-a-e", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/P1D"}`, asOps)
	s.must(http.StatusCreated, "POST", "/v1/jobs/team-a-e/run", "", asOps)
	for seen := map[string]bool{}; !seen["job_saved"] || !seen["run_queued"]; {
		f := nextFrame(t, alice)
		if strings.Contains(f.data, "team-b-") {
			t.Fatalf("alice's stream has %s %s; want no event naming team-b-e", f.event, f.data)
		}
		if strings.Contains(f.data, `"team-a-e"`) {
			seen[f.event] = true
		}
	}
	// Who may see every job sees them all.
	for f := nextFrame(t, ops); !strings.Contains(f.data, `"team-b-e"`); f = nextFrame(t, ops) {
	}
}

// stream connects to /v1/events with the given Authorization header and
// returns a channel of its frames, closed when the stream ends.
func (s *server) stream(auth string) <-chan frame {
	s.t.Helper()
	ctx, cancel := context.WithCancel(s.t.Context())
	s.t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", s.base+"/v1/events", nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	k, v, _ := strings.Cut(auth, ":")
	req.Header.Set(k, strings.TrimSpace(v))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("GET /v1/events: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		s.t.Fatalf("GET /v1/events = %d; want 200", resp.StatusCode)
	}
	ch := make(chan frame, 256)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var f frame
		for sc.Scan() {
			switch line := sc.Text(); {
			case line == "":
				if f.event != "" {
					select {
					case ch <- f:
					case <-ctx.Done():
						return
					}
				}
				f = frame{}
			case strings.HasPrefix(line, "event: "):
				f.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				f.data += strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return ch
}

// TestEveryRouteIsGuarded drives every route of the native and the
// Chronos API as an anonymous caller, with a wrong secret, as eve
// (allowed no job) and as ops (allowed every job); see edgetest. The
// lists are "guarded" for it: a principal allowed no job is refused them
// (403), and a principal allowed some gets them filtered
// (TestAuthorizationReads). A route added without an entry here fails the
// test.
func TestEveryRouteIsGuarded(t *testing.T) {
	s := startGuarded(t)
	guarded := edgetest.Case{Access: edgetest.Guarded}
	authenticated := edgetest.Case{Access: edgetest.Authenticated}
	job := `{"name": "x", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/P1D"}`
	table := map[string]edgetest.Case{
		"GET /ping":                {Access: edgetest.Open},
		"GET /health":              {Access: edgetest.Open},
		"GET /metrics":             authenticated,
		"GET /v1/info":             authenticated,
		"GET /v1/scheduler/leader": authenticated,

		"GET /v1/jobs":                        guarded,
		"POST /v1/jobs":                       guarded,
		"GET /v1/jobs/{name}":                 guarded,
		"PUT /v1/jobs/{name}":                 guarded,
		"DELETE /v1/jobs/{name}":              guarded,
		"GET /v1/jobs/{name}/runs":            guarded,
		"GET /v1/jobs/{name}/runs/{id}":       guarded,
		"POST /v1/jobs/{name}/run":            guarded,
		"POST /v1/jobs/{name}/runs/{id}/stop": guarded,
		"GET /v1/graph":                       guarded,
		"GET /v1/graph.dot":                   guarded,
		"GET /v1/events":                      guarded,

		"POST /v1/scheduler/iso8601":            {Access: edgetest.Guarded, Body: job},
		"PUT /v1/scheduler/iso8601":             {Access: edgetest.Guarded, Body: job},
		"POST /v1/scheduler/dependency":         guarded,
		"PUT /v1/scheduler/dependency":          guarded,
		"GET /v1/scheduler/jobs":                guarded,
		"GET /v1/scheduler/jobs/search":         guarded,
		"GET /v1/scheduler/jobs/summary":        guarded,
		"GET /v1/scheduler/job/{name}":          guarded,
		"PUT /v1/scheduler/job/{name}":          guarded,
		"DELETE /v1/scheduler/job/{name}":       guarded,
		"PUT /v1/scheduler/job/success/{name}":  guarded,
		"DELETE /v1/scheduler/task/kill/{name}": guarded,
		"GET /v1/scheduler/graph/dot":           guarded,
	}
	for k, c := range metronomeMatrix() {
		table[strings.Replace(k, " ", " "+metronomePrefix, 1)] = c
	}
	edgetest.Check(t, s.base, http.DefaultClient, edgetest.Routes(t, s.svc.routes()), table,
		edgetest.Who{Allowed: [2]string{"ops", "0ps"}, Denied: [2]string{"eve", "ev3"}})
}

// metronomeMatrix is what the routes of the Metronome API demand, by
// their patterns on the Metronome listener.
func metronomeMatrix() map[string]edgetest.Case {
	guarded := edgetest.Case{Access: edgetest.Guarded}
	return map[string]edgetest.Case{
		"GET /v1/jobs":                                    guarded,
		"POST /v1/jobs":                                   {Access: edgetest.Guarded, Body: `{"id": "x", "run": {"cmd": "true"}}`},
		"GET /v1/jobs/{jobId}":                            guarded,
		"PUT /v1/jobs/{jobId}":                            guarded,
		"DELETE /v1/jobs/{jobId}":                         guarded,
		"GET /v1/jobs/{jobId}/schedules":                  guarded,
		"POST /v1/jobs/{jobId}/schedules":                 guarded,
		"GET /v1/jobs/{jobId}/schedules/{scheduleId}":     guarded,
		"PUT /v1/jobs/{jobId}/schedules/{scheduleId}":     guarded,
		"DELETE /v1/jobs/{jobId}/schedules/{scheduleId}":  guarded,
		"GET /v1/jobs/{jobId}/runs":                       guarded,
		"POST /v1/jobs/{jobId}/runs":                      guarded,
		"GET /v1/jobs/{jobId}/runs/{runId}":               guarded,
		"POST /v1/jobs/{jobId}/runs/{runId}/actions/stop": guarded,
	}
}

// TestMetronomeListenerIsGuarded drives every route of the Metronome
// API on its own listener (--metronome_http) through the same matrix:
// it stands on the same edge as the main listener.
func TestMetronomeListenerIsGuarded(t *testing.T) {
	s := startGuarded(t, func(c *Config) { c.MetronomeListen = "127.0.0.1:0" })
	base := "http://" + s.svc.MetronomeAddr().String()
	var routes []edgetest.Route
	for _, r := range edgetest.Routes(t, s.svc.routes()) {
		if p, ok := strings.CutPrefix(r.Pattern, metronomePrefix); ok {
			routes = append(routes, edgetest.Route{Method: r.Method, Pattern: p})
		}
	}
	edgetest.Check(t, base, http.DefaultClient, routes, metronomeMatrix(),
		edgetest.Who{Allowed: [2]string{"ops", "0ps"}, Denied: [2]string{"eve", "ev3"}})
	// What is not the Metronome API is not served there.
	for _, path := range []string{"/v1/scheduler/jobs", "/v1/graph", "/metrics", "/v1/events"} {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.SetBasicAuth("ops", "0ps")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s on the Metronome listener = %d; want 404", path, resp.StatusCode)
		}
	}
}

// refusedStream requests the event stream at path expecting a refusal,
// and returns it; a stream served instead (200) fails the test at once
// rather than being read forever.
func (s *server) refusedStream(path string, headers ...string) response {
	s.t.Helper()
	req, err := http.NewRequestWithContext(s.t.Context(), "GET", s.base+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		s.t.Fatalf("GET %s with %v = 200, the stream; want it refused", path, headers)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("GET %s: reading body: %v", path, err)
	}
	return response{method: "GET", path: path, code: resp.StatusCode, header: resp.Header, body: b}
}
