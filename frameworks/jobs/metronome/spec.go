package metronome

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"corral/frameworks/jobs/job"
)

// Metronome's defaults for what a job spec leaves out.
const (
	DefaultCPUs           = 1.0
	DefaultMem            = 128.0 // MiB
	DefaultDisk           = 0.0
	DefaultMaxLaunchDelay = 3600.0 // seconds
	// MinCPUs and MinMem are the least a job spec may ask for.
	MinCPUs = 0.01
	MinMem  = 32.0
)

// The restart policies of a job spec's run.
const (
	// Never fails a run when its task fails.
	Never = "NEVER"
	// OnFailure launches the task again after a failure, with the
	// native backoff, up to job.MaxRetries times.
	OnFailure = "ON_FAILURE"
)

// idPattern is Metronome's grammar of a job id: dot-separated segments
// of lowercase letters and digits, with dashes inside.
var idPattern = regexp.MustCompile(`^([a-z0-9]+(-+[a-z0-9]+)*)(\.([a-z0-9]+(-+[a-z0-9]+)*))*$`)

// ValidID returns nil if id can name a Metronome job: Metronome's
// grammar (prod.example.app: dot-separated lowercase segments, dashes
// inside) and the native limits (job.ValidName).
func ValidID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("an id is required")
	case !idPattern.MatchString(id):
		return fmt.Errorf("%q is not a valid job id: use dot-separated segments of lowercase letters, digits and dashes, each starting and ending with a letter or digit (prod.example.app)", id)
	}
	return job.ValidName(id)
}

// Fields of a job spec, of its run and of their parts.
var (
	specFields      = []string{"id", "description", "labels", "dependencies", "run", "schedules"}
	specReadOnly    = []string{"activeRuns", "history", "historySummary"}
	runFields       = []string{"cmd", "args", "cpus", "mem", "disk", "gpus", "docker", "ucr", "env", "secrets", "volumes", "networks", "placement", "artifacts", "maxLaunchDelay", "restart", "user", "taskKillGracePeriodSeconds"}
	dockerFields    = []string{"image", "forcePullImage", "privileged", "parameters"}
	restartFields   = []string{"policy", "activeDeadlineSeconds"}
	placementFields = []string{"constraints"}
	artifactFields  = []string{"uri", "executable", "extract", "cache"}
	keyValueFields  = []string{"key", "value"}
	constraintKeys  = []string{"attribute", "operator", "value"}
	dependencyKeys  = []string{"id"}
)

// notYet ends the refusals of fields corral does not implement.
const notYet = "not supported by corral yet"

// DecodeJob reads a Metronome job spec into a native job, with
// Metronome's defaults (cpus 1, mem 128, disk 0, maxLaunchDelay 3600,
// restart NEVER) and no schedule: on demand unless it has dependencies. It returns *InvalidJSON for a body
// that is not JSON, and a *job.ValidationError, in Metronome's paths,
// for every other problem: a field of the wrong type, an unknown field,
// a field corral does not implement that is not blank, a value outside
// Metronome's rules, and whatever job.Validate (without a schedule
// parser) refuses of the result. A non-empty "schedules" is refused: a
// job's schedule is created through its schedules endpoint.
//
// The job is normalized (job.Normalize). Fields only the native model
// has (owner, webhooks, softError, timeoutSeconds) are left at their
// zero values; see Replace.
func DecodeJob(data []byte) (job.Job, error) {
	rd := &reader{}
	j := job.Job{Shell: true, CPUs: DefaultCPUs, Mem: DefaultMem, Disk: DefaultDisk,
		MaxLaunchDelaySeconds: DefaultMaxLaunchDelay, RetryBackoffSeconds: job.DefaultRetryBackoffSeconds}
	m, ok := rd.object("/", data, specFields, specReadOnly...)
	if !ok {
		return job.Job{}, rd.err()
	}
	rd.str("/id", m["id"], &j.Name)
	if err := ValidID(j.Name); err != nil {
		rd.add("/id", err.Error())
	}
	rd.str("/description", m["description"], &j.Description)
	rd.stringMap("/labels", m["labels"], &j.Labels)
	for i, raw := range rd.array("/dependencies", m["dependencies"]) {
		path := fmt.Sprintf("/dependencies(%d)", i)
		d, ok := rd.object(path, raw, dependencyKeys)
		if !ok {
			continue
		}
		var id string
		rd.str(path+"/id", d["id"], &id)
		if err := ValidID(id); err != nil {
			rd.add(path+"/id", err.Error())
		}
		j.Parents = append(j.Parents, id)
	}
	if raw, ok := m["schedules"]; ok && !isEmptyArray(raw) {
		rd.add("/schedules", "give the job's schedule through POST /v1/jobs/{id}/schedules")
	}
	if raw, ok := m["run"]; ok {
		rd.run(raw, &j)
	} else {
		rd.add("/run", "is required")
	}
	if err := rd.err(); err != nil {
		return job.Job{}, err
	}
	j.OnDemand = len(j.Parents) == 0
	j.Normalize()
	if ve := job.Validate(j, nil); ve != nil {
		return job.Job{}, JobPaths(ve)
	}
	return j, nil
}

