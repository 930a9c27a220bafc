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
		{"accept launch group", `{"type":"ACCEPT","framework_id":{"value":"f"},"accept":{"offer_ids":[],"operations":[{"type":"LAUNCH_GROUP"}]}}`, "LAUNCH_GROUP (a task group run by Mesos' default executor) is not supported"},
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
		{"subscribe huge failover", sub(`"failover_timeout":1e308`), "'framework_info.failover_timeout'"},
		{"subscribe failover just over a year", sub(`"failover_timeout":31536001`), "'framework_info.failover_timeout'"},
		{"subscribe failover of a year", sub(`"failover_timeout":31536000`), ""},
		{"subscribe NaN failover", sub(`"failover_timeout":"NaN"`), "invalid number"},
		{"subscribe long name", `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"` + strings.Repeat("n", 1025) + `"}}}`, "'framework_info.name'"},
		{"subscribe name of 1 KiB", `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"` + strings.Repeat("n", 1024) + `"}}}`, ""},
		{"subscribe long hostname", sub(`"hostname":"` + strings.Repeat("h", 256) + `"`), "'framework_info.hostname'"},
		{"subscribe long user", `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"` + strings.Repeat("u", 1025) + `","name":"n"}}}`, "'framework_info.user'"},
		{"subscribe long principal", sub(`"principal":"` + strings.Repeat("p", 1025) + `"`), "'framework_info.principal'"},
		{"subscribe webui javascript", sub(`"webui_url":"javascript:alert(1)"`), "'framework_info.webui_url'"},
		{"subscribe webui data", sub(`"webui_url":"data:text/html,<script>alert(1)</script>"`), "'framework_info.webui_url'"},
		{"subscribe webui file", sub(`"webui_url":"file:///etc/passwd"`), "'framework_info.webui_url'"},
		{"subscribe webui relative", sub(`"webui_url":"/v2/apps"`), "'framework_info.webui_url'"},
		{"subscribe webui scheme-relative", sub(`"webui_url":"//evil.example/"`), "'framework_info.webui_url'"},
		{"subscribe webui opaque", sub(`"webui_url":"http:evil.example"`), "'framework_info.webui_url'"},
		{"subscribe webui without host", sub(`"webui_url":"http:///x"`), "'framework_info.webui_url'"},
		{"subscribe webui too long", sub(`"webui_url":"http://h/` + strings.Repeat("x", 4096) + `"`), "'framework_info.webui_url'"},
		{"subscribe webui http", sub(`"webui_url":"http://10.0.0.1:8080/ui"`), ""},
		{"subscribe webui https", sub(`"webui_url":"HTTPS://svc.example"`), ""},
		{"subscribe role too long", sub(`"role":"` + strings.Repeat("r", 256) + `"`), "framework_info.role"},
		{"subscribe roles too long", sub(`"roles":["` + strings.Repeat("r", 256) + `"],"capabilities":[{"type":"MULTI_ROLE"}]`), "framework_info.roles"},
		{"subscribe role of 255 bytes", sub(`"role":"` + strings.Repeat("r", 255) + `"`), ""},
		{"subscribe role backslash", sub(`"role":"a\\b"`), "framework_info.roles"},
		{"subscribe suppressed role with tab", `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"},"suppressed_roles":["a\tb"]}}`, "subscribe.suppressed_roles"},
		{"update framework javascript webui", `{"type":"UPDATE_FRAMEWORK","framework_id":{"value":"f"},"update_framework":{"framework_info":{"user":"u","name":"n","id":{"value":"f"},"webui_url":"javascript:alert(1)"}}}`, "'framework_info.webui_url'"},
		{"update framework huge failover", `{"type":"UPDATE_FRAMEWORK","framework_id":{"value":"f"},"update_framework":{"framework_info":{"user":"u","name":"n","id":{"value":"f"},"failover_timeout":1e308}}}`, "'framework_info.failover_timeout'"},
		{"launch ok", launch(`"task_id":{"value":"t"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]`), ""},
		{"launch huge scalar", launch(`"task_id":{"value":"t"},"resources":[{"name":"mem","type":"SCALAR","scalar":{"value":32}},{"name":"cpus","type":"SCALAR","scalar":{"value":1e308}}]`), "'accept.operations[0].launch.task_infos[0].resources[1].scalar.value'"},
		{"launch scalar over 1e15", launch(`"task_id":{"value":"t"},"resources":[{"name":"disk","type":"SCALAR","scalar":{"value":1.5e15}}]`), "resources[0].scalar.value"},
		{"launch negative scalar", launch(`"task_id":{"value":"t"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":-1}}]`), "resources[0].scalar.value"},
		{"launch NaN scalar", launch(`"task_id":{"value":"t"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":"NaN"}}]`), "invalid number"},
		{"launch backwards range", launch(`"task_id":{"value":"t"},"resources":[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":5,"end":4}]}}]`), "resources[0].ranges.range[0]"},
		{"launch long task id", launch(`"task_id":{"value":"` + strings.Repeat("t", 256) + `"}`), "'accept.operations[0].launch.task_infos[0].task_id'"},
		{"launch task id of 255 bytes", launch(`"task_id":{"value":"` + strings.Repeat("t", 255) + `"}`), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A number JSON cannot carry is refused by decoding already.
			var c mesos.Call
			err := json.Unmarshal([]byte(tc.body), &c)
			if err == nil {
				err = validateCall(&c)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("validateCall(%s) = %v; want nil", short(tc.body), err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("validateCall(%s) = %v; want error containing %q", short(tc.body), err, tc.wantErr)
			}
		})
	}
}

// short shortens a long call body for a failure message.
func short(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// sub is a SUBSCRIBE whose framework_info has user, name and extra.
func sub(extra string) string {
	return `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n",` + extra + `}}}`
}

// launch is an ACCEPT with one LAUNCH of one task, task (its fields other
// than name, agent and command).
func launch(task string) string {
	return `{"type":"ACCEPT","framework_id":{"value":"f"},"accept":{"offer_ids":[{"value":"o"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"x","agent_id":{"value":"a"},"command":{"value":"true"},` + task + `}]}}]}}`
}

func TestValidateRole(t *testing.T) {
	for role, ok := range map[string]bool{
		"*": true, "eng": true, "eng/web": true, "a.b": true, "a/.b": true, "a-b": true, "é": true, strings.Repeat("r", 255): true,
		"": false, "/a": false, "a/": false, "a//b": false, ".": false, "..": false, "a/.": false, "a/../b": false, "./a": false,
		"a b": false, "a\tb": false, "a\nb": false, "a\x7fb": false, "a\u00a0b": false, "a\u0085b": false, "a\u2028b": false,
		"a\\b": false, "-x": false, "a/-x": false, "a/*": false, "*/a": false, "a\xffb": false, strings.Repeat("r", 256): false,
	} {
		if err := validateRole(role); (err == nil) != ok {
			t.Errorf("validateRole(%q) = %v; want ok=%v", short(role), err, ok)
		}
	}
}
