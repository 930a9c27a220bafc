package job

import (
	"encoding/json"
	"slices"
	"strings"

	"corral/frameworks/internal/blank"
)

// Fields of the Chronos job format that corral does not implement. A job
// that relies on one of them would run, but not as its owner expects (its
// artifacts not fetched, without its volumes), so a request that gives
// one a value other than its default is refused with a *ValidationError
// naming it. Chronos' defaults, which its clients send
// with every job and GET /v1/scheduler/jobs answers, are accepted without
// a word. The native format refuses them the same way: a job converted
// from Chronos that relies on one would run wrong there too.
//
//	field                   accepted                                refused
//	uris, fetch             null, []                                anything to download
//	async, highPriority,
//	dataProcessingJobType   null, false                             true
//	executor, executorFlags,
//	taskInfoData            null, ""                                any value
//	maxCompletionTime       null, 0                                 a limit
//	container               no image (with an image: refused,       volumes, networkInfos,
//	                        "containers are not supported")         network other than HOST
//
// runAsUser is not among them: a job's runs run as its user (see
// Job.User), which the decoders and Validate check is a user name.
var unimplemented = []struct {
	name string
	// ok reports whether a value asks for nothing corral does not do.
	ok  func(raw json.RawMessage, fw Framework) bool
	msg func(raw json.RawMessage) string
}{
	{"uris", isBlank, fixed("fetching URIs is " + notYet + "; give [] or leave uris out")},
	{"fetch", isBlank, fixed("fetching artifacts (fetch) is " + notYet + "; give [] or leave fetch out")},
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

// containerFields are the fields of a Chronos container.
var containerFields = []string{"forcePullImage", "image", "network", "networkInfos", "parameters", "type", "volumes"}

// checkUnimplemented refuses (into d.meaning) the fields of m that corral
// does not implement when they ask for something, and warns about the
// unknown fields of the container. Outside a request it only warns.
func (d *decoder) checkUnimplemented(m map[string]json.RawMessage) {
	if raw, ok := m["container"]; ok {
		d.container("/container", raw)
	}
	if d.fw == nil {
		return
	}
	for _, f := range unimplemented {
		if raw, ok := m[f.name]; ok && !f.ok(raw, *d.fw) {
			d.meaning.add("/"+f.name, f.msg(raw))
		}
	}
}

// container checks a Chronos container: one with an image is refused as a
// whole, since the job would not run what its owner expects; without an
// image only what would change a plain command's run is refused (volumes,
// a network other than the agent's), while a type, forcePullImage or
// docker parameters change nothing and pass.
func (d *decoder) container(path string, raw json.RawMessage) {
	var c map[string]json.RawMessage
	if json.Unmarshal(raw, &c) != nil {
		if d.fw != nil && !blank.JSON(raw) {
			d.types.add(path, "must be an object")
		}
		return
	}
	d.warnUnknown(path, raw, func(k string) bool { return slices.Contains(containerFields, k) })
	if !blank.JSON(c["image"]) {
		d.meaning.add(path, "containers are not supported; give a command")
		return
	}
	if d.fw == nil {
		return
	}
	if !blank.JSON(c["volumes"]) {
		d.meaning.add(path+"/volumes", "mounting volumes is "+notYet+"; give [] or leave volumes out")
	}
	var network string
	if r, ok := c["network"]; ok && !blank.JSON(r) && (json.Unmarshal(r, &network) != nil || !strings.EqualFold(network, "HOST")) {
		d.meaning.add(path+"/network", "container networking is "+notYet+": runs use the agent's network; give HOST or leave network out")
	}
	if !blank.JSON(c["networkInfos"]) {
		d.meaning.add(path+"/networkInfos", "container networking is "+notYet+": runs use the agent's network; give [] or leave networkInfos out")
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
