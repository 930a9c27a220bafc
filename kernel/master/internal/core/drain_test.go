package core

import (
	"reflect"
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
	if kills := drainKillsOf(t, fx); kills["t1"] != 10 || len(kills) != 1 {
		t.Errorf("drain kills = %v; want t1 at once with 10 s (the drain's cap, below t1's 30 s)", kills)
	}
	// t2 has no kill policy: it gets the default 5 s, and so its kill
	// comes 5 s before the deadline.
	if kills := drainKillsOf(t, s.core.Tick(s.now.Add(4*time.Second))); len(kills) != 0 {
		t.Errorf("kills 4 s into the drain = %v; want none", kills)
	}
	if kills := drainKillsOf(t, s.core.Tick(s.now.Add(5*time.Second))); kills["t2"] != 5 || len(kills) != 1 {
		t.Errorf("kills 5 s into the drain = %v; want t2 with 5 s", kills)
	}
	if kills := drainKillsOf(t, s.core.Tick(s.now.Add(6*time.Second))); len(kills) != 0 {
		t.Errorf("kills 6 s into the drain = %v; want none (each is sent once)", kills)
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

func drainKillsOf(t *testing.T, fx Effects) map[string]float64 {
	t.Helper()
	kills := map[string]float64{}
	for _, a := range fx.Agents {
		if a.Event != nil && a.Event.Type == agentproto.EventKill {
			if !a.Event.Kill.Draining {
				t.Errorf("kill of %s not marked draining", a.Event.Kill.TaskID)
			}
			kills[a.Event.Kill.TaskID] = a.Event.Kill.GracePeriodSeconds
		}
	}
	return kills
}

func eventsOf(fx Effects, fw string, typ mesos.EventType) []*mesos.Event {
	var out []*mesos.Event
	for _, f := range fx.Frameworks {
		if f.Framework == fw && f.Event != nil && f.Event.Type == typ {
			out = append(out, f.Event)
		}
	}
	return out
}

// TestDrainInverseOffers: a drain with a deadline tells the frameworks
// with tasks on the agent by inverse offers and kills nothing before the
// kills are due; a framework that accepts has its tasks killed at once,
// one that declines is asked again once its filter ends; a framework
// that re-subscribes is asked again; once a framework has nothing left
// there its inverse offer is rescinded; a framework without tasks there
// is not asked.
func TestDrainInverseOffers(t *testing.T) {
	s, run := newDrainScript(t)
	s.core.cfg.AgentPingInterval = time.Hour // no heartbeats in this test
	run("subscribe", "web.1", "id=web")
	run("subscribe", "batch.1", "id=batch")
	run("subscribe", "idle.1", "id=idle")
	run("register", "a1.1", "agent=a1", "res=cpus:4;mem:1024", "task=web/t1/TASK_RUNNING/cpus:1;mem:64", "task=batch/t2/TASK_RUNNING/cpus:1;mem:64")
	deadline := 10 * time.Minute
	fx, e := s.core.DrainAgent("a1", &deadline, false, s.now)
	if e != nil {
		t.Fatal(e)
	}
	if kills := drainKillsOf(t, fx); len(kills) != 0 {
		t.Errorf("kills at the start of a 10 min drain = %v; want none", kills)
	}
	inverse := map[string]mesos.InverseOffer{}
	for _, fw := range []string{"web", "batch", "idle"} {
		for _, ev := range eventsOf(fx, fw, mesos.EventInverseOffers) {
			inverse[fw] = ev.InverseOffers.InverseOffers[0]
		}
	}
	if len(inverse) != 2 || inverse["web"].AgentID.Value != "a1" || inverse["batch"].AgentID.Value != "a1" ||
		inverse["web"].Unavailability.Start.Nanoseconds != mesos.Int(s.now.UnixNano()) {
		t.Fatalf("inverse offers = %+v; want one each to web and batch, from now", inverse)
	}
	if fx := s.core.Tick(s.now.Add(time.Second)); len(eventsOf(fx, "web", mesos.EventInverseOffers)) != 0 {
		t.Errorf("a second inverse offer while one is outstanding")
	}
	// web accepts: t1 is killed now, with its default grace.
	fx, r := s.core.Call(&mesos.Call{FrameworkID: &mesos.ID{Value: "web"}, Type: mesos.CallAcceptInverseOffers,
		AcceptInverseOffers: &mesos.InverseOfferReply{InverseOfferIDs: []mesos.ID{inverse["web"].ID}}}, "web.1", s.now.Add(time.Second))
	if r != nil {
		t.Fatal(r)
	}
	if kills := drainKillsOf(t, fx); kills["t1"] != 5 || len(kills) != 1 {
		t.Errorf("kills after web accepted = %v; want t1 with 5 s", kills)
	}
	// batch declines for 30 s: asked again after that, not before.
	refuse := mesos.Float(30)
	s.core.Call(&mesos.Call{FrameworkID: &mesos.ID{Value: "batch"}, Type: mesos.CallDeclineInverseOffers,
		DeclineInverseOffers: &mesos.InverseOfferReply{InverseOfferIDs: []mesos.ID{inverse["batch"].ID}, Filters: &mesos.Filters{RefuseSeconds: &refuse}}},
		"batch.1", s.now.Add(time.Second))
	if st := s.core.agents["a1"].inverse.status["batch"]; st.Status != InverseDecline {
		t.Errorf("batch's answer = %+v; want DECLINE", st)
	}
	if fx := s.core.Tick(s.now.Add(20 * time.Second)); len(eventsOf(fx, "batch", mesos.EventInverseOffers)) != 0 {
		t.Errorf("asked again within the decline's filter")
	}
	if fx := s.core.Tick(s.now.Add(32 * time.Second)); len(eventsOf(fx, "batch", mesos.EventInverseOffers)) != 1 {
		t.Errorf("not asked again after the decline's filter")
	}
	// batch fails over: asked again on its new stream.
	start := s.now
	s.now = start.Add(33 * time.Second)
	run("subscribe", "batch.2", "id=batch")
	if s.core.agents["a1"].inverse.outstanding["batch"] == nil {
		t.Errorf("batch was not asked again after it re-subscribed")
	}
	// t2 ends: batch's inverse offer is rescinded.
	run("update", "a1.1", "batch", "t2", "TASK_FINISHED", "uuid=u2")
	if fx := s.core.Tick(s.now); len(eventsOf(fx, "batch", mesos.EventRescindInverseOffer)) != 1 {
		t.Errorf("batch's inverse offer was not rescinded once it had nothing left on a1")
	}
	// The deadline's kills still come for what is left.
	if kills := drainKillsOf(t, s.core.Tick(start.Add(deadline))); len(kills) != 0 {
		t.Errorf("kills at the deadline = %v; want none left (t1 was killed, t2 ended)", kills)
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

// TestStateSourceIsACopy: a StateSource shows the cluster as it was when
// taken, whatever the core does after, and builds the same State as
// Snapshot did then.
func TestStateSourceIsACopy(t *testing.T) {
	s, run := newDrainScript(t)
	run("subscribe", "web.1", "id=web")
	run("register", "a1.1", "agent=a1", "res=cpus:4;mem:1024", "task=web/t1/TASK_RUNNING/cpus:1;mem:64")
	s.core.Allocate(s.now)
	want := s.core.Snapshot(s.now)
	src := s.core.StateSource()

	run("update", "a1.1", "web", "t1", "TASK_FINISHED")
	run("register", "a2.1", "agent=a2", "res=cpus:2;mem:512")
	if _, e := s.core.DrainAgent("a1", nil, false, s.now); e != nil {
		t.Fatal(e)
	}
	s.core.Allocate(s.now)
	if now := s.core.Snapshot(s.now); reflect.DeepEqual(now, want) {
		t.Fatalf("Snapshot did not change after the cluster did: the test proves nothing")
	}
	if got := src.State(s.now); !reflect.DeepEqual(got, want) {
		t.Errorf("StateSource.State after the core changed =\n%+v\nwant (Snapshot when taken)\n%+v", got, want)
	}
}
