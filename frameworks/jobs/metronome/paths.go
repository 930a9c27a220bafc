package metronome

import (
	"strings"

	"corral/frameworks/jobs/job"
)

// jobPaths maps the native paths of a job's fields to a job spec's, by
// prefix: the first that matches wins.
var jobPaths = []struct{ native, metronome string }{
	{"/name", "/id"},
	{"/command", "/run/cmd"},
	{"/args", "/run/args"},
	{"/cpus", "/run/cpus"},
	{"/mem", "/run/mem"},
	{"/disk", "/run/disk"},
	{"/env", "/run/env"},
	{"/user", "/run/user"},
	{"/runAsUser", "/run/user"},
	{"/constraints", "/run/placement/constraints"},
	{"/container", "/run/docker"},
	{"/fetch", "/run/artifacts"},
	{"/uris", "/run/artifacts"},
	{"/parents", "/dependencies"},
	{"/retries", "/run/restart/policy"},
	{"/maxLaunchDelaySeconds", "/run/maxLaunchDelay"},
	{"/killGracePeriodSeconds", "/run/taskKillGracePeriodSeconds"},
}

// schedulePaths maps the native paths of a job's schedule fields to a
// schedule spec's.
var schedulePaths = []struct{ native, metronome string }{
	{"/scheduleId", "/id"},
	{"/schedule", "/cron"},
}

// JobPaths returns ve with its paths in a job spec's terms
// ("/cpus" → "/run/cpus", "/parents(0)" → "/dependencies(0)"); paths it
// does not know are kept. ve is not modified.
func JobPaths(ve *job.ValidationError) *job.ValidationError {
	return rename(ve, jobPaths)
}

// SchedulePaths returns ve with its paths in a schedule spec's terms
// ("/schedule" → "/cron", "/scheduleId" → "/id"); paths it does not
// know (timezone, concurrencyPolicy, startingDeadlineSeconds: the same
// names) are kept. ve is not modified.
func SchedulePaths(ve *job.ValidationError) *job.ValidationError {
	return rename(ve, schedulePaths)
}

func rename(ve *job.ValidationError, table []struct{ native, metronome string }) *job.ValidationError {
	out := &job.ValidationError{Message: ve.Message}
	for _, d := range ve.Details {
		path := d.Path
		for _, p := range table {
			if rest, ok := strings.CutPrefix(path, p.native); ok && (rest == "" || rest[0] == '/' || rest[0] == '(') {
				path = p.metronome + rest
				break
			}
		}
		out.Details = append(out.Details, job.Detail{Path: path, Errors: append([]string(nil), d.Errors...)})
	}
	return out
}
