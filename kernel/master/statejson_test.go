package master

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"sync"
	"testing"

	"corral/kernel/internal/agentproto"
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

	var every stateBody
	fillEvery(t, reflect.ValueOf(&every).Elem(), 0)
	for _, tc := range []struct {
		name string
		body stateBody
	}{
		{"empty", stateBody{}},
		{"empty lists", stateBody{State: State{Agents: []AgentState{}, CompletedFrameworks: []FrameworkState{}, Quotas: []core.QuotaConfig{}}, Frameworks: []frameworkBody{}}},
		{"full", full},
		{"every field set", every},
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

// TestStateWhileClusterChanges: GET /state, built off the master's loop
// from what the loop copied, answers while the loop changes the tasks,
// agents and offers it read (with -race, a shared record shows up here).
func TestStateWhileClusterChanges(t *testing.T) {
	tm := startMaster(t, nil)
	task := func(id string) agentproto.Task {
		return agentproto.Task{FrameworkID: "F", State: mesos.TaskRunning, TaskInfo: mesos.TaskInfo{Name: id, TaskID: mesos.ID{Value: id},
			Resources: []mesos.Resource{{Name: "cpus", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 0.5}}}}}
	}
	a := registerAgent(t, tm.url, "", "cpus:4;mem:1024", []agentproto.Task{task("t1"), task("t2")})
	subscribe(t, tm.url, `{"user":"u","name":"other"}`)

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			resp, body := get(t, tm.url+"/state", nil)
			if resp.StatusCode != http.StatusOK || !json.Valid([]byte(body)) {
				t.Errorf("GET /state = %d %.200s", resp.StatusCode, body)
				return
			}
		}
	})
	for i := range 20 {
		a.heartbeat()
		a.update("F", "t1", []mesos.TaskState{mesos.TaskRunning, mesos.TaskStaging}[i%2])
		registerAgent(t, tm.url, "", "cpus:1;mem:128", []agentproto.Task{task(fmt.Sprintf("x%d", i))})
	}
	a.update("F", "t2", mesos.TaskFinished)
	close(done)
	wg.Wait()

	_, body := get(t, tm.url+"/state", nil)
	var st struct {
		Agents []json.RawMessage `json:"slaves"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || len(st.Agents) != 21 {
		t.Errorf("GET /state after 21 registrations: %d agents (%v); want 21", len(st.Agents), err)
	}
}
