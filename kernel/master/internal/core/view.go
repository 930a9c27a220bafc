package core

import (
	"slices"
	"sort"
	"time"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// State is the body of GET /state: the master's whole view of the
// cluster. Snapshot fills in the cluster; the shell fills in the master's
// own identity (Version through Hostname).
type State struct {
	Version             string           `json:"version"`
	ID                  string           `json:"id"`
	Leader              string           `json:"leader"`
	LeaderInfo          mesos.MasterInfo `json:"leader_info"`
	StartTime           float64          `json:"start_time"`
	ElectedTime         float64          `json:"elected_time"`
	Hostname            string           `json:"hostname"`
	ActivatedAgents     int              `json:"activated_slaves"`
	UnreachableAgents   int              `json:"unreachable_slaves"`
	Agents              []AgentState     `json:"slaves"`
	Frameworks          []FrameworkState `json:"frameworks"`
	CompletedFrameworks []FrameworkState `json:"completed_frameworks"`
	Offers              int              `json:"outstanding_offers"`
	// Quotas are the roles' quotas (UPDATE_QUOTA).
	Quotas []QuotaConfig `json:"quotas"`
}

// ResourceSummary is a resource set as both the Mesos-style map and text.
type ResourceSummary map[string]any

func summarize(r resource.Resources) ResourceSummary {
	s := ResourceSummary{}
	for _, n := range []string{resource.CPUs, resource.Mem, resource.Disk, resource.GPUs} {
		s[n] = r.Scalar(n)
	}
	for _, n := range r.ScalarNames() {
		s[n] = r.Scalar(n)
	}
	if rs := r.Ranges(resource.Ports); len(rs) > 0 {
		s["ports"] = resource.RangesOf(resource.Ports, rs...).String()[len("ports:"):]
	}
	return s
}

// AgentState is one agent in /state.
type AgentState struct {
	ID               string          `json:"id"`
	Hostname         string          `json:"hostname"`
	Endpoint         string          `json:"endpoint"`
	PID              string          `json:"pid"`
	State            string          `json:"state"`
	Active           bool            `json:"active"`
	Connected        bool            `json:"connected"`
	RegisteredTime   float64         `json:"registered_time"`
	LastHeartbeat    float64         `json:"last_heartbeat,omitempty"`
	UnreachableTime  float64         `json:"unreachable_time,omitempty"`
	Resources        ResourceSummary `json:"resources"`
	UsedResources    ResourceSummary `json:"used_resources"`
	OfferedResources ResourceSummary `json:"offered_resources"`
	FreeResources    ResourceSummary `json:"unreserved_resources_free"`
	Attributes       map[string]any  `json:"attributes"`
	Cgroups          string          `json:"cgroups"`
	CgroupsReason    string          `json:"cgroups_reason,omitempty"`
	Version          string          `json:"version,omitempty"`
	TaskCount        int             `json:"task_count"`
	// Containerizers are what the agent runs tasks in (mesos, docker).
	Containerizers []string `json:"containerizers,omitempty"`
	// Deactivated agents get no offers; DrainInfo is their drain, in
	// Mesos' shape.
	Deactivated bool           `json:"deactivated"`
	DrainInfo   *DrainInfoView `json:"drain_info,omitempty"`
	// Maintenance is set while the agent's machine is scheduled for
	// maintenance and not yet DOWN.
	Maintenance *MaintenanceView `json:"maintenance,omitempty"`
}

// FrameworkState is one framework in /state.
type FrameworkState struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	User            string          `json:"user"`
	Principal       string          `json:"principal,omitempty"`
	Roles           []string        `json:"roles"`
	SuppressedRoles []string        `json:"suppressed_roles,omitempty"`
	Hostname        string          `json:"hostname,omitempty"`
	WebuiURL        string          `json:"webui_url,omitempty"`
	State           string          `json:"state"`
	Active          bool            `json:"active"`
	Connected       bool            `json:"connected"`
	Capabilities    []string        `json:"capabilities,omitempty"`
	FailoverTimeout float64         `json:"failover_timeout"`
	RegisteredTime  float64         `json:"registered_time"`
	DisconnectedAt  float64         `json:"unregistered_time,omitempty"`
	RemovedAt       float64         `json:"removed_time,omitempty"`
	UsedResources   ResourceSummary `json:"used_resources"`
	OfferedResource ResourceSummary `json:"offered_resources"`
	Tasks           []TaskState     `json:"tasks"`
	UnreachableTask []TaskState     `json:"unreachable_tasks"`
	CompletedTasks  []TaskState     `json:"completed_tasks"`
	Offers          []OfferState    `json:"offers"`
	// Executors are its custom executors, whose resources count in
	// used_resources as its tasks' do.
	Executors []ExecutorState `json:"executors"`
}

