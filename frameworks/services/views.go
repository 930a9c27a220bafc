package services

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"corral/frameworks/services/app"
	"corral/kernel/mesos"
)

// TaskView is a task as Marathon's REST API shows it.
type TaskView struct {
	ID                 string             `json:"id"`
	AppID              string             `json:"appId"`
	Host               string             `json:"host"`
	SlaveID            string             `json:"slaveId"`
	State              string             `json:"state"`
	StagedAt           string             `json:"stagedAt"`
	StartedAt          *string            `json:"startedAt"`
	Version            string             `json:"version"`
	Ports              []uint64           `json:"ports"`
	ServicePorts       []int              `json:"servicePorts"`
	IPAddresses        []any              `json:"ipAddresses"`
	HealthCheckResults []HealthResultView `json:"healthCheckResults"`
	LocalVolumes       []any              `json:"localVolumes"`
	Role               string             `json:"role,omitempty"`
	Message            string             `json:"message,omitempty"`
}

// HealthResultView is one entry of a task's healthCheckResults.
type HealthResultView struct {
	Alive               bool    `json:"alive"`
	ConsecutiveFailures int     `json:"consecutiveFailures"`
	FirstSuccess        *string `json:"firstSuccess"`
	LastSuccess         *string `json:"lastSuccess"`
	LastFailure         *string `json:"lastFailure"`
	LastFailureCause    *string `json:"lastFailureCause"`
	TaskID              string  `json:"taskId"`
	InstanceID          string  `json:"instanceId"`
}

func stamp(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(timeLayout)
	return &s
}

