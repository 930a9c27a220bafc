package job

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Detail is the errors found at one place of a job definition. Path is a
// JSON-pointer-like path in Marathon's notation: "/cpus", "/parents(1)",
// "/env/HOME"; "/" is the whole definition.
type Detail struct {
	Path   string   `json:"path"`
	Errors []string `json:"errors"`
}

// InvalidJSON is the error of a body that is not JSON, is not an object,
// or has a value of the wrong JSON type for a known field. Its JSON form
// is the body of an HTTP 400 answer. Message is "Invalid JSON"; Details
// hold one entry per path, in the order of the fields.
type InvalidJSON struct {
	Message string   `json:"message"`
	Details []Detail `json:"details"`
}

// Error returns the message and the details on one line.
func (e *InvalidJSON) Error() string { return joinDetails(e.Message, e.Details) }

func joinDetails(msg string, ds []Detail) string {
	var b strings.Builder
	b.WriteString(msg)
	for i, d := range ds {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(d.Path + " " + strings.Join(d.Errors, ", "))
	}
	return b.String()
}

// collector gathers messages grouped by path, in the order first seen.
type collector struct {
	details []Detail
}

func (c *collector) add(path, msg string) {
	for i := range c.details {
		if c.details[i].Path == path {
			if !slices.Contains(c.details[i].Errors, msg) {
				c.details[i].Errors = append(c.details[i].Errors, msg)
			}
			return
		}
	}
	c.details = append(c.details, Detail{Path: path, Errors: []string{msg}})
}

// decoder reads JSON values into Go values. Type errors go to types (an
// *InvalidJSON); problems of meaning found while decoding (an unsupported
// container, a malformed epsilon) go to meaning (a *ValidationError).
type decoder struct {
	types, meaning collector
	// fw is set when decoding a request: then the fields corral does not
	// implement are checked. Outside a request it is nil.
	fw       *Framework
	warnings []Warning
}

func (d *decoder) err() error {
	if len(d.types.details) > 0 {
		return &InvalidJSON{Message: "Invalid JSON", Details: d.types.details}
	}
	if len(d.meaning.details) > 0 {
		return validationError(d.meaning.details)
	}
	return nil
}

// object splits a JSON object into its fields; null fields are dropped,
// as null means absent.
func (d *decoder) object(path string, data []byte) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		if !json.Valid(data) {
			d.types.add(path, "malformed JSON: "+syntaxMessage(data))
		} else {
			d.types.add(path, "must be an object")
		}
		return nil, false
	}
	for k, v := range m {
		if isNull(v) {
			delete(m, k)
		}
	}
	return m, true
}

func syntaxMessage(data []byte) string {
	var v any
	err := json.Unmarshal(data, &v)
	if err == nil {
		return "not an object"
	}
	return err.Error()
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

func (d *decoder) str(path string, raw json.RawMessage, dst *string) {
	if err := json.Unmarshal(raw, dst); err != nil {
		d.types.add(path, "must be a string")
	}
}

func (d *decoder) boolean(path string, raw json.RawMessage, dst *bool) {
	if err := json.Unmarshal(raw, dst); err != nil {
		d.types.add(path, "must be a boolean")
	}
}

func (d *decoder) number(path string, raw json.RawMessage, dst *float64) {
	if err := json.Unmarshal(raw, dst); err != nil {
		d.types.add(path, "must be a number")
	}
}

// maxExactInt is the largest integer a float64 holds exactly.
const maxExactInt = 1 << 53

func (d *decoder) integer(path string, raw json.RawMessage, dst *int) {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		d.types.add(path, "must be a number")
		return
	}
	if f != math.Trunc(f) || math.Abs(f) > maxExactInt {
		d.types.add(path, fmt.Sprintf("must be an integer (got %v)", f))
		return
	}
	*dst = int(f)
}

// strings reads an array of strings; an empty array becomes nil.
func (d *decoder) strings(path string, raw json.RawMessage, dst *[]string) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		d.types.add(path, "must be an array of strings")
		return
	}
	var out []string
	for i, item := range items {
		var s string
		if err := json.Unmarshal(item, &s); err != nil || isNull(item) {
			d.types.add(fmt.Sprintf("%s(%d)", path, i), "must be a string")
			continue
		}
		out = append(out, s)
	}
	*dst = out
}

// stringMap reads an object of strings; an empty object becomes nil.
func (d *decoder) stringMap(path string, raw json.RawMessage, dst *map[string]string) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		d.types.add(path, "must be an object of strings")
		return
	}
	var out map[string]string
	for _, k := range sortedKeys(fields) {
		var s string
		if err := json.Unmarshal(fields[k], &s); err != nil || isNull(fields[k]) {
			d.types.add(path+"/"+k, "must be a string")
			continue
		}
		if out == nil {
			out = make(map[string]string, len(fields))
		}
		out[k] = s
	}
	*dst = out
}

