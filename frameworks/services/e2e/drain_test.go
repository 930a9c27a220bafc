package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
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

// BenchmarkDrain100 measures, from outside through the operator and
// services APIs, how long a drain of an agent running all 100 instances
// of a health-checked app (`sleep` with a COMMAND health check run by the
// agent every 2 s from 1 s after the start, not Marathon's default 15 s;
// minimumHealthCapacity 1, maximumOverCapacity 1) takes from DRAIN_AGENT (10-minute deadline) until the agent is
// DRAINED, with every instance migrated to the other agent, and the
// fewest healthy instances seen meanwhile (sampled every 100 ms). Each
// round drains the agent the previous round moved the app onto.
func BenchmarkDrain100(b *testing.B) {
	const n = 100
	c := testcluster.Start(b, testcluster.Options{Agents: 2, Resources: func(i int) string {
		return fmt.Sprintf("cpus:32;mem:32768;disk:10000;ports:[%d-%d]", 31000+i*1000, 31999+i*1000)
	}})
	f := c.StartFramework("services")
	a := api{t: b, url: f.URL}
	var ids []string
	for _, ag := range c.State().Agents {
		ids = append(ids, ag.ID)
	}
	operator := func(call, id string) {
		body := fmt.Sprintf(`{"type":%q,%q:{"agent_id":{"value":%q}}}`, call, strings.ToLower(call), id)
		if call == "DRAIN_AGENT" {
			body = fmt.Sprintf(`{"type":"DRAIN_AGENT","drain_agent":{"agent_id":{"value":%q},"max_grace_period":{"seconds":600}}}`, id)
		}
		resp, err := c.HTTP.Post(c.URL+"/api/v1", "application/json", bytes.NewBufferString(body))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
	var sumTook, sumFewest float64
	round := 0
	for b.Loop() {
		b.StopTimer()
		source, target := ids[round%2], ids[(round+1)%2]
		round++
		operator("DEACTIVATE_AGENT", target)
		operator("REACTIVATE_AGENT", source)
		app := fmt.Sprintf("/drain%d", round)
		a.must("POST", "/v2/apps", map[string]any{"id": app, "cmd": "sleep 3600", "cpus": 0.01, "mem": 16, "instances": n,
			"healthChecks": []map[string]any{{"protocol": "COMMAND", "command": map[string]any{"value": "true"},
				"delaySeconds": 1, "gracePeriodSeconds": 10, "intervalSeconds": 2, "timeoutSeconds": 2, "maxConsecutiveFailures": 3}},
			"upgradeStrategy": map[string]any{"minimumHealthCapacity": 1, "maximumOverCapacity": 1}}, 201)
		a.waitDeployed(5 * time.Minute)
		operator("REACTIVATE_AGENT", target)
		floor := a.healthFloor(app)
		b.StartTimer()
		start := time.Now()
		operator("DRAIN_AGENT", source)
		last := time.Now()
		testcluster.Eventually(b, 10*time.Minute, func() bool {
			if time.Since(last) > 5*time.Second {
				last = time.Now()
				ap := a.app(app)
				on := 0
				for _, tk := range ap.Tasks {
					if tk.SlaveID == source {
						on++
					}
				}
				b.Logf("%s into the drain: %d tasks, %d healthy, %d on the draining agent", time.Since(start).Round(time.Second), len(ap.Tasks), healthyTasks(ap), on)
			}
			for _, ag := range c.State().Agents {
				if ag.ID == source {
					return ag.DrainInfo != nil && ag.DrainInfo.State == "DRAINED"
				}
			}
			return false
		}, "the drained agent DRAINED")
		took := time.Since(start)
		b.StopTimer()
		fewest, _ := floor()
		sumTook += took.Seconds()
		sumFewest += float64(fewest)
		if ap := a.app(app); healthyTasks(ap) != n {
			b.Fatalf("after the drain: %d of %d healthy", healthyTasks(ap), n)
		}
		a.must("DELETE", "/v2/apps"+app, nil, 200)
		a.waitDeployed(5 * time.Minute)
		b.StartTimer()
	}
	b.ReportMetric(sumTook/float64(round), "s_drain_to_drained")
	b.ReportMetric(sumFewest/float64(round), "fewest_healthy")
}
