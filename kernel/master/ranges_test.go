package master

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// Out-of-range SUBSCRIBE and UPDATE_FRAMEWORK fields are answered 400
// naming the field, and nothing is stored: no framework in /state or the
// registry, no change to a subscribed one.
func TestSubscribeRefusesOutOfRangeFields(t *testing.T) {
	tm := startMaster(t, nil)
	for _, tc := range []struct{ name, info, field string }{
		{"failover beyond a year", `{"user":"u","name":"n","failover_timeout":1e308}`, "'framework_info.failover_timeout'"},
		{"negative failover", `{"user":"u","name":"n","failover_timeout":-1}`, "'framework_info.failover_timeout'"},
		{"long name", `{"user":"u","name":"` + strings.Repeat("n", 4096) + `"}`, "'framework_info.name'"},
		{"long hostname", `{"user":"u","name":"n","hostname":"` + strings.Repeat("h", 4096) + `"}`, "'framework_info.hostname'"},
		{"javascript webui_url", `{"user":"u","name":"n","webui_url":"javascript:alert(document.cookie)"}`, "'framework_info.webui_url'"},
		{"relative webui_url", `{"user":"u","name":"n","webui_url":"/framework/other"}`, "'framework_info.webui_url'"},
		{"role with backslash", `{"user":"u","name":"n","role":"a\\b"}`, "framework_info.roles"},
		{"long role", `{"user":"u","name":"n","roles":["` + strings.Repeat("r", 256) + `"],"capabilities":[{"type":"MULTI_ROLE"}]}`, "framework_info.roles"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A SUBSCRIBE that is let in answers a stream: only a refusal
			// has a body to read.
			resp, err := http.Post(tm.url+"/api/v1/scheduler", "application/json", strings.NewReader(`{"type":"SUBSCRIBE","subscribe":{"framework_info":`+tc.info+`}}`))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 400 {
				t.Fatalf("SUBSCRIBE with %s = %d; want 400 naming %s", tc.name, resp.StatusCode, tc.field)
			}
			if msg, _ := io.ReadAll(resp.Body); !strings.Contains(string(msg), tc.field) {
				t.Errorf("SUBSCRIBE with %s = 400 %q; want a message naming %s", tc.name, short(string(msg)), tc.field)
			}
		})
	}
	if st := getState(t, tm.url); len(st.Frameworks) != 0 {
		t.Errorf("frameworks after refused SUBSCRIBEs = %+v; want none", st.Frameworks)
	}
	if fws, err := tm.store.Frameworks(t.Context()); err != nil || len(fws) != 0 {
		t.Errorf("registry after refused SUBSCRIBEs = %+v, %v; want no framework", fws, err)
	}

	f := subscribe(t, tm.url, `{"user":"u","name":"n","webui_url":"http://127.0.0.1:1/"}`)
	code, msg := f.call(`{"type":"UPDATE_FRAMEWORK",` + f.fid() + `,"update_framework":{"framework_info":{"user":"u","name":"n","id":{"value":"` + f.id + `"},"webui_url":"data:text/html,<script>alert(1)</script>"}}}`)
	if code != 400 || !strings.Contains(msg, "'framework_info.webui_url'") {
		t.Errorf("UPDATE_FRAMEWORK to a data: webui_url = %d %q; want 400 naming framework_info.webui_url", code, msg)
	}
	if st := getState(t, tm.url); len(st.Frameworks) != 1 || st.Frameworks[0].WebuiURL != "http://127.0.0.1:1/" {
		t.Errorf("framework after a refused UPDATE_FRAMEWORK = %+v; want its webui_url unchanged", st.Frameworks)
	}
}

// An ACCEPT whose LAUNCH carries out-of-range numbers is answered 400
// naming the field and changes nothing: the offer stays the framework's,
// no task is answered or launched, and the offer can then be used.
func TestAcceptRefusesOutOfRangeResources(t *testing.T) {
	tm := startMaster(t, nil)
	a := registerAgent(t, tm.url, "", "cpus:2;mem:1024", nil)
	a.keepAlive(50 * time.Millisecond)
	f := subscribe(t, tm.url, plainFramework)
	o := f.s.nextEvent(mesos.EventOffers).Offers.Offers[0]
	accept := func(taskID, resources string) (int, string) {
		return f.call(`{"type":"ACCEPT",` + f.fid() + `,"accept":{"offer_ids":[{"value":"` + o.ID.Value + `"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"t","task_id":{"value":"` + taskID + `"},"agent_id":{"value":"` + a.id + `"},"resources":` + resources + `,"command":{"value":"sleep 100"}}]}}]}}`)
	}
	for _, tc := range []struct{ name, taskID, resources, field string }{
		{"cpus 1e308", "t", `[{"name":"cpus","type":"SCALAR","scalar":{"value":1e308}}]`, "'accept.operations[0].launch.task_infos[0].resources[0].scalar.value'"},
		{"mem above 1e15", "t", `[{"name":"cpus","type":"SCALAR","scalar":{"value":1}},{"name":"mem","type":"SCALAR","scalar":{"value":2e15}}]`, "'accept.operations[0].launch.task_infos[0].resources[1].scalar.value'"},
		{"negative cpus", "t", `[{"name":"cpus","type":"SCALAR","scalar":{"value":-1}}]`, "resources[0].scalar.value"},
		{"task id over 255 bytes", strings.Repeat("t", 256), `[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]`, "'accept.operations[0].launch.task_infos[0].task_id'"},
	} {
		if code, msg := accept(tc.taskID, tc.resources); code != 400 || !strings.Contains(msg, tc.field) {
			t.Errorf("ACCEPT with %s = %d %q; want 400 naming %s", tc.name, code, short(msg), tc.field)
		}
	}
	if st := getState(t, tm.url); len(st.Frameworks) != 1 || len(st.Frameworks[0].Offers) != 1 || len(st.Frameworks[0].Tasks) != 0 {
		t.Fatalf("after refused ACCEPTs: %+v; want the offer still outstanding and no task", st.Frameworks)
	}
	if before := f.barrier("barrier"); len(before) != 0 {
		t.Errorf("events after refused ACCEPTs: %+v; want none", before)
	}
	if code, msg := accept("ok", `[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]`); code != 202 {
		t.Fatalf("ACCEPT of the same offer afterwards = %d %q", code, msg)
	}
	if l := a.s.nextAgentEvent(agentproto.EventLaunch).Launch; len(l.Tasks) != 1 || l.Tasks[0].TaskID.Value != "ok" {
		t.Errorf("LAUNCH = %+v; want task ok", l)
	}
}
