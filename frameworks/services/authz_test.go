package services

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"corral/frameworks/services/store"
	"corral/internal/acl"
	"corral/internal/edge"
	"corral/internal/edge/edgetest"
	"corral/kernel/mesos"
)

// Principals of the guarded service: ops may do everything with apps,
// alice everything under /team-a, eve nothing (but she authenticates).
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
	"manage_apps": [
		{"principals": {"values": ["ops"]}, "apps": {"type": "ANY"}},
		{"principals": {"values": ["alice"]}, "apps": {"values": ["/team-a"]}}
	],
	"view_apps": [
		{"principals": {"values": ["ops"]}, "apps": {"type": "ANY"}},
		{"principals": {"values": ["alice"]}, "apps": {"values": ["/team-a"]}}
	]
}`

// startGuarded is startServer with a Trust that demands the credentials
// of ops, alice and eve and holds guardACLs.
func startGuarded(t *testing.T) *server {
	t.Helper()
	cs, err := edge.ParseCredentials([]byte("ops 0ps\nalice al1ce\neve ev3\n"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := acl.Parse([]byte(guardACLs))
	if err != nil {
		t.Fatal(err)
	}
	return startTrusted(t, func(string) edge.Trust { return edge.Trust{Credentials: cs, ACLs: a} })
}

// startTrusted starts the services API, without a master, on the edge
// with the Trust trust returns for its listen address.
func startTrusted(t *testing.T, trust func(listen string) edge.Trust) *server {
	t.Helper()
	db := newDB(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Masters = []string{"http://127.0.0.1:1"}
	cfg.DB, cfg.Listen, cfg.Advertise = db, ln.Addr().String(), "http://"+ln.Addr().String()
	cfg.ShutdownGrace = time.Second
	cfg.Trust = trust(cfg.Listen)
	svc, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v", err)
		}
	})
	select {
	case <-svc.Ready():
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the service did not become ready in 20s")
	}
	st, err := store.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return &server{t: t, db: db, base: "http://" + ln.Addr().String(), svc: svc, store: st}
}

// guardedState creates, as ops, under each of /team-a and /team-b an app
// "web" with a running task and an app "q" waiting for offers (with a
// deployment and a queue entry). It returns the tasks and the deployments
// of the waiting apps by team.
func guardedState(s *server) (tasks, deployments map[string]string) {
	s.t.Helper()
	tasks, deployments = map[string]string{}, map[string]string{}
	for _, team := range []string{"team-a", "team-b"} {
		s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/`+team+`/web","cmd":"sleep 1","instances":1}`, asOps)
		tasks[team] = s.seedTask("/"+team+"/web", "h-"+team, mesos.TaskRunning)
		r := s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/`+team+`/q","cmd":"sleep 1","instances":1,"backoffSeconds":600}`, asOps)
		deployments[team] = r.header.Get("Marathon-Deployment-Id")
	}
	eventually(s.t, "the deployments of the apps with tasks end", func() bool {
		for _, d := range s.must(http.StatusOK, "GET", "/v2/deployments", "", asOps).json(s.t).([]any) {
			if a := get(d, "affectedApps", 0); a == "/team-a/web" || a == "/team-b/web" {
				return false
			}
		}
		return true
	})
	return tasks, deployments
}

// denied is the message of a refusal of act on object to alice.
func denied(act acl.Action, object string) string {
	return (&acl.Denied{Action: act, Principal: "alice", Object: object}).Error()
}

