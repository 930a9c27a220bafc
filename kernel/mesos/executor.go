package mesos

// The v1 executor API: what an executor POSTs to /api/v1/executor on its
// agent and the events of its SUBSCRIBE stream.

// ExecutorCallType is the executor Call.Type enum.
type ExecutorCallType string

// Executor call types.
const (
	ExecCallUnknown   ExecutorCallType = "UNKNOWN"
	ExecCallSubscribe ExecutorCallType = "SUBSCRIBE"
	ExecCallUpdate    ExecutorCallType = "UPDATE"
	ExecCallMessage   ExecutorCallType = "MESSAGE"
	ExecCallHeartbeat ExecutorCallType = "HEARTBEAT"
)

// ExecutorCall is the executor Call message.
type ExecutorCall struct {
	ExecutorID  ID                 `json:"executor_id" pb:"1,req"`
	FrameworkID ID                 `json:"framework_id" pb:"2,req"`
	Type        ExecutorCallType   `json:"type" pb:"3,enum=ExecutorCallType"`
	Subscribe   *ExecutorSubscribe `json:"subscribe,omitempty" pb:"4"`
	Update      *ExecutorUpdate    `json:"update,omitempty" pb:"5"`
	Message     *ExecutorMessage   `json:"message,omitempty" pb:"6"`
}

// ExecutorSubscribe is executor Call.Subscribe: what a re-subscribing
// executor still holds that the agent has not acknowledged.
type ExecutorSubscribe struct {
	UnacknowledgedTasks   []TaskInfo       `json:"unacknowledged_tasks,omitempty" pb:"1"`
	UnacknowledgedUpdates []ExecutorUpdate `json:"unacknowledged_updates,omitempty" pb:"2"`
}

// ExecutorUpdate is executor Call.Update: a status update of one of the
// executor's tasks.
type ExecutorUpdate struct {
	Status TaskStatus `json:"status" pb:"1,req"`
}

// ExecutorMessage is executor Call.Message: bytes for the framework.
// Note the field number, 2, unlike the event's.
type ExecutorMessage struct {
	Data string `json:"data" pb:"2,req,b64"`
}

// ExecutorEventType is the executor Event.Type enum.
type ExecutorEventType string

// Executor event types.
const (
	ExecEventUnknown      ExecutorEventType = "UNKNOWN"
	ExecEventSubscribed   ExecutorEventType = "SUBSCRIBED"
	ExecEventLaunch       ExecutorEventType = "LAUNCH"
	ExecEventLaunchGroup  ExecutorEventType = "LAUNCH_GROUP"
	ExecEventKill         ExecutorEventType = "KILL"
	ExecEventAcknowledged ExecutorEventType = "ACKNOWLEDGED"
	ExecEventMessage      ExecutorEventType = "MESSAGE"
	ExecEventError        ExecutorEventType = "ERROR"
	ExecEventShutdown     ExecutorEventType = "SHUTDOWN"
	ExecEventHeartbeat    ExecutorEventType = "HEARTBEAT"
)

// ExecutorEvent is the executor Event message.
type ExecutorEvent struct {
	Type         ExecutorEventType     `json:"type" pb:"1,enum=ExecutorEventType"`
	Subscribed   *ExecutorSubscribed   `json:"subscribed,omitempty" pb:"2"`
	Acknowledged *ExecutorAcknowledged `json:"acknowledged,omitempty" pb:"3"`
	Launch       *ExecutorLaunch       `json:"launch,omitempty" pb:"4"`
	Kill         *ExecutorKill         `json:"kill,omitempty" pb:"5"`
	Message      *ExecutorEventMessage `json:"message,omitempty" pb:"6"`
	Error        *Error                `json:"error,omitempty" pb:"7"`
}

// AgentInfo is the proto AgentInfo message, as an executor sees its agent.
type AgentInfo struct {
	Hostname   string      `json:"hostname" pb:"1,req"`
	ID         *ID         `json:"id,omitempty" pb:"6"`
	Port       *Int        `json:"port,omitempty" pb:"8"`
	Resources  []Resource  `json:"resources,omitempty" pb:"3"`
	Attributes []Attribute `json:"attributes,omitempty" pb:"5"`
}

// ContainerID is the proto ContainerID message.
type ContainerID struct {
	Value string `json:"value" pb:"1,req"`
}

// ExecutorSubscribed is executor Event.Subscribed, the first event.
type ExecutorSubscribed struct {
	ExecutorInfo  ExecutorInfo  `json:"executor_info" pb:"1,req"`
	FrameworkInfo FrameworkInfo `json:"framework_info" pb:"2,req"`
	AgentInfo     AgentInfo     `json:"agent_info" pb:"3,req"`
	ContainerID   *ContainerID  `json:"container_id,omitempty" pb:"4"`
}

// ExecutorLaunch is executor Event.Launch: a task to run.
type ExecutorLaunch struct {
	Task TaskInfo `json:"task" pb:"1,req"`
}

// ExecutorKill is executor Event.Kill: the framework killed a task; the
// executor must answer with a terminal update.
type ExecutorKill struct {
	TaskID     ID          `json:"task_id" pb:"1,req"`
	KillPolicy *KillPolicy `json:"kill_policy,omitempty" pb:"2"`
}

// ExecutorAcknowledged is executor Event.Acknowledged: the agent has
// taken the update with UUID (base64) in hand; the executor may stop
// resending it.
type ExecutorAcknowledged struct {
	TaskID ID     `json:"task_id" pb:"1,req"`
	UUID   string `json:"uuid" pb:"2,req,b64"`
}

// ExecutorEventMessage is executor Event.Message: bytes from the
// framework.
type ExecutorEventMessage struct {
	Data string `json:"data" pb:"1,req,b64"`
}
