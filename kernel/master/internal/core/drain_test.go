package core

import (
	"strings"
	"testing"
	"time"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

func newDrainScript(t *testing.T) (*script, func(cmd string, args ...string)) {
	s := &script{t: t, cfg: defaultConfig("m1"), now: epoch,
		reg:     fakeRegistry{agents: map[string]*AgentRecord{}, frameworks: map[string]*FrameworkRecord{}},
		streams: map[string]string{}, conns: map[string]string{}, infos: map[string]mesos.FrameworkInfo{}}
	s.core = New(s.cfg)
	return s, func(cmd string, args ...string) {
		t.Helper()
		if _, err := s.run(1, cmd, args); err != nil {
			t.Fatalf("%s %v: %v", cmd, args, err)
		}
	}
}

func writesOf(fx Effects) []string {
	var out []string
	for _, w := range fx.Writes {
		out = append(out, w.String())
	}
	return out
}

// TestDrainAgent: a drain stops offers, kills the agent's tasks within
// the drain's grace with the drain reason, refuses launches there, ends
// DRAINED once no task is left, and REACTIVATE brings the offers back.
func TestDrainAgent(t *testing.T) {
	s, run := newDrainScript(t)
	run("subscribe", "web.1", "id=web")
	run("register", "a1.1", "agent=a1", "res=cpus:4;mem:1024", "task=web/t1/TASK_RUNNING/cpus:1;mem:64", "task=web/t2/TASK_RUNNING/cpus:1;mem:64")
	s.core.frameworks["web"].tasks["t1"].info.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: mesos.Int(30 * time.Second)}}
	s.core.Allocate(s.now)
	if len(s.core.agentOffers("a1")) == 0 {
		t.Fatalf("no offer of a1 before the drain")
	}
	if _, e := s.core.DrainAgent("nope", nil, false, s.now); e == nil || e.Code != 400 {
		t.Errorf("drain of an unknown agent = %v; want 400", e)
	}
	grace := 10 * time.Second
	fx, e := s.core.DrainAgent("a1", &grace, false, s.now)
	if e != nil {
		t.Fatal(e)
	}
	kills := map[string]float64{}
	for _, a := range fx.Agents {
		if a.Event != nil && a.Event.Type == agentproto.EventKill {
			if !a.Event.Kill.Draining {
				t.Errorf("kill of %s not marked draining", a.Event.Kill.TaskID)
			}
			kills[a.Event.Kill.TaskID] = a.Event.Kill.GracePeriodSeconds
		}
	}
	if kills["t1"] != 10 || kills["t2"] != 10 || len(kills) != 2 {
		t.Errorf("drain kills = %v; want t1 and t2 with 10 s (the drain's cap, below t1's 30 s)", kills)
	}
	if w := writesOf(fx); len(w) != 1 || !strings.Contains(w[0], "deactivated=true drain=DRAINING") {
		t.Errorf("drain writes = %v", w)
	}
	if len(s.core.agentOffers("a1")) != 0 {
		t.Errorf("a draining agent still has offers")
	}
	s.core.Allocate(s.now)
	if len(s.core.agentOffers("a1")) != 0 {
		t.Errorf("a draining agent was offered")
	}
	if _, e := s.core.ReactivateAgent("a1", s.now); e == nil || e.Code != 400 {
		t.Errorf("reactivate while draining = %v; want 400", e)
	}
	run("update", "a1.1", "web", "t1", "TASK_KILLED", "uuid=u1")
	if s.core.agents["a1"].drain.State != DrainDraining {
		t.Errorf("drained with a task left")
	}
	run("update", "a1.1", "web", "t2", "TASK_KILLED", "uuid=u2")
	if st := s.core.Snapshot(s.now).Agents[0]; st.DrainInfo == nil || st.DrainInfo.State != DrainDrained || !st.Deactivated ||
		st.DrainInfo.Config.MaxGracePeriod == nil || st.DrainInfo.Config.MaxGracePeriod.Nanoseconds != mesos.Int(grace) {
		t.Errorf("/state agent after the drain = %+v", st)
	}
	fx, e = s.core.ReactivateAgent("a1", s.now)
	if e != nil {
		t.Fatal(e)
	}
	if w := writesOf(fx); len(w) != 1 || !strings.Contains(w[0], "deactivated=false drain=none") {
		t.Errorf("reactivate writes = %v", w)
	}
	s.core.Allocate(s.now)
	if len(s.core.agentOffers("a1")) == 0 {
		t.Errorf("no offer of a1 after it was reactivated")
	}
	if _, e := s.core.ReactivateAgent("a1", s.now); e == nil || e.Code != 400 {
		t.Errorf("reactivate of an active agent = %v; want 400", e)
	}
}

