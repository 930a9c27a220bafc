package master

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/encoding/protowire"

	"corral/kernel/master/internal/core"
	"corral/kernel/mesos"
	"corral/kernel/mesos/mesospb"
)

// The protobuf bodies below are built field by field with protowire, from
// the field numbers of Mesos' master.proto, mesos.proto, quota.proto and
// maintenance.proto, independently of the codec and of the pb tags.

type pw func([]byte) []byte

func pwMsg(fs ...pw) []byte {
	var b []byte
	for _, f := range fs {
		b = f(b)
	}
	return b
}

func pwStr(n protowire.Number, s string) pw {
	return func(b []byte) []byte {
		return protowire.AppendString(protowire.AppendTag(b, n, protowire.BytesType), s)
	}
}

func pwSub(n protowire.Number, fs ...pw) pw {
	return func(b []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(b, n, protowire.BytesType), pwMsg(fs...))
	}
}

func pwInt(n protowire.Number, x int64) pw {
	return func(b []byte) []byte {
		return protowire.AppendVarint(protowire.AppendTag(b, n, protowire.VarintType), uint64(x))
	}
}

func pwDbl(n protowire.Number, f float64) pw {
	return func(b []byte) []byte {
		return protowire.AppendFixed64(protowire.AppendTag(b, n, protowire.Fixed64Type), math.Float64bits(f))
	}
}

func pwID(n protowire.Number, v string) pw { return pwSub(n, pwStr(1, v)) }

// TestOperatorSchema: every field of the operator API's Call, Response
// and Event has a protobuf form (or is kept out of both forms).
func TestOperatorSchema(t *testing.T) {
	for _, m := range []any{&opCall{}, &opResponse{}, &opEvent{}} {
		if err := mesospb.Check(m); err != nil {
			t.Errorf("mesospb.Check(%T): %v", m, err)
		}
	}
}

