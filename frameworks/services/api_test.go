package services

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"corral/frameworks/services/app"
	"corral/frameworks/services/store"
	"corral/internal/migrate"
	"corral/internal/testpg"
	"corral/kernel/mesos"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/api")

func TestMain(m *testing.M) { testpg.Main(m) }

// server is a Service on its own database, with no kernel behind it: the
// scheduler client keeps retrying 127.0.0.1:1, so offers never come and
// deployments of apps with instances never finish. Apps with 0 instances
// finish their deployments at once.
type server struct {
	t     *testing.T
	db    string
	base  string
	svc   *Service
	store *store.Store
	stop  func()
}

// newDB returns a migrated, empty database.
func newDB(t *testing.T) string {
	t.Helper()
	db := testpg.URL(t)
	if err := migrate.Up(t.Context(), db); err != nil {
		t.Fatalf("migrate.Up: %v", err)
	}
	return db
}

// startServer starts a Service on db, with its configuration changed by
// tune, and returns once it serves. It stops when the test ends, or
// earlier through stop.
func startServer(t *testing.T, db string, tune ...func(*Config)) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Masters = []string{"http://127.0.0.1:1"}
	cfg.DB = db
	cfg.Listen = ln.Addr().String()
	cfg.Advertise = "http://" + ln.Addr().String()
	cfg.ShutdownGrace = time.Second
	for _, fn := range tune {
		fn(&cfg)
	}
	svc, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, ln) }()
	select {
	case <-svc.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("Serve: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("the service did not become ready in 20s")
	}
	st, err := store.Open(context.Background(), db)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	stopped := false
	s := &server{t: t, db: db, base: "http://" + ln.Addr().String(), svc: svc, store: st}
	s.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("the service did not stop in 10s")
		}
		st.Close()
	}
	t.Cleanup(s.stop)
	return s
}

// with returns s reporting to t, for use in t's subtests.
func (s *server) with(t *testing.T) *server {
	c := *s
	c.t = t
	return &c
}

// response is one HTTP answer, body read.
type response struct {
	method, path string
	code         int
	header       http.Header
	body         []byte
}

func (r response) String() string { return r.method + " " + r.path }

// json decodes the body into a generic value.
func (r response) json(t *testing.T) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("%s: body is not JSON: %v\n%s", r, err, r.body)
	}
	return v
}

// object decodes the body as a JSON object.
func (r response) object(t *testing.T) map[string]any {
	t.Helper()
	m, ok := r.json(t).(map[string]any)
	if !ok {
		t.Fatalf("%s: body is not a JSON object: %s", r, r.body)
	}
	return m
}

// do sends a request with an optional JSON body and headers given as
// "Name: value" strings.
func (s *server) do(method, path, body string, headers ...string) response {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(s.t.Context(), method, s.base+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return response{method: method, path: path, code: resp.StatusCode, header: resp.Header, body: b}
}

// must sends a request and fails the test unless the status is want.
func (s *server) must(want int, method, path, body string, headers ...string) response {
	s.t.Helper()
	r := s.do(method, path, body, headers...)
	if r.code != want {
		s.t.Fatalf("%s = %d %s; want %d", r, r.code, bytes.TrimSpace(r.body), want)
	}
	return r
}

// wantError checks a Marathon error answer: the status, a JSON content
// type, and a message (exact when msg does not end in "…", else a prefix).
func wantError(t *testing.T, r response, code int, msg string) map[string]any {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s = %d %s; want %d", r, r.code, bytes.TrimSpace(r.body), code)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s Content-Type = %q; want application/json", r, ct)
	}
	body := r.object(t)
	got, _ := body["message"].(string)
	if prefix, ok := strings.CutSuffix(msg, "…"); ok {
		if !strings.HasPrefix(got, prefix) {
			t.Errorf("%s message = %q; want it to start with %q", r, got, prefix)
		}
	} else if got != msg {
		t.Errorf("%s message = %q; want %q", r, got, msg)
	}
	return body
}

// deploymentResultOf checks a {"deploymentId","version"} answer with its
// Marathon-Deployment-Id header and returns the deployment id and version.
func deploymentResultOf(t *testing.T, r response, code int) (id, version string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s = %d %s; want %d", r, r.code, bytes.TrimSpace(r.body), code)
	}
	body := r.object(t)
	id, _ = body["deploymentId"].(string)
	version, _ = body["version"].(string)
	if !uuidRe.MatchString(id) || !versionRe.MatchString(version) || len(body) != 2 {
		t.Errorf("%s body = %s; want {\"deploymentId\":<uuid>,\"version\":<timestamp>}", r, r.body)
	}
	if h := r.header.Get("Marathon-Deployment-Id"); h != id {
		t.Errorf("%s Marathon-Deployment-Id = %q; want %q", r, h, id)
	}
	return id, version
}

var (
	uuidRe    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	versionRe = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
)

// get walks a decoded JSON value along keys and array indexes.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

// ids returns the "id" of each object of a JSON array.
func ids(v any) []string {
	out := []string{}
	a, _ := v.([]any)
	for _, x := range a {
		if id, ok := get(x, "id").(string); ok {
			out = append(out, id)
		}
	}
	return out
}

