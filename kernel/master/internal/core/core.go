package core

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"corral/kernel/allocator"
	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// Config is what the core needs to know of the master's configuration.
type Config struct {
	// RunID prefixes the ids the core makes (frameworks, agents, offers).
	RunID string
	// MasterInfo goes to frameworks in SUBSCRIBED.
	MasterInfo mesos.MasterInfo
	// AgentPingInterval is how often agents must heartbeat.
	AgentPingInterval time.Duration
	// MaxAgentPingTimeouts is how many missed heartbeats make an agent
	// unreachable.
	MaxAgentPingTimeouts int
	// AgentReregisterTimeout is how long agents known to the registry have
	// to re-register after Restore.
	AgentReregisterTimeout time.Duration
	// FrameworkHeartbeatInterval is announced in SUBSCRIBED.
	FrameworkHeartbeatInterval time.Duration
	// OfferTimeout rescinds offers outstanding longer than this; 0 = never.
	OfferTimeout time.Duration
	// DefaultRefuseSeconds applies when ACCEPT/DECLINE carry no filters.
	DefaultRefuseSeconds float64
	// MaxCompletedTasksPerFramework bounds the terminal tasks kept for
	// Snapshot.
	MaxCompletedTasksPerFramework int
	// Allocator configures the allocator the core owns.
	Allocator allocator.Config
	// AuthorizeTask decides whether a framework's principal may launch a
	// task as an OS user (the task's command user, else the framework's);
	// a refusal answers the task TASK_ERROR, REASON_TASK_UNAUTHORIZED,
	// with the error as its message. Nil allows every task. It must be a
	// pure function.
	AuthorizeTask func(principal, user string) error
	// AuthorizeSecret decides whether a framework's principal may give a
	// task the stored secret name (use_secrets); a refusal answers the
	// task like AuthorizeTask's. Nil allows every secret. Pure.
	AuthorizeSecret func(principal, name string) error
}

// Core is the master's cluster state and the decisions about it. It is
// not safe for concurrent use: one goroutine (the master's loop) owns it.
// Its methods do no I/O, read no clock and start no goroutines; those
// that change something return the Effects for the shell to apply.
type Core struct {
	cfg        Config
	alloc      *allocator.Allocator
	agents     map[string]*agent
	frameworks map[string]*framework
	offers     map[string]*offer
	inverse    map[string]*inverseOffer // outstanding inverse offers by id
	maint      Maintenance
	weights    map[string]float64
	quotas     map[string]allocator.Quota
	dirty      map[string]bool // agents to allocate for at the end of this batch
	seq        int64
	// removedIDs are frameworks torn down for good: they may never
	// subscribe again and their tasks are killed wherever they show up.
	removedIDs map[string]bool
	// completed keeps the last maxCompletedFrameworks removed frameworks
	// for Snapshot.
	completed []*framework
	// fx collects the effects of the step under way; take hands them out.
	fx Effects
	// opWatch is set while the operator API has subscribers.
	opWatch bool
}

// maxCompletedFrameworks bounds the removed frameworks kept for Snapshot.
const maxCompletedFrameworks = 50

// New returns an empty core for cfg.
func New(cfg Config) *Core {
	return &Core{
		cfg:        cfg,
		alloc:      allocator.New(cfg.Allocator),
		agents:     map[string]*agent{},
		frameworks: map[string]*framework{},
		offers:     map[string]*offer{},
		inverse:    map[string]*inverseOffer{},
		weights:    map[string]float64{},
		quotas:     map[string]allocator.Quota{},
		dirty:      map[string]bool{},
		removedIDs: map[string]bool{},
	}
}

// take returns the effects collected so far and starts a new collection.
func (c *Core) take() Effects {
	fx := c.fx
	c.fx = Effects{}
	return fx
}

func (c *Core) nextID(kind string) string {
	c.seq++
	return fmt.Sprintf("%s-%s%04d", c.cfg.RunID, kind, c.seq)
}

// The registry's words for agent and framework states.
const (
	RecordAdmitted     = "admitted"
	RecordUnreachable  = "unreachable"
	RecordGone         = "gone"
	RecordActive       = "active"
	RecordDisconnected = "disconnected"
	RecordRemoved      = "removed"
)

// AgentRecord is an agent as the registry keeps it.
type AgentRecord struct {
	ID string
	// Info is the agent's info (agentproto.AgentInfo) as JSON.
	Info json.RawMessage
	// State is RecordAdmitted, RecordUnreachable or RecordGone.
	State            string
	RegisteredAt     time.Time
	UnreachableSince *time.Time
	// Deactivated and Drain are what DeactivateAgent and DrainAgent
	// recorded (PutAgentDrain).
	Deactivated bool
	Drain       *DrainInfo
}

// FrameworkRecord is a framework as the registry keeps it.
type FrameworkRecord struct {
	ID string
	// Info is the framework's mesos.FrameworkInfo as JSON.
	Info json.RawMessage
	// State is RecordActive, RecordDisconnected or RecordRemoved.
	State           string
	FailoverTimeout time.Duration
	RegisteredAt    time.Time
	DisconnectedAt  *time.Time
	RemovedAt       *time.Time
}

