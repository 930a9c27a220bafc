package e2e

import (
	"testing"
	"time"

	"corral/internal/testcluster"
	"corral/kernel/mesos"
	"corral/kernel/sched"
)

// TestProtobufFramework runs tasks for a framework whose client speaks
// protobuf (as Mesos' own v1 libraries do by default) on real agents:
// SUBSCRIBE, OFFERS, ACCEPT, DECLINE, REVIVE, RECONCILE, UPDATE,
// ACKNOWLEDGE and KILL all go through the protobuf codec.
func TestProtobufFramework(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Agents: 1})
	f := startFramework(t, c.URL, plainInfo("protobuf"), func(cfg *sched.Config) { cfg.Protobuf = true })

	f.launch(
		shellTask("ok", `test "$MESOS_TASK_ID" = ok`, 0.1, 32),
		shellTask("sleeper", "sleep 600", 0.1, 32),
	)
	if st := f.waitState("ok", 30*time.Second, mesos.TaskFinished, mesos.TaskFailed); st.State != mesos.TaskFinished {
		t.Errorf("task ok: %s %s", st.State, st.Message)
	}
	run := f.waitState("sleeper", 30*time.Second, mesos.TaskRunning)
	if run.UUID == "" || run.AgentID == nil {
		t.Fatalf("TASK_RUNNING update = %+v; want a uuid and an agent id", run)
	}
	if err := f.client.Kill(t.Context(), "sleeper", run.AgentID.Value); err != nil {
		t.Fatal(err)
	}
	if st := f.waitState("sleeper", 30*time.Second, mesos.TaskKilled, mesos.TaskFailed); st.State != mesos.TaskKilled {
		t.Errorf("kill: %s %s", st.State, st.Message)
	}
	for _, id := range []string{"ok", "sleeper"} {
		if d, n := countTerminal(f.history(id)); d != 1 {
			t.Errorf("task %s: %d distinct terminal updates (%d in all): %v", id, d, n, statesOf(f.history(id)))
		}
	}
}