// keysOf returns the sorted keys of a JSON object.
func keysOf(v any) []string {
	m, _ := v.(map[string]any)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// eventually polls cond until it holds or 10s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// storedApps lists the app ids in the database.
func (s *server) storedApps() []string {
	s.t.Helper()
	recs, err := s.store.Apps(s.t.Context())
	if err != nil {
		s.t.Fatal(err)
	}
	out := []string{}
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out
}

// storedGroups lists the explicitly stored group ids.
func (s *server) storedGroups() []string {
	s.t.Helper()
	recs, err := s.store.Groups(s.t.Context())
	if err != nil {
		s.t.Fatal(err)
	}
	out := []string{}
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out
}

// storedDeployments lists the deployment ids in the database.
func (s *server) storedDeployments() []string {
	s.t.Helper()
	recs, err := s.store.Deployments(s.t.Context())
	if err != nil {
		s.t.Fatal(err)
	}
	out := []string{}
	for _, r := range recs {
		out = append(out, r.ID)
	}
	slices.Sort(out)
	return out
}

// deploymentIDs lists the ids of GET /v2/deployments, sorted.
func (s *server) deploymentIDs() []string {
	s.t.Helper()
	out := ids(s.must(http.StatusOK, "GET", "/v2/deployments", "").json(s.t))
	slices.Sort(out)
	return out
}

// settle waits until no deployment affects the given apps. Apps with 0
// instances finish their deployments at once, but not before the answer to
// the request that started them: a change sent right after would find the
// app locked.
func (s *server) settle(apps ...string) {
	s.t.Helper()
	eventually(s.t, fmt.Sprintf("no deployment affects %v", apps), func() bool {
		for _, d := range s.must(http.StatusOK, "GET", "/v2/deployments", "").json(s.t).([]any) {
			affected, _ := get(d, "affectedApps").([]any)
			for _, a := range affected {
				if slices.Contains(apps, a.(string)) {
					return false
				}
			}
		}
		return true
	})
}

// seedTask adds a task of appID to the framework's state, as if the kernel
// had launched it on host, and returns its id.
func (s *server) seedTask(appID, host string, state mesos.TaskState) string {
	s.t.Helper()
	tid := app.NewTaskID(appID)
	err := s.svc.do(s.t.Context(), func(c *core) {
		as := c.apps[appID]
		now := time.Now()
		c.addInstance(&instance{
			TaskID: tid, AppID: appID, Version: as.app.Version, ConfigVersion: configVersion(as.app),
			AgentID: "agent-" + host, Host: host, Ports: []uint64{31000}, State: state, StagedAt: now,
		})
		if state == mesos.TaskRunning {
			c.instances[tid].StartedAt = now
		}
		c.dirty[tid] = true
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return tid
}

// nextMillisecond waits for the clock to reach the next millisecond, so
// that the next change gets a version distinct from the last (versions have
// millisecond precision, and golden files show which versions are equal).
func nextMillisecond() {
	now := time.Now()
	time.Sleep(now.Truncate(time.Millisecond).Add(time.Millisecond).Sub(now))
}

// --- golden files ------------------------------------------------------------

// scrub replaces the values that change from run to run (versions and other
// timestamps, deployment and task ids) by numbered placeholders, so that
// equal values stay visibly equal, and indents the JSON.
func scrub(t *testing.T, body []byte) []byte {
	t.Helper()
	seen := map[string]string{}
	n := map[string]int{}
	re := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|127\.0\.0\.1:\d+`)
	out := re.ReplaceAllFunc(body, func(m []byte) []byte {
		if p, ok := seen[string(m)]; ok {
			return []byte(p)
		}
		kind := "time"
		switch {
		case uuidRe.Match(m):
			kind = "uuid"
		case bytes.HasPrefix(m, []byte("127.")):
			kind = "addr"
		}
		n[kind]++
		p := fmt.Sprintf("<%s-%d>", kind, n[kind])
		seen[string(m)] = p
		return []byte(p)
	})
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(out), "", "  "); err != nil {
		t.Fatalf("indenting %s: %v", out, err)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

// golden compares the scrubbed body of r with testdata/api/name.json, or
// rewrites the file with -update.
func golden(t *testing.T, name string, r response) {
	t.Helper()
	got := scrub(t, r.body)
	path := filepath.Join("testdata", "api", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s = body differing from %s (-want +got):\n%s", r, path, diff)
	}
}

// --- SSE -----------------------------------------------------------------------

// frame is one server-sent event.
type frame struct {
	id, event, data string
}

// openEvents connects to /v2/events and returns a channel of its frames,
// closed when the stream ends; cancel ends it.
func (s *server) openEvents(query string, headers ...string) (<-chan frame, context.CancelFunc) {
	s.t.Helper()
	ctx, cancel := context.WithCancel(s.t.Context())
	req, err := http.NewRequestWithContext(ctx, "GET", s.base+"/v2/events"+query, nil)
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
		cancel()
		s.t.Fatalf("GET /v2/events%s: %v", query, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		cancel()
		s.t.Fatalf("GET /v2/events%s = %d %s; want 200 text/event-stream", query, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ch := make(chan frame, 256)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		var f frame
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if f.event != "" {
					select {
					case ch <- f:
					case <-ctx.Done():
						return
					}
				}
				f = frame{}
			case strings.HasPrefix(line, "id: "):
				f.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				f.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				f.data += strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return ch, cancel
}

// nextFrame returns the next frame, failing after 5s.
func nextFrame(t *testing.T, ch <-chan frame) frame {
	t.Helper()
	select {
	case f, ok := <-ch:
		if !ok {
			t.Fatal("the event stream ended")
		}
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return frame{}
}

// --- POST /v2/apps -------------------------------------------------------------

// richApp uses most fields of the app definition.
const richApp = `{
	"id": "/prod/web/frontend",
	"cmd": "python3 -m http.server $PORT0",
	"instances": 2,
	"cpus": 0.25,
	"mem": 64,
	"env": {"MODE": "prod"},
	"labels": {"tier": "web"},
	"portDefinitions": [{"port": 0, "protocol": "tcp", "name": "http"}],
	"constraints": [["hostname", "UNIQUE"], ["rack", "GROUP_BY", "2"]],
	"healthChecks": [{"protocol": "HTTP", "path": "/health", "portIndex": 0, "gracePeriodSeconds": 10, "intervalSeconds": 5, "timeoutSeconds": 2, "maxConsecutiveFailures": 3}],
	"upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5},
	"killSelection": "OLDEST_FIRST",
	"taskKillGracePeriodSeconds": 5
}`

func TestCreateApp(t *testing.T) {
	s := startServer(t, newDB(t))

	r := s.must(http.StatusCreated, "POST", "/v2/apps", richApp)
	if got := r.header.Get("Location"); got != "/prod/web/frontend" {
		t.Errorf("%s Location = %q; want /prod/web/frontend", r, got)
	}
	depID := r.header.Get("Marathon-Deployment-Id")
	if !uuidRe.MatchString(depID) {
		t.Errorf("%s Marathon-Deployment-Id = %q; want a UUID", r, depID)
	}
	body := r.object(t)
	for _, k := range []string{"tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy"} {
		if got := body[k]; got != 0.0 {
			t.Errorf("%s %s = %v; want 0", r, k, got)
		}
	}
	if got := body["tasks"]; !cmp.Equal(got, []any{}) {
		t.Errorf("%s tasks = %v; want []", r, got)
	}
	if got := ids(body["deployments"]); !slices.Equal(got, []string{depID}) {
		t.Errorf("%s deployments = %v; want [{id %s}]", r, got, depID)
	}
	if got := body["ports"]; !cmp.Equal(got, []any{10000.0}) || get(body, "portDefinitions", 0, "port") != 10000.0 {
		t.Errorf("%s ports = %v, portDefinitions %v; want the service port assigned, [10000], in both", r, got, body["portDefinitions"])
	}
	golden(t, "post_app", r)

	// The deployment is listed, and the app is stored with its version.
	if got := s.deploymentIDs(); !slices.Equal(got, []string{depID}) {
		t.Errorf("GET /v2/deployments ids = %v; want [%s]", got, depID)
	}
	if got := s.storedApps(); !slices.Equal(got, []string{"/prod/web/frontend"}) {
		t.Errorf("stored apps = %v; want [/prod/web/frontend]", got)
	}

	// Relative ids are made absolute; unknown fields are tolerated.
	r = s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"tolerant","cmd":"sleep 1","instances":0,"someFutureField":{"a":[1,2]},"fooBar":true}`)
	if got := r.header.Get("Location"); got != "/tolerant" {
		t.Errorf("%s Location = %q; want /tolerant", r, got)
	}
	if got := get(r.json(t), "id"); got != "/tolerant" {
		t.Errorf("%s id = %v; want /tolerant", r, got)
	}
	if _, ok := r.object(t)["someFutureField"]; ok {
		t.Errorf("%s echoes an unknown field: %s", r, r.body)
	}

	r = s.do("POST", "/v2/apps", `{"id":"/prod/web/frontend","cmd":"other"}`)
	wantError(t, r, http.StatusConflict, "An app with id [/prod/web/frontend] already exists.")
	r = s.do("POST", "/v2/apps", `{"id":"tolerant","cmd":"other","instances":0}`)
	wantError(t, r, http.StatusConflict, "An app with id [/tolerant] already exists.")
	r = s.must(http.StatusOK, "GET", "/v2/apps/prod/web/frontend", "")
	if got := get(r.json(t), "app", "cmd"); got != "python3 -m http.server $PORT0" {
		t.Errorf("after a duplicate POST, cmd = %v; want the original", got)
	}
}

func TestCreateAppBadInput(t *testing.T) {
	s := startServer(t, newDB(t))

	malformed := []struct {
		name, body string
		path       string // of the first detail
		errs       string // substring of its errors
	}{
		{"truncated", `{"id":"/bad","cmd":`, "/", "malformed JSON"},
		{"not an object", `["/bad"]`, "/", "error.expected.jsobject"},
		{"empty body", ``, "/", "malformed JSON"},
		{"string cpus", `{"id":"/bad","cmd":"x","cpus":"lots"}`, "/cpus", "error.expected.jsnumber"},
		{"number id", `{"id":7,"cmd":"x"}`, "/id", "error.expected.jsstring"},
		{"object labels value", `{"id":"/bad","cmd":"x","labels":{"a":{}}}`, "/labels/a", "error.expected.jsstring"},
		{"fractional instances", `{"id":"/bad","cmd":"x","instances":1.5}`, "/instances", ""},
	}
	for _, tc := range malformed {
		t.Run("400/"+tc.name, func(t *testing.T) {
			s := s.with(t)
			r := s.do("POST", "/v2/apps", tc.body)
			body := wantError(t, r, http.StatusBadRequest, "Invalid JSON")
			path, _ := get(body, "details", 0, "path").(string)
			errs, _ := json.Marshal(get(body, "details", 0, "errors"))
			if path != tc.path || !strings.Contains(string(errs), tc.errs) {
				t.Errorf("%s details = %v; want path %q with an error containing %q", r, body["details"], tc.path, tc.errs)
			}
		})
	}

	invalid := []struct {
		name, id, body string
		path           string // a path that must be among the details
	}{
		{"uppercase id", "/Web", `{"id":"/Web","cmd":"x"}`, "/id"},
		{"underscore in id", "/my_app", `{"id":"/my_app","cmd":"x"}`, "/id"},
		{"restart last segment", "/web/restart", `{"id":"/web/restart","cmd":"x"}`, "/id"},
		{"tasks last segment", "/web/tasks", `{"id":"/web/tasks","cmd":"x"}`, "/id"},
		{"versions last segment", "/web/versions", `{"id":"/web/versions","cmd":"x"}`, "/id"},
		{"empty id", "", `{"id":"","cmd":"x"}`, "/id"},
		{"missing id", "", `{"cmd":"x"}`, "/id"},
		{"empty segment", "/a//b", `{"id":"/a//b","cmd":"x"}`, "/id"},
		{"dot-dot segment", "/a/../b", `{"id":"/a/../b","cmd":"x"}`, "/id"},
		{"leading hyphen", "/-web", `{"id":"/-web","cmd":"x"}`, "/id"},
		{"negative cpus", "/neg-cpus", `{"id":"/neg-cpus","cmd":"x","cpus":-1}`, "/cpus"},
		{"negative mem", "/neg-mem", `{"id":"/neg-mem","cmd":"x","mem":-128}`, "/mem"},
		{"negative disk", "/neg-disk", `{"id":"/neg-disk","cmd":"x","disk":-1}`, "/disk"},
		{"negative instances", "/neg-inst", `{"id":"/neg-inst","cmd":"x","instances":-1}`, "/instances"},
		{"unknown constraint operator", "/op", `{"id":"/op","cmd":"x","constraints":[["hostname","SOMETIMES"]]}`, "/constraints(0)"},
		{"MAX_PER without a number", "/maxper", `{"id":"/maxper","cmd":"x","constraints":[["hostname","MAX_PER","many"]]}`, "/constraints(0)"},
		{"health check port index past the ports", "/hc", `{"id":"/hc","cmd":"x","portDefinitions":[{"port":0}],"healthChecks":[{"protocol":"HTTP","portIndex":1}]}`, "/healthChecks(0)/portIndex"},
		{"health check without ports", "/hc0", `{"id":"/hc0","cmd":"x","portDefinitions":[],"healthChecks":[{"protocol":"TCP","portIndex":0}]}`, "/healthChecks(0)/portIndex"},
		{"unknown health check protocol", "/hcp", `{"id":"/hcp","cmd":"x","healthChecks":[{"protocol":"GOPHER"}]}`, "/healthChecks(0)/protocol"},
		{"cmd and args", "/both", `{"id":"/both","cmd":"x","args":["y"]}`, "/"},
		{"neither cmd nor args", "/neither", `{"id":"/neither"}`, "/"},
		{"docker container without image", "/docker", `{"id":"/docker","container":{"type":"DOCKER","docker":{"image":""}}}`, "/container/docker/image"},
		{"minimumHealthCapacity above 1", "/mhc", `{"id":"/mhc","cmd":"x","upgradeStrategy":{"minimumHealthCapacity":1.5}}`, "/upgradeStrategy/minimumHealthCapacity"},
		{"backoffFactor below 1", "/bf", `{"id":"/bf","cmd":"x","backoffFactor":0.5}`, "/backoffFactor"},
		{"unknown killSelection", "/ks", `{"id":"/ks","cmd":"x","killSelection":"RANDOM"}`, "/killSelection"},
	}
	for _, tc := range invalid {
		t.Run("422/"+tc.name, func(t *testing.T) {
			s := s.with(t)
			r := s.do("POST", "/v2/apps", tc.body)
			body := wantError(t, r, http.StatusUnprocessableEntity, "Object is not valid")
			details, _ := body["details"].([]any)
			var paths []string
			for _, d := range details {
				p, _ := get(d, "path").(string)
				errs, _ := get(d, "errors").([]any)
				if len(errs) == 0 {
					t.Errorf("%s detail %q has no errors: %s", r, p, r.body)
				}
				paths = append(paths, p)
			}
			if !slices.Contains(paths, tc.path) {
				t.Errorf("%s detail paths = %v; want %q among them (%s)", r, paths, tc.path, r.body)
			}
			// GET the id where it names the app (…/restart, …/tasks and
			// …/versions name sub-resources).
			if tc.id != "" && !strings.Contains(tc.id, "//") && !strings.Contains(tc.id, "..") && !strings.HasPrefix(tc.id, "/web/") {
				r := s.do("GET", "/v2/apps"+tc.id, "")
				if r.code != http.StatusNotFound {
					t.Errorf("%s after a rejected POST = %d; want 404", r, r.code)
				}
			}
		})
	}

	// Nothing of the rejected requests was stored or deployed.
	r := s.must(http.StatusOK, "GET", "/v2/apps", "")
	if got := ids(r.object(t)["apps"]); len(got) != 0 {
		t.Errorf("GET /v2/apps = %v; want no apps", got)
	}
	if got := s.storedApps(); len(got) != 0 {
		t.Errorf("stored apps = %v; want none", got)
	}
	if got := s.storedDeployments(); len(got) != 0 {
		t.Errorf("stored deployments = %v; want none", got)
	}
	if got := s.deploymentIDs(); len(got) != 0 {
		t.Errorf("GET /v2/deployments = %v; want none", got)
	}
}

// --- GET /v2/apps, GET /v2/apps/{id} ---------------------------------------------

func TestListApps(t *testing.T) {
	s := startServer(t, newDB(t))
	for _, body := range []string{
		`{"id":"/prod/web/frontend","cmd":"python3 -m http.server","instances":0,"labels":{"tier":"web","env":"prod"}}`,
		`{"id":"/prod/db","cmd":"postgres -D /data","instances":0,"labels":{"tier":"db","env":"prod"}}`,
		`{"id":"/dev/web","cmd":"python3 app.py","instances":1,"labels":{"tier":"web","env":"dev","canary":""}}`,
		`{"id":"/ops/cron","args":["sleep","1"],"instances":0}`,
	} {
		s.must(http.StatusCreated, "POST", "/v2/apps", body)
	}
	all := []string{"/dev/web", "/ops/cron", "/prod/db", "/prod/web/frontend"}
	tests := []struct {
		name, query string
		want        []string
	}{
		{"no filter", "", all},
		{"cmd substring", "?cmd=python3", []string{"/dev/web", "/prod/web/frontend"}},
		{"cmd no match", "?cmd=java", []string{}},
		{"id substring", "?id=prod", []string{"/prod/db", "/prod/web/frontend"}},
		{"id case-insensitive", "?id=WEB", []string{"/dev/web", "/prod/web/frontend"}},
		{"label exists", "?label=tier", []string{"/dev/web", "/prod/db", "/prod/web/frontend"}},
		{"label exists with empty value", "?label=canary", []string{"/dev/web"}},
		{"label equals", "?label=tier==web", []string{"/dev/web", "/prod/web/frontend"}},
		{"label not equals", "?label=tier!=web", []string{"/ops/cron", "/prod/db"}},
		{"label in", "?label=" + urlQuery("env in (dev, prod)"), []string{"/dev/web", "/prod/db", "/prod/web/frontend"}},
		{"label notin", "?label=" + urlQuery("env notin (prod)"), []string{"/dev/web", "/ops/cron"}},
		{"labels comma is AND", "?label=" + urlQuery("tier==web,env==prod"), []string{"/prod/web/frontend"}},
		{"label set and AND", "?label=" + urlQuery("env in (dev,prod),tier!=db"), []string{"/dev/web", "/prod/web/frontend"}},
		{"cmd and label", "?cmd=python3&label=env==dev", []string{"/dev/web"}},
		{"embed tasks", "?embed=apps.tasks", all},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := s.with(t)
			r := s.must(http.StatusOK, "GET", "/v2/apps"+tc.query, "")
			body := r.object(t)
			if got := keysOf(body); !slices.Equal(got, []string{"apps"}) {
				t.Errorf("%s keys = %v; want [apps]", r, got)
			}
			if got := ids(body["apps"]); !slices.Equal(got, tc.want) {
				t.Errorf("%s = %v; want %v", r, got, tc.want)
			}
			embedded := strings.Contains(tc.query, "embed=apps.tasks")
			for _, a := range body["apps"].([]any) {
				// Counts and deployments are always embedded; tasks on request.
				for _, k := range []string{"tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy", "deployments"} {
					if get(a, k) == nil {
						t.Errorf("%s app %v has no %s", r, get(a, "id"), k)
					}
				}
				if _, ok := a.(map[string]any)["tasks"]; ok != embedded {
					t.Errorf("%s app %v has tasks = %v; want %v", r, get(a, "id"), ok, embedded)
				}
			}
		})
	}
	r := s.do("GET", "/v2/apps?label="+urlQuery("!!!"), "")
	wantError(t, r, http.StatusBadRequest, "invalid label selector…")
	r = s.must(http.StatusOK, "GET", "/v2/apps?id=dev", "")
	if got := ids(get(r.json(t), "apps", 0, "deployments")); len(got) != 1 {
		t.Errorf("%s deployments of /dev/web = %v; want its running deployment", r, got)
	}
}

