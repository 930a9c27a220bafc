package core

import (
	"net/url"
	"sort"
	"strconv"
	"time"

	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// The cluster in the shapes of Mesos' v1 operator API (master.proto's
// Response.GetAgents, GetFrameworks, GetTasks, GetExecutors, GetRoles),
// for its JSON and protobuf forms alike: the json tags carry the proto
// field names, the pb tags their numbers (see package mesospb). The
// fields tagged json:"-" are for the shell's authorization filter and
// are in neither form.

// OpAgentInfo is an AgentInfo.
type OpAgentInfo struct {
	ID         mesos.ID          `json:"id" pb:"6"`
	Hostname   string            `json:"hostname" pb:"1,req"`
	Port       int               `json:"port,omitempty" pb:"8"`
	Resources  []mesos.Resource  `json:"resources" pb:"3"`
	Attributes []mesos.Attribute `json:"attributes,omitempty" pb:"5"`
}

// OpAgent is a Response.GetAgents.Agent.
type OpAgent struct {
	AgentInfo          OpAgentInfo      `json:"agent_info" pb:"1"`
	Active             bool             `json:"active" pb:"2,req"`
	Deactivated        bool             `json:"deactivated" pb:"12"`
	Version            string           `json:"version,omitempty" pb:"3,req"`
	PID                string           `json:"pid,omitempty" pb:"4"`
	RegisteredTime     *mesos.TimeInfo  `json:"registered_time,omitempty" pb:"5"`
	TotalResources     []mesos.Resource `json:"total_resources" pb:"7"`
	AllocatedResources []mesos.Resource `json:"allocated_resources" pb:"8"`
	OfferedResources   []mesos.Resource `json:"offered_resources" pb:"9"`
	DrainInfo          *DrainInfoView   `json:"drain_info,omitempty" pb:"13"`
}

// OpFramework is a Response.GetFrameworks.Framework.
type OpFramework struct {
	FrameworkInfo      mesos.FrameworkInfo `json:"framework_info" pb:"1"`
	Active             bool                `json:"active" pb:"2,req"`
	Connected          bool                `json:"connected" pb:"3,req"`
	Recovered          bool                `json:"recovered" pb:"11,req"`
	RegisteredTime     *mesos.TimeInfo     `json:"registered_time,omitempty" pb:"4"`
	UnregisteredTime   *mesos.TimeInfo     `json:"unregistered_time,omitempty" pb:"6"`
	AllocatedResources []mesos.Resource    `json:"allocated_resources" pb:"9"`
	OfferedResources   []mesos.Resource    `json:"offered_resources" pb:"10"`
}

// OpTask is a Task.
type OpTask struct {
	Name        string             `json:"name" pb:"1,req"`
	TaskID      mesos.ID           `json:"task_id" pb:"2"`
	FrameworkID mesos.ID           `json:"framework_id" pb:"3"`
	ExecutorID  *mesos.ID          `json:"executor_id,omitempty" pb:"4"`
	AgentID     mesos.ID           `json:"agent_id" pb:"5"`
	State       mesos.TaskState    `json:"state" pb:"6,req,enum=TaskState"`
	Resources   []mesos.Resource   `json:"resources" pb:"7"`
	Statuses    []mesos.TaskStatus `json:"statuses" pb:"8"`
	Labels      *mesos.Labels      `json:"labels,omitempty" pb:"11"`
	// User is who the task runs as, for view_tasks.
	User string `json:"-"`
}

// OpExecutor is a Response.GetExecutors.Executor.
type OpExecutor struct {
	ExecutorInfo mesos.ExecutorInfo `json:"executor_info" pb:"1"`
	AgentID      mesos.ID           `json:"agent_id" pb:"2"`
	User         string             `json:"-"`
}

// OpRole is a Role.
type OpRole struct {
	Name       string           `json:"name" pb:"1,req"`
	Weight     float64          `json:"weight" pb:"2,req"`
	Frameworks []mesos.ID       `json:"frameworks" pb:"3"`
	Resources  []mesos.Resource `json:"resources" pb:"4"`
}

func timeInfo(t time.Time) *mesos.TimeInfo {
	if t.IsZero() {
		return nil
	}
	return &mesos.TimeInfo{Nanoseconds: mesos.Int(t.UnixNano())}
}

func wire(r resource.Resources) []mesos.Resource {
	out := r.Wire("")
	if out == nil {
		out = []mesos.Resource{}
	}
	return out
}

// OpAgents lists the agents: registered (or unreachable) ones, and those
// recovered from the registry that have not re-registered yet.
func (c *Core) OpAgents() (agents []OpAgent, recovered []OpAgentInfo) {
	used := map[string]resource.Resources{}
	offered := map[string]resource.Resources{}
	for _, a := range c.agents {
		for _, t := range a.tasks {
			if !t.state.Terminal() && t.state != mesos.TaskUnreachable {
				used[a.id] = used[a.id].Add(t.resources)
			}
		}
		for _, e := range a.executors {
			used[a.id] = used[a.id].Add(e.resources)
		}
	}
	for _, o := range c.offers {
		offered[o.agentID] = offered[o.agentID].Add(o.resources)
	}
	agents, recovered = []OpAgent{}, []OpAgentInfo{}
	for _, id := range sortedKeys(c.agents) {
		a := c.agents[id]
		switch a.status {
		case agentRecovered:
			recovered = append(recovered, opAgentInfo(a))
		case agentGone:
		default:
			agents = append(agents, opAgent(a, used[id], offered[id]))
		}
	}
	return agents, recovered
}

func opAgentInfo(a *agent) OpAgentInfo {
	info := OpAgentInfo{ID: mesos.ID{Value: a.id}, Hostname: a.info.Hostname, Resources: wire(a.total), Attributes: a.attributes}
	if u, err := url.Parse(a.info.Endpoint); err == nil {
		info.Port, _ = strconv.Atoi(u.Port())
	}
	return info
}

// opAgent is agent a, of which used is allocated and offered offered.
func opAgent(a *agent, used, offered resource.Resources) OpAgent {
	oa := OpAgent{AgentInfo: opAgentInfo(a), Active: a.status == agentRegistered && !a.deactivated, Deactivated: a.deactivated,
		Version: a.info.Version, PID: "slave(1)@" + hostPort(a.info.Endpoint), RegisteredTime: timeInfo(a.registeredAt),
		TotalResources: wire(a.total), AllocatedResources: wire(used), OfferedResources: wire(offered)}
	if d := a.drain; d != nil {
		oa.DrainInfo = &DrainInfoView{State: d.State, Config: DrainConfig{MarkGone: d.MarkGone}}
		if d.MaxGracePeriod != nil {
			oa.DrainInfo.Config.MaxGracePeriod = &mesos.DurationInfo{Nanoseconds: mesos.Int(d.MaxGracePeriod.Nanoseconds())}
		}
	}
	return oa
}

// OpFrameworks lists the frameworks and the removed ones kept.
func (c *Core) OpFrameworks() (frameworks, completed []OpFramework) {
	one := func(f *framework) OpFramework {
		info := f.info
		info.ID = &mesos.ID{Value: f.id}
		var usedR, offR resource.Resources
		for _, t := range f.tasks {
			if !t.state.Terminal() && t.state != mesos.TaskUnreachable {
				usedR = usedR.Add(t.resources)
			}
		}
		for _, a := range c.agents {
			for _, e := range a.executors {
				if e.frameworkID == f.id {
					usedR = usedR.Add(e.resources)
				}
			}
		}
		for _, o := range f.offers {
			offR = offR.Add(o.resources)
		}
		of := OpFramework{FrameworkInfo: info, Active: f.state == fwConnected, Connected: f.state == fwConnected,
			Recovered:      f.state == fwDisconnected && f.stream == "" && !f.graceUntil.IsZero(),
			RegisteredTime: timeInfo(f.registeredAt), AllocatedResources: wire(usedR), OfferedResources: wire(offR)}
		if f.state != fwConnected {
			of.UnregisteredTime = timeInfo(f.disconnectedAt)
		}
		return of
	}
	frameworks, completed = []OpFramework{}, []OpFramework{}
	for _, id := range sortedKeys(c.frameworks) {
		frameworks = append(frameworks, one(c.frameworks[id]))
	}
	for _, f := range c.completed {
		completed = append(completed, one(f))
	}
	return frameworks, completed
}

// opTask is t in the operator API's shape.
func (c *Core) opTask(t *task) OpTask {
	ot := OpTask{Name: t.info.Name, TaskID: t.info.TaskID, FrameworkID: mesos.ID{Value: t.frameworkID}, AgentID: mesos.ID{Value: t.agentID},
		State: t.state, Resources: t.wireResources(), Statuses: []mesos.TaskStatus{}, Labels: t.info.Labels}
	if t.status.State != "" {
		ot.Statuses = append(ot.Statuses, t.status)
	}
	if t.info.Executor != nil {
		id := t.info.Executor.ExecutorID
		ot.ExecutorID = &id
	}
	switch {
	case t.info.Command != nil && t.info.Command.User != "":
		ot.User = t.info.Command.User
	case t.info.Executor != nil && t.info.Executor.Command != nil && t.info.Executor.Command.User != "":
		ot.User = t.info.Executor.Command.User
	default:
		if f := c.frameworks[t.frameworkID]; f != nil {
			ot.User = f.info.User
		}
	}
	return ot
}

// OpTasks lists the live, unreachable and completed tasks.
func (c *Core) OpTasks() (tasks, unreachable, completed []OpTask) {
	tasks, unreachable, completed = []OpTask{}, []OpTask{}, []OpTask{}
	for _, fid := range sortedKeys(c.frameworks) {
		f := c.frameworks[fid]
		for _, tid := range sortedKeys(f.tasks) {
			t := f.tasks[tid]
			switch {
			case t.state == mesos.TaskUnreachable:
				unreachable = append(unreachable, c.opTask(t))
			case t.state.Terminal():
				completed = append(completed, c.opTask(t))
			default:
				tasks = append(tasks, c.opTask(t))
			}
		}
		for _, t := range f.completed {
			completed = append(completed, c.opTask(t))
		}
	}
	return tasks, unreachable, completed
}

// OpExecutors lists the custom executors.
func (c *Core) OpExecutors() []OpExecutor {
	out := []OpExecutor{}
	for _, aid := range sortedKeys(c.agents) {
		a := c.agents[aid]
		for _, k := range sortedKeys(a.executors) {
			e := a.executors[k]
			oe := OpExecutor{ExecutorInfo: e.info, AgentID: mesos.ID{Value: aid}}
			if f := c.frameworks[e.frameworkID]; f != nil {
				oe.User = f.info.User
			}
			if e.info.Command != nil && e.info.Command.User != "" {
				oe.User = e.info.Command.User
			}
			out = append(out, oe)
		}
	}
	return out
}

// OpRoles lists the roles that have frameworks or a weight, with what is
// allocated to each.
func (c *Core) OpRoles() []OpRole {
	roles := map[string]*OpRole{}
	get := func(name string) *OpRole {
		r := roles[name]
		if r == nil {
			r = &OpRole{Name: name, Weight: c.alloc.Weight(name), Frameworks: []mesos.ID{}}
			roles[name] = r
		}
		return r
	}
	for role := range c.weights {
		get(role)
	}
	used := map[string]resource.Resources{}
	for _, fid := range sortedKeys(c.frameworks) {
		f := c.frameworks[fid]
		for _, role := range f.roles {
			r := get(role)
			r.Frameworks = append(r.Frameworks, mesos.ID{Value: fid})
		}
		for _, t := range f.tasks {
			if !t.state.Terminal() && t.state != mesos.TaskUnreachable {
				used[t.role] = used[t.role].Add(t.resources)
			}
		}
	}
	for _, a := range c.agents {
		for _, e := range a.executors {
			used[e.role] = used[e.role].Add(e.resources)
		}
	}
	out := make([]OpRole, 0, len(roles))
	for name, r := range roles {
		r.Resources = wire(used[name])
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
