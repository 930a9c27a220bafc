package jobs

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

	"corral/internal/migrate"
	"corral/internal/testpg"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/api")

func TestMain(m *testing.M) { testpg.Main(m) }

// server is a Service on its own database with no kernel behind it: the
// scheduler leads, but its client keeps retrying 127.0.0.1:1, so runs stay
// QUEUED. That is enough to check the shapes of the API.
type server struct {
	t    *testing.T
	db   string
	base string
	svc  *Service
	stop func()
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

// startServer starts a Service on db and returns once it serves and leads.
// It stops when the test ends, or earlier through stop.
func startServer(t *testing.T, db string) *server {
	t.Helper()
	s := startServerWith(t, db, nil)
	eventually(t, "the service leads", s.svc.Leading)
	return s
}

// startServerWith starts a Service on db, with its config changed by tweak
// (if not nil), and returns once it serves, leading or not. It stops when
// the test ends, or earlier through stop.
func startServerWith(t *testing.T, db string, tweak func(*Config)) *server {
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
	if tweak != nil {
		tweak(&cfg)
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
	stopped := false
	s := &server{t: t, db: db, base: "http://" + ln.Addr().String(), svc: svc}
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

// list decodes the body as a JSON array.
func (r response) list(t *testing.T) []any {
	t.Helper()
	a, ok := r.json(t).([]any)
	if !ok {
		t.Fatalf("%s: body is not a JSON array: %s", r, r.body)
	}
	return a
}

// do sends a request with an optional body and headers given as
// "Name: value" strings.
func (s *server) do(method, path, body string, headers ...string) response {
	s.t.Helper()
	r := s.try(method, path, body, headers...)
	if r.code >= 500 {
		// Nothing these tests send is the server's fault.
		s.t.Errorf("%s %s = %d %s; want no 5xx", method, path, r.code, bytes.TrimSpace(r.body))
	}
	return r
}

// try is do without the check for 5xx, for requests that may meet an
// election in progress (503: retry).
func (s *server) try(method, path, body string, headers ...string) response {
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

// wantJSONError checks an error answer: the status, a JSON body, and a
// message containing each of substrings. It returns the body.
func wantJSONError(t *testing.T, r response, code int, substrings ...string) map[string]any {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s = %d %s; want %d", r, r.code, bytes.TrimSpace(r.body), code)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s Content-Type = %q; want application/json", r, ct)
	}
	body := r.object(t)
	msg, _ := body["message"].(string)
	for _, sub := range substrings {
		if !strings.Contains(msg, sub) {
			t.Errorf("%s message = %q; want it to contain %q", r, msg, sub)
		}
	}
	return body
}

// wantChronosError checks Chronos' error shape {"message","status":"Bad
// Request"} with a 400 and a message naming each of substrings.
func wantChronosError(t *testing.T, r response, substrings ...string) {
	t.Helper()
	body := wantJSONError(t, r, http.StatusBadRequest, substrings...)
	if got := body["status"]; got != "Bad Request" {
		t.Errorf("%s status = %v; want \"Bad Request\"", r, got)
	}
}

// detailPaths returns the paths of a 422 answer's details, checking that
// each has errors.
func detailPaths(t *testing.T, r response, body map[string]any) []string {
	t.Helper()
	ds, ok := body["details"].([]any)
	if !ok {
		t.Fatalf("%s details = %v; want a list", r, body["details"])
	}
	var out []string
	for _, d := range ds {
		path, _ := get(d, "path").(string)
		errs, _ := get(d, "errors").([]any)
		if len(errs) == 0 {
			t.Errorf("%s detail %q has no errors", r, path)
		}
		out = append(out, path)
	}
	return out
}

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

// names returns the "name" of each object of a JSON array.
func names(v any) []string {
	out := []string{}
	a, _ := v.([]any)
	for _, x := range a {
		if n, ok := get(x, "name").(string); ok {
			out = append(out, n)
		}
	}
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

// jobNames lists GET /v1/jobs.
func (s *server) jobNames() []string {
	s.t.Helper()
	return names(s.must(http.StatusOK, "GET", "/v1/jobs", "").json(s.t))
}

// runsOf lists GET /v1/jobs/{name}/runs.
func (s *server) runsOf(name string) []any {
	s.t.Helper()
	return s.must(http.StatusOK, "GET", "/v1/jobs/"+name+"/runs", "").list(s.t)
}

// runsWhere returns the runs of job with the given trigger and state.
func (s *server) runsWhere(job, trigger, state string) []any {
	s.t.Helper()
	var out []any
	for _, r := range s.runsOf(job) {
		if get(r, "trigger") == trigger && get(r, "state") == state {
			out = append(out, r)
		}
	}
	return out
}

// --- golden files ------------------------------------------------------------

// volatile are the keys whose values change from run to run: they are
// replaced by "<key>" when not empty. Everything else (nextRun included:
// the golden jobs are scheduled in 2030) is compared as is; Metronome's
// nextRunAt is volatile, as its schedules are cron.
var volatile = map[string]bool{"version": true, "lastSuccess": true, "lastError": true, "nextRunAt": true}

func scrubValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && volatile[k] && s != "" {
				x[k] = "<" + k + ">"
				continue
			}
			x[k] = scrubValue(e)
		}
	case []any:
		for i, e := range x {
			x[i] = scrubValue(e)
		}
	}
	return v
}