func urlQuery(s string) string {
	return strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29", ",", "%2C", "=", "%3D", "!", "%21").Replace(s)
}

func TestGetApp(t *testing.T) {
	s := startServer(t, newDB(t))
	s.must(http.StatusCreated, "POST", "/v2/apps", richApp)
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/prod/db","cmd":"postgres","instances":0}`)
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/staging/db","cmd":"postgres","instances":0}`)

	r := s.must(http.StatusOK, "GET", "/v2/apps/prod/web/frontend", "")
	golden(t, "get_app", r)
	body := r.object(t)
	if got := keysOf(body); !slices.Equal(got, []string{"app"}) {
		t.Errorf("%s keys = %v; want [app]", r, got)
	}
	a := body["app"]
	if got := get(a, "tasks"); !cmp.Equal(got, []any{}) {
		t.Errorf("%s app.tasks = %v; want []", r, got)
	}
	for _, k := range []string{"tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy"} {
		if got := get(a, k); got != 0.0 {
			t.Errorf("%s app.%s = %v; want 0", r, k, got)
		}
	}
	if got := len(ids(get(a, "deployments"))); got != 1 {
		t.Errorf("%s app.deployments has %d entries; want 1", r, got)
	}
	if got, want := get(a, "ports"), []any{10000.0}; !cmp.Equal(got, want) {
		t.Errorf("%s app.ports = %v; want %v", r, got, want)
	}
	if got := get(a, "portDefinitions", 0, "name"); got != "http" {
		t.Errorf("%s app.portDefinitions[0].name = %v; want http", r, got)
	}

	// The same app whatever the spelling of its path.
	for _, path := range []string{"/v2/apps//prod/web/frontend", "/v2/apps/prod/web/frontend/", "/v2/apps/prod/web/frontend?embed=app.tasks"} {
		r := s.must(http.StatusOK, "GET", path, "")
		if got := get(r.json(t), "app", "id"); got != "/prod/web/frontend" {
			t.Errorf("%s app.id = %v; want /prod/web/frontend", r, got)
		}
	}

	for _, tc := range []struct{ path, msg string }{
		{"/v2/apps/nope", "App '/nope' does not exist"},
		{"/v2/apps/prod/web", "App '/prod/web' does not exist"},
		{"/v2/apps/prod/web/frontend/extra", "App '/prod/web/frontend/extra' does not exist"},
	} {
		wantError(t, s.do("GET", tc.path, ""), http.StatusNotFound, tc.msg)
	}

	groupApps := []struct {
		path string
		want []string
	}{
		{"/v2/apps/prod/*", []string{"/prod/db", "/prod/web/frontend"}},
		{"/v2/apps/prod/web/*", []string{"/prod/web/frontend"}},
		{"/v2/apps/*", []string{"/prod/db", "/prod/web/frontend", "/staging/db"}},
	}
	for _, tc := range groupApps {
		r := s.must(http.StatusOK, "GET", tc.path, "")
		body := r.object(t)
		if got := keysOf(body); !slices.Equal(got, []string{"*"}) {
			t.Errorf("%s keys = %v; want [*]", r, got)
		}
		if got := ids(body["*"]); !slices.Equal(got, tc.want) {
			t.Errorf("%s = %v; want %v", r, got, tc.want)
		}
		if got := get(body, "*", 0, "tasks"); !cmp.Equal(got, []any{}) {
			t.Errorf("%s first app's tasks = %v; want []", r, got)
		}
	}
	wantError(t, s.do("GET", "/v2/apps/nope/*", ""), http.StatusNotFound, "Group '/nope' does not exist")
}

// --- PUT, PATCH, DELETE /v2/apps/{id} ---------------------------------------------

// deploymentActions returns the actions of deployment id in GET
// /v2/deployments as "Action /app" strings, nil if it is not listed.
func (s *server) deploymentActions(id string) []string {
	s.t.Helper()
	for _, d := range s.must(http.StatusOK, "GET", "/v2/deployments", "").json(s.t).([]any) {
		if get(d, "id") != id {
			continue
		}
		out := []string{}
		steps, _ := get(d, "steps").([]any)
		for _, st := range steps {
			acts, _ := get(st, "actions").([]any)
			for _, a := range acts {
				out = append(out, fmt.Sprintf("%v %v", get(a, "action"), get(a, "app")))
			}
		}
		return out
	}
	return nil
}

// app returns GET /v2/apps/{id}'s app.
func (s *server) app(id string) map[string]any {
	s.t.Helper()
	a, _ := get(s.must(http.StatusOK, "GET", "/v2/apps"+id, "").json(s.t), "app").(map[string]any)
	return a
}