// Restore installs the registry read when a term begins: admitted agents
// become "recovered" (they have AgentReregisterTimeout to come back),
// unreachable and gone agents keep their state; frameworks come back
// disconnected with their failover timeout still running from when they
// disconnected. Call it once, on a new core.
func (c *Core) Restore(agents []AgentRecord, fws []FrameworkRecord, weights map[string]float64, now time.Time) {
	for role, w := range weights {
		c.weights[role] = w
		c.alloc.SetWeight(role, w)
	}
	for _, ra := range agents {
		a := &agent{id: ra.ID, tasks: map[string]*task{}, executors: map[string]*executor{}, registeredAt: ra.RegisteredAt}
		var info agentproto.AgentInfo
		_ = json.Unmarshal(ra.Info, &info)
		a.setInfo(info)
		a.deactivated, a.drain = ra.Deactivated, ra.Drain
		if d := a.drain; d != nil && d.State == DrainDraining && d.StartedAt.IsZero() {
			d.StartedAt = now // recorded before drains kept their start: its deadline runs from here
		}
		switch ra.State {
		case RecordAdmitted:
			a.status = agentRecovered
			a.reregisterUntil = now.Add(c.cfg.AgentReregisterTimeout)
			a.admitted, _ = json.Marshal(a.info)
		case RecordUnreachable:
			a.status = agentUnreachable
			if ra.UnreachableSince != nil {
				a.unreachableAt = *ra.UnreachableSince
			}
		default:
			a.status = agentGone
		}
		c.agents[a.id] = a
	}
	for _, rf := range fws {
		f := &framework{id: rf.ID, tasks: map[string]*task{}, offers: map[string]*offer{}, suppressed: map[string]bool{},
			registeredAt: rf.RegisteredAt, failoverTimeout: rf.FailoverTimeout}
		_ = json.Unmarshal(rf.Info, &f.info)
		f.roles = f.info.EffectiveRoles()
		switch rf.State {
		case RecordRemoved:
			f.state = fwRemoved
			if rf.RemovedAt != nil {
				f.removedAt = *rf.RemovedAt
			}
			c.removedIDs[f.id] = true
			c.keepCompleted(f)
			continue
		default:
			f.state = fwDisconnected
			f.disconnectedAt = now
			if rf.DisconnectedAt != nil {
				f.disconnectedAt = *rf.DisconnectedAt
			} else {
				// It was connected when the last master stopped: that is a
				// master failover, not a framework failure. Give it as long
				// as agents get to come back before its timeout can fire.
				f.graceUntil = now.Add(c.cfg.AgentReregisterTimeout)
			}
			c.alloc.AddFramework(f.id, f.roles, nil)
			c.alloc.SetFrameworkActive(f.id, false)
		}
		c.frameworks[f.id] = f
	}
}

// Weights returns a copy of the role weights set at runtime.
func (c *Core) Weights() map[string]float64 { return maps.Clone(c.weights) }

// SetWeight sets a role's weight. The shell has made it durable first.
func (c *Core) SetWeight(role string, w float64) {
	c.weights[role] = w
	c.alloc.SetWeight(role, w)
}

// --- effects ----------------------------------------------------------------

// sendFramework queues an event on a framework's stream, if connected.
func (c *Core) sendFramework(f *framework, ev *mesos.Event) bool {
	if f.state != fwConnected || f.stream == "" {
		return false
	}
	c.fx.Frameworks = append(c.fx.Frameworks, FrameworkSend{Framework: f.id, Stream: f.stream, Event: ev})
	return true
}

// closeFramework ends a framework's stream, after ev if ev is not nil.
func (c *Core) closeFramework(f *framework, ev *mesos.Event) {
	c.fx.Frameworks = append(c.fx.Frameworks, FrameworkSend{Framework: f.id, Stream: f.stream, Event: ev, Close: true})
	f.stream = ""
}

// sendAgent queues an event on an agent's stream, if connected.
func (c *Core) sendAgent(a *agent, ev *agentproto.Event) bool {
	if a.conn == "" {
		return false
	}
	c.fx.Agents = append(c.fx.Agents, AgentSend{Agent: a.id, Conn: a.conn, Event: ev})
	return true
}

// closeAgent ends an agent's stream.
func (c *Core) closeAgent(a *agent) {
	c.fx.Agents = append(c.fx.Agents, AgentSend{Agent: a.id, Conn: a.conn, Close: true})
	a.conn = ""
}

func (c *Core) write(w Write) { c.fx.Writes = append(c.fx.Writes, w) }

func (c *Core) log(level Level, msg string, args ...any) {
	c.fx.Logs = append(c.fx.Logs, Log{Level: level, Msg: msg, Args: args})
}

// statusFromMaster builds a master-generated status update. It carries no
// uuid: the framework must not acknowledge it.
func (c *Core) statusFromMaster(f *framework, taskID, agentID string, st mesos.TaskState, reason, msg string, now time.Time) mesos.TaskStatus {
	s := mesos.TaskStatus{
		TaskID:    mesos.ID{Value: taskID},
		State:     stateFor(st, f.partitionAware()),
		Source:    mesos.SourceMaster,
		Reason:    reason,
		Message:   msg,
		Timestamp: timestamp(now),
	}
	if agentID != "" {
		s.AgentID = &mesos.ID{Value: agentID}
	}
	return s
}

// timestamp is t as TaskStatus.timestamp: seconds since the epoch.
func timestamp(t time.Time) mesos.Float { return mesos.Float(float64(t.UnixNano()) / 1e9) }

func (c *Core) sendUpdate(f *framework, s mesos.TaskStatus) bool {
	return c.sendFramework(f, &mesos.Event{Type: mesos.EventUpdate, Update: &mesos.Update{Status: s}})
}

// sortedKeys returns m's keys in order, so that what the core decides
// while walking a map does not depend on Go's map order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