// TestOperatorCallGolden: the JSON and protobuf forms of each call corral
// serves decode to the same Call, and encoding it gives that back.
func TestOperatorCallGolden(t *testing.T) {
	cases := []struct {
		name, json string
		pb         []byte
	}{
		{"drain agent", `{"type":"DRAIN_AGENT","drain_agent":{"agent_id":{"value":"a"},"max_grace_period":{"seconds":1,"nanos":2},"mark_gone":true}}`,
			pwMsg(pwInt(1, 37), pwSub(21, pwID(1, "a"), pwSub(2, pwInt(1, 1), pwInt(2, 2)), pwInt(3, 1)))},
		{"deactivate agent", `{"type":"DEACTIVATE_AGENT","deactivate_agent":{"agent_id":{"value":"a"}}}`,
			pwMsg(pwInt(1, 38), pwSub(22, pwID(1, "a")))},
		{"reactivate agent", `{"type":"REACTIVATE_AGENT","reactivate_agent":{"agent_id":{"value":"a"}}}`,
			pwMsg(pwInt(1, 39), pwSub(23, pwID(1, "a")))},
		{"mark agent gone", `{"type":"MARK_AGENT_GONE","mark_agent_gone":{"agent_id":{"value":"a"}}}`,
			pwMsg(pwInt(1, 32), pwSub(17, pwID(1, "a")))},
		{"update weights", `{"type":"UPDATE_WEIGHTS","update_weights":{"weight_infos":[{"role":"r","weight":2.5}]}}`,
			pwMsg(pwInt(1, 16), pwSub(6, pwSub(1, pwDbl(1, 2.5), pwStr(2, "r"))))},
		{"teardown", `{"type":"TEARDOWN","teardown":{"framework_id":{"value":"f"}}}`,
			pwMsg(pwInt(1, 31), pwSub(16, pwID(1, "f")))},
		{"update quota", `{"type":"UPDATE_QUOTA","update_quota":{"force":true,"quota_configs":[{"role":"r","guarantees":{"cpus":{"value":1}},"limits":{"mem":{"value":2}}}]}}`,
			pwMsg(pwInt(1, 36), pwSub(20, pwInt(1, 1), pwSub(2, pwStr(1, "r"),
				pwSub(2, pwStr(1, "cpus"), pwSub(2, pwDbl(1, 1))), pwSub(3, pwStr(1, "mem"), pwSub(2, pwDbl(1, 2))))))},
		{"update maintenance schedule", `{"type":"UPDATE_MAINTENANCE_SCHEDULE","update_maintenance_schedule":{"schedule":{"windows":[{"machine_ids":[{"hostname":"h","ip":"10.0.0.1"}],"unavailability":{"start":{"nanoseconds":5},"duration":{"nanoseconds":6}}}]}}}`,
			pwMsg(pwInt(1, 25), pwSub(11, pwSub(1, pwSub(1, pwSub(1, pwStr(1, "h"), pwStr(2, "10.0.0.1")),
				pwSub(2, pwSub(1, pwInt(1, 5)), pwSub(2, pwInt(1, 6)))))))},
		{"start maintenance", `{"type":"START_MAINTENANCE","start_maintenance":{"machines":[{"hostname":"h"}]}}`,
			pwMsg(pwInt(1, 26), pwSub(12, pwSub(1, pwStr(1, "h"))))},
		{"stop maintenance", `{"type":"STOP_MAINTENANCE","stop_maintenance":{"machines":[{"ip":"10.0.0.1"}]}}`,
			pwMsg(pwInt(1, 27), pwSub(13, pwSub(1, pwStr(2, "10.0.0.1"))))},
	}
	for typ, n := range map[string]int64{"GET_HEALTH": 1, "GET_FLAGS": 2, "GET_VERSION": 3, "GET_METRICS": 4, "GET_STATE": 9,
		"GET_AGENTS": 10, "GET_FRAMEWORKS": 11, "GET_EXECUTORS": 12, "GET_TASKS": 13, "GET_ROLES": 14, "GET_WEIGHTS": 15,
		"GET_MASTER": 17, "SUBSCRIBE": 18, "GET_MAINTENANCE_STATUS": 23, "GET_MAINTENANCE_SCHEDULE": 24, "GET_QUOTA": 28,
		"GET_OPERATIONS": 33} {
		cases = append(cases, struct {
			name, json string
			pb         []byte
		}{strings.ToLower(typ), `{"type":"` + typ + `"}`, pwMsg(pwInt(1, n))})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fromJSON, err := decodeOpCall([]byte(tc.json), false)
			if err != nil {
				t.Fatalf("JSON: %v", err)
			}
			fromPB, err := decodeOpCall(tc.pb, true)
			if err != nil {
				t.Fatalf("protobuf: %v", err)
			}
			if d := cmp.Diff(fromJSON, fromPB); d != "" {
				t.Fatalf("the protobuf form differs from the JSON form (-json +pb):\n%s", d)
			}
			b, err := mesospb.Marshal(&fromPB)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if string(b) != string(tc.pb) {
				t.Errorf("Marshal(%+v) =\n%x; want\n%x", fromPB, b, tc.pb)
			}
		})
	}
}

// TestOperatorCallErrors: a body that is not a Call is refused naming
// the field at fault.
func TestOperatorCallErrors(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		pb         []byte
	}{
		{"type of the wrong wire type", "type", pwMsg(pwStr(1, "GET_HEALTH"))},
		{"truncated", "drain_agent", pwMsg(pwInt(1, 37), pwSub(21, pwID(1, "a")))[:6]},
		{"agent id not UTF-8", "drain_agent: agent_id: value", pwMsg(pwInt(1, 37), pwSub(21, pwID(1, "\xff")))},
		{"grace period overflow", "max_grace_period", pwMsg(pwInt(1, 37), pwSub(21, pwID(1, "a"), pwSub(2, pwSub(1))))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeOpCall(tc.pb, true)
			if err == nil || !strings.Contains(err.Error(), "Failed to parse body into Call protobuf") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("decodeOpCall(%x) = %v; want an error naming %q", tc.pb, err, tc.want)
			}
		})
	}
}