// scrub replaces the volatile values of a JSON body and indents it with
// sorted keys.
func scrub(t *testing.T, r response) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(scrubValue(r.json(t))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// golden compares got with testdata/api/file, or rewrites the file with
// -update.
func golden(t *testing.T, file string, r response, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "api", file)
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

// openEvents connects to /v1/events and returns a channel of its frames,
// closed when the stream ends.
func (s *server) openEvents() <-chan frame {
	s.t.Helper()
	ctx, cancel := context.WithCancel(s.t.Context())
	s.t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", s.base+"/v1/events", nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("GET /v1/events: %v", err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		s.t.Fatalf("GET /v1/events = %d %s; want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
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
	return ch
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

// --- native API -----------------------------------------------------------------

// etlJob uses most fields of the native job. Its schedule starts in 2030,
// so no run comes due while the tests run and nextRun is fixed.
const etlJob = `{
	"name": "etl",
	"command": "run-etl --full",
	"cpus": 0.5,
	"mem": 256,
	"env": {"STAGE": "prod"},
	"owner": "data@example.com",
	"ownerName": "Data",
	"description": "nightly load",
	"labels": {"team": "data"},
	"constraints": [["rack", "EQUALS", "r1"]],
	"schedule": "R/2030-01-01T09:00:00/P1D",
	"timezone": "America/New_York",
	"retries": 1,
	"retryBackoffSeconds": 5,
	"timeoutSeconds": 600,
	"concurrencyPolicy": "forbid",
	"startingDeadlineSeconds": 120,
	"softError": true
}`

func TestNativeJobs(t *testing.T) {
	s := startServer(t, newDB(t))

	r := s.must(http.StatusCreated, "POST", "/v1/jobs", etlJob)
	if got := r.header.Get("Location"); got != "/v1/jobs/etl" {
		t.Errorf("%s Location = %q; want /v1/jobs/etl", r, got)
	}
	created := r.object(t)
	for k, want := range map[string]any{
		"successCount": 0.0, "errorCount": 0.0, "lastSuccess": "", "lastError": "",
		// 09:00 on the wall clock of New York, shown in its zone.
		"nextRun":           "2030-01-01T09:00:00-05:00",
		"concurrencyPolicy": "FORBID",
		"disk":              256.0,
	} {
		if got := created[k]; got != want {
			t.Errorf("%s %s = %#v; want %#v", r, k, got, want)
		}
	}
	if v, _ := created["version"].(string); v == "" {
		t.Errorf("%s version = %#v; want a version", r, created["version"])
	}

	got := s.must(http.StatusOK, "GET", "/v1/jobs/etl", "")
	golden(t, "native_job.json", got, scrub(t, got))
	if diff := cmp.Diff(created, got.object(t)); diff != "" {
		t.Errorf("GET /v1/jobs/etl differs from the POST answer (-post +get):\n%s", diff)
	}

	t.Run("duplicate", func(t *testing.T) {
		s := s.with(t)
		r := s.do("POST", "/v1/jobs", etlJob)
		wantJSONError(t, r, http.StatusConflict, `"etl"`, "already exists")
	})

	t.Run("unknown job", func(t *testing.T) {
		s := s.with(t)
		for _, m := range []string{"GET", "DELETE"} {
			wantJSONError(t, s.do(m, "/v1/jobs/nope", ""), http.StatusNotFound, `"nope"`)
		}
		wantJSONError(t, s.do("GET", "/v1/jobs/nope/runs", ""), http.StatusNotFound, `"nope"`)
		wantJSONError(t, s.do("POST", "/v1/jobs/nope/run", ""), http.StatusNotFound, `"nope"`)
		wantJSONError(t, s.do("GET", "/v1/nothing-here", ""), http.StatusNotFound, "/v1/nothing-here")
	})

	t.Run("put", func(t *testing.T) {
		s := s.with(t)
		body := strings.Replace(etlJob, `"nightly load"`, `"nightly load, v2"`, 1)
		r := s.must(http.StatusOK, "PUT", "/v1/jobs/etl", body)
		v := r.object(t)
		if v["description"] != "nightly load, v2" || v["version"] == created["version"] {
			t.Errorf("%s = description %v, version %v; want the new description and a new version", r, v["description"], v["version"])
		}
		if got := get(s.must(http.StatusOK, "GET", "/v1/jobs/etl", "").json(t), "description"); got != "nightly load, v2" {
			t.Errorf("GET /v1/jobs/etl description = %v; want the PUT's", got)
		}

		// The name in the body must match the URL.
		r = s.do("PUT", "/v1/jobs/etl", strings.Replace(body, `"name": "etl"`, `"name": "other"`, 1))
		b := wantJSONError(t, r, http.StatusUnprocessableEntity)
		if got := detailPaths(t, r, b); !slices.Equal(got, []string{"/name"}) {
			t.Errorf("%s detail paths = %v; want [/name]", r, got)
		}
		if got := s.jobNames(); !slices.Equal(got, []string{"etl"}) {
			t.Errorf("GET /v1/jobs = %v; want [etl]", got)
		}
	})

	t.Run("list", func(t *testing.T) {
		s := s.with(t)
		s.must(http.StatusCreated, "POST", "/v1/jobs", `{"name": "after-etl", "command": "true", "parents": ["etl"]}`)
		r := s.must(http.StatusOK, "GET", "/v1/jobs", "")
		list := r.list(t)
		if got := names(list); !slices.Equal(got, []string{"after-etl", "etl"}) {
			t.Fatalf("%s = %v; want [after-etl etl]", r, got)
		}
		child := list[0].(map[string]any)
		if _, ok := child["nextRun"]; ok {
			t.Errorf("%s after-etl nextRun = %v; want none for a dependent job", r, child["nextRun"])
		}
		if got := get(child, "parents"); !cmp.Equal(got, []any{"etl"}) {
			t.Errorf("%s after-etl parents = %v; want [etl]", r, got)
		}
		for _, k := range []string{"successCount", "errorCount", "lastSuccess", "lastError"} {
			if _, ok := child[k]; !ok {
				t.Errorf("%s after-etl has no %s", r, k)
			}
		}
	})
}

func TestNativeInvalid(t *testing.T) {
	s := startServer(t, newDB(t))
	s.must(http.StatusCreated, "POST", "/v1/jobs", `{"name": "a", "command": "true", "schedule": "@daily"}`)
	s.must(http.StatusCreated, "POST", "/v1/jobs", `{"name": "b", "command": "true", "parents": ["a"]}`)
	before := s.must(http.StatusOK, "GET", "/v1/jobs", "").body

	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   string
		code   int
		paths  []string // the details' paths (422), or words of the message (400)
		absent string   // a job that must not exist afterwards
	}{
		{"malformed JSON", "POST", "/v1/jobs", `{"name": "x", "command": `, 400, []string{"Invalid JSON", "malformed JSON"}, "x"},
		{"not an object", "POST", "/v1/jobs", `["x"]`, 400, []string{"Invalid JSON", "must be an object"}, ""},
		{"wrong type", "POST", "/v1/jobs", `{"name": "x", "command": "true", "schedule": "@daily", "cpus": "lots"}`, 400, []string{"/cpus", "must be a number"}, "x"},
		{"bad cron", "POST", "/v1/jobs", `{"name": "x", "command": "true", "schedule": "61 * * * *"}`, 422, []string{"/schedule"}, "x"},
		{"bad ISO 8601", "POST", "/v1/jobs", `{"name": "x", "command": "true", "schedule": "R/x/PT1H"}`, 422, []string{"/schedule"}, "x"},
		{"bad ISO 8601 period", "POST", "/v1/jobs", `{"name": "x", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/1H"}`, 422, []string{"/schedule"}, "x"},
		{"unknown zone", "POST", "/v1/jobs", `{"name": "x", "command": "true", "schedule": "@daily", "timezone": "Mars/Olympus"}`, 422, []string{"/timezone"}, "x"},
		{"name with space", "POST", "/v1/jobs", `{"name": "x y", "command": "true", "schedule": "@daily"}`, 422, []string{"/name"}, ""},
		{"name with slash", "POST", "/v1/jobs", `{"name": "x/y", "command": "true", "schedule": "@daily"}`, 422, []string{"/name"}, ""},
		{"empty name", "POST", "/v1/jobs", `{"name": "", "command": "true", "schedule": "@daily"}`, 422, []string{"/name"}, ""},
		{"negative resources", "POST", "/v1/jobs", `{"name": "x", "command": "true", "schedule": "@daily", "cpus": -1, "mem": -2, "disk": -3}`, 422, []string{"/cpus", "/mem", "/disk"}, "x"},
		{"schedule and parents", "POST", "/v1/jobs", `{"name": "x", "command": "true", "schedule": "@daily", "parents": ["a"]}`, 422, []string{"/"}, "x"},
		{"neither schedule nor parents", "POST", "/v1/jobs", `{"name": "x", "command": "true"}`, 422, []string{"/"}, "x"},
		{"unknown parent", "POST", "/v1/jobs", `{"name": "x", "command": "true", "parents": ["ghost"]}`, 422, []string{"/parents"}, "x"},
		{"cycle", "PUT", "/v1/jobs/a", `{"name": "a", "command": "true", "parents": ["b"]}`, 422, []string{"/parents"}, ""},
		{"own parent", "PUT", "/v1/jobs/b", `{"name": "b", "command": "true", "parents": ["b"]}`, 422, []string{"/parents(0)"}, ""},
		{"unknown concurrencyPolicy", "POST", "/v1/jobs", `{"name": "x", "command": "true", "schedule": "@daily", "concurrencyPolicy": "SOMETIMES"}`, 422, []string{"/concurrencyPolicy"}, "x"},
		{"no command", "POST", "/v1/jobs", `{"name": "x", "schedule": "@daily"}`, 422, []string{"/"}, "x"},
		{"bad run arguments", "POST", "/v1/jobs/a/run", `{"arguments": "not a list"}`, 422, []string{"/arguments"}, ""},
		{"bad run id", "GET", "/v1/jobs/a/runs/abc", "", 400, []string{`"abc"`, "not a number"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := s.with(t)
			r := s.do(tc.method, tc.path, tc.body)
			body := wantJSONError(t, r, tc.code)
			if tc.code == http.StatusUnprocessableEntity {
				got := detailPaths(t, r, body)
				for _, p := range tc.paths {
					if !slices.Contains(got, p) {
						t.Errorf("%s detail paths = %v; want %s among them\n%s", r, got, p, r.body)
					}
				}
			} else {
				all := fmt.Sprint(body)
				for _, w := range tc.paths {
					if !strings.Contains(all, w) {
						t.Errorf("%s = %s; want it to mention %s", r, r.body, w)
					}
				}
			}
			if tc.absent != "" {
				wantJSONError(t, s.do("GET", "/v1/jobs/"+tc.absent, ""), http.StatusNotFound)
			}
			if after := s.must(http.StatusOK, "GET", "/v1/jobs", "").body; !bytes.Equal(after, before) {
				t.Errorf("GET /v1/jobs = %s; want it unchanged by the refused request: %s", after, before)
			}
		})
	}
	if runs := s.runsOf("a"); len(runs) != 0 {
		t.Errorf("GET /v1/jobs/a/runs = %v; want no runs after refused requests", runs)
	}
}

func TestNativeDelete(t *testing.T) {
	s := startServer(t, newDB(t))
	for _, j := range []string{
		`{"name": "root", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H", "timezone": "Europe/Paris"}`,
		`{"name": "other", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H"}`,
		`{"name": "mid", "command": "true", "parents": ["root"]}`,
		`{"name": "leaf", "command": "true", "parents": ["mid", "other"]}`,
		`{"name": "leaf2", "command": "true", "parents": ["mid"]}`,
	} {
		s.must(http.StatusCreated, "POST", "/v1/jobs", j)
	}

	// A job others depend on is kept unless forced.
	r := s.do("DELETE", "/v1/jobs/mid", "")
	body := wantJSONError(t, r, http.StatusConflict, `"mid"`, "force=true")
	if got := body["children"]; !cmp.Equal(got, []any{"leaf", "leaf2"}) {
		t.Errorf("%s children = %v; want [leaf leaf2]", r, got)
	}
	s.must(http.StatusOK, "GET", "/v1/jobs/mid", "")

	// A dependent job: its children inherit its parents.
	r = s.must(http.StatusOK, "DELETE", "/v1/jobs/mid?force=true", "")
	res := r.object(t)
	if res["deleted"] != "mid" {
		t.Errorf("%s deleted = %v; want mid", r, res["deleted"])
	}
	kinds := map[string]any{}
	for _, c := range res["rewired"].([]any) {
		kinds[get(c, "job").(string)] = get(c, "kind")
		if d, _ := get(c, "description").(string); d == "" {
			t.Errorf("%s change %v has no description", r, c)
		}
	}
	if want := map[string]any{"leaf": "INHERITED_PARENTS", "leaf2": "INHERITED_PARENTS"}; !cmp.Equal(kinds, want) {
		t.Errorf("%s rewired = %v; want %v", r, kinds, want)
	}
	wantJSONError(t, s.do("GET", "/v1/jobs/mid", ""), http.StatusNotFound)
	for job, want := range map[string][]any{"leaf": {"other", "root"}, "leaf2": {"root"}} {
		got, _ := get(s.must(http.StatusOK, "GET", "/v1/jobs/"+job, "").json(t), "parents").([]any)
		slices.SortFunc(got, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
		if !cmp.Equal(got, want) {
			t.Errorf("GET /v1/jobs/%s parents = %v; want %v", job, got, want)
		}
	}

	// A scheduled job: a child with no other parent takes its schedule,
	// one with other parents just loses the edge.
	r = s.must(http.StatusOK, "DELETE", "/v1/jobs/root?force=true", "")
	kinds = map[string]any{}
	for _, c := range r.object(t)["rewired"].([]any) {
		kinds[get(c, "job").(string)] = get(c, "kind")
	}
	if want := map[string]any{"leaf": "LOST_PARENT", "leaf2": "TOOK_SCHEDULE"}; !cmp.Equal(kinds, want) {
		t.Errorf("%s rewired = %v; want %v", r, kinds, want)
	}
	leaf2 := s.must(http.StatusOK, "GET", "/v1/jobs/leaf2", "").object(t)
	if leaf2["schedule"] != "R/2030-01-01T00:00:00Z/PT1H" || leaf2["timezone"] != "Europe/Paris" || !cmp.Equal(leaf2["parents"], []any{}) {
		t.Errorf("GET /v1/jobs/leaf2 = schedule %v, timezone %v, parents %v; want root's schedule and zone, no parents",
			leaf2["schedule"], leaf2["timezone"], leaf2["parents"])
	}
	if got := get(s.must(http.StatusOK, "GET", "/v1/jobs/leaf", "").json(t), "parents"); !cmp.Equal(got, []any{"other"}) {
		t.Errorf("GET /v1/jobs/leaf parents = %v; want [other]", got)
	}

	// A job nobody depends on goes without force.
	r = s.must(http.StatusOK, "DELETE", "/v1/jobs/leaf", "")
	if got := r.object(t)["rewired"]; !cmp.Equal(got, []any{}) {
		t.Errorf("%s rewired = %v; want []", r, got)
	}
	if got := s.jobNames(); !slices.Equal(got, []string{"leaf2", "other"}) {
		t.Errorf("GET /v1/jobs = %v; want [leaf2 other]", got)
	}
}

func TestNativeRuns(t *testing.T) {
	s := startServer(t, newDB(t))
	s.must(http.StatusCreated, "POST", "/v1/jobs", `{"name": "batch", "command": "echo", "schedule": "R/2030-01-01T00:00:00Z/PT1H", "retries": 3}`)

	r := s.must(http.StatusCreated, "POST", "/v1/jobs/batch/run", `{"arguments": ["--since", "yesterday"]}`)
	run := r.object(t)
	for k, want := range map[string]any{
		"job": "batch", "trigger": "manual", "state": "QUEUED", "attempt": 0.0, "maxAttempts": 4.0,
		"arguments": []any{"--since", "yesterday"}, "triggeredBy": []any{}, "scheduledFor": nil, "startedAt": nil, "finishedAt": nil,
	} {
		if got := run[k]; !cmp.Equal(got, want) {
			t.Errorf("%s %s = %#v; want %#v", r, k, got, want)
		}
	}
	id := fmt.Sprint(int64(run["id"].(float64)))

	// Without a body: no arguments.
	r = s.must(http.StatusCreated, "POST", "/v1/jobs/batch/run", "")
	if got := r.object(t)["arguments"]; !cmp.Equal(got, []any{}) {
		t.Errorf("%s arguments = %v; want []", r, got)
	}

	runs := s.runsOf("batch")
	if len(runs) != 2 {
		t.Fatalf("GET /v1/jobs/batch/runs = %d runs; want 2", len(runs))
	}
	got := s.must(http.StatusOK, "GET", "/v1/jobs/batch/runs/"+id, "").object(t)
	if diff := cmp.Diff(run, got); diff != "" {
		t.Errorf("GET /v1/jobs/batch/runs/%s differs from the POST answer (-post +get):\n%s", id, diff)
	}
	wantJSONError(t, s.do("GET", "/v1/jobs/batch/runs/999999", ""), http.StatusNotFound, "999999")
	wantJSONError(t, s.do("GET", "/v1/jobs/batch/runs/x1", ""), http.StatusBadRequest, `"x1"`)
	wantJSONError(t, s.do("POST", "/v1/jobs/batch/runs/999999/stop", ""), http.StatusNotFound, "999999")

	// A run of another job is not found under this one.
	s.must(http.StatusCreated, "POST", "/v1/jobs", `{"name": "other", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H"}`)
	wantJSONError(t, s.do("GET", "/v1/jobs/other/runs/"+id, ""), http.StatusNotFound)

	// Stop a queued run at once; stopping it again conflicts.
	s.must(http.StatusAccepted, "POST", "/v1/jobs/batch/runs/"+id+"/stop", "")
	if got := s.must(http.StatusOK, "GET", "/v1/jobs/batch/runs/"+id, "").object(t); got["state"] != "KILLED" || got["finishedAt"] == nil {
		t.Errorf("GET /v1/jobs/batch/runs/%s = state %v, finishedAt %v; want KILLED with a finish time", id, got["state"], got["finishedAt"])
	}
	wantJSONError(t, s.do("POST", "/v1/jobs/batch/runs/"+id+"/stop", ""), http.StatusConflict, "KILLED")

	// Stop right after the trigger, before the scheduler has seen it.
	for range 5 {
		nid := fmt.Sprint(int64(s.must(http.StatusCreated, "POST", "/v1/jobs/batch/run", "").object(t)["id"].(float64)))
		s.must(http.StatusAccepted, "POST", "/v1/jobs/batch/runs/"+nid+"/stop", "")
		if got := get(s.must(http.StatusOK, "GET", "/v1/jobs/batch/runs/"+nid, "").json(t), "state"); got != "KILLED" {
			t.Errorf("GET /v1/jobs/batch/runs/%s state = %v; want KILLED", nid, got)
		}
	}
}

func TestGraph(t *testing.T) {
	s := startServer(t, newDB(t))
	for _, j := range []string{
		`{"name": "extract", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H"}`,
		`{"name": "transform", "command": "true", "parents": ["extract"]}`,
		`{"name": "load", "command": "true", "parents": ["transform"]}`,
		`{"name": "report", "command": "true", "parents": ["extract", "transform"]}`,
	} {
		s.must(http.StatusCreated, "POST", "/v1/jobs", j)
	}
	s.must(http.StatusCreated, "POST", "/v1/jobs/load/run", "")

	r := s.must(http.StatusOK, "GET", "/v1/graph", "")
	g := r.object(t)
	wantNodes := []any{
		map[string]any{"name": "extract", "lastState": "fresh", "status": "idle"},
		map[string]any{"name": "load", "lastState": "fresh", "status": "queued"},
		map[string]any{"name": "report", "lastState": "fresh", "status": "idle"},
		map[string]any{"name": "transform", "lastState": "fresh", "status": "idle"},
	}
	wantEdges := []any{
		map[string]any{"from": "extract", "to": "report"},
		map[string]any{"from": "extract", "to": "transform"},
		map[string]any{"from": "transform", "to": "load"},
		map[string]any{"from": "transform", "to": "report"},
	}
	if diff := cmp.Diff(wantNodes, g["nodes"]); diff != "" {
		t.Errorf("%s nodes (-want +got):\n%s", r, diff)
	}
	if diff := cmp.Diff(wantEdges, g["edges"]); diff != "" {
		t.Errorf("%s edges (-want +got):\n%s", r, diff)
	}

	for _, p := range []string{"/v1/graph.dot", "/v1/scheduler/graph/dot"} {
		r := s.must(http.StatusOK, "GET", p, "")
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/") {
			t.Errorf("%s Content-Type = %q; want text", r, ct)
		}
		golden(t, "graph.dot", r, r.body)
	}
}

func TestEndpoints(t *testing.T) {
	s := startServer(t, newDB(t))

	if r := s.must(http.StatusOK, "GET", "/ping", ""); strings.TrimSpace(string(r.body)) != "pong" {
		t.Errorf("%s = %q; want pong", r, r.body)
	}
	r := s.must(http.StatusOK, "GET", "/health", "")
	if h := r.object(t); h["healthy"] != true || h["leading"] != true || h["database"] != "ok" {
		t.Errorf("%s = %s; want healthy, leading, database ok", r, r.body)
	}
	r = s.must(http.StatusOK, "GET", "/v1/info", "")
	if info := r.object(t); info["name"] != "corral-jobs" || info["version"] != "dev" || info["leading"] != true || info["url"] != s.base {
		t.Errorf("%s = %s; want corral-jobs %s, leading, url %s", r, r.body, "dev", s.base)
	}
	r = s.must(http.StatusOK, "GET", "/v1/scheduler/leader", "")
	if got := r.object(t)["leader"]; got != strings.TrimPrefix(s.base, "http://") {
		t.Errorf("%s leader = %v; want %s", r, got, strings.TrimPrefix(s.base, "http://"))
	}
	wantJSONError(t, s.do("PATCH", "/v1/jobs", ""), http.StatusMethodNotAllowed, "PATCH")

	events := s.openEvents()
	if f := nextFrame(t, events); f.event != "event_stream_attached" {
		t.Fatalf("GET /v1/events first frame = %q; want event_stream_attached", f.event)
	}
	s.must(http.StatusCreated, "POST", "/v1/jobs", `{"name": "tick", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H"}`)
	f := nextFrame(t, events)
	var data map[string]any
	if err := json.Unmarshal([]byte(f.data), &data); err != nil {
		t.Fatalf("GET /v1/events frame %s data = %q: %v", f.event, f.data, err)
	}
	if f.event != "job_saved" || data["job"] != "tick" || f.id == "" {
		t.Errorf("GET /v1/events after POST /v1/jobs = %s %s (id %q); want job_saved for tick with an id", f.event, f.data, f.id)
	}

	s.must(http.StatusCreated, "POST", "/v1/jobs/tick/run", "")
	r = s.must(http.StatusOK, "GET", "/metrics", "")
	for _, line := range []string{"corral_jobs_jobs 1", "corral_jobs_leading 1", "corral_jobs_runs_queued 1", "corral_jobs_runs_succeeded_total 0"} {
		if !strings.Contains(string(r.body), line+"\n") {
			t.Errorf("%s = %s; want a line %q", r, r.body, line)
		}
	}
}

// --- Chronos API ----------------------------------------------------------------

// chronosNightly is a Chronos 2.x job as scripts post it, with fields this
// framework tolerates and ignores.
const chronosNightly = `{
	"name": "nightly",
	"command": "/usr/bin/backup",
	"shell": false,
	"arguments": ["--full", "--verbose"],
	"schedule": "R/2030-03-10T02:00:00.000Z/P1D",
	"scheduleTimeZone": "Europe/Berlin",
	"epsilon": "PT30M",
	"async": false,
	"dataProcessingJobType": false,
	"owner": "ops@example.com,dba@example.com",
	"ownerName": "Ops",
	"description": "back up",
	"cpus": 0.5,
	"mem": 512,
	"retries": 3,
	"concurrent": true,
	"highPriority": false,
	"environmentVariables": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
	"constraints": [["rack", "EQUALS", "r1"]],
	"uris": [],
	"successCount": 41
}`

func TestChronos(t *testing.T) {
	s := startServer(t, newDB(t))

	s.must(http.StatusNoContent, "POST", "/v1/scheduler/iso8601", chronosNightly)
	r := s.must(http.StatusOK, "GET", "/v1/scheduler/job/nightly", "")
	golden(t, "chronos_job.json", r, scrub(t, r))
	native := s.must(http.StatusOK, "GET", "/v1/jobs/nightly", "").object(t)
	for k, want := range map[string]any{
		"args": []any{"/usr/bin/backup", "--full", "--verbose"}, "command": "", "shell": false,
		"timezone": "Europe/Berlin", "startingDeadlineSeconds": 1800.0, "concurrencyPolicy": "ALLOW",
		"env": map[string]any{"A": "1", "B": "2"}, "retries": 3.0, "successCount": 0.0,
	} {
		if got := native[k]; !cmp.Equal(got, want) {
			t.Errorf("GET /v1/jobs/nightly %s = %#v; want %#v", k, got, want)
		}
	}

	t.Run("upsert replaces", func(t *testing.T) {
		s := s.with(t)
		changed := strings.Replace(chronosNightly, `"mem": 512`, `"mem": 1024`, 1)
		s.must(http.StatusNoContent, "POST", "/v1/scheduler/iso8601", changed)
		if got := get(s.must(http.StatusOK, "GET", "/v1/scheduler/job/nightly", "").json(t), "mem"); got != 1024.0 {
			t.Errorf("GET /v1/scheduler/job/nightly mem = %v; want 1024", got)
		}
		// What GET answers can be posted back unchanged.
		before := s.must(http.StatusOK, "GET", "/v1/scheduler/job/nightly", "")
		s.must(http.StatusNoContent, "POST", "/v1/scheduler/iso8601", string(before.body))
		after := s.must(http.StatusOK, "GET", "/v1/scheduler/job/nightly", "")
		if diff := cmp.Diff(before.object(t), after.object(t)); diff != "" {
			t.Errorf("GET /v1/scheduler/job/nightly after posting it back (-before +after):\n%s", diff)
		}
		s.must(http.StatusNoContent, "POST", "/v1/scheduler/iso8601", chronosNightly)
		if got := s.jobNames(); !slices.Equal(got, []string{"nightly"}) {
			t.Errorf("GET /v1/jobs = %v; want [nightly]", got)
		}
	})

	t.Run("dependency", func(t *testing.T) {
		s := s.with(t)
		wantChronosError(t, s.do("POST", "/v1/scheduler/dependency", `{"name": "report", "command": "make report", "parents": []}`), "parents")
		wantChronosError(t, s.do("POST", "/v1/scheduler/dependency", `{"name": "report", "command": "make report"}`), "parents")
		wantChronosError(t, s.do("POST", "/v1/scheduler/dependency", `{"name": "report", "command": "make report", "parents": ["ghost"]}`), "ghost")
		wantJSONError(t, s.do("GET", "/v1/jobs/report", ""), http.StatusNotFound)
		s.must(http.StatusNoContent, "POST", "/v1/scheduler/dependency", `{"name": "report", "command": "make report", "parents": ["nightly"]}`)
		v := s.must(http.StatusOK, "GET", "/v1/scheduler/job/report", "").object(t)
		if !cmp.Equal(v["parents"], []any{"nightly"}) || v["schedule"] != nil || v["shell"] != true || v["concurrent"] != false || v["retries"] != 2.0 {
			t.Errorf("GET /v1/scheduler/job/report = parents %v, schedule %v, shell %v, concurrent %v, retries %v; want [nightly], none, true, false, 2",
				v["parents"], v["schedule"], v["shell"], v["concurrent"], v["retries"])
		}
	})

	t.Run("unknown job", func(t *testing.T) {
		s := s.with(t)
		wantChronosError(t, s.do("GET", "/v1/scheduler/job/ghost", ""), `"ghost"`)
		wantChronosError(t, s.do("PUT", "/v1/scheduler/job/ghost", ""), `"ghost"`)
		wantChronosError(t, s.do("PUT", "/v1/scheduler/job/success/ghost", ""), `"ghost"`)
		wantChronosError(t, s.do("DELETE", "/v1/scheduler/task/kill/ghost", ""), `"ghost"`)
		wantChronosError(t, s.do("DELETE", "/v1/scheduler/job/ghost", ""), `"ghost"`)
	})

	t.Run("run now", func(t *testing.T) {
		s := s.with(t)
		s.must(http.StatusNoContent, "PUT", "/v1/scheduler/job/nightly?arguments=--dry-run", "")
		runs := s.runsWhere("nightly", "manual", "QUEUED")
		if len(runs) != 1 || !cmp.Equal(get(runs[0], "arguments"), []any{"--dry-run"}) {
			t.Errorf("GET /v1/jobs/nightly/runs = %v; want one QUEUED manual run with arguments [--dry-run]", runs)
		}
		// The schedule is untouched.
		if got := get(s.must(http.StatusOK, "GET", "/v1/scheduler/job/nightly", "").json(t), "schedule"); got != "R/2030-03-10T02:00:00.000Z/P1D" {
			t.Errorf("GET /v1/scheduler/job/nightly schedule = %v; want it unchanged", got)
		}
	})

	t.Run("mark successful", func(t *testing.T) {
		s := s.with(t)
		r := s.must(http.StatusOK, "PUT", "/v1/scheduler/job/success/nightly", "")
		if got := string(r.body); got != "marked job nightly as successful: true" {
			t.Errorf("%s = %q; want %q", r, got, "marked job nightly as successful: true")
		}
		v := s.must(http.StatusOK, "GET", "/v1/scheduler/job/nightly", "").object(t)
		if v["successCount"] != 1.0 || v["lastSuccess"] == "" || v["errorCount"] != 0.0 {
			t.Errorf("GET /v1/scheduler/job/nightly = successCount %v, lastSuccess %v, errorCount %v; want 1, a time, 0",
				v["successCount"], v["lastSuccess"], v["errorCount"])
		}
		if _, err := time.Parse(time.RFC3339, v["lastSuccess"].(string)); err != nil {
			t.Errorf("GET /v1/scheduler/job/nightly lastSuccess = %v; want an ISO 8601 time: %v", v["lastSuccess"], err)
		}
		deps := s.runsWhere("report", "dependency", "QUEUED")
		if len(deps) != 1 || len(get(deps[0], "triggeredBy").([]any)) != 1 {
			t.Errorf("GET /v1/jobs/report/runs = %v; want one QUEUED dependency run triggered by one run", deps)
		}

		r = s.must(http.StatusOK, "GET", "/v1/scheduler/jobs", "")
		golden(t, "chronos_jobs.json", r, scrub(t, r))

		r = s.must(http.StatusOK, "GET", "/v1/scheduler/jobs/summary", "")
		want := map[string]any{"jobs": []any{
			map[string]any{"name": "nightly", "state": "success", "status": "queued", "schedule": "R/2030-03-10T02:00:00.000Z/P1D", "parents": []any{}, "disabled": false},
			map[string]any{"name": "report", "state": "fresh", "status": "queued", "schedule": "", "parents": []any{"nightly"}, "disabled": false},
		}}
		if diff := cmp.Diff(want, r.json(t)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", r, diff)
		}
	})

	t.Run("kill", func(t *testing.T) {
		s := s.with(t)
		s.must(http.StatusNoContent, "PUT", "/v1/scheduler/job/nightly", "")
		s.must(http.StatusNoContent, "DELETE", "/v1/scheduler/task/kill/nightly", "")
		if q := s.runsWhere("nightly", "manual", "QUEUED"); len(q) != 0 {
			t.Errorf("GET /v1/jobs/nightly/runs = %d QUEUED manual runs after DELETE /v1/scheduler/task/kill/nightly; want 0", len(q))
		}
		if k := s.runsWhere("nightly", "manual", "KILLED"); len(k) != 2 {
			t.Errorf("GET /v1/jobs/nightly/runs = %d KILLED manual runs; want 2", len(k))
		}
	})

	t.Run("run once", func(t *testing.T) {
		s := s.with(t)
		s.must(http.StatusNoContent, "POST", "/v1/scheduler/iso8601", `{"name": "once", "command": "echo hi"}`)
		v := s.must(http.StatusOK, "GET", "/v1/scheduler/job/once", "").object(t)
		sched, _ := v["schedule"].(string)
		m := regexp.MustCompile(`^R1/(.+)/PT24H$`).FindStringSubmatch(sched)
		if m == nil {
			t.Fatalf("GET /v1/scheduler/job/once schedule = %q; want R1/<now>/PT24H", sched)
		}
		if at, err := time.Parse(time.RFC3339, m[1]); err != nil || time.Since(at).Abs() > time.Minute {
			t.Errorf("GET /v1/scheduler/job/once schedule start = %q; want about now", m[1])
		}
		// It runs once, now.
		eventually(t, "the run-once job has a scheduled run", func() bool {
			return len(s.runsWhere("once", "schedule", "QUEUED")) == 1
		})
		s.must(http.StatusNoContent, "DELETE", "/v1/scheduler/job/once", "")

		// An empty start means now, too.
		s.must(http.StatusNoContent, "POST", "/v1/scheduler/iso8601", `{"name": "hourly", "command": "true", "schedule": "R//PT1H"}`)
		sched, _ = get(s.must(http.StatusOK, "GET", "/v1/scheduler/job/hourly", "").json(t), "schedule").(string)
		if m := regexp.MustCompile(`^R/(.+)/PT1H$`).FindStringSubmatch(sched); m == nil {
			t.Errorf("GET /v1/scheduler/job/hourly schedule = %q; want R/<now>/PT1H", sched)
		} else if at, err := time.Parse(time.RFC3339, m[1]); err != nil || time.Since(at).Abs() > time.Minute {
			t.Errorf("GET /v1/scheduler/job/hourly schedule start = %q; want about now", m[1])
		}
		eventually(t, "the hourly job has a scheduled run", func() bool {
			return len(s.runsWhere("hourly", "schedule", "QUEUED")) == 1
		})
		s.must(http.StatusNoContent, "DELETE", "/v1/scheduler/job/hourly", "")
	})

	t.Run("delete rewires", func(t *testing.T) {
		s := s.with(t)
		s.must(http.StatusNoContent, "DELETE", "/v1/scheduler/job/nightly", "")
		wantChronosError(t, s.do("GET", "/v1/scheduler/job/nightly", ""), `"nightly"`)
		v := s.must(http.StatusOK, "GET", "/v1/scheduler/job/report", "").object(t)
		if v["schedule"] != "R/2030-03-10T02:00:00.000Z/P1D" || v["scheduleTimeZone"] != "Europe/Berlin" || v["parents"] != nil {
			t.Errorf("GET /v1/scheduler/job/report = schedule %v, zone %v, parents %v; want nightly's schedule and zone, no parents",
				v["schedule"], v["scheduleTimeZone"], v["parents"])
		}
	})
}

func TestChronosSearch(t *testing.T) {
	s := startServer(t, newDB(t))
	for i := range 12 {
		s.must(http.StatusNoContent, "POST", "/v1/scheduler/iso8601",
			fmt.Sprintf(`{"name": "bulk-%02d", "command": "echo %d", "schedule": "R/2030-01-01T00:00:00Z/PT1H"}`, i, i))
	}
	s.must(http.StatusNoContent, "POST", "/v1/scheduler/iso8601", `{"name": "Nightly-Backup", "command": "pg_dump app", "schedule": "R/2030-01-01T00:00:00Z/P1D"}`)
	s.must(http.StatusNoContent, "POST", "/v1/scheduler/iso8601", `{"name": "cleanup", "command": "rm -rf /tmp/NIGHTLY", "schedule": "R/2030-01-01T00:00:00Z/P1D"}`)

	all := names(s.must(http.StatusOK, "GET", "/v1/scheduler/jobs", "").json(t))
	if len(all) != 14 {
		t.Errorf("GET /v1/scheduler/jobs = %d jobs; want 14", len(all))
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"name=nightly", []string{"Nightly-Backup"}},
		{"name=BACKUP", []string{"Nightly-Backup"}},
		{"command=PG_DUMP", []string{"Nightly-Backup"}},
		{"any=nightly", []string{"Nightly-Backup", "cleanup"}},
		{"name=nightly&command=rm", []string{}},
		{"name=bulk", []string{"bulk-00", "bulk-01", "bulk-02", "bulk-03", "bulk-04", "bulk-05", "bulk-06", "bulk-07", "bulk-08", "bulk-09"}},
		{"name=bulk&limit=3&offset=10", []string{"bulk-10", "bulk-11"}},
		{"name=bulk&limit=2&offset=1", []string{"bulk-01", "bulk-02"}},
		{"name=bulk&offset=50", []string{}},
		{"name=nothing", []string{}},
	} {
		path := "/v1/scheduler/jobs/search?" + tc.query
		r := s.must(http.StatusOK, "GET", path, "")
		got := names(r.json(t))
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("GET %s = %v; want %v", path, got, tc.want)
		}
		for _, v := range r.list(t) {
			if _, ok := v.(map[string]any)["successCount"]; !ok {
				t.Errorf("GET %s: job %v has no successCount; want the full Chronos job", path, get(v, "name"))
			}
		}
	}
}