// constraints reads an array of arrays of strings.
func (d *decoder) constraints(path string, raw json.RawMessage, dst *[][]string) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		d.types.add(path, "must be an array of [attribute, operator, value] arrays")
		return
	}
	var out [][]string
	for i, item := range items {
		var c []string
		d.strings(fmt.Sprintf("%s(%d)", path, i), item, &c)
		if c == nil {
			c = []string{}
		}
		out = append(out, c)
	}
	*dst = out
}

// nativeFields decode the native JSON, in the order of their details.
var nativeFields = []struct {
	name   string
	decode func(d *decoder, path string, raw json.RawMessage, j *Job)
}{
	{"name", func(d *decoder, p string, r json.RawMessage, j *Job) { d.str(p, r, &j.Name) }},
	{"command", func(d *decoder, p string, r json.RawMessage, j *Job) { d.str(p, r, &j.Command) }},
	{"shell", func(d *decoder, p string, r json.RawMessage, j *Job) { d.boolean(p, r, &j.Shell) }},
	{"args", func(d *decoder, p string, r json.RawMessage, j *Job) { d.strings(p, r, &j.Args) }},
	{"cpus", func(d *decoder, p string, r json.RawMessage, j *Job) { d.number(p, r, &j.CPUs) }},
	{"mem", func(d *decoder, p string, r json.RawMessage, j *Job) { d.number(p, r, &j.Mem) }},
	{"disk", func(d *decoder, p string, r json.RawMessage, j *Job) { d.number(p, r, &j.Disk) }},
	{"env", func(d *decoder, p string, r json.RawMessage, j *Job) { d.stringMap(p, r, &j.Env) }},
	{"owner", func(d *decoder, p string, r json.RawMessage, j *Job) { d.str(p, r, &j.Owner) }},
	{"ownerName", func(d *decoder, p string, r json.RawMessage, j *Job) { d.str(p, r, &j.OwnerName) }},
	{"description", func(d *decoder, p string, r json.RawMessage, j *Job) { d.str(p, r, &j.Description) }},
	{"labels", func(d *decoder, p string, r json.RawMessage, j *Job) { d.stringMap(p, r, &j.Labels) }},
	{"disabled", func(d *decoder, p string, r json.RawMessage, j *Job) { d.boolean(p, r, &j.Disabled) }},
	{"constraints", func(d *decoder, p string, r json.RawMessage, j *Job) { d.constraints(p, r, &j.Constraints) }},
	{"schedule", func(d *decoder, p string, r json.RawMessage, j *Job) { d.str(p, r, &j.Schedule) }},
	{"timezone", func(d *decoder, p string, r json.RawMessage, j *Job) { d.str(p, r, &j.Timezone) }},
	{"parents", func(d *decoder, p string, r json.RawMessage, j *Job) { d.strings(p, r, &j.Parents) }},
	{"retries", func(d *decoder, p string, r json.RawMessage, j *Job) { d.integer(p, r, &j.Retries) }},
	{"retryBackoffSeconds", func(d *decoder, p string, r json.RawMessage, j *Job) { d.number(p, r, &j.RetryBackoffSeconds) }},
	{"timeoutSeconds", func(d *decoder, p string, r json.RawMessage, j *Job) { d.number(p, r, &j.TimeoutSeconds) }},
	{"concurrencyPolicy", func(d *decoder, p string, r json.RawMessage, j *Job) { d.str(p, r, &j.ConcurrencyPolicy) }},
	{"startingDeadlineSeconds", func(d *decoder, p string, r json.RawMessage, j *Job) { d.number(p, r, &j.StartingDeadlineSeconds) }},
	{"softError", func(d *decoder, p string, r json.RawMessage, j *Job) { d.boolean(p, r, &j.SoftError) }},
	{"onDemand", func(d *decoder, p string, r json.RawMessage, j *Job) { d.boolean(p, r, &j.OnDemand) }},
	{"scheduleId", func(d *decoder, p string, r json.RawMessage, j *Job) { d.str(p, r, &j.ScheduleID) }},
	{"maxLaunchDelaySeconds", func(d *decoder, p string, r json.RawMessage, j *Job) { d.number(p, r, &j.MaxLaunchDelaySeconds) }},
	{"killGracePeriodSeconds", func(d *decoder, p string, r json.RawMessage, j *Job) { d.number(p, r, &j.KillGracePeriodSeconds) }},
	{"user", func(d *decoder, p string, r json.RawMessage, j *Job) { d.str(p, r, &j.User) }},
	{"webhooks", func(d *decoder, p string, r json.RawMessage, j *Job) { d.webhooks(p, r, &j.Webhooks) }},
	{"version", func(d *decoder, p string, r json.RawMessage, j *Job) { d.str(p, r, &j.Version) }},
}

