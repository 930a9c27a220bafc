package agentproto

import "corral/kernel/mesos"

// Path is the master endpoint every agent call is POSTed to.
const Path = "/internal/v1/agent"

// ConnectionIDHeader carries the connection id on the REGISTER response too,
// so an agent can read it before the first event.
const ConnectionIDHeader = "Corral-Connection-Id"

// CallType names an agent→master call.
type CallType string

// Agent→master calls.
const (
	CallRegister  CallType = "REGISTER"
	CallUpdate    CallType = "UPDATE"
	CallHeartbeat CallType = "HEARTBEAT"
	// CallSecrets asks for the values of the stored secrets a task's
	// environment references (see SecretsRequest).
	CallSecrets CallType = "SECRETS"
	// CallExecutors reports executors that ended and messages executors
	// sent to their frameworks (see Executors). Best effort: the live
	// executors of each REGISTER correct a lost report.
	CallExecutors CallType = "EXECUTORS"
)

// Call is the body of every agent→master request.
type Call struct {
	Type         CallType        `json:"type"`
	AgentID      string          `json:"agent_id,omitempty"`
	ConnectionID string          `json:"connection_id,omitempty"`
	Register     *Register       `json:"register,omitempty"`
	Update       *Updates        `json:"update,omitempty"`
	Secrets      *SecretsRequest `json:"secrets,omitempty"`
	Executors    *Executors      `json:"executors,omitempty"`
}

// Executors is Call.Executors.
type Executors struct {
	Exited   []ExecutorExited  `json:"exited,omitempty"`
	Messages []ExecutorMessage `json:"messages,omitempty"`
}

// ExecutorExited says a framework's executor ended on the agent; its
// resources are free again. Status is its wait status when known.
type ExecutorExited struct {
	FrameworkID string `json:"framework_id"`
	ExecutorID  string `json:"executor_id"`
	Status      *int   `json:"status,omitempty"`
}

// ExecutorMessage carries bytes between a framework and one of its
// executors, either way: the executor's MESSAGE call up, the framework's
// MESSAGE call down (Event.Message). Best effort. Data is base64, as in
// the v1 APIs' JSON.
type ExecutorMessage struct {
	FrameworkID string `json:"framework_id"`
	ExecutorID  string `json:"executor_id"`
	Data        string `json:"data"`
}

// Executor is a live executor of a framework, as reported on
// (re-)registration; Info.Resources carry their allocation role.
type Executor struct {
	FrameworkID string             `json:"framework_id"`
	Info        mesos.ExecutorInfo `json:"info"`
}

// CgroupsMode says how an agent enforces task limits: "v1", "v2" or "none".
type CgroupsMode string

// Cgroups modes.
const (
	CgroupsV1   CgroupsMode = "v1"
	CgroupsV2   CgroupsMode = "v2"
	CgroupsNone CgroupsMode = "none"
)

// AgentInfo describes an agent; it is what the master's registry stores.
type AgentInfo struct {
	Hostname string `json:"hostname"`
	// Endpoint is the base URL of the agent's HTTP server
	// ("http://10.0.0.5:5051"), used for /files and by the console.
	Endpoint   string            `json:"endpoint"`
	Resources  []mesos.Resource  `json:"resources"`
	Attributes []mesos.Attribute `json:"attributes,omitempty"`
	Cgroups    CgroupsMode       `json:"cgroups"`
	// CgroupsReason explains why limits are not enforced when Cgroups is none.
	CgroupsReason string `json:"cgroups_reason,omitempty"`
	Version       string `json:"version,omitempty"`
	WorkDir       string `json:"work_dir,omitempty"`
	// Containerizers are what the agent runs tasks in: "mesos" (its
	// processes), and "docker" when its Docker engine answered.
	Containerizers []string `json:"containerizers,omitempty"`
}

// Task is a task the agent runs (or ran, with updates not yet acknowledged),
// as reported on (re-)registration.
type Task struct {
	FrameworkID   string               `json:"framework_id"`
	FrameworkInfo *mesos.FrameworkInfo `json:"framework_info,omitempty"`
	TaskInfo      mesos.TaskInfo       `json:"task_info"`
	// State is the task's latest state on the agent.
	State mesos.TaskState `json:"state"`
	// Status is the latest status of the task (for reconciliation).
	Status *mesos.TaskStatus `json:"status,omitempty"`
}

// Register is Call.Register. AgentID empty means a new agent; otherwise the
// agent re-registers with the tasks it knows.
type Register struct {
	Info      AgentInfo  `json:"info"`
	Tasks     []Task     `json:"tasks,omitempty"`
	Executors []Executor `json:"executors,omitempty"`
}

// StatusUpdate is one reliable status update. Status.UUID is set.
type StatusUpdate struct {
	FrameworkID string           `json:"framework_id"`
	Status      mesos.TaskStatus `json:"status"`
	// LatestState is the task's newest state on the agent, which may be
	// ahead of Status while older updates wait for acknowledgement.
	LatestState mesos.TaskState `json:"latest_state"`
}

// Updates is Call.Update: a batch of updates, at most one per task and in
// per-task order across calls.
type Updates struct {
	Updates []StatusUpdate `json:"updates"`
}