// TestAuthorizationReads checks view_apps: single apps refused (403) to
// who may not see them, whether they exist or not; lists filtered; no
// list at all for a principal who may see no app.
func TestAuthorizationReads(t *testing.T) {
	s := startGuarded(t)
	tasks, _ := guardedState(s)

	// appIDs are the field (a dotted path) of each item of the list at
	// key of a GET answer, sorted.
	appIDs := func(r response, key string, field string) []string {
		var out []string
		v := r.json(s.t)
		if key != "" {
			v = get(v, key)
		}
		list, _ := v.([]any)
		for _, x := range list {
			var path []any
			for _, k := range strings.Split(field, ".") {
				path = append(path, k)
			}
			out = append(out, anyString(get(x, path...)))
		}
		slices.Sort(out)
		return out
	}
	lists := []struct {
		name, path, key, field string
		ops, alice             []string
	}{
		{"apps", "/v2/apps", "apps", "id",
			[]string{"/team-a/q", "/team-a/web", "/team-b/q", "/team-b/web"}, []string{"/team-a/q", "/team-a/web"}},
		{"apps of a group", "/v2/apps/team-a/*", "*", "id", []string{"/team-a/q", "/team-a/web"}, []string{"/team-a/q", "/team-a/web"}},
		{"tasks", "/v2/tasks", "tasks", "appId", []string{"/team-a/web", "/team-b/web"}, []string{"/team-a/web"}},
		{"deployments", "/v2/deployments", "", "affectedApps", []string{"/team-a/q", "/team-b/q"}, []string{"/team-a/q"}},
		// Running and ended: the starts of the web apps succeeded.
		{"deployment history", "/v2/deployments?history=true", "", "affectedApps",
			[]string{"/team-a/q", "/team-a/web", "/team-b/q", "/team-b/web"}, []string{"/team-a/q", "/team-a/web"}},
		{"queue", "/v2/queue", "queue", "app.id", []string{"/team-a/q", "/team-b/q"}, []string{"/team-a/q"}},
		{"groups", "/v2/groups", "groups", "id", []string{"/team-a", "/team-b"}, []string{"/team-a"}},
	}
	for _, tt := range lists {
		t.Run(tt.name, func(t *testing.T) {
			s := s.with(t)
			if got := appIDs(s.must(http.StatusOK, "GET", tt.path, "", asOps), tt.key, tt.field); !slices.Equal(got, tt.ops) {
				t.Errorf("GET %s as ops = %v; want %v", tt.path, got, tt.ops)
			}
			if got := appIDs(s.must(http.StatusOK, "GET", tt.path, "", asAlice), tt.key, tt.field); !slices.Equal(got, tt.alice) {
				t.Errorf("GET %s as alice = %v; want %v", tt.path, got, tt.alice)
			}
			wantError(t, s.do("GET", tt.path, "", asEve), http.StatusForbidden, `principal "eve" may not view_apps`)
			wantError(t, s.do("GET", tt.path, ""), http.StatusUnauthorized, "authentication required…")
		})
	}

	singles := []struct {
		name, allowed, refused, object string
	}{
		{"app", "/v2/apps/team-a/web", "/v2/apps/team-b/web", "/team-b/web"},
		{"app that does not exist", "", "/v2/apps/team-b/nothing", "/team-b/nothing"},
		{"app's tasks", "/v2/apps/team-a/web/tasks", "/v2/apps/team-b/web/tasks", "/team-b/web"},
		{"app's task", "/v2/apps/team-a/web/tasks/" + tasks["team-a"], "/v2/apps/team-b/web/tasks/" + tasks["team-b"], "/team-b/web"},
		{"app's versions", "/v2/apps/team-a/web/versions", "/v2/apps/team-b/web/versions", "/team-b/web"},
		{"group", "/v2/groups/team-a", "/v2/groups/team-b", "/team-b"},
		{"group's apps", "/v2/apps/team-a/*", "/v2/apps/team-b/*", "/team-b"},
	}
	for _, tt := range singles {
		t.Run(tt.name, func(t *testing.T) {
			s := s.with(t)
			if tt.allowed != "" {
				s.must(http.StatusOK, "GET", tt.allowed, "", asAlice)
			}
			s.must(map[bool]int{true: http.StatusOK, false: http.StatusNotFound}[tt.allowed != ""], "GET", tt.refused, "", asOps)
			wantError(t, s.do("GET", tt.refused, "", asAlice), http.StatusForbidden, denied(acl.ViewApps, tt.object))
			wantError(t, s.do("GET", tt.refused, ""), http.StatusUnauthorized, "authentication required…")
		})
	}
	// A version is refused before it is looked up.
	v := anyString(get(s.must(http.StatusOK, "GET", "/v2/apps/team-b/web/versions", "", asOps).json(t), "versions", 0))
	wantError(t, s.do("GET", "/v2/apps/team-b/web/versions/"+v, "", asAlice), http.StatusForbidden, denied(acl.ViewApps, "/team-b/web"))
	s.must(http.StatusOK, "GET", "/v2/apps/team-a/web/versions/"+anyString(get(s.must(http.StatusOK, "GET", "/v2/apps/team-a/web/versions", "", asAlice).json(t), "versions", 0)), "", asAlice)

	// Only authentication: what names no app.
	for _, path := range []string{"/v2/info", "/v2/leader", "/metrics", "/metrics/prometheus"} {
		s.must(http.StatusOK, "GET", path, "", asEve)
		wantError(t, s.do("GET", path, ""), http.StatusUnauthorized, "authentication required…")
	}
	s.must(http.StatusOK, "GET", "/ping", "")
}