func isEmptyArray(raw json.RawMessage) bool {
	var a []json.RawMessage
	return json.Unmarshal(raw, &a) == nil && len(a) == 0
}

// run reads a job spec's run into j.
func (rd *reader) run(raw json.RawMessage, j *job.Job) {
	m, ok := rd.object("/run", raw, runFields)
	if !ok {
		return
	}
	rd.str("/run/cmd", m["cmd"], &j.Command)
	rd.strings("/run/args", m["args"], &j.Args)
	switch {
	case j.Command != "" && len(j.Args) > 0:
		rd.add("/run", "cmd and args are mutually exclusive; give one of them")
	case j.Command == "" && len(j.Args) == 0 && m["docker"] == nil && !rd.has("/run/cmd") && !rd.has("/run/args"):
		rd.add("/run", "one of cmd or args is required (or docker, to run its image's command)")
	}
	rd.number("/run/cpus", m["cpus"], &j.CPUs)
	rd.number("/run/mem", m["mem"], &j.Mem)
	rd.number("/run/disk", m["disk"], &j.Disk)
	if j.CPUs < MinCPUs {
		rd.add("/run/cpus", fmt.Sprintf("must be at least %g (got %g)", MinCPUs, j.CPUs))
	}
	if j.Mem < MinMem {
		rd.add("/run/mem", fmt.Sprintf("must be at least %g (got %g)", MinMem, j.Mem))
	}
	if j.Disk < 0 {
		rd.add("/run/disk", fmt.Sprintf("must be 0 or more (got %g)", j.Disk))
	}
	var gpus float64
	rd.number("/run/gpus", m["gpus"], &gpus)
	if gpus != 0 {
		rd.add("/run/gpus", "GPUs are "+notYet+"; give 0 or leave gpus out")
	}
	rd.unsupported("/run/ucr", m["ucr"], "the UCR (Mesos) containerizer is "+notYet+"; use docker")
	rd.unsupported("/run/secrets", m["secrets"], "secrets are "+notYet+"; leave secrets out")
	rd.unsupported("/run/volumes", m["volumes"], "volumes are "+notYet+"; leave volumes out")
	rd.unsupported("/run/networks", m["networks"], "networks are "+notYet+": runs use the host's network; leave networks out")
	if raw, ok := m["docker"]; ok {
		j.Container = rd.docker(raw)
	}
	rd.env(m["env"], j)
	if raw, ok := m["placement"]; ok {
		if p, ok := rd.object("/run/placement", raw, placementFields); ok {
			for i, c := range rd.array("/run/placement/constraints", p["constraints"]) {
				if con := rd.constraint(fmt.Sprintf("/run/placement/constraints(%d)", i), c); con != nil {
					j.Constraints = append(j.Constraints, con)
				}
			}
		}
	}
	for i, a := range rd.array("/run/artifacts", m["artifacts"]) {
		if f, ok := rd.artifact(fmt.Sprintf("/run/artifacts(%d)", i), a); ok {
			j.Fetch = append(j.Fetch, f)
		}
	}
	rd.number("/run/maxLaunchDelay", m["maxLaunchDelay"], &j.MaxLaunchDelaySeconds)
	if j.MaxLaunchDelaySeconds < 0 {
		rd.add("/run/maxLaunchDelay", fmt.Sprintf("must be 0 (no limit) or more (got %g)", j.MaxLaunchDelaySeconds))
	}
	rd.restart(m["restart"], j)
	rd.str("/run/user", m["user"], &j.User)
	rd.number("/run/taskKillGracePeriodSeconds", m["taskKillGracePeriodSeconds"], &j.KillGracePeriodSeconds)
	if j.KillGracePeriodSeconds < 0 {
		rd.add("/run/taskKillGracePeriodSeconds", fmt.Sprintf("must be 0 or more (got %g)", j.KillGracePeriodSeconds))
	}
}

// docker reads run.docker into a container on the host's network.
func (rd *reader) docker(raw json.RawMessage) *job.Container {
	m, ok := rd.object("/run/docker", raw, dockerFields)
	if !ok {
		return nil
	}
	c := &job.Container{}
	rd.str("/run/docker/image", m["image"], &c.Image)
	if c.Image == "" {
		rd.add("/run/docker/image", "is required")
	}
	rd.boolean("/run/docker/forcePullImage", m["forcePullImage"], &c.ForcePullImage)
	rd.unsupported("/run/docker/privileged", m["privileged"], "privileged containers are "+notYet+"; give false or leave it out")
	for i, p := range rd.array("/run/docker/parameters", m["parameters"]) {
		path := fmt.Sprintf("/run/docker/parameters(%d)", i)
		kv, ok := rd.object(path, p, keyValueFields)
		if !ok {
			continue
		}
		var par job.Parameter
		rd.str(path+"/key", kv["key"], &par.Key)
		rd.str(path+"/value", kv["value"], &par.Value)
		c.Parameters = append(c.Parameters, par)
	}
	return c
}

