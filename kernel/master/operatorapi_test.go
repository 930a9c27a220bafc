package master

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"corral/internal/testpg"
	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// op POSTs an operator call and decodes a 200 answer into out (if any).
func op(t *testing.T, url, body string, out any) (int, string) {
	t.Helper()
	resp, text := post(t, url+"/api/v1", jsonCT, body)
	if resp.StatusCode == 200 && out != nil && text != "" {
		if err := json.Unmarshal([]byte(text), out); err != nil {
			t.Fatalf("decoding %s: %v", text, err)
		}
	}
	return resp.StatusCode, text
}

type getAgents struct {
	GetAgents struct {
		Agents []struct {
			AgentInfo struct {
				ID       mesos.ID `json:"id"`
				Hostname string   `json:"hostname"`
			} `json:"agent_info"`
			Active      bool `json:"active"`
			Deactivated bool `json:"deactivated"`
			DrainInfo   *struct {
				State  string `json:"state"`
				Config struct {
					MaxGracePeriod *mesos.DurationInfo `json:"max_grace_period"`
					MarkGone       bool                `json:"mark_gone"`
				} `json:"config"`
			} `json:"drain_info"`
			TotalResources []mesos.Resource `json:"total_resources"`
		} `json:"agents"`
	} `json:"get_agents"`
}

