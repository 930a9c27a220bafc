package core

import (
	"encoding/json"
	"fmt"
	"time"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// Effects is what one step of the core decided should happen outside it.
// The shell applies a step's effects before it starts the next step, in
// this order: Writes to the registrar, then Frameworks and Agents events
// onto their streams, then Counts and Logs. Within each list the order is
// the core's and matters: writes become durable in the order of the steps
// and of the list, and each stream's events are queued in order.
//
// Events do not wait for writes to become durable: the master keeps
// serving while Postgres is away. The one write that must be durable
// before anyone hears of it, an agent's admission, is not an effect:
// RegisterCheck returns it for the shell to await before Register.
type Effects struct {
	// Writes are registry writes. They are not awaited: the core has
	// already moved on, and a write that fails is retried by the shell
	// until it succeeds or the term ends.
	Writes []Write
	// Frameworks are events for SUBSCRIBE streams.
	Frameworks []FrameworkSend
	// Agents are events for agents' REGISTER streams.
	Agents []AgentSend
	// Counts are increments of the master's counters.
	Counts Counts
	// Logs are lines for the master's log.
	Logs []Log
	// Operator are events for the operator API's subscribers (only while
	// WatchOperator is on).
	Operator []OperatorEvent
}

// FrameworkSend is an event for one SUBSCRIBE stream, or its end.
type FrameworkSend struct {
	Framework string // the framework's id, for logs and traces
	// Stream is the stream's Mesos-Stream-Id, as the shell named it when
	// the framework subscribed.
	Stream string
	Event  *mesos.Event // nil when the send only closes the stream
	// Close ends the stream once Event and everything queued before it
	// are written.
	Close bool
}

// AgentSend is an event for one agent connection, or its end.
type AgentSend struct {
	Agent string // the agent's id, for logs and traces
	// Conn is the connection id the shell gave the REGISTER stream.
	Conn  string
	Event *agentproto.Event // nil when the send only closes the stream
	// Close ends the stream once Event and everything queued before it
	// are written.
	Close bool
}

// Counts are increments of the master's counters from one step. (Events
// sent are counted by the shell as it queues them.)
type Counts struct {
	// StatusUpdates holds the state of each status update received from
	// agents.
	StatusUpdates []mesos.TaskState
	// TasksLaunched is the number of tasks sent to agents for launch.
	TasksLaunched int
}

// Level is the importance of a Log line.
type Level int

// The levels of log lines.
const (
	LevelInfo Level = iota
	LevelWarn
	LevelDebug
)

// String returns the level's name.
func (l Level) String() string {
	switch l {
	case LevelWarn:
		return "warn"
	case LevelDebug:
		return "debug"
	}
	return "info"
}

// Log is a line for the master's log: a message and slog-style key-value
// pairs.
type Log struct {
	Level Level
	Msg   string
	Args  []any
}

// Write is a registry write: one of AdmitAgent, MarkAgentUnreachable and
// PutFramework.
type Write interface {
	// String says what is written, for logs and traces.
	String() string
	isWrite()
}

// AdmitAgent records an agent as admitted, with its info.
type AdmitAgent struct {
	ID, Hostname string
	Info         json.RawMessage // the agent's info as the core encodes it
}

// MarkAgentUnreachable records that an agent became unreachable at At.
type MarkAgentUnreachable struct {
	ID string
	At time.Time
}

// PutFramework records a framework's state, replacing what was recorded.
type PutFramework struct {
	Framework FrameworkRecord
}

func (AdmitAgent) isWrite()           {}
func (MarkAgentUnreachable) isWrite() {}
func (PutFramework) isWrite()         {}

func (w AdmitAgent) String() string { return "admit agent " + w.ID }
func (w MarkAgentUnreachable) String() string {
	return "agent unreachable " + w.ID
}
func (w PutFramework) String() string {
	return fmt.Sprintf("framework %s %s", w.Framework.ID, w.Framework.State)
}