func TestUpdateApp(t *testing.T) {
	s := startServer(t, newDB(t))
	r := s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/m","cmd":"sleep 1","instances":0,"cpus":0.5,"labels":{"a":"b"},"env":{"K":"V"}}`)
	v1, _ := get(r.json(t), "version").(string)
	s.settle("/m")

	// A change of instances alone is a scale: null and absent fields stay.
	r = s.do("PUT", "/v2/apps/m", `{"instances":3,"cmd":null,"labels":null}`)
	scaleID, v2 := deploymentResultOf(t, r, http.StatusOK)
	if got := s.deploymentActions(scaleID); !slices.Equal(got, []string{"ScaleApplication /m"}) {
		t.Errorf("%s deployment actions = %v; want [ScaleApplication /m]", r, got)
	}
	a := s.app("/m")
	checks := []struct {
		field string
		got   any
		want  any
	}{
		{"cmd", a["cmd"], "sleep 1"},
		{"instances", a["instances"], 3.0},
		{"cpus", a["cpus"], 0.5},
		{"labels", a["labels"], map[string]any{"a": "b"}},
		{"env", a["env"], map[string]any{"K": "V"}},
		{"version", a["version"], v2},
		{"versionInfo.lastScalingAt", get(a, "versionInfo", "lastScalingAt"), v2},
		{"versionInfo.lastConfigChangeAt", get(a, "versionInfo", "lastConfigChangeAt"), v1},
	}
	for _, c := range checks {
		if !cmp.Equal(c.got, c.want) {
			t.Errorf("after PUT {instances:3,cmd:null}, %s = %v; want %v", c.field, c.got, c.want)
		}
	}
	if v2 <= v1 {
		t.Errorf("PUT version %s; want it after %s", v2, v1)
	}

	// The scale never finishes (no kernel): the app is locked.
	r = s.do("PUT", "/v2/apps/m", `{"cmd":"sleep 2"}`)
	body := wantError(t, r, http.StatusConflict, "App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.")
	if got := ids(body["deployments"]); !slices.Equal(got, []string{scaleID}) {
		t.Errorf("%s deployments = %v; want [%s]", r, got, scaleID)
	}
	if got := s.app("/m")["cmd"]; got != "sleep 1" {
		t.Errorf("after a 409, cmd = %v; want sleep 1", got)
	}
	wantError(t, s.do("POST", "/v2/apps/m/restart", ""), http.StatusConflict, "App is locked…")
	wantError(t, s.do("PATCH", "/v2/apps/m", `{"cmd":"sleep 2"}`), http.StatusConflict, "App is locked…")

	// force=true cancels the holding deployment; a config change restarts.
	r = s.do("PUT", "/v2/apps/m?force=true", `{"cmd":"sleep 2"}`)
	restartID, v3 := deploymentResultOf(t, r, http.StatusOK)
	if got := s.deploymentIDs(); !slices.Equal(got, []string{restartID}) {
		t.Errorf("GET /v2/deployments = %v; want only %s (the forced-out %s gone)", got, restartID, scaleID)
	}
	eventually(t, "the store holds only the new deployment", func() bool {
		return slices.Equal(s.storedDeployments(), []string{restartID})
	})
	if got := s.deploymentActions(restartID); !slices.Equal(got, []string{"RestartApplication /m"}) {
		t.Errorf("%s deployment actions = %v; want [RestartApplication /m]", r, got)
	}
	a = s.app("/m")
	if a["cmd"] != "sleep 2" || a["instances"] != 3.0 || get(a, "versionInfo", "lastConfigChangeAt") != v3 {
		t.Errorf("after a forced config change, app = cmd %v, instances %v, lastConfigChangeAt %v; want sleep 2, 3, %s",
			a["cmd"], a["instances"], get(a, "versionInfo", "lastConfigChangeAt"), v3)
	}

	// PUT on a missing app creates it.
	r = s.do("PUT", "/v2/apps/new/one", `{"cmd":"sleep 1","instances":0}`)
	deploymentResultOf(t, r, http.StatusCreated)
	if got := r.header.Get("Location"); got != "/new/one" {
		t.Errorf("%s Location = %q; want /new/one", r, got)
	}
	if got := s.app("/new/one")["cmd"]; got != "sleep 1" {
		t.Errorf("created by PUT, cmd = %v; want sleep 1", got)
	}

	// partialUpdate=false replaces: what is not given returns to its default.
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/full","cmd":"sleep 1","instances":0,"cpus":0.5,"labels":{"a":"b"}}`)
	s.settle("/full")
	r = s.do("PUT", "/v2/apps/full?partialUpdate=false", `{"cmd":"sleep 3","instances":0}`)
	deploymentResultOf(t, r, http.StatusOK)
	s.settle("/full")
	a = s.app("/full")
	if a["cmd"] != "sleep 3" || a["cpus"] != 1.0 || !cmp.Equal(a["labels"], map[string]any{}) {
		t.Errorf("after PUT partialUpdate=false, app = cmd %v, cpus %v, labels %v; want sleep 3, 1, {}", a["cmd"], a["cpus"], a["labels"])
	}

	// PATCH merges into an existing app.
	r = s.do("PATCH", "/v2/apps/full", `{"labels":{"x":"y"}}`)
	deploymentResultOf(t, r, http.StatusOK)
	s.settle("/full")
	if a := s.app("/full"); a["cmd"] != "sleep 3" || !cmp.Equal(a["labels"], map[string]any{"x": "y"}) {
		t.Errorf("after PATCH {labels}, app = cmd %v, labels %v; want sleep 3, {x:y}", a["cmd"], a["labels"])
	}

	// Client mistakes change nothing.
	before := s.app("/full")
	mistakes := []struct {
		name, method, path, body string
		code                     int
		msg                      string
	}{
		{"PATCH missing app", "PATCH", "/v2/apps/missing", `{"cmd":"x"}`, 404, "App '/missing' does not exist"},
		{"id in body differs (merge)", "PUT", "/v2/apps/full", `{"id":"/other"}`, 422, "Object is not valid"},
		{"id in body differs (create)", "PUT", "/v2/apps/fresh", `{"id":"/other","cmd":"x"}`, 422, "Object is not valid"},
		{"id in body differs (replace)", "PUT", "/v2/apps/full?partialUpdate=false", `{"id":"/other","cmd":"x"}`, 422, "Object is not valid"},
		{"invalid id in URL", "PUT", "/v2/apps/Bad_Id", `{"cmd":"x"}`, 422, "Object is not valid"},
		{"negative cpus", "PUT", "/v2/apps/full", `{"cpus":-1}`, 422, "Object is not valid"},
		{"cmd and args", "PUT", "/v2/apps/full", `{"cmd":"x","args":["y"]}`, 422, "Object is not valid"},
		{"invalid new app", "PUT", "/v2/apps/fresh", `{"instances":1}`, 422, "Object is not valid"},
		{"malformed JSON", "PUT", "/v2/apps/full", `{"cmd":`, 400, "Invalid JSON"},
		{"wrong type", "PATCH", "/v2/apps/full", `{"instances":"many"}`, 400, "Invalid JSON"},
		{"malformed JSON (create)", "PUT", "/v2/apps/fresh", `nope`, 400, "Invalid JSON"},
	}
	for _, tc := range mistakes {
		t.Run(tc.name, func(t *testing.T) {
			s := s.with(t)
			wantError(t, s.do(tc.method, tc.path, tc.body), tc.code, tc.msg)
		})
	}
	if after := s.app("/full"); !cmp.Equal(after, before) {
		t.Errorf("rejected changes changed /full:\n%s", cmp.Diff(before, after))
	}
	for _, id := range []string{"/fresh", "/other", "/missing"} {
		wantError(t, s.do("GET", "/v2/apps"+id, ""), http.StatusNotFound, "App '"+id+"' does not exist")
	}
	if got, want := s.storedApps(), []string{"/full", "/m", "/new/one"}; !slices.Equal(got, want) {
		t.Errorf("stored apps = %v; want %v", got, want)
	}
}

