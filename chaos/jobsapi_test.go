//go:build chaos

package chaos

import (
	"fmt"
	"net/url"
	"time"
)

// jobsAPI is a client of the jobs framework's native API at one instance
// (standbys serve reads and forward writes). Like marathon it returns
// errors and never fails the test.
type jobsAPI struct{ url string }

// jobRun is one run as GET /v1/jobs/{name}/runs shows it.
type jobRun struct {
	ID           int64   `json:"id"`
	Job          string  `json:"job"`
	Trigger      string  `json:"trigger"`
	State        string  `json:"state"`
	Reason       string  `json:"reason"`
	ScheduledFor *string `json:"scheduledFor"`
	StartedAt    *string `json:"startedAt"`
	FinishedAt   *string `json:"finishedAt"`
	TaskID       string  `json:"taskId"`
	AgentID      string  `json:"agentId"`
}

// scheduled returns the occurrence a scheduled run is for.
func (r jobRun) scheduled() (time.Time, bool) {
	if r.ScheduledFor == nil {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, *r.ScheduledFor)
	return t, err == nil
}

// activeRun reports whether a run state is not final: QUEUED, STARTING
// or RUNNING.
func activeRun(state string) bool {
	return state == "QUEUED" || state == "STARTING" || state == "RUNNING"
}

// cronJob is a job running `true` every second.
func cronJob(name, policy string) map[string]any {
	return map[string]any{
		"name": name, "command": "true", "schedule": "* * * * * *",
		"startingDeadlineSeconds": 30, "concurrencyPolicy": policy, "cpus": 0.01, "mem": 16,
	}
}

// laterJob is a job that does not come due during the suite: it exists
// only to be written and read back.
func laterJob(name string) map[string]any {
	return map[string]any{"name": name, "command": "true", "schedule": "R1/2099-01-01T00:00:00Z/PT1H", "cpus": 0.01, "mem": 16}
}

// create is POST /v1/jobs; nil means the API acknowledged it (2xx).
func (j jobsAPI) create(def map[string]any) error {
	return call("POST", j.url+"/v1/jobs", def, nil)
}

// exists is GET /v1/jobs/{name}: (true, nil) on 200, (false, nil) on 404.
func (j jobsAPI) exists(name string) (bool, error) {
	err := call("GET", j.url+"/v1/jobs/"+url.PathEscape(name), nil, nil)
	if e, ok := err.(*apiError); ok && e.Code == 404 {
		return false, nil
	}
	return err == nil, err
}

// runs returns every run of a job, newest first, following the pages of
// GET /v1/jobs/{name}/runs.
func (j jobsAPI) runs(name string) ([]jobRun, error) {
	var all []jobRun
	before := int64(0)
	for {
		u := fmt.Sprintf("%s/v1/jobs/%s/runs?limit=1000", j.url, url.PathEscape(name))
		if before > 0 {
			u += fmt.Sprintf("&before=%d", before)
		}
		var page []jobRun
		if err := call("GET", u, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < 1000 {
			return all, nil
		}
		before = page[len(page)-1].ID
		for _, r := range page {
			before = min(before, r.ID)
		}
	}
}

// health is GET /health: whether this instance leads, and the leader's
// URL when known. It answers 503 while the database is unreachable, with
// the same body.
func (j jobsAPI) health() (leading bool, leaderURL string, err error) {
	var h struct {
		Leading   bool   `json:"leading"`
		Leader    bool   `json:"leader"`
		LeaderURL string `json:"leaderUrl"`
	}
	err = getJSON(j.url+"/health", &h)
	return h.Leading || h.Leader, h.LeaderURL, err
}
