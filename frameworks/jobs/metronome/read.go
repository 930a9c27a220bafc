package metronome

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"corral/frameworks/internal/blank"
	"corral/frameworks/jobs/job"
)

// reader reads a JSON body field by field, collecting every problem by
// its Metronome path; syntax goes to malformed (a 400), the rest to
// problems (a 422).
type reader struct {
	malformed bool
	problems  []job.Detail
}

func (rd *reader) add(path, msg string) {
	for i := range rd.problems {
		if rd.problems[i].Path == path {
			if !slices.Contains(rd.problems[i].Errors, msg) {
				rd.problems[i].Errors = append(rd.problems[i].Errors, msg)
			}
			return
		}
	}
	rd.problems = append(rd.problems, job.Detail{Path: path, Errors: []string{msg}})
}

// has reports whether a problem was found at path.
func (rd *reader) has(path string) bool {
	return slices.ContainsFunc(rd.problems, func(d job.Detail) bool { return d.Path == path })
}

// err is the error of what was read: *InvalidJSON for a body that is
// not JSON, *job.ValidationError for the rest, nil when all is well.
func (rd *reader) err() error {
	if rd.malformed {
		return &InvalidJSON{Message: "Invalid JSON", Details: rd.problems}
	}
	if len(rd.problems) > 0 {
		return invalid(rd.problems)
	}
	return nil
}

// InvalidJSON is the error of a body that is not JSON at all (HTTP 400);
// its JSON form is the answer's body.
type InvalidJSON struct {
	Message string       `json:"message"`
	Details []job.Detail `json:"details"`
}

// Error returns the message and the first detail.
func (e *InvalidJSON) Error() string {
	if len(e.Details) == 0 {
		return e.Message
	}
	return e.Message + ": " + e.Details[0].Errors[0]
}

// invalid is the 422 of a Metronome body: "Object is not valid" with the
// details, as Metronome answers.
func invalid(ds []job.Detail) *job.ValidationError {
	return &job.ValidationError{Message: "Object is not valid", Details: ds}
}

// object splits the JSON object raw at path into its non-null fields,
// refusing every key known does not list (Metronome's schemas allow no
// others) and ignoring those ignored lists (read-only fields of answers).
func (rd *reader) object(path string, raw json.RawMessage, known []string, ignored ...string) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		if !json.Valid(raw) {
			rd.malformed = true
			rd.add(path, "malformed JSON: "+syntaxError(raw))
		} else {
			rd.add(path, "must be an object")
		}
		return nil, false
	}
	for _, k := range sortedKeys(m) {
		switch {
		case slices.Contains(ignored, k), isNull(m[k]):
			delete(m, k)
		case !slices.Contains(known, k):
			rd.add(join(path, k), "unknown field")
			delete(m, k)
		}
	}
	return m, true
}

func syntaxError(raw []byte) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err.Error()
	}
	return "not an object"
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// join is path/key, with the root "/" not doubled.
func join(path, key string) string {
	if path == "/" {
		return "/" + key
	}
	return path + "/" + key
}

func (rd *reader) str(path string, raw json.RawMessage, dst *string) {
	if raw != nil && json.Unmarshal(raw, dst) != nil {
		rd.add(path, "must be a string")
	}
}

func (rd *reader) boolean(path string, raw json.RawMessage, dst *bool) {
	if raw != nil && json.Unmarshal(raw, dst) != nil {
		rd.add(path, "must be a boolean")
	}
}

// number reads a finite number into dst; absent leaves dst alone.
func (rd *reader) number(path string, raw json.RawMessage, dst *float64) {
	if raw == nil {
		return
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		rd.add(path, "must be a number")
		return
	}
	*dst = f
}

// strings reads an array of strings.
func (rd *reader) strings(path string, raw json.RawMessage, dst *[]string) {
	if raw == nil {
		return
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		rd.add(path, "must be an array of strings")
		return
	}
	var out []string
	for i, it := range items {
		var s string
		if isNull(it) || json.Unmarshal(it, &s) != nil {
			rd.add(fmt.Sprintf("%s(%d)", path, i), "must be a string")
			continue
		}
		out = append(out, s)
	}
	*dst = out
}

// array splits a JSON array.
func (rd *reader) array(path string, raw json.RawMessage) []json.RawMessage {
	if raw == nil {
		return nil
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		rd.add(path, "must be an array")
		return nil
	}
	return items
}

// stringMap reads an object of strings.
func (rd *reader) stringMap(path string, raw json.RawMessage, dst *map[string]string) {
	if raw == nil {
		return
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		rd.add(path, "must be an object of strings")
		return
	}
	out := map[string]string{}
	for _, k := range sortedKeys(m) {
		v := m[k]
		var s string
		if isNull(v) || json.Unmarshal(v, &s) != nil {
			rd.add(join(path, k), "must be a string")
			continue
		}
		out[k] = s
	}
	if len(out) > 0 {
		*dst = out
	}
}

// unsupported refuses a field corral does not implement unless it is
// blank (absent, null, false, 0, "", [] or {} of blanks).
func (rd *reader) unsupported(path string, raw json.RawMessage, why string) {
	if raw != nil && !blank.JSON(raw) {
		rd.add(path, why)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
