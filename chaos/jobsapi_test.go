//go:build chaos

package chaos

import (
	"context"
	"time"

	"corral/internal/apiclient"
)

// jobsAPI is a client of the jobs framework's native API at one instance
// (standbys serve reads and forward writes), through apiclient. Like
// marathon it returns errors and never fails the test.
type jobsAPI struct{ url string }

func (j jobsAPI) api() apiclient.Jobs { return apiclient.NewJobs(j.url, httpClient) }

// jobRun is one run as GET /v1/jobs/{name}/runs shows it.
type jobRun = apiclient.Run

// scheduledOf returns the occurrence a scheduled run is for.
func scheduledOf(r jobRun) (time.Time, bool) {
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
	_, err := j.api().Create(context.Background(), def)
	return err
}

// trigger queues a manual run of a job.
func (j jobsAPI) trigger(name string) error {
	_, err := j.api().Trigger(context.Background(), name)
	return err
}

// exists is GET /v1/jobs/{name}: (true, nil) on 200, (false, nil) on 404.
func (j jobsAPI) exists(name string) (bool, error) {
	_, err := j.api().Job(context.Background(), name)
	if apiclient.IsStatus(err, 404) {
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
		page, err := j.api().RunsBefore(context.Background(), name, 1000, before)
		if err != nil {
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