// SecretsRequest is Call.Secrets: the agent launching task TaskID of
// framework FrameworkID asks for the values of the stored secrets that
// the task's command environment references (variables of type SECRET
// whose secret is a REFERENCE). The master answers from its own record of
// the task, not from anything the agent says about it:
//
//	200 SecretsAnswer   exactly the referenced secrets
//	404                 no such task of that framework launching or
//	                    running on that agent, or the call's connection
//	                    is not the agent's current one; or a referenced
//	                    secret no longer exists (the message names it)
//	403                 the framework's principal may no longer
//	                    use_secrets a referenced name
//	422                 a referenced name is not a valid secret name
//	503                 the master's secret store is off (no
//	                    --secrets_key) or cannot be reached; or the master
//	                    is not leading
//
// Error bodies are text naming the task and the secret, never a value.
type SecretsRequest struct {
	FrameworkID string `json:"framework_id"`
	TaskID      string `json:"task_id"`
}

// SecretsAnswer is the 200 body of a SECRETS call: the value of every
// stored secret the task references, by the name the task's environment
// gives (a leading "/" included if the task wrote one). A value is bytes,
// base64 in JSON. The agent puts the values in the task's process
// environment only: never in a checkpoint, a log or a status update.
type SecretsAnswer struct {
	Secrets map[string][]byte `json:"secrets"`
}

// EventType names a master→agent event.
type EventType string

// Master→agent events.
const (
	EventRegistered        EventType = "REGISTERED"
	EventLaunch            EventType = "LAUNCH"
	EventKill              EventType = "KILL"
	EventAcknowledge       EventType = "ACKNOWLEDGE"
	EventReconcile         EventType = "RECONCILE"
	EventShutdownFramework EventType = "SHUTDOWN_FRAMEWORK"
	EventHeartbeat         EventType = "HEARTBEAT"
	// EventMessage carries a framework's MESSAGE to one of its executors.
	EventMessage EventType = "MESSAGE"
	// EventShutdownExecutor asks the agent to shut an executor down: it
	// gets SHUTDOWN, then is killed after its grace period.
	EventShutdownExecutor EventType = "SHUTDOWN_EXECUTOR"
)

// Event is one RecordIO record of the REGISTER stream.
type Event struct {
	Type              EventType          `json:"type"`
	Registered        *Registered        `json:"registered,omitempty"`
	Launch            *Launch            `json:"launch,omitempty"`
	Kill              *Kill              `json:"kill,omitempty"`
	Acknowledge       *Acknowledge       `json:"acknowledge,omitempty"`
	Reconcile         *Reconcile         `json:"reconcile,omitempty"`
	ShutdownFramework *ShutdownFramework `json:"shutdown_framework,omitempty"`
	Message           *ExecutorMessage   `json:"message,omitempty"`
	ShutdownExecutor  *ShutdownExecutor  `json:"shutdown_executor,omitempty"`
}

// ShutdownExecutor is Event.ShutdownExecutor.
type ShutdownExecutor struct {
	FrameworkID string `json:"framework_id"`
	ExecutorID  string `json:"executor_id"`
}

// Registered is the first event of a stream.
type Registered struct {
	AgentID                  string  `json:"agent_id"`
	ConnectionID             string  `json:"connection_id"`
	HeartbeatIntervalSeconds float64 `json:"heartbeat_interval_seconds"`
}

// Launch asks the agent to run tasks for a framework. The master has
// already validated them against an offer of this agent's resources.
type Launch struct {
	FrameworkID   string              `json:"framework_id"`
	FrameworkInfo mesos.FrameworkInfo `json:"framework_info"`
	Tasks         []mesos.TaskInfo    `json:"tasks"`
}

// Kill asks the agent to kill a task: SIGTERM, then SIGKILL after
// GracePeriodSeconds (the agent's default when zero). Killing an unknown
// task makes the agent send TASK_LOST for it (so the framework hears back).
type Kill struct {
	FrameworkID        string  `json:"framework_id"`
	TaskID             string  `json:"task_id"`
	GracePeriodSeconds float64 `json:"grace_period_seconds,omitempty"`
	// Draining says the agent is being drained: the task's terminal
	// update carries REASON_AGENT_DRAINING.
	Draining bool `json:"draining,omitempty"`
}

// Acknowledge says the framework acknowledged the update with UUID (base64).
type Acknowledge struct {
	FrameworkID string `json:"framework_id"`
	TaskID      string `json:"task_id"`
	UUID        string `json:"uuid"`
}

// Reconcile lists the non-terminal tasks the master believes the agent runs;
// the agent answers TASK_DROPPED (reliably) for any it does not know.
type Reconcile struct {
	Tasks []ReconcileTask `json:"tasks"`
}

// ReconcileTask names one task in Reconcile.
type ReconcileTask struct {
	FrameworkID string `json:"framework_id"`
	TaskID      string `json:"task_id"`
}

// ShutdownFramework asks the agent to kill every task of a framework and
// shut its executors down (the framework was torn down or its failover
// timeout expired).
type ShutdownFramework struct {
	FrameworkID string `json:"framework_id"`
}
