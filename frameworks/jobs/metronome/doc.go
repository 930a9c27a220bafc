// Package metronome translates between DC/OS Metronome's v1 job API and
// the jobs framework's native model (package job): a Metronome JobSpec
// and ScheduleSpec become a job.Job, and a job, its runs and statistics
// become the JSON Metronome's clients read. It is pure: no I/O, no
// clock (the caller passes times in), no goroutines.
//
// # Vocabulary
//
//   - job spec: Metronome's {id, description, labels, dependencies, run};
//     the run holds the command, resources, container, placement,
//     artifacts, restart policy and launch limits.
//   - schedule: Metronome's {id, cron, timezone, startingDeadlineSeconds,
//     concurrencyPolicy, enabled}. Metronome allows one per job, and so
//     does corral: it is the native job's schedule, named by its
//     ScheduleID (DefaultScheduleID for a native job that names none).
//   - run: a native run as Metronome shows it: status STARTING, ACTIVE,
//     SUCCESS or FAILED (never INITIAL: a run is stored as it is
//     created), with its task; its id is the native run id. Skipped occurrences
//     (FORBID) never ran and are no Metronome runs.
//   - path: where a problem is, in Metronome's notation: "/run/cpus",
//     "/run/artifacts(0)/uri", "/id".
//
// # Mapping
//
//	Metronome                              native job
//	id                                     Name (also a Metronome id: ValidID)
//	description, labels                    Description, Labels
//	dependencies [{id}]                    Parents
//	run.cmd | run.args                     Command (shell) | Args
//	run.cpus, mem, disk                    CPUs, Mem, Disk (defaults 1, 128, 0;
//	                                       disk 0 gets the framework's default)
//	run.gpus                               0 only
//	run.docker {image, forcePullImage,     Container (host network); privileged
//	  parameters}                          false only
//	run.env {NAME: "value"}                Env (secret references refused)
//	run.placement.constraints              Constraints: EQ→EQUALS, IS, LIKE, UNLIKE
//	run.artifacts                          Fetch
//	run.maxLaunchDelay (3600)              MaxLaunchDelaySeconds (0: for ever)
//	run.restart.policy NEVER | ON_FAILURE  Retries 0 | MaxRetries, with backoff
//	run.user                               User
//	run.taskKillGracePeriodSeconds         KillGracePeriodSeconds
//	schedule id, cron, timezone            ScheduleID, Schedule, Timezone
//	schedule startingDeadlineSeconds (900) StartingDeadlineSeconds
//	schedule concurrencyPolicy             ConcurrencyPolicy: ALLOW, FORBID, REPLACE
//	schedule enabled                       !Disabled
//
// Fields corral does not implement (run.ucr, volumes, secrets,
// networks, gpus above 0, docker.privileged true,
// restart.activeDeadlineSeconds) are refused with a 422 naming them,
// unless blank, as clients send them by default. Unknown fields are
// refused too, as Metronome's schemas forbid them; the read-only fields
// of answers (the embeds) are ignored, so what was read may be sent back.
//
// # Flow
//
//	JobSpec body ──DecodeJob──► job.Job ─┐                 ┌─► View ──► JobSpec JSON
//	ScheduleSpec ──DecodeSchedule──► Schedule ──Apply──►  job.Job (stored)
//	                                     └──Replace (PUT keeps the schedule)
//	native *job.ValidationError ──JobPaths / SchedulePaths──► Metronome paths
//	native run facts ──RunView──► Run;  stats + finished runs ──NewHistory──► History
package metronome