// anyString formats a decoded JSON value.
func anyString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		var parts []string
		for _, e := range x {
			parts = append(parts, anyString(e))
		}
		return strings.Join(parts, ",")
	case nil:
		return ""
	}
	return "?"
}

// TestAuthorizationWrites checks manage_apps: every change is refused
// (403) unless each app it touches is allowed, and goes through when it
// is.
func TestAuthorizationWrites(t *testing.T) {
	s := startGuarded(t)
	tasks, deployments := guardedState(s)

	tests := []struct {
		name, method, path, body string
		want                     int    // for alice; 0: refused
		object                   string // refused: the app named in the 403
	}{
		{"create", "POST", "/v2/apps", `{"id":"/team-a/new","cmd":"sleep 1","instances":0}`, http.StatusCreated, ""},
		{"create elsewhere", "POST", "/v2/apps", `{"id":"/team-b/new","cmd":"sleep 1","instances":0}`, 0, "/team-b/new"},
		{"create at a prefix that is not a path", "POST", "/v2/apps", `{"id":"/team-ab","cmd":"sleep 1","instances":0}`, 0, "/team-ab"},
		{"replace", "PUT", "/v2/apps/team-a/web?force=true", `{"cmd":"sleep 2","instances":1}`, http.StatusOK, ""},
		{"replace elsewhere", "PUT", "/v2/apps/team-b/web", `{"cmd":"sleep 2","instances":0}`, 0, "/team-b/web"},
		{"create by PUT elsewhere", "PUT", "/v2/apps/team-b/other", `{"cmd":"sleep 2","instances":0}`, 0, "/team-b/other"},
		{"patch elsewhere", "PATCH", "/v2/apps/team-b/web", `{"cmd":"sleep 3"}`, 0, "/team-b/web"},
		{"bulk", "PUT", "/v2/apps?force=true", `[{"id":"/team-a/web","cmd":"sleep 4","instances":1}]`, http.StatusOK, ""},
		{"bulk with an app elsewhere", "PATCH", "/v2/apps", `[{"id":"/team-a/web","cmd":"sleep 5"},{"id":"/team-b/web","cmd":"sleep 5"}]`, 0, "/team-b/web"},
		{"restart", "POST", "/v2/apps/team-a/web/restart?force=true", "", http.StatusOK, ""},
		{"restart elsewhere", "POST", "/v2/apps/team-b/web/restart", "", 0, "/team-b/web"},
		{"kill a task elsewhere", "DELETE", "/v2/apps/team-b/web/tasks/" + tasks["team-b"], "", 0, "/team-b/web"},
		{"kill and scale elsewhere", "DELETE", "/v2/apps/team-b/web/tasks?scale=true", "", 0, "/team-b/web"},
		{"kill tasks by id elsewhere", "POST", "/v2/tasks/delete", `{"ids":["` + tasks["team-a"] + `","` + tasks["team-b"] + `"]}`, 0, "/team-b/web"},
		{"kill a task by id", "POST", "/v2/tasks/delete", `{"ids":["` + tasks["team-a"] + `"]}`, http.StatusOK, ""},
		{"reset a delay elsewhere", "DELETE", "/v2/queue/team-b/q/delay", "", 0, "/team-b/q"},
		{"reset a delay", "DELETE", "/v2/queue/team-a/q/delay", "", http.StatusOK, ""},
		{"roll back a deployment elsewhere", "DELETE", "/v2/deployments/" + deployments["team-b"], "", 0, "/team-b/q"},
		{"stop a deployment", "DELETE", "/v2/deployments/" + deployments["team-a"] + "?force=true", "", http.StatusAccepted, ""},
		{"create a group", "POST", "/v2/groups/team-a", `{"id":"g","apps":[{"id":"x","cmd":"sleep 1","instances":0}]}`, http.StatusCreated, ""},
		{"create a group elsewhere", "POST", "/v2/groups", `{"id":"/team-b/g","apps":[]}`, 0, "/team-b/g"},
		{"change the root group", "PUT", "/v2/groups", `{"apps":[{"id":"/team-a/y","cmd":"sleep 1","instances":0}]}`, 0, "/"},
		{"a group change with an app elsewhere", "PATCH", "/v2/groups/team-a", `{"apps":[{"id":"/team-b/sneak","cmd":"sleep 1","instances":0}]}`, 0, "/team-b/sneak"},
		{"delete a group elsewhere", "DELETE", "/v2/groups/team-b", "", 0, "/team-b"},
		{"delete an app elsewhere", "DELETE", "/v2/apps/team-b/web", "", 0, "/team-b/web"},
		{"delete an app", "DELETE", "/v2/apps/team-a/web", "", http.StatusOK, ""},
		{"delete a group", "DELETE", "/v2/groups/team-a/g", "", http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := s.with(t)
			wantError(t, s.do(tt.method, tt.path, tt.body), http.StatusUnauthorized, "authentication required…")
			wantError(t, s.do(tt.method, tt.path, tt.body, asEve), http.StatusForbidden, `principal "eve" may not manage_apps…`)
			if tt.want == 0 {
				wantError(t, s.do(tt.method, tt.path, tt.body, asAlice), http.StatusForbidden, denied(acl.ManageApps, tt.object))
				return
			}
			s.must(tt.want, tt.method, tt.path, tt.body, asAlice)
		})
	}
	// Nothing refused changed.
	var teamB []string
	for _, id := range s.storedApps() {
		if !strings.HasPrefix(id, "/team-a/") {
			teamB = append(teamB, id)
		}
	}
	slices.Sort(teamB)
	if want := []string{"/team-b/q", "/team-b/web"}; !slices.Equal(teamB, want) {
		t.Errorf("stored apps outside /team-a = %v; want %v", teamB, want)
	}
	if got := anyString(get(s.must(http.StatusOK, "GET", "/v2/apps/team-b/web", "", asOps).json(t), "app", "cmd")); got != "sleep 1" {
		t.Errorf("cmd of /team-b/web = %q; want it unchanged, \"sleep 1\"", got)
	}
	if got := s.must(http.StatusOK, "GET", "/v2/apps/team-b/web/tasks", "", asOps).json(t); len(get(got, "tasks").([]any)) != 1 {
		t.Errorf("tasks of /team-b/web = %v; want its one task still there", got)
	}
}

