package e2e

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"corral/internal/testcluster"
	"corral/kernel/mesos"
)

// operator POSTs an operator API call to the master and returns the status.
func operator(t *testing.T, c *testcluster.Cluster, body string) int {
	t.Helper()
	resp, err := c.HTTP.Post(c.URL+"/api/v1", "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestDrainAgent drains a real agent: its tasks end TASK_KILLED with
// REASON_AGENT_DRAINING within the drain's grace period, it gets no new
// task, it ends DRAINED, and undraining brings it back into use.
func TestDrainAgent(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Agents: 1})
	f := startFramework(t, c.URL, plainInfo("drained"))
	f.launch(shellTask("a", "sleep 600", 0.1, 32), shellTask("b", "trap '' TERM; sleep 600", 0.1, 32))
	run := f.waitState("a", 30*time.Second, mesos.TaskRunning)
	f.waitState("b", 30*time.Second, mesos.TaskRunning)
	agentID := run.AgentID.Value
	if code := operator(t, c, `{"type":"DRAIN_AGENT","drain_agent":{"agent_id":{"value":"`+agentID+`"},"max_grace_period":{"seconds":1}}}`); code != http.StatusOK {
		t.Fatalf("DRAIN_AGENT = %d", code)
	}
	for _, id := range []string{"a", "b"} {
		st := f.waitState(id, 30*time.Second, mesos.TaskKilled, mesos.TaskFailed, mesos.TaskFinished)
		if st.State != mesos.TaskKilled || st.Reason != mesos.ReasonAgentDraining {
			t.Errorf("task %s after the drain: %s", id, statesOf(f.history(id)))
		}
	}
	testcluster.Eventually(t, 30*time.Second, func() bool {
		for _, a := range c.State().Agents {
			if a.ID == agentID {
				return a.DrainInfo != nil && a.DrainInfo.State == "DRAINED" && a.Deactivated && !a.Active
			}
		}
		return false
	}, "the agent to be DRAINED")
	// Nothing new lands on it.
	f.launch(shellTask("late", "sleep 600", 0.1, 32))
	time.Sleep(500 * time.Millisecond) // offers would come within the allocation interval
	if ups := f.history("late"); len(ups) != 0 {
		t.Errorf("a task was launched on a drained agent: %v", statesOf(ups))
	}
	if code := operator(t, c, `{"type":"REACTIVATE_AGENT","reactivate_agent":{"agent_id":{"value":"`+agentID+`"}}}`); code != http.StatusOK {
		t.Fatalf("REACTIVATE_AGENT = %d", code)
	}
	f.waitState("late", 30*time.Second, mesos.TaskRunning)
}