// TestDrainMarkGone: a drain with mark_gone reports the drained tasks
// TASK_GONE_BY_OPERATOR to a partition-aware framework and marks the
// agent gone once they ended; it may not register again.
func TestDrainMarkGone(t *testing.T) {
	s, run := newDrainScript(t)
	run("subscribe", "web.1", "id=web", "pa")
	run("register", "a1.1", "agent=a1", "res=cpus:4;mem:1024", "task=web/t1/TASK_RUNNING/cpus:1;mem:64")
	if _, e := s.core.DrainAgent("a1", nil, true, s.now); e != nil {
		t.Fatal(e)
	}
	fx, _ := s.core.AgentCall("a1", "a1.1", []agentproto.StatusUpdate{{FrameworkID: "web", LatestState: mesos.TaskKilled,
		Status: mesos.TaskStatus{TaskID: mesos.ID{Value: "t1"}, State: mesos.TaskKilled, Reason: mesos.ReasonAgentDraining, UUID: "u1"}}}, s.now)
	var states []mesos.TaskState
	for _, f := range fx.Frameworks {
		if f.Event != nil && f.Event.Type == mesos.EventUpdate {
			states = append(states, f.Event.Update.Status.State)
		}
	}
	if len(states) != 1 || states[0] != mesos.TaskGoneByOperator {
		t.Errorf("updates = %v; want TASK_GONE_BY_OPERATOR", states)
	}
	if w := writesOf(fx); len(w) == 0 || w[len(w)-1] != "agent gone a1" {
		t.Errorf("writes = %v; want the agent marked gone", w)
	}
	if _, _, err := s.core.RegisterCheck("a1", &agentproto.Register{Info: agentproto.AgentInfo{Hostname: "h"}}); err == nil {
		t.Errorf("a gone agent may register again")
	}
}

// TestMarkAgentGone: tasks of an agent marked gone end
// TASK_GONE_BY_OPERATOR (TASK_LOST for frameworks that are not partition
// aware); marking again is a no-op; an unknown agent is 404.
func TestMarkAgentGone(t *testing.T) {
	s, run := newDrainScript(t)
	run("subscribe", "web.1", "id=web", "pa")
	run("subscribe", "old.1", "id=old")
	run("register", "a1.1", "agent=a1", "res=cpus:4;mem:1024", "task=web/t1/TASK_RUNNING/cpus:1;mem:64", "task=old/t2/TASK_RUNNING/cpus:1;mem:64")
	fx, e := s.core.MarkAgentGone("a1", s.now)
	if e != nil {
		t.Fatal(e)
	}
	var got []string
	for _, f := range fx.Frameworks {
		if f.Event != nil && f.Event.Type == mesos.EventUpdate {
			got = append(got, string(f.Event.Update.Status.State)+"/"+f.Event.Update.Status.Reason)
		}
	}
	if len(got) != 2 || got[0] != "TASK_GONE_BY_OPERATOR/REASON_AGENT_REMOVED_BY_OPERATOR" || got[1] != "TASK_LOST/REASON_AGENT_REMOVED" {
		t.Errorf("updates = %v", got)
	}
	if fx, e := s.core.MarkAgentGone("a1", s.now); e != nil || len(fx.Writes) != 0 {
		t.Errorf("marking again = %v, %v; want nothing", fx.Writes, e)
	}
	if _, e := s.core.MarkAgentGone("nope", s.now); e == nil || e.Code != 404 {
		t.Errorf("unknown agent = %v; want 404", e)
	}
	if st := s.core.Snapshot(s.now).Agents[0]; st.State != "gone" {
		t.Errorf("agent state = %s; want gone", st.State)
	}
}
