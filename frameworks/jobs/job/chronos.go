package job

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// chronosFields decode the Chronos job JSON. The container, uris and
// fetch are decoded by artifacts; the fields Chronos knows and this
// framework does not implement (async, executor...) are checked by
// checkUnimplemented; the read-only statistics are known and ignored.
var chronosFields = []struct {
	name   string
	decode func(d *decoder, path string, raw json.RawMessage, c *chronosJob)
}{
	{"name", func(d *decoder, p string, r json.RawMessage, c *chronosJob) { d.str(p, r, &c.Name) }},
	{"command", func(d *decoder, p string, r json.RawMessage, c *chronosJob) { d.str(p, r, &c.Command) }},
	{"shell", func(d *decoder, p string, r json.RawMessage, c *chronosJob) { d.boolean(p, r, &c.Shell) }},
	{"arguments", func(d *decoder, p string, r json.RawMessage, c *chronosJob) { d.strings(p, r, &c.arguments) }},
	{"schedule", func(d *decoder, p string, r json.RawMessage, c *chronosJob) { d.str(p, r, &c.Schedule) }},
	{"scheduleTimeZone", func(d *decoder, p string, r json.RawMessage, c *chronosJob) { d.str(p, r, &c.Timezone) }},
	{"parents", func(d *decoder, p string, r json.RawMessage, c *chronosJob) { d.strings(p, r, &c.Parents) }},
	{"retries", func(d *decoder, p string, r json.RawMessage, c *chronosJob) { d.integer(p, r, &c.Retries) }},
	{"owner", func(d *decoder, p string, r json.RawMessage, c *chronosJob) { d.str(p, r, &c.Owner) }},
	{"ownerName", func(d *decoder, p string, r json.RawMessage, c *chronosJob) { d.str(p, r, &c.OwnerName) }},
	{"description", func(d *decoder, p string, r json.RawMessage, c *chronosJob) { d.str(p, r, &c.Description) }},
	{"cpus", func(d *decoder, p string, r json.RawMessage, c *chronosJob) { d.number(p, r, &c.CPUs) }},
	{"mem", func(d *decoder, p string, r json.RawMessage, c *chronosJob) { d.number(p, r, &c.Mem) }},
	{"disk", func(d *decoder, p string, r json.RawMessage, c *chronosJob) { d.number(p, r, &c.Disk) }},
	{"disabled", func(d *decoder, p string, r json.RawMessage, c *chronosJob) { d.boolean(p, r, &c.Disabled) }},
	{"concurrent", func(d *decoder, p string, r json.RawMessage, c *chronosJob) { d.boolean(p, r, &c.concurrent) }},
	{"softError", func(d *decoder, p string, r json.RawMessage, c *chronosJob) { d.boolean(p, r, &c.SoftError) }},
	{"runAsUser", func(d *decoder, p string, r json.RawMessage, c *chronosJob) {
		d.str(p, r, &c.User)
		d.checkUser(p, c.User)
	}},
	{"environmentVariables", func(d *decoder, p string, r json.RawMessage, c *chronosJob) { d.environment(p, r, &c.Env) }},
	{"constraints", func(d *decoder, p string, r json.RawMessage, c *chronosJob) { d.constraints(p, r, &c.Constraints) }},
	{"webhooks", func(d *decoder, p string, r json.RawMessage, c *chronosJob) { d.webhooks(p, r, &c.Webhooks) }},
	{"epsilon", func(d *decoder, p string, r json.RawMessage, c *chronosJob) {
		var s string
		d.str(p, r, &s)
		if s == "" {
			return
		}
		secs, err := parseISODuration(s)
		if err != nil {
			d.meaning.add(p, err.Error())
			return
		}
		c.StartingDeadlineSeconds = secs
	}},
}

// knownChronos reports whether name is a field of the Chronos job format.
func knownChronos(name string) bool {
	for _, f := range chronosFields {
		if f.name == name {
			return true
		}
	}
	return knownEither(name)
}

// knownEither reports whether name is a field that both formats know: an
// unimplemented Chronos field, the container, uris and fetch, or a
// read-only statistic.
func knownEither(name string) bool {
	for _, f := range unimplemented {
		if f.name == name {
			return true
		}
	}
	return name == "container" || name == "uris" || name == "fetch" || slices.Contains(readOnly, name)
}

// chronosJob is a Job with the Chronos fields that do not map one to one.
type chronosJob struct {
	Job
	arguments  []string
	concurrent bool
}

// environment reads Chronos' [{"name": …, "value": …}]; a later entry with
// the same name wins.
func (d *decoder) environment(path string, raw json.RawMessage, dst *map[string]string) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		d.types.add(path, `must be an array of {"name", "value"} objects`)
		return
	}
	var out map[string]string
	for i, item := range items {
		p := fmt.Sprintf("%s(%d)", path, i)
		fields, ok := d.object(p, item)
		if !ok {
			continue
		}
		d.warnUnknown(p, item, func(k string) bool { return k == "name" || k == "value" })
		var name, value string
		if raw, ok := fields["name"]; ok {
			d.str(p+"/name", raw, &name)
		}
		if raw, ok := fields["value"]; ok {
			d.str(p+"/value", raw, &value)
		}
		if out == nil {
			out = make(map[string]string, len(items))
		}
		out[name] = value
	}
	*dst = out
}