func TestChronosInvalid(t *testing.T) {
	s := startServer(t, newDB(t))
	s.must(http.StatusNoContent, "POST", "/v1/scheduler/iso8601", `{"name": "base", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H"}`)
	before := s.must(http.StatusOK, "GET", "/v1/scheduler/jobs", "").body

	for _, tc := range []struct {
		name  string
		path  string
		body  string
		words []string // the message names the field and the problem
	}{
		{"bad schedule", "/v1/scheduler/iso8601", `{"name": "x", "command": "true", "schedule": "R/x/PT1H"}`, []string{"schedule", `"x"`}},
		{"bad cron", "/v1/scheduler/iso8601", `{"name": "x", "command": "true", "schedule": "every day"}`, []string{"schedule"}},
		{"bad zone", "/v1/scheduler/iso8601", `{"name": "x", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H", "scheduleTimeZone": "Nowhere/Land"}`, []string{"timezone", "Nowhere/Land"}},
		{"bad name", "/v1/scheduler/iso8601", `{"name": "x y", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H"}`, []string{"name", `"x y"`}},
		{"empty name", "/v1/scheduler/iso8601", `{"command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H"}`, []string{"name"}},
		{"negative mem", "/v1/scheduler/iso8601", `{"name": "x", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H", "mem": -5}`, []string{"mem", "-5"}},
		{"bad epsilon", "/v1/scheduler/iso8601", `{"name": "x", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H", "epsilon": "soon"}`, []string{"epsilon", `"soon"`}},
		{"wrong type", "/v1/scheduler/iso8601", `{"name": "x", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H", "retries": "two"}`, []string{"retries"}},
		{"malformed JSON", "/v1/scheduler/iso8601", `{"name": "x",`, []string{"JSON"}},
		{"parents on iso8601", "/v1/scheduler/iso8601", `{"name": "x", "command": "true", "parents": ["base"]}`, []string{"schedule"}},
		{"schedule and parents", "/v1/scheduler/dependency", `{"name": "x", "command": "true", "parents": ["base"], "schedule": "R/2030-01-01T00:00:00Z/PT1H"}`, []string{"schedule", "parents"}},
		{"empty parents", "/v1/scheduler/dependency", `{"name": "x", "command": "true", "parents": []}`, []string{"parents"}},
		{"unknown parent", "/v1/scheduler/dependency", `{"name": "x", "command": "true", "parents": ["ghost"]}`, []string{"parents", `"ghost"`}},
		{"MESOS container image", "/v1/scheduler/iso8601", `{"name": "x", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/PT1H", "container": {"type": "MESOS", "image": "busybox"}}`, []string{"container/type", "DOCKER"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := s.with(t)
			r := s.do("POST", tc.path, tc.body)
			wantChronosError(t, r, tc.words...)
			if after := s.must(http.StatusOK, "GET", "/v1/scheduler/jobs", "").body; !bytes.Equal(after, before) {
				t.Errorf("GET /v1/scheduler/jobs = %s; want it unchanged by the refused request: %s", after, before)
			}
		})
	}
}

