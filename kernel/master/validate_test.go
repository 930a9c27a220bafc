package master

import (
	"encoding/json"
	"strings"
	"testing"

	"corral/kernel/mesos"
	"corral/kernel/resource"
)

func TestValidateCall(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		wantErr    string // substring; "" = valid
	}{
		{"subscribe ok", `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}`, ""},
		{"no type", `{"subscribe":{}}`, "Expecting 'type'"},
		{"subscribe without body", `{"type":"SUBSCRIBE"}`, "Expecting 'subscribe'"},
		{"subscribe without user", `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"n"}}}`, "framework_info.user"},
		{"subscribe bad role", `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","roles":["/a"]}}}`, "framework_info.roles"},
		{"subscribe negative failover", `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","failover_timeout":-1}}}`, "failover_timeout"},
		{"subscribe id mismatch", `{"type":"SUBSCRIBE","framework_id":{"value":"a"},"subscribe":{"framework_info":{"user":"u","name":"n","id":{"value":"b"}}}}`, "differs"},
		{"accept without framework", `{"type":"ACCEPT","accept":{"offer_ids":[]}}`, "framework_id"},
		{"accept without body", `{"type":"ACCEPT","framework_id":{"value":"f"}}`, "Expecting 'accept'"},
		{"accept reserve", `{"type":"ACCEPT","framework_id":{"value":"f"},"accept":{"offer_ids":[],"operations":[{"type":"RESERVE"}]}}`, "RESERVE is not supported"},
		{"accept launch without body", `{"type":"ACCEPT","framework_id":{"value":"f"},"accept":{"offer_ids":[],"operations":[{"type":"LAUNCH"}]}}`, "without 'launch'"},
		{"ack bad uuid", `{"type":"ACKNOWLEDGE","framework_id":{"value":"f"},"acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"nope"}}`, "uuid"},
		{"ack ok", `{"type":"ACKNOWLEDGE","framework_id":{"value":"f"},"acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"qttzEM1zvg+ekvEtW241BQ=="}}`, ""},
		{"reconcile implicit", `{"type":"RECONCILE","framework_id":{"value":"f"}}`, ""},
		{"reconcile no task id", `{"type":"RECONCILE","framework_id":{"value":"f"},"reconcile":{"tasks":[{}]}}`, "task_id"},
		{"kill no task", `{"type":"KILL","framework_id":{"value":"f"},"kill":{}}`, "kill.task_id"},
		{"revive bare", `{"type":"REVIVE","framework_id":{"value":"f"}}`, ""},
		{"message bad data", `{"type":"MESSAGE","framework_id":{"value":"f"},"message":{"agent_id":{"value":"a"},"executor_id":{"value":"e"},"data":"%%%"}}`, "base64"},
		{"unknown type", `{"type":"FROBNICATE","framework_id":{"value":"f"}}`, "unsupported"},
		{"update framework id mismatch", `{"type":"UPDATE_FRAMEWORK","framework_id":{"value":"f"},"update_framework":{"framework_info":{"user":"u","name":"n","id":{"value":"g"}}}}`, "must equal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c mesos.Call
			if err := json.Unmarshal([]byte(tc.body), &c); err != nil {
				t.Fatal(err)
			}
			err := validateCall(&c)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("validateCall(%s) = %v; want nil", tc.body, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("validateCall(%s) = %v; want error containing %q", tc.body, err, tc.wantErr)
			}
		})
	}
}

func TestValidateRole(t *testing.T) {
	for role, ok := range map[string]bool{"*": true, "eng": true, "eng/web": true, "": false, "/a": false, "a/": false, "a//b": false, "a/../b": false, "a b": false, "-x": false, "a/*": false} {
		if err := validateRole(role); (err == nil) != ok {
			t.Errorf("validateRole(%q) = %v; want ok=%v", role, err, ok)
		}
	}
}

func TestCheckTask(t *testing.T) {
	offered, _ := resource.Parse("cpus:2;mem:1024;ports:[31000-31010]")
	base := func() mesos.TaskInfo {
		return mesos.TaskInfo{
			Name: "t", TaskID: mesos.ID{Value: "t1"}, AgentID: mesos.ID{Value: "a1"},
			Resources: resource.Scalar("cpus", 1).Add(resource.Scalar("mem", 128)).Wire(""),
			Command:   &mesos.CommandInfo{Value: "sleep 1"},
		}
	}
	none := func(string) bool { return false }
	for _, tc := range []struct {
		name   string
		mutate func(*mesos.TaskInfo)
		exists func(string) bool
		want   string
	}{
		{"valid", func(*mesos.TaskInfo) {}, none, ""},
		{"no id", func(ti *mesos.TaskInfo) { ti.TaskID.Value = "" }, none, "no 'task_id'"},
		{"slash id", func(ti *mesos.TaskInfo) { ti.TaskID.Value = "a/b" }, none, "must not contain"},
		{"duplicate", func(*mesos.TaskInfo) {}, func(string) bool { return true }, "already in use"},
		{"wrong agent", func(ti *mesos.TaskInfo) { ti.AgentID.Value = "a2" }, none, "offer is for agent"},
		{"executor", func(ti *mesos.TaskInfo) { ti.Executor = &mesos.ExecutorInfo{} }, none, "custom executors"},
		{"no command", func(ti *mesos.TaskInfo) { ti.Command = nil }, none, "must set 'command'"},
		{"empty shell", func(ti *mesos.TaskInfo) { ti.Command.Value = "" }, none, "empty"},
		{"too much cpu", func(ti *mesos.TaskInfo) { ti.Resources = resource.Scalar("cpus", 3).Wire("") }, none, "missing cpus:1"},
		{"port not offered", func(ti *mesos.TaskInfo) {
			ti.Resources = resource.Scalar("cpus", 1).Add(resource.RangesOf("ports", resource.Range{Begin: 80, End: 80})).Wire("")
		}, none, "missing ports:[80-80]"},
		{"no resources", func(ti *mesos.TaskInfo) { ti.Resources = nil }, none, "no cpus or mem"},
		{"reserved", func(ti *mesos.TaskInfo) { ti.Resources[0].Role = "eng" }, none, "reserved resources"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ti := base()
			tc.mutate(&ti)
			got := checkTask(&ti, "a1", "web", mesos.ResourceFormat{}, offered, tc.exists)
			if tc.want == "" && got.reason != "" || tc.want != "" && !strings.Contains(got.reason, tc.want) {
				t.Errorf("checkTask(%s) reason = %q; want %q", tc.name, got.reason, tc.want)
			}
		})
	}
}

