package jobs

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// startMetronome starts a leading service with a Metronome listener and
// returns the server as seen there, and on its main listener.
func startMetronome(t *testing.T) (m, main *server) {
	t.Helper()
	main = startServerWith(t, newDB(t), func(c *Config) { c.MetronomeListen = "127.0.0.1:0" })
	eventually(t, "the service leads", main.svc.Leading)
	m = main.with(t)
	m.base = "http://" + main.svc.MetronomeAddr().String()
	return m, main
}

func metronomeFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "metronome", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantInvalid checks Metronome's 422: "Object is not valid" with details
// at exactly paths, whose errors say text.
func wantInvalid(t *testing.T, r response, text string, paths ...string) {
	t.Helper()
	body := wantJSONError(t, r, http.StatusUnprocessableEntity, "Object is not valid")
	if got := detailPaths(t, r, body); !slices.Equal(got, paths) {
		t.Errorf("%s detail paths = %v; want %v (%s)", r, got, paths, r.body)
	}
	if !strings.Contains(string(r.body), text) {
		t.Errorf("%s = %s; want it to say %q", r, r.body, text)
	}
}

// TestMetronomeJobsAndSchedules drives a job and its schedule through
// the Metronome listener: created from the job file, read back in
// Metronome's shape and in the native one, its one schedule created,
// read, replaced and deleted, the spec replaced keeping the schedule,
// then deleted.
func TestMetronomeJobsAndSchedules(t *testing.T) {
	m, main := startMetronome(t)
	const id = "prod.example.hello"
	created := m.must(http.StatusCreated, "POST", "/v1/jobs", metronomeFile(t, "job.json")).object(t)
	if get(created, "id") != id || get(created, "run", "cmd") == nil || get(created, "run", "maxLaunchDelay") != 600.0 {
		t.Errorf("POST /v1/jobs = %v; want the job back", created)
	}
	wantJSONError(t, m.do("POST", "/v1/jobs", metronomeFile(t, "job.json")), http.StatusConflict, "already exists")

	// The native API sees the same job.
	native := main.must(http.StatusOK, "GET", "/v1/jobs/"+id, "").object(t)
	for k, want := range map[string]any{"command": `echo "hello from $GREETING" && echo done > done.txt`, "schedule": "", "onDemand": true,
		"retries": 0.0, "maxLaunchDelaySeconds": 600.0, "killGracePeriodSeconds": 3.0, "mem": 32.0} {
		if got := native[k]; got != want {
			t.Errorf("native %s = %v; want %v", k, got, want)
		}
	}
	// So does the main listener's /metronome.
	main.must(http.StatusOK, "GET", "/metronome/v1/jobs/"+id, "")

	// One schedule.
	if got := m.must(http.StatusOK, "GET", "/v1/jobs/"+id+"/schedules", "").list(t); len(got) != 0 {
		t.Errorf("schedules of a new job = %v; want none", got)
	}
	sc := m.must(http.StatusCreated, "POST", "/v1/jobs/"+id+"/schedules", metronomeFile(t, "schedule.json")).object(t)
	if sc["id"] != "nightly" || sc["concurrencyPolicy"] != "FORBID" || sc["nextRunAt"] == nil {
		t.Errorf("POST schedules = %v; want nightly, FORBID, with nextRunAt", sc)
	}
	wantJSONError(t, m.do("POST", "/v1/jobs/"+id+"/schedules", metronomeFile(t, "schedule.json")), http.StatusConflict, `schedule "nightly"`)
	wantJSONError(t, m.do("POST", "/v1/jobs/"+id+"/schedules", `{"id": "hourly", "cron": "0 * * * *"}`), http.StatusConflict, "has a schedule already")
	m.must(http.StatusOK, "GET", "/v1/jobs/"+id+"/schedules/nightly", "")
	nf := wantJSONError(t, m.do("GET", "/v1/jobs/"+id+"/schedules/hourly", ""), http.StatusNotFound, "Schedule not found")
	if nf["id"] != "hourly" {
		t.Errorf("404 of a schedule = %v; want its id", nf)
	}
	wantInvalid(t, m.do("PUT", "/v1/jobs/"+id+"/schedules/nightly", `{"id": "nightly", "cron": "0 2 * * *", "concurrencyPolicy": "QUEUE", "timezone": "Mars/Olympus"}`),
		"ALLOW, FORBID, REPLACE", "/concurrencyPolicy", "/timezone")
	wantInvalid(t, m.do("PUT", "/v1/jobs/"+id+"/schedules/nightly", `{"id": "daily", "cron": "0 2 * * *"}`), "does not match", "/id")
	sc = m.must(http.StatusOK, "PUT", "/v1/jobs/"+id+"/schedules/nightly", `{"id": "nightly", "cron": "30 3 * * *", "enabled": false, "concurrencyPolicy": "REPLACE"}`).object(t)
	if sc["enabled"] != false || sc["cron"] != "30 3 * * *" || sc["timezone"] != "UTC" || sc["startingDeadlineSeconds"] != 900.0 {
		t.Errorf("PUT schedule = %v; want it replaced, with Metronome's defaults", sc)
	}
	native = main.must(http.StatusOK, "GET", "/v1/jobs/"+id, "").object(t)
	if native["schedule"] != "30 3 * * *" || native["onDemand"] != false || native["disabled"] != true || native["scheduleId"] != "nightly" || native["concurrencyPolicy"] != "REPLACE" {
		t.Errorf("native job after PUT schedule = %v", native)
	}

	// PUT replaces the spec and keeps the schedule.
	spec := strings.Replace(metronomeFile(t, "job.json"), `"mem": 32`, `"mem": 64`, 1)
	m.must(http.StatusOK, "PUT", "/v1/jobs/"+id, spec)
	got := m.must(http.StatusOK, "GET", "/v1/jobs/"+id+"?embed=schedules&embed=historySummary,activeRuns", "")
	golden(t, "metronome_job.json", got, scrub(t, got))
	wantInvalid(t, m.do("PUT", "/v1/jobs/"+id, strings.Replace(spec, id, "prod.other", 1)), "does not match", "/id")

	// A native job shows in Metronome's list, its schedule named "default".
	main.must(http.StatusCreated, "POST", "/v1/jobs", `{"name": "nightly-export", "command": "true", "schedule": "0 2 * * *"}`)
	list := m.must(http.StatusOK, "GET", "/v1/jobs?embed=schedules", "").list(t)
	var ids []string
	for _, j := range list {
		ids = append(ids, get(j, "id").(string))
	}
	if !slices.Equal(ids, []string{"nightly-export", id}) {
		t.Errorf("GET /v1/jobs ids = %v", ids)
	}
	if got := get(list[0], "schedules", 0, "id"); got != "default" {
		t.Errorf("schedule id of a native job = %v; want default", got)
	}
	wantJSONError(t, m.do("GET", "/v1/jobs?embed=tasks", ""), http.StatusBadRequest, `unknown embed "tasks"`)

	m.must(http.StatusOK, "DELETE", "/v1/jobs/"+id+"/schedules/nightly", "")
	if got := m.must(http.StatusOK, "GET", "/v1/jobs/"+id+"/schedules", "").list(t); len(got) != 0 {
		t.Errorf("schedules after DELETE = %v; want none", got)
	}
	wantJSONError(t, m.do("DELETE", "/v1/jobs/"+id+"/schedules/nightly", ""), http.StatusNotFound, "Schedule not found")

	deleted := m.must(http.StatusOK, "DELETE", "/v1/jobs/"+id, "").object(t)
	if deleted["id"] != id {
		t.Errorf("DELETE = %v; want the job deleted", deleted)
	}
	nf = wantJSONError(t, m.do("GET", "/v1/jobs/"+id, ""), http.StatusNotFound, "Job not found")
	if nf["id"] != id {
		t.Errorf("404 of a job = %v; want its id", nf)
	}
	for _, p := range []string{"/schedules", "/runs", "/runs/1"} {
		wantJSONError(t, m.do("GET", "/v1/jobs/"+id+p, ""), http.StatusNotFound, "Job not found")
	}
	wantJSONError(t, m.do("POST", "/v1/jobs/"+id+"/runs", ""), http.StatusNotFound, "Job not found")
}

