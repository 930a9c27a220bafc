package master

import (
	"encoding/json"
	"strings"
	"testing"

	"corral/kernel/mesos"
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
