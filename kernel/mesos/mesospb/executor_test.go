package mesospb

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"corral/kernel/mesos"
)

// TestExecutorCallGolden: executor calls in protobuf, built field by
// field from executor.proto's numbers, decode to what their JSON forms
// decode to.
func TestExecutorCallGolden(t *testing.T) {
	uuid16 := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	for _, c := range []struct {
		name string
		pb   []byte
		json string
	}{
		{"subscribe", msg(id(1, "ex"), id(2, "fw"), vint(3, 1), sub(4,
			sub(1, str(1, "t"), id(2, "t1"), id(3, "a")),
			sub(2, sub(1, id(1, "t1"), vint(2, 1), vint(9, 2), byt(11, uuid16))))),
			`{"executor_id":{"value":"ex"},"framework_id":{"value":"fw"},"type":"SUBSCRIBE","subscribe":{
			  "unacknowledged_tasks":[{"name":"t","task_id":{"value":"t1"},"agent_id":{"value":"a"},"resources":null}],
			  "unacknowledged_updates":[{"status":{"task_id":{"value":"t1"},"state":"TASK_RUNNING","source":"SOURCE_EXECUTOR","uuid":"AAECAwQFBgcICQoLDA0ODw=="}}]}}`},
		{"update", msg(id(1, "ex"), id(2, "fw"), vint(3, 2), sub(5, sub(1, id(1, "t1"), vint(2, 2), str(4, "done"), vint(9, 2), byt(11, uuid16)))),
			`{"executor_id":{"value":"ex"},"framework_id":{"value":"fw"},"type":"UPDATE","update":{"status":{
			  "task_id":{"value":"t1"},"state":"TASK_FINISHED","message":"done","source":"SOURCE_EXECUTOR","uuid":"AAECAwQFBgcICQoLDA0ODw=="}}}`},
		// The call's MESSAGE carries its data in field 2.
		{"message", msg(id(1, "ex"), id(2, "fw"), vint(3, 3), sub(6, byt(2, []byte("hi")))),
			`{"executor_id":{"value":"ex"},"framework_id":{"value":"fw"},"type":"MESSAGE","message":{"data":"aGk="}}`},
		{"heartbeat", msg(id(1, "ex"), id(2, "fw"), vint(3, 4)),
			`{"executor_id":{"value":"ex"},"framework_id":{"value":"fw"},"type":"HEARTBEAT"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var fromPB, fromJSON mesos.ExecutorCall
			if err := UnmarshalExecutorCall(c.pb, &fromPB); err != nil {
				t.Fatalf("UnmarshalExecutorCall: %v", err)
			}
			if err := json.Unmarshal([]byte(c.json), &fromJSON); err != nil {
				t.Fatalf("json: %v", err)
			}
			if d := cmp.Diff(fromJSON, fromPB); d != "" {
				t.Errorf("protobuf and JSON differ (-json +pb):\n%s", d)
			}
		})
	}
}

// TestExecutorEventGolden: events the agent writes, in protobuf, are what
// executor.proto's numbers say (the event's MESSAGE data is field 1).
func TestExecutorEventGolden(t *testing.T) {
	for _, c := range []struct {
		name string
		ev   mesos.ExecutorEvent
		pb   []byte
	}{
		{"launch", mesos.ExecutorEvent{Type: mesos.ExecEventLaunch, Launch: &mesos.ExecutorLaunch{Task: mesos.TaskInfo{Name: "t", TaskID: mesos.ID{Value: "t1"}, AgentID: mesos.ID{Value: "a"}}}},
			msg(vint(1, 2), sub(4, sub(1, str(1, "t"), id(2, "t1"), id(3, "a"))))},
		{"acknowledged", mesos.ExecutorEvent{Type: mesos.ExecEventAcknowledged, Acknowledged: &mesos.ExecutorAcknowledged{TaskID: mesos.ID{Value: "t1"}, UUID: "AAE="}},
			msg(vint(1, 4), sub(3, id(1, "t1"), byt(2, []byte{0, 1})))},
		{"message", mesos.ExecutorEvent{Type: mesos.ExecEventMessage, Message: &mesos.ExecutorEventMessage{Data: "aGk="}},
			msg(vint(1, 5), sub(6, byt(1, []byte("hi"))))},
		{"kill", mesos.ExecutorEvent{Type: mesos.ExecEventKill, Kill: &mesos.ExecutorKill{TaskID: mesos.ID{Value: "t1"}}},
			msg(vint(1, 3), sub(5, id(1, "t1")))},
		{"shutdown", mesos.ExecutorEvent{Type: mesos.ExecEventShutdown}, msg(vint(1, 7))},
		{"heartbeat", mesos.ExecutorEvent{Type: mesos.ExecEventHeartbeat}, msg(vint(1, 9))},
	} {
		t.Run(c.name, func(t *testing.T) {
			var back mesos.ExecutorEvent
			if err := UnmarshalExecutorEvent(c.pb, &back); err != nil {
				t.Fatalf("UnmarshalExecutorEvent: %v", err)
			}
			if d := cmp.Diff(c.ev, back); d != "" {
				t.Errorf("decoded event differs (-want +got):\n%s", d)
			}
			b, err := MarshalExecutorEvent(&c.ev)
			if err != nil {
				t.Fatal(err)
			}
			var again mesos.ExecutorEvent
			if err := UnmarshalExecutorEvent(b, &again); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.ev, again); d != "" {
				t.Errorf("round trip differs (-want +got):\n%s", d)
			}
		})
	}
}