// env reads run.env: plain values; references to secrets are refused.
func (rd *reader) env(raw json.RawMessage, j *job.Job) {
	if raw == nil {
		return
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		rd.add("/run/env", "must be an object of strings")
		return
	}
	for _, k := range sortedKeys(m) {
		var v string
		switch {
		case json.Unmarshal(m[k], &v) == nil:
			if j.Env == nil {
				j.Env = map[string]string{}
			}
			j.Env[k] = v
		case strings.HasPrefix(strings.TrimSpace(string(m[k])), "{"):
			rd.add("/run/env/"+k, "secret references are "+notYet+"; give a string")
		default:
			rd.add("/run/env/"+k, "must be a string")
		}
	}
}

// operators maps Metronome's constraint operators to the native ones.
var operators = map[string]string{"EQ": "EQUALS", "IS": "IS", "LIKE": "LIKE", "UNLIKE": "UNLIKE"}

// constraint reads {attribute, operator, value} into a native
// constraint.
func (rd *reader) constraint(path string, raw json.RawMessage) []string {
	m, ok := rd.object(path, raw, constraintKeys)
	if !ok {
		return nil
	}
	var attr, op, value string
	rd.str(path+"/attribute", m["attribute"], &attr)
	rd.str(path+"/operator", m["operator"], &op)
	rd.str(path+"/value", m["value"], &value)
	if attr == "" {
		rd.add(path+"/attribute", "is required")
	}
	native, known := operators[strings.ToUpper(op)]
	if !known {
		rd.add(path+"/operator", fmt.Sprintf("must be one of EQ, IS, LIKE, UNLIKE (got %q)", op))
		return nil
	}
	if value == "" {
		rd.add(path+"/value", "is required")
	}
	return []string{attr, native, value}
}

// artifact reads one artifact; extract defaults to true.
func (rd *reader) artifact(path string, raw json.RawMessage) (job.Fetch, bool) {
	m, ok := rd.object(path, raw, artifactFields)
	if !ok {
		return job.Fetch{}, false
	}
	f := job.Fetch{Extract: true}
	rd.str(path+"/uri", m["uri"], &f.URI)
	if f.URI == "" {
		rd.add(path+"/uri", "is required")
	}
	rd.boolean(path+"/executable", m["executable"], &f.Executable)
	rd.boolean(path+"/extract", m["extract"], &f.Extract)
	rd.boolean(path+"/cache", m["cache"], &f.Cache)
	if f.Executable {
		f.Extract = false // an executable is never extracted
	}
	return f, true
}

// restart reads run.restart: NEVER gives no retry, ON_FAILURE
// job.MaxRetries.
func (rd *reader) restart(raw json.RawMessage, j *job.Job) {
	j.Retries = 0
	if raw == nil {
		return
	}
	m, ok := rd.object("/run/restart", raw, restartFields)
	if !ok {
		return
	}
	var policy string
	rd.str("/run/restart/policy", m["policy"], &policy)
	switch strings.ToUpper(policy) {
	case Never:
	case OnFailure:
		j.Retries = job.MaxRetries
	case "":
		rd.add("/run/restart/policy", "is required: NEVER or ON_FAILURE")
	default:
		rd.add("/run/restart/policy", fmt.Sprintf("must be NEVER or ON_FAILURE (got %q)", policy))
	}
	rd.unsupported("/run/restart/activeDeadlineSeconds", m["activeDeadlineSeconds"],
		"a deadline on restarts is "+notYet+": ON_FAILURE retries up to "+fmt.Sprint(job.MaxRetries)+" times with a doubling backoff; leave it out")
}

// Replace is the job a Metronome PUT of next makes of old: next, with
// old's schedule (ScheduleID, Schedule, Timezone, ConcurrencyPolicy,
// StartingDeadlineSeconds, Disabled), as Metronome keeps the schedules
// of a job whose spec is replaced, and with what a job spec cannot say
// kept: Owner, OwnerName, Webhooks, SoftError, TimeoutSeconds,
// RetryBackoffSeconds, and Retries when both restart ON_FAILURE.
func Replace(old, next job.Job) job.Job {
	out := next.Clone()
	out.ScheduleID, out.Schedule, out.Timezone = old.ScheduleID, old.Schedule, old.Timezone
	out.ConcurrencyPolicy, out.StartingDeadlineSeconds, out.Disabled = old.ConcurrencyPolicy, old.StartingDeadlineSeconds, old.Disabled
	out.Owner, out.OwnerName, out.SoftError, out.TimeoutSeconds = old.Owner, old.OwnerName, old.SoftError, old.TimeoutSeconds
	out.Webhooks = old.Clone().Webhooks
	out.RetryBackoffSeconds = old.RetryBackoffSeconds
	if old.Retries > 0 && next.Retries > 0 {
		out.Retries = old.Retries
	}
	out.OnDemand = out.Schedule == "" && len(out.Parents) == 0
	return out
}
