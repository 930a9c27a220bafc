package job

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
)

// Defaults. A value of 0 in CPUs, Mem, Disk or StartingDeadlineSeconds, an
// empty ConcurrencyPolicy and, for a scheduled job, an empty Timezone mean
// "the default" and Normalize fills them in. Shell, Retries and
// RetryBackoffSeconds have meaningful zero values (no shell, no retry,
// retry at once), so their defaults are applied by the decoders, and by
// New, when the field is absent.
const (
	DefaultCPUs                    = 0.1
	DefaultMem                     = 128.0 // MiB
	DefaultDisk                    = 256.0 // MiB
	DefaultRetries                 = 2
	DefaultRetryBackoffSeconds     = 10.0
	DefaultStartingDeadlineSeconds = 60.0
	DefaultTimezone                = "UTC"
	// DefaultPolicy is the policy of a native job that names none.
	// DecodeChronos uses Forbid when "concurrent" is absent, as Chronos
	// never overlapped runs unless told to.
	DefaultPolicy = Allow
)

// The concurrency policies, the values of Job.ConcurrencyPolicy.
const (
	// Allow starts a run that comes due while others are active.
	Allow = "ALLOW"
	// Forbid skips a run that comes due while another is active and
	// records it as skipped with the reason.
	Forbid = "FORBID"
	// Replace stops the active runs and starts the new one.
	Replace = "REPLACE"
)

// Job is the definition of a job of the jobs framework. It is a plain
// value: the caller owns it, and nothing in this package keeps or mutates
// a Job it did not return.
//
// A job runs on a schedule (Schedule set), after its parents (Parents
// set), or only when started through an API (OnDemand set: Metronome's
// jobs without a schedule); Validate enforces exactly one.
type Job struct {
	// Name identifies the job: [A-Za-z0-9._-]+ without "..", of at most
	// MaxNameLen bytes (see ValidName).
	Name string
	// Command is the command line. With Shell it runs as `sh -c Command`;
	// without, Command is the path of the executable, run with no
	// arguments. A job with a Container may give neither Command nor
	// Args: its runs run the image's own command.
	Command string
	// Shell says Command is a shell command line. It defaults to true when
	// decoded; Normalize turns it off for a job given as Args.
	Shell bool
	// Args is the command as an argument vector, run without a shell:
	// Args[0] is the executable. Give Command or Args, not both.
	Args []string
	// CPUs, Mem (MiB) and Disk (MiB) are the resources of one run; 0 means
	// the default (DefaultCPUs, DefaultMem, DefaultDisk).
	CPUs, Mem, Disk float64
	// Env is the environment of the run's process.
	Env map[string]string
	// Owner is who to tell about the job: Chronos used comma-separated
	// e-mail addresses. OwnerName is a display name for the owner.
	Owner, OwnerName string
	// Description is free text.
	Description string
	// Labels are free key/value pairs for people and tools.
	Labels map[string]string
	// Disabled stops new scheduled and dependency-triggered runs; its
	// occurrences are recorded as skipped.
	Disabled bool
	// Constraints limit the agents a run may use: [attribute, OPERATOR] or
	// [attribute, OPERATOR, value], with Chronos' EQUALS, LIKE and UNLIKE
	// and Marathon's UNIQUE, CLUSTER, GROUP_BY, MAX_PER and IS.
	Constraints [][]string
	// Schedule is a cron expression or an ISO 8601 repeating interval
	// R[n]/start/period, interpreted in Timezone (an IANA name; default
	// UTC).
	Schedule string
	Timezone string
	// Parents are the jobs this one waits for: it runs once after all of
	// them have succeeded since its own last triggered run.
	Parents []string
	// Retries is how many times a failed run is retried; 0 means none.
	// The decoders default it to DefaultRetries.
	Retries int
	// RetryBackoffSeconds is the delay before the first retry, doubling
	// for each further one; 0 retries at once. The decoders default it to
	// DefaultRetryBackoffSeconds.
	RetryBackoffSeconds float64
	// TimeoutSeconds kills an attempt that runs longer, and fails it with
	// the reason; 0 means no timeout.
	TimeoutSeconds float64
	// ConcurrencyPolicy is Allow, Forbid or Replace; "" means
	// DefaultPolicy.
	ConcurrencyPolicy string
	// StartingDeadlineSeconds is how late an occurrence missed while the
	// framework was down may still start: one catch-up run inside the
	// deadline, otherwise the occurrence is recorded as missed; 0 means
	// DefaultStartingDeadlineSeconds. Chronos' epsilon maps here.
	StartingDeadlineSeconds float64
	// SoftError lets a failed run (after its retries) fire the children
	// as a success would.
	SoftError bool
	// OnDemand says the job has neither schedule nor parents on purpose:
	// it runs only when started through an API.
	OnDemand bool
	// ScheduleID names the job's schedule where an API addresses
	// schedules by id (Metronome's /v1/jobs/{id}/schedules/{scheduleId});
	// "" when none was given. It means nothing to the scheduler.
	ScheduleID string
	// MaxLaunchDelaySeconds fails a run whose attempt has not been
	// launched this long after it could start (queued, or its retry
	// delay over), for want of offers that fit; 0 waits for ever.
	MaxLaunchDelaySeconds float64
	// KillGracePeriodSeconds is how long a run's task has between the
	// polite signal (SIGTERM) and SIGKILL when it is killed (the task's
	// KillPolicy); 0 leaves it to the agent's default.
	KillGracePeriodSeconds float64
	// User is the user the job's runs run as (CommandInfo.user); "": none
	// is named, and the agent runs them as the framework's user. Chronos
	// calls it runAsUser.
	User string
	// Container, if set, runs the job's runs in a Docker image on agents
	// with the docker containerizer; nil runs them as plain processes.
	Container *Container
	// URIs and Fetch are the files the agent downloads into each run's
	// sandbox before the command starts: URIs (Chronos' deprecated
	// uris) with Mesos' defaults, Fetch with their options. Validate
	// allows one of the two, as Chronos does; see Fetches.
	URIs  []string
	Fetch []Fetch
	// Webhooks are told, by a JSON POST, when one of the job's runs ends
	// in a state they want (see Webhook). A job without any gets the
	// framework's default webhook, if one is configured, for its failed
	// runs.
	Webhooks []Webhook
	// Version identifies the stored revision. The server sets it; the
	// decoders read it only so that stored JSON round-trips.
	Version string
}