// DecodeChronos parses a Chronos job definition (as POSTed to
// /v1/scheduler/iso8601 or /v1/scheduler/dependency) into a Job. Types are
// checked as in DecodeNative, with paths in Chronos' field names; unknown
// fields are ignored and returned as warnings, sorted by path. The
// Chronos fields corral does not implement give a *ValidationError unless
// they hold their default (see unsupported.go). The mapping:
//
//   - arguments: with shell false, Args = [command, arguments...] and
//     Command is empty; with shell true (the default) Chronos ignored
//     arguments, and so does DecodeChronos;
//   - scheduleTimeZone → Timezone; environmentVariables → Env;
//   - concurrent true → ALLOW; false or absent → FORBID, as Chronos never
//     overlapped runs unless told to;
//   - epsilon, an ISO 8601 duration ("PT30S"), → StartingDeadlineSeconds;
//     absent leaves 0, which Normalize turns into the 60 s Chronos used;
//   - retries absent → DefaultRetries; RetryBackoffSeconds is always
//     DefaultRetryBackoffSeconds, as Chronos had no per-job backoff;
//   - runAsUser → User; one that is not a user name (ValidUser) gives a
//     *ValidationError at /runAsUser;
//   - container with an image → Container (type DOCKER; MESOS with an
//     image, external volumes and network labels give a
//     *ValidationError at their path); a container without an image is
//     ignored, as Chronos ignores it, unless it asks for volumes, a
//     network or docker parameters (a *ValidationError at
//     /container/image);
//   - uris → URIs, fetch → Fetch (output_file → OutputFile, extract
//     true when absent); Validate refuses both together;
//   - async, executor and the other Chronos fields corral does not
//     implement are accepted at their defaults and otherwise refused;
//     the read-only statistics (successCount...) are ignored;
//   - webhooks, corral's own field, is read as in DecodeNative, so that
//     a job read from the Chronos API and written back keeps them;
//     owner stays what Chronos made it, e-mail addresses, which corral
//     stores, shows and passes to runs (CHRONOS_JOB_OWNER) but does not
//     write to.
//
// A Chronos job with neither schedule nor parents means "run once now";
// DecodeChronos leaves Schedule empty, and the API layer, which owns the
// clock, substitutes "R1/<now>/PT24H" before Validate.
func DecodeChronos(data []byte, fw Framework) (Job, []Warning, error) {
	c := chronosJob{Job: Job{Shell: true, Retries: DefaultRetries, RetryBackoffSeconds: DefaultRetryBackoffSeconds}}
	d := decoder{fw: &fw}
	m, ok := d.object("/", data)
	if !ok {
		return Job{}, nil, d.err()
	}
	for _, f := range chronosFields {
		if raw, ok := m[f.name]; ok {
			f.decode(&d, "/"+f.name, raw, &c)
		}
	}
	d.artifacts(m, &c.Job)
	d.checkUnimplemented(m)
	d.warnUnknown("/", data, knownChronos)
	if err := d.err(); err != nil {
		return Job{}, nil, err
	}
	d.sortWarnings()
	j := c.Job
	if !j.Shell && j.Command != "" {
		j.Args = append([]string{j.Command}, c.arguments...)
		j.Command = ""
	} else if !j.Shell {
		j.Args = c.arguments
	}
	if c.concurrent {
		j.ConcurrencyPolicy = Allow
	} else {
		j.ConcurrencyPolicy = Forbid
	}
	return j, d.warnings, nil
}

// Stats are the run statistics of a job that Chronos reports with it. The
// caller computes them from the run history.
type Stats struct {
	SuccessCount, ErrorCount int
	// ErrorsSinceLastSuccess counts the failed runs after the last
	// successful one.
	ErrorsSinceLastSuccess int
	// LastSuccess and LastError are when the last successful and the last
	// failed run finished; the zero time means never.
	LastSuccess, LastError time.Time
}