// TestOperatorAPI drives POST /api/v1: the reads in Mesos' shapes, the
// refusals, and an agent deactivated, drained (its task killed with the
// drain reason, DRAINED once it ended), reactivated, and marked gone;
// the deactivation outlives a master restart.
func TestOperatorAPI(t *testing.T) {
	db := testpg.URL(t)
	tm := startMasterOn(t, db, func(c *Config) { c.Flags = []Flag{{Name: "listen", Value: "x"}} })
	a := registerAgent(t, tm.url, "", "cpus:4;mem:1024", []agentproto.Task{{FrameworkID: "F", State: mesos.TaskRunning,
		TaskInfo: mesos.TaskInfo{Name: "web", TaskID: mesos.ID{Value: "t1"}, AgentID: mesos.ID{Value: "x"},
			Resources: []mesos.Resource{{Name: "cpus", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 1}}},
			Command:   &mesos.CommandInfo{Value: "sleep 1"}}}})
	stopBeat := a.keepAlive(100 * time.Millisecond)
	defer stopBeat()

	for _, c := range []struct {
		body, want string
	}{
		{`{"type":"GET_HEALTH"}`, `"get_health":{"healthy":true}`},
		{`{"type":"GET_VERSION"}`, `"version_info"`},
		{`{"type":"GET_FLAGS"}`, `{"name":"listen","value":"x"}`},
		{`{"type":"GET_METRICS"}`, `"metrics":[{"name":`},
		{`{"type":"GET_MASTER"}`, `"master_info"`},
		{`{"type":"GET_TASKS"}`, `"task_id":{"value":"t1"}`},
		{`{"type":"GET_FRAMEWORKS"}`, `"framework_info"`},
		{`{"type":"GET_ROLES"}`, `"roles":[`},
		{`{"type":"GET_STATE"}`, `"get_agents":{"agents":[{"agent_info"`},
		{`{"type":"GET_EXECUTORS"}`, `"executors":[]`},
	} {
		code, text := op(t, tm.url, c.body, nil)
		if code != 200 || !strings.Contains(text, c.want) {
			t.Errorf("%s = %d %s; want 200 with %s", c.body, code, text, c.want)
		}
	}
	if code, _ := op(t, tm.url, `{"type":"UPDATE_WEIGHTS","update_weights":{"weight_infos":[{"role":"prod","weight":2.5}]}}`, nil); code != 200 {
		t.Errorf("UPDATE_WEIGHTS = %d", code)
	}
	if _, text := op(t, tm.url, `{"type":"GET_WEIGHTS"}`, nil); !strings.Contains(text, `{"role":"prod","weight":2.5}`) {
		t.Errorf("GET_WEIGHTS = %s", text)
	}
	for _, c := range []struct {
		body string
		code int
		want string
	}{
		{`{"type":"UNKNOWN"}`, 501, "UNKNOWN"},
		{`{"type":"GET_OPERATIONS"}`, 501, "GET_OPERATIONS"},
		{`{"type":"DRAIN_AGENT"}`, 400, "drain_agent.agent_id"},
		{`{"type":"DRAIN_AGENT","drain_agent":{"agent_id":{"value":"nope"}}}`, 400, "Unknown agent"},
		{`{"type":"GET_HEALTH","surprise":1}`, 400, "surprise"},
		{`{"type":"MARK_AGENT_GONE","mark_agent_gone":{"agent_id":{"value":"nope"}}}`, 404, "Unknown agent"},
		{`{"type":"REACTIVATE_AGENT","reactivate_agent":{"agent_id":{"value":"` + a.id + `"}}}`, 400, "not deactivated"},
	} {
		if code, text := op(t, tm.url, c.body, nil); code != c.code || !strings.Contains(text, c.want) {
			t.Errorf("%s = %d %s; want %d mentioning %s", c.body, code, text, c.code, c.want)
		}
	}

	var ag getAgents
	ag = getAgents{}
	op(t, tm.url, `{"type":"GET_AGENTS"}`, &ag)
	if len(ag.GetAgents.Agents) != 1 || !ag.GetAgents.Agents[0].Active || ag.GetAgents.Agents[0].Deactivated || len(ag.GetAgents.Agents[0].TotalResources) == 0 {
		t.Fatalf("GET_AGENTS = %+v", ag)
	}

	// Drain: the task is killed with the drain's grace and reason.
	if code, text := op(t, tm.url, `{"type":"DRAIN_AGENT","drain_agent":{"agent_id":{"value":"`+a.id+`"},"max_grace_period":{"seconds":3}}}`, nil); code != 200 {
		t.Fatalf("DRAIN_AGENT = %d %s", code, text)
	}
	kill := a.s.nextAgentEvent(agentproto.EventKill)
	if kill.Kill.TaskID != "t1" || !kill.Kill.Draining || kill.Kill.GracePeriodSeconds != 3 {
		t.Errorf("drain kill = %+v", kill.Kill)
	}
	ag = getAgents{}
	op(t, tm.url, `{"type":"GET_AGENTS"}`, &ag)
	if d := ag.GetAgents.Agents[0].DrainInfo; d == nil || d.State != "DRAINING" || ag.GetAgents.Agents[0].Active ||
		d.Config.MaxGracePeriod == nil || d.Config.MaxGracePeriod.Nanoseconds != mesos.Int(3*time.Second) {
		t.Errorf("GET_AGENTS while draining = %+v", ag.GetAgents.Agents[0])
	}
	a.update("F", "t1", mesos.TaskKilled)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ag = getAgents{}
		op(t, tm.url, `{"type":"GET_AGENTS"}`, &ag)
		if d := ag.GetAgents.Agents[0].DrainInfo; d != nil && d.State == "DRAINED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not become DRAINED: %+v", ag.GetAgents.Agents[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
	// DRAINED is written to the registry after the core moved (not awaited).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		recs, err := tm.store.Agents(t.Context())
		if err == nil && len(recs) == 1 && recs[0].Deactivated && strings.Contains(string(recs[0].Drain), "DRAINED") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry after the drain = %+v, %v", recs, err)
		}
	}
	if code, text := op(t, tm.url, `{"type":"REACTIVATE_AGENT","reactivate_agent":{"agent_id":{"value":"`+a.id+`"}}}`, nil); code != 200 {
		t.Fatalf("REACTIVATE_AGENT = %d %s", code, text)
	}
	ag = getAgents{}
	op(t, tm.url, `{"type":"GET_AGENTS"}`, &ag)
	if x := ag.GetAgents.Agents[0]; !x.Active || x.Deactivated || x.DrainInfo != nil {
		t.Errorf("GET_AGENTS after reactivation = %+v", x)
	}

	// A deactivation outlives a master restart.
	if code, text := op(t, tm.url, `{"type":"DEACTIVATE_AGENT","deactivate_agent":{"agent_id":{"value":"`+a.id+`"}}}`, nil); code != 200 {
		t.Fatalf("DEACTIVATE_AGENT = %d %s", code, text)
	}
	stopBeat()
	tm.stop()
	tm = startMasterOn(t, db, nil)
	ag = getAgents{}
	op(t, tm.url, `{"type":"GET_AGENTS"}`, &ag)
	var recovered struct {
		GetAgents struct {
			Recovered []struct {
				ID mesos.ID `json:"id"`
			} `json:"recovered_agents"`
		} `json:"get_agents"`
	}
	op(t, tm.url, `{"type":"GET_AGENTS"}`, &recovered)
	if len(recovered.GetAgents.Recovered) != 1 {
		t.Fatalf("recovered agents after the restart = %+v", recovered)
	}
	a = registerAgent(t, tm.url, a.id, "cpus:4;mem:1024", nil)
	ag = getAgents{}
	op(t, tm.url, `{"type":"GET_AGENTS"}`, &ag)
	if len(ag.GetAgents.Agents) != 1 || ag.GetAgents.Agents[0].Active || !ag.GetAgents.Agents[0].Deactivated {
		t.Errorf("GET_AGENTS after a master restart = %+v; want it still deactivated", ag.GetAgents.Agents)
	}

	// Gone for good.
	if code, text := op(t, tm.url, `{"type":"MARK_AGENT_GONE","mark_agent_gone":{"agent_id":{"value":"`+a.id+`"}}}`, nil); code != 200 {
		t.Fatalf("MARK_AGENT_GONE = %d %s", code, text)
	}
	ag = getAgents{}
	op(t, tm.url, `{"type":"GET_AGENTS"}`, &ag)
	if len(ag.GetAgents.Agents) != 0 {
		t.Errorf("GET_AGENTS lists a gone agent: %+v", ag.GetAgents.Agents)
	}
	if code, _ := op(t, tm.url, `{"type":"MARK_AGENT_GONE","mark_agent_gone":{"agent_id":{"value":"`+a.id+`"}}}`, nil); code != 200 {
		t.Errorf("marking a gone agent gone again = %d; want 200", code)
	}
}

