package core

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// executor is the master's record of a framework's custom executor on an
// agent: its resources stay allocated to the framework until the agent
// reports it ended.
type executor struct {
	frameworkID string
	info        mesos.ExecutorInfo
	role        string
	resources   resource.Resources
}

// execKey names an executor among an agent's executors.
func execKey(frameworkID, executorID string) string { return frameworkID + "\x00" + executorID }

// taskExecutor resolves the executor a task of a LAUNCH names on agent a:
// one already running there (whose info must be equal), one started by an
// earlier task of the same ACCEPT (pending), or a new one, whose resources
// the task must bring. It returns the info as the agent gets it
// (framework_id filled in, resources with their allocation role), the
// resources to charge (empty unless new), whether it is new, and "" or
// what is wrong.
func taskExecutor(f *framework, a *agent, ti *mesos.TaskInfo, role string, format mesos.ResourceFormat, pending map[string]*executor) (mesos.ExecutorInfo, resource.Resources, bool, string) {
	ei := *ti.Executor
	if ei.FrameworkID != nil && ei.FrameworkID.Value != f.id {
		return ei, resource.Resources{}, false, fmt.Sprintf("'executor.framework_id' %q is not the framework's id %q", ei.FrameworkID.Value, f.id)
	}
	ei.FrameworkID = &mesos.ID{Value: f.id}
	ws, err := format.FromFramework(ei.Resources, role)
	if err != nil {
		return ei, resource.Resources{}, false, fmt.Sprintf("invalid 'executor.resources': %v", err)
	}
	res, err := resource.FromWire(ws)
	if err != nil {
		return ei, resource.Resources{}, false, fmt.Sprintf("invalid 'executor.resources': %v", err)
	}
	ei.Resources = res.Wire(role)
	key := execKey(f.id, ei.ExecutorID.Value)
	running := pending[key]
	if running == nil && a != nil {
		running = a.executors[key]
	}
	if running == nil {
		return ei, res, true, ""
	}
	if !sameExecutor(running.info, ei) {
		return ei, resource.Resources{}, false, fmt.Sprintf("'executor' differs from the ExecutorInfo of executor %q already running on agent %s; tasks of one executor must give the same ExecutorInfo (or use a new executor_id)",
			ei.ExecutorID.Value, a.id)
	}
	return running.info, resource.Resources{}, false, ""
}

// sameExecutor compares two executor infos as Mesos does: field by field.
func sameExecutor(a, b mesos.ExecutorInfo) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// checkExecutor validates the parts of a task's ExecutorInfo that need no
// state. It returns "" or what is wrong.
func checkExecutor(e *mesos.ExecutorInfo) string {
	id := e.ExecutorID.Value
	switch {
	case id == "":
		return "'executor.executor_id' is required"
	case len(id) > 255:
		return "'executor.executor_id' is longer than 255 bytes"
	case !validName(id):
		return fmt.Sprintf("'executor.executor_id' %q must not contain '/' or NUL and must not be '.' or '..'", id)
	}
	switch e.Type {
	case "", mesos.ExecutorUnknown, mesos.ExecutorCustom:
	case mesos.ExecutorDefault:
		return "'executor.type' DEFAULT (Mesos' default executor, for LAUNCH_GROUP task groups) is not supported; give a CUSTOM executor with a command"
	default:
		return fmt.Sprintf("'executor.type' %q is unknown (want CUSTOM)", e.Type)
	}
	docker := false
	if c := e.Container; c != nil {
		if c.Type != mesos.ContainerDocker {
			return "'executor.container': only a DOCKER container may run an executor (or none: a process in its sandbox)"
		}
		if reason := c.Problem(); reason != "" {
			return strings.Replace(reason, "'container.", "'executor.container.", 1)
		}
		if len(c.HostPorts()) > 0 {
			return "'executor.container.docker.port_mappings' is not supported: an executor's container takes no ports; use network HOST"
		}
		docker = true
	}
	if e.Command == nil && docker {
		no := false
		e.Command = &mesos.CommandInfo{Shell: &no} // the image's own entrypoint
	}
	if e.Command == nil {
		return "'executor.command' is required"
	}
	if e.Command.Value == "" && (e.Command.IsShell() || !docker) {
		return "'executor.command.value' (the executor to run) is empty"
	}
	for _, u := range e.Command.URIs {
		if reason := u.Problem(); reason != "" {
			return "'executor.command.uris': " + reason
		}
	}
	if reason := checkEnvironment(e.Command.Environment); reason != "" {
		return "executor.command: " + reason
	}
	if env := e.Command.Environment; env != nil {
		for _, v := range env.Variables {
			if v.Secret != nil && v.Secret.Type == mesos.SecretReferenceType {
				return fmt.Sprintf("executor.command: environment variable %q references a stored secret; executors cannot have those: give the secret to its tasks, or inline its VALUE", v.Name)
			}
		}
	}
	if g := e.ShutdownGracePeriod; g != nil && g.Nanoseconds < 0 {
		return "'executor.shutdown_grace_period' is negative"
	}
	return ""
}

// validName reports whether id may name a directory: no '/' or NUL, not
// "." or "..".
func validName(id string) bool {
	for i := 0; i < len(id); i++ {
		if id[i] == '/' || id[i] == 0 {
			return false
		}
	}
	return id != "." && id != ".."
}

