package core

import (
	"hash/maphash"
	"strings"
	"time"

	"corral/kernel/mesos"
)

// Fingerprint identifies what the cluster page shows: it changes when
// an agent, framework, task or offer comes, goes or changes state, and not
// on heartbeats.
type Fingerprint struct {
	Agents     int    `json:"agents"`
	Frameworks int    `json:"frameworks"`
	Tasks      int    `json:"tasks"`
	Offers     int    `json:"offers"`
	sum        uint64 // order-independent hash of the parts
}

type agentPrint struct {
	id          string
	status      agentStatus
	connected   bool
	info        uint64
	deactivated bool
	drain       string
	maintenance int64 // the window's start, 0 when none
}

type frameworkPrint struct {
	id, name, webui string
	state           frameworkState
	roles           string
	suppressed      int
}

type completedPrint struct{ id string }

type taskPrint struct {
	framework, id, agent string
	state                mesos.TaskState
	healthy              int8
}

// Fingerprint summarizes the state for the console, in time linear in
// agents, tasks and offers, without allocating per item. Equal states
// give equal fingerprints for one seed.
func (c *Core) Fingerprint(seed maphash.Seed) Fingerprint {
	var fp Fingerprint
	for _, a := range c.agents {
		fp.Agents++
		p := agentPrint{id: a.id, status: a.status, connected: a.conn != "", info: maphash.Bytes(seed, a.admitted), deactivated: a.deactivated}
		if a.drain != nil {
			p.drain = a.drain.State
		}
		if len(c.maint.Windows) > 0 {
			if w := c.maintenanceWindow(a); w != nil {
				p.maintenance = w.Start.UnixNano()
			}
		}
		fp.sum += maphash.Comparable(seed, p)
	}
	hashFramework := func(f *framework) {
		fp.Frameworks++
		fp.sum += maphash.Comparable(seed, frameworkPrint{id: f.id, name: f.info.Name, webui: f.info.WebuiURL, state: f.state,
			roles: strings.Join(f.roles, ","), suppressed: len(f.suppressed)})
		for _, t := range f.tasks {
			fp.Tasks++
			var h int8
			if t.status.Healthy != nil {
				h = 1
				if *t.status.Healthy {
					h = 2
				}
			}
			fp.sum += maphash.Comparable(seed, taskPrint{framework: f.id, id: t.info.TaskID.Value, agent: t.agentID, state: t.state, healthy: h})
		}
		// Terminal tasks leave f.tasks for f.completed; its length tells.
		fp.sum += uint64(len(f.completed)) * 0x9e3779b97f4a7c15
	}
	for _, f := range c.frameworks {
		hashFramework(f)
	}
	for _, f := range c.completed {
		fp.sum += maphash.Comparable(seed, completedPrint{id: f.id})
	}
	for id := range c.offers {
		fp.Offers++
		fp.sum += maphash.Comparable(seed, id)
	}
	return fp
}

// FrameworkMatch is what the console's proxy needs of a framework.
type FrameworkMatch struct {
	ID, Name, WebuiURL string
	Connected          bool
	RegisteredAt       time.Time
	DisconnectedAt     time.Time // zero if it never disconnected
	FailoverTimeout    time.Duration
}

// FrameworksNamed returns the frameworks whose id or name is name, in no
// particular order.
func (c *Core) FrameworksNamed(name string) []FrameworkMatch {
	var out []FrameworkMatch
	for _, f := range c.frameworks {
		if f.id == name || f.info.Name == name {
			out = append(out, FrameworkMatch{ID: f.id, Name: f.info.Name, WebuiURL: f.info.WebuiURL, Connected: f.state == fwConnected,
				RegisteredAt: f.registeredAt, DisconnectedAt: f.disconnectedAt, FailoverTimeout: f.failoverTimeout})
		}
	}
	return out
}

// AgentEndpoint returns the endpoint an agent registered with, and whether
// the agent is known at all.
func (c *Core) AgentEndpoint(id string) (endpoint string, ok bool) {
	a := c.agents[id]
	if a == nil {
		return "", false
	}
	return a.info.Endpoint, true
}

// Gauges are the master's gauges: agents by status, frameworks by state,
// tasks by state, and outstanding offers. Every status and framework
// state is present, at zero if need be.
type Gauges struct {
	Agents     map[string]int
	Frameworks map[string]int
	Tasks      map[mesos.TaskState]int
	Offers     int
}

// Gauges counts the state for the master's gauges.
func (c *Core) Gauges() Gauges {
	g := Gauges{
		Agents:     map[string]int{"registered": 0, "recovered": 0, "unreachable": 0, "gone": 0},
		Frameworks: map[string]int{RecordActive: 0, RecordDisconnected: 0, RecordRemoved: 0},
		Tasks:      map[mesos.TaskState]int{},
		Offers:     len(c.offers),
	}
	for _, a := range c.agents {
		g.Agents[a.status.String()]++
	}
	for _, f := range c.frameworks {
		g.Frameworks[f.state.String()]++
		for _, t := range f.tasks {
			g.Tasks[t.state]++
		}
	}
	return g
}

// Owner returns the principal a framework registered as ("" when it
// registered without one), and whether the framework is known.
func (c *Core) Owner(id string) (principal string, ok bool) {
	f := c.frameworks[id]
	if f == nil {
		return "", false
	}
	return f.info.Principal, true
}

// TaskSecretRefs is what the master needs to hand a task its secrets.
type TaskSecretRefs struct {
	// Principal is the principal of the task's framework ("" for none).
	Principal string
	// Names are the stored secrets the task references
	// (mesos.TaskInfo.SecretRefs).
	Names []string
}

// TaskSecrets returns the secrets task taskID of framework frameworkID
// references, if that task is launching or running (not terminal) on
// agent agentID and the agent is registered on connection conn; ok is
// false otherwise, whatever the reason, so that an agent learns nothing
// of other agents' tasks. It neither changes the state nor looks at the
// values.
func (c *Core) TaskSecrets(agentID, conn, frameworkID, taskID string) (refs TaskSecretRefs, ok bool) {
	a := c.agents[agentID]
	if a == nil || conn == "" || a.conn != conn || a.status != agentRegistered {
		return TaskSecretRefs{}, false
	}
	f := c.frameworks[frameworkID]
	if f == nil || f.state == fwRemoved {
		return TaskSecretRefs{}, false
	}
	t := f.tasks[taskID]
	if t == nil || t.agentID != agentID || t.state.Terminal() {
		return TaskSecretRefs{}, false
	}
	refs.Principal = f.info.Principal
	refs.Names = t.info.SecretRefs()
	return refs, true
}
