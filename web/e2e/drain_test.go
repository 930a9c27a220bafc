package e2e

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"corral/internal/testcluster"
)

// TestConsoleShowsDrainedAgents: an agent an operator deactivates,
// drains or schedules for maintenance says so on the cluster page, live,
// and so do the roles' quotas.
func TestConsoleShowsDrainedAgents(t *testing.T) {
	b := startBrowser(t)
	c := testcluster.Start(t, testcluster.Options{Agents: 1})
	c.WaitAgents(1)
	id := c.State().Agents[0].ID
	b.do("opening the cluster page", chromedp.Navigate(c.URL+"/#/cluster"))
	row := `document.querySelector('#agents tr[data-agent-id="` + id + `"]')`
	b.waitJS("the agent's row", 20*time.Second, row)
	call := func(body string) {
		t.Helper()
		resp, err := c.HTTP.Post(c.URL+"/api/v1", "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", body, resp.Status)
		}
	}
	call(`{"type":"DRAIN_AGENT","drain_agent":{"agent_id":{"value":"` + id + `"}}}`)
	b.waitJS("the agent shown drained", 20*time.Second, row+`.textContent.includes('drained')`)
	call(`{"type":"REACTIVATE_AGENT","reactivate_agent":{"agent_id":{"value":"` + id + `"}}}`)
	call(`{"type":"DEACTIVATE_AGENT","deactivate_agent":{"agent_id":{"value":"` + id + `"}}}`)
	b.waitJS("the agent shown deactivated", 20*time.Second, row+`.textContent.includes('deactivated') && !`+row+`.textContent.includes('drained')`)
	b.screenshot("agent-deactivated")
	call(`{"type":"UPDATE_MAINTENANCE_SCHEDULE","update_maintenance_schedule":{"schedule":{"windows":[{"machine_ids":[{"hostname":"agent0.test"}],"unavailability":{"start":{"nanoseconds":1900000000000000000}}}]}}}`)
	b.waitJS("the agent shown in maintenance", 20*time.Second, row+`.querySelector('[title^="scheduled for maintenance from 2030-03-17"]') !== null`)
	b.screenshot("agent-maintenance")
	if shown, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`!document.getElementById('quotas-section').hidden`)); err != nil || shown {
		t.Errorf("the quotas section shows with no quota set (%v)", err)
	}
	call(`{"type":"UPDATE_QUOTA","update_quota":{"quota_configs":[{"role":"dev","guarantees":{"cpus":{"value":1}},"limits":{"cpus":{"value":2},"mem":{"value":512}}}]}}`)
	b.waitJS("the role's quota on the cluster page", 20*time.Second,
		`(() => { const r = document.querySelector('#quotas tr[data-role="dev"]'); return r && r.textContent.includes('cpus 1') && r.textContent.includes('mem 512') })()`)
}
