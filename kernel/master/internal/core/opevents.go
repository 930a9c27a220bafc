package core

import (
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// Operator event types (the v1 operator API's SUBSCRIBE stream).
const (
	OpTaskAdded        = "TASK_ADDED"
	OpTaskUpdated      = "TASK_UPDATED"
	OpAgentAdded       = "AGENT_ADDED"
	OpAgentRemoved     = "AGENT_REMOVED"
	OpFrameworkAdded   = "FRAMEWORK_ADDED"
	OpFrameworkUpdated = "FRAMEWORK_UPDATED"
	OpFrameworkRemoved = "FRAMEWORK_REMOVED"
)

// OperatorEvent is one event for the operator API's subscribers; the
// fields its Type names are set. User is who the task or framework runs
// as, for the subscribers' view_* authorization.
type OperatorEvent struct {
	Type        string
	Task        *OpTask
	FrameworkID string
	Status      *mesos.TaskStatus
	State       mesos.TaskState
	Agent       *OpAgent
	AgentID     string
	Framework   *OpFramework
	User        string
}

// WatchOperator turns the operator events on (while the operator API has
// subscribers) or off: built only when someone listens.
func (c *Core) WatchOperator(on bool) { c.opWatch = on }

func (c *Core) opEvent(ev OperatorEvent) {
	if c.opWatch {
		c.fx.Operator = append(c.fx.Operator, ev)
	}
}

func (c *Core) opTaskAdded(t *task) {
	if c.opWatch {
		ot := c.opTask(t)
		c.opEvent(OperatorEvent{Type: OpTaskAdded, Task: &ot, User: ot.User})
	}
}

func (c *Core) opTaskUpdated(t *task, st mesos.TaskStatus) {
	if c.opWatch {
		ot := c.opTask(t)
		c.opEvent(OperatorEvent{Type: OpTaskUpdated, FrameworkID: t.frameworkID, Status: &st, State: t.state, User: ot.User})
	}
}

func (c *Core) opAgentAdded(a *agent) {
	if !c.opWatch {
		return
	}
	var used resource.Resources
	for _, t := range a.tasks {
		if !t.state.Terminal() && t.state != mesos.TaskUnreachable {
			used = used.Add(t.resources)
		}
	}
	for _, e := range a.executors {
		used = used.Add(e.resources)
	}
	oa := opAgent(a, used, resource.Resources{}) // a new registration has no offers yet
	c.opEvent(OperatorEvent{Type: OpAgentAdded, Agent: &oa})
}

func (c *Core) opAgentRemoved(a *agent) {
	c.opEvent(OperatorEvent{Type: OpAgentRemoved, AgentID: a.id})
}

func (c *Core) opFramework(f *framework, typ string) {
	if !c.opWatch {
		return
	}
	fws, done := c.OpFrameworks()
	for _, list := range [][]OpFramework{fws, done} {
		for i := range list {
			if list[i].FrameworkInfo.ID != nil && list[i].FrameworkInfo.ID.Value == f.id {
				c.opEvent(OperatorEvent{Type: typ, Framework: &list[i], User: f.info.User})
				return
			}
		}
	}
	info := f.info
	info.ID = &mesos.ID{Value: f.id}
	c.opEvent(OperatorEvent{Type: typ, Framework: &OpFramework{FrameworkInfo: info}, User: f.info.User})
}
