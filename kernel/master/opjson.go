package master

import (
	"io"
	"strconv"

	"corral/kernel/master/internal/core"
	"corral/kernel/mesos"
)

// The JSON answer to GET_STATE is written element by element with the
// jsonWriter of GET /state, for the same reasons (statejson.go): its
// 100,000 tasks and 10,000 agents are written by hand, the rare or nested
// values (attributes, drain info, executor and framework infos,
// reservations) through json.Marshal. The output is byte for byte what
// json.NewEncoder(w).Encode(resp) writes for the response (opjson_test.go
// checks it against encoding/json); the protobuf answer is unchanged.

// writeGetState writes the JSON Response of type typ with GetState s and
// a newline, as json.NewEncoder(w).Encode(&opResponse{GetState: s, Type:
// typ}).
func writeGetState(w io.Writer, typ string, s *opGetState) error {
	j := newJSONWriter(w)
	j.raw(`{"get_state":`)
	j.opGetState(s)
	j.key(false, "type")
	j.str(typ)
	j.raw("}\n")
	return j.finish()
}

func (j *jsonWriter) opGetState(s *opGetState) {
	j.raw(`{"get_agents":{"agents":`)
	opList(j, s.GetAgents.Agents, j.opAgent)
	j.raw(`,"recovered_agents":`)
	opList(j, s.GetAgents.RecoveredAgents, j.opAgentInfo)
	j.raw(`},"get_executors":{"executors":`)
	opList(j, s.GetExecutors.Executors, func(e *core.OpExecutor) { j.marshal(e) })
	j.raw(`},"get_frameworks":{"completed_frameworks":`)
	opList(j, s.GetFrameworks.CompletedFrameworks, func(f *core.OpFramework) { j.marshal(f) })
	j.raw(`,"frameworks":`)
	opList(j, s.GetFrameworks.Frameworks, func(f *core.OpFramework) { j.marshal(f) })
	j.raw(`},"get_tasks":{"completed_tasks":`)
	opList(j, s.GetTasks.CompletedTasks, j.opTask)
	j.raw(`,"tasks":`)
	opList(j, s.GetTasks.Tasks, j.opTask)
	j.raw(`,"unreachable_tasks":`)
	opList(j, s.GetTasks.UnreachableTasks, j.opTask)
	j.raw("}}")
}

// opList writes a JSON array of xs, each with one, passing full chunks on
// as it goes (null for nil, as encoding/json).
func opList[T any](j *jsonWriter, xs []T, one func(*T)) {
	if xs == nil {
		j.raw("null")
		return
	}
	j.raw("[")
	for i := range xs {
		if i > 0 {
			j.raw(",")
		}
		one(&xs[i])
		j.flushIfFull()
	}
	j.raw("]")
}

// optStr writes ,"name":v unless v is empty (omitempty).
func (j *jsonWriter) optStr(name, v string) {
	if v != "" {
		j.key(false, name)
		j.str(v)
	}
}

func (j *jsonWriter) id(id mesos.ID) {
	j.raw(`{"value":`)
	j.str(id.Value)
	j.raw("}")
}

func (j *jsonWriter) timeInfo(t *mesos.TimeInfo) {
	j.raw(`{"nanoseconds":`)
	j.buf = strconv.AppendInt(j.buf, int64(t.Nanoseconds), 10)
	j.raw("}")
}

func (j *jsonWriter) opAgentInfo(a *core.OpAgentInfo) {
	j.raw(`{"id":`)
	j.id(a.ID)
	j.key(false, "hostname")
	j.str(a.Hostname)
	if a.Port != 0 {
		j.key(false, "port")
		j.int(a.Port)
	}
	j.key(false, "resources")
	j.resources(a.Resources)
	if len(a.Attributes) > 0 {
		j.key(false, "attributes")
		j.marshal(a.Attributes)
	}
	j.raw("}")
}

