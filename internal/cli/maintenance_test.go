package cli_test

import (
	"testing"

	"corral/internal/cli"
	"corral/internal/testcluster"
)

// TestMaintenanceVerbs takes a real agent's machine through maintenance:
// scheduled (DRAINING, its window shown), down (the agent removed), up
// (out of the schedule); a bad machine and a down of an unscheduled one
// are refused.
func TestMaintenanceVerbs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	c := testcluster.Start(t, testcluster.Options{Agents: 1})
	cl := client{t: t, env: map[string]string{"CORRAL_MASTER": c.URL}}
	contains(t, "status with nothing scheduled", cl.must(cli.ExitOK, "maintenance", "status"), "no machine is scheduled for maintenance")
	_, stderr, code := cl.run("maintenance", "schedule", "host/not-an-ip")
	if code != cli.ExitUsage {
		t.Errorf("schedule of a bad machine: exit %d %s; want %d", code, stderr, cli.ExitUsage)
	}
	_, stderr, code = cl.run("maintenance", "down", "elsewhere.test")
	contains(t, "down of an unscheduled machine", stderr, "not part of a maintenance schedule")
	if code == cli.ExitOK {
		t.Errorf("down of an unscheduled machine succeeded")
	}
	contains(t, "schedule", cl.must(cli.ExitOK, "maintenance", "schedule", "agent0.test", "--at", "2030-01-02T03:04:05Z", "--duration", "2h"),
		"machine agent0.test is DRAINING: down from 2030-01-02T03:04:05Z for 2h0m0s")
	contains(t, "status while draining", cl.must(cli.ExitOK, "maintenance", "status"),
		"MACHINE", "agent0.test", "DRAINING", "2030-01-02T03:04:05Z → 2030-01-02T05:04:05Z")
	contains(t, "down", cl.must(cli.ExitOK, "maintenance", "down", "agent0.test"), "machine agent0.test is DOWN")
	contains(t, "status while down", cl.must(cli.ExitOK, "maintenance", "status"), "agent0.test", "DOWN")
	if st := c.State(); len(st.Agents) != 1 || st.Agents[0].State != "gone" {
		t.Errorf("agents after maintenance down = %+v; want the agent gone", st.Agents)
	}
	contains(t, "up", cl.must(cli.ExitOK, "maintenance", "up", "agent0.test"), "machine agent0.test is UP")
	contains(t, "status after up", cl.must(cli.ExitOK, "maintenance", "status"), "no machine is scheduled for maintenance")
}
