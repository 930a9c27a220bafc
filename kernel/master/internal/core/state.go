package core

import (
	"time"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// agent is the master's record of one agent.
type agent struct {
	id         string
	info       agentproto.AgentInfo
	total      resource.Resources
	attributes []mesos.Attribute
	// url and offerAttrs are what every offer on the agent carries as
	// its url and attributes, made once from info by setInfo (not per
	// offer per cycle). Offers share them: they are never modified.
	url        *mesos.URL
	offerAttrs []mesos.Attribute
	status     agentStatus
	// conn is the live REGISTER stream's connection id, "" when
	// disconnected.
	conn string
	// lastSeen is when the agent last heartbeated or (re-)registered.
	lastSeen        time.Time
	registeredAt    time.Time
	unreachableAt   time.Time
	reregisterUntil time.Time            // for agentRecovered
	tasks           map[string]*task     // by task id
	executors       map[string]*executor // by execKey
	// deactivated agents get no offers; drain is set while and after
	// they are drained (both persisted: PutAgentDrain).
	deactivated bool
	drain       *DrainInfo
	// drainKilled are the tasks a drain has sent the kill of on the
	// current connection.
	drainKilled map[string]bool
	// inverse is nil until the agent is first unavailable.
	inverse *inverseState
	// admitted is the agent's info (as json.Marshal encodes it) that the
	// registry holds with the agent admitted; nil when unknown.
	admitted []byte
}

// agentStatus is where the master stands with an agent.
type agentStatus int

const (
	agentUnknown     agentStatus = iota
	agentRecovered               // in the registry, not yet re-registered after this master started
	agentRegistered              // admitted and connected (or within its ping window)
	agentUnreachable             // marked unreachable
	agentGone                    // marked gone by an operator
)

// String is the status as /state and the metrics name it.
func (s agentStatus) String() string {
	switch s {
	case agentRegistered:
		return "registered"
	case agentRecovered:
		return "recovered"
	case agentUnreachable:
		return "unreachable"
	case agentGone:
		return "gone"
	}
	return "unknown"
}

// task is the master's record of one task.
type task struct {
	frameworkID string
	agentID     string
	info        mesos.TaskInfo
	role        string
	resources   resource.Resources
	// summary is resources as /state shows them, made on first use
	// (resources never change) and shared, read-only, by every Snapshot.
	summary ResourceSummary
	// wire is resources as the operator API shows them, made on first
	// use and shared, read-only, by every OpTask in the same way.
	wire []mesos.Resource
	// state is the latest state known on the agent.
	state mesos.TaskState
	// status is the latest status seen (for reconciliation).
	status mesos.TaskStatus
	// forwarded is the last update forwarded to the framework and not yet
	// acknowledged; it is sent again when the framework re-subscribes.
	forwarded *mesos.TaskStatus
	// statusUpdateState is the (untranslated) state of that update.
	statusUpdateState mesos.TaskState
	// recovered is set once the task's resources went back to the allocator.
	recovered bool
	// killRequested remembers a KILL for an agent that is not connected.
	killRequested bool
	startedAt     time.Time
}

// frameworkState is a framework's lifecycle state.
type frameworkState int

const (
	fwConnected frameworkState = iota
	fwDisconnected
	fwRemoved
)

// String is the state in the registry's and /state's words.
func (s frameworkState) String() string {
	switch s {
	case fwConnected:
		return RecordActive
	case fwDisconnected:
		return RecordDisconnected
	default:
		return RecordRemoved
	}
}

// framework is the master's record of one framework.
type framework struct {
	id         string
	info       mesos.FrameworkInfo
	roles      []string
	suppressed map[string]bool
	state      frameworkState
	// stream is the SUBSCRIBE stream's id, "" when there is none.
	stream          string
	registeredAt    time.Time
	disconnectedAt  time.Time
	removedAt       time.Time
	failoverTimeout time.Duration
	// graceUntil keeps a framework that this master only learned of (from
	// the registry or an agent) from being removed before it had a chance
	// to re-subscribe.
	graceUntil time.Time
	tasks      map[string]*task
	completed  []*task // ring of terminal tasks, newest last
	offers     map[string]*offer
}

func (f *framework) partitionAware() bool { return f.info.HasCapability(mesos.CapPartitionAware) }

func (f *framework) hasRole(r string) bool {
	for _, x := range f.roles {
		if x == r {
			return true
		}
	}
	return false
}

// offer is an outstanding offer.
type offer struct {
	id          string
	frameworkID string
	agentID     string
	role        string
	resources   resource.Resources
	createdAt   time.Time
}
