package master

import (
	"corral/kernel/master/internal/core"
	"corral/kernel/mesos"
)

// The answers of the v1 operator API, mesos.v1.master.Response and Event
// (include/mesos/v1/master/master.proto), as typed values that serve
// both of its encodings: the json tags carry the proto field names (which
// are Mesos' JSON names), the pb tags the field numbers (package
// mesospb). Fields are declared in the order of their JSON names, the
// order in which the JSON form has always been written; only the fields
// corral fills are declared.

// opResponse is a Response: Type names the call answered, and the one
// field of that name is set.
type opResponse struct {
	GetAgents              *opGetAgents              `json:"get_agents,omitempty" pb:"10"`
	GetExecutors           *opGetExecutors           `json:"get_executors,omitempty" pb:"12"`
	GetFlags               *opGetFlags               `json:"get_flags,omitempty" pb:"3"`
	GetFrameworks          *opGetFrameworks          `json:"get_frameworks,omitempty" pb:"11"`
	GetHealth              *opGetHealth              `json:"get_health,omitempty" pb:"2"`
	GetMaintenanceSchedule *opGetMaintenanceSchedule `json:"get_maintenance_schedule,omitempty" pb:"18"`
	GetMaintenanceStatus   *opGetMaintenanceStatus   `json:"get_maintenance_status,omitempty" pb:"17"`
	GetMaster              *opGetMaster              `json:"get_master,omitempty" pb:"16"`
	GetMetrics             *opGetMetrics             `json:"get_metrics,omitempty" pb:"5"`
	GetQuota               *opGetQuota               `json:"get_quota,omitempty" pb:"19"`
	GetRoles               *opGetRoles               `json:"get_roles,omitempty" pb:"14"`
	GetState               *opGetState               `json:"get_state,omitempty" pb:"9"`
	GetTasks               *opGetTasks               `json:"get_tasks,omitempty" pb:"13"`
	GetVersion             *opGetVersion             `json:"get_version,omitempty" pb:"4"`
	GetWeights             *opGetWeights             `json:"get_weights,omitempty" pb:"15"`
	Type                   string                    `json:"type" pb:"1,enum=OperatorResponseType"`
}

// opGetHealth is Response.GetHealth.
type opGetHealth struct {
	Healthy bool `json:"healthy" pb:"1,req"`
}

// opGetFlags is Response.GetFlags.
type opGetFlags struct {
	Flags []Flag `json:"flags" pb:"1"`
}

// opGetVersion is Response.GetVersion; corral fills only the version.
type opGetVersion struct {
	VersionInfo opVersionInfo `json:"version_info" pb:"1"`
}

// opVersionInfo is VersionInfo.
type opVersionInfo struct {
	Version string `json:"version" pb:"1,req"`
}

// opGetMetrics is Response.GetMetrics.
type opGetMetrics struct {
	Metrics []opMetric `json:"metrics" pb:"1"`
}

// opMetric is Metric.
type opMetric struct {
	Name  string  `json:"name" pb:"1,req"`
	Value float64 `json:"value" pb:"2"`
}

// opGetMaster is Response.GetMaster; the times are seconds since the
// epoch.
type opGetMaster struct {
	ElectedTime float64          `json:"elected_time" pb:"3"`
	MasterInfo  mesos.MasterInfo `json:"master_info" pb:"1"`
	StartTime   float64          `json:"start_time" pb:"2"`
}

// opGetState is Response.GetState: the four reads in one.
type opGetState struct {
	GetAgents     opGetAgents     `json:"get_agents" pb:"4"`
	GetExecutors  opGetExecutors  `json:"get_executors" pb:"2"`
	GetFrameworks opGetFrameworks `json:"get_frameworks" pb:"3"`
	GetTasks      opGetTasks      `json:"get_tasks" pb:"1"`
}

// opGetAgents is Response.GetAgents.
type opGetAgents struct {
	Agents          []core.OpAgent     `json:"agents" pb:"1"`
	RecoveredAgents []core.OpAgentInfo `json:"recovered_agents" pb:"2"`
}

// opGetFrameworks is Response.GetFrameworks.
type opGetFrameworks struct {
	CompletedFrameworks []core.OpFramework `json:"completed_frameworks" pb:"2"`
	Frameworks          []core.OpFramework `json:"frameworks" pb:"1"`
}

// opGetTasks is Response.GetTasks.
type opGetTasks struct {
	CompletedTasks   []core.OpTask `json:"completed_tasks" pb:"3"`
	Tasks            []core.OpTask `json:"tasks" pb:"2"`
	UnreachableTasks []core.OpTask `json:"unreachable_tasks" pb:"5"`
}