// ChronosView returns the job in the shape Chronos answers with, ready for
// encoding/json: Chronos' field names (arguments, scheduleTimeZone,
// environmentVariables sorted by name, concurrent, epsilon as "PT<n>S"),
// "schedule" and "scheduleTimeZone" for a scheduled job or "parents" for a
// dependent one, the statistics (lastSuccess and lastError as ISO 8601 UTC
// with milliseconds, or "" for never), and the fields Chronos clients
// expect that this framework does not use, at their neutral values
// (async false, executor "", …), runAsUser, the job's user ("" for
// none), uris and fetch (output_file) as given, and the container, if
// the job has one (type DOCKER, the network name as networkInfos'
// one entry), and corral's webhooks if the job has any. A job given as Args is written back as
// shell false with command Args[0] and arguments Args[1:]. Pass a
// normalized job so that the defaults appear as values.
func ChronosView(j Job, st Stats) map[string]any {
	command, arguments := j.Command, []string{}
	if len(j.Args) > 0 {
		command, arguments = j.Args[0], slices.Clone(j.Args[1:])
	}
	env := make([]map[string]any, 0, len(j.Env))
	for _, k := range sortedKeys(j.Env) {
		env = append(env, map[string]any{"name": k, "value": j.Env[k]})
	}
	constraints := make([][]string, 0, len(j.Constraints))
	for _, c := range j.Constraints {
		constraints = append(constraints, nonNil(c))
	}
	fetch := make([]chronosFetchWire, 0, len(j.Fetch))
	for _, f := range j.Fetch {
		fetch = append(fetch, chronosFetchWire(f))
	}
	v := map[string]any{
		"name":                   j.Name,
		"command":                command,
		"shell":                  j.Shell && len(j.Args) == 0,
		"arguments":              arguments,
		"retries":                j.Retries,
		"owner":                  j.Owner,
		"ownerName":              j.OwnerName,
		"description":            j.Description,
		"cpus":                   j.CPUs,
		"mem":                    j.Mem,
		"disk":                   j.Disk,
		"disabled":               j.Disabled,
		"concurrent":             j.ConcurrencyPolicy == Allow,
		"softError":              j.SoftError,
		"runAsUser":              j.User,
		"environmentVariables":   env,
		"constraints":            constraints,
		"epsilon":                formatISODuration(j.StartingDeadlineSeconds),
		"async":                  false,
		"dataProcessingJobType":  false,
		"highPriority":           false,
		"executor":               "",
		"executorFlags":          "",
		"uris":                   nonNil(slices.Clone(j.URIs)),
		"fetch":                  fetch,
		"successCount":           st.SuccessCount,
		"errorCount":             st.ErrorCount,
		"errorsSinceLastSuccess": st.ErrorsSinceLastSuccess,
		"lastSuccess":            chronosTime(st.LastSuccess),
		"lastError":              chronosTime(st.LastError),
	}
	if c := containerJSON(j.Container); c != nil {
		v["container"] = c
	}
	if len(j.Webhooks) > 0 {
		v["webhooks"] = webhooksJSON(j.Webhooks)
	}
	if len(j.Parents) > 0 {
		v["parents"] = slices.Clone(j.Parents)
	} else {
		v["schedule"] = j.Schedule
		v["scheduleTimeZone"] = j.Timezone
	}
	return v
}

func chronosTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// formatISODuration writes seconds as an ISO 8601 duration "PT<n>S".
func formatISODuration(secs float64) string {
	return "PT" + strconv.FormatFloat(secs, 'f', -1, 64) + "S"
}

// parseISODuration reads an ISO 8601 duration of weeks, days, hours,
// minutes and seconds ("PT30S", "P1DT12H", "PT1.5M", "P2W") into seconds.
// Years and months are refused: their length depends on the calendar.
// Only the last component may have a fraction, written with "." or ",".
func parseISODuration(s string) (float64, error) {
	bad := func(why string) (float64, error) {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration such as PT30S: %s", s, why)
	}
	rest, ok := strings.CutPrefix(strings.ToUpper(s), "P")
	if !ok {
		return bad("it must start with P")
	}
	if rest == "" {
		return bad("it has no components")
	}
	// Units in the order they may appear, with their length in seconds.
	type unit struct {
		letter   byte
		seconds  float64
		timePart bool
	}
	units := []unit{{'W', 7 * 86400, false}, {'D', 86400, false}, {'H', 3600, true}, {'M', 60, true}, {'S', 1, true}}
	total, next, inTime, fraction := 0.0, 0, false, false
	for rest != "" {
		if rest[0] == 'T' {
			if inTime {
				return bad("T appears twice")
			}
			inTime, rest = true, rest[1:]
			if rest == "" {
				return bad("T is not followed by a component")
			}
			continue
		}
		i := strings.IndexFunc(rest, func(r rune) bool { return (r < '0' || r > '9') && r != '.' && r != ',' })
		if i <= 0 {
			return bad("a component needs a number and a unit")
		}
		num, letter := strings.ReplaceAll(rest[:i], ",", "."), rest[i]
		rest = rest[i+1:]
		if fraction {
			return bad("only the last component may have a fraction")
		}
		n, err := strconv.ParseFloat(num, 64)
		if err != nil || math.IsInf(n, 0) {
			return bad(fmt.Sprintf("%q is not a number", num))
		}
		fraction = strings.Contains(num, ".")
		if !inTime && (letter == 'Y' || letter == 'M') {
			return bad("years and months have no fixed length; use weeks, days, hours, minutes or seconds")
		}
		k := next
		for k < len(units) && (units[k].letter != letter || units[k].timePart != inTime) {
			k++
		}
		if k == len(units) {
			return bad(fmt.Sprintf("unit %q is unknown or out of order", string(letter)))
		}
		next = k + 1
		total += n * units[k].seconds
	}
	if math.IsInf(total, 0) {
		return bad("it is too long")
	}
	return total, nil
}
