package master

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"corral/kernel/internal/agentproto"
	"corral/kernel/master/internal/core"
	"corral/kernel/mesos"
	"corral/kernel/mesos/mesospb"
)

// opPB posts an operator call in protobuf with the given Accept and
// returns the answer's status, Content-Type and body.
func opPB(t *testing.T, url string, call *opCall, accept string) (int, string, []byte) {
	t.Helper()
	b, err := mesospb.Marshal(call)
	if err != nil {
		t.Fatal(err)
	}
	return opRaw(t, url, mesospb.MediaType, accept, b)
}

// opRaw posts body as an operator call of Content-Type ct.
func opRaw(t *testing.T, url, ct, accept string, body []byte) (int, string, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/api/v1", bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), out
}

// opBoth asks for a read in JSON, then in protobuf, and returns both
// answers decoded.
func opBoth(t *testing.T, url, typ string) (fromJSON, fromPB opResponse) {
	t.Helper()
	code, ct, body := opRaw(t, url, "application/json", "", []byte(`{"type":"`+typ+`"}`))
	if code != 200 || ct != "application/json" {
		t.Fatalf("%s in JSON = %d %q %s", typ, code, ct, body)
	}
	if err := json.Unmarshal(body, &fromJSON); err != nil {
		t.Fatalf("%s in JSON: %v", typ, err)
	}
	code, ct, body = opPB(t, url, &opCall{Type: typ}, mesospb.MediaType)
	if code != 200 || ct != mesospb.MediaType {
		t.Fatalf("%s in protobuf = %d %q %q", typ, code, ct, body)
	}
	if err := mesospb.Unmarshal(body, &fromPB); err != nil {
		t.Fatalf("%s in protobuf: %v", typ, err)
	}
	return fromJSON, fromPB
}

// pbRead is a read in protobuf, decoded.
func pbRead(t *testing.T, url, typ string) opResponse {
	t.Helper()
	code, _, body := opPB(t, url, &opCall{Type: typ}, mesospb.MediaType)
	var resp opResponse
	if err := mesospb.Unmarshal(body, &resp); code != 200 || err != nil {
		t.Fatalf("%s in protobuf = %d %q (%v)", typ, code, body, err)
	}
	return resp
}

// pbChange is a change in protobuf; it must answer an empty 200.
func pbChange(t *testing.T, url string, call *opCall) {
	t.Helper()
	if code, _, body := opPB(t, url, call, mesospb.MediaType); code != 200 || len(body) != 0 {
		t.Fatalf("%s in protobuf = %d %q; want an empty 200", call.Type, code, body)
	}
}