// An apply that changes nothing (the same instances, the same definition,
// replaced or merged, alone or in a bulk) starts no deployment, keeps the
// version and touches no task; the answer still names a deployment, one
// that has already ended, as Marathon's clients expect.
func TestUnchangedApply(t *testing.T) {
	s := startServer(t, newDB(t))
	def := `{"id":"/same","cmd":"sleep 600","instances":2,"cpus":0.1,"mem":16,"labels":{"a":"b"}}`
	r := s.must(http.StatusCreated, "POST", "/v2/apps", def)
	v1, _ := get(r.json(t), "version").(string)
	t1 := s.seedTask("/same", "h1", mesos.TaskRunning)
	t2 := s.seedTask("/same", "h2", mesos.TaskRunning)
	s.settle("/same")
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/other","cmd":"sleep 1","instances":0}`)
	s.settle("/other")
	events, stop := s.openEvents("?event_type=deployment_info&event_type=deployment_success")
	defer stop()
	if f := nextFrame(t, events); !strings.Contains(f.data, `"eventType":"event_stream_attached"`) {
		t.Fatalf("first event = %s; want event_stream_attached", f.data)
	}

	for _, tc := range []struct{ name, method, path, body string }{
		{"same instances", "PUT", "/v2/apps/same", `{"instances":2}`},
		{"same definition merged", "PUT", "/v2/apps/same", def},
		{"same definition replaced", "PUT", "/v2/apps/same?partialUpdate=false", def},
		{"empty patch", "PATCH", "/v2/apps/same", `{}`},
		{"bulk of the same", "PUT", "/v2/apps", `[` + def + `]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := s.with(t)
			r := s.do(tc.method, tc.path, tc.body)
			id, v := deploymentResultOf(t, r, http.StatusOK)
			if v != v1 {
				t.Errorf("%s version = %s; want the unchanged %s", r, v, v1)
			}
			if s.deploymentActions(id) != nil {
				t.Errorf("%s started deployment %s; want none", r, id)
			}
			if got := s.deploymentIDs(); len(got) != 0 {
				t.Errorf("after %s, GET /v2/deployments = %v; want none", r, got)
			}
			a := s.app("/same")
			if a["version"] != v1 || get(a, "versionInfo", "lastConfigChangeAt") != v1 {
				t.Errorf("after %s, version %v, lastConfigChangeAt %v; want %s", r, a["version"], get(a, "versionInfo", "lastConfigChangeAt"), v1)
			}
			var tasks []string
			for _, x := range a["tasks"].([]any) {
				tasks = append(tasks, get(x, "id").(string))
			}
			slices.Sort(tasks)
			want := []string{t1, t2}
			slices.Sort(want)
			if !slices.Equal(tasks, want) {
				t.Errorf("after %s, tasks = %v; want the same %v", r, tasks, want)
			}
			f := nextFrame(t, events)
			if !strings.Contains(f.data, `"eventType":"deployment_info"`) || !strings.Contains(f.data, id) {
				t.Errorf("first event after %s = %s; want deployment_info of %s", r, f.data, id)
			}
			f = nextFrame(t, events)
			if !strings.Contains(f.data, `"eventType":"deployment_success"`) || !strings.Contains(f.data, id) {
				t.Errorf("second event after %s = %s; want deployment_success of %s", r, f.data, id)
			}
		})
	}
	// The empty deployments ended at once; the writer removes them from
	// the store after the answers and events.
	eventually(t, "no stored deployments", func() bool { return len(s.storedDeployments()) == 0 })
	// A bulk with one real change deploys only that app.
	r = s.do("PUT", "/v2/apps", `[`+def+`,{"id":"/other","cmd":"sleep 2","instances":0}]`)
	id, _ := deploymentResultOf(t, r, http.StatusOK)
	if got := s.deploymentActions(id); got != nil && !slices.Equal(got, []string{"RestartApplication /other"}) {
		t.Errorf("%s deployment actions = %v; want [RestartApplication /other]", r, got)
	}
	if a := s.app("/same"); a["version"] != v1 {
		t.Errorf("after a bulk changing /other, /same version = %v; want %s", a["version"], v1)
	}
}

func TestBulkUpdateApps(t *testing.T) {
	s := startServer(t, newDB(t))
	r := s.do("PUT", "/v2/apps", `[{"id":"/b1","cmd":"sleep 1","instances":0},{"id":"b2","cmd":"sleep 2","instances":0}]`)
	deploymentResultOf(t, r, http.StatusOK)
	s.settle("/b1", "/b2")
	for _, id := range []string{"/b1", "/b2"} {
		s.app(id)
	}
	r = s.do("PATCH", "/v2/apps", `[{"id":"/b1","instances":0,"labels":{"k":"v"}}]`)
	deploymentResultOf(t, r, http.StatusOK)
	if a := s.app("/b1"); a["cmd"] != "sleep 1" || !cmp.Equal(a["labels"], map[string]any{"k": "v"}) {
		t.Errorf("after PATCH /v2/apps, /b1 = cmd %v labels %v; want sleep 1, {k:v}", a["cmd"], a["labels"])
	}
	for _, tc := range []struct {
		name, method, body string
		code               int
		msg                string
	}{
		{"not an array", "PUT", `{"id":"/b3"}`, 400, "Invalid JSON"},
		{"empty array", "PUT", `[]`, 400, "no apps given"},
		{"missing id", "PUT", `[{"cmd":"x"}]`, 422, "Object is not valid"},
		{"one invalid app", "PUT", `[{"id":"/b3","cmd":"x"},{"id":"/b4","cmd":"x","cpus":-1}]`, 422, "Object is not valid"},
		{"PATCH unknown app", "PATCH", `[{"id":"/b5","cmd":"x"}]`, 404, "App '/b5' does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := s.with(t)
			wantError(t, s.do(tc.method, "/v2/apps", tc.body), tc.code, tc.msg)
		})
	}
	if got, want := s.storedApps(), []string{"/b1", "/b2"}; !slices.Equal(got, want) {
		t.Errorf("stored apps = %v; want %v", got, want)
	}
}

func TestDeleteApp(t *testing.T) {
	s := startServer(t, newDB(t))
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/d/busy","cmd":"sleep 1","instances":2}`)
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/d/idle","cmd":"sleep 1","instances":0}`)

	// force defaults to true on DELETE: a running deployment does not lock.
	r := s.do("DELETE", "/v2/apps/d/busy", "")
	id, _ := deploymentResultOf(t, r, http.StatusOK)
	if got := s.deploymentActions(id); got != nil && !slices.Equal(got, []string{"StopApplication /d/busy"}) {
		t.Errorf("%s deployment actions = %v; want [StopApplication /d/busy]", r, got)
	}
	wantError(t, s.do("GET", "/v2/apps/d/busy", ""), http.StatusNotFound, "App '/d/busy' does not exist")
	wantError(t, s.do("DELETE", "/v2/apps/d/busy", ""), http.StatusNotFound, "App '/d/busy' does not exist")
	wantError(t, s.do("DELETE", "/v2/apps/nope", ""), http.StatusNotFound, "App '/nope' does not exist")
	eventually(t, "/d/busy is gone from the store", func() bool {
		return slices.Equal(s.storedApps(), []string{"/d/idle"})
	})

	// force=false makes a running deployment lock the app.
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/d/locked","cmd":"sleep 1","instances":1}`)
	wantError(t, s.do("DELETE", "/v2/apps/d/locked?force=false", ""), http.StatusConflict, "App is locked…")
	s.app("/d/locked")
	s.settle("/d/idle")

	r = s.do("DELETE", "/v2/apps/d/idle?force=false", "")
	deploymentResultOf(t, r, http.StatusOK)
	wantError(t, s.do("GET", "/v2/apps/d/idle", ""), http.StatusNotFound, "App '/d/idle' does not exist")
}

func TestRestartAndVersions(t *testing.T) {
	s := startServer(t, newDB(t))
	r := s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/r","cmd":"sleep 1","instances":0}`)
	v1, _ := get(r.json(t), "version").(string)
	s.settle("/r")
	_, v2 := deploymentResultOf(t, s.do("PUT", "/v2/apps/r", `{"labels":{"k":"v"}}`), http.StatusOK)
	s.settle("/r")

	r = s.do("POST", "/v2/apps/r/restart", "")
	depID, v3 := deploymentResultOf(t, r, http.StatusOK)
	if acts := s.deploymentActions(depID); acts != nil && !slices.Equal(acts, []string{"RestartApplication /r"}) {
		t.Errorf("%s deployment actions = %v; want [RestartApplication /r]", r, acts)
	}
	a := s.app("/r")
	if a["version"] != v3 || get(a, "versionInfo", "lastConfigChangeAt") != v3 {
		t.Errorf("after restart, version %v lastConfigChangeAt %v; want both %s", a["version"], get(a, "versionInfo", "lastConfigChangeAt"), v3)
	}
	if !(v1 < v2 && v2 < v3) {
		t.Errorf("versions %s, %s, %s; want increasing", v1, v2, v3)
	}
	wantError(t, s.do("POST", "/v2/apps/nope/restart", ""), http.StatusNotFound, "App '/nope' does not exist")

	r = s.must(http.StatusOK, "GET", "/v2/apps/r/versions", "")
	var vs struct{ Versions []string }
	if err := json.Unmarshal(r.body, &vs); err != nil {
		t.Fatal(err)
	}
	if want := []string{v3, v2, v1}; !slices.Equal(vs.Versions, want) {
		t.Errorf("%s = %v; want %v (newest first)", r, vs.Versions, want)
	}

	for _, tc := range []struct {
		version string
		labels  map[string]any
	}{
		{v1, map[string]any{}},
		{v2, map[string]any{"k": "v"}},
		{v3, map[string]any{"k": "v"}},
	} {
		r := s.must(http.StatusOK, "GET", "/v2/apps/r/versions/"+tc.version, "")
		body := r.object(t)
		if body["id"] != "/r" || body["version"] != tc.version || !cmp.Equal(body["labels"], tc.labels) {
			t.Errorf("%s = id %v, version %v, labels %v; want the bare app /r at %s with labels %v", r, body["id"], body["version"], body["labels"], tc.version, tc.labels)
		}
		if _, wrapped := body["app"]; wrapped {
			t.Errorf("%s is wrapped in {app}; want the app itself", r)
		}
	}
	for _, tc := range []struct{ path, msg string }{
		{"/v2/apps/r/versions/2001-01-01T00:00:00.000Z", "App '/r' does not exist in version 2001-01-01T00:00:00.000Z"},
		{"/v2/apps/r/versions/bogus", "App '/r' does not exist in version bogus"},
		{"/v2/apps/r/versions/%00", "App '/r' does not exist in version \x00"},
		{"/v2/apps/nope/versions", "App '/nope' does not exist"},
		{"/v2/apps/nope/versions/" + v1, "App '/nope' does not exist in version " + v1},
		{"/v2/apps/a%00b/versions", "App '/a\x00b' does not exist"},
	} {
		wantError(t, s.do("GET", tc.path, ""), http.StatusNotFound, tc.msg)
	}
}

// --- tasks -----------------------------------------------------------------------

func TestTasks(t *testing.T) {
	s := startServer(t, newDB(t))
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/t/web","cmd":"sleep 1","instances":2}`)
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/t/worker","cmd":"sleep 1","instances":1}`)
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/t/empty","cmd":"sleep 1","instances":0}`)

	r := s.must(http.StatusOK, "GET", "/v2/apps/t/empty/tasks", "")
	if string(bytes.TrimSpace(r.body)) != `{"tasks":[]}` {
		t.Errorf("%s = %s; want {\"tasks\":[]}", r, r.body)
	}
	r = s.must(http.StatusOK, "GET", "/v2/tasks", "")
	if string(bytes.TrimSpace(r.body)) != `{"tasks":[]}` {
		t.Errorf("%s = %s; want {\"tasks\":[]}", r, r.body)
	}

	// Tasks as if the kernel had launched them.
	web1 := s.seedTask("/t/web", "h1", mesos.TaskRunning)
	web2 := s.seedTask("/t/web", "h2", mesos.TaskRunning)
	work := s.seedTask("/t/worker", "h1", mesos.TaskStaging)
	for _, tid := range []string{web1, web2, work} {
		if id, ok := app.AppIDOfTask(tid); !ok || !strings.HasPrefix(tid, "t_") {
			t.Errorf("task id %q = app %q, %v; want <app path with / as _>.<uuid>", tid, id, ok)
		}
	}

	r = s.must(http.StatusOK, "GET", "/v2/apps/t/web/tasks", "")
	tasks, _ := r.object(t)["tasks"].([]any)
	if got := ids(tasks); len(got) != 2 || !slices.Contains(got, web1) || !slices.Contains(got, web2) {
		t.Errorf("%s ids = %v; want %s and %s", r, got, web1, web2)
	}
	wantKeys := []string{"appId", "healthCheckResults", "host", "id", "ipAddresses", "localVolumes", "ports", "role", "servicePorts", "slaveId", "stagedAt", "startedAt", "state", "version"}
	if got := keysOf(get(tasks, 0)); !slices.Equal(got, wantKeys) {
		t.Errorf("%s task keys = %v; want %v", r, got, wantKeys)
	}
	if got := get(tasks, 0, "state"); got != "TASK_RUNNING" {
		t.Errorf("%s task state = %v; want TASK_RUNNING", r, got)
	}
	a := s.app("/t/web")
	if a["tasksRunning"] != 2.0 || a["tasksStaged"] != 0.0 || len(ids(a["tasks"])) != 2 {
		t.Errorf("GET /v2/apps/t/web = tasksRunning %v, tasksStaged %v, %d tasks; want 2, 0, 2", a["tasksRunning"], a["tasksStaged"], len(ids(a["tasks"])))
	}
	if a := s.app("/t/worker"); a["tasksStaged"] != 1.0 || a["tasksRunning"] != 0.0 {
		t.Errorf("GET /v2/apps/t/worker = tasksStaged %v, tasksRunning %v; want 1, 0", a["tasksStaged"], a["tasksRunning"])
	}

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{web1, web2, work}},
		{"?status=running", []string{web1, web2}},
		{"?status=staging", []string{work}},
		{"?status[]=running&status[]=staging", []string{web1, web2, work}},
	} {
		r := s.must(http.StatusOK, "GET", "/v2/tasks"+tc.query, "")
		got := ids(r.object(t)["tasks"])
		slices.Sort(got)
		want := slices.Sorted(slices.Values(tc.want))
		if !slices.Equal(got, want) {
			t.Errorf("%s = %v; want %v", r, got, want)
		}
	}

	r = s.must(http.StatusOK, "GET", "/v2/apps/t/web/tasks/"+web1, "")
	if got := get(r.json(t), "task", "id"); got != web1 {
		t.Errorf("%s task.id = %v; want %s", r, got, web1)
	}
	unknown := "t_web.00000000-0000-0000-0000-000000000000"
	for _, tc := range []struct{ method, path string }{
		{"GET", "/v2/apps/t/web/tasks/" + unknown},
		{"GET", "/v2/apps/t/worker/tasks/" + web1},
		{"DELETE", "/v2/apps/t/web/tasks/" + unknown},
	} {
		wantError(t, s.do(tc.method, tc.path, ""), http.StatusNotFound, "Task '"+strings.TrimPrefix(tc.path[strings.LastIndex(tc.path, "/"):], "/")+"' does not exist")
	}
	wantError(t, s.do("GET", "/v2/apps/nope/tasks", ""), http.StatusNotFound, "App '/nope' does not exist")
	wantError(t, s.do("DELETE", "/v2/apps/nope/tasks", ""), http.StatusNotFound, "App '/nope' does not exist")

	// Killing with scale=true scales the app down by the tasks killed.
	r = s.do("DELETE", "/v2/apps/t/web/tasks?host=h1&scale=true&force=true", "")
	depID, _ := deploymentResultOf(t, r, http.StatusOK)
	if got := s.deploymentActions(depID); got != nil && !slices.Equal(got, []string{"ScaleApplication /t/web"}) {
		t.Errorf("%s deployment actions = %v; want [ScaleApplication /t/web]", r, got)
	}
	if got := s.app("/t/web")["instances"]; got != 1.0 {
		t.Errorf("after killing one task with scale=true, instances = %v; want 1", got)
	}
	r = s.do("DELETE", "/v2/apps/t/web/tasks/"+web2+"?scale=true&force=true", "")
	deploymentResultOf(t, r, http.StatusOK)
	if got := s.app("/t/web")["instances"]; got != 0.0 {
		t.Errorf("after killing the other task with scale=true, instances = %v; want 0", got)
	}

	// Without scale the killed tasks are returned.
	r = s.must(http.StatusOK, "DELETE", "/v2/apps/t/worker/tasks", "")
	if got := ids(r.object(t)["tasks"]); !slices.Equal(got, []string{work}) {
		t.Errorf("%s tasks = %v; want [%s]", r, got, work)
	}
	r = s.must(http.StatusOK, "DELETE", "/v2/apps/t/empty/tasks", "")
	if string(bytes.TrimSpace(r.body)) != `{"tasks":[]}` {
		t.Errorf("%s = %s; want {\"tasks\":[]}", r, r.body)
	}

	// POST /v2/tasks/delete.
	for _, tc := range []struct {
		name, body string
		code       int
		msg        string
	}{
		{"malformed id", `{"ids":["not-a-task-id"]}`, 400, "Invalid task id 'not-a-task-id'"},
		{"one malformed id among valid ones", `{"ids":["` + unknown + `","web_"]}`, 400, "Invalid task id 'web_'"},
		{"malformed JSON", `{"ids":`, 400, "Invalid JSON"},
		{"ids not an array", `{"ids":"x"}`, 400, "Invalid JSON"},
	} {
		t.Run("tasks/delete/"+tc.name, func(t *testing.T) {
			s := s.with(t)
			wantError(t, s.do("POST", "/v2/tasks/delete", tc.body), tc.code, tc.msg)
		})
	}
	r = s.must(http.StatusOK, "POST", "/v2/tasks/delete", `{"ids":["`+unknown+`","other.11111111-1111-1111-1111-111111111111"]}`)
	if string(bytes.TrimSpace(r.body)) != `{"tasks":[]}` {
		t.Errorf("%s unknown ids = %s; want {\"tasks\":[]}", r, r.body)
	}
	r = s.must(http.StatusOK, "POST", "/v2/tasks/delete", `{"ids":["`+work+`"]}`)
	if got := ids(r.object(t)["tasks"]); !slices.Equal(got, []string{work}) {
		t.Errorf("%s tasks = %v; want [%s]", r, got, work)
	}
	w2 := s.seedTask("/t/worker", "h3", mesos.TaskRunning)
	r = s.do("POST", "/v2/tasks/delete?scale=true&force=true", `{"ids":["`+w2+`"]}`)
	deploymentResultOf(t, r, http.StatusOK)
	if got := s.app("/t/worker")["instances"]; got != 0.0 {
		t.Errorf("after POST /v2/tasks/delete?scale=true, /t/worker instances = %v; want 0", got)
	}
}