// TestAuthorizationEvents checks that the event stream leaves out the
// events naming apps the principal may not see, and is refused to one
// who may see none.
func TestAuthorizationEvents(t *testing.T) {
	s := startGuarded(t)
	wantError(t, s.refusedStream("/v2/events", asEve), http.StatusForbidden, `principal "eve" may not view_apps`)
	wantError(t, s.refusedStream("/v2/events"), http.StatusUnauthorized, "authentication required…")

	alice, stop := s.openEvents("", asAlice)
	defer stop()
	ops, stopOps := s.openEvents("", asOps)
	defer stopOps()
	if f := nextFrame(t, alice); f.event != "event_stream_attached" {
		t.Fatalf("first event = %s; want event_stream_attached", f.event)
	}
	nextFrame(t, ops)

	// Events of /team-b/e come first, then /team-a/e's: alice's stream
	// shows only the latter.
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/team-b/e","cmd":"sleep 1","instances":0}`, asOps)
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/team-a/e","cmd":"sleep 1","instances":0}`, asOps)
	for seen := map[string]bool{}; !seen["api_post_event"] || !seen["deployment_success"]; {
		f := nextFrame(t, alice)
		if strings.Contains(f.data, "/team-b/") {
			t.Fatalf("alice's stream has %s %s; want no event naming /team-b/e", f.event, f.data)
		}
		if strings.Contains(f.data, "/team-a/e") {
			seen[f.event] = true
		}
	}
	// Who may see every app sees them all.
	for f := nextFrame(t, ops); !strings.Contains(f.data, "/team-b/e"); f = nextFrame(t, ops) {
	}

	// A callback receives every event: alice may list the subscriptions,
	// as she may open the stream, but not subscribe or unsubscribe.
	sub := "/v2/eventSubscriptions?callbackUrl=http%3A%2F%2F127.0.0.1%3A1%2F"
	s.must(http.StatusOK, "GET", "/v2/eventSubscriptions", "", asAlice)
	wantError(t, s.do("POST", sub, "", asAlice), http.StatusForbidden, denied(acl.ViewApps, "/"))
	s.must(http.StatusOK, "POST", sub, "", asOps)
	wantError(t, s.do("DELETE", sub, "", asAlice), http.StatusForbidden, denied(acl.ViewApps, "/"))
}