// New returns a job named name with every default applied, as the
// decoders would produce from {"name": name}, then Normalize. Code that
// builds jobs by hand starts here, so that Shell and Retries get their
// non-zero defaults.
func New(name string) Job {
	j := Job{
		Name:                name,
		Shell:               true,
		Retries:             DefaultRetries,
		RetryBackoffSeconds: DefaultRetryBackoffSeconds,
	}
	j.Normalize()
	return j
}

// Normalize fills in the defaults whose zero value means "default":
// resources, the starting deadline, the concurrency policy (which it also
// upper-cases), for a scheduled job the time zone, and the states of a
// webhook that names none (DefaultOn; the states it names it
// upper-cases). A job given as Args gets Shell false, as an argument
// vector never goes through a shell.
// Values Validate would reject (negative resources, say) are left alone
// for it to report. Normalize is idempotent.
func (j *Job) Normalize() {
	if j.CPUs == 0 {
		j.CPUs = DefaultCPUs
	}
	if j.Mem == 0 {
		j.Mem = DefaultMem
	}
	if j.Disk == 0 {
		j.Disk = DefaultDisk
	}
	if j.StartingDeadlineSeconds == 0 {
		j.StartingDeadlineSeconds = DefaultStartingDeadlineSeconds
	}
	j.ConcurrencyPolicy = strings.ToUpper(strings.TrimSpace(j.ConcurrencyPolicy))
	if j.ConcurrencyPolicy == "" {
		j.ConcurrencyPolicy = DefaultPolicy
	}
	if j.Schedule != "" && j.Timezone == "" {
		j.Timezone = DefaultTimezone
	}
	if len(j.Args) > 0 {
		j.Shell = false
	}
	normalizeWebhooks(j.Webhooks)
}

