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

func TestMatchAgent(t *testing.T) {
	agents := []agentState{
		{ID: "c0ffee-S1", Hostname: "node-a.test"},
		{ID: "c0ffee-S2", Hostname: "node-b.test"},
		{ID: "beef-S3", Hostname: "node-b"},
	}
	for _, tc := range []struct {
		arg, want string
		code      int
	}{
		{"c0ffee-S2", "c0ffee-S2", ExitOK},   // an id
		{"node-b", "beef-S3", ExitOK},        // a hostname, though another starts with it
		{"node-a.test", "c0ffee-S1", ExitOK}, // a hostname
		{"beef", "beef-S3", ExitOK},          // an id prefix
		{"node-a", "c0ffee-S1", ExitOK},      // a hostname prefix
		{"c0ffee", "", ExitUsage},            // two ids begin so
		{"node-", "", ExitUsage},             // three hostnames
		{"nothing", "", ExitNotFound},
	} {
		a, err := matchAgent(agents, tc.arg)
		if code := exitCode(err); code != tc.code || a.ID != tc.want {
			t.Errorf("matchAgent(%q) = %q, %v (exit %d); want %q, exit %d", tc.arg, a.ID, err, code, tc.want, tc.code)
		}
	}
	if _, err := matchAgent(agents, "c0ffee"); err == nil || !strings.Contains(err.Error(), "c0ffee-S1 (node-a.test), c0ffee-S2 (node-b.test)") {
		t.Errorf("an ambiguous prefix: %v; want the matches listed", err)
	}
}