func (j *jsonWriter) opAgent(a *core.OpAgent) {
	j.raw(`{"agent_info":`)
	j.opAgentInfo(&a.AgentInfo)
	j.key(false, "active")
	j.bool(a.Active)
	j.key(false, "deactivated")
	j.bool(a.Deactivated)
	j.optStr("version", a.Version)
	j.optStr("pid", a.PID)
	if a.RegisteredTime != nil {
		j.key(false, "registered_time")
		j.timeInfo(a.RegisteredTime)
	}
	j.key(false, "total_resources")
	j.resources(a.TotalResources)
	j.key(false, "allocated_resources")
	j.resources(a.AllocatedResources)
	j.key(false, "offered_resources")
	j.resources(a.OfferedResources)
	if a.DrainInfo != nil {
		j.key(false, "drain_info")
		j.marshal(a.DrainInfo)
	}
	j.raw("}")
}

func (j *jsonWriter) opTask(t *core.OpTask) {
	j.raw(`{"name":`)
	j.str(t.Name)
	j.key(false, "task_id")
	j.id(t.TaskID)
	j.key(false, "framework_id")
	j.id(t.FrameworkID)
	if t.ExecutorID != nil {
		j.key(false, "executor_id")
		j.id(*t.ExecutorID)
	}
	j.key(false, "agent_id")
	j.id(t.AgentID)
	j.key(false, "state")
	j.str(string(t.State))
	j.key(false, "resources")
	j.resources(t.Resources)
	j.key(false, "statuses")
	opList(j, t.Statuses, j.taskStatus)
	if t.Labels != nil {
		j.key(false, "labels")
		j.labels(t.Labels.Labels)
	}
	j.raw("}")
}

func (j *jsonWriter) taskStatus(s *mesos.TaskStatus) {
	j.raw(`{"task_id":`)
	j.id(s.TaskID)
	j.key(false, "state")
	j.str(string(s.State))
	j.optStr("message", s.Message)
	j.optStr("source", s.Source)
	j.optStr("reason", s.Reason)
	j.optStr("data", s.Data)
	if s.AgentID != nil {
		j.key(false, "agent_id")
		j.id(*s.AgentID)
	}
	if s.ExecutorID != nil {
		j.key(false, "executor_id")
		j.id(*s.ExecutorID)
	}
	if s.Timestamp != 0 {
		j.key(false, "timestamp")
		j.float(float64(s.Timestamp))
	}
	j.optStr("uuid", s.UUID)
	if s.Healthy != nil {
		j.key(false, "healthy")
		j.bool(*s.Healthy)
	}
	if s.Labels != nil {
		j.key(false, "labels")
		j.labels(s.Labels.Labels)
	}
	if s.UnreachableTime != nil {
		j.key(false, "unreachable_time")
		j.timeInfo(s.UnreachableTime)
	}
	j.raw("}")
}

// resources writes a []mesos.Resource: scalars, ranges and sets by
// hand, reservations through json.Marshal.
func (j *jsonWriter) resources(rs []mesos.Resource) {
	opList(j, rs, j.resource)
}

func (j *jsonWriter) resource(r *mesos.Resource) {
	j.raw(`{"name":`)
	j.str(r.Name)
	j.key(false, "type")
	j.str(string(r.Type))
	if r.Scalar != nil {
		j.raw(`,"scalar":{"value":`)
		j.float(float64(r.Scalar.Value))
		j.raw("}")
	}
	if r.Ranges != nil {
		j.raw(`,"ranges":{"range":`)
		opList(j, r.Ranges.Range, func(x *mesos.Range) {
			j.raw(`{"begin":`)
			j.buf = strconv.AppendUint(j.buf, uint64(x.Begin), 10)
			j.raw(`,"end":`)
			j.buf = strconv.AppendUint(j.buf, uint64(x.End), 10)
			j.raw("}")
		})
		j.raw("}")
	}
	if r.Set != nil {
		j.raw(`,"set":{"item":`)
		j.strings(r.Set.Item)
		j.raw("}")
	}
	j.optStr("role", r.Role)
	if r.Reservation != nil {
		j.key(false, "reservation")
		j.marshal(r.Reservation)
	}
	if r.AllocationInfo != nil {
		j.key(false, "allocation_info")
		j.marshal(r.AllocationInfo)
	}
	if len(r.Reservations) > 0 {
		j.key(false, "reservations")
		j.marshal(r.Reservations)
	}
	j.raw("}")
}