func strp(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (c *core) taskView(in *instance) TaskView {
	tv := TaskView{
		ID: in.TaskID, AppID: in.AppID, Host: in.Host, SlaveID: in.AgentID, State: string(in.State),
		StagedAt: in.StagedAt.UTC().Format(timeLayout), StartedAt: stamp(in.StartedAt), Version: in.Version,
		Ports: in.Ports, ServicePorts: []int{}, IPAddresses: []any{}, HealthCheckResults: []HealthResultView{},
		LocalVolumes: []any{}, Role: c.s.cfg.Role, Message: in.Message,
	}
	if tv.Ports == nil {
		tv.Ports = []uint64{}
	}
	if as := c.apps[in.AppID]; as != nil {
		tv.ServicePorts = as.app.ServicePorts()
	}
	for _, h := range in.Checks {
		if h == nil || !h.Known {
			continue
		}
		tv.HealthCheckResults = append(tv.HealthCheckResults, HealthResultView{
			Alive: h.Alive, ConsecutiveFailures: h.ConsecutiveFailures, FirstSuccess: stamp(h.FirstSuccess),
			LastSuccess: stamp(h.LastSuccess), LastFailure: stamp(h.LastFailure), LastFailureCause: strp(h.LastFailureCause),
			TaskID: in.TaskID, InstanceID: in.TaskID,
		})
	}
	if len(tv.HealthCheckResults) == 0 && in.Healthy != nil {
		// Agent-run checks report only healthy or not.
		tv.HealthCheckResults = append(tv.HealthCheckResults, HealthResultView{Alive: *in.Healthy, TaskID: in.TaskID, InstanceID: in.TaskID})
	}
	return tv
}

// tasksOf returns an app's task views, oldest first.
func (c *core) tasksOf(appID string) []TaskView {
	var ins []*instance
	for _, in := range c.byApp[appID] {
		ins = append(ins, in)
	}
	sort.Slice(ins, func(i, j int) bool {
		if !ins[i].StagedAt.Equal(ins[j].StagedAt) {
			return ins[i].StagedAt.Before(ins[j].StagedAt)
		}
		return ins[i].TaskID < ins[j].TaskID
	})
	out := make([]TaskView, 0, len(ins))
	for _, in := range ins {
		out = append(out, c.taskView(in))
	}
	return out
}

// appCounts are the tasksStaged/Running/Healthy/Unhealthy figures.
type appCounts struct {
	Staged, Running, Healthy, Unhealthy int
}

func (c *core) countsOf(appID string) appCounts {
	var n appCounts
	for _, in := range c.byApp[appID] {
		switch in.State {
		case mesos.TaskStaging, mesos.TaskStarting:
			n.Staged++
		case mesos.TaskRunning:
			n.Running++
		}
		if in.Healthy != nil {
			if *in.Healthy {
				n.Healthy++
			} else {
				n.Unhealthy++
			}
		}
	}
	return n
}

// deploymentsOf lists the ids of the deployments holding an app.
func (c *core) deploymentsOf(appID string) []map[string]string {
	out := []map[string]string{}
	for _, d := range c.sortedDeployments() {
		for _, a := range d.Apps {
			if a == appID {
				out = append(out, map[string]string{"id": d.ID})
			}
		}
	}
	return out
}

func (c *core) sortedDeployments() []*deployment {
	out := make([]*deployment, 0, len(c.deployments))
	for _, d := range c.deployments {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Version != out[j].Version {
			return out[i].Version < out[j].Version
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// appInfo renders an app with the response-only fields (AppInfo). tasks
// are included when withTasks.
func (c *core) appInfo(as *appState, withTasks bool) json.RawMessage {
	b, _ := json.Marshal(as.app)
	n := c.countsOf(as.app.ID)
	extra := map[string]any{
		"tasksStaged": n.Staged, "tasksRunning": n.Running, "tasksHealthy": n.Healthy, "tasksUnhealthy": n.Unhealthy,
		"deployments": c.deploymentsOf(as.app.ID),
	}
	if withTasks {
		extra["tasks"] = c.tasksOf(as.app.ID)
	}
	if as.lastFailure != nil {
		extra["lastTaskFailure"] = as.lastFailure
	}
	if len(as.app.ReadinessChecks) > 0 {
		extra["readinessCheckResults"] = c.readinessResults(as)
	}
	return spliceJSON(b, extra)
}

// spliceJSON adds fields to a JSON object without decoding it.
func spliceJSON(obj []byte, extra map[string]any) json.RawMessage {
	obj = bytes.TrimSpace(obj)
	if len(obj) < 2 || obj[len(obj)-1] != '}' {
		return obj
	}
	var buf bytes.Buffer
	buf.Write(obj[:len(obj)-1])
	first := len(bytes.TrimSpace(obj[1:len(obj)-1])) == 0
	for _, k := range sortedKeys(extra) {
		if !first {
			buf.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		vb, _ := json.Marshal(extra[k])
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// deploymentJSON renders a deployment as GET /v2/deployments shows it,
// with corral's additions: for each app still in progress, why it waits,
// and for an automatic rollback the failed deployment it rolls back
// (rollbackOf).
func (c *core) deploymentJSON(d *deployment) map[string]any {
	if d == nil {
		return nil
	}
	var actions []map[string]any
	var current []map[string]any
	for _, id := range d.Apps {
		actions = append(actions, map[string]any{"action": d.Actions[id], "app": id})
		cur := map[string]any{"action": d.Actions[id], "app": id, "readinessCheckResults": []map[string]any{}}
		if as := c.apps[id]; as != nil && len(as.app.ReadinessChecks) > 0 {
			cur["readinessCheckResults"] = c.readinessResults(as)
		}
		if as := c.apps[id]; as != nil && !as.decision.Done {
			if w := c.waitingReason(as); w != "" {
				cur["waiting"] = w
			}
			if rs := c.unplaced(as); len(rs) > 0 {
				cur["unplaced"] = rs
			}
		}
		current = append(current, cur)
	}
	m := map[string]any{
		"id": d.ID, "version": d.Version, "affectedApps": d.Apps, "affectedPods": []string{},
		"steps":          []map[string]any{{"actions": actions}},
		"currentActions": current, "currentStep": 1, "totalSteps": 1,
	}
	if d.RollbackOf != "" {
		m["rollbackOf"] = d.RollbackOf
	}
	return m
}

func (c *core) stepJSON(d *deployment) map[string]any {
	var actions []map[string]any
	for _, id := range d.Apps {
		actions = append(actions, map[string]any{"action": d.Actions[id], "app": id})
	}
	return map[string]any{"actions": actions}
}

// waitingReason says in words why an app is not where it should be.
func (c *core) waitingReason(as *appState) string {
	var parts []string
	if as.decision.Launch > 0 {
		spec := specOf(as.app, as.deleting)
		if ready := as.backoff.ReadyAt(spec); time.Now().Before(ready) {
			parts = append(parts, "launch delayed by backoff for "+time.Until(ready).Round(time.Millisecond).String()+" after "+itoa(as.backoff.Failures)+" failures")
		} else if len(as.rejections) > 0 {
			parts = append(parts, "waiting for offers that fit "+itoa(as.decision.Launch)+" more instance(s)")
		} else {
			parts = append(parts, "waiting for offers to launch "+itoa(as.decision.Launch)+" instance(s)")
		}
	}
	if as.decision.Waiting != "" {
		parts = append(parts, as.decision.Waiting)
	} else if n := as.decision.Migrating; n > 0 {
		parts = append(parts, "migrating "+itoa(n)+" instance(s) off draining agents: each is killed once a replacement elsewhere is ready")
	}
	return strings.Join(parts, "; ")
}

// unplaced lists, per agent, why its last offer did not fit.
func (c *core) unplaced(as *appState) []map[string]any {
	var out []map[string]any
	for _, id := range sortedKeys(as.rejections) {
		r := as.rejections[id]
		out = append(out, map[string]any{"agentId": r.AgentID, "hostname": r.Hostname, "reasons": r.Reasons, "at": r.At.UTC().Format(timeLayout)})
	}
	return out
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// groupJSON renders the group tree rooted at id: apps whose parent is the
// group, and subgroups (implied by app ids or created explicitly). It
// leaves out the apps sees refuses, and the subgroups it refuses that
// hold nothing it allows; empty reports that nothing is left.
func (c *core) groupJSON(id string, withTasks bool, sees func(string) bool) (g map[string]any, empty bool) {
	g = map[string]any{"id": id, "apps": []json.RawMessage{}, "groups": []map[string]any{}, "pods": []any{}, "dependencies": []string{}, "version": ""}
	if eg := c.groups[id]; eg != nil {
		g["dependencies"] = eg.Dependencies
		g["version"] = eg.Version
	}
	children := map[string]bool{}
	var apps []json.RawMessage
	latest := ""
	for _, appID := range sortedKeys(c.apps) {
		as := c.apps[appID]
		if as.deleting || !app.InGroup(id, appID) || !sees(appID) {
			continue
		}
		if as.app.Version > latest {
			latest = as.app.Version
		}
		if app.Parent(appID) == id {
			if withTasks {
				apps = append(apps, c.appInfo(as, true))
			} else {
				b, _ := json.Marshal(as.app)
				apps = append(apps, b)
			}
			continue
		}
		children[childOf(id, appID)] = true
	}
	for gid := range c.groups {
		if gid != id && app.InGroup(id, gid) {
			children[childOf(id, gid)] = true
		}
	}
	if apps != nil {
		g["apps"] = apps
	}
	var groups []map[string]any
	for _, cid := range sortedKeys(children) {
		sub, subEmpty := c.groupJSON(cid, withTasks, sees)
		if subEmpty && !sees(cid) {
			continue
		}
		groups = append(groups, sub)
	}
	if groups != nil {
		g["groups"] = groups
	}
	if g["version"] == "" {
		g["version"] = latest
	}
	return g, apps == nil && groups == nil
}

// childOf is the direct child of group on the way to id.
func childOf(group, id string) string {
	rest := strings.TrimPrefix(id, strings.TrimSuffix(group, "/")+"/")
	first, _, _ := strings.Cut(rest, "/")
	return strings.TrimSuffix(group, "/") + "/" + first
}

// groupExists reports whether a group is known, explicitly or through
// its apps.
func (c *core) groupExists(id string) bool {
	if id == "/" || c.groups[id] != nil {
		return true
	}
	for appID, as := range c.apps {
		if !as.deleting && app.InGroup(id, appID) && appID != id {
			return true
		}
	}
	return false
}
