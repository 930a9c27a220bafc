package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/internal/apiclient"
)

func names(specs []jobSpec) []string {
	var out []string
	for _, s := range specs {
		out = append(out, s.name)
	}
	return out
}

func TestAddOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		file    string
		want    []string
		wantErr string
	}{
		{"one object", `{"name": "a", "schedule": "@daily"}`, []string{"a"}, ""},
		{"chain given children first", `[{"name": "c", "parents": ["b"]}, {"name": "b", "parents": ["a"]}, {"name": "a"}]`, []string{"a", "b", "c"}, ""},
		{"file order among equals", `[{"name": "z"}, {"name": "y", "parents": ["z"]}, {"name": "x"}]`, []string{"z", "y", "x"}, ""},
		{"diamond", `[{"name": "d", "parents": ["b", "c"]}, {"name": "c", "parents": ["a"]}, {"name": "b", "parents": ["a"]}, {"name": "a"}]`, []string{"a", "c", "b", "d"}, ""},
		{"parents outside the file exist", `[{"name": "b", "parents": ["elsewhere"]}, {"name": "a"}]`, []string{"b", "a"}, ""},
		{"cycle", `[{"name": "a", "parents": ["b"]}, {"name": "b", "parents": ["a"]}, {"name": "c"}]`, nil, "the parents of a, b form a cycle"},
		{"duplicate", `[{"name": "a"}, {"name": "a"}]`, nil, `job "a" is defined twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			specs, err := parseJobs([]byte(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := addOrder(specs)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("addOrder(%s) err = %v; want %q", tc.file, err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(names(got), tc.want) {
				t.Errorf("addOrder(%s) = %q, %v; want %q", tc.file, names(got), err, tc.want)
			}
		})
	}
}

// jobStore is a fake jobs API keeping jobs by name.
type jobStore struct {
	mu     sync.Mutex
	jobs   map[string]bool
	saved  []string // "POST a", "PUT b" in order
	refuse string   // a job name answered with 422
}

// save answers POST /v1/jobs and PUT /v1/jobs/NAME, refusing a job
// whose parents are not saved yet, as the real API does.
func (s *jobStore) save(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var j struct {
			Name    string   `json:"name"`
			Parents []string `json:"parents"`
		}
		_ = json.NewDecoder(r.Body).Decode(&j)
		s.mu.Lock()
		defer s.mu.Unlock()
		if j.Name == s.refuse {
			answer(422, `{"message": "Object is not valid", "details": [{"path": "/schedule", "errors": ["expected 5 fields, found 2"]}]}`)(w, r)
			return
		}
		for _, p := range j.Parents {
			if !s.jobs[p] {
				answer(422, `{"message": "Object is not valid", "details": [{"path": "/parents", "errors": ["unknown parent"]}]}`)(w, r)
				return
			}
		}
		s.jobs[j.Name] = true
		s.saved = append(s.saved, method+" "+j.Name)
		code := 200
		if method == "POST" {
			code = 201
		}
		answer(code, `{"name": "`+j.Name+`"}`)(w, r)
	}
}

func (s *jobStore) server(t *testing.T) *fakeAPI {
	mux := map[string]http.HandlerFunc{"POST /v1/jobs": s.save("POST")}
	for _, n := range []string{"extract", "transform", "report", "other", "bad"} {
		name := n
		mux["GET /v1/jobs/"+name] = func(w http.ResponseWriter, r *http.Request) {
			s.mu.Lock()
			ok := s.jobs[name]
			s.mu.Unlock()
			if !ok {
				answer(404, `{"message": "job \"`+name+`\" does not exist"}`)(w, r)
				return
			}
			answer(200, `{"name": "`+name+`"}`)(w, r)
		}
		mux["PUT /v1/jobs/"+name] = s.save("PUT")
	}
	return newFake(t, mux)
}

func TestJobAddSavesParentsFirst(t *testing.T) {
	s := &jobStore{jobs: map[string]bool{"transform": true}}
	api := s.server(t)
	file := writeFile(t, "jobs.json", `[
		{"name": "report", "command": "echo r", "parents": ["transform"]},
		{"name": "transform", "command": "echo t", "parents": ["extract"]},
		{"name": "extract", "command": "echo e", "schedule": "* * * * *", "timezone": "Europe/Berlin"}
	]`)
	res := runCLI(t, invocation{env: addrEnv(nil, nil, api)}, "job", "add", file)
	if res.code != ExitOK {
		t.Fatalf("job add = %d; want 0\nstderr: %s", res.code, res.stderr)
	}
	want := []string{"POST extract", "PUT transform", "POST report"}
	if !slices.Equal(s.saved, want) {
		t.Errorf("job add saved %q; want %q (parents first, existing jobs updated)", s.saved, want)
	}
	if want := "created job extract\nupdated job transform\ncreated job report\n"; res.stdout != want {
		t.Errorf("job add printed %q; want %q", res.stdout, want)
	}
}

func TestJobAddStopsAtTheFirstRefusal(t *testing.T) {
	s := &jobStore{jobs: map[string]bool{}, refuse: "bad"}
	api := s.server(t)
	file := writeFile(t, "jobs.json", `[{"name": "bad", "command": "x", "schedule": "1 2", "parents": []}, {"name": "other", "command": "y", "schedule": "@daily"}]`)
	res := runCLI(t, invocation{env: addrEnv(nil, nil, api)}, "job", "add", file)
	if res.code != ExitFailed {
		t.Fatalf("job add with an invalid job = %d; want %d", res.code, ExitFailed)
	}
	for _, want := range []string{"saving job bad", "/schedule: expected 5 fields, found 2"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr = %q; want %q", res.stderr, want)
		}
	}
	if len(s.saved) != 0 {
		t.Errorf("saved %q after the refusal; want nothing", s.saved)
	}
	cyc := writeFile(t, "cycle.json", `[{"name": "a", "parents": ["b"]}, {"name": "b", "parents": ["a"]}]`)
	if res := runCLI(t, invocation{env: addrEnv(nil, nil, api)}, "job", "add", cyc); res.code != ExitFailed || !strings.Contains(res.stderr, "cycle") {
		t.Errorf("job add of a cycle = %d %q; want %d naming the cycle", res.code, res.stderr, ExitFailed)
	}
}

// runScript serves a run's states, one per GET.
func runScript(t *testing.T, states ...string) *fakeAPI {
	var mu sync.Mutex
	i := 0
	run := func(state, extra string) string {
		return `{"id": 7, "job": "extract", "trigger": "manual", "state": "` + state + `", "attempt": 0, "maxAttempts": 1` + extra + `}`
	}
	return newFake(t, map[string]http.HandlerFunc{
		"POST /v1/jobs/extract/run": answer(201, run("QUEUED", "")),
		"GET /v1/jobs/extract/runs/7": func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			st := states[min(i, len(states)-1)]
			i++
			mu.Unlock()
			extra := ""
			switch st {
			case "RUNNING":
				extra = `, "host": "agent0.test", "taskId": "extract.r7", "startedAt": "2024-05-01T08:00:00Z"`
			case "SUCCEEDED":
				extra = `, "host": "agent0.test", "exitStatus": 0, "startedAt": "2024-05-01T08:00:00Z", "finishedAt": "2024-05-01T08:00:01.5Z"`
			case "FAILED":
				extra = `, "exitStatus": 2, "reason": "TASK_FAILED: exited with status 2", "startedAt": "2024-05-01T08:00:00Z", "finishedAt": "2024-05-01T08:00:01Z"`
			}
			answer(200, run(st, extra))(w, r)
		},
	})
}

func TestJobRunWaitsForTheResult(t *testing.T) {
	api := runScript(t, "QUEUED", "RUNNING", "RUNNING", "SUCCEEDED")
	res := runCLI(t, invocation{env: addrEnv(nil, nil, api)}, "job", "run", "extract", "--", "--day", "monday")
	if res.code != ExitOK {
		t.Fatalf("job run = %d; want 0\nstderr: %s", res.code, res.stderr)
	}
	golden(t, "job_run_progress.txt", res.stdout)
	if got := api.bodyOf("POST /v1/jobs/extract/run"); len(got) != 1 || got[0] != `{"arguments":["--day","monday"]}` {
		t.Errorf("job run sent %q; want the arguments", got)
	}

	api = runScript(t, "RUNNING", "FAILED")
	res = runCLI(t, invocation{env: addrEnv(nil, nil, api)}, "job", "run", "extract", "--json")
	if res.code != ExitFailed || !strings.Contains(res.stderr, "run 7 of extract ended FAILED") {
		t.Errorf("job run of a failing run = %d %q; want %d", res.code, res.stderr, ExitFailed)
	}
	var run runView
	if err := json.Unmarshal([]byte(res.stdout), &run); err != nil || run.State != "FAILED" {
		t.Errorf("job run --json printed %q (%v); want the final run", res.stdout, err)
	}

	api = runScript(t, "RUNNING")
	res = runCLI(t, invocation{env: addrEnv(nil, nil, api)}, "job", "run", "extract", "--detach")
	if res.code != ExitOK || api.count("GET") != 0 {
		t.Errorf("job run --detach = %d after %d polls; want 0 without polling", res.code, api.count("GET"))
	}
	res = runCLI(t, invocation{env: addrEnv(nil, nil, api)}, "job", "run", "extract", "--timeout", "30ms")
	if res.code != ExitFailed || !strings.Contains(res.stderr, "timed out") {
		t.Errorf("job run --timeout = %d %q; want %d", res.code, res.stderr, ExitFailed)
	}
}

func TestRenderGraph(t *testing.T) {
	got := renderGraph(
		[]graphNode{{Name: "b"}, {Name: "a", LastState: "success", Status: "idle"}, {Name: "c"}},
		[]graphEdge{{From: "a", To: "c"}, {From: "a", To: "b"}, {From: "b", To: "c"}, {From: "gone", To: "b"}})
	want := "a (success, idle)\n├── b\n│   └── c\n└── c\ngone\n└── b (see above)\n"
	if got != want {
		t.Errorf("renderGraph = \n%s; want\n%s", got, want)
	}
}

// fileServer is a fake agent serving one growing file at path with the
// /files/read semantics.
type fileServer struct {
	mu      sync.Mutex
	path    string
	data    string
	rotated string // path.1, as the agent's log rotation leaves it
}

// rotate appends s to the file, moves it to .1 and begins it anew with
// next, at once: a reader has not seen s yet.
func (f *fileServer) rotate(s, next string) {
	f.mu.Lock()
	f.rotated, f.data = f.data+s, next
	f.mu.Unlock()
}

func (f *fileServer) append(s string) {
	f.mu.Lock()
	f.data += s
	f.mu.Unlock()
}

func (f *fileServer) read(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	data, rotated := f.data, f.rotated
	f.mu.Unlock()
	q := r.URL.Query()
	switch q.Get("path") {
	case f.path:
	case f.path + ".1":
		if rotated == "" {
			http.Error(w, "no such file or directory", 404)
			return
		}
		data = rotated
	default:
		http.Error(w, "no such file or directory", 404)
		return
	}
	var off, n int
	off = -1
	if v := q.Get("offset"); v != "" {
		_ = json.Unmarshal([]byte(v), &off)
	}
	n = -1
	if v := q.Get("length"); v != "" {
		_ = json.Unmarshal([]byte(v), &n)
	}
	if off == -1 {
		answer(200, `{"data": "", "offset": `+jsonInt(len(data))+`}`)(w, r)
		return
	}
	off = min(off, len(data))
	if n == -1 || off+n > len(data) {
		n = len(data) - off
	}
	b, _ := json.Marshal(map[string]any{"data": data[off : off+n], "offset": off})
	answer(200, string(b))(w, r)
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

// logsCluster is a master whose /state puts task web.0a1b on an agent at
// agentURL, with the master's proxy route serving via.
func logsCluster(t *testing.T, agentURL string, via http.HandlerFunc) *fakeAPI {
	st := strings.ReplaceAll(apiFile(t, "state.json"), "http://10.0.0.12:5051", agentURL)
	routes := map[string]http.HandlerFunc{"GET /state": answer(200, st)}
	if via != nil {
		routes["GET /agent/a-2/files/read"] = via
	}
	return newFake(t, routes)
}

const sandbox = "/var/lib/corral/agent/sandboxes/fw-services/web.0a1b"

func TestTaskLogs(t *testing.T) {
	fs := &fileServer{path: sandbox + "/stdout", data: "hello\nworld\n"}
	agent := newFake(t, map[string]http.HandlerFunc{"GET /files/read": fs.read})
	master := logsCluster(t, agent.URL, nil)
	env := addrEnv(master, nil, nil)

	res := runCLI(t, invocation{env: env}, "task", "logs", "web.0a")
	if res.code != ExitOK || res.stdout != "hello\nworld\n" {
		t.Errorf("task logs (by prefix) = %d %q %q; want the file", res.code, res.stdout, res.stderr)
	}
	res = runCLI(t, invocation{env: env}, "task", "logs", "web.0a1b", "--stderr")
	if res.code != ExitNotFound || !strings.Contains(res.stderr, "has no stderr") {
		t.Errorf("task logs --stderr of a missing file = %d %q; want %d", res.code, res.stderr, ExitNotFound)
	}

	// Through the master when the agent cannot be reached.
	down := logsCluster(t, closedURL(t), fs.read)
	res = runCLI(t, invocation{env: addrEnv(down, nil, nil)}, "task", "logs", "web.0a1b")
	if res.code != ExitOK || res.stdout != "hello\nworld\n" {
		t.Errorf("task logs via the master = %d %q %q; want the file", res.code, res.stdout, res.stderr)
	}
	if down.count("GET /agent/a-2/files/read") == 0 {
		t.Errorf("task logs did not use the master's route; calls %q", down.called())
	}
}

func TestTaskLogsFollow(t *testing.T) {
	fs := &fileServer{path: sandbox + "/stdout", data: "one\n"}
	agent := newFake(t, map[string]http.HandlerFunc{"GET /files/read": fs.read})
	master := logsCluster(t, agent.URL, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errw syncBuffer
	done := make(chan int)
	go func() {
		done <- Run(ctx, []string{"task", "logs", "web.0a1b", "-f"}, Env{Stdout: &out, Stderr: &errw,
			Getenv: func(k string) string { return addrEnv(master, nil, nil)[k] }, PollInterval: 5 * time.Millisecond})
	}()
	waitFor(t, func() bool { return out.String() == "one\n" }, "the first line")
	fs.append("two\n")
	waitFor(t, func() bool { return out.String() == "one\ntwo\n" }, "the appended line")
	fs.append("three\n")
	waitFor(t, func() bool { return out.String() == "one\ntwo\nthree\n" }, "the next line")
	// A rotation: the unread end of the old file, then the new one.
	fs.rotate("four\n", "five\n")
	waitFor(t, func() bool { return out.String() == "one\ntwo\nthree\nfour\nfive\n" }, "the lines across the rotation")
	fs.append("six\n")
	waitFor(t, func() bool { return out.String() == "one\ntwo\nthree\nfour\nfive\nsix\n" }, "the line after the rotation")
	cancel()
	if code := <-done; code != ExitOK {
		t.Errorf("task logs -f ended with %d after Ctrl-C; want 0 (stderr %q)", code, errw.String())
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestNotified(t *testing.T) {
	n := func(state string, attempts int) apiclient.Notification {
		return apiclient.Notification{State: state, Attempts: attempts}
	}
	for _, tc := range []struct {
		ns   []apiclient.Notification
		want string
	}{
		{nil, ""},
		{[]apiclient.Notification{n("pending", 0)}, "pending"},
		{[]apiclient.Notification{n("delivered", 2)}, "delivered"},
		{[]apiclient.Notification{n("failing", 3)}, "failing ×3"},
		{[]apiclient.Notification{n("abandoned", 90)}, "abandoned ×90"},
		{[]apiclient.Notification{n("delivered", 1), n("failing", 2), n("delivered", 1), n("pending", 0)}, "1 pending, 1 failing, 2 delivered"},
	} {
		if got := notified(tc.ns); got != tc.want {
			t.Errorf("notified(%+v) = %q; want %q", tc.ns, got, tc.want)
		}
	}
}

// A run that FAILED has the end of its task's stderr printed, read from
// its sandbox through the master, so the reason is on screen without
// another command.
func TestFailedRunShowsStderrTail(t *testing.T) {
	run := func(state, extra string) string {
		return `{"id": 7, "job": "extract", "trigger": "manual", "state": "` + state + `", "attempt": 0, "maxAttempts": 1` + extra + `}`
	}
	failed := `, "exitStatus": 2, "reason": "TASK_FAILED: exited with status 2", "agentId": "A1", "taskId": "extract.r7", "sandbox": "http://agent0.test:5051/files/browse?path=fw-1%2Fextract.r7"`
	jobs := newFake(t, map[string]http.HandlerFunc{
		"POST /v1/jobs/extract/run":   answer(201, run("QUEUED", "")),
		"GET /v1/jobs/extract/runs/7": answer(200, run("FAILED", failed)),
	})
	var lines strings.Builder
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&lines, "stderr line %d\n", i)
	}
	fs := &fileServer{path: "fw-1/extract.r7/stderr", data: lines.String()}
	master := newFake(t, map[string]http.HandlerFunc{"GET /agent/A1/files/read": fs.read})
	res := runCLI(t, invocation{env: addrEnv(master, nil, jobs)}, "job", "run", "extract")
	if res.code != ExitFailed {
		t.Fatalf("job run = %d; want %d", res.code, ExitFailed)
	}
	want := "last lines of the stderr of task extract.r7 ('corral task logs extract.r7 --stderr' for all):\n"
	for i := 11; i <= 30; i++ {
		want += fmt.Sprintf("  stderr line %d\n", i)
	}
	if !strings.Contains(res.stderr, want) || !strings.Contains(res.stderr, "run 7 of extract ended FAILED") {
		t.Errorf("stderr:\n%s\nwant the last 20 lines of the task's stderr:\n%s", res.stderr, want)
	}

	// Nothing written: said so.
	fs.mu.Lock()
	fs.data = ""
	fs.mu.Unlock()
	res = runCLI(t, invocation{env: addrEnv(master, nil, jobs)}, "job", "run", "extract")
	if !strings.Contains(res.stderr, "task extract.r7 wrote nothing to stderr") {
		t.Errorf("stderr = %q; want it to say the task wrote nothing", res.stderr)
	}
}

// job disable and enable store the job back with "disabled" flipped and
// the rest unchanged; job stop stops the runs not yet ended, or one.
func TestJobEnableDisableStop(t *testing.T) {
	def := `{"name": "extract", "command": "true", "schedule": "*/5 * * * *", "disabled": false, "successCount": 4, "nextRun": "2024-05-01T08:05:00Z"}`
	api := newFake(t, map[string]http.HandlerFunc{
		"GET /v1/jobs/extract": answer(200, def),
		"PUT /v1/jobs/extract": func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			if strings.Contains(string(b), `"disabled":false`) {
				answer(200, `{"name": "extract", "nextRun": "2024-05-01T08:05:00Z"}`)(w, r)
				return
			}
			answer(200, `{"name": "extract"}`)(w, r)
		},
		"GET /v1/jobs/extract/runs": answer(200, `[
			{"id": 9, "job": "extract", "state": "RUNNING"},
			{"id": 8, "job": "extract", "state": "QUEUED"},
			{"id": 7, "job": "extract", "state": "SUCCEEDED"},
			{"id": 6, "job": "extract", "state": "KILLED"}]`),
		"POST /v1/jobs/extract/runs/9/stop": answer(202, ``),
		"POST /v1/jobs/extract/runs/8/stop": answer(409, `{"message": "run 8 already ended (SUCCEEDED)"}`),
		"POST /v1/jobs/extract/runs/7/stop": answer(409, `{"message": "run 7 already ended (SUCCEEDED)"}`),
	})
	env := addrEnv(nil, nil, api)

	res := runCLI(t, invocation{env: env}, "job", "disable", "extract")
	if res.code != ExitOK || res.stdout != "disabled job extract: its schedule starts no runs; runs under way go on ('corral job stop extract' stops them)\n" {
		t.Errorf("job disable = %d %q %q", res.code, res.stdout, res.stderr)
	}
	var put map[string]any
	if bodies := api.bodyOf("PUT /v1/jobs/extract"); len(bodies) != 1 || json.Unmarshal([]byte(bodies[0]), &put) != nil ||
		put["disabled"] != true || put["schedule"] != "*/5 * * * *" || put["command"] != "true" {
		t.Errorf("job disable stored %v; want the job with disabled true and the rest kept", bodies)
	}
	res = runCLI(t, invocation{env: env}, "job", "enable", "extract")
	if res.code != ExitOK || res.stdout != "enabled job extract: next run at 2024-05-01T08:05:00Z\n" {
		t.Errorf("job enable = %d %q %q", res.code, res.stdout, res.stderr)
	}

	// Without RUN: the runs not ended (9, 8); 8 ended meanwhile.
	res = runCLI(t, invocation{env: env}, "job", "stop", "extract")
	if res.code != ExitOK || res.stdout != "stopped run 9 of extract\n" {
		t.Errorf("job stop = %d %q %q; want run 9 stopped and 8, ended meanwhile, passed over", res.code, res.stdout, res.stderr)
	}
	if api.count("POST /v1/jobs/extract/runs/7/stop") != 0 || api.count("POST /v1/jobs/extract/runs/6/stop") != 0 {
		t.Error("job stop asked to stop runs that had ended")
	}
	// One run, by id: an ended one is an error.
	res = runCLI(t, invocation{env: env}, "job", "stop", "extract", "7")
	if res.code != ExitFailed || !strings.Contains(res.stderr, "run 7 already ended") {
		t.Errorf("job stop of an ended run = %d %q; want %d and the API's reason", res.code, res.stderr, ExitFailed)
	}
	if res := runCLI(t, invocation{env: env}, "job", "stop", "extract", "x"); res.code != ExitUsage {
		t.Errorf("job stop with a bad run id = %d; want %d", res.code, ExitUsage)
	}
}