// TestOperatorResponseGolden pins the protobuf form of answers against
// hand-built bytes: the Response type numbers differ from the Call's,
// and the nested views carry mesos.proto's numbers.
func TestOperatorResponseGolden(t *testing.T) {
	agent := core.OpAgent{AgentInfo: core.OpAgentInfo{ID: mesos.ID{Value: "a"}, Hostname: "h", Port: 5051},
		Active: false, Deactivated: true, Version: "1.11.0", PID: "slave(1)@h:5051",
		RegisteredTime: &mesos.TimeInfo{Nanoseconds: 7}, TotalResources: []mesos.Resource{{Name: "cpus", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 4}}},
		DrainInfo: &core.DrainInfoView{State: core.DrainDraining, Config: core.DrainConfig{MaxGracePeriod: &mesos.DurationInfo{Nanoseconds: 9}, MarkGone: true}}}
	for _, tc := range []struct {
		name string
		resp opResponse
		pb   []byte
	}{
		{"get agents", opResponse{Type: "GET_AGENTS", GetAgents: &opGetAgents{Agents: []core.OpAgent{agent}, RecoveredAgents: []core.OpAgentInfo{{ID: mesos.ID{Value: "r"}, Hostname: "g"}}}},
			pwMsg(pwInt(1, 9), pwSub(10,
				pwSub(1,
					pwSub(1, pwStr(1, "h"), pwID(6, "a"), pwInt(8, 5051)),
					pwInt(2, 0), pwStr(3, "1.11.0"), pwStr(4, "slave(1)@h:5051"), pwSub(5, pwInt(1, 7)),
					pwSub(7, pwStr(1, "cpus"), pwInt(2, 0), pwSub(3, pwDbl(1, 4))),
					pwInt(12, 1),
					pwSub(13, pwInt(1, 1), pwSub(2, pwSub(1, pwInt(1, 9)), pwInt(2, 1)))),
				pwSub(2, pwStr(1, "g"), pwID(6, "r"))))},
		{"get health", opResponse{Type: "GET_HEALTH", GetHealth: &opGetHealth{Healthy: false}},
			pwMsg(pwInt(1, 1), pwSub(2, pwInt(1, 0)))},
		{"get weights", opResponse{Type: "GET_WEIGHTS", GetWeights: &opGetWeights{WeightInfos: []WeightInfo{{Role: "r", Weight: 2.5}}}},
			pwMsg(pwInt(1, 14), pwSub(15, pwSub(1, pwDbl(1, 2.5), pwStr(2, "r"))))},
		{"get quota", opResponse{Type: "GET_QUOTA", GetQuota: &opGetQuota{Status: opQuotaStatus{Configs: []core.QuotaConfig{{Role: "r", Limits: map[string]mesos.ScalarValue{"cpus": {Value: 2}}}}}}},
			pwMsg(pwInt(1, 18), pwSub(19, pwSub(1, pwSub(2, pwStr(1, "r"), pwSub(3, pwStr(1, "cpus"), pwSub(2, pwDbl(1, 2)))))))},
		{"get maintenance status", opResponse{Type: "GET_MAINTENANCE_STATUS", GetMaintenanceStatus: &opGetMaintenanceStatus{Status: opClusterStatus{
			DownMachines: []core.MachineID{{IP: "10.0.0.2"}},
			DrainingMachines: []opDrainingMachine{{ID: core.MachineID{Hostname: "h"}, Statuses: []opInverseOfferStatus{
				{FrameworkID: mesos.ID{Value: "f"}, Status: "DECLINE", Timestamp: mesos.TimeInfo{Nanoseconds: 3}}}}}}}},
			pwMsg(pwInt(1, 16), pwSub(17, pwSub(1,
				pwSub(1, pwSub(1, pwStr(1, "h")), pwSub(2, pwInt(1, 3), pwID(2, "f"), pwSub(3, pwInt(1, 3)))),
				pwSub(2, pwStr(2, "10.0.0.2")))))},
		{"get maintenance schedule", opResponse{Type: "GET_MAINTENANCE_SCHEDULE", GetMaintenanceSchedule: &opGetMaintenanceSchedule{Schedule: opScheduleBody{
			Windows: []opWindow{{MachineIDs: []core.MachineID{{Hostname: "h"}}, Unavailability: &opUnavailability{Start: &mesos.TimeInfo{Nanoseconds: 5}}}}}}},
			pwMsg(pwInt(1, 17), pwSub(18, pwSub(1, pwSub(1, pwSub(1, pwStr(1, "h")), pwSub(2, pwSub(1, pwInt(1, 5)))))))},
		{"get master", opResponse{Type: "GET_MASTER", GetMaster: &opGetMaster{MasterInfo: mesos.MasterInfo{ID: "m", IP: 1, Port: 5050}, StartTime: 1.5, ElectedTime: 2.5}},
			pwMsg(pwInt(1, 15), pwSub(16, pwSub(1, pwStr(1, "m"), pwInt(2, 1), pwInt(3, 5050)), pwDbl(2, 1.5), pwDbl(3, 2.5)))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := mesospb.Marshal(&tc.resp)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != string(tc.pb) {
				t.Errorf("Marshal(%s) =\n%x; want\n%x", tc.name, b, tc.pb)
			}
			var got opResponse
			if err := mesospb.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.resp, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("round trip differs (-sent +got):\n%s", d)
			}
		})
	}
}

