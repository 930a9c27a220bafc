package metronome

import (
	"fmt"
	"strings"
	"time"

	"corral/frameworks/jobs/job"
)

// JobSpec is a job as Metronome's clients read it. The embeds are set
// (non-nil, if maybe empty) only when asked for (see Embed).
type JobSpec struct {
	ID             string            `json:"id"`
	Description    string            `json:"description"`
	Labels         map[string]string `json:"labels"`
	Dependencies   []Dependency      `json:"dependencies"`
	Run            RunSpec           `json:"run"`
	ActiveRuns     *[]Run            `json:"activeRuns,omitempty"`
	Schedules      *[]Schedule       `json:"schedules,omitempty"`
	History        *History          `json:"history,omitempty"`
	HistorySummary *HistorySummary   `json:"historySummary,omitempty"`
}

// Dependency names a job this one runs after.
type Dependency struct {
	ID string `json:"id"`
}

// RunSpec is what a job's runs run, in Metronome's shape. Volumes and
// Secrets are always empty: DecodeJob refuses any.
type RunSpec struct {
	Cmd                        string            `json:"cmd,omitempty"`
	Args                       []string          `json:"args,omitempty"`
	CPUs                       float64           `json:"cpus"`
	Mem                        float64           `json:"mem"`
	Disk                       float64           `json:"disk"`
	GPUs                       int               `json:"gpus"`
	Docker                     *Docker           `json:"docker,omitempty"`
	Env                        map[string]string `json:"env"`
	Placement                  Placement         `json:"placement"`
	Artifacts                  []Artifact        `json:"artifacts"`
	MaxLaunchDelay             float64           `json:"maxLaunchDelay"`
	Restart                    Restart           `json:"restart"`
	User                       string            `json:"user,omitempty"`
	TaskKillGracePeriodSeconds float64           `json:"taskKillGracePeriodSeconds,omitempty"`
	Volumes                    []struct{}        `json:"volumes"`
	Secrets                    map[string]string `json:"secrets"`
}

// Docker is a run's Docker image.
type Docker struct {
	Image          string     `json:"image"`
	ForcePullImage bool       `json:"forcePullImage"`
	Privileged     bool       `json:"privileged"`
	Parameters     []KeyValue `json:"parameters"`
}

// KeyValue is one docker parameter.
type KeyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Placement holds a run's constraints.
type Placement struct {
	Constraints []Constraint `json:"constraints"`
}

// Constraint is {attribute, operator, value}; the native EQUALS shows as
// EQ, the native operators Metronome lacks (UNIQUE, …) as they are.
type Constraint struct {
	Attribute string `json:"attribute"`
	Operator  string `json:"operator"`
	Value     string `json:"value,omitempty"`
}

// Artifact is a file fetched into a run's sandbox.
type Artifact struct {
	URI        string `json:"uri"`
	Executable bool   `json:"executable"`
	Extract    bool   `json:"extract"`
	Cache      bool   `json:"cache"`
}

// Restart is a run's restart policy.
type Restart struct {
	Policy string `json:"policy"`
}

