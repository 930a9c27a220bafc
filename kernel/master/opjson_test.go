package master

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"corral/kernel/master/internal/core"
	"corral/kernel/mesos"
)

// TestWriteGetStateMatchesEncodingJSON: writeGetState writes what
// json.NewEncoder(w).Encode writes for the GET_STATE Response, byte for
// byte, with every optional field both set and unset, strings that need
// escaping and floats of every magnitude.
func TestWriteGetStateMatchesEncodingJSON(t *testing.T) {
	yes := true
	odd := "a<b>&\"c\"\\\n\t\x01é\u2028\xff"
	res := []mesos.Resource{
		{Name: "cpus", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 0.1}, Role: "*", AllocationInfo: &mesos.AllocationInfo{Role: "r"}},
		{Name: "mem", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 1e21}},
		{Name: "ports", Type: mesos.Ranges, Ranges: &mesos.RangesValue{Range: []mesos.Range{{Begin: 31000, End: 32000}, {Begin: 1, End: math.MaxUint64}}}},
		{Name: "empty", Type: mesos.Ranges, Ranges: &mesos.RangesValue{}},
		{Name: odd, Type: mesos.Set, Set: &mesos.SetValue{Item: []string{"a", odd}}, Role: "r",
			Reservation: &mesos.ReservationInfo{Principal: "p"}, Reservations: []mesos.ReservationInfo{{Role: "r"}}},
		{Name: "null set", Type: mesos.Set, Set: &mesos.SetValue{}},
	}
	full := opGetState{
		GetAgents: opGetAgents{
			Agents: []core.OpAgent{{
				AgentInfo: core.OpAgentInfo{ID: mesos.ID{Value: "a1"}, Hostname: odd, Port: 5051, Resources: res,
					Attributes: []mesos.Attribute{{Name: "rack", Type: mesos.Text, Text: &mesos.TextValue{Value: "r<1>"}}}},
				Active: true, Deactivated: true, Version: "1.0", PID: "slave(1)@h:5051", RegisteredTime: &mesos.TimeInfo{Nanoseconds: -1},
				TotalResources: res, AllocatedResources: []mesos.Resource{}, OfferedResources: nil,
				DrainInfo: &core.DrainInfoView{State: "DRAINING", Config: core.DrainConfig{MarkGone: true}},
			}, {}},
			RecoveredAgents: []core.OpAgentInfo{{ID: mesos.ID{Value: "a2"}, Resources: []mesos.Resource{}}},
		},
		GetExecutors: opGetExecutors{Executors: []core.OpExecutor{{ExecutorInfo: mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: "e1"}}, AgentID: mesos.ID{Value: "a1"}, User: "u"}}},
		GetFrameworks: opGetFrameworks{
			Frameworks:          []core.OpFramework{{FrameworkInfo: mesos.FrameworkInfo{ID: &mesos.ID{Value: "f1"}, Name: odd, User: "u"}, Active: true, AllocatedResources: res}},
			CompletedFrameworks: []core.OpFramework{},
		},
		GetTasks: opGetTasks{
			Tasks: []core.OpTask{{
				Name: odd, TaskID: mesos.ID{Value: "t1"}, FrameworkID: mesos.ID{Value: "f1"}, ExecutorID: &mesos.ID{Value: "e1"}, AgentID: mesos.ID{Value: "a1"},
				State: mesos.TaskRunning, Resources: res, Labels: &mesos.Labels{Labels: []mesos.Label{{Key: "k", Value: odd}, {Key: "empty"}}}, User: "u",
				Statuses: []mesos.TaskStatus{{
					TaskID: mesos.ID{Value: "t1"}, State: mesos.TaskRunning, Message: odd, Source: mesos.SourceExecutor, Reason: "REASON_X",
					Data: "ZGF0YQ==", AgentID: &mesos.ID{Value: "a1"}, ExecutorID: &mesos.ID{Value: "e1"}, Timestamp: 1.7e9 + 0.123456789,
					UUID: "dXVpZA==", Healthy: &yes, Labels: &mesos.Labels{}, UnreachableTime: &mesos.TimeInfo{Nanoseconds: 42},
				}, {TaskID: mesos.ID{Value: "t1"}, Timestamp: mesos.Float(math.SmallestNonzeroFloat64)}},
			}, {Statuses: []mesos.TaskStatus{}}, {Statuses: []mesos.TaskStatus{{}}}},
			UnreachableTasks: []core.OpTask{{Name: "u", Statuses: []mesos.TaskStatus{{State: mesos.TaskUnreachable, Timestamp: 1e-7}}}},
			CompletedTasks:   nil,
		},
	}
	var every opGetState
	fillEvery(t, reflect.ValueOf(&every).Elem(), 0)
	for _, tc := range []struct {
		name string
		body opGetState
	}{
		{"empty", opGetState{}},
		{"empty lists", opGetState{GetAgents: opGetAgents{Agents: []core.OpAgent{}, RecoveredAgents: []core.OpAgentInfo{}},
			GetExecutors: opGetExecutors{Executors: []core.OpExecutor{}}, GetTasks: opGetTasks{Tasks: []core.OpTask{}}}},
		{"full", full},
		{"every field set", every},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want, got bytes.Buffer
			if err := json.NewEncoder(&want).Encode(&opResponse{GetState: &tc.body, Type: "GET_STATE"}); err != nil {
				t.Fatal(err)
			}
			if err := writeGetState(&got, "GET_STATE", &tc.body); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("writeGetState =\n%s\nwant (encoding/json)\n%s", got.Bytes(), want.Bytes())
			}
		})
	}
}