// TestOperatorSubscribe: SUBSCRIBED carries the state, then HEARTBEAT,
// then the cluster's changes: an agent added, a task updated, a
// framework added and removed, an agent removed.
func TestOperatorSubscribe(t *testing.T) {
	tm := startMaster(t, nil)
	a := registerAgent(t, tm.url, "", "cpus:4;mem:1024", []agentproto.Task{{FrameworkID: "F", State: mesos.TaskRunning,
		TaskInfo: mesos.TaskInfo{Name: "web", TaskID: mesos.ID{Value: "t1"}, AgentID: mesos.ID{Value: "x"},
			Resources: []mesos.Resource{{Name: "cpus", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 1}}},
			Command:   &mesos.CommandInfo{Value: "sleep 1"}}}})
	defer a.keepAlive(100 * time.Millisecond)()
	s := openStream(t, tm.url+"/api/v1", map[string]string{"type": "SUBSCRIBE"})
	type opEvent struct {
		Type       string `json:"type"`
		Subscribed *struct {
			GetState struct {
				GetAgents struct {
					Agents []json.RawMessage `json:"agents"`
				} `json:"get_agents"`
				GetTasks struct {
					Tasks []json.RawMessage `json:"tasks"`
				} `json:"get_tasks"`
			} `json:"get_state"`
			Heartbeat float64 `json:"heartbeat_interval_seconds"`
		} `json:"subscribed"`
		TaskUpdated *struct {
			FrameworkID mesos.ID         `json:"framework_id"`
			Status      mesos.TaskStatus `json:"status"`
			State       mesos.TaskState  `json:"state"`
		} `json:"task_updated"`
		AgentAdded *struct {
			Agent struct {
				AgentInfo struct {
					ID mesos.ID `json:"id"`
				} `json:"agent_info"`
			} `json:"agent"`
		} `json:"agent_added"`
		AgentRemoved *struct {
			AgentID mesos.ID `json:"agent_id"`
		} `json:"agent_removed"`
		FrameworkAdded *struct {
			Framework struct {
				FrameworkInfo mesos.FrameworkInfo `json:"framework_info"`
			} `json:"framework"`
		} `json:"framework_added"`
	}
	next := func(types ...string) *opEvent {
		t.Helper()
		return nextOf(s, func(e *opEvent) string { return e.Type }, types...)
	}
	sub := next("SUBSCRIBED")
	if len(sub.Subscribed.GetState.GetAgents.Agents) != 1 || len(sub.Subscribed.GetState.GetTasks.Tasks) != 1 || sub.Subscribed.Heartbeat != 15 {
		t.Errorf("SUBSCRIBED = %+v", sub.Subscribed)
	}
	next("HEARTBEAT")

	b := registerAgent(t, tm.url, "", "cpus:1;mem:128", nil)
	if ev := next("AGENT_ADDED"); ev.AgentAdded.Agent.AgentInfo.ID.Value != b.id {
		t.Errorf("AGENT_ADDED = %+v; want %s", ev.AgentAdded, b.id)
	}
	a.update("F", "t1", mesos.TaskFinished)
	if ev := next("TASK_UPDATED"); ev.TaskUpdated.State != mesos.TaskFinished || ev.TaskUpdated.FrameworkID.Value != "F" || ev.TaskUpdated.Status.TaskID.Value != "t1" {
		t.Errorf("TASK_UPDATED = %+v", ev.TaskUpdated)
	}
	fw := subscribe(t, tm.url, `{"user":"u","name":"watched"}`)
	if ev := next("FRAMEWORK_ADDED"); ev.FrameworkAdded.Framework.FrameworkInfo.Name != "watched" {
		t.Errorf("FRAMEWORK_ADDED = %+v", ev.FrameworkAdded)
	}
	_ = fw
	if code, text := op(t, tm.url, `{"type":"MARK_AGENT_GONE","mark_agent_gone":{"agent_id":{"value":"`+b.id+`"}}}`, nil); code != 200 {
		t.Fatalf("MARK_AGENT_GONE = %d %s", code, text)
	}
	if ev := next("AGENT_REMOVED"); ev.AgentRemoved.AgentID.Value != b.id {
		t.Errorf("AGENT_REMOVED = %+v", ev.AgentRemoved)
	}
}

