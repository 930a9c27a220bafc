package e2e

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"corral/internal/testcluster"
)

// mrun is a run as the Metronome API shows it.
type mrun struct {
	ID          string  `json:"id"`
	JobID       string  `json:"jobId"`
	Status      string  `json:"status"`
	CreatedAt   string  `json:"createdAt"`
	CompletedAt *string `json:"completedAt"`
	Reason      string  `json:"reason"`
	Tasks       []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"tasks"`
}

// metronomeRun reads a run through the Metronome API.
func metronomeRun(t *testing.T, m api, job, id string) mrun {
	t.Helper()
	var r mrun
	if err := json.Unmarshal(m.must("GET", "/v1/jobs/"+job+"/runs/"+id, nil, 200), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// waitStatus polls a run until its status is want.
func waitStatus(t *testing.T, m api, job, id, want string, d time.Duration) mrun {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		r := metronomeRun(t, m, job, id)
		if r.Status == want {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s of %s is %s (%s) after %s; want %s", id, job, r.Status, r.Reason, d, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestMetronomeJob drives a cluster through the Metronome listener
// (--metronome_http): the job file of the API tests created, given its
// schedule, started now through POST …/runs and run to SUCCESS on a real
// agent (its output and the file it writes read back from the sandbox);
// a long run stopped through …/actions/stop ends FAILED with its task
// killed.
func TestMetronomeJob(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Agents: 1})
	addr := testcluster.FreeAddr(t)
	f := c.StartFramework("jobs", "--metronome_http", addr)
	native := api{t: t, url: f.URL}
	m := api{t: t, url: "http://" + addr}

	spec, err := os.ReadFile("../testdata/metronome/job.json")
	if err != nil {
		t.Fatal(err)
	}
	const id = "prod.example.hello"
	m.must("POST", "/v1/jobs", json.RawMessage(spec), 201)
	m.must("POST", "/v1/jobs/"+id+"/schedules", json.RawMessage(`{"id": "nightly", "cron": "0 2 * * *", "timezone": "Europe/Berlin"}`), 201)

	var started mrun
	if err := json.Unmarshal(m.must("POST", "/v1/jobs/"+id+"/runs", nil, 201), &started); err != nil {
		t.Fatal(err)
	}
	done := waitStatus(t, m, id, started.ID, "SUCCESS", 60*time.Second)
	if done.CompletedAt == nil || len(done.Tasks) != 1 || done.Tasks[0].Status != "TASK_FINISHED" {
		t.Errorf("finished run = %+v; want completedAt and one TASK_FINISHED task", done)
	}
	var sandboxed run
	for _, r := range native.runs(id) {
		if strconv.FormatInt(r.ID, 10) == started.ID {
			sandboxed = r
		}
	}
	if out := sandboxFile(t, sandboxed, "stdout"); !strings.Contains(out, "hello from metronome") {
		t.Errorf("stdout of the run = %q; want the greeting its env made", out)
	}
	if got := sandboxFile(t, sandboxed, "done.txt"); got != "done\n" {
		t.Errorf("done.txt = %q; want \"done\\n\"", got)
	}
	var h struct {
		History struct {
			SuccessCount           int64 `json:"successCount"`
			SuccessfulFinishedRuns []struct {
				ID string `json:"id"`
			} `json:"successfulFinishedRuns"`
		} `json:"history"`
		Schedules []struct {
			ID string `json:"id"`
		} `json:"schedules"`
	}
	if err := json.Unmarshal(m.must("GET", "/v1/jobs/"+id+"?embed=history,schedules", nil, 200), &h); err != nil {
		t.Fatal(err)
	}
	if h.History.SuccessCount != 1 || len(h.History.SuccessfulFinishedRuns) != 1 || len(h.Schedules) != 1 || h.Schedules[0].ID != "nightly" {
		t.Errorf("job with history and schedules = %+v; want one success and the nightly schedule", h)
	}

	// A long run, stopped.
	m.must("POST", "/v1/jobs", json.RawMessage(`{"id": "prod.example.sleeper", "run": {"cmd": "sleep 60", "cpus": 0.1, "mem": 32, "taskKillGracePeriodSeconds": 1}}`), 201)
	var long mrun
	if err := json.Unmarshal(m.must("POST", "/v1/jobs/prod.example.sleeper/runs", nil, 201), &long); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for r := metronomeRun(t, m, "prod.example.sleeper", long.ID); len(r.Tasks) == 0 || r.Tasks[0].Status != "TASK_RUNNING"; r = metronomeRun(t, m, "prod.example.sleeper", long.ID) {
		if time.Now().After(deadline) {
			t.Fatalf("run %s = %+v; want its task running", long.ID, r)
		}
		time.Sleep(200 * time.Millisecond)
	}
	m.must("POST", "/v1/jobs/prod.example.sleeper/runs/"+long.ID+"/actions/stop", nil, 200)
	stopped := waitStatus(t, m, "prod.example.sleeper", long.ID, "FAILED", 30*time.Second)
	if len(stopped.Tasks) != 1 || stopped.Tasks[0].Status != "TASK_KILLED" || !strings.Contains(stopped.Reason, "stopped") {
		t.Errorf("stopped run = %+v; want FAILED with its task killed", stopped)
	}
}