// opGetExecutors is Response.GetExecutors.
type opGetExecutors struct {
	Executors []core.OpExecutor `json:"executors" pb:"1"`
}

// opGetRoles is Response.GetRoles.
type opGetRoles struct {
	Roles []core.OpRole `json:"roles" pb:"1"`
}

// opGetWeights is Response.GetWeights.
type opGetWeights struct {
	WeightInfos []WeightInfo `json:"weight_infos" pb:"1"`
}

// opGetQuota is Response.GetQuota.
type opGetQuota struct {
	Status opQuotaStatus `json:"status" pb:"1"`
}

// opQuotaStatus is quota.QuotaStatus without the deprecated infos.
type opQuotaStatus struct {
	Configs []core.QuotaConfig `json:"configs" pb:"2"`
}

// opGetMaintenanceSchedule is Response.GetMaintenanceSchedule.
type opGetMaintenanceSchedule struct {
	Schedule opScheduleBody `json:"schedule" pb:"1"`
}

// opGetMaintenanceStatus is Response.GetMaintenanceStatus.
type opGetMaintenanceStatus struct {
	Status opClusterStatus `json:"status" pb:"1"`
}

// opClusterStatus is maintenance.ClusterStatus, also the body of
// GET /maintenance/status.
type opClusterStatus struct {
	DownMachines     []core.MachineID    `json:"down_machines" pb:"2"`
	DrainingMachines []opDrainingMachine `json:"draining_machines" pb:"1"`
}

// opDrainingMachine is ClusterStatus.DrainingMachine.
type opDrainingMachine struct {
	ID       core.MachineID         `json:"id" pb:"1"`
	Statuses []opInverseOfferStatus `json:"statuses" pb:"2"`
}

// opInverseOfferStatus is allocator.InverseOfferStatus: a framework's
// latest answer (UNKNOWN, ACCEPT or DECLINE) to leaving a machine.
type opInverseOfferStatus struct {
	FrameworkID mesos.ID       `json:"framework_id" pb:"2"`
	Status      string         `json:"status" pb:"1,req,enum=InverseOfferStatus"`
	Timestamp   mesos.TimeInfo `json:"timestamp" pb:"3"`
}

// opEvent is an Event of the operator SUBSCRIBE stream: Type names it,
// and the one field of that name is set (none for HEARTBEAT).
type opEvent struct {
	AgentAdded       *opAgentAdded       `json:"agent_added,omitempty" pb:"5"`
	AgentRemoved     *opAgentRemoved     `json:"agent_removed,omitempty" pb:"6"`
	FrameworkAdded   *opFrameworkEvent   `json:"framework_added,omitempty" pb:"7"`
	FrameworkRemoved *opFrameworkRemoved `json:"framework_removed,omitempty" pb:"9"`
	FrameworkUpdated *opFrameworkEvent   `json:"framework_updated,omitempty" pb:"8"`
	Subscribed       *opSubscribed       `json:"subscribed,omitempty" pb:"2"`
	TaskAdded        *opTaskAdded        `json:"task_added,omitempty" pb:"3"`
	TaskUpdated      *opTaskUpdated      `json:"task_updated,omitempty" pb:"4"`
	Type             string              `json:"type" pb:"1,enum=OperatorEventType"`
}

// opSubscribed is Event.Subscribed: the state the subscriber may see.
type opSubscribed struct {
	GetState                 *opGetState `json:"get_state" pb:"1"`
	HeartbeatIntervalSeconds float64     `json:"heartbeat_interval_seconds" pb:"2"`
}

// opTaskAdded is Event.TaskAdded.
type opTaskAdded struct {
	Task *core.OpTask `json:"task" pb:"1"`
}

// opTaskUpdated is Event.TaskUpdated: the latest status and the task's
// state.
type opTaskUpdated struct {
	FrameworkID mesos.ID          `json:"framework_id" pb:"1"`
	State       mesos.TaskState   `json:"state" pb:"3,req,enum=TaskState"`
	Status      *mesos.TaskStatus `json:"status" pb:"2"`
}

// opAgentAdded is Event.AgentAdded.
type opAgentAdded struct {
	Agent *core.OpAgent `json:"agent" pb:"1"`
}

// opAgentRemoved is Event.AgentRemoved.
type opAgentRemoved struct {
	AgentID mesos.ID `json:"agent_id" pb:"1"`
}

// opFrameworkEvent is Event.FrameworkAdded and Event.FrameworkUpdated.
type opFrameworkEvent struct {
	Framework *core.OpFramework `json:"framework" pb:"1"`
}

// opFrameworkRemoved is Event.FrameworkRemoved.
type opFrameworkRemoved struct {
	FrameworkInfo mesos.FrameworkInfo `json:"framework_info" pb:"1"`
}