// TestOperatorEventRoundTrip: every operator event survives protobuf
// encoding and decoding, and its type carries Event.Type's number.
func TestOperatorEventRoundTrip(t *testing.T) {
	task := &core.OpTask{Name: "web", TaskID: mesos.ID{Value: "t"}, FrameworkID: mesos.ID{Value: "f"}, AgentID: mesos.ID{Value: "a"},
		ExecutorID: &mesos.ID{Value: "e"}, State: mesos.TaskRunning, Labels: &mesos.Labels{Labels: []mesos.Label{{Key: "k", Value: "v"}}},
		Statuses: []mesos.TaskStatus{{TaskID: mesos.ID{Value: "t"}, State: mesos.TaskRunning, Timestamp: 1.5}}}
	fw := &core.OpFramework{FrameworkInfo: mesos.FrameworkInfo{User: "u", Name: "n", ID: &mesos.ID{Value: "f"}, Roles: []string{"r"}},
		Active: true, Connected: true, RegisteredTime: &mesos.TimeInfo{Nanoseconds: 1}}
	agent := &core.OpAgent{AgentInfo: core.OpAgentInfo{ID: mesos.ID{Value: "a"}, Hostname: "h"}, Active: true, Version: "v"}
	st := &mesos.TaskStatus{TaskID: mesos.ID{Value: "t"}, State: mesos.TaskFinished, Source: mesos.SourceExecutor}
	for _, tc := range []struct {
		ev  opEvent
		num int64
	}{
		{opEvent{Type: "SUBSCRIBED", Subscribed: &opSubscribed{HeartbeatIntervalSeconds: 15, GetState: &opGetState{
			GetAgents: opGetAgents{Agents: []core.OpAgent{*agent}}, GetTasks: opGetTasks{Tasks: []core.OpTask{*task}},
			GetFrameworks: opGetFrameworks{Frameworks: []core.OpFramework{*fw}},
			GetExecutors:  opGetExecutors{Executors: []core.OpExecutor{{ExecutorInfo: mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: "e"}}, AgentID: mesos.ID{Value: "a"}}}}}}}, 1},
		{opEvent{Type: "TASK_ADDED", TaskAdded: &opTaskAdded{Task: task}}, 2},
		{opEvent{Type: "TASK_UPDATED", TaskUpdated: &opTaskUpdated{FrameworkID: mesos.ID{Value: "f"}, Status: st, State: mesos.TaskFinished}}, 3},
		{opEvent{Type: "AGENT_ADDED", AgentAdded: &opAgentAdded{Agent: agent}}, 4},
		{opEvent{Type: "AGENT_REMOVED", AgentRemoved: &opAgentRemoved{AgentID: mesos.ID{Value: "a"}}}, 5},
		{opEvent{Type: "FRAMEWORK_ADDED", FrameworkAdded: &opFrameworkEvent{Framework: fw}}, 6},
		{opEvent{Type: "FRAMEWORK_UPDATED", FrameworkUpdated: &opFrameworkEvent{Framework: fw}}, 7},
		{opEvent{Type: "FRAMEWORK_REMOVED", FrameworkRemoved: &opFrameworkRemoved{FrameworkInfo: fw.FrameworkInfo}}, 8},
		{opEvent{Type: "HEARTBEAT"}, 9},
	} {
		t.Run(tc.ev.Type, func(t *testing.T) {
			b, err := mesospb.Marshal(&tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			var got opEvent
			if err := mesospb.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.ev, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("round trip differs (-sent +got):\n%s", d)
			}
			if head := pwMsg(pwInt(1, tc.num)); !strings.HasPrefix(string(b), string(head)) {
				t.Errorf("Marshal(%s) = %x; want it to start with type %d", tc.ev.Type, b, tc.num)
			}
			// The JSON form is the same value.
			j, err := json.Marshal(&tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			var fromJSON opEvent
			if err := json.Unmarshal(j, &fromJSON); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(got, fromJSON, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("the protobuf form differs from the JSON form (-pb +json):\n%s", d)
			}
		})
	}
}