// --- /v2/deployments ---------------------------------------------------------------

func TestDeployments(t *testing.T) {
	s := startServer(t, newDB(t))
	r := s.must(http.StatusOK, "GET", "/v2/deployments", "")
	if string(bytes.TrimSpace(r.body)) != `[]` {
		t.Errorf("%s = %s; want []", r, r.body)
	}

	// A start that waits for offers, and a scale of an app that had none.
	start := s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/dep/created","cmd":"sleep 1","instances":2}`).header.Get("Marathon-Deployment-Id")
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/dep/scaled","cmd":"sleep 1","instances":0}`)
	s.settle("/dep/scaled")
	nextMillisecond()
	scale, _ := deploymentResultOf(t, s.do("PUT", "/v2/apps/dep/scaled", `{"instances":1}`), http.StatusOK)

	r = s.must(http.StatusOK, "GET", "/v2/deployments", "")
	list, _ := r.json(t).([]any)
	// Deployments made in the same millisecond may come in either order;
	// the golden file lists them by app. (Their objects have sorted keys,
	// so re-encoding keeps the shape.)
	slices.SortFunc(list, func(a, b any) int {
		return strings.Compare(fmt.Sprint(get(a, "affectedApps", 0)), fmt.Sprint(get(b, "affectedApps", 0)))
	})
	sorted := r
	sorted.body, _ = json.Marshal(list)
	golden(t, "deployments", sorted)
	if len(list) != 2 {
		t.Fatalf("%s = %d deployments; want 2", r, len(list))
	}
	for _, d := range list {
		for _, k := range []string{"id", "version", "affectedApps", "steps", "currentActions", "currentStep", "totalSteps"} {
			if get(d, k) == nil {
				t.Errorf("%s deployment %v has no %s", r, get(d, "id"), k)
			}
		}
	}
	if got := s.deploymentActions(start); !slices.Equal(got, []string{"StartApplication /dep/created"}) {
		t.Errorf("actions of %s = %v; want [StartApplication /dep/created]", start, got)
	}

	// Rolling back a start deletes the app.
	r = s.do("DELETE", "/v2/deployments/"+start, "")
	rb, _ := deploymentResultOf(t, r, http.StatusOK)
	if slices.Contains(s.deploymentIDs(), start) {
		t.Errorf("%s: the deployment is still listed", r)
	}
	wantError(t, s.do("GET", "/v2/apps/dep/created", ""), http.StatusNotFound, "App '/dep/created' does not exist")
	eventually(t, "the rolled-back app and its rollback leave the store", func() bool {
		return !slices.Contains(s.storedApps(), "/dep/created") && !slices.Contains(s.storedDeployments(), rb) && !slices.Contains(s.storedDeployments(), start)
	})

	// Rolling back a scale returns the app to its previous definition.
	r = s.do("DELETE", "/v2/deployments/"+scale, "")
	deploymentResultOf(t, r, http.StatusOK)
	if got := s.app("/dep/scaled")["instances"]; got != 0.0 {
		t.Errorf("after rolling back the scale, instances = %v; want 0", got)
	}
	s.settle("/dep/scaled")
	if slices.Contains(s.deploymentIDs(), scale) {
		t.Errorf("%s: the deployment is still listed", r)
	}

	// A config change rolled back restores the old command.
	deploymentResultOf(t, s.do("PUT", "/v2/apps/dep/scaled", `{"cmd":"sleep 2","instances":3}`), http.StatusOK)
	a := s.app("/dep/scaled")
	change := ids(a["deployments"])
	if len(change) != 1 {
		t.Fatalf("/dep/scaled deployments = %v; want one", change)
	}
	deploymentResultOf(t, s.do("DELETE", "/v2/deployments/"+change[0], ""), http.StatusOK)
	if a := s.app("/dep/scaled"); a["cmd"] != "sleep 1" || a["instances"] != 0.0 {
		t.Errorf("after rolling back the change, cmd %v, instances %v; want sleep 1, 0", a["cmd"], a["instances"])
	}
	s.settle("/dep/scaled")

	// force=true just forgets the deployment: the app keeps its new definition.
	change2, _ := deploymentResultOf(t, s.do("PUT", "/v2/apps/dep/scaled", `{"cmd":"sleep 3","instances":2}`), http.StatusOK)
	r = s.do("DELETE", "/v2/deployments/"+change2+"?force=true", "")
	if r.code != http.StatusAccepted || len(r.body) != 0 {
		t.Errorf("%s?force=true = %d %q; want 202 without a body", r, r.code, r.body)
	}
	if slices.Contains(s.deploymentIDs(), change2) {
		t.Errorf("%s: the deployment is still listed", r)
	}
	eventually(t, "the forced-out deployment leaves the store", func() bool { return !slices.Contains(s.storedDeployments(), change2) })
	if a := s.app("/dep/scaled"); a["cmd"] != "sleep 3" || a["instances"] != 2.0 || len(ids(a["deployments"])) != 0 {
		t.Errorf("after DELETE ?force=true, cmd %v, instances %v, deployments %v; want sleep 3, 2, none", a["cmd"], a["instances"], a["deployments"])
	}

	// An abandoned delete still deletes: the app goes once its instances
	// are gone, though no deployment finishes for it.
	del, _ := deploymentResultOf(t, s.do("DELETE", "/v2/apps/dep/scaled", ""), http.StatusOK)
	r = s.do("DELETE", "/v2/deployments/"+del+"?force=true", "")
	if r.code != http.StatusAccepted && r.code != http.StatusNotFound {
		t.Errorf("%s?force=true = %d %q; want 202 (or 404 had it finished)", r, r.code, r.body)
	}
	eventually(t, "the app of an abandoned delete is removed", func() bool {
		return s.do("GET", "/v2/apps/dep/scaled", "").code == http.StatusNotFound && !slices.Contains(s.storedApps(), "/dep/scaled")
	})

	for _, q := range []string{"", "?force=true"} {
		wantError(t, s.do("DELETE", "/v2/deployments/"+start+q, ""), http.StatusNotFound, "DeploymentPlan "+start+" does not exist")
		wantError(t, s.do("DELETE", "/v2/deployments/nope"+q, ""), http.StatusNotFound, "DeploymentPlan nope does not exist")
	}
}

// --- /v2/groups --------------------------------------------------------------------

func TestGroups(t *testing.T) {
	s := startServer(t, newDB(t))
	r := s.must(http.StatusOK, "GET", "/v2/groups", "")
	if body := r.object(t); body["id"] != "/" || len(ids(body["apps"])) != 0 || len(ids(body["groups"])) != 0 {
		t.Errorf("%s on an empty service = %s; want the empty root group", r, r.body)
	}

	shop := `{"id":"/shop","apps":[
		{"id":"web","cmd":"sleep 1","instances":0},
		{"id":"/shop/api","cmd":"sleep 2","instances":0}],
		"groups":[{"id":"db","apps":[{"id":"pg","cmd":"sleep 3","instances":0}]}]}`
	r = s.do("POST", "/v2/groups", shop)
	deploymentResultOf(t, r, http.StatusCreated)
	if got := r.header.Get("Location"); got != "/shop" {
		t.Errorf("%s Location = %q; want /shop", r, got)
	}
	for _, id := range []string{"/shop/web", "/shop/api", "/shop/db/pg"} {
		s.app(id)
	}
	wantError(t, s.do("POST", "/v2/groups", shop), http.StatusConflict, "Group /shop is already created. Use PUT to change this group.")
	s.settle("/shop/web", "/shop/api", "/shop/db/pg")

	// Groups implied by app ids sit next to explicit ones.
	nextMillisecond()
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/lone/app","cmd":"sleep 1","instances":0}`)
	r = s.must(http.StatusOK, "GET", "/v2/groups", "")
	golden(t, "groups", r)
	root := r.object(t)
	if got := ids(root["groups"]); !slices.Equal(got, []string{"/lone", "/shop"}) {
		t.Errorf("%s groups = %v; want [/lone /shop]", r, got)
	}

	tree := []struct {
		path       string
		apps, subs []string
	}{
		{"/v2/groups/shop", []string{"/shop/api", "/shop/web"}, []string{"/shop/db"}},
		{"/v2/groups/shop/db", []string{"/shop/db/pg"}, []string{}},
		{"/v2/groups/lone", []string{"/lone/app"}, []string{}},
	}
	for _, tc := range tree {
		r := s.must(http.StatusOK, "GET", tc.path, "")
		body := r.object(t)
		if got := ids(body["apps"]); !slices.Equal(got, tc.apps) {
			t.Errorf("%s apps = %v; want %v", r, got, tc.apps)
		}
		if got := ids(body["groups"]); !slices.Equal(got, tc.subs) {
			t.Errorf("%s groups = %v; want %v", r, got, tc.subs)
		}
		for _, k := range []string{"id", "apps", "groups", "pods", "dependencies", "version"} {
			if _, ok := body[k]; !ok {
				t.Errorf("%s has no %s", r, k)
			}
		}
	}
	r = s.must(http.StatusOK, "GET", "/v2/groups/shop?embed=group.apps.tasks", "")
	if got := get(r.json(t), "apps", 0, "tasks"); !cmp.Equal(got, []any{}) {
		t.Errorf("%s apps[0].tasks = %v; want []", r, got)
	}

	// PUT makes the group hold exactly what is given.
	r = s.do("PUT", "/v2/groups/shop", `{"apps":[{"id":"web","cmd":"sleep 9","instances":0}]}`)
	deploymentResultOf(t, r, http.StatusOK)
	s.settle("/shop/web", "/shop/api", "/shop/db/pg")
	if got := s.app("/shop/web")["cmd"]; got != "sleep 9" {
		t.Errorf("after PUT /v2/groups/shop, /shop/web cmd = %v; want sleep 9", got)
	}
	for _, id := range []string{"/shop/api", "/shop/db/pg"} {
		wantError(t, s.do("GET", "/v2/apps"+id, ""), http.StatusNotFound, "App '"+id+"' does not exist")
	}

	// DELETE removes the group's apps.
	r = s.do("DELETE", "/v2/groups/shop", "")
	deploymentResultOf(t, r, http.StatusOK)
	wantError(t, s.do("GET", "/v2/apps/shop/web", ""), http.StatusNotFound, "App '/shop/web' does not exist")
	wantError(t, s.do("GET", "/v2/groups/shop", ""), http.StatusNotFound, "Group '/shop' does not exist")
	eventually(t, "the store holds only /lone/app", func() bool {
		return slices.Equal(s.storedApps(), []string{"/lone/app"}) && len(s.storedGroups()) == 0
	})
	for _, method := range []string{"GET", "DELETE"} {
		wantError(t, s.do(method, "/v2/groups/nope", ""), http.StatusNotFound, "Group '/nope' does not exist")
	}

	// POST under a group resolves the body's id against the path; PATCH
	// adds without removing.
	r = s.do("POST", "/v2/groups/parent", `{"id":"child","apps":[{"id":"a","cmd":"sleep 1","instances":0}]}`)
	deploymentResultOf(t, r, http.StatusCreated)
	if got := r.header.Get("Location"); got != "/parent/child" {
		t.Errorf("%s Location = %q; want /parent/child", r, got)
	}
	s.settle("/parent/child/a")
	deploymentResultOf(t, s.do("PATCH", "/v2/groups/parent/child", `{"apps":[{"id":"b","cmd":"sleep 1","instances":0}]}`), http.StatusOK)
	s.settle("/parent/child/a", "/parent/child/b", "/lone/app")
	r = s.must(http.StatusOK, "GET", "/v2/groups/parent/child", "")
	if got := ids(r.object(t)["apps"]); !slices.Equal(got, []string{"/parent/child/a", "/parent/child/b"}) {
		t.Errorf("%s apps = %v; want [/parent/child/a /parent/child/b]", r, got)
	}

	// DELETE /v2/groups deletes every app.
	deploymentResultOf(t, s.do("DELETE", "/v2/groups", ""), http.StatusOK)
	r = s.must(http.StatusOK, "GET", "/v2/apps", "")
	if got := ids(r.object(t)["apps"]); len(got) != 0 {
		t.Errorf("after DELETE /v2/groups, %s = %v; want no apps", r, got)
	}
	eventually(t, "the store holds no apps and no groups", func() bool {
		return len(s.storedApps()) == 0 && len(s.storedGroups()) == 0
	})
}

