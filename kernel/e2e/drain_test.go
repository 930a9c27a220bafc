package e2e

import (
	"bytes"
	"fmt"
	io2 "io"
	"net/http"
	"strings"
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

// TestMaintenanceWindow puts the machine of a framework's task in the
// maintenance schedule: the framework gets an inverse offer with the
// window, declines it and is asked again once its filter ends, and
// GET_MAINTENANCE_STATUS shows its answer. START_MAINTENANCE takes the
// machine down (the task is lost, the agent removed); STOP_MAINTENANCE
// takes it out of the schedule.
func TestMaintenanceWindow(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Agents: 1})
	f := startFramework(t, c.URL, plainInfo("maintained"))
	f.launch(shellTask("a", "sleep 600", 0.1, 32))
	run := f.waitState("a", 30*time.Second, mesos.TaskRunning)
	start := time.Now().Add(time.Hour).UnixNano()
	machine := `{"hostname":"agent0.test"}`
	if code := operator(t, c, fmt.Sprintf(`{"type":"UPDATE_MAINTENANCE_SCHEDULE","update_maintenance_schedule":{"schedule":{"windows":[`+
		`{"machine_ids":[%s],"unavailability":{"start":{"nanoseconds":%d},"duration":{"nanoseconds":3600000000000}}}]}}}`, machine, start)); code != http.StatusOK {
		t.Fatalf("UPDATE_MAINTENANCE_SCHEDULE = %d", code)
	}
	testcluster.Eventually(t, 30*time.Second, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.inverse) >= 2
	}, "a second inverse offer after the first was declined")
	f.mu.Lock()
	io := f.inverse[0]
	f.mu.Unlock()
	if io.AgentID == nil || io.AgentID.Value != run.AgentID.Value || io.Unavailability.Start.Nanoseconds != mesos.Int(start) ||
		io.Unavailability.Duration == nil || io.Unavailability.Duration.Nanoseconds != mesos.Int(time.Hour) {
		t.Errorf("inverse offer = %+v; want agent %s, the window from %d for an hour", io, run.AgentID.Value, start)
	}
	resp, err := c.HTTP.Post(c.URL+"/api/v1", "application/json", strings.NewReader(`{"type":"GET_MAINTENANCE_STATUS"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io2.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"status":"DECLINE"`) || !strings.Contains(string(body), f.client.FrameworkID()) {
		t.Errorf("GET_MAINTENANCE_STATUS = %s; want the framework's DECLINE", body)
	}
	if code := operator(t, c, `{"type":"START_MAINTENANCE","start_maintenance":{"machines":[`+machine+`]}}`); code != http.StatusOK {
		t.Fatalf("START_MAINTENANCE = %d", code)
	}
	if st := f.waitState("a", 30*time.Second, mesos.TaskLost, mesos.TaskGoneByOperator); st.State != mesos.TaskGoneByOperator ||
		st.Reason != mesos.ReasonAgentRemovedByOperator || !strings.Contains(st.Message, "maintenance") {
		t.Errorf("task after START_MAINTENANCE: %s", statesOf(f.history("a")))
	}
	for _, a := range c.State().Agents {
		if a.ID == run.AgentID.Value && a.State != "gone" {
			t.Errorf("agent after START_MAINTENANCE: %s; want gone", a.State)
		}
	}
	if code := operator(t, c, `{"type":"STOP_MAINTENANCE","stop_maintenance":{"machines":[`+machine+`]}}`); code != http.StatusOK {
		t.Fatalf("STOP_MAINTENANCE = %d", code)
	}
}