// wire is the native JSON shape of a job.
type wire struct {
	Name                    string            `json:"name"`
	Command                 string            `json:"command"`
	Shell                   bool              `json:"shell"`
	Args                    []string          `json:"args"`
	CPUs                    float64           `json:"cpus"`
	Mem                     float64           `json:"mem"`
	Disk                    float64           `json:"disk"`
	Env                     map[string]string `json:"env"`
	Owner                   string            `json:"owner"`
	OwnerName               string            `json:"ownerName"`
	Description             string            `json:"description"`
	Labels                  map[string]string `json:"labels"`
	Disabled                bool              `json:"disabled"`
	Constraints             [][]string        `json:"constraints"`
	Schedule                string            `json:"schedule"`
	Timezone                string            `json:"timezone"`
	Parents                 []string          `json:"parents"`
	Retries                 int               `json:"retries"`
	RetryBackoffSeconds     float64           `json:"retryBackoffSeconds"`
	TimeoutSeconds          float64           `json:"timeoutSeconds"`
	ConcurrencyPolicy       string            `json:"concurrencyPolicy"`
	StartingDeadlineSeconds float64           `json:"startingDeadlineSeconds"`
	SoftError               bool              `json:"softError"`
	OnDemand                bool              `json:"onDemand"`
	ScheduleID              string            `json:"scheduleId"`
	MaxLaunchDelaySeconds   float64           `json:"maxLaunchDelaySeconds"`
	KillGracePeriodSeconds  float64           `json:"killGracePeriodSeconds"`
	User                    string            `json:"user"`
	Container               *containerWire    `json:"container,omitempty"`
	URIs                    []string          `json:"uris"`
	Fetch                   []fetchWire       `json:"fetch"`
	Webhooks                []webhookWire     `json:"webhooks"`
	Version                 string            `json:"version"`
}

// MarshalJSON writes the native JSON of the job: every field under its
// camelCase name (the names DecodeNative reads, plus "version"), with
// empty lists as [] and empty maps as {}; "container" only for a job
// with one, in Chronos' shape; "webhooks" as [{"url", "on"}]. DecodeNative reads the output back to an
// equal Job.
func (j Job) MarshalJSON() ([]byte, error) {
	constraints := make([][]string, 0, len(j.Constraints))
	for _, c := range j.Constraints {
		constraints = append(constraints, nonNil(c))
	}
	fetch := make([]fetchWire, 0, len(j.Fetch))
	for _, f := range j.Fetch {
		fetch = append(fetch, fetchWire(f))
	}
	return json.Marshal(wire{
		Name: j.Name, Command: j.Command, Shell: j.Shell, Args: nonNil(j.Args),
		CPUs: j.CPUs, Mem: j.Mem, Disk: j.Disk, Env: nonNilMap(j.Env),
		Owner: j.Owner, OwnerName: j.OwnerName, Description: j.Description,
		Labels: nonNilMap(j.Labels), Disabled: j.Disabled, Constraints: constraints,
		Schedule: j.Schedule, Timezone: j.Timezone, Parents: nonNil(j.Parents),
		Retries: j.Retries, RetryBackoffSeconds: j.RetryBackoffSeconds,
		TimeoutSeconds: j.TimeoutSeconds, ConcurrencyPolicy: j.ConcurrencyPolicy,
		StartingDeadlineSeconds: j.StartingDeadlineSeconds, SoftError: j.SoftError,
		OnDemand: j.OnDemand, ScheduleID: j.ScheduleID, MaxLaunchDelaySeconds: j.MaxLaunchDelaySeconds,
		KillGracePeriodSeconds: j.KillGracePeriodSeconds,
		User:                   j.User, Container: containerJSON(j.Container), URIs: nonNil(j.URIs), Fetch: fetch,
		Webhooks: webhooksJSON(j.Webhooks), Version: j.Version,
	})
}

// UnmarshalJSON reads the native JSON of a job as DecodeNative does, so
// that encoding/json round-trips a Job. It reads stored jobs back, and
// so refuses nothing that only a request is refused for.
func (j *Job) UnmarshalJSON(data []byte) error {
	got, _, err := decodeNative(data, nil)
	if err != nil {
		return err
	}
	*j = got
	return nil
}

// Clone returns a deep copy of j: no slice or map is shared.
func (j Job) Clone() Job {
	c := j
	c.Args = slices.Clone(j.Args)
	c.Env = maps.Clone(j.Env)
	c.Labels = maps.Clone(j.Labels)
	c.Parents = slices.Clone(j.Parents)
	c.Container = j.Container.clone()
	c.URIs = slices.Clone(j.URIs)
	c.Fetch = slices.Clone(j.Fetch)
	c.Webhooks = cloneWebhooks(j.Webhooks)
	if j.Constraints != nil {
		c.Constraints = make([][]string, len(j.Constraints))
		for i, con := range j.Constraints {
			c.Constraints[i] = slices.Clone(con)
		}
	}
	return c
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
