package mesos

// CallType is the scheduler Call.Type enum.
type CallType string

// Scheduler call types.
const (
	CallUnknown                    CallType = "UNKNOWN"
	CallSubscribe                  CallType = "SUBSCRIBE"
	CallTeardown                   CallType = "TEARDOWN"
	CallAccept                     CallType = "ACCEPT"
	CallDecline                    CallType = "DECLINE"
	CallAcceptInverseOffers        CallType = "ACCEPT_INVERSE_OFFERS"
	CallDeclineInverseOffers       CallType = "DECLINE_INVERSE_OFFERS"
	CallRevive                     CallType = "REVIVE"
	CallKill                       CallType = "KILL"
	CallShutdown                   CallType = "SHUTDOWN"
	CallAcknowledge                CallType = "ACKNOWLEDGE"
	CallAcknowledgeOperationStatus CallType = "ACKNOWLEDGE_OPERATION_STATUS"
	CallReconcile                  CallType = "RECONCILE"
	CallReconcileOperations        CallType = "RECONCILE_OPERATIONS"
	CallMessage                    CallType = "MESSAGE"
	CallRequest                    CallType = "REQUEST"
	CallSuppress                   CallType = "SUPPRESS"
	CallUpdateFramework            CallType = "UPDATE_FRAMEWORK"
)

// Call is the scheduler Call message: the body of POST /api/v1/scheduler.
type Call struct {
	FrameworkID     *ID              `json:"framework_id,omitempty"`
	Type            CallType         `json:"type"`
	Subscribe       *Subscribe       `json:"subscribe,omitempty"`
	Accept          *Accept          `json:"accept,omitempty"`
	Decline         *Decline         `json:"decline,omitempty"`
	Revive          *Revive          `json:"revive,omitempty"`
	Suppress        *Suppress        `json:"suppress,omitempty"`
	Kill            *Kill            `json:"kill,omitempty"`
	Shutdown        *Shutdown        `json:"shutdown,omitempty"`
	Acknowledge     *Acknowledge     `json:"acknowledge,omitempty"`
	Reconcile       *Reconcile       `json:"reconcile,omitempty"`
	Message         *Message         `json:"message,omitempty"`
	Request         *Request         `json:"request,omitempty"`
	UpdateFramework *UpdateFramework `json:"update_framework,omitempty"`
}

// Subscribe is Call.Subscribe.
type Subscribe struct {
	FrameworkInfo   FrameworkInfo `json:"framework_info"`
	SuppressedRoles []string      `json:"suppressed_roles,omitempty"`
}

// OperationType is Offer.Operation.Type.
type OperationType string

// Offer operation types. Only LAUNCH is supported by corral; the others are
// answered with an error naming them.
const (
	OpLaunch      OperationType = "LAUNCH"
	OpLaunchGroup OperationType = "LAUNCH_GROUP"
	OpReserve     OperationType = "RESERVE"
	OpUnreserve   OperationType = "UNRESERVE"
	OpCreate      OperationType = "CREATE"
	OpDestroy     OperationType = "DESTROY"
)

// Launch is Offer.Operation.Launch.
type Launch struct {
	TaskInfos []TaskInfo `json:"task_infos"`
}

// Operation is Offer.Operation.
type Operation struct {
	Type   OperationType `json:"type"`
	ID     *ID           `json:"id,omitempty"`
	Launch *Launch       `json:"launch,omitempty"`
}

// Accept is Call.Accept.
type Accept struct {
	OfferIDs   []ID        `json:"offer_ids"`
	Operations []Operation `json:"operations,omitempty"`
	Filters    *Filters    `json:"filters,omitempty"`
}

// Decline is Call.Decline.
type Decline struct {
	OfferIDs []ID     `json:"offer_ids"`
	Filters  *Filters `json:"filters,omitempty"`
}

// Revive is Call.Revive; no roles means all of the framework's roles.
type Revive struct {
	Roles []string `json:"roles,omitempty"`
}

