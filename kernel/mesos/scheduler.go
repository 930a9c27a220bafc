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
	FrameworkID     *ID              `json:"framework_id,omitempty" pb:"1"`
	Type            CallType         `json:"type" pb:"2,enum=CallType"`
	Subscribe       *Subscribe       `json:"subscribe,omitempty" pb:"3"`
	Accept          *Accept          `json:"accept,omitempty" pb:"4"`
	Decline         *Decline         `json:"decline,omitempty" pb:"5"`
	Revive          *Revive          `json:"revive,omitempty" pb:"15"`
	Suppress        *Suppress        `json:"suppress,omitempty" pb:"16"`
	Kill            *Kill            `json:"kill,omitempty" pb:"6"`
	Shutdown        *Shutdown        `json:"shutdown,omitempty" pb:"7"`
	Acknowledge     *Acknowledge     `json:"acknowledge,omitempty" pb:"8"`
	Reconcile       *Reconcile       `json:"reconcile,omitempty" pb:"9"`
	Message         *Message         `json:"message,omitempty" pb:"10"`
	Request         *Request         `json:"request,omitempty" pb:"11"`
	UpdateFramework *UpdateFramework `json:"update_framework,omitempty" pb:"19"`

	AcceptInverseOffers  *InverseOfferReply `json:"accept_inverse_offers,omitempty" pb:"13"`
	DeclineInverseOffers *InverseOfferReply `json:"decline_inverse_offers,omitempty" pb:"14"`
}

// InverseOfferReply is Call.AcceptInverseOffers and
// Call.DeclineInverseOffers.
type InverseOfferReply struct {
	InverseOfferIDs []ID     `json:"inverse_offer_ids" pb:"1"`
	Filters         *Filters `json:"filters,omitempty" pb:"2"`
}

// Subscribe is Call.Subscribe.
type Subscribe struct {
	FrameworkInfo   FrameworkInfo `json:"framework_info" pb:"1"`
	SuppressedRoles []string      `json:"suppressed_roles,omitempty" pb:"2"`
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
	TaskInfos []TaskInfo `json:"task_infos" pb:"1"`
}

// Operation is Offer.Operation.
type Operation struct {
	Type   OperationType `json:"type" pb:"1,enum=OperationType"`
	ID     *ID           `json:"id,omitempty" pb:"12"`
	Launch *Launch       `json:"launch,omitempty" pb:"2"`
}

// Accept is Call.Accept.
type Accept struct {
	OfferIDs   []ID        `json:"offer_ids" pb:"1"`
	Operations []Operation `json:"operations,omitempty" pb:"2"`
	Filters    *Filters    `json:"filters,omitempty" pb:"3"`
}

// Decline is Call.Decline.
type Decline struct {
	OfferIDs []ID     `json:"offer_ids" pb:"1"`
	Filters  *Filters `json:"filters,omitempty" pb:"2"`
}

// Revive is Call.Revive; no roles means all of the framework's roles.
type Revive struct {
	Roles []string `json:"roles,omitempty" pb:"1"`
}

// Suppress is Call.Suppress; no roles means all of the framework's roles.
type Suppress struct {
	Roles []string `json:"roles,omitempty" pb:"1"`
}

// Kill is Call.Kill.
type Kill struct {
	TaskID     ID          `json:"task_id" pb:"1"`
	AgentID    *ID         `json:"agent_id,omitempty" pb:"2"`
	KillPolicy *KillPolicy `json:"kill_policy,omitempty" pb:"3"`
}

// Shutdown is Call.Shutdown.
type Shutdown struct {
	ExecutorID ID `json:"executor_id" pb:"1"`
	AgentID    ID `json:"agent_id" pb:"2"`
}

// Acknowledge is Call.Acknowledge; UUID is base64.
type Acknowledge struct {
	AgentID ID     `json:"agent_id" pb:"1"`
	TaskID  ID     `json:"task_id" pb:"2"`
	UUID    string `json:"uuid" pb:"3,req,b64"`
}

