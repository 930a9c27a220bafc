package apiclient

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Job is a native job as GET /v1/jobs and /v1/jobs/{name} show it.
type Job struct {
	Name                   string   `json:"name"`
	Command                string   `json:"command"`
	Args                   []string `json:"args"`
	CPUs                   float64  `json:"cpus"`
	Mem                    float64  `json:"mem"`
	Disk                   float64  `json:"disk"`
	Schedule               string   `json:"schedule"`
	Timezone               string   `json:"timezone"`
	Parents                []string `json:"parents"`
	Retries                int      `json:"retries"`
	TimeoutSeconds         float64  `json:"timeoutSeconds"`
	ConcurrencyPolicy      string   `json:"concurrencyPolicy"`
	Disabled               bool     `json:"disabled"`
	SoftError              bool     `json:"softError"`
	Description            string   `json:"description"`
	Owner                  string   `json:"owner"`
	SuccessCount           int64    `json:"successCount"`
	ErrorCount             int64    `json:"errorCount"`
	ErrorsSinceLastSuccess int64    `json:"errorsSinceLastSuccess"`
	LastSuccess            string   `json:"lastSuccess"`
	LastError              string   `json:"lastError"`
	NextRun                string   `json:"nextRun"`
	Version                string   `json:"version"`
	// Webhooks are told when one of the job's runs ends in a state they
	// want.
	Webhooks []Webhook `json:"webhooks"`
}

// Webhook is a URL told, by a JSON POST, about the runs of a job that end
// in one of the states On lists.
type Webhook struct {
	URL string   `json:"url"`
	On  []string `json:"on"`
}

// CommandLine is the job's command, or its args joined.
func (j *Job) CommandLine() string {
	if j.Command != "" {
		return j.Command
	}
	return strings.Join(j.Args, " ")
}

// Run is a run of a job as the jobs API shows it.
type Run struct {
	ID           int64   `json:"id"`
	Job          string  `json:"job"`
	Trigger      string  `json:"trigger"`
	State        string  `json:"state"`
	Attempt      int     `json:"attempt"`
	MaxAttempts  int     `json:"maxAttempts"`
	Reason       string  `json:"reason"`
	ExitStatus   *int    `json:"exitStatus"`
	Host         string  `json:"host"`
	AgentID      string  `json:"agentId"`
	TaskID       string  `json:"taskId"`
	Sandbox      string  `json:"sandbox"`
	QueuedAt     string  `json:"queuedAt"`
	ScheduledFor *string `json:"scheduledFor"`
	StartedAt    *string `json:"startedAt"`
	FinishedAt   *string `json:"finishedAt"`
	TriggeredBy  []int64 `json:"triggeredBy"`
	// Notifications are the webhook notifications of the run's end and
	// how their delivery goes.
	Notifications []Notification `json:"notifications"`
}

// Notification is a webhook notification of a run's end as the jobs API
// shows it with the run.
type Notification struct {
	ID            string  `json:"id"` // the delivery id (X-Corral-Delivery)
	URL           string  `json:"url"`
	Default       bool    `json:"default"`
	Event         string  `json:"event"`
	State         string  `json:"state"` // pending, delivered, failing, abandoned
	Attempts      int     `json:"attempts"`
	LastStatus    *int    `json:"lastStatus"`
	LastError     string  `json:"lastError"`
	CreatedAt     string  `json:"createdAt"`
	LastAttemptAt *string `json:"lastAttemptAt"`
	NextAttemptAt *string `json:"nextAttemptAt"`
	DeliveredAt   *string `json:"deliveredAt"`
}

// Ended reports whether the run reached a final state; ok is true for
// SUCCEEDED.
func (r *Run) Ended() (done, ok bool) {
	switch r.State {
	case "SUCCEEDED":
		return true, true
	case "FAILED", "KILLED", "SKIPPED", "MISSED":
		return true, false
	}
	return false, false
}

// Jobs is the client of the jobs API's native /v1/jobs.
type Jobs struct{ *Client }

// NewJobs returns the client of the jobs API at base.
func NewJobs(base string, hc *http.Client) Jobs {
	return Jobs{New("jobs", base, hc)}
}

// JobPath is the API path of a job name.
func JobPath(name string) string {
	return "/v1/jobs/" + url.PathEscape(name)
}

// Job returns the job name; a missing one is an *Error with status 404.
func (j Jobs) Job(ctx context.Context, name string) (Job, error) {
	var out Job
	err := j.GetJSON(ctx, JobPath(name), &out)
	return out, err
}

// List returns every job.
func (j Jobs) List(ctx context.Context) ([]Job, error) {
	var out []Job
	err := j.GetJSON(ctx, "/v1/jobs", &out)
	return out, err
}

// Create creates a job from def (any JSON value, or its bytes).
func (j Jobs) Create(ctx context.Context, def any) (Job, error) {
	resp, err := j.Do(ctx, http.MethodPost, "/v1/jobs", def)
	if err != nil {
		return Job{}, err
	}
	var out Job
	return out, j.Decode("/v1/jobs", resp.Body, &out)
}

// Runs returns the job's runs, newest first, at most limit (0: the API's
// default).
func (j Jobs) Runs(ctx context.Context, name string, limit int) ([]Run, error) {
	return j.RunsBefore(ctx, name, limit, 0)
}

// RunsBefore is a page of Runs: those with an id below before (0: from
// the newest).
func (j Jobs) RunsBefore(ctx context.Context, name string, limit int, before int64) ([]Run, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if before > 0 {
		q.Set("before", strconv.FormatInt(before, 10))
	}
	path := JobPath(name) + "/runs"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out []Run
	err := j.GetJSON(ctx, path, &out)
	return out, err
}

// Trigger queues a manual run of the job and returns it.
func (j Jobs) Trigger(ctx context.Context, name string) (Run, error) {
	resp, err := j.Do(ctx, http.MethodPost, JobPath(name)+"/run", map[string]any{})
	if err != nil {
		return Run{}, err
	}
	var out Run
	return out, j.Decode(JobPath(name)+"/run", resp.Body, &out)
}