// TestOperatorQuota: UPDATE_QUOTA is validated (guarantees within limits,
// limits not below consumption, guarantees within the cluster) unless
// forced, GET_QUOTA shows it, offers to the role stay within its limit,
// and the quota outlives a master restart.
func TestOperatorQuota(t *testing.T) {
	db := testpg.URL(t)
	tm := startMasterOn(t, db, nil)
	a := registerAgent(t, tm.url, "", "cpus:4;mem:4096", nil)
	defer a.keepAlive(100 * time.Millisecond)()
	for _, c := range []struct {
		body string
		code int
		want string
	}{
		{`{"type":"UPDATE_QUOTA","update_quota":{"quota_configs":[{"role":"dev","guarantees":{"cpus":{"value":2}},"limits":{"cpus":{"value":1}}}]}}`, 400, "above its limit"},
		{`{"type":"UPDATE_QUOTA","update_quota":{"quota_configs":[{"role":"dev","guarantees":{"cpus":{"value":9}}}]}}`, 400, "more than the cluster's 4"},
		{`{"type":"UPDATE_QUOTA","update_quota":{"quota_configs":[{"role":"a/b","limits":{"cpus":{"value":1}}}]}}`, 400, "nested"},
		{`{"type":"UPDATE_QUOTA","update_quota":{"quota_configs":[{"role":"dev","limits":{"ports":{"value":1}}}]}}`, 400, "not a scalar"},
		{`{"type":"UPDATE_QUOTA","update_quota":{}}`, 400, "quota_configs"},
		{`{"type":"UPDATE_QUOTA","update_quota":{"force":true,"quota_configs":[{"role":"big","guarantees":{"cpus":{"value":9}}}]}}`, 200, ""},
		{`{"type":"UPDATE_QUOTA","update_quota":{"quota_configs":[{"role":"big"}]}}`, 200, ""},
		{`{"type":"UPDATE_QUOTA","update_quota":{"quota_configs":[{"role":"dev","guarantees":{"cpus":{"value":0.5}},"limits":{"cpus":{"value":1},"mem":{"value":512}}}]}}`, 200, ""},
	} {
		if code, text := op(t, tm.url, c.body, nil); code != c.code || !strings.Contains(text, c.want) {
			t.Errorf("%s = %d %s; want %d mentioning %q", c.body, code, text, c.code, c.want)
		}
	}
	want := `{"role":"dev","guarantees":{"cpus":{"value":0.5}},"limits":{"cpus":{"value":1},"mem":{"value":512}}}`
	if _, text := op(t, tm.url, `{"type":"GET_QUOTA"}`, nil); !strings.Contains(text, `"configs":[`+want+`]`) {
		t.Errorf("GET_QUOTA = %s; want only dev's quota", text)
	}
	// Offers to the role stay within its limit.
	f := subscribe(t, tm.url, `{"user":"u","name":"capped","roles":["dev"],"capabilities":[{"type":"MULTI_ROLE"}]}`)
	ev := f.s.nextEvent(mesos.EventOffers)
	var cpus, mem float64
	for _, o := range ev.Offers.Offers {
		for _, r := range o.Resources {
			switch r.Name {
			case "cpus":
				cpus += float64(r.Scalar.Value)
			case "mem":
				mem += float64(r.Scalar.Value)
			}
		}
	}
	if cpus > 1 || mem > 512 || cpus == 0 {
		t.Errorf("offered dev %v cpus and %v mem; want within its limits (1, 512)", cpus, mem)
	}
	tm.stop()
	tm = startMasterOn(t, db, nil)
	if _, text := op(t, tm.url, `{"type":"GET_QUOTA"}`, nil); !strings.Contains(text, want) {
		t.Errorf("GET_QUOTA after a restart = %s", text)
	}
}