// DecodeNative parses the native JSON of a job (the shape MarshalJSON
// writes). It is strict about the types of known fields and lenient about
// the rest:
//
//   - malformed JSON, a body that is not an object, or a known field of
//     the wrong JSON type ("cpus": "x") give an *InvalidJSON naming every
//     offending path;
//   - unknown fields are ignored and returned as warnings, sorted by
//     path; null means absent; empty lists and maps decode as nil;
//   - the Chronos fields corral does not implement (async, executor...;
//     see unsupported.go) give a *ValidationError unless they hold their
//     default, as in DecodeChronos;
//   - "container", "uris" and "fetch" are read as in DecodeChronos (the
//     container in Chronos' shape); a fetch entry's name in the sandbox
//     is "outputFile" (Chronos' "output_file" is read too);
//   - Chronos' "runAsUser" is read as "user", so that a job converted
//     from Chronos keeps its user: a *ValidationError at /runAsUser when
//     it is not a user name (ValidUser) or contradicts a non-empty
//     "user";
//   - an absent shell is true, absent retries is DefaultRetries, absent
//     retryBackoffSeconds is DefaultRetryBackoffSeconds; every other
//     default is left to Normalize;
//   - "webhooks" is a list of {"url", "on": [states]}; an absent "on"
//     is left nil, for Normalize to default, a given [] is kept for
//     Validate to refuse; unknown fields of an entry are warnings;
//   - "version" is read so that stored JSON round-trips; servers
//     overwrite it.
//
// Other problems of meaning are left to Validate, so that one answer
// lists them all.
func DecodeNative(data []byte, fw Framework) (Job, []Warning, error) {
	return decodeNative(data, &fw)
}

// decodeNative is DecodeNative; fw is nil for stored JSON.
func decodeNative(data []byte, fw *Framework) (Job, []Warning, error) {
	j := Job{Shell: true, Retries: DefaultRetries, RetryBackoffSeconds: DefaultRetryBackoffSeconds}
	d := decoder{fw: fw}
	m, ok := d.object("/", data)
	if !ok {
		return Job{}, nil, d.err()
	}
	for _, f := range nativeFields {
		if raw, ok := m[f.name]; ok {
			f.decode(&d, "/"+f.name, raw, &j)
		}
	}
	if raw, ok := m["runAsUser"]; ok {
		var u string
		d.str("/runAsUser", raw, &u)
		switch {
		case u == "" || u == j.User:
		case j.User != "":
			d.meaning.add("/runAsUser", fmt.Sprintf("%q contradicts user %q; give one of them", u, j.User))
		default:
			j.User = u
			d.checkUser("/runAsUser", u)
		}
	}
	d.artifacts(m, &j)
	d.checkUnimplemented(m)
	d.warnUnknown("/", data, knownNative)
	if err := d.err(); err != nil {
		return Job{}, nil, err
	}
	d.sortWarnings()
	return j, d.warnings, nil
}

// knownNative reports whether name is a field of the native format.
func knownNative(name string) bool {
	for _, f := range nativeFields {
		if f.name == name {
			return true
		}
	}
	return name == "runAsUser" || knownEither(name)
}

// checkUser refuses (into d.meaning) a user that is not a user name, at
// path, the name of the field in the format decoded. Validate checks
// the user too, but at /user, a field Chronos clients do not know. Stored
// jobs are not checked here.
func (d *decoder) checkUser(path, user string) {
	if d.fw == nil || user == "" {
		return
	}
	if err := ValidUser(user); err != nil {
		d.meaning.add(path, err.Error())
	}
}

// Framework is the jobs framework as the decoders of requests see it.
//
// User is the framework's user, which the runs of a job without a user
// run as. The decoders do not consult it: a job may name any user.
type Framework struct {
	User string
}

// Warning is something a request body carried that corral ignores without
// refusing the body: a field it does not know, such as a misspelt
// "schedul". Path is where, in the notation of Detail.Path: "/schedul",
// "/environmentVariables(0)/vaule".
type Warning struct {
	Path string
}

// String returns the warning as API answers carry it:
// `unknown field "/schedul" ignored`.
func (w Warning) String() string { return fmt.Sprintf("unknown field %q ignored", w.Path) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
