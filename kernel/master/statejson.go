package master

import (
	"bufio"
	"encoding/json"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"corral/kernel/mesos"
)

// The body of GET /state is written by hand, element by element, to a
// buffered writer: with 10,000 agents and 100,000 tasks encoding/json
// builds the whole body (tens of MB) in memory and spends most of its time
// reflecting over, allocating and sorting the small maps of every task.
// The output is byte for byte what json.NewEncoder(w).Encode(stateBody)
// writes (statejson_test.go checks it against encoding/json): the fields
// in encoding/json's order, its omitempty rules, string escaping (HTML-safe,
// as Encoder's default) and float formatting. Values of rare or nested
// types (leader_info, labels, discovery, drain info, quotas…) go through
// json.Marshal, which writes them as Encode would.

// jsonWriter appends JSON to a buffer and hands full chunks to w. The
// first error (of w or of json.Marshal) sticks and stops all writing.
type jsonWriter struct {
	w   *bufio.Writer
	buf []byte
	err error
}

func newJSONWriter(w io.Writer) *jsonWriter {
	return &jsonWriter{w: bufio.NewWriterSize(w, 64<<10), buf: make([]byte, 0, 16<<10)}
}

// flushIfFull passes the buffer on once it holds a chunk worth writing.
func (j *jsonWriter) flushIfFull() {
	if len(j.buf) >= 8<<10 && j.err == nil {
		_, j.err = j.w.Write(j.buf)
		j.buf = j.buf[:0]
	}
}

// finish writes what is left and flushes; it returns the first error.
func (j *jsonWriter) finish() error {
	if j.err == nil {
		_, j.err = j.w.Write(j.buf)
	}
	if j.err == nil {
		j.err = j.w.Flush()
	}
	j.buf = j.buf[:0]
	return j.err
}

func (j *jsonWriter) raw(s string) { j.buf = append(j.buf, s...) }

// key writes ,"name": (without the comma for an object's first field).
func (j *jsonWriter) key(first bool, name string) {
	if !first {
		j.buf = append(j.buf, ',')
	}
	j.buf = appendJSONString(j.buf, name)
	j.buf = append(j.buf, ':')
}

func (j *jsonWriter) str(s string) { j.buf = appendJSONString(j.buf, s) }

func (j *jsonWriter) float(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		j.marshal(f) // encoding/json's error
		return
	}
	j.buf = appendJSONFloat(j.buf, f)
}

func (j *jsonWriter) int(n int) { j.buf = strconv.AppendInt(j.buf, int64(n), 10) }

func (j *jsonWriter) bool(b bool) { j.buf = strconv.AppendBool(j.buf, b) }

// marshal writes v as encoding/json does.
func (j *jsonWriter) marshal(v any) {
	if j.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		j.err = err
		return
	}
	j.buf = append(j.buf, b...)
}

// strings writes a []string (null when nil, as encoding/json does).
func (j *jsonWriter) strings(ss []string) {
	if ss == nil {
		j.raw("null")
		return
	}
	j.buf = append(j.buf, '[')
	for i, s := range ss {
		if i > 0 {
			j.buf = append(j.buf, ',')
		}
		j.str(s)
	}
	j.buf = append(j.buf, ']')
}