func TestPersistence(t *testing.T) {
	db := newDB(t)
	s := startServer(t, db)
	s.must(http.StatusCreated, "POST", "/v1/jobs", etlJob)
	s.must(http.StatusNoContent, "POST", "/v1/scheduler/dependency", `{"name": "after", "command": "true", "parents": ["etl"]}`)
	s.must(http.StatusCreated, "POST", "/v1/jobs/etl/run", `{"arguments": ["x"]}`)
	s.must(http.StatusOK, "PUT", "/v1/scheduler/job/success/etl", "")
	paths := []string{"/v1/jobs", "/v1/jobs/etl/runs", "/v1/jobs/after/runs", "/v1/scheduler/jobs", "/v1/graph"}
	before := map[string]any{}
	for _, p := range paths {
		before[p] = s.must(http.StatusOK, "GET", p, "").json(t)
	}
	s.stop()

	s2 := startServer(t, db)
	for _, p := range paths {
		after := s2.must(http.StatusOK, "GET", p, "").json(t)
		if diff := cmp.Diff(before[p], after); diff != "" {
			t.Errorf("GET %s on a new Service (-before +after):\n%s", p, diff)
		}
	}
	if n := len(s2.runsOf("etl")); n != 2 {
		t.Errorf("GET /v1/jobs/etl/runs on a new Service = %d runs; want 2 (manual and marked successful)", n)
	}
}
