package master

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"corral/kernel/master/internal/core"
	"corral/kernel/mesos"
)

// TestWriteStateMatchesEncodingJSON: writeState writes what
// json.NewEncoder(w).Encode writes, byte for byte, for bodies with every
// optional field both set and unset, strings that need escaping and
// floats of every magnitude.
func TestWriteStateMatchesEncodingJSON(t *testing.T) {
	yes, no := true, false
	odd := "a<b>&\"c\"\\\n\t\x01é\u2028\xff"
	full := stateBody{State: State{
		Version: "1.0", ID: "m1", Leader: "master@127.0.0.1:5050", Hostname: odd,
		LeaderInfo: mesos.MasterInfo{ID: "m1", Hostname: "h", Port: 5050, Address: &mesos.Address{Hostname: "h", IP: "1.2.3.4", Port: 5050}},
		StartTime:  1.7e9 + 0.123456789, ElectedTime: 1e21, ActivatedAgents: 2, UnreachableAgents: 1, Offers: 3,
		Agents: []AgentState{{
			ID: "a1", Hostname: "h1", Endpoint: "http://h1:5051", PID: "slave(1)@h1:5051", State: "registered", Active: true, Connected: true,
			RegisteredTime: 1.5e-7, LastHeartbeat: 12.5, UnreachableTime: -0.000001,
			Resources:        ResourceSummary{"cpus": 4.0, "mem": 8192.0, "disk": 0.0, "gpus": 0.0, "ports": "[31000-32000]", "z": []string{"x"}, "w": 3},
			UsedResources:    ResourceSummary{},
			OfferedResources: nil,
			FreeResources:    ResourceSummary{"cpus": 1e-7, "mem": 123456789012.0},
			Attributes:       map[string]any{"rack": "r<1>", "n": 2.5, "set": []string{"a", "b"}, "nil": nil},
			Cgroups:          "v2", CgroupsReason: odd, Version: "v", TaskCount: 2, Containerizers: []string{"mesos", "docker"},
			Deactivated: true, DrainInfo: &core.DrainInfoView{State: "DRAINING", Config: core.DrainConfig{MarkGone: true}},
			Maintenance: &core.MaintenanceView{Mode: "DRAINING", Start: 1, End: 2},
		}, {ID: "a2"}},
		CompletedFrameworks: []FrameworkState{{ID: "done", Tasks: []TaskState{{ID: "t9", Statuses: []StatusState{}}}, CompletedTasks: []TaskState{{ID: "t8"}}}},
		Quotas:              []core.QuotaConfig{{Role: "r"}},
	}}
	tasks := []taskBody{
		{TaskState: TaskState{ID: "t1", Name: odd, FrameworkID: "f1", AgentID: "a1", State: "TASK_RUNNING", Role: "*",
			Resources: ResourceSummary{"cpus": 0.1, "mem": 32.0}, Statuses: []StatusState{{State: "TASK_RUNNING", Timestamp: 1.7e9}},
			Sandbox: "/w/sandboxes/f1/t1", Labels: &mesos.Labels{Labels: []mesos.Label{{Key: "k", Value: "v"}, {Key: "empty"}}},
			Command: "sleep 1 && echo <x>", User: "nobody", Healthy: &yes, Message: "m", Reason: "REASON_X"},
			Discovery: &mesos.DiscoveryInfo{Visibility: "FRAMEWORK", Name: "web"}},
		{TaskState: TaskState{ID: "t2", Healthy: &no, Labels: &mesos.Labels{}}},
		{TaskState: TaskState{ID: "t3", Statuses: []StatusState{{}, {State: "x", Timestamp: math.SmallestNonzeroFloat64}}}},
	}
	full.Frameworks = []frameworkBody{{
		FrameworkState: FrameworkState{ID: "f1", Name: "n", User: "u", Principal: "p", Roles: []string{"a", "b"}, SuppressedRoles: []string{"b"},
			Hostname: "h", WebuiURL: "http://x/?a=1&b=2", State: "active", Active: true, Connected: true, Capabilities: []string{"PARTITION_AWARE"},
			FailoverTimeout: 3600, RegisteredTime: 1, DisconnectedAt: 2, RemovedAt: 3,
			UsedResources: ResourceSummary{"cpus": 1.0}, OfferedResource: ResourceSummary{},
			UnreachableTask: []TaskState{{ID: "u1"}}, CompletedTasks: []TaskState{},
			Offers:    []OfferState{{ID: "o1", FrameworkID: "f1", AgentID: "a1", Role: "*", Resources: ResourceSummary{"cpus": 2.0}, AgeSeconds: 0.5}},
			Executors: []core.ExecutorState{{ID: "e1", AgentID: "a1", Resources: ResourceSummary{"mem": 1.0}}}},
		Tasks: tasks,
	}, {Tasks: []taskBody{}}, {}}

	for _, tc := range []struct {
		name string
		body stateBody
	}{
		{"empty", stateBody{}},
		{"empty lists", stateBody{State: State{Agents: []AgentState{}, CompletedFrameworks: []FrameworkState{}, Quotas: []core.QuotaConfig{}}, Frameworks: []frameworkBody{}}},
		{"full", full},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want, got bytes.Buffer
			if err := json.NewEncoder(&want).Encode(tc.body); err != nil {
				t.Fatal(err)
			}
			if err := writeState(&got, tc.body); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("writeState =\n%s\nwant (encoding/json)\n%s", got.Bytes(), want.Bytes())
			}
		})
	}
}

// TestWriteStateRefusesNaN: a value encoding/json cannot encode fails
// the write, as it fails Encode.
func TestWriteStateRefusesNaN(t *testing.T) {
	var got bytes.Buffer
	if err := writeState(&got, stateBody{State: State{StartTime: math.NaN()}}); err == nil {
		t.Errorf("writeState(start_time NaN) = nil; want an error")
	}
}