// TestOperatorProtobuf drives POST /api/v1 in protobuf: reads answer
// what their JSON answers carry, changes (a drain with a Duration grace,
// weights, a maintenance schedule) take effect, and the refusals are
// Mesos' statuses naming the problem.
func TestOperatorProtobuf(t *testing.T) {
	tm := startMaster(t, func(c *Config) { c.Flags = []Flag{{Name: "listen", Value: "x"}} })
	a := registerAgent(t, tm.url, "", "cpus:4;mem:1024", []agentproto.Task{{FrameworkID: "F", State: mesos.TaskRunning,
		TaskInfo: mesos.TaskInfo{Name: "web", TaskID: mesos.ID{Value: "t1"}, AgentID: mesos.ID{Value: "x"},
			Resources: []mesos.Resource{{Name: "cpus", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 1}}},
			Command:   &mesos.CommandInfo{Value: "sleep 1"}}}})
	defer a.keepAlive(100 * time.Millisecond)()

	// Reads: the same content in both forms.
	for _, typ := range []string{"GET_HEALTH", "GET_VERSION", "GET_FLAGS", "GET_MASTER", "GET_AGENTS", "GET_FRAMEWORKS",
		"GET_TASKS", "GET_EXECUTORS", "GET_STATE", "GET_ROLES", "GET_WEIGHTS", "GET_QUOTA",
		"GET_MAINTENANCE_SCHEDULE", "GET_MAINTENANCE_STATUS"} {
		j, p := opBoth(t, tm.url, typ)
		if d := cmp.Diff(j, p, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("%s: the protobuf answer differs from the JSON one (-json +pb):\n%s", typ, d)
		}
		if p.Type != typ {
			t.Errorf("%s: protobuf answer of type %q", typ, p.Type)
		}
	}
	state := pbRead(t, tm.url, "GET_STATE").GetState
	if state == nil || len(state.GetAgents.Agents) != 1 || state.GetAgents.Agents[0].AgentInfo.ID.Value != a.id ||
		len(state.GetTasks.Tasks) != 1 || state.GetTasks.Tasks[0].TaskID.Value != "t1" || state.GetTasks.Tasks[0].State != mesos.TaskRunning {
		t.Fatalf("GET_STATE in protobuf = %+v; want agent %s running t1", state, a.id)
	}
	if h := pbRead(t, tm.url, "GET_HEALTH").GetHealth; h == nil || !h.Healthy {
		t.Errorf("GET_HEALTH in protobuf = %+v", h)
	}
	if f := pbRead(t, tm.url, "GET_FLAGS").GetFlags; f == nil || len(f.Flags) != 1 || f.Flags[0] != (Flag{Name: "listen", Value: "x"}) {
		t.Errorf("GET_FLAGS in protobuf = %+v", f)
	}
	if m := pbRead(t, tm.url, "GET_METRICS").GetMetrics; m == nil || len(m.Metrics) == 0 {
		t.Errorf("GET_METRICS in protobuf = %+v", m)
	}

	// Changes.
	pbChange(t, tm.url, &opCall{Type: "UPDATE_WEIGHTS", UpdateWeights: &opWeights{WeightInfos: []WeightInfo{{Role: "prod", Weight: 2.5}}}})
	if w := pbRead(t, tm.url, "GET_WEIGHTS").GetWeights; w == nil || !cmp.Equal(w.WeightInfos, []WeightInfo{{Role: "prod", Weight: 2.5}}) {
		t.Errorf("GET_WEIGHTS in protobuf after UPDATE_WEIGHTS = %+v", w)
	}
	pbChange(t, tm.url, &opCall{Type: "DRAIN_AGENT", DrainAgent: &opDrainAgent{AgentID: mesos.ID{Value: a.id}, MaxGracePeriod: &opDuration{Seconds: 1, Nanos: 2}}})
	if kill := a.s.nextAgentEvent(agentproto.EventKill); kill.Kill.TaskID != "t1" || !kill.Kill.Draining {
		t.Errorf("drain kill = %+v", kill.Kill)
	}
	agents := pbRead(t, tm.url, "GET_AGENTS").GetAgents
	if agents == nil || len(agents.Agents) != 1 {
		t.Fatalf("GET_AGENTS in protobuf after DRAIN_AGENT = %+v", agents)
	}
	if x := agents.Agents[0]; x.Active || !x.Deactivated || x.DrainInfo == nil || x.DrainInfo.State != core.DrainDraining ||
		x.DrainInfo.Config.MaxGracePeriod == nil || x.DrainInfo.Config.MaxGracePeriod.Nanoseconds != mesos.Int(time.Second+2) {
		t.Errorf("GET_AGENTS in protobuf after DRAIN_AGENT = %+v; want it draining with a grace of 1.000000002s", x)
	}
	if j, p := opBoth(t, tm.url, "GET_AGENTS"); !cmp.Equal(j, p, cmpopts.EquateEmpty()) {
		t.Errorf("GET_AGENTS while draining: the protobuf answer differs from the JSON one:\n%s", cmp.Diff(j, p, cmpopts.EquateEmpty()))
	}

	// Maintenance.
	start, hour := time.Now().Add(time.Hour).UnixNano(), mesos.Int(time.Hour)
	machine := core.MachineID{Hostname: "testhost", IP: "127.0.0.1"}
	schedule := opScheduleBody{Windows: []opWindow{{MachineIDs: []core.MachineID{machine},
		Unavailability: &opUnavailability{Start: &mesos.TimeInfo{Nanoseconds: mesos.Int(start)}, Duration: &mesos.DurationInfo{Nanoseconds: hour}}}}}
	pbChange(t, tm.url, &opCall{Type: "UPDATE_MAINTENANCE_SCHEDULE", UpdateMaintenanceSchedule: &opSchedule{Schedule: &schedule}})
	j, p := opBoth(t, tm.url, "GET_MAINTENANCE_SCHEDULE")
	if p.GetMaintenanceSchedule == nil || !cmp.Equal(p.GetMaintenanceSchedule.Schedule, schedule) || !cmp.Equal(j, p) {
		t.Errorf("GET_MAINTENANCE_SCHEDULE: protobuf %+v, JSON %+v; want %+v", p.GetMaintenanceSchedule, j.GetMaintenanceSchedule, schedule)
	}
	status := pbRead(t, tm.url, "GET_MAINTENANCE_STATUS").GetMaintenanceStatus
	if status == nil || len(status.Status.DrainingMachines) != 1 || status.Status.DrainingMachines[0].ID != machine || len(status.Status.DownMachines) != 0 {
		t.Errorf("GET_MAINTENANCE_STATUS in protobuf = %+v; want %v draining", status, machine)
	}

	// Refusals.
	for _, tc := range []struct {
		name, ct, accept string
		body             []byte
		code             int
		want             []string
	}{
		{"malformed", mesospb.MediaType, "", []byte("\x0a\xff"), 400, []string{"Failed to parse body into Call protobuf", "type"}},
		{"not UTF-8", mesospb.MediaType, "", pwMsg(pwInt(1, 37), pwSub(21, pwID(1, "\xff"))), 400, []string{"drain_agent: agent_id", "UTF-8"}},
		{"drain without its body", mesospb.MediaType, "", pwMsg(pwInt(1, 37)), 400, []string{"drain_agent.agent_id"}},
		{"no type", mesospb.MediaType, "", nil, 501, []string{"UNKNOWN"}},
		{"unsupported call", mesospb.MediaType, "", pwMsg(pwInt(1, 33)), 501, []string{"GET_OPERATIONS"}},
		{"call newer than the table", mesospb.MediaType, "", pwMsg(pwInt(1, 99)), 501, []string{"99"}},
		{"protobuf not acceptable", mesospb.MediaType, "text/html", pwMsg(pwInt(1, 1)), 406, []string{"Accept", mesospb.MediaType}},
		{"JSON not acceptable", "application/json", "text/html", []byte(`{"type":"GET_HEALTH"}`), 406, []string{"Accept"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := opRaw(t, tm.url, tc.ct, tc.accept, tc.body)
			if code != tc.code {
				t.Errorf("%x = %d %q; want %d", tc.body, code, body, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("%x = %d %q; want it to name %q", tc.body, code, body, w)
				}
			}
		})
	}

	// The request's and the answer's media types are independent.
	code, ct, body := opRaw(t, tm.url, "application/json", mesospb.MediaType, []byte(`{"type":"GET_HEALTH"}`))
	var health opResponse
	if err := mesospb.Unmarshal(body, &health); code != 200 || ct != mesospb.MediaType || err != nil || health.GetHealth == nil || !health.GetHealth.Healthy {
		t.Errorf("JSON GET_HEALTH accepting protobuf = %d %q %+v (%v)", code, ct, health, err)
	}
	code, ct, body = opPB(t, tm.url, &opCall{Type: "GET_HEALTH"}, "")
	if code != 200 || ct != "application/json" || !strings.Contains(string(body), `"healthy":true`) {
		t.Errorf("protobuf GET_HEALTH without Accept = %d %q %s; want JSON", code, ct, body)
	}
}

