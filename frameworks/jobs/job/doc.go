// Package job is the model of a job definition for the jobs framework: the
// native JSON of /v1/jobs, the Chronos job JSON of /v1/scheduler, their
// defaults, validation with error paths, and the JSON written back.
//
// The package is pure: it imports only the standard library and the
// kernel's wire types (corral/kernel/mesos, itself pure, for the rules
// containers and fetched URIs must follow), reads no clock, starts no
// goroutines and does no I/O. The schedule parser is
// injected into Validate, so this package does not depend on the schedule
// package.
//
// # Vocabulary
//
//   - scheduled job: a job with a Schedule (cron, or ISO 8601
//     R[n]/start/period) in a Timezone. dependent job: a job with Parents.
//     on-demand job: one with OnDemand set and neither, which runs only
//     when started through an API (Metronome's jobs without a
//     schedule). A job is exactly one of the three.
//   - absent and zero: the decoders apply the defaults whose zero value is
//     meaningful (shell true, retries 2, retryBackoffSeconds 10) when the
//     field is absent; Normalize applies the ones whose zero value only
//     means "default" (resources, policy, starting deadline, time zone).
//   - path: where a problem is, in Marathon's notation: "/cpus",
//     "/parents(1)", "/" for the whole definition.
//   - container: the Docker image a job's runs run in (Chronos'
//     container with an image); fetch: the files the agent downloads
//     into a run's sandbox first (Chronos' fetch, and its older uris).
//
// # Flow of a request body
//
//	native body  ──DecodeNative──┐
//	                             ├─► Job ──Normalize──► Job ──Validate──► nil | *ValidationError (422)
//	Chronos body ──DecodeChronos─┘ │                      │
//	     │                         └─► []Warning          ├─► MarshalJSON  (native answers, storage)
//	     │                             (unknown fields)   └─► ChronosView  (Chronos answers)
//	     └─► *InvalidJSON (400), or *ValidationError for a MESOS
//	         container image, an external volume, a bad epsilon, a
//	         runAsUser that is not a user name or a Chronos field corral
//	         does not implement given a value other than its default
//
// Unknown fields are ignored, as Chronos ignores them, and returned as
// warnings for the answer to carry; the Chronos fields corral does not
// implement are listed in unsupported.go.
//
// # Defaults and policies
//
//	cpus, mem, disk            0.1, 128, 256 (Chronos' defaults)
//	shell                      true
//	retries                    2; 0 means no retry
//	retryBackoffSeconds        10, doubling per retry; 0 retries at once
//	timeoutSeconds             0, no timeout
//	concurrencyPolicy          ALLOW for native jobs; Chronos jobs FORBID
//	                           unless "concurrent": true
//	startingDeadlineSeconds    60 (Chronos' epsilon default); Chronos
//	                           "epsilon" maps here
//	timezone                   UTC, for scheduled jobs
//	maxLaunchDelaySeconds      0, a run waits for offers for ever
//	killGracePeriodSeconds     0, the agent's grace between SIGTERM and SIGKILL
//	webhooks[i].on             [FAILED]; Normalize upper-cases the states
//
// A Chronos job with neither schedule nor parents means "run once now";
// that needs the clock, so the API layer substitutes "R1/<now>/PT24H"
// before Validate, which otherwise rejects such a job.
package job
