package master

import (
	"corral/internal/acl"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"corral/internal/edge"
	"corral/kernel/mesos"
)

// authMaster is a master that demands credentials, with three principals:
// the services framework, an attacker, and an operator.
func authMaster(t *testing.T) *testMaster {
	t.Helper()
	cs, err := edge.ParseCredentials([]byte(`{"credentials": [
		{"principal": "services", "secret": "s3rv"},
		{"principal": "eve", "secret": "ev3"},
		{"principal": "ops", "secret": "0ps"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return startMaster(t, func(c *Config) { c.Trust = edge.Trust{Credentials: cs} })
}

// as sends method url with body as principal ("" sends no credential).
func as(t *testing.T, principal, secret, method, url string, hdr map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if principal != "" {
		req.SetBasicAuth(principal, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Mesos-Stream-Id") != "" && resp.StatusCode == 200 {
		return resp, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestMasterDemandsCredentials(t *testing.T) {
	tm := authMaster(t)
	for _, c := range []struct {
		name, principal, secret, path string
		code                          int
	}{
		{"anonymous state", "", "", "/state", 401},
		{"wrong secret", "ops", "nope", "/state", 401},
		{"operator", "ops", "0ps", "/state", 200},
		{"health is open", "", "", "/health", 200},
	} {
		resp, body := as(t, c.principal, c.secret, "GET", tm.url+c.path, nil, "")
		if resp.StatusCode != c.code {
			t.Errorf("%s: GET %s = %d %s; want %d", c.name, c.path, resp.StatusCode, body, c.code)
		}
	}
	// An agent must authenticate to register.
	resp, body := as(t, "", "", "POST", tm.url+"/internal/v1/agent", nil, `{"type":"REGISTER"}`)
	if resp.StatusCode != 401 {
		t.Errorf("anonymous agent REGISTER = %d %s; want 401", resp.StatusCode, body)
	}
}

// TestFrameworkIDBelongsToItsPrincipal is the hijack: another client reads
// a framework's id from /state, subscribes with it and tears it down.
func TestFrameworkIDBelongsToItsPrincipal(t *testing.T) {
	tm := authMaster(t)
	api := tm.url + "/api/v1/scheduler"
	sub := func(principal, secret, info string) (*http.Response, string) {
		return as(t, principal, secret, "POST", api, nil, `{"type":"SUBSCRIBE","subscribe":{"framework_info":`+info+`}}`)
	}
	resp, _ := sub("services", "s3rv", `{"user":"u","name":"services"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE as services = %d", resp.StatusCode)
	}
	s := readStream(t, resp)
	ev := s.nextEvent(mesos.EventSubscribed, mesos.EventError)
	if ev.Type != mesos.EventSubscribed {
		t.Fatalf("first event = %s; want SUBSCRIBED", ev.Type)
	}
	id, stream := ev.Subscribed.FrameworkID.Value, resp.Header.Get("Mesos-Stream-Id")

	// The principal was filled in from the credential.
	_, state := as(t, "ops", "0ps", "GET", tm.url+"/state", nil, "")
	if !strings.Contains(state, `"principal":"services"`) {
		t.Errorf("/state does not show the framework's principal: %s", state)
	}

	// Another principal may not subscribe with that id.
	resp, body := sub("eve", "ev3", `{"user":"u","name":"services","id":{"value":"`+id+`"}}`)
	if resp.StatusCode != 403 || !strings.Contains(body, `belongs to principal "services"`) {
		t.Fatalf("SUBSCRIBE as eve with the services id = %d %s; want 403 naming the owner", resp.StatusCode, body)
	}
	// Nor claim another principal in framework_info.
	resp, body = sub("eve", "ev3", `{"user":"u","name":"x","principal":"services"}`)
	if resp.StatusCode != 403 || !strings.Contains(body, "framework_info.principal") {
		t.Fatalf("SUBSCRIBE as eve claiming services = %d %s; want 403", resp.StatusCode, body)
	}
	// Nor tear it down, even knowing its stream.
	fid := `"framework_id":{"value":"` + id + `"}`
	resp, body = as(t, "eve", "ev3", "POST", api, map[string]string{"Mesos-Stream-Id": stream}, `{"type":"TEARDOWN",`+fid+`}`)
	if resp.StatusCode != 403 {
		t.Fatalf("TEARDOWN as eve = %d %s; want 403", resp.StatusCode, body)
	}
	// The framework is still there and its owner still acts for it.
	resp, body = as(t, "services", "s3rv", "POST", api, map[string]string{"Mesos-Stream-Id": stream}, `{"type":"REVIVE",`+fid+`}`)
	if resp.StatusCode != 202 {
		t.Fatalf("REVIVE as services = %d %s; want 202", resp.StatusCode, body)
	}
	// A re-subscription by the owner works.
	resp, _ = sub("services", "s3rv", `{"user":"u","name":"services","id":{"value":"`+id+`"}}`)
	if resp.StatusCode != 200 {
		t.Fatalf("re-SUBSCRIBE as services = %d; want 200", resp.StatusCode)
	}
	resp.Body.Close()
}

// TestRootTasksNeedAnACL: a task that would run as root (its own user, or
// its framework's) is refused unless a run_tasks entry allows root.
func TestRootTasksNeedAnACL(t *testing.T) {
	launchWith := func(t *testing.T, tm *testMaster, framework, user, extra string) mesos.TaskStatus {
		t.Helper()
		a := registerAgent(t, tm.url, "", "cpus:4;mem:4096", nil)
		a.keepAlive(50 * time.Millisecond)
		f := subscribe(t, tm.url, framework)
		o := f.s.nextEvent(mesos.EventOffers).Offers.Offers[0]
		cmd := `{"value":"id"}`
		if user != "" {
			cmd = `{"value":"id","user":"` + user + `"}`
		}
		code, msg := f.call(`{"type":"ACCEPT",` + f.fid() + `,"accept":{"offer_ids":[{"value":"` + o.ID.Value + `"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[
			{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"` + a.id + `"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}],"command":` + cmd + extra + `}]}}]}}`)
		if code != 202 {
			t.Fatalf("ACCEPT: %d %s", code, msg)
		}
		return f.s.nextEvent(mesos.EventUpdate).Update.Status
	}
	launch := func(t *testing.T, tm *testMaster, framework, user string) mesos.TaskStatus {
		t.Helper()
		return launchWith(t, tm, framework, user, "")
	}
	// A container with power over the host is root there, whoever it runs as.
	for name, container := range map[string]string{
		"privileged container": `"type":"DOCKER","docker":{"image":"busybox","privileged":true}`,
		"added capability":     `"type":"DOCKER","docker":{"image":"busybox","parameters":[{"key":"cap-add","value":"SYS_ADMIN"}]}`,
		"host path volume":     `"type":"DOCKER","docker":{"image":"busybox"},"volumes":[{"container_path":"/host","host_path":"/","mode":"RW"}]`,
	} {
		t.Run(name+", no ACLs", func(t *testing.T) {
			tm := startMaster(t, nil)
			st := launchWith(t, tm, `{"user":"nobody","name":"x"}`, "nobody", `,"container":{`+container+`}`)
			if st.State != mesos.TaskError || st.Reason != mesos.ReasonTaskUnauthorized || !strings.Contains(st.Message, "is root on the agent") {
				t.Fatalf("%s = %s %s %q; want TASK_ERROR REASON_TASK_UNAUTHORIZED saying it is root on the agent", name, st.State, st.Reason, st.Message)
			}
		})
	}
	t.Run("root framework, no ACLs", func(t *testing.T) {
		tm := startMaster(t, nil)
		st := launch(t, tm, `{"user":"root","name":"x"}`, "")
		if st.State != mesos.TaskError || st.Reason != mesos.ReasonTaskUnauthorized || !strings.Contains(st.Message, "may not run as root") {
			t.Fatalf("task of a root framework = %s %s %q; want TASK_ERROR REASON_TASK_UNAUTHORIZED saying root is not allowed", st.State, st.Reason, st.Message)
		}
	})
	t.Run("root command user, no ACLs", func(t *testing.T) {
		tm := startMaster(t, nil)
		st := launch(t, tm, `{"user":"nobody","name":"x"}`, "root")
		if st.State != mesos.TaskError || st.Reason != mesos.ReasonTaskUnauthorized {
			t.Fatalf("task with user root = %s %s %q; want TASK_ERROR REASON_TASK_UNAUTHORIZED", st.State, st.Reason, st.Message)
		}
	})
	t.Run("denied user", func(t *testing.T) {
		a, err := acl.Parse([]byte(`{"permissive": true, "run_tasks": [{"principals": {"type": "ANY"}, "users": {"values": ["bob"]}}, {"principals": {"type": "NONE"}, "users": {"type": "ANY"}}]}`))
		if err != nil {
			t.Fatal(err)
		}
		tm := startMaster(t, func(c *Config) { c.Trust.ACLs = a })
		st := launch(t, tm, `{"user":"nobody","name":"x"}`, "alice")
		if st.State != mesos.TaskError || st.Reason != mesos.ReasonTaskUnauthorized || !strings.Contains(st.Message, `may not run_tasks for users "alice"`) {
			t.Fatalf("task as alice = %s %s %q; want TASK_ERROR naming the ACL", st.State, st.Reason, st.Message)
		}
	})
}

func TestOperatorACLs(t *testing.T) {
	cs, _ := edge.ParseCredentials([]byte(`{"credentials": [{"principal": "services", "secret": "s3rv"}, {"principal": "eve", "secret": "ev3"}, {"principal": "ops", "secret": "0ps"}]}`))
	a, err := acl.Parse([]byte(`{"permissive": false,
		"register_frameworks": [{"principals": {"values": ["services"]}, "roles": {"values": ["web"]}}],
		"teardown_frameworks": [{"principals": {"values": ["ops"]}, "framework_principals": {"type": "ANY"}}],
		"update_weights": [{"principals": {"values": ["ops"]}, "roles": {"type": "ANY"}}],
		"update_maintenance_schedules": [{"principals": {"values": ["ops"]}, "machines": {"type": "ANY"}}],
		"get_maintenance_statuses": [{"principals": {"values": ["ops"]}, "machines": {"type": "ANY"}}],
		"view_frameworks": [{"principals": {"values": ["ops", "services"]}, "users": {"type": "ANY"}}],
		"view_tasks": [{"principals": {"values": ["ops", "services"]}, "users": {"type": "ANY"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tm := startMaster(t, func(c *Config) { c.Trust = edge.Trust{Credentials: cs, ACLs: a} })
	api := tm.url + "/api/v1/scheduler"
	resp, body := as(t, "services", "s3rv", "POST", api, nil, `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"s","roles":["db"],"capabilities":[{"type":"MULTI_ROLE"}]}}}`)
	if resp.StatusCode != 403 || !strings.Contains(body, `register_frameworks for roles "db"`) {
		t.Fatalf("SUBSCRIBE with role db = %d %s; want 403 naming the ACL", resp.StatusCode, body)
	}
	resp, _ = as(t, "services", "s3rv", "POST", api, nil, `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"s","roles":["web"],"capabilities":[{"type":"MULTI_ROLE"}]}}}`)
	if resp.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE with role web = %d; want 200", resp.StatusCode)
	}
	s := readStream(t, resp)
	id := s.nextEvent(mesos.EventSubscribed).Subscribed.FrameworkID.Value

	// eve sees no framework in /state; ops does.
	_, st := as(t, "eve", "ev3", "GET", tm.url+"/state", nil, "")
	if strings.Contains(st, id) {
		t.Errorf("eve's /state shows framework %s; want it left out", id)
	}
	_, st = as(t, "ops", "0ps", "GET", tm.url+"/state", nil, "")
	if !strings.Contains(st, id) {
		t.Errorf("ops' /state lacks framework %s", id)
	}
	// Weights: ops only.
	if resp, body := as(t, "eve", "ev3", "PUT", tm.url+"/weights", nil, `[{"role":"web","weight":2}]`); resp.StatusCode != 403 {
		t.Errorf("PUT /weights as eve = %d %s; want 403", resp.StatusCode, body)
	}
	if resp, body := as(t, "ops", "0ps", "PUT", tm.url+"/weights", nil, `[{"role":"web","weight":2}]`); resp.StatusCode != 200 {
		t.Errorf("PUT /weights as ops = %d %s; want 200", resp.StatusCode, body)
	}
	// Teardown: ops only.
	if resp, body := as(t, "eve", "ev3", "POST", tm.url+"/teardown?frameworkId="+id, nil, ""); resp.StatusCode != 403 {
		t.Errorf("POST /teardown as eve = %d %s; want 403", resp.StatusCode, body)
	}
	if resp, body := as(t, "ops", "0ps", "POST", tm.url+"/teardown?frameworkId="+id, nil, ""); resp.StatusCode != 200 {
		t.Errorf("POST /teardown as ops = %d %s; want 200", resp.StatusCode, body)
	}
	// Maintenance: each call its own ACL, on /api/v1 and the older routes.
	schedule := `{"type":"UPDATE_MAINTENANCE_SCHEDULE","update_maintenance_schedule":{"schedule":{"windows":[]}}}`
	if resp, body := as(t, "eve", "ev3", "POST", tm.url+"/api/v1", nil, schedule); resp.StatusCode != 403 || !strings.Contains(body, "update_maintenance_schedules") {
		t.Errorf("UPDATE_MAINTENANCE_SCHEDULE as eve = %d %s; want 403 naming the ACL", resp.StatusCode, body)
	}
	if resp, body := as(t, "ops", "0ps", "POST", tm.url+"/api/v1", nil, schedule); resp.StatusCode != 200 {
		t.Errorf("UPDATE_MAINTENANCE_SCHEDULE as ops = %d %s; want 200", resp.StatusCode, body)
	}
	if resp, body := as(t, "eve", "ev3", "GET", tm.url+"/maintenance/status", nil, ""); resp.StatusCode != 403 {
		t.Errorf("GET /maintenance/status as eve = %d %s; want 403", resp.StatusCode, body)
	}
	if resp, body := as(t, "ops", "0ps", "GET", tm.url+"/maintenance/status", nil, ""); resp.StatusCode != 200 {
		t.Errorf("GET /maintenance/status as ops = %d %s; want 200", resp.StatusCode, body)
	}
	// ops has no get_maintenance_schedules entry: refused like anyone.
	if resp, body := as(t, "ops", "0ps", "POST", tm.url+"/api/v1", nil, `{"type":"GET_MAINTENANCE_SCHEDULE"}`); resp.StatusCode != 403 {
		t.Errorf("GET_MAINTENANCE_SCHEDULE as ops without its ACL = %d %s; want 403", resp.StatusCode, body)
	}
	if resp, body := as(t, "ops", "0ps", "POST", tm.url+"/machine/down", nil, `[{"hostname":"h"}]`); resp.StatusCode != 403 {
		t.Errorf("POST /machine/down as ops without start_maintenances = %d %s; want 403", resp.StatusCode, body)
	}
	// Agents need register_agents.
	if resp, body := as(t, "ops", "0ps", "POST", tm.url+"/internal/v1/agent", nil, `{"type":"HEARTBEAT"}`); resp.StatusCode != 403 {
		t.Errorf("agent call as ops without register_agents = %d %s; want 403", resp.StatusCode, body)
	}
}