// TestOperatorSubscribeProtobuf: a SUBSCRIBE that accepts only protobuf
// gets RecordIO-framed protobuf Events carrying what a JSON subscriber's
// carry: SUBSCRIBED with the state, HEARTBEAT, then the changes.
func TestOperatorSubscribeProtobuf(t *testing.T) {
	tm := startMaster(t, nil)
	a := registerAgent(t, tm.url, "", "cpus:4;mem:1024", []agentproto.Task{{FrameworkID: "F", State: mesos.TaskRunning,
		TaskInfo: mesos.TaskInfo{Name: "web", TaskID: mesos.ID{Value: "t1"}, AgentID: mesos.ID{Value: "x"},
			Resources: []mesos.Resource{{Name: "cpus", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 1}}},
			Command:   &mesos.CommandInfo{Value: "sleep 1"}}}})
	defer a.keepAlive(100 * time.Millisecond)()

	js := openStream(t, tm.url+"/api/v1", map[string]string{"type": "SUBSCRIBE"})
	b, err := mesospb.Marshal(&opCall{Type: "SUBSCRIBE"})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, tm.url+"/api/v1", bytes.NewReader(b))
	req.Header.Set("Content-Type", mesospb.MediaType)
	req.Header.Set("Accept", mesospb.MediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != mesospb.MediaType {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("SUBSCRIBE in protobuf = %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), msg)
	}
	pb := readStream(t, resp)

	nextPB := func(types ...string) *opEvent {
		t.Helper()
		var ev opEvent
		pb.next(func(rec []byte) bool {
			ev = opEvent{}
			if err := mesospb.Unmarshal(rec, &ev); err != nil {
				t.Fatalf("record %x: %v", rec, err)
			}
			return slices.Contains(types, ev.Type)
		})
		return &ev
	}
	nextJSON := func(types ...string) *opEvent {
		t.Helper()
		return nextOf(js, func(e *opEvent) string { return e.Type }, types...)
	}

	sub := nextPB("SUBSCRIBED", "HEARTBEAT")
	if sub.Type != "SUBSCRIBED" || sub.Subscribed == nil || sub.Subscribed.HeartbeatIntervalSeconds != 15 || sub.Subscribed.GetState == nil ||
		len(sub.Subscribed.GetState.GetAgents.Agents) != 1 || len(sub.Subscribed.GetState.GetTasks.Tasks) != 1 {
		t.Fatalf("first protobuf event = %+v; want SUBSCRIBED with the agent and its task", sub)
	}
	if jsub := nextJSON("SUBSCRIBED"); !cmp.Equal(jsub, sub, cmpopts.EquateEmpty()) {
		t.Errorf("SUBSCRIBED: the protobuf event differs from the JSON one (-json +pb):\n%s", cmp.Diff(jsub, sub, cmpopts.EquateEmpty()))
	}
	if hb := nextPB("SUBSCRIBED", "HEARTBEAT"); hb.Type != "HEARTBEAT" {
		t.Errorf("second protobuf event = %+v; want HEARTBEAT", hb)
	}

	other := registerAgent(t, tm.url, "", "cpus:1;mem:128", nil)
	added := nextPB("AGENT_ADDED")
	if added.AgentAdded == nil || added.AgentAdded.Agent == nil || added.AgentAdded.Agent.AgentInfo.ID.Value != other.id {
		t.Errorf("AGENT_ADDED in protobuf = %+v; want %s", added.AgentAdded, other.id)
	}
	if j := nextJSON("AGENT_ADDED"); !cmp.Equal(j, added, cmpopts.EquateEmpty()) {
		t.Errorf("AGENT_ADDED: the protobuf event differs from the JSON one (-json +pb):\n%s", cmp.Diff(j, added, cmpopts.EquateEmpty()))
	}
	a.update("F", "t1", mesos.TaskFinished)
	updated := nextPB("TASK_UPDATED")
	if u := updated.TaskUpdated; u == nil || u.FrameworkID.Value != "F" || u.State != mesos.TaskFinished || u.Status == nil || u.Status.TaskID.Value != "t1" {
		t.Errorf("TASK_UPDATED in protobuf = %+v", updated.TaskUpdated)
	}
	if j := nextJSON("TASK_UPDATED"); !cmp.Equal(j, updated, cmpopts.EquateEmpty()) {
		t.Errorf("TASK_UPDATED: the protobuf event differs from the JSON one (-json +pb):\n%s", cmp.Diff(j, updated, cmpopts.EquateEmpty()))
	}
}