func TestGroupsBadInput(t *testing.T) {
	s := startServer(t, newDB(t))
	// An app held by a deployment that never ends (no kernel).
	s.must(http.StatusCreated, "POST", "/v2/groups", `{"id":"/held","apps":[{"id":"app","cmd":"sleep 1","instances":1}]}`)

	tests := []struct {
		name, method, path, body string
		code                     int
		msg                      string
	}{
		{"malformed JSON", "POST", "/v2/groups", `{"id":`, 400, "Invalid JSON"},
		{"apps not an array", "POST", "/v2/groups", `{"id":"/g","apps":{}}`, 400, "Invalid JSON"},
		{"app with a malformed field", "POST", "/v2/groups", `{"id":"/g","apps":[{"id":"a","cmd":"x","cpus":"many"}]}`, 400, "Invalid JSON"},
		{"invalid group id", "POST", "/v2/groups", `{"id":"/Bad_Group","apps":[{"id":"a","cmd":"x"}]}`, 422, "Object is not valid"},
		{"invalid subgroup id", "POST", "/v2/groups", `{"id":"/g","groups":[{"id":"Bad_Sub"}]}`, 422, "Object is not valid"},
		{"invalid nested subgroup id", "PUT", "/v2/groups/g", `{"groups":[{"id":"ok","groups":[{"id":"a..b"}]}]}`, 422, "Object is not valid"},
		{"app without id", "POST", "/v2/groups", `{"id":"/g","apps":[{"cmd":"x"}]}`, 422, "Object is not valid"},
		{"invalid app", "POST", "/v2/groups", `{"id":"/g","apps":[{"id":"a","cmd":"x","instances":-1}]}`, 422, "Object is not valid"},
		{"invalid app id", "POST", "/v2/groups", `{"id":"/g","apps":[{"id":"A","cmd":"x"}]}`, 422, "Object is not valid"},
		{"app locked (PUT)", "PUT", "/v2/groups/g", `{"apps":[{"id":"/held/app","cmd":"sleep 2"}]}`, 409, "App is locked…"},
		{"app locked (POST)", "POST", "/v2/groups", `{"id":"/g","apps":[{"id":"/held/app","cmd":"sleep 2"}]}`, 409, "App is locked…"},
		{"group's apps locked (DELETE)", "DELETE", "/v2/groups/held", ``, 409, "App is locked…"},
		{"unknown group", "DELETE", "/v2/groups/g", ``, 404, "Group '/g' does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := s.with(t)
			wantError(t, s.do(tc.method, tc.path, tc.body), tc.code, tc.msg)
		})
	}
	// Nothing of the rejected requests was stored.
	wantError(t, s.do("GET", "/v2/groups/g", ""), http.StatusNotFound, "Group '/g' does not exist")
	if got := s.storedGroups(); !slices.Equal(got, []string{"/held"}) {
		t.Errorf("stored groups = %v; want [/held]", got)
	}
	if got := s.storedApps(); !slices.Equal(got, []string{"/held/app"}) {
		t.Errorf("stored apps = %v; want [/held/app]", got)
	}
	if got := s.app("/held/app")["cmd"]; got != "sleep 1" {
		t.Errorf("/held/app cmd = %v; want sleep 1", got)
	}
	r := s.must(http.StatusOK, "GET", "/v2/groups/held", "")
	if got := ids(r.object(t)["apps"]); !slices.Equal(got, []string{"/held/app"}) {
		t.Errorf("%s apps = %v; want [/held/app]", r, got)
	}

	// force=true overrides the lock.
	deploymentResultOf(t, s.do("DELETE", "/v2/groups/held?force=true", ""), http.StatusOK)
	wantError(t, s.do("GET", "/v2/groups/held", ""), http.StatusNotFound, "Group '/held' does not exist")
}

// --- /v2/queue -----------------------------------------------------------------------

