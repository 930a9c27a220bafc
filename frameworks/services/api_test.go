package services

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// startServer starts a Service on db and returns once it serves. It stops
// when the test ends, or earlier through stop.
func startServer(t *testing.T, db string) *server {
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

// deploymentResult checks a {"deploymentId","version"} answer with its
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

// seedTask adds a task of appID to the framework's state, as if the kernel
// had launched it on host, and returns its id.
func (s *server) seedTask(appID, host string, state mesos.TaskState) string {
	s.t.Helper()
	tid := app.NewTaskID(appID)
	err := s.svc.do(s.t.Context(), func(c *core) {
		as := c.apps[appID]
		now := time.Now()
		c.instances[tid] = &instance{
			TaskID: tid, AppID: appID, Version: as.app.Version, ConfigVersion: configVersion(as.app),
			AgentID: "agent-" + host, Host: host, Ports: []uint64{31000}, State: state, StagedAt: now,
		}
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
	if err := json.Indent(&buf, out, "", "  "); err != nil {
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

// next returns the next frame, failing after 5s.
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

// noFrame fails if a frame arrives within d.
func noFrame(t *testing.T, ch <-chan frame, d time.Duration) {
	t.Helper()
	select {
	case f, ok := <-ch:
		if ok {
			t.Errorf("unexpected event %s (id %s): %s", f.event, f.id, f.data)
		}
	case <-time.After(d):
	}
}

var _ = errors.New