// Suppress is Call.Suppress; no roles means all of the framework's roles.
type Suppress struct {
	Roles []string `json:"roles,omitempty"`
}

// Kill is Call.Kill.
type Kill struct {
	TaskID     ID          `json:"task_id"`
	AgentID    *ID         `json:"agent_id,omitempty"`
	KillPolicy *KillPolicy `json:"kill_policy,omitempty"`
}

// Shutdown is Call.Shutdown.
type Shutdown struct {
	ExecutorID ID `json:"executor_id"`
	AgentID    ID `json:"agent_id"`
}

// Acknowledge is Call.Acknowledge; UUID is base64.
type Acknowledge struct {
	AgentID ID     `json:"agent_id"`
	TaskID  ID     `json:"task_id"`
	UUID    string `json:"uuid"`
}

// ReconcileTask is one entry of Call.Reconcile.tasks.
type ReconcileTask struct {
	TaskID  ID  `json:"task_id"`
	AgentID *ID `json:"agent_id,omitempty"`
}

// Reconcile is Call.Reconcile; an empty list asks for implicit
// reconciliation.
type Reconcile struct {
	Tasks []ReconcileTask `json:"tasks,omitempty"`
}

// Message is Call.Message and Event.Message; Data is base64.
type Message struct {
	AgentID    ID     `json:"agent_id"`
	ExecutorID ID     `json:"executor_id"`
	Data       string `json:"data"`
}

// Request is Call.Request; accepted and ignored, as by Mesos' allocator.
type Request struct {
	Requests []struct {
		AgentID   *ID        `json:"agent_id,omitempty"`
		Resources []Resource `json:"resources,omitempty"`
	} `json:"requests"`
}

// UpdateFramework is Call.UpdateFramework.
type UpdateFramework struct {
	FrameworkInfo   FrameworkInfo `json:"framework_info"`
	SuppressedRoles []string      `json:"suppressed_roles,omitempty"`
}

// EventType is the scheduler Event.Type enum.
type EventType string

// Scheduler event types.
const (
	EventSubscribed EventType = "SUBSCRIBED"
	EventOffers     EventType = "OFFERS"
	EventRescind    EventType = "RESCIND"
	EventUpdate     EventType = "UPDATE"
	EventMessage    EventType = "MESSAGE"
	EventFailure    EventType = "FAILURE"
	EventError      EventType = "ERROR"
	EventHeartbeat  EventType = "HEARTBEAT"
)

// Event is the scheduler Event message: one RecordIO record of the
// SUBSCRIBE stream.
type Event struct {
	Type       EventType   `json:"type"`
	Subscribed *Subscribed `json:"subscribed,omitempty"`
	Offers     *Offers     `json:"offers,omitempty"`
	Rescind    *Rescind    `json:"rescind,omitempty"`
	Update     *Update     `json:"update,omitempty"`
	Message    *Message    `json:"message,omitempty"`
	Failure    *Failure    `json:"failure,omitempty"`
	Error      *Error      `json:"error,omitempty"`
}

// Subscribed is Event.Subscribed.
type Subscribed struct {
	FrameworkID              ID          `json:"framework_id"`
	HeartbeatIntervalSeconds Float       `json:"heartbeat_interval_seconds,omitempty"`
	MasterInfo               *MasterInfo `json:"master_info,omitempty"`
}

// Offers is Event.Offers; note the offers.offers[] nesting of the proto.
type Offers struct {
	Offers []Offer `json:"offers"`
}

// Rescind is Event.Rescind.
type Rescind struct {
	OfferID ID `json:"offer_id"`
}

// Update is Event.Update.
type Update struct {
	Status TaskStatus `json:"status"`
}

// Failure is Event.Failure: an agent was removed (AgentID only) or an
// executor exited (with ExecutorID and Status).
type Failure struct {
	AgentID    *ID  `json:"agent_id,omitempty"`
	ExecutorID *ID  `json:"executor_id,omitempty"`
	Status     *Int `json:"status,omitempty"`
}

// Error is Event.Error.
type Error struct {
	Message string `json:"message"`
}