// ReconcileTask is one entry of Call.Reconcile.tasks.
type ReconcileTask struct {
	TaskID  ID  `json:"task_id" pb:"1"`
	AgentID *ID `json:"agent_id,omitempty" pb:"2"`
}

// Reconcile is Call.Reconcile; an empty list asks for implicit
// reconciliation.
type Reconcile struct {
	Tasks []ReconcileTask `json:"tasks,omitempty" pb:"1"`
}

// Message is Call.Message and Event.Message; Data is base64.
type Message struct {
	AgentID    ID     `json:"agent_id" pb:"1"`
	ExecutorID ID     `json:"executor_id" pb:"2"`
	Data       string `json:"data" pb:"3,req,b64"`
}

// Request is Call.Request; accepted and ignored, as by Mesos' allocator.
type Request struct {
	Requests []struct {
		AgentID   *ID        `json:"agent_id,omitempty" pb:"1"`
		Resources []Resource `json:"resources,omitempty" pb:"2"`
	} `json:"requests" pb:"1"`
}

// UpdateFramework is Call.UpdateFramework.
type UpdateFramework struct {
	FrameworkInfo   FrameworkInfo `json:"framework_info" pb:"1"`
	SuppressedRoles []string      `json:"suppressed_roles,omitempty" pb:"2"`
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

	EventInverseOffers       EventType = "INVERSE_OFFERS"
	EventRescindInverseOffer EventType = "RESCIND_INVERSE_OFFER"
)

// Event is the scheduler Event message: one RecordIO record of the
// SUBSCRIBE stream.
type Event struct {
	Type       EventType   `json:"type" pb:"1,enum=EventType"`
	Subscribed *Subscribed `json:"subscribed,omitempty" pb:"2"`
	Offers     *Offers     `json:"offers,omitempty" pb:"3"`
	Rescind    *Rescind    `json:"rescind,omitempty" pb:"4"`
	Update     *Update     `json:"update,omitempty" pb:"5"`
	Message    *Message    `json:"message,omitempty" pb:"6"`
	Failure    *Failure    `json:"failure,omitempty" pb:"7"`
	Error      *Error      `json:"error,omitempty" pb:"8"`

	InverseOffers       *InverseOffers       `json:"inverse_offers,omitempty" pb:"9"`
	RescindInverseOffer *RescindInverseOffer `json:"rescind_inverse_offer,omitempty" pb:"10"`
}

// InverseOffers is Event.InverseOffers.
type InverseOffers struct {
	InverseOffers []InverseOffer `json:"inverse_offers" pb:"1"`
}

// RescindInverseOffer is Event.RescindInverseOffer.
type RescindInverseOffer struct {
	InverseOfferID ID `json:"inverse_offer_id" pb:"1"`
}

// Subscribed is Event.Subscribed.
type Subscribed struct {
	FrameworkID              ID          `json:"framework_id" pb:"1"`
	HeartbeatIntervalSeconds Float       `json:"heartbeat_interval_seconds,omitempty" pb:"2"`
	MasterInfo               *MasterInfo `json:"master_info,omitempty" pb:"3"`
}

// Offers is Event.Offers; note the offers.offers[] nesting of the proto.
type Offers struct {
	Offers []Offer `json:"offers" pb:"1"`
}

// Rescind is Event.Rescind.
type Rescind struct {
	OfferID ID `json:"offer_id" pb:"1"`
}

// Update is Event.Update.
type Update struct {
	Status TaskStatus `json:"status" pb:"1"`
}

// Failure is Event.Failure: an agent was removed (AgentID only) or an
// executor exited (with ExecutorID and Status).
type Failure struct {
	AgentID    *ID  `json:"agent_id,omitempty" pb:"1"`
	ExecutorID *ID  `json:"executor_id,omitempty" pb:"2"`
	Status     *Int `json:"status,omitempty" pb:"3"`
}

// Error is Event.Error.
type Error struct {
	Message string `json:"message" pb:"1,req"`
}