// MaintenanceView is an agent's maintenance window: its machine is
// DRAINING from Start (seconds since the epoch) until End (0: for good).
type MaintenanceView struct {
	Mode  string  `json:"mode"`
	Start float64 `json:"start"`
	End   float64 `json:"end,omitempty"`
}

// DrainInfoView is Mesos' DrainInfo: the state and the config.
type DrainInfoView struct {
	State  string      `json:"state" pb:"1,req,enum=DrainState"`
	Config DrainConfig `json:"config" pb:"2"`
}

// DrainConfig is Mesos' DrainConfig.
type DrainConfig struct {
	MaxGracePeriod *mesos.DurationInfo `json:"max_grace_period,omitempty" pb:"1"`
	MarkGone       bool                `json:"mark_gone" pb:"2"`
}

// ExecutorState is one custom executor in /state.
type ExecutorState struct {
	ID        string          `json:"executor_id"`
	Name      string          `json:"name,omitempty"`
	AgentID   string          `json:"slave_id"`
	Command   string          `json:"command,omitempty"`
	Resources ResourceSummary `json:"resources"`
}

// TaskState is one task in /state.
type TaskState struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	FrameworkID string          `json:"framework_id"`
	AgentID     string          `json:"slave_id"`
	State       string          `json:"state"`
	Role        string          `json:"role"`
	Resources   ResourceSummary `json:"resources"`
	Statuses    []StatusState   `json:"statuses"`
	Sandbox     string          `json:"sandbox,omitempty"`
	Labels      *mesos.Labels   `json:"labels,omitempty"`
	Command     string          `json:"command,omitempty"`
	// User is the OS user the task runs as: its command's, else its
	// framework's.
	User    string `json:"user,omitempty"`
	Healthy *bool  `json:"healthy,omitempty"`
	Message string `json:"message,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// StatusState is the latest status of a task in /state.
type StatusState struct {
	State     string  `json:"state"`
	Timestamp float64 `json:"timestamp"`
}

// OfferState is one outstanding offer in /state.
type OfferState struct {
	ID          string          `json:"id"`
	FrameworkID string          `json:"framework_id"`
	AgentID     string          `json:"slave_id"`
	Role        string          `json:"role"`
	Resources   ResourceSummary `json:"resources"`
	AgeSeconds  float64         `json:"age_seconds"`
}

func secs(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// Snapshot returns the cluster's part of /state as of now. Its
// ResourceSummary maps are shared with later snapshots: read them, never
// change them.
func (c *Core) Snapshot(now time.Time) State { return c.StateSource().State(now) }

// StateSource is what /state shows of the cluster, taken by
// Core.StateSource on the core's goroutine so that the body can be built
// by State on another: taking it copies the few fields of each record
// that /state reads, and what it shares with the core never changes
// (resource sets, task summaries, infos the core replaces rather than
// edits). The costly part of /state (adding up used and offered
// resources, summaries, sorting) is State's. Safe for concurrent use
// once taken; the zero value is an empty cluster.
type StateSource struct {
	offers     []offer
	quotas     []QuotaConfig
	agents     []agentCopy // in id order
	frameworks []frameworkCopy
	completed  []frameworkCopy
	// users are the users of the frameworks (not the completed ones), by
	// id: a task's user when its command names none.
	users map[string]string
}

// agentCopy is what /state reads of an agent.
type agentCopy struct {
	id                                    string
	info                                  agentproto.AgentInfo
	total                                 resource.Resources
	attributes                            []mesos.Attribute
	status                                agentStatus
	connected, deactivated                bool
	registeredAt, lastSeen, unreachableAt time.Time
	taskCount                             int
	drain                                 *DrainInfoView
	maintenance                           *MaintenanceView
	executors                             []executor // in key order
}

// frameworkCopy is what /state reads of a framework.
type frameworkCopy struct {
	id                                      string
	info                                    mesos.FrameworkInfo
	roles, suppressed                       []string
	state                                   frameworkState
	failoverTimeout                         time.Duration
	registeredAt, disconnectedAt, removedAt time.Time
	tasks, completed                        []taskCopy
	offers                                  []offer
}

// taskCopy is what /state reads of a task.
type taskCopy struct {
	id, name, frameworkID, agentID, role string
	state                                mesos.TaskState
	resources                            resource.Resources
	summary                              ResourceSummary
	labels                               *mesos.Labels
	healthy                              *bool
	message, reason                      string
	timestamp                            mesos.Float
	command                              *mesos.CommandInfo
}

// StateSource takes what Snapshot shows of the cluster now. It must run
// on the core's goroutine, like every method of Core.
func (c *Core) StateSource() StateSource {
	src := StateSource{offers: make([]offer, 0, len(c.offers)), quotas: c.Quotas(), agents: make([]agentCopy, 0, len(c.agents)),
		users: make(map[string]string, len(c.frameworks))}
	for _, o := range c.offers {
		src.offers = append(src.offers, *o)
	}
	for _, id := range sortedKeys(c.agents) {
		a := c.agents[id]
		ac := agentCopy{id: a.id, info: a.info, total: a.total, attributes: a.attributes, status: a.status,
			connected: a.conn != "", deactivated: a.deactivated,
			registeredAt: a.registeredAt, lastSeen: a.lastSeen, unreachableAt: a.unreachableAt, taskCount: len(a.tasks)}
		if d := a.drain; d != nil {
			ac.drain = &DrainInfoView{State: d.State, Config: DrainConfig{MarkGone: d.MarkGone}}
			if d.MaxGracePeriod != nil {
				ac.drain.Config.MaxGracePeriod = &mesos.DurationInfo{Nanoseconds: mesos.Int(d.MaxGracePeriod.Nanoseconds())}
			}
		}
		if w := c.maintenanceWindow(a); w != nil && a.status != agentGone {
			ac.maintenance = &MaintenanceView{Mode: "DRAINING", Start: secs(w.Start)}
			if w.Duration != nil {
				ac.maintenance.End = secs(w.Start.Add(*w.Duration))
			}
		}
		for _, k := range sortedKeys(a.executors) {
			ac.executors = append(ac.executors, *a.executors[k])
		}
		src.agents = append(src.agents, ac)
	}
	for _, f := range c.frameworks {
		src.frameworks = append(src.frameworks, copyFramework(f))
		src.users[f.id] = f.info.User
	}
	for _, f := range c.completed {
		src.completed = append(src.completed, copyFramework(f))
	}
	return src
}

func copyFramework(f *framework) frameworkCopy {
	fc := frameworkCopy{id: f.id, info: f.info, roles: slices.Clone(f.roles), state: f.state, failoverTimeout: f.failoverTimeout,
		registeredAt: f.registeredAt, disconnectedAt: f.disconnectedAt, removedAt: f.removedAt,
		tasks: make([]taskCopy, 0, len(f.tasks)), completed: make([]taskCopy, 0, len(f.completed)), offers: make([]offer, 0, len(f.offers))}
	for r := range f.suppressed {
		fc.suppressed = append(fc.suppressed, r)
	}
	for _, t := range f.tasks {
		fc.tasks = append(fc.tasks, copyTask(t))
	}
	for _, t := range f.completed {
		fc.completed = append(fc.completed, copyTask(t))
	}
	for _, o := range f.offers {
		fc.offers = append(fc.offers, *o)
	}
	return fc
}

func copyTask(t *task) taskCopy {
	return taskCopy{id: t.info.TaskID.Value, name: t.info.Name, frameworkID: t.frameworkID, agentID: t.agentID, role: t.role,
		state: t.state, resources: t.resources, summary: t.resourceSummary(), labels: t.info.Labels,
		healthy: t.status.Healthy, message: t.status.Message, reason: t.status.Reason, timestamp: t.status.Timestamp,
		command: t.info.Command}
}

// State builds the cluster's part of /state from src as of now; see
// Snapshot. It does not change src and may run on any goroutine.
func (src StateSource) State(now time.Time) State {
	st := State{
		Offers: len(src.offers), Agents: make([]AgentState, 0, len(src.agents)), Frameworks: []FrameworkState{}, CompletedFrameworks: []FrameworkState{},
		Quotas: src.quotas,
	}
	used := map[string]resource.Resources{}
	offered := map[string]resource.Resources{}
	for i := range src.frameworks {
		f := &src.frameworks[i]
		for j := range f.tasks {
			if t := &f.tasks[j]; !t.state.Terminal() && t.state != mesos.TaskUnreachable {
				used[t.agentID] = used[t.agentID].Add(t.resources)
			}
		}
	}
	for _, o := range src.offers {
		offered[o.agentID] = offered[o.agentID].Add(o.resources)
	}
	// The executors by framework, in agent and executor order: one walk
	// for all frameworks rather than one per framework.
	workDirs := make(map[string]string, len(src.agents))
	execs := map[string][]ExecutorState{}
	execRes := map[string][]resource.Resources{}
	for i := range src.agents {
		a := &src.agents[i]
		workDirs[a.id] = a.info.WorkDir
		for _, e := range a.executors {
			used[a.id] = used[a.id].Add(e.resources)
			execRes[e.frameworkID] = append(execRes[e.frameworkID], e.resources)
			es := ExecutorState{ID: e.info.ExecutorID.Value, Name: e.info.Name, AgentID: a.id, Resources: summarize(e.resources)}
			if e.info.Command != nil {
				es.Command = e.info.Command.Value
			}
			execs[e.frameworkID] = append(execs[e.frameworkID], es)
		}
	}
	for i := range src.agents {
		a := &src.agents[i]
		as := AgentState{
			ID: a.id, Hostname: a.info.Hostname, Endpoint: a.info.Endpoint, PID: "slave(1)@" + hostPort(a.info.Endpoint),
			State: a.status.String(), Active: a.status == agentRegistered, Connected: a.connected,
			RegisteredTime: secs(a.registeredAt), LastHeartbeat: secs(a.lastSeen), UnreachableTime: secs(a.unreachableAt),
			Resources: summarize(a.total), UsedResources: summarize(used[a.id]), OfferedResources: summarize(offered[a.id]),
			FreeResources: summarize(a.total.Sub(used[a.id]).Sub(offered[a.id])),
			Attributes:    attributesMap(a.attributes), Cgroups: string(a.info.Cgroups), CgroupsReason: a.info.CgroupsReason,
			Version: a.info.Version, TaskCount: a.taskCount, Containerizers: a.info.Containerizers,
			Deactivated: a.deactivated, DrainInfo: a.drain, Maintenance: a.maintenance,
		}
		if a.deactivated {
			as.Active = false
		}
		st.Agents = append(st.Agents, as)
		if as.Active {
			st.ActivatedAgents++
		}
		if a.status == agentUnreachable {
			st.UnreachableAgents++
		}
	}
	for i := range src.frameworks {
		f := &src.frameworks[i]
		st.Frameworks = append(st.Frameworks, src.frameworkState(f, execs[f.id], execRes[f.id], workDirs, now))
	}
	for i := range src.completed {
		f := &src.completed[i]
		st.CompletedFrameworks = append(st.CompletedFrameworks, src.frameworkState(f, execs[f.id], execRes[f.id], workDirs, now))
	}
	sort.Slice(st.Frameworks, func(i, j int) bool { return st.Frameworks[i].ID < st.Frameworks[j].ID })
	sort.Slice(st.CompletedFrameworks, func(i, j int) bool { return st.CompletedFrameworks[i].ID < st.CompletedFrameworks[j].ID })
	return st
}

func hostPort(endpoint string) string {
	for _, p := range []string{"http://", "https://"} {
		if len(endpoint) > len(p) && endpoint[:len(p)] == p {
			return endpoint[len(p):]
		}
	}
	return endpoint
}

func attributesMap(as []mesos.Attribute) map[string]any {
	out := map[string]any{}
	for _, a := range as {
		switch {
		case a.Text != nil:
			out[a.Name] = a.Text.Value
		case a.Scalar != nil:
			out[a.Name] = float64(a.Scalar.Value)
		case a.Ranges != nil:
			var rs []resource.Range
			for _, x := range a.Ranges.Range {
				rs = append(rs, resource.Range{Begin: uint64(x.Begin), End: uint64(x.End)})
			}
			out[a.Name] = resource.RangesOf(a.Name, rs...).String()[len(a.Name)+1:]
		case a.Set != nil:
			out[a.Name] = a.Set.Item
		}
	}
	return out
}

// frameworkState is f in /state; execs are its executors (in agent and
// executor order) and execRes their resources, in the same order;
// workDirs are the agents' work directories, by id.
func (src StateSource) frameworkState(f *frameworkCopy, execs []ExecutorState, execRes []resource.Resources, workDirs map[string]string, now time.Time) FrameworkState {
	fs := FrameworkState{
		ID: f.id, Name: f.info.Name, User: f.info.User, Principal: f.info.Principal, Roles: f.roles,
		Hostname: f.info.Hostname, WebuiURL: f.info.WebuiURL, State: f.state.String(),
		Active: f.state == fwConnected, Connected: f.state == fwConnected,
		FailoverTimeout: f.failoverTimeout.Seconds(), RegisteredTime: secs(f.registeredAt),
		DisconnectedAt: secs(f.disconnectedAt), RemovedAt: secs(f.removedAt),
		Tasks: []TaskState{}, UnreachableTask: []TaskState{}, CompletedTasks: []TaskState{}, Offers: []OfferState{},
		Executors: []ExecutorState{},
	}
	fs.SuppressedRoles = f.suppressed
	sort.Strings(fs.SuppressedRoles)
	for _, cp := range f.info.Capabilities {
		fs.Capabilities = append(fs.Capabilities, cp.Type)
	}
	var usedR, offR resource.Resources
	for i := range f.tasks {
		t := &f.tasks[i]
		ts := src.taskState(t, workDirs)
		switch {
		case t.state == mesos.TaskUnreachable:
			fs.UnreachableTask = append(fs.UnreachableTask, ts)
		default:
			fs.Tasks = append(fs.Tasks, ts)
			if !t.state.Terminal() {
				usedR = usedR.Add(t.resources)
			}
		}
	}
	for i := range f.completed {
		fs.CompletedTasks = append(fs.CompletedTasks, src.taskState(&f.completed[i], workDirs))
	}
	for _, r := range execRes {
		usedR = usedR.Add(r)
	}
	fs.Executors = append(fs.Executors, execs...)
	for _, o := range f.offers {
		offR = offR.Add(o.resources)
		fs.Offers = append(fs.Offers, OfferState{ID: o.id, FrameworkID: f.id, AgentID: o.agentID, Role: o.role,
			Resources: summarize(o.resources), AgeSeconds: now.Sub(o.createdAt).Seconds()})
	}
	sort.Slice(fs.Tasks, func(i, j int) bool { return fs.Tasks[i].ID < fs.Tasks[j].ID })
	sort.Slice(fs.Offers, func(i, j int) bool { return fs.Offers[i].ID < fs.Offers[j].ID })
	fs.UsedResources = summarize(usedR)
	fs.OfferedResource = summarize(offR)
	return fs
}

// resourceSummary is t.summary, made if need be.
func (t *task) resourceSummary() ResourceSummary {
	if t.summary == nil {
		t.summary = summarize(t.resources)
	}
	return t.summary
}

// wireResources is t.wire, made if need be.
func (t *task) wireResources() []mesos.Resource {
	if t.wire == nil {
		t.wire = wire(t.resources)
	}
	return t.wire
}

// taskState is t in /state.
func (src StateSource) taskState(t *taskCopy, workDirs map[string]string) TaskState {
	ts := TaskState{
		ID: t.id, Name: t.name, FrameworkID: t.frameworkID, AgentID: t.agentID,
		State: string(t.state), Role: t.role, Resources: t.summary, Labels: t.labels,
		Healthy: t.healthy, Message: t.message, Reason: t.reason,
		Statuses: []StatusState{{State: string(t.state), Timestamp: float64(t.timestamp)}},
	}
	if t.command != nil {
		ts.Command = t.command.Value
		ts.User = t.command.User
	}
	if ts.User == "" {
		ts.User = src.users[t.frameworkID]
	}
	if dir := workDirs[t.agentID]; dir != "" {
		ts.Sandbox = dir + "/sandboxes/" + t.frameworkID + "/" + ts.ID
	}
	return ts
}