// TestMetronomeInvalid checks the refusals: 422 naming the field in
// Metronome's paths, 400 for what is not JSON.
func TestMetronomeInvalid(t *testing.T) {
	m, _ := startMetronome(t)
	tests := []struct {
		name, body, text string
		paths            []string
	}{
		{"gpus", `{"id": "a", "run": {"cmd": "x", "gpus": 1}}`, "GPUs are not supported", []string{"/run/gpus"}},
		{"volumes", `{"id": "a", "run": {"cmd": "x", "volumes": [{"containerPath": "/d", "hostPath": "/srv", "mode": "RW"}]}}`, "volumes are not supported", []string{"/run/volumes"}},
		{"ucr", `{"id": "a", "run": {"cmd": "x", "ucr": {"image": {"id": "busybox"}}}}`, "UCR", []string{"/run/ucr"}},
		{"secrets", `{"id": "a", "run": {"cmd": "x", "secrets": {"s": {"source": "x"}}}}`, "secrets are not supported", []string{"/run/secrets"}},
		{"id", `{"id": "Prod_App", "run": {"cmd": "x"}}`, "not a valid job id", []string{"/id"}},
		{"resources", `{"id": "a", "run": {"cmd": "x", "cpus": 0, "mem": 8}}`, "must be at least", []string{"/run/cpus", "/run/mem"}},
		{"docker option", `{"id": "a", "run": {"docker": {"image": "busybox", "parameters": [{"key": "privileged", "value": "true"}]}}}`, "", []string{"/run/docker/parameters(0)/key"}},
		{"unknown dependency", `{"id": "a", "dependencies": [{"id": "nope"}], "run": {"cmd": "x"}}`, "nope", []string{"/dependencies"}},
		{"unknown field", `{"id": "a", "run": {"command": "x", "cmd": "x"}}`, "unknown field", []string{"/run/command"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantInvalid(t, m.with(t).do("POST", "/v1/jobs", tt.body), tt.text, tt.paths...)
		})
	}
	wantJSONError(t, m.do("POST", "/v1/jobs", `{"id": `), http.StatusBadRequest, "Invalid JSON")
	// Blank values of what corral does not do, as clients send them, pass.
	m.must(http.StatusCreated, "POST", "/v1/jobs", `{"id": "blanks", "run": {"cmd": "x", "gpus": 0, "volumes": [], "secrets": {}, "ucr": null,
		"docker": null, "restart": {"policy": "NEVER", "activeDeadlineSeconds": null}}}`)
	wantInvalid(t, m.do("POST", "/v1/jobs/blanks/runs", `{"args": ["x"]}`), "takes no body", "/")
}

