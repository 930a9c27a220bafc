package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"corral/internal/apiclient"
)

func TestDrainProgress(t *testing.T) {
	agents := []agentState{
		{ID: "a1", Hostname: "h1", TaskCount: 3, DrainInfo: &apiclient.DrainInfo{State: "DRAINING"}},
		{ID: "a2", Hostname: "h2", DrainInfo: &apiclient.DrainInfo{State: "DRAINED"}},
		{ID: "a3", Hostname: "h3", State: "gone"},
	}
	for _, c := range []struct {
		id       string
		markGone bool
		want     string
		done     bool
	}{
		{"a1", false, "3 task(s) left", false},
		{"a2", false, "is DRAINED", true},
		{"a3", true, "drained and gone", true},
		{"a9", true, "is gone", true},
	} {
		line, done := drainProgress(agents, c.id, c.markGone)
		if done != c.done || !strings.Contains(line, c.want) {
			t.Errorf("drainProgress(%s) = %q, %v; want %q, %v", c.id, line, done, c.want, c.done)
		}
	}
}

func TestStatusShowsQuotasAndDrains(t *testing.T) {
	st := &masterState{Agents: []agentState{{ID: "a1", Active: true}, {ID: "a2", Deactivated: true, DrainInfo: &apiclient.DrainInfo{State: "DRAINING"}}}}
	var q apiclient.Quota
	if err := jsonUnmarshal(`{"role":"dev","guarantees":{"cpus":{"value":2}},"limits":{"cpus":{"value":4},"mem":{"value":512}}}`, &q); err != nil {
		t.Fatal(err)
	}
	st.Quotas = []apiclient.Quota{q}
	out := renderStatus(summarizeState(st, "M"))
	for _, want := range []string{"1 active of 2; 1 deactivated, 1 of them draining", "dev: guarantee cpus 2; limit cpus 4, mem 512"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
