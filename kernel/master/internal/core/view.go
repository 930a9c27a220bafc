package core

import (
	"sort"
	"time"

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
func (c *Core) Snapshot(now time.Time) State {
	st := State{
		Offers: len(c.offers), Agents: []AgentState{}, Frameworks: []FrameworkState{}, CompletedFrameworks: []FrameworkState{},
		Quotas: c.Quotas(),
	}
	used := map[string]resource.Resources{}
	offered := map[string]resource.Resources{}
	for _, f := range c.frameworks {
		for _, t := range f.tasks {
			if !t.state.Terminal() && t.state != mesos.TaskUnreachable {
				used[t.agentID] = used[t.agentID].Add(t.resources)
			}
		}
	}
	for _, o := range c.offers {
		offered[o.agentID] = offered[o.agentID].Add(o.resources)
	}
	// The executors by framework, in agent and executor order: one walk
	// for all frameworks rather than one per framework.
	execs := map[string][]ExecutorState{}
	execRes := map[string][]resource.Resources{}
	for _, aid := range sortedKeys(c.agents) {
		a := c.agents[aid]
		if len(a.executors) == 0 {
			continue
		}
		for _, k := range sortedKeys(a.executors) {
			e := a.executors[k]
			used[a.id] = used[a.id].Add(e.resources)
			execRes[e.frameworkID] = append(execRes[e.frameworkID], e.resources)
			es := ExecutorState{ID: e.info.ExecutorID.Value, Name: e.info.Name, AgentID: aid, Resources: summarize(e.resources)}
			if e.info.Command != nil {
				es.Command = e.info.Command.Value
			}
			execs[e.frameworkID] = append(execs[e.frameworkID], es)
		}
	}
	for _, a := range c.agents {
		as := AgentState{
			ID: a.id, Hostname: a.info.Hostname, Endpoint: a.info.Endpoint, PID: "slave(1)@" + hostPort(a.info.Endpoint),
			State: a.status.String(), Active: a.status == agentRegistered, Connected: a.conn != "",
			RegisteredTime: secs(a.registeredAt), LastHeartbeat: secs(a.lastSeen), UnreachableTime: secs(a.unreachableAt),
			Resources: summarize(a.total), UsedResources: summarize(used[a.id]), OfferedResources: summarize(offered[a.id]),
			FreeResources: summarize(a.total.Sub(used[a.id]).Sub(offered[a.id])),
			Attributes:    attributesMap(a.attributes), Cgroups: string(a.info.Cgroups), CgroupsReason: a.info.CgroupsReason,
			Version: a.info.Version, TaskCount: len(a.tasks), Containerizers: a.info.Containerizers,
			Deactivated: a.deactivated,
		}
		if d := a.drain; d != nil {
			as.DrainInfo = &DrainInfoView{State: d.State, Config: DrainConfig{MarkGone: d.MarkGone}}
			if d.MaxGracePeriod != nil {
				as.DrainInfo.Config.MaxGracePeriod = &mesos.DurationInfo{Nanoseconds: mesos.Int(d.MaxGracePeriod.Nanoseconds())}
			}
		}
		if w := c.maintenanceWindow(a); w != nil && a.status != agentGone {
			as.Maintenance = &MaintenanceView{Mode: "DRAINING", Start: secs(w.Start)}
			if w.Duration != nil {
				as.Maintenance.End = secs(w.Start.Add(*w.Duration))
			}
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
	sort.Slice(st.Agents, func(i, j int) bool { return st.Agents[i].ID < st.Agents[j].ID })
	for _, f := range c.frameworks {
		st.Frameworks = append(st.Frameworks, c.frameworkState(f, execs[f.id], execRes[f.id], now))
	}
	for _, f := range c.completed {
		st.CompletedFrameworks = append(st.CompletedFrameworks, c.frameworkState(f, execs[f.id], execRes[f.id], now))
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
// executor order) and execRes their resources, in the same order.
func (c *Core) frameworkState(f *framework, execs []ExecutorState, execRes []resource.Resources, now time.Time) FrameworkState {
	fs := FrameworkState{
		ID: f.id, Name: f.info.Name, User: f.info.User, Principal: f.info.Principal, Roles: f.roles,
		Hostname: f.info.Hostname, WebuiURL: f.info.WebuiURL, State: f.state.String(),
		Active: f.state == fwConnected, Connected: f.state == fwConnected,
		FailoverTimeout: f.failoverTimeout.Seconds(), RegisteredTime: secs(f.registeredAt),
		DisconnectedAt: secs(f.disconnectedAt), RemovedAt: secs(f.removedAt),
		Tasks: []TaskState{}, UnreachableTask: []TaskState{}, CompletedTasks: []TaskState{}, Offers: []OfferState{},
		Executors: []ExecutorState{},
	}
	for r := range f.suppressed {
		fs.SuppressedRoles = append(fs.SuppressedRoles, r)
	}
	sort.Strings(fs.SuppressedRoles)
	for _, cp := range f.info.Capabilities {
		fs.Capabilities = append(fs.Capabilities, cp.Type)
	}
	var usedR, offR resource.Resources
	for _, t := range f.tasks {
		ts := c.taskState(t)
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
	for _, t := range f.completed {
		fs.CompletedTasks = append(fs.CompletedTasks, c.taskState(t))
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

func (c *Core) taskState(t *task) TaskState {
	ts := TaskState{
		ID: t.info.TaskID.Value, Name: t.info.Name, FrameworkID: t.frameworkID, AgentID: t.agentID,
		State: string(t.state), Role: t.role, Resources: t.resourceSummary(), Labels: t.info.Labels,
		Healthy: t.status.Healthy, Message: t.status.Message, Reason: t.status.Reason,
		Statuses: []StatusState{{State: string(t.state), Timestamp: float64(t.status.Timestamp)}},
	}
	if t.info.Command != nil {
		ts.Command = t.info.Command.Value
		ts.User = t.info.Command.User
	}
	if f := c.frameworks[t.frameworkID]; ts.User == "" && f != nil {
		ts.User = f.info.User
	}
	if a := c.agents[t.agentID]; a != nil && a.info.WorkDir != "" {
		ts.Sandbox = a.info.WorkDir + "/sandboxes/" + t.frameworkID + "/" + ts.ID
	}
	return ts
}