// anyMap writes a map of the kinds /state has (ResourceSummary,
// attributes): keys sorted; float64, string and []string values by hand,
// anything else through json.Marshal.
func (j *jsonWriter) anyMap(m map[string]any) {
	if m == nil {
		j.raw("null")
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	j.buf = append(j.buf, '{')
	for i, k := range keys {
		j.key(i == 0, k)
		switch v := m[k].(type) {
		case float64:
			j.float(v)
		case string:
			j.str(v)
		case []string:
			j.strings(v)
		default:
			j.marshal(v)
		}
	}
	j.buf = append(j.buf, '}')
}

// appendJSONString appends s quoted as encoding/json quotes it with HTML
// escaping on; strings that need no escaping (nearly all) are copied as
// they are, the others go through json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= utf8.RuneSelf {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONFloat appends a finite float64 as encoding/json formats it.
func appendJSONFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// writeState writes b and a newline, as json.NewEncoder(w).Encode(b).
func writeState(w io.Writer, b stateBody) error {
	j := newJSONWriter(w)
	st := &b.State
	j.raw("{")
	j.key(true, "version")
	j.str(st.Version)
	j.key(false, "id")
	j.str(st.ID)
	j.key(false, "leader")
	j.str(st.Leader)
	j.key(false, "leader_info")
	j.marshal(st.LeaderInfo)
	j.key(false, "start_time")
	j.float(st.StartTime)
	j.key(false, "elected_time")
	j.float(st.ElectedTime)
	j.key(false, "hostname")
	j.str(st.Hostname)
	j.key(false, "activated_slaves")
	j.int(st.ActivatedAgents)
	j.key(false, "unreachable_slaves")
	j.int(st.UnreachableAgents)
	j.key(false, "slaves")
	if st.Agents == nil {
		j.raw("null")
	} else {
		j.raw("[")
		for i := range st.Agents {
			if i > 0 {
				j.raw(",")
			}
			j.agent(&st.Agents[i])
			j.flushIfFull()
		}
		j.raw("]")
	}
	// State.Frameworks is shadowed by stateBody.Frameworks, which
	// encoding/json puts after all of State's fields.
	j.key(false, "completed_frameworks")
	j.frameworks(st.CompletedFrameworks, func(fs *FrameworkState) { j.tasks(fs.Tasks) })
	j.key(false, "outstanding_offers")
	j.int(st.Offers)
	j.key(false, "quotas")
	j.marshal(st.Quotas)
	j.key(false, "frameworks")
	if b.Frameworks == nil {
		j.raw("null")
	} else {
		j.raw("[")
		for i := range b.Frameworks {
			if i > 0 {
				j.raw(",")
			}
			f := &b.Frameworks[i]
			j.framework(&f.FrameworkState, func(*FrameworkState) { j.taskBodies(f.Tasks) }, true)
			j.flushIfFull()
		}
		j.raw("]")
	}
	j.raw("}\n")
	return j.finish()
}

func (j *jsonWriter) agent(a *AgentState) {
	j.raw("{")
	j.key(true, "id")
	j.str(a.ID)
	j.key(false, "hostname")
	j.str(a.Hostname)
	j.key(false, "endpoint")
	j.str(a.Endpoint)
	j.key(false, "pid")
	j.str(a.PID)
	j.key(false, "state")
	j.str(a.State)
	j.key(false, "active")
	j.bool(a.Active)
	j.key(false, "connected")
	j.bool(a.Connected)
	j.key(false, "registered_time")
	j.float(a.RegisteredTime)
	if a.LastHeartbeat != 0 {
		j.key(false, "last_heartbeat")
		j.float(a.LastHeartbeat)
	}
	if a.UnreachableTime != 0 {
		j.key(false, "unreachable_time")
		j.float(a.UnreachableTime)
	}
	j.key(false, "resources")
	j.anyMap(a.Resources)
	j.key(false, "used_resources")
	j.anyMap(a.UsedResources)
	j.key(false, "offered_resources")
	j.anyMap(a.OfferedResources)
	j.key(false, "unreserved_resources_free")
	j.anyMap(a.FreeResources)
	j.key(false, "attributes")
	j.anyMap(a.Attributes)
	j.key(false, "cgroups")
	j.str(a.Cgroups)
	if a.CgroupsReason != "" {
		j.key(false, "cgroups_reason")
		j.str(a.CgroupsReason)
	}
	if a.Version != "" {
		j.key(false, "version")
		j.str(a.Version)
	}
	j.key(false, "task_count")
	j.int(a.TaskCount)
	if len(a.Containerizers) > 0 {
		j.key(false, "containerizers")
		j.strings(a.Containerizers)
	}
	j.key(false, "deactivated")
	j.bool(a.Deactivated)
	if a.DrainInfo != nil {
		j.key(false, "drain_info")
		j.marshal(a.DrainInfo)
	}
	if a.Maintenance != nil {
		j.key(false, "maintenance")
		j.marshal(a.Maintenance)
	}
	j.raw("}")
}

// frameworks writes a list of frameworks whose tasks tasks writes.
func (j *jsonWriter) frameworks(fs []FrameworkState, tasks func(*FrameworkState)) {
	if fs == nil {
		j.raw("null")
		return
	}
	j.raw("[")
	for i := range fs {
		if i > 0 {
			j.raw(",")
		}
		j.framework(&fs[i], tasks, false)
		j.flushIfFull()
	}
	j.raw("]")
}

// framework writes f with its fields in encoding/json's order; tasks
// writes the value of "tasks", which comes where FrameworkState has it for
// a plain FrameworkState and last (tasksLast) for a frameworkBody, whose
// Tasks shadows FrameworkState's.
func (j *jsonWriter) framework(f *FrameworkState, tasks func(*FrameworkState), tasksLast bool) {
	j.raw("{")
	j.key(true, "id")
	j.str(f.ID)
	j.key(false, "name")
	j.str(f.Name)
	j.key(false, "user")
	j.str(f.User)
	if f.Principal != "" {
		j.key(false, "principal")
		j.str(f.Principal)
	}
	j.key(false, "roles")
	j.strings(f.Roles)
	if len(f.SuppressedRoles) > 0 {
		j.key(false, "suppressed_roles")
		j.strings(f.SuppressedRoles)
	}
	if f.Hostname != "" {
		j.key(false, "hostname")
		j.str(f.Hostname)
	}
	if f.WebuiURL != "" {
		j.key(false, "webui_url")
		j.str(f.WebuiURL)
	}
	j.key(false, "state")
	j.str(f.State)
	j.key(false, "active")
	j.bool(f.Active)
	j.key(false, "connected")
	j.bool(f.Connected)
	if len(f.Capabilities) > 0 {
		j.key(false, "capabilities")
		j.strings(f.Capabilities)
	}
	j.key(false, "failover_timeout")
	j.float(f.FailoverTimeout)
	j.key(false, "registered_time")
	j.float(f.RegisteredTime)
	if f.DisconnectedAt != 0 {
		j.key(false, "unregistered_time")
		j.float(f.DisconnectedAt)
	}
	if f.RemovedAt != 0 {
		j.key(false, "removed_time")
		j.float(f.RemovedAt)
	}
	j.key(false, "used_resources")
	j.anyMap(f.UsedResources)
	j.key(false, "offered_resources")
	j.anyMap(f.OfferedResource)
	if !tasksLast {
		j.key(false, "tasks")
		tasks(f)
	}
	j.key(false, "unreachable_tasks")
	j.tasks(f.UnreachableTask)
	j.key(false, "completed_tasks")
	j.tasks(f.CompletedTasks)
	j.key(false, "offers")
	j.marshalOffers(f.Offers)
	j.key(false, "executors")
	j.marshal(f.Executors)
	if tasksLast {
		j.key(false, "tasks")
		tasks(f)
	}
	j.raw("}")
}

func (j *jsonWriter) marshalOffers(os []OfferState) {
	if os == nil {
		j.raw("null")
		return
	}
	j.raw("[")
	for i := range os {
		o := &os[i]
		if i > 0 {
			j.raw(",")
		}
		j.raw("{")
		j.key(true, "id")
		j.str(o.ID)
		j.key(false, "framework_id")
		j.str(o.FrameworkID)
		j.key(false, "slave_id")
		j.str(o.AgentID)
		j.key(false, "role")
		j.str(o.Role)
		j.key(false, "resources")
		j.anyMap(o.Resources)
		j.key(false, "age_seconds")
		j.float(o.AgeSeconds)
		j.raw("}")
		j.flushIfFull()
	}
	j.raw("]")
}

// tasks writes a list of tasks.
func (j *jsonWriter) tasks(ts []TaskState) {
	if ts == nil {
		j.raw("null")
		return
	}
	j.raw("[")
	for i := range ts {
		if i > 0 {
			j.raw(",")
		}
		j.task(&ts[i], nil)
		j.flushIfFull()
	}
	j.raw("]")
}

func (j *jsonWriter) taskBodies(ts []taskBody) {
	if ts == nil {
		j.raw("null")
		return
	}
	j.raw("[")
	for i := range ts {
		if i > 0 {
			j.raw(",")
		}
		j.task(&ts[i].TaskState, &ts[i])
		j.flushIfFull()
	}
	j.raw("]")
}

// task writes t; body, if not nil, adds its discovery.
func (j *jsonWriter) task(t *TaskState, body *taskBody) {
	j.raw("{")
	j.key(true, "id")
	j.str(t.ID)
	j.key(false, "name")
	j.str(t.Name)
	j.key(false, "framework_id")
	j.str(t.FrameworkID)
	j.key(false, "slave_id")
	j.str(t.AgentID)
	j.key(false, "state")
	j.str(t.State)
	j.key(false, "role")
	j.str(t.Role)
	j.key(false, "resources")
	j.anyMap(t.Resources)
	j.key(false, "statuses")
	if t.Statuses == nil {
		j.raw("null")
	} else {
		j.raw("[")
		for i, s := range t.Statuses {
			if i > 0 {
				j.raw(",")
			}
			j.raw("{")
			j.key(true, "state")
			j.str(s.State)
			j.key(false, "timestamp")
			j.float(s.Timestamp)
			j.raw("}")
		}
		j.raw("]")
	}
	if t.Sandbox != "" {
		j.key(false, "sandbox")
		j.str(t.Sandbox)
	}
	if t.Labels != nil {
		j.key(false, "labels")
		j.labels(t.Labels.Labels)
	}
	if t.Command != "" {
		j.key(false, "command")
		j.str(t.Command)
	}
	if t.User != "" {
		j.key(false, "user")
		j.str(t.User)
	}
	if t.Healthy != nil {
		j.key(false, "healthy")
		j.bool(*t.Healthy)
	}
	if t.Message != "" {
		j.key(false, "message")
		j.str(t.Message)
	}
	if t.Reason != "" {
		j.key(false, "reason")
		j.str(t.Reason)
	}
	if body != nil && body.Discovery != nil {
		j.key(false, "discovery")
		j.marshal(body.Discovery)
	}
	j.raw("}")
}

// labels writes mesos.Labels' list.
func (j *jsonWriter) labels(ls []mesos.Label) {
	j.raw(`{"labels":`)
	if ls == nil {
		j.raw("null}")
		return
	}
	j.raw("[")
	for i, l := range ls {
		if i > 0 {
			j.raw(",")
		}
		j.raw(`{"key":`)
		j.str(l.Key)
		if l.Value != "" {
			j.raw(`,"value":`)
			j.str(l.Value)
		}
		j.raw("}")
	}
	j.raw("]}")
}