// TestEveryRouteIsGuarded drives every route of the API as an anonymous
// caller, with a wrong secret, as eve (allowed no app) and as ops
// (allowed every app); see edgetest. The lists are "guarded" for it: a
// principal allowed no app is refused them (403), and a principal allowed
// some gets them filtered (TestAuthorizationReads). A route added
// without an entry here fails the test.
func TestEveryRouteIsGuarded(t *testing.T) {
	s := startGuarded(t)
	guarded := edgetest.Case{Access: edgetest.Guarded}
	authenticated := edgetest.Case{Access: edgetest.Authenticated}
	table := map[string]edgetest.Case{
		"GET /ping":               {Access: edgetest.Open},
		"GET /health":             {Access: edgetest.Open},
		"GET /v2/info":            authenticated,
		"GET /v2/leader":          authenticated,
		"GET /metrics":            authenticated,
		"GET /metrics/prometheus": authenticated,

		"GET /v2/apps":   guarded,
		"POST /v2/apps":  guarded,
		"PUT /v2/apps":   guarded,
		"PATCH /v2/apps": guarded,

		"GET /v2/apps/*":    guarded,
		"POST /v2/apps/*":   {Access: edgetest.Guarded, Path: "/v2/apps/x/restart"},
		"PUT /v2/apps/*":    guarded,
		"PATCH /v2/apps/*":  guarded,
		"DELETE /v2/apps/*": guarded,

		"GET /v2/tasks":                 guarded,
		"POST /v2/tasks/delete":         guarded,
		"GET /v2/deployments":           guarded, // ?history=true too: see TestAuthorizationReads
		"DELETE /v2/deployments/{id}":   guarded,
		"GET /v2/queue":                 guarded,
		"DELETE /v2/queue/*":            {Access: edgetest.Guarded, Path: "/v2/queue/x/delay"},
		"GET /v2/events":                guarded,
		"GET /v2/eventSubscriptions":    guarded,
		"POST /v2/eventSubscriptions":   {Access: edgetest.Guarded, Path: "/v2/eventSubscriptions?callbackUrl=http%3A%2F%2F127.0.0.1%3A1%2F"},
		"DELETE /v2/eventSubscriptions": {Access: edgetest.Guarded, Path: "/v2/eventSubscriptions?callbackUrl=http%3A%2F%2F127.0.0.1%3A1%2F"},
		"GET /v2/groups":                guarded,
		"POST /v2/groups":               guarded,
		"PUT /v2/groups":                guarded,
		"DELETE /v2/groups":             guarded,
		"GET /v2/groups/*":              guarded,
		"POST /v2/groups/*":             guarded,
		"PUT /v2/groups/*":              guarded,
		"PATCH /v2/groups/*":            guarded,
		"DELETE /v2/groups/*":           guarded,
	}
	edgetest.Check(t, s.base, http.DefaultClient, edgetest.Routes(t, s.svc.routes()), table,
		edgetest.Who{Allowed: [2]string{"ops", "0ps"}, Denied: [2]string{"eve", "ev3"}})
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
