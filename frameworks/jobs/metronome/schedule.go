package metronome

import (
	"fmt"
	"strings"

	"corral/frameworks/jobs/job"
)

// Metronome's defaults for what a schedule spec leaves out.
const (
	DefaultStartingDeadline = 900.0 // seconds
	DefaultTimezone         = "UTC"
	// DefaultScheduleID names the schedule of a job given one through
	// an API that names none (the native and Chronos APIs).
	DefaultScheduleID = "default"
)

// Schedule is a schedule spec: when a job runs. As JSON it is
// Metronome's ScheduleSpec; NextRunAt is only written, and only when
// known.
type Schedule struct {
	ID                      string  `json:"id"`
	Cron                    string  `json:"cron"`
	Timezone                string  `json:"timezone"`
	StartingDeadlineSeconds float64 `json:"startingDeadlineSeconds"`
	ConcurrencyPolicy       string  `json:"concurrencyPolicy"`
	Enabled                 bool    `json:"enabled"`
	NextRunAt               string  `json:"nextRunAt,omitempty"`
}

var scheduleFields = []string{"id", "cron", "timezone", "startingDeadlineSeconds", "concurrencyPolicy", "enabled"}

// DecodeSchedule reads a schedule spec, with Metronome's defaults
// (timezone UTC, startingDeadlineSeconds 900, concurrencyPolicy ALLOW,
// enabled true). It returns *InvalidJSON for a body that is not JSON and
// a *job.ValidationError naming every other problem by its path: an
// unknown field, a field of the wrong type, a missing or invalid id, a
// missing cron or one that parse refuses (an ISO 8601 interval is
// refused outright: Metronome schedules are cron), a time zone parse
// refuses, a starting deadline under 1 second, a concurrency policy
// other than ALLOW, FORBID or REPLACE (which corral honours too).
// parse is the schedule package's parser, injected to keep this package
// pure; nil skips its checks. nextRunAt is read-only: ignored.
func DecodeSchedule(data []byte, parse func(expr, tz string) error) (Schedule, error) {
	rd := &reader{}
	sc := Schedule{Timezone: DefaultTimezone, StartingDeadlineSeconds: DefaultStartingDeadline, ConcurrencyPolicy: job.Allow, Enabled: true}
	m, ok := rd.object("/", data, scheduleFields, "nextRunAt")
	if !ok {
		return Schedule{}, rd.err()
	}
	rd.str("/id", m["id"], &sc.ID)
	rd.str("/cron", m["cron"], &sc.Cron)
	rd.str("/timezone", m["timezone"], &sc.Timezone)
	rd.number("/startingDeadlineSeconds", m["startingDeadlineSeconds"], &sc.StartingDeadlineSeconds)
	rd.str("/concurrencyPolicy", m["concurrencyPolicy"], &sc.ConcurrencyPolicy)
	rd.boolean("/enabled", m["enabled"], &sc.Enabled)
	if err := rd.err(); err != nil {
		return Schedule{}, err
	}
	sc.ConcurrencyPolicy = strings.ToUpper(strings.TrimSpace(sc.ConcurrencyPolicy))
	if sc.Timezone == "" {
		sc.Timezone = DefaultTimezone
	}
	// What the native model checks (the id's grammar, the cron and its
	// zone, the policy, the deadline's bounds) it checks here too, in
	// the schedule's paths.
	probe := job.New("probe")
	probe.Command = "true"
	if err := Apply(&probe, sc); err == nil && sc.Cron != "" {
		if ve := job.Validate(probe, parse); ve != nil {
			for _, d := range SchedulePaths(ve).Details {
				for _, e := range d.Errors {
					rd.add(d.Path, e)
				}
			}
		}
	}
	if sc.ID == "" {
		rd.add("/id", "is required")
	}
	switch cron := strings.TrimSpace(sc.Cron); {
	case cron == "":
		rd.add("/cron", "is required")
	case strings.HasPrefix(cron, "R"):
		rd.add("/cron", "must be a cron expression (an ISO 8601 interval is for the native and Chronos APIs)")
	}
	if sc.StartingDeadlineSeconds < 1 {
		rd.add("/startingDeadlineSeconds", fmt.Sprintf("must be at least 1 (got %g)", sc.StartingDeadlineSeconds))
	}
	if err := rd.err(); err != nil {
		return Schedule{}, err
	}
	return sc, nil
}

// Apply makes sc j's schedule, replacing any other. It refuses (a
// *job.ValidationError at "/") a job with parents: a job runs on a
// schedule or after its parents, not both.
func Apply(j *job.Job, sc Schedule) error {
	if len(j.Parents) > 0 {
		return invalid([]job.Detail{{Path: "/", Errors: []string{fmt.Sprintf("job %q runs after its dependencies %v; a job has a schedule or dependencies, not both", j.Name, j.Parents)}}})
	}
	j.OnDemand, j.ScheduleID, j.Schedule, j.Timezone = false, sc.ID, sc.Cron, sc.Timezone
	j.StartingDeadlineSeconds, j.ConcurrencyPolicy, j.Disabled = sc.StartingDeadlineSeconds, sc.ConcurrencyPolicy, !sc.Enabled
	return nil
}

// Clear removes j's schedule: j runs only when started (on demand), or
// after its parents. Its native starting deadline and policy go back to the
// defaults, and it is enabled.
func Clear(j *job.Job) {
	j.ScheduleID, j.Schedule, j.Timezone, j.Disabled = "", "", "", false
	j.StartingDeadlineSeconds, j.ConcurrencyPolicy = 0, ""
	j.OnDemand = len(j.Parents) == 0
	j.Normalize()
}

// ScheduleOf returns j's schedule, and false for a job without one. A
// job that names no schedule id has DefaultScheduleID.
func ScheduleOf(j job.Job) (Schedule, bool) {
	if j.Schedule == "" {
		return Schedule{}, false
	}
	id := j.ScheduleID
	if id == "" {
		id = DefaultScheduleID
	}
	tz := j.Timezone
	if tz == "" {
		tz = DefaultTimezone
	}
	policy := j.ConcurrencyPolicy
	if policy == "" {
		policy = job.DefaultPolicy
	}
	return Schedule{ID: id, Cron: j.Schedule, Timezone: tz, StartingDeadlineSeconds: j.StartingDeadlineSeconds,
		ConcurrencyPolicy: policy, Enabled: !j.Disabled}, true
}
