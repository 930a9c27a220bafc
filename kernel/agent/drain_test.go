package agent

import (
	"testing"
	"time"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// TestDrainKill: a task the master kills because it drains the agent
// ends TASK_KILLED with REASON_AGENT_DRAINING.
func TestDrainKill(t *testing.T) {
	m := newFakeMaster(t)
	startAgent(t, testConfig(t, m.srv.URL))
	m.waitRegister(t)
	m.event(launch("F", cmdTask("t1", "exec sleep 600")))
	m.waitState(t, "t1", mesos.TaskRunning, 10*time.Second)
	m.event(agentproto.Event{Type: agentproto.EventKill, Kill: &agentproto.Kill{FrameworkID: "F", TaskID: "t1", GracePeriodSeconds: 1, Draining: true}})
	u := m.waitState(t, "t1", mesos.TaskKilled, 10*time.Second)
	if u.Status.Reason != mesos.ReasonAgentDraining {
		t.Errorf("drained task's end = %s %s %q; want REASON_AGENT_DRAINING", u.Status.State, u.Status.Reason, u.Status.Message)
	}
}
