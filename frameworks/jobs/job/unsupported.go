package job

import (
	"encoding/json"
	"slices"
	"strings"

	"corral/frameworks/internal/blank"
)

// Fields of the Chronos job format that corral does not implement. A job
// that relies on one of them would run, but not as its owner expects (not
// as a data processing job, with another executor), so a request that
// gives one a value other than its default is refused with a
// *ValidationError naming it. Chronos' defaults, which its clients send
// with every job and GET /v1/scheduler/jobs answers, are accepted without
// a word. The native format refuses them the same way: a job converted
// from Chronos that relies on one would run wrong there too.
//
//	field                   accepted                                refused
//	async, highPriority,
//	dataProcessingJobType   null, false                             true
//	executor, executorFlags,
//	taskInfoData            null, ""                                any value
//	maxCompletionTime       null, 0                                 a limit
//
// container, uris and fetch are implemented (container.go), with their
// own refusals: a MESOS container with an image, external volumes,
// network labels. runAsUser is not among them either: a job's runs run
// as its user (see Job.User), which the decoders and Validate check is a
// user name.
var unimplemented = []struct {
	name string
	// ok reports whether a value asks for nothing corral does not do.
	ok  func(raw json.RawMessage, fw Framework) bool
	msg func(raw json.RawMessage) string
}{
	{"async", isBlank, fixed("async is " + notYet + ": a run ends when its command exits; give false or leave it out")},
	{"highPriority", isBlank, fixed("highPriority is " + notYet + ": runs start in the order they come due; give false or leave it out")},
	{"dataProcessingJobType", isBlank, fixed("dataProcessingJobType is " + notYet + "; give false or leave it out")},
	{"executor", isBlank, fixed("a custom executor is " + notYet + ": runs use the built-in command executor; leave executor out")},
	{"executorFlags", isBlank, fixed("executorFlags is " + notYet + "; leave it out")},
	{"taskInfoData", isBlank, fixed("taskInfoData is " + notYet + "; leave it out")},
	{"maxCompletionTime", isBlank, fixed("maxCompletionTime is " + notYet + "; give 0 or leave it out (the native API's timeoutSeconds limits a run)")},
}

// notYet ends every refusal of an unimplemented field.
const notYet = "not supported by corral yet"

func isBlank(raw json.RawMessage, _ Framework) bool { return blank.JSON(raw) }

func fixed(msg string) func(json.RawMessage) string {
	return func(json.RawMessage) string { return msg }
}

// readOnly are the statistics that the answers carry with a job (nextRun
// only in native answers): known, and ignored in requests, so that a
// client may send back what it read.
var readOnly = []string{"errorCount", "errorsSinceLastSuccess", "lastError", "lastSuccess", "nextRun", "successCount"}

// checkUnimplemented refuses (into d.meaning) the fields of m that corral
// does not implement when they ask for something. Outside a request it
// does nothing.
func (d *decoder) checkUnimplemented(m map[string]json.RawMessage) {
	if d.fw == nil {
		return
	}
	for _, f := range unimplemented {
		if raw, ok := m[f.name]; ok && !f.ok(raw, *d.fw) {
			d.meaning.add("/"+f.name, f.msg(raw))
		}
	}
}

// warnUnknown adds a warning for every key of the JSON object raw (null
// ones included) that known does not report as known.
func (d *decoder) warnUnknown(path string, raw json.RawMessage, known func(string) bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return
	}
	for _, k := range sortedKeys(m) {
		if !known(k) {
			d.warnings = append(d.warnings, Warning{Path: strings.TrimSuffix(path, "/") + "/" + k})
		}
	}
}

// sortWarnings orders the warnings by path.
func (d *decoder) sortWarnings() {
	slices.SortFunc(d.warnings, func(a, b Warning) int { return strings.Compare(a.Path, b.Path) })
}