// View returns j as a job spec, without embeds. A native job run as a
// command line without a shell shows as args, as it runs.
func View(j job.Job) JobSpec {
	rs := RunSpec{Cmd: j.Command, Args: j.Args, CPUs: j.CPUs, Mem: j.Mem, Disk: j.Disk,
		Env: nonNilMap(j.Env), Placement: Placement{Constraints: []Constraint{}}, Artifacts: []Artifact{},
		MaxLaunchDelay: j.MaxLaunchDelaySeconds, Restart: Restart{Policy: Never}, User: j.User,
		TaskKillGracePeriodSeconds: j.KillGracePeriodSeconds, Volumes: []struct{}{}, Secrets: map[string]string{}}
	if j.Command != "" && !j.Shell {
		rs.Cmd, rs.Args = "", strings.Fields(j.Command)
	}
	if j.Retries > 0 {
		rs.Restart.Policy = OnFailure
	}
	if c := j.Container; c != nil {
		d := &Docker{Image: c.Image, ForcePullImage: c.ForcePullImage, Parameters: []KeyValue{}}
		for _, p := range c.Parameters {
			d.Parameters = append(d.Parameters, KeyValue(p))
		}
		rs.Docker = d
	}
	for _, c := range j.Constraints {
		con := Constraint{}
		if len(c) > 0 {
			con.Attribute = c[0]
		}
		if len(c) > 1 {
			con.Operator = c[1]
			if con.Operator == "EQUALS" {
				con.Operator = "EQ"
			}
		}
		if len(c) > 2 {
			con.Value = c[2]
		}
		rs.Placement.Constraints = append(rs.Placement.Constraints, con)
	}
	for _, f := range j.Fetches() {
		rs.Artifacts = append(rs.Artifacts, Artifact{URI: f.URI, Executable: f.Executable, Extract: f.Extract, Cache: f.Cache})
	}
	deps := []Dependency{}
	for _, p := range j.Parents {
		deps = append(deps, Dependency{ID: p})
	}
	return JobSpec{ID: j.Name, Description: j.Description, Labels: nonNilMap(j.Labels), Dependencies: deps, Run: rs}
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// Embed is what a job list or a job may embed.
type Embed int

// The embeds of ?embed=.
const (
	EmbedActiveRuns Embed = 1 << iota
	EmbedSchedules
	EmbedHistory
	EmbedHistorySummary
)

var embedNames = map[string]Embed{"activeRuns": EmbedActiveRuns, "schedules": EmbedSchedules,
	"history": EmbedHistory, "historySummary": EmbedHistorySummary}

// String names the embeds in e, comma-separated.
func (e Embed) String() string {
	var out []string
	for _, n := range []string{"activeRuns", "schedules", "history", "historySummary"} {
		if e&embedNames[n] != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, ",")
}

// ParseEmbeds reads the values of ?embed= (repeated, comma-separated or
// both). An unknown name is an error naming it (a 400).
func ParseEmbeds(values []string) (Embed, error) {
	var e Embed
	for _, v := range values {
		for _, n := range strings.Split(v, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			bit, ok := embedNames[n]
			if !ok {
				return 0, fmt.Errorf("unknown embed %q: use activeRuns, schedules, history or historySummary", n)
			}
			e |= bit
		}
	}
	return e, nil
}

// The statuses of a Metronome run. Metronome's INITIAL (created, not yet
// stored) never shows: corral stores a run as it creates it.
const (
	StatusStarting = "STARTING"
	StatusActive   = "ACTIVE"
	StatusSuccess  = "SUCCESS"
	StatusFailed   = "FAILED"
)

// Facts are what RunView needs of a native run: its store record's
// fields. State is the native state (QUEUED, STARTING, RUNNING,
// SUCCEEDED, FAILED, KILLED, MISSED, SKIPPED).
type Facts struct {
	ID                                  int64
	Job, Trigger, State, Reason, TaskID string
	Attempt                             int
	ExitStatus                          *int
	QueuedAt                            time.Time
	ScheduledFor, StartedAt, FinishedAt *time.Time
}

// Run is a job run as Metronome's clients read it, with corral's
// additions (reason, exitCode, scheduledFor, trigger, attempt), which
// Metronome's clients ignore.
type Run struct {
	ID           string  `json:"id"`
	JobID        string  `json:"jobId"`
	Status       string  `json:"status"`
	CreatedAt    string  `json:"createdAt"`
	CompletedAt  *string `json:"completedAt"`
	Tasks        []Task  `json:"tasks"`
	Reason       string  `json:"reason,omitempty"`
	ExitCode     *int    `json:"exitCode,omitempty"`
	ScheduledFor *string `json:"scheduledFor,omitempty"`
	Trigger      string  `json:"trigger"`
	Attempt      int     `json:"attempt"`
}

// Task is the task of a run's current (or last) attempt.
type Task struct {
	ID          string  `json:"id"`
	Status      string  `json:"status"`
	StartedAt   *string `json:"startedAt"`
	CompletedAt *string `json:"completedAt"`
}

// Status is the Metronome status of a native state, and false for a
// state that is no Metronome run (SKIPPED: the occurrence never ran).
// A queued first attempt is STARTING (stored, waiting for an offer); a
// queued retry, a launched or a running task ACTIVE; SUCCEEDED is
// SUCCESS; FAILED, KILLED (stopped) and MISSED (not started within the
// starting deadline) are FAILED.
func Status(state string, attempt int) (string, bool) {
	switch state {
	case "QUEUED":
		if attempt > 0 {
			return StatusActive, true
		}
		return StatusStarting, true
	case "STARTING", "RUNNING":
		return StatusActive, true
	case "SUCCEEDED":
		return StatusSuccess, true
	case "FAILED", "KILLED", "MISSED":
		return StatusFailed, true
	}
	return "", false
}

// taskStatus is the Mesos state of a run's task as Metronome shows it.
func taskStatus(state string) string {
	switch state {
	case "STARTING":
		return "TASK_STAGING"
	case "RUNNING":
		return "TASK_RUNNING"
	case "SUCCEEDED":
		return "TASK_FINISHED"
	case "KILLED":
		return "TASK_KILLED"
	}
	return "TASK_FAILED"
}

// TimeFormat is how Metronome writes times: milliseconds and a numeric
// offset, in UTC (2016-07-15T13:02:59.735+0000).
const TimeFormat = "2006-01-02T15:04:05.000-0700"

// Time writes t in TimeFormat, nil for nil.
func Time(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(TimeFormat)
	return &s
}

// RunView returns f as a Metronome run, and false for a native run that
// is none (Status). Its id is the native run id in decimal.
func RunView(f Facts) (Run, bool) {
	status, ok := Status(f.State, f.Attempt)
	if !ok {
		return Run{}, false
	}
	r := Run{ID: fmt.Sprint(f.ID), JobID: f.Job, Status: status, CreatedAt: *Time(&f.QueuedAt),
		Tasks: []Task{}, Reason: f.Reason, ExitCode: f.ExitStatus, ScheduledFor: Time(f.ScheduledFor),
		Trigger: f.Trigger, Attempt: f.Attempt}
	if status == StatusSuccess || status == StatusFailed {
		r.CompletedAt = Time(f.FinishedAt)
	}
	if f.TaskID != "" && f.State != "QUEUED" {
		t := Task{ID: f.TaskID, Status: taskStatus(f.State), StartedAt: Time(f.StartedAt)}
		if r.CompletedAt != nil {
			t.CompletedAt = r.CompletedAt
		}
		r.Tasks = append(r.Tasks, t)
	}
	return r, true
}

// HistorySummary is a job's counts of finished runs.
type HistorySummary struct {
	SuccessCount  int64   `json:"successCount"`
	FailureCount  int64   `json:"failureCount"`
	LastSuccessAt *string `json:"lastSuccessAt"`
	LastFailureAt *string `json:"lastFailureAt"`
}

// History is HistorySummary with the finished runs, newest first.
type History struct {
	HistorySummary
	SuccessfulFinishedRuns []FinishedRun `json:"successfulFinishedRuns"`
	FailedFinishedRuns     []FinishedRun `json:"failedFinishedRuns"`
}

// FinishedRun is a run in a job's history.
type FinishedRun struct {
	ID         string   `json:"id"`
	CreatedAt  string   `json:"createdAt"`
	FinishedAt *string  `json:"finishedAt"`
	Tasks      []string `json:"tasks"`
}

// Stats are a job's counters, as the store keeps them.
type Stats struct {
	SuccessCount, FailureCount int64
	LastSuccess, LastFailure   *time.Time
}

// Summary returns st as a HistorySummary.
func Summary(st Stats) HistorySummary {
	return HistorySummary{SuccessCount: st.SuccessCount, FailureCount: st.FailureCount,
		LastSuccessAt: Time(st.LastSuccess), LastFailureAt: Time(st.LastFailure)}
}

// NewHistory returns the history of a job with the counters st and the
// runs given (in the order given); runs that have not ended, and those
// that are no Metronome runs, are left out.
func NewHistory(st Stats, runs []Facts) History {
	h := History{HistorySummary: Summary(st), SuccessfulFinishedRuns: []FinishedRun{}, FailedFinishedRuns: []FinishedRun{}}
	for _, f := range runs {
		r, ok := RunView(f)
		if !ok {
			continue
		}
		fr := FinishedRun{ID: r.ID, CreatedAt: r.CreatedAt, FinishedAt: r.CompletedAt, Tasks: []string{}}
		if f.TaskID != "" {
			fr.Tasks = append(fr.Tasks, f.TaskID)
		}
		switch r.Status {
		case StatusSuccess:
			h.SuccessfulFinishedRuns = append(h.SuccessfulFinishedRuns, fr)
		case StatusFailed:
			h.FailedFinishedRuns = append(h.FailedFinishedRuns, fr)
		}
	}
	return h
}