// TestMetronomeRuns starts a run through POST …/runs, reads it, stops it,
// finds it in the job's history; and fails a run that no offer fitted
// within maxLaunchDelay. The service here has no master: runs stay
// queued (STARTING) until stopped or failed.
func TestMetronomeRuns(t *testing.T) {
	m, _ := startMetronome(t)
	m.must(http.StatusCreated, "POST", "/v1/jobs", `{"id": "batch.a", "run": {"cmd": "true"}}`)
	run := m.must(http.StatusCreated, "POST", "/v1/jobs/batch.a/runs", "").object(t)
	rid, _ := run["id"].(string)
	if run["status"] != "STARTING" || run["jobId"] != "batch.a" || rid == "" || run["completedAt"] != nil {
		t.Fatalf("POST runs = %v; want a STARTING run", run)
	}
	if got := m.must(http.StatusOK, "GET", "/v1/jobs/batch.a/runs", "").list(t); len(got) != 1 || get(got[0], "id") != rid {
		t.Errorf("GET runs = %v; want the active run", got)
	}
	m.must(http.StatusOK, "GET", "/v1/jobs/batch.a/runs/"+rid, "")
	wantJSONError(t, m.do("DELETE", "/v1/jobs/batch.a", ""), http.StatusConflict, "active runs", "stopCurrentJobRuns=true")

	stopped := m.must(http.StatusOK, "POST", "/v1/jobs/batch.a/runs/"+rid+"/actions/stop", "").object(t)
	if stopped["status"] != "FAILED" || stopped["completedAt"] == nil || !strings.Contains(stopped["reason"].(string), "stopped") {
		t.Errorf("stop = %v; want a FAILED run, stopped", stopped)
	}
	wantJSONError(t, m.do("POST", "/v1/jobs/batch.a/runs/"+rid+"/actions/stop", ""), http.StatusConflict, "already ended")
	if got := m.must(http.StatusOK, "GET", "/v1/jobs/batch.a/runs", "").list(t); len(got) != 0 {
		t.Errorf("GET runs after stop = %v; want none active", got)
	}
	// Finished runs stay readable, and are in the history.
	m.must(http.StatusOK, "GET", "/v1/jobs/batch.a/runs/"+rid, "")
	h := m.must(http.StatusOK, "GET", "/v1/jobs/batch.a?embed=history", "").object(t)
	if got := get(h, "history", "failedFinishedRuns", 0, "id"); got != rid {
		t.Errorf("history = %v; want run %s failed", h["history"], rid)
	}
	for _, p := range []string{"999999", "x"} {
		nf := wantJSONError(t, m.do("GET", "/v1/jobs/batch.a/runs/"+p, ""), http.StatusNotFound, "Job Run not found")
		if nf["jobSpec"] != "batch.a" || nf["id"] != p {
			t.Errorf("404 of a run = %v; want its job and id", nf)
		}
	}

	// stopCurrentJobRuns stops the active runs, then deletes.
	m.must(http.StatusCreated, "POST", "/v1/jobs/batch.a/runs", "")
	m.must(http.StatusOK, "DELETE", "/v1/jobs/batch.a?stopCurrentJobRuns=true", "")

	// maxLaunchDelay fails a run no offer fitted.
	m.must(http.StatusCreated, "POST", "/v1/jobs", `{"id": "batch.late", "run": {"cmd": "true", "maxLaunchDelay": 1}}`)
	late := m.must(http.StatusCreated, "POST", "/v1/jobs/batch.late/runs", "").object(t)["id"].(string)
	var last map[string]any
	deadline := time.Now().Add(15 * time.Second)
	for ; time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if last = m.must(http.StatusOK, "GET", "/v1/jobs/batch.late/runs/"+late, "").object(t); last["status"] == "FAILED" {
			break
		}
	}
	if last["status"] != "FAILED" || !strings.Contains(last["reason"].(string), "maxLaunchDelay") {
		t.Errorf("run of a job with maxLaunchDelay 1 = %v; want FAILED, not launched", last)
	}
}