// TestOperatorMaintenance: a schedule for the agent's machine shows in
// GET_MAINTENANCE_SCHEDULE and GET_MAINTENANCE_STATUS (in Mesos'
// shapes); bad calls are 400s naming the problem; START_MAINTENANCE
// removes the agent, and the machine stays DOWN across a master restart
// (its agents may not register); STOP_MAINTENANCE brings it back up.
func TestOperatorMaintenance(t *testing.T) {
	db := testpg.URL(t)
	tm := startMasterOn(t, db, nil)
	a := registerAgent(t, tm.url, "", "cpus:4;mem:1024", nil)
	stopBeat := a.keepAlive(100 * time.Millisecond)
	defer stopBeat()

	for _, c := range []struct {
		body, want string
	}{
		{`{"type":"UPDATE_MAINTENANCE_SCHEDULE"}`, "update_maintenance_schedule.schedule"},
		{`{"type":"UPDATE_MAINTENANCE_SCHEDULE","update_maintenance_schedule":{"schedule":{"windows":[{"machine_ids":[{"hostname":"testhost"}]}]}}}`, "unavailability.start' is required"},
		{`{"type":"UPDATE_MAINTENANCE_SCHEDULE","update_maintenance_schedule":{"schedule":{"windows":[{"machine_ids":[{"ip":"x"}],"unavailability":{"start":{"nanoseconds":1}}}]}}}`, "is not an IP address"},
		{`{"type":"START_MAINTENANCE","start_maintenance":{"machines":[{"hostname":"testhost"}]}}`, "not part of a maintenance schedule"},
		{`{"type":"STOP_MAINTENANCE"}`, "stop_maintenance"},
	} {
		if code, text := op(t, tm.url, c.body, nil); code != 400 || !strings.Contains(text, c.want) {
			t.Errorf("%s = %d %s; want 400 naming %s", c.body, code, text, c.want)
		}
	}
	start := time.Now().Add(time.Hour).UnixNano()
	schedule := fmt.Sprintf(`{"windows":[{"machine_ids":[{"hostname":"testhost","ip":"127.0.0.1"}],"unavailability":{"start":{"nanoseconds":%d},"duration":{"nanoseconds":3600000000000}}}]}`, start)
	if code, text := op(t, tm.url, `{"type":"UPDATE_MAINTENANCE_SCHEDULE","update_maintenance_schedule":{"schedule":`+schedule+`}}`, nil); code != 200 {
		t.Fatalf("UPDATE_MAINTENANCE_SCHEDULE = %d %s", code, text)
	}
	var got, want any
	_, text := op(t, tm.url, `{"type":"GET_MAINTENANCE_SCHEDULE"}`, &got)
	_ = json.Unmarshal([]byte(`{"get_maintenance_schedule":{"schedule":`+schedule+`},"type":"GET_MAINTENANCE_SCHEDULE"}`), &want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GET_MAINTENANCE_SCHEDULE = %s", text)
	}
	if _, text := op(t, tm.url, `{"type":"GET_MAINTENANCE_STATUS"}`, nil); !strings.Contains(text, `"draining_machines":[{"id":{"hostname":"testhost","ip":"127.0.0.1"},"statuses":[]}]`) ||
		!strings.Contains(text, `"down_machines":[]`) {
		t.Errorf("GET_MAINTENANCE_STATUS = %s", text)
	}
	if code, text := op(t, tm.url, `{"type":"START_MAINTENANCE","start_maintenance":{"machines":[{"hostname":"testhost","ip":"127.0.0.1"}]}}`, nil); code != 200 {
		t.Fatalf("START_MAINTENANCE = %d %s", code, text)
	}
	var ag getAgents
	op(t, tm.url, `{"type":"GET_AGENTS"}`, &ag)
	if len(ag.GetAgents.Agents) != 0 {
		t.Errorf("GET_AGENTS after START_MAINTENANCE = %+v; want the agent removed", ag.GetAgents.Agents)
	}
	stopBeat()
	tm.stop()
	tm = startMasterOn(t, db, nil)
	if _, text := op(t, tm.url, `{"type":"GET_MAINTENANCE_STATUS"}`, nil); !strings.Contains(text, `"draining_machines":[]`) ||
		!strings.Contains(text, `"down_machines":[{"hostname":"testhost","ip":"127.0.0.1"}]`) {
		t.Errorf("GET_MAINTENANCE_STATUS after a restart = %s", text)
	}
	// The older endpoints read and change the same state.
	if resp, text := get(t, tm.url+"/maintenance/status", nil); resp.StatusCode != 200 || !strings.Contains(text, `"down_machines":[{"hostname":"testhost","ip":"127.0.0.1"}]`) {
		t.Errorf("GET /maintenance/status = %d %s", resp.StatusCode, text)
	}
	if resp, text := post(t, tm.url+"/machine/up", jsonCT, `[{"hostname":"nohost"}]`); resp.StatusCode != 400 || !strings.Contains(text, "not part of a maintenance schedule") {
		t.Errorf("POST /machine/up of an unscheduled machine = %d %s", resp.StatusCode, text)
	}
	r, _ := resource.Parse("cpus:1;mem:64")
	reg, _ := json.Marshal(agentproto.Call{Type: agentproto.CallRegister, Register: &agentproto.Register{
		Info: agentproto.AgentInfo{Hostname: "TESTHOST", Endpoint: "http://127.0.0.1:1", Resources: r.Wire(""), Cgroups: agentproto.CgroupsNone}}})
	if resp, text := post(t, tm.url+agentproto.Path, jsonCT, string(reg)); resp.StatusCode == 200 || !strings.Contains(text, "DOWN for maintenance") {
		t.Errorf("registering on a DOWN machine = %d %s", resp.StatusCode, text)
	}
	if code, text := op(t, tm.url, `{"type":"STOP_MAINTENANCE","stop_maintenance":{"machines":[{"hostname":"testhost","ip":"127.0.0.1"}]}}`, nil); code != 200 {
		t.Fatalf("STOP_MAINTENANCE = %d %s", code, text)
	}
	if _, text := op(t, tm.url, `{"type":"GET_MAINTENANCE_SCHEDULE"}`, nil); !strings.Contains(text, `"schedule":{"windows":[]}`) {
		t.Errorf("GET_MAINTENANCE_SCHEDULE after STOP_MAINTENANCE = %s", text)
	}
	registerAgent(t, tm.url, "", "cpus:1;mem:64", nil)
}
