package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"corral/internal/testcluster"
)

// An operator drains the agent running most of a 4-instance
// health-checked app with a 10-minute deadline. The services framework
// hears of it by inverse offer, launches replacements on the other agent
// first and stops each instance on the drained one only as replacements
// turn healthy: at no time are fewer than 4 healthy (minimumHealthCapacity
// 1). Once it has nothing left there it accepts the inverse offer, so the
// agent is DRAINED long before the deadline, and no task was killed by
// the drain itself.
func TestDrainMigratesBeforeTheKill(t *testing.T) {
	c, _, a := startServices(t, 2)
	a.must("POST", "/v2/apps", webApp("/mig", 4, nil), 201)
	a.waitDeployed(90 * time.Second)

	perAgent := map[string]int{}
	for _, tk := range a.app("/mig").Tasks {
		perAgent[tk.SlaveID]++
	}
	var drained string
	for id, n := range perAgent {
		if drained == "" || n > perAgent[drained] || (n == perAgent[drained] && id < drained) {
			drained = id
		}
	}
	floor := a.healthFloor("/mig")
	events := a.events("agent_draining_event")
	body := fmt.Sprintf(`{"type":"DRAIN_AGENT","drain_agent":{"agent_id":{"value":%q},"max_grace_period":{"seconds":600}}}`, drained)
	resp, err := c.HTTP.Post(c.URL+"/api/v1", "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("DRAIN_AGENT = %d", resp.StatusCode)
	}

	testcluster.Eventually(t, 120*time.Second, func() bool {
		for _, ag := range c.State().Agents {
			if ag.ID == drained {
				return ag.DrainInfo != nil && ag.DrainInfo.State == "DRAINED"
			}
		}
		return false
	}, "the drained agent DRAINED")
	least, samples := floor()

	ap := a.app("/mig")
	if healthyTasks(ap) != 4 || len(ap.Tasks) != 4 {
		t.Fatalf("after the drain: %d healthy of %d tasks; want 4 of 4", healthyTasks(ap), len(ap.Tasks))
	}
	for _, tk := range ap.Tasks {
		if tk.SlaveID == drained {
			t.Errorf("task %s is still on the drained agent", tk.ID)
		}
	}
	if least < 4 {
		t.Errorf("healthy instances dropped to %d during the drain (%d samples); minimumHealthCapacity 1 of 4 keeps 4", least, samples)
	}
	sawDraining := false
	for !sawDraining {
		select {
		case ev := <-events:
			sawDraining = ev["agentId"] == drained
			continue
		default:
		}
		break
	}
	if !sawDraining {
		t.Errorf("no agent_draining_event for %s", drained)
	}
	for _, fw := range c.State().Frameworks {
		for _, tk := range fw.CompletedTasks {
			if tk.Reason == "REASON_AGENT_DRAINING" {
				t.Errorf("task %s was killed by the drain rather than migrated", tk.ID)
			}
		}
	}
}