// executorIDs lists framework fid's executors on a, for Offer.executor_ids.
func (a *agent) executorIDs(fid string) []mesos.ID {
	var ids []mesos.ID
	if len(a.executors) == 0 {
		return ids // most agents, in every allocation cycle
	}
	for _, k := range sortedKeys(a.executors) {
		if e := a.executors[k]; e.frameworkID == fid {
			ids = append(ids, e.info.ExecutorID)
		}
	}
	return ids
}

// ExecutorReports handles an agent's EXECUTORS call on connection conn:
// executors that ended and messages executors sent. ok is false, and
// nothing changes, when the agent is not registered on that connection.
func (c *Core) ExecutorReports(id, conn string, r *agentproto.Executors, now time.Time) (fx Effects, ok bool) {
	a := c.agents[id]
	if a == nil || a.conn == "" || a.conn != conn || a.status != agentRegistered {
		return c.take(), false
	}
	a.lastSeen = now
	for _, x := range r.Exited {
		c.executorExited(a, x.FrameworkID, x.ExecutorID, x.Status, now)
	}
	for _, m := range r.Messages {
		f := c.frameworks[m.FrameworkID]
		if f == nil || f.state != fwConnected {
			continue // best effort, as in Mesos
		}
		c.sendFramework(f, &mesos.Event{Type: mesos.EventMessage, Message: &mesos.Message{
			AgentID: mesos.ID{Value: a.id}, ExecutorID: mesos.ID{Value: m.ExecutorID}, Data: m.Data}})
	}
	return c.take(), true
}

// executorExited frees an ended executor's resources and tells its
// framework (Event FAILURE with the executor id and its status).
func (c *Core) executorExited(a *agent, fid, eid string, status *int, now time.Time) {
	key := execKey(fid, eid)
	e := a.executors[key]
	if e == nil {
		return
	}
	delete(a.executors, key)
	f := c.frameworks[fid]
	if f == nil || f.state == fwRemoved {
		return
	}
	if a.status == agentRegistered || a.status == agentRecovered {
		c.alloc.Recover(a.id, fid, e.role, e.resources, 0, now)
		c.dirty[a.id] = true
	}
	fail := &mesos.Failure{AgentID: &mesos.ID{Value: a.id}, ExecutorID: &mesos.ID{Value: eid}}
	if status != nil {
		v := mesos.Int(*status)
		fail.Status = &v
	}
	c.log(LevelInfo, "executor ended", "agent", a.id, "framework", fid, "executor", eid)
	c.sendFramework(f, &mesos.Event{Type: mesos.EventFailure, Failure: fail})
}

// registerExecutors rebuilds a's executors from what it reports on
// (re-)registration: known ones that are missing have ended; reported ones
// of frameworks that are gone are shut down.
func (c *Core) registerExecutors(a *agent, reported []agentproto.Executor, now time.Time) {
	seen := map[string]bool{}
	for _, re := range reported {
		key := execKey(re.FrameworkID, re.Info.ExecutorID.Value)
		seen[key] = true
		f := c.frameworks[re.FrameworkID]
		if f == nil || f.state == fwRemoved {
			c.sendAgent(a, &agentproto.Event{Type: agentproto.EventShutdownExecutor, ShutdownExecutor: &agentproto.ShutdownExecutor{
				FrameworkID: re.FrameworkID, ExecutorID: re.Info.ExecutorID.Value}})
			delete(a.executors, key)
			continue
		}
		res, _ := resource.FromWire(re.Info.Resources)
		e := &executor{frameworkID: f.id, info: re.Info, role: roleOf(re.Info.Resources, f), resources: res}
		a.executors[key] = e
		c.alloc.Allocate(a.id, f.id, e.role, e.resources)
	}
	for _, key := range sortedKeys(a.executors) {
		if !seen[key] {
			e := a.executors[key]
			c.executorExited(a, e.frameworkID, e.info.ExecutorID.Value, nil, now)
		}
	}
}

// forgetExecutors drops framework fid's executors from every agent (the
// framework is removed; the allocator has dropped its allocations) and
// returns the agents they were on.
func (c *Core) forgetExecutors(fid string) []string {
	var on []string
	for _, aid := range sortedKeys(c.agents) {
		a := c.agents[aid]
		for k, e := range a.executors {
			if e.frameworkID == fid {
				delete(a.executors, k)
				on = append(on, aid)
			}
		}
	}
	return on
}

// message passes a framework's MESSAGE to its executor's agent, or drops
// it when the executor is not known to run there.
func (c *Core) message(f *framework, m *mesos.Message) {
	a := c.agents[m.AgentID.Value]
	if a == nil || a.executors[execKey(f.id, m.ExecutorID.Value)] == nil {
		c.log(LevelDebug, "dropping a framework message for an executor that is not running", "framework", f.id, "executor", m.ExecutorID.Value, "agent", m.AgentID.Value)
		return
	}
	if !c.sendAgent(a, &agentproto.Event{Type: agentproto.EventMessage, Message: &agentproto.ExecutorMessage{FrameworkID: f.id, ExecutorID: m.ExecutorID.Value, Data: m.Data}}) {
		c.log(LevelDebug, "dropping a framework message: the agent is not connected", "framework", f.id, "agent", a.id)
	}
}