func TestQueue(t *testing.T) {
	s := startServer(t, newDB(t))
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/q/waiting","cmd":"sleep 1","instances":2,"backoffSeconds":60}`)
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/q/idle","cmd":"sleep 1","instances":0}`)

	queue := func(query string) []any {
		t.Helper()
		r := s.must(http.StatusOK, "GET", "/v2/queue"+query, "")
		body := r.object(t)
		if got := keysOf(body); !slices.Equal(got, []string{"queue"}) {
			t.Errorf("%s keys = %v; want [queue]", r, got)
		}
		q, _ := body["queue"].([]any)
		return q
	}
	q := queue("")
	if len(q) != 1 {
		t.Fatalf("GET /v2/queue = %d items; want 1 (only the app waiting to launch)", len(q))
	}
	item := q[0]
	wantKeys := []string{"app", "count", "delay", "processedOffersSummary", "role", "since", "waiting"}
	if got := keysOf(item); !slices.Equal(got, wantKeys) {
		t.Errorf("GET /v2/queue item keys = %v; want %v", got, wantKeys)
	}
	checks := []struct {
		field string
		got   any
		want  any
	}{
		{"app.id", get(item, "app", "id"), "/q/waiting"},
		{"count", get(item, "count"), 2.0},
		{"role", get(item, "role"), "*"},
		{"delay", get(item, "delay"), map[string]any{"timeLeftSeconds": 0.0, "overdue": true}},
		{"processedOffersSummary.processedOffersCount", get(item, "processedOffersSummary", "processedOffersCount"), 0.0},
		{"processedOffersSummary.unusedOffersCount", get(item, "processedOffersSummary", "unusedOffersCount"), 0.0},
		{"processedOffersSummary.rejectSummaryLastOffers", get(item, "processedOffersSummary", "rejectSummaryLastOffers"), []any{}},
	}
	for _, c := range checks {
		if !cmp.Equal(c.got, c.want) {
			t.Errorf("GET /v2/queue item %s = %v; want %v", c.field, c.got, c.want)
		}
	}
	if since, _ := get(item, "since").(string); !versionRe.MatchString(since) {
		t.Errorf("GET /v2/queue item since = %q; want a timestamp", since)
	}
	if _, ok := queue("?embed=lastUnusedOffers")[0].(map[string]any)["lastUnusedOffers"]; !ok {
		t.Error("GET /v2/queue?embed=lastUnusedOffers item has no lastUnusedOffers")
	}

	// After failures the launch is delayed; DELETE …/delay lifts it.
	err := s.svc.do(t.Context(), func(c *core) {
		as := c.apps["/q/waiting"]
		as.backoff = as.backoff.Failed(time.Now()).Failed(time.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	delay := get(queue("")[0], "delay")
	if left, _ := get(delay, "timeLeftSeconds").(float64); left < 30 || get(delay, "overdue") != false {
		t.Errorf("after two failures, delay = %v; want about a minute left, not overdue", delay)
	}
	r := s.must(http.StatusOK, "DELETE", "/v2/queue/q/waiting/delay", "")
	if len(r.body) != 0 {
		t.Errorf("%s body = %q; want none", r, r.body)
	}
	if delay := get(queue("")[0], "delay"); !cmp.Equal(delay, map[string]any{"timeLeftSeconds": 0.0, "overdue": true}) {
		t.Errorf("after DELETE /v2/queue/q/waiting/delay, delay = %v; want 0 left, overdue", delay)
	}
	s.must(http.StatusOK, "DELETE", "/v2/queue/q/idle/delay", "")
	wantError(t, s.do("DELETE", "/v2/queue/nope/delay", ""), http.StatusNotFound, "Application /nope not found in tasks queue.")
	wantError(t, s.do("DELETE", "/v2/queue/q/waiting", ""), http.StatusNotFound, "Not found: /v2/queue/q/waiting")
}

// --- /v2/events -------------------------------------------------------------------

func TestEvents(t *testing.T) {
	s := startServer(t, newDB(t))

	all, stopAll := s.openEvents("")
	defer stopAll()
	attached := nextFrame(t, all)
	if attached.event != "event_stream_attached" || attached.id != "" {
		t.Fatalf("first frame = %+v; want event_stream_attached without an id", attached)
	}
	var payload map[string]any
	if err := json.Unmarshal([]byte(attached.data), &payload); err != nil || payload["eventType"] != "event_stream_attached" {
		t.Errorf("event_stream_attached data = %s (%v); want JSON with eventType", attached.data, err)
	}
	posts, stopPosts := s.openEvents("?event_type=api_post_event")
	defer stopPosts()
	if f := nextFrame(t, posts); f.event != "event_stream_attached" {
		t.Fatalf("filtered stream's first frame = %s; want event_stream_attached", f.event)
	}

	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/ev/one","cmd":"sleep 1","instances":1}`)
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/ev/two","cmd":"sleep 1","instances":1}`)

	// Read every frame of both POSTs.
	var got []frame
	seen := map[string]int{}
	for seen["api_post_event"] < 2 || seen["deployment_info"] < 2 {
		f := nextFrame(t, all)
		got = append(got, f)
		seen[f.event]++
	}
	var prev uint64
	for _, f := range got {
		var id uint64
		if _, err := fmt.Sscan(f.id, &id); err != nil || id <= prev {
			t.Errorf("frame %s has id %q; want a number above %d", f.event, f.id, prev)
		}
		prev = id
		var p map[string]any
		if err := json.Unmarshal([]byte(f.data), &p); err != nil {
			t.Errorf("frame %s data is not JSON: %s", f.event, f.data)
			continue
		}
		if p["eventType"] != f.event || p["timestamp"] == nil {
			t.Errorf("frame %s data = %s; want eventType %s and a timestamp", f.event, f.data, f.event)
		}
		if f.event == "api_post_event" && get(p, "appDefinition", "id") == nil {
			t.Errorf("api_post_event data = %s; want the appDefinition", f.data)
		}
	}

	// The filtered stream has only the two api_post_events.
	for _, want := range []string{"/ev/one", "/ev/two"} {
		f := nextFrame(t, posts)
		if f.event != "api_post_event" || !strings.Contains(f.data, `"id":"`+want+`"`) {
			t.Errorf("filtered frame = %s %s; want api_post_event of %s", f.event, f.data, want)
		}
	}

	// Reconnecting after the first POST's last frame replays exactly the
	// second POST's frames.
	cut := 0
	for i, f := range got {
		if f.event == "api_post_event" {
			cut = i + 1
			break
		}
	}
	replay, stopReplay := s.openEvents("", "Last-Event-ID: "+got[cut-1].id)
	defer stopReplay()
	if f := nextFrame(t, replay); f.event != "event_stream_attached" || !strings.Contains(f.data, `"eventsMissed":false`) {
		t.Errorf("replay's first frame = %s %s; want event_stream_attached with eventsMissed false", f.event, f.data)
	}
	for _, want := range got[cut:] {
		if f := nextFrame(t, replay); f != want {
			t.Errorf("replayed frame = %+v; want %+v", f, want)
		}
	}

	// A third POST is the barrier: the bus orders every stream alike, so
	// what the full stream has next, up to the third POST's
	// api_post_event, must come next on the replayed one, and that
	// api_post_event next on the filtered one.
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/ev/three","cmd":"sleep 1","instances":1}`)
	var third []frame
	for len(third) == 0 || third[len(third)-1].event != "api_post_event" {
		third = append(third, nextFrame(t, all))
	}
	if f := nextFrame(t, posts); f != third[len(third)-1] {
		t.Errorf("filtered stream: next frame = %s (id %s); want the third POST's api_post_event (id %s), nothing before it", f.event, f.id, third[len(third)-1].id)
	}
	for _, want := range third {
		if f := nextFrame(t, replay); f != want {
			t.Errorf("replayed stream: next frame = %s (id %s); want %s (id %s), as on the full stream", f.event, f.id, want.event, want.id)
		}
	}

	for _, tc := range []struct {
		name    string
		headers []string
		code    int
	}{
		// Marathon answers 405; corral says what is wrong with 406.
		{"JSON only", []string{"Accept: application/json"}, http.StatusNotAcceptable},
		{"bad Last-Event-ID", []string{"Accept: text/event-stream", "Last-Event-ID: yesterday"}, http.StatusBadRequest},
	} {
		r := s.do("GET", "/v2/events", "", tc.headers...)
		if r.code != tc.code {
			t.Errorf("%s (%s) = %d %s; want %d", r, tc.name, r.code, r.body, tc.code)
		}
	}
	wantError(t, s.do("POST", "/v2/events", ""), http.StatusMethodNotAllowed, "Method POST is not allowed on /v2/events")
}

// --- /v2/info, /v2/leader, /ping, /metrics, unknown routes ----------------------------------

func TestSystemEndpoints(t *testing.T) {
	s := startServer(t, newDB(t))
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/sys/a","cmd":"sleep 1","instances":1}`)
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/sys/b","cmd":"sleep 1","instances":0}`)
	s.settle("/sys/b")
	hostPort := strings.TrimPrefix(s.base, "http://")

	r := s.must(http.StatusOK, "GET", "/v2/info", "")
	info := r.object(t)
	for _, k := range []string{"name", "version", "buildref", "elected", "leader", "frameworkId", "marathon_config", "zookeeper_config", "http_config", "event_subscriber"} {
		if _, ok := info[k]; !ok {
			t.Errorf("%s has no %s", r, k)
		}
	}
	if info["leader"] != hostPort || info["elected"] != true || info["frameworkId"] != "" {
		t.Errorf("%s = leader %v, elected %v, frameworkId %q; want %s, true, \"\" (never subscribed)", r, info["leader"], info["elected"], info["frameworkId"], hostPort)
	}
	for _, k := range []string{"master", "failover_timeout", "framework_name", "mesos_role", "mesos_user"} {
		if get(info, "marathon_config", k) == nil {
			t.Errorf("%s marathon_config has no %s", r, k)
		}
	}
	if got := get(info, "marathon_config", "master"); got != "http://127.0.0.1:1" {
		t.Errorf("%s marathon_config.master = %v; want http://127.0.0.1:1", r, got)
	}

	r = s.must(http.StatusOK, "GET", "/v2/leader", "")
	if body := r.object(t); len(body) != 1 || body["leader"] != hostPort {
		t.Errorf("%s = %s; want {\"leader\":%q}", r, r.body, hostPort)
	}

	pings := []struct {
		accept string
		code   int
		body   string
		ctype  string
	}{
		{"", 200, "pong", "text/plain"},
		{"text/plain", 200, "pong", "text/plain"},
		{"*/*", 200, "pong", "text/plain"},
		{"application/json", 200, `"pong"`, "application/json"},
		{"image/png", 204, "", ""},
	}
	for _, tc := range pings {
		var h []string
		if tc.accept != "" {
			h = append(h, "Accept: "+tc.accept)
		}
		r := s.do("GET", "/ping", "", h...)
		if r.code != tc.code || strings.TrimSpace(string(r.body)) != tc.body || !strings.HasPrefix(r.header.Get("Content-Type"), tc.ctype) {
			t.Errorf("%s with Accept %q = %d %q (%s); want %d %q (%s)", r, tc.accept, r.code, r.body, r.header.Get("Content-Type"), tc.code, tc.body, tc.ctype)
		}
	}

	r = s.must(http.StatusOK, "GET", "/health", "")
	if h := r.object(t); h["healthy"] != true || h["leader"] != true || h["database"] != "ok" {
		t.Errorf("%s = %s; want healthy, leading, database ok", r, r.body)
	}
	r = s.must(http.StatusOK, "GET", "/metrics", "")
	m := r.object(t)
	for _, k := range []string{"version", "gauges", "counters", "histograms", "meters", "timers"} {
		if _, ok := m[k]; !ok {
			t.Errorf("%s has no %s", r, k)
		}
	}
	for name, want := range map[string]float64{"services.apps": 2, "services.deployments": 1, "services.apps_waiting": 1, "services.connected": 0} {
		if got := get(m, "gauges", name, "value"); got != want {
			t.Errorf("%s gauges[%s].value = %v; want %v", r, name, got, want)
		}
	}
	r = s.must(http.StatusOK, "GET", "/metrics/prometheus", "")
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("%s Content-Type = %q; want text/plain", r, ct)
	}
	for _, line := range []string{"# TYPE corral_services_apps gauge", "corral_services_apps 2", "corral_services_deployments 1"} {
		if !slices.Contains(strings.Split(string(r.body), "\n"), line) {
			t.Errorf("%s has no line %q:\n%s", r, line, r.body)
		}
	}

	routes := []struct {
		method, path string
		code         int
		msg          string
	}{
		{"GET", "/nope", 404, "Not found: /nope"},
		{"GET", "/v2/nope", 404, "Not found: /v2/nope"},
		{"GET", "/v2/pods", 404, "Not found: /v2/pods"},
		{"DELETE", "/v2/info", 405, "Method DELETE is not allowed on /v2/info"},
		{"POST", "/ping", 405, "Method POST is not allowed on /ping"},
		{"DELETE", "/v2/tasks", 405, "Method DELETE is not allowed on /v2/tasks"},
		{"POST", "/v2/deployments", 405, "Method POST is not allowed on /v2/deployments"},
		{"POST", "/v2/apps/sys/a", 405, "Method POST is not allowed on /v2/apps/sys/a"},
		{"GET", "/v2/apps/sys/a/restart", 405, "Method GET is not allowed on /v2/apps/sys/a/restart"},
		{"PUT", "/v2/apps/sys/a/versions", 405, "Method PUT is not allowed on /v2/apps/sys/a/versions"},
		{"DELETE", "/v2/apps", 405, "Method DELETE is not allowed on /v2/apps"},
	}
	for _, tc := range routes {
		wantError(t, s.do(tc.method, tc.path, ""), tc.code, tc.msg)
	}
}

// --- persistence ---------------------------------------------------------------------

func TestRestartKeepsState(t *testing.T) {
	db := newDB(t)
	s := startServer(t, db)
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/keep/busy","cmd":"sleep 1","instances":2,"labels":{"k":"v"}}`)
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/keep/idle","cmd":"sleep 1","instances":0}`)
	s.settle("/keep/idle")
	deploymentResultOf(t, s.do("PUT", "/v2/apps/keep/idle", `{"env":{"A":"1"}}`), http.StatusOK)
	deploymentResultOf(t, s.do("POST", "/v2/groups", `{"id":"/team","dependencies":["/keep"],"apps":[{"id":"svc","cmd":"sleep 1","instances":0}]}`), http.StatusCreated)
	s.settle("/keep/idle", "/team/svc")

	paths := []string{"/v2/apps", "/v2/apps/keep/busy", "/v2/apps/keep/idle/versions", "/v2/deployments", "/v2/groups", "/v2/groups/team", "/v2/queue"}
	eventually(t, "finished deployments leave the store", func() bool {
		return slices.Equal(s.storedDeployments(), s.deploymentIDs())
	})
	before := map[string]string{}
	for _, p := range paths {
		before[p] = string(scrubSince(s.must(http.StatusOK, "GET", p, "").body))
	}
	s.stop()

	s2 := startServer(t, db)
	for _, p := range paths {
		after := string(scrubSince(s2.must(http.StatusOK, "GET", p, "").body))
		if diff := cmp.Diff(before[p], after); diff != "" {
			t.Errorf("GET %s after a restart differs (-before +after):\n%s", p, diff)
		}
	}
	if got := len(ids(s2.must(http.StatusOK, "GET", "/v2/deployments", "").json(t))); got != 1 {
		t.Errorf("after a restart, %d deployments; want the unfinished one", got)
	}
	// The restored deployment still locks its app.
	wantError(t, s2.do("PUT", "/v2/apps/keep/busy", `{"cmd":"sleep 2"}`), http.StatusConflict, "App is locked…")
}

// scrubSince blanks the queue's "since", which is when this process first
// saw the app waiting.
func scrubSince(b []byte) []byte {
	return regexp.MustCompile(`"since":"[^"]*"`).ReplaceAll(b, []byte(`"since":""`))
}

// A body past the edge's limit is refused with 413, before the API reads
// it whole.
func TestBodyTooLarge(t *testing.T) {
	s := startServer(t, newDB(t))
	big := `{"id":"/big","cmd":"` + strings.Repeat("x", 9<<20) + `"}`
	r := s.do("POST", "/v2/apps", big)
	wantError(t, r, http.StatusRequestEntityTooLarge, "request body is larger than 8388608 bytes")
	if got := s.storedApps(); len(got) != 0 {
		t.Errorf("stored apps = %v; want none", got)
	}
}