// TestCheckTaskAllocation: a task's resources may leave out
// allocation_info, whatever the framework's capabilities, but may not name
// a role other than the offer's.
func TestCheckTaskAllocation(t *testing.T) {
	offered, _ := resource.Parse("cpus:2;mem:1024")
	multiRole := mesos.ResourceFormat{MultiRole: true, ReservationRefinement: true}
	for _, tc := range []struct {
		name      string
		format    mesos.ResourceFormat
		resources []mesos.Resource
		want      string
	}{
		{"legacy without allocation_info", mesos.ResourceFormat{}, resource.Scalar("cpus", 1).Wire(""), ""},
		{"multi-role without allocation_info", multiRole, resource.Scalar("cpus", 1).Wire(""), ""},
		{"multi-role with the offer's role", multiRole, resource.Scalar("cpus", 1).Wire("web"), ""},
		{"multi-role with another role", multiRole, resource.Scalar("cpus", 1).Wire("batch"), `allocated to role "batch", but the offer is allocated to role "web"`},
		{"legacy with another role", mesos.ResourceFormat{}, resource.Scalar("cpus", 1).Wire("batch"), `allocated to role "batch"`},
		{"reserved post-refinement", multiRole, []mesos.Resource{{Name: "cpus", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 1},
			Reservations: []mesos.ReservationInfo{{Type: mesos.ReservationStatic, Role: "web"}}}}, "reserved resources are not supported"},
		{"star dynamically reserved", multiRole, []mesos.Resource{{Name: "cpus", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 1},
			Role: "*", Reservation: &mesos.ReservationInfo{Principal: "p"}}}, "cannot be dynamically reserved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ti := mesos.TaskInfo{Name: "t", TaskID: mesos.ID{Value: "t1"}, AgentID: mesos.ID{Value: "a1"}, Resources: tc.resources, Command: &mesos.CommandInfo{Value: "sleep 1"}}
			got := checkTask(&ti, "a1", "web", tc.format, offered, func(string) bool { return false })
			if tc.want == "" && got.reason != "" || tc.want != "" && !strings.Contains(got.reason, tc.want) {
				t.Errorf("checkTask(%s) reason = %q; want %q", tc.name, got.reason, tc.want)
			}
			if tc.want == "" && got.resources.Scalar("cpus") != 1 {
				t.Errorf("checkTask(%s) resources = %s; want cpus:1", tc.name, got.resources)
			}
		})
	}
}

func TestReconcileUnknown(t *testing.T) {
	for _, tc := range []struct {
		agent     agentStatus
		pa        bool
		want      mesos.TaskState
		wantReply bool
	}{
		{agentRecovered, true, "", false},
		{agentRegistered, true, mesos.TaskGone, true},
		{agentUnreachable, true, mesos.TaskUnreachable, true},
		{agentGone, true, mesos.TaskGoneByOperator, true},
		{agentUnknown, true, mesos.TaskUnknown, true},
		{agentRegistered, false, mesos.TaskLost, true},
		{agentUnreachable, false, mesos.TaskLost, true},
		{agentUnknown, false, mesos.TaskLost, true},
	} {
		got, reply := reconcileUnknown(tc.agent, tc.pa)
		if got != tc.want || reply != tc.wantReply {
			t.Errorf("reconcileUnknown(%d, pa=%v) = %s, %v; want %s, %v", tc.agent, tc.pa, got, reply, tc.want, tc.wantReply)
		}
	}
}

func TestRefuseSeconds(t *testing.T) {
	f := func(v float64) *mesos.Filters { x := mesos.Float(v); return &mesos.Filters{RefuseSeconds: &x} }
	for _, tc := range []struct {
		in   *mesos.Filters
		want float64
	}{{nil, 5}, {&mesos.Filters{}, 5}, {f(0), 0}, {f(-3), 0}, {f(60), 60}, {f(1e12), maxRefuseSeconds}} {
		if got := refuseSeconds(tc.in, 5); got != tc.want {
			t.Errorf("refuseSeconds(%v) = %v; want %v", tc.in, got, tc.want)
		}
	}
}
