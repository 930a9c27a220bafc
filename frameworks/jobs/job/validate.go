package job

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ValidationError lists why a job definition is not acceptable. Its JSON
// form is the body of an HTTP 422 answer. Message is "Object is not
// valid"; Details hold one entry per path, in the order of the job's
// fields, with native field names.
type ValidationError struct {
	Message string   `json:"message"`
	Details []Detail `json:"details"`
}

// Error returns the message and the details on one line.
func (e *ValidationError) Error() string { return joinDetails(e.Message, e.Details) }

func validationError(ds []Detail) *ValidationError {
	return &ValidationError{Message: "Object is not valid", Details: ds}
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// scheduleIDPattern is Metronome's grammar of a schedule id, two
// characters at least.
var scheduleIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*[a-z0-9]$`)

// ValidName returns nil if name can name a job: one or more of
// A–Z, a–z, 0–9, ".", "_" and "-", neither "." nor "..", which would read
// as path segments in URLs, no ".." inside, which agents refuse in the
// task ids that carry the name (see TaskID), and at most MaxNameLen bytes,
// so that those task ids fit the MaxTaskIDLen bytes Mesos allows.
func ValidName(name string) error {
	switch {
	case name == "":
		return errors.New("a name is required")
	case name == "." || name == "..":
		return fmt.Errorf("%q is not a valid name", name)
	case !namePattern.MatchString(name):
		return fmt.Errorf("%q is not a valid name: use only letters, digits, '.', '_' and '-'", name)
	case strings.Contains(name, ".."):
		return fmt.Errorf("%q is not a valid name: it must not contain \"..\", which agents refuse in task ids", name)
	case len(name) > MaxNameLen:
		return fmt.Errorf("a name has at most %d bytes, so that its task ids fit the %d bytes Mesos allows (got %d)", MaxNameLen, MaxTaskIDLen, len(name))
	}
	return nil
}

// userName is the grammar of a user name, the portable one of POSIX and
// shadow-utils' useradd: a lowercase letter or underscore, then lowercase
// letters, digits, underscores and hyphens, and an optional final "$"
// (Samba machine accounts).
var userName = regexp.MustCompile(`^[a-z_][a-z0-9_-]*[$]?$`)

// MaxUserLen is the longest user name, in bytes, as useradd allows.
const MaxUserLen = 32

// ValidUser returns nil if name can be the user a job's runs run as: at
// most MaxUserLen bytes of the portable user name grammar
// ([a-z_][a-z0-9_-]*[$]?). Whether the user exists on the agents, and
// whether the framework may run tasks as it, is for the agents and the
// master to say.
func ValidUser(name string) error {
	switch {
	case len(name) > MaxUserLen:
		return fmt.Errorf("a user name has at most %d bytes (got %d)", MaxUserLen, len(name))
	case !userName.MatchString(name):
		return fmt.Errorf("%q is not a valid user name: want a lowercase letter or '_', then lowercase letters, digits, '_' or '-', optionally ending in '$'", name)
	}
	return nil
}

// Validate checks a normalized job (see Normalize) and returns nil if it is
// valid, or every violation grouped by path:
//
//   - /name: ValidName;
//   - /: exactly one of command and args (or neither, with a container),
//     and exactly one of schedule, parents and onDemand (/onDemand
//     with either of the others); /command not blank;
//     /args(0) not empty; /scheduleId empty or of lowercase letters,
//     digits and '-', at least two, neither first nor last a '-';
//   - /cpus, /mem, /disk finite and in [0, MaxResource];
//     /retryBackoffSeconds finite and in [0, MaxRetryBackoffSeconds];
//     /timeoutSeconds, /startingDeadlineSeconds,
//     /maxLaunchDelaySeconds, /killGracePeriodSeconds finite and in
//     [0, MaxSeconds]; /retries in [0, MaxRetries];
//   - /concurrencyPolicy ALLOW, FORBID or REPLACE;
//   - /schedule, /timezone: parse(schedule, timezone) succeeds. parse is
//     the schedule package's parser, injected so that this package does
//     not depend on it; the error is reported at /timezone when the same
//     expression parses in UTC, at /schedule otherwise. A nil parse skips
//     the check;
//   - /parents(i): valid names, not the job itself, no duplicates (whether
//     the parents exist, and cycles, are the dag package's business);
//   - /user: empty or a user name (ValidUser);
//   - /env, /labels: no empty names; env names without "=";
//   - /constraints(i): [attribute, OPERATOR] or [attribute, OPERATOR,
//     value] with a known operator and the value it needs;
//   - /container/...: an image, a network of HOST, BRIDGE or USER (USER
//     with a network name, which only USER takes), volumes with a
//     containerPath, a hostPath (relative: inside the sandbox) and mode
//     RW or RO, /container/parameters(i)/key a docker option corral
//     runs (mesos.DockerParameters);
//   - /uris(i), /fetch(i)/uri: URIs the agents fetch (mesos.Locate);
//     /fetch(i)/outputFile inside the sandbox; /uris: not with fetch;
//   - /webhooks: at most MaxWebhooks; /webhooks(i)/url an absolute http
//     or https URL (ValidWebhookURL), not given twice; /webhooks(i)/on
//     not empty, /webhooks(i)/on(k) one of NotifyStates, not twice.
func Validate(j Job, parse func(expr, tz string) error) *ValidationError {
	var v collector

	if err := ValidName(j.Name); err != nil {
		v.add("/name", err.Error())
	}
	switch {
	case j.Command != "" && len(j.Args) > 0:
		v.add("/", "command and args are mutually exclusive; give one of them")
	case j.Command == "" && len(j.Args) == 0 && j.Container == nil:
		v.add("/", "one of command or args is required (or a container, to run its image's command)")
	}
	if j.Command != "" && strings.TrimSpace(j.Command) == "" {
		v.add("/command", "must not be blank")
	}
	if len(j.Args) > 0 && j.Args[0] == "" {
		v.add("/args(0)", "the executable must not be empty")
	}
	switch {
	case j.Schedule != "" && len(j.Parents) > 0:
		v.add("/", "a job has a schedule or parents, not both")
	case j.OnDemand && (j.Schedule != "" || len(j.Parents) > 0):
		v.add("/onDemand", "an on-demand job has neither schedule nor parents")
	case j.Schedule == "" && len(j.Parents) == 0 && !j.OnDemand:
		v.add("/", "one of schedule or parents is required (or onDemand: true, for a job that runs only when started)")
	}
	if j.ScheduleID != "" && !scheduleIDPattern.MatchString(j.ScheduleID) {
		v.add("/scheduleId", fmt.Sprintf("%q is not a valid schedule id: use lowercase letters, digits and '-', starting and ending with a letter or digit", j.ScheduleID))
	}

	resource(&v, "/cpus", j.CPUs)
	resource(&v, "/mem", j.Mem)
	resource(&v, "/disk", j.Disk)
	switch {
	case j.Retries < 0:
		v.add("/retries", fmt.Sprintf("must be 0 or more (got %d)", j.Retries))
	case j.Retries > MaxRetries:
		v.add("/retries", fmt.Sprintf("must be at most %d (got %d)", MaxRetries, j.Retries))
	}
	seconds(&v, "/retryBackoffSeconds", j.RetryBackoffSeconds, MaxRetryBackoffSeconds)
	seconds(&v, "/timeoutSeconds", j.TimeoutSeconds, MaxSeconds)
	seconds(&v, "/startingDeadlineSeconds", j.StartingDeadlineSeconds, MaxSeconds)
	seconds(&v, "/maxLaunchDelaySeconds", j.MaxLaunchDelaySeconds, MaxSeconds)
	seconds(&v, "/killGracePeriodSeconds", j.KillGracePeriodSeconds, MaxSeconds)
	switch j.ConcurrencyPolicy {
	case Allow, Forbid, Replace:
	default:
		v.add("/concurrencyPolicy", fmt.Sprintf("must be one of ALLOW, FORBID, REPLACE (got %q)", j.ConcurrencyPolicy))
	}

	if j.Schedule != "" && parse != nil {
		if err := parse(j.Schedule, j.Timezone); err != nil {
			if j.Timezone != "" && j.Timezone != DefaultTimezone && parse(j.Schedule, DefaultTimezone) == nil {
				v.add("/timezone", err.Error())
			} else {
				v.add("/schedule", err.Error())
			}
		}
	}
	for i, p := range j.Parents {
		path := fmt.Sprintf("/parents(%d)", i)
		if err := ValidName(p); err != nil {
			v.add(path, err.Error())
		} else if p == j.Name {
			v.add(path, "a job cannot be its own parent")
		} else if slices.Index(j.Parents, p) < i {
			v.add(path, fmt.Sprintf("duplicate parent %q", p))
		}
	}

	if j.User != "" {
		if err := ValidUser(j.User); err != nil {
			v.add("/user", err.Error())
		}
	}

	for _, k := range sortedKeys(j.Env) {
		switch {
		case k == "":
			v.add("/env", "variable names must not be empty")
		case strings.ContainsAny(k, "=\x00"):
			v.add("/env/"+k, "variable names must not contain '=' or NUL")
		}
	}
	if _, ok := j.Labels[""]; ok {
		v.add("/labels", "label names must not be empty")
	}
	for i, c := range j.Constraints {
		validateConstraint(&v, fmt.Sprintf("/constraints(%d)", i), c)
	}
	validateContainer(&v, j.Container)
	validateFetch(&v, j.URIs, j.Fetch)
	validateWebhooks(&v, j.Webhooks)

	if len(v.details) == 0 {
		return nil
	}
	return validationError(v.details)
}

// Bounds of the fields that count or last.
const (
	// MaxResource bounds cpus, mem and disk. The kernel keeps scalar
	// resources in fixed point with three decimals and refuses amounts
	// above 1e15, beyond which its int64 milli-units overflow: a job
	// asking for more would never fit an offer, or be accounted as
	// nothing.
	MaxResource = 1e15
	// MaxRetries bounds retries: each is one more attempt of a run.
	MaxRetries = 1000
	// MaxRetryBackoffSeconds bounds the base delay between attempts (a day).
	MaxRetryBackoffSeconds = 86400
	// MaxSeconds bounds the other durations (ten years), so that they
	// remain durations.
	MaxSeconds = 10 * 365 * 86400
)

// seconds checks a duration in seconds: finite, 0 or more, at most limit.
func seconds(v *collector, path string, f, limit float64) {
	nonNegative(v, path, f)
	if f > limit && !math.IsInf(f, 0) {
		v.add(path, fmt.Sprintf("must be at most %s (got %v)", strconv.FormatFloat(limit, 'f', -1, 64), f))
	}
}

// resource checks an amount of a scalar resource: finite, 0 or more, at
// most MaxResource.
func resource(v *collector, path string, f float64) {
	nonNegative(v, path, f)
	if f > MaxResource && !math.IsInf(f, 0) {
		v.add(path, fmt.Sprintf("must be at most %g (got %v)", MaxResource, f))
	}
}

func nonNegative(v *collector, path string, f float64) {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		v.add(path, "must be a finite number")
	case f < 0:
		v.add(path, fmt.Sprintf("must be 0 or more (got %v)", f))
	}
}

// validateConstraint checks one [attribute, OPERATOR, value] constraint.
// EQUALS is Chronos' name for an exact match (Marathon's IS/CLUSTER).
func validateConstraint(v *collector, path string, c []string) {
	if len(c) < 2 || len(c) > 3 {
		v.add(path, fmt.Sprintf("must be [attribute, OPERATOR] or [attribute, OPERATOR, value] (got %d elements)", len(c)))
		return
	}
	if c[0] == "" {
		v.add(path, "the attribute must not be empty")
	}
	op, value := c[1], ""
	if len(c) == 3 {
		value = c[2]
	}
	positive := func(s string) bool {
		n, err := strconv.Atoi(s)
		return err == nil && n > 0
	}
	switch op {
	case "EQUALS", "IS":
		if value == "" {
			v.add(path, op+" needs a value")
		}
	case "CLUSTER":
		// Without a value CLUSTER pins the job to the first value seen.
	case "UNIQUE":
		if value != "" {
			v.add(path, "UNIQUE takes no value")
		}
	case "LIKE", "UNLIKE":
		if value == "" {
			v.add(path, op+" needs a regular expression")
		} else if _, err := regexp.Compile(value); err != nil {
			v.add(path, fmt.Sprintf("%s value is not a valid regular expression: %v", op, err))
		}
	case "MAX_PER":
		if !positive(value) {
			v.add(path, fmt.Sprintf("MAX_PER needs a positive integer (got %q)", value))
		}
	case "GROUP_BY":
		if value != "" && !positive(value) {
			v.add(path, fmt.Sprintf("GROUP_BY value must be a positive integer (got %q)", value))
		}
	default:
		v.add(path, fmt.Sprintf("unknown operator %q; use one of EQUALS, LIKE, UNLIKE, UNIQUE, CLUSTER, GROUP_BY, MAX_PER, IS", op))
	}
}
