package master

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// refVar is a SECRET variable referencing the stored secret name.
func refVar(env, name string) mesos.Variable {
	return mesos.Variable{Name: env, Type: mesos.VariableSecret,
		Secret: &mesos.Secret{Type: mesos.SecretReferenceType, Reference: &mesos.SecretReference{Name: name}}}
}

// offerBook keeps the offers a fake framework holds, by agent.
type offerBook map[string]string

// launchOn has f launch task id on agent a, with vars in its command's
// environment, using f's offer of a (waiting for one), and waits until a
// receives the LAUNCH.
func (held offerBook) launchOn(t *testing.T, f *fakeFramework, a *fakeAgent, id string, vars ...mesos.Variable) {
	t.Helper()
	for held[a.id] == "" {
		for _, o := range f.s.nextEvent(mesos.EventOffers).Offers.Offers {
			held[o.AgentID.Value] = o.ID.Value
		}
	}
	offer := held[a.id]
	delete(held, a.id)
	cmd := &mesos.CommandInfo{Value: "sleep 100"}
	if len(vars) > 0 {
		cmd.Environment = &mesos.Environment{Variables: vars}
	}
	ti := mesos.TaskInfo{Name: id, TaskID: mesos.ID{Value: id}, AgentID: mesos.ID{Value: a.id}, Command: cmd,
		Resources: []mesos.Resource{{Name: "cpus", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 0.1}}}}
	tasks, _ := json.Marshal([]mesos.TaskInfo{ti})
	body := `{"type":"ACCEPT",` + f.fid() + `,"accept":{"offer_ids":[{"value":"` + offer + `"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":` +
		string(tasks) + `}}],"filters":{"refuse_seconds":0}}}`
	if code, msg := f.call(body); code != http.StatusAccepted {
		t.Fatalf("ACCEPT of %s: %d %s", id, code, msg)
	}
	if l := a.s.nextAgentEvent(agentproto.EventLaunch).Launch; len(l.Tasks) != 1 || l.Tasks[0].TaskID.Value != id {
		t.Fatalf("LAUNCH = %+v; want task %s", l, id)
	}
}

// askSecrets sends a SECRETS call as agent id on connection conn.
func askSecrets(t *testing.T, master, id, conn string, req *agentproto.SecretsRequest) (*http.Response, string) {
	t.Helper()
	b, _ := json.Marshal(agentproto.Call{Type: agentproto.CallSecrets, AgentID: id, ConnectionID: conn, Secrets: req})
	return post(t, master+agentproto.Path, jsonCT, string(b))
}

// TestTaskSecretsCall: an agent gets the values of exactly the stored
// secrets its task references, and nothing for a task it does not run
// on its current connection.
func TestTaskSecretsCall(t *testing.T) {
	tm := secretMaster(t, nil)
	values := map[string]string{"team/db": "s3cr3t-db-Vx81", "team/token": "t0ken-Qq27", "team/unused": "unused-Zp03"}
	for name, v := range values {
		if resp, body := as(t, "", "", "PUT", tm.url+"/secrets/"+name, nil, `{"value": "`+v+`"}`); resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %s = %d %s", name, resp.StatusCode, body)
		}
	}
	a1 := registerAgent(t, tm.url, "", "cpus:2;mem:1024", nil)
	a1.keepAlive(50 * time.Millisecond)
	a2 := registerAgent(t, tm.url, "", "cpus:2;mem:1024", nil)
	a2.keepAlive(50 * time.Millisecond)
	f := subscribe(t, tm.url, plainFramework)
	offers := offerBook{}
	offers.launchOn(t, f, a1, "app", refVar("DB_PASSWORD", "team/db"), mesos.Variable{Name: "PLAIN", Value: "x"},
		refVar("TOKEN", "/team/token"), refVar("AGAIN", "team/db"))
	offers.launchOn(t, f, a1, "plain", mesos.Variable{Name: "PLAIN", Value: "x"})
	offers.launchOn(t, f, a2, "elsewhere", refVar("DB_PASSWORD", "team/db"))

	// team/gone is stored when doomed is accepted, and deleted before its
	// agent asks.
	if resp, body := as(t, "", "", "PUT", tm.url+"/secrets/team/gone", nil, `{"value": "g0ne-Lk55"}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT team/gone = %d %s", resp.StatusCode, body)
	}
	offers.launchOn(t, f, a1, "doomed", refVar("DB_PASSWORD", "team/db"), refVar("GONE", "team/gone"))
	if resp, body := as(t, "", "", "DELETE", tm.url+"/secrets/team/gone", nil, ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE team/gone = %d %s", resp.StatusCode, body)
	}

	var bodies []string
	ask := func(a *fakeAgent, conn string, req *agentproto.SecretsRequest) (*http.Response, string) {
		resp, body := askSecrets(t, tm.url, a.id, conn, req)
		bodies = append(bodies, body)
		return resp, body
	}
	resp, body := ask(a1, a1.conn, &agentproto.SecretsRequest{FrameworkID: f.id, TaskID: "app"})
	var ans agentproto.SecretsAnswer
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &ans) != nil {
		t.Fatalf("SECRETS of its own task = %d %q; want 200 with the values", resp.StatusCode, body)
	}
	want := map[string]string{"team/db": values["team/db"], "/team/token": values["team/token"]}
	if len(ans.Secrets) != len(want) {
		t.Errorf("SECRETS answered %d secrets; want exactly %v", len(ans.Secrets), want)
	}
	for name, v := range want {
		if string(ans.Secrets[name]) != v {
			t.Errorf("SECRETS[%q] = %q; want %q", name, ans.Secrets[name], v)
		}
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q; want no-store", cc)
	}
	resp, body = ask(a1, a1.conn, &agentproto.SecretsRequest{FrameworkID: f.id, TaskID: "plain"})
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(body) != `{"secrets":{}}` {
		t.Errorf("SECRETS of a task without secrets = %d %q; want 200 and none", resp.StatusCode, body)
	}

	for _, tc := range []struct {
		name  string
		agent *fakeAgent
		conn  string
		req   *agentproto.SecretsRequest
		code  int
		says  string
	}{
		{"wrong connection", a1, "not-" + a1.conn, &agentproto.SecretsRequest{FrameworkID: f.id, TaskID: "app"}, 404, "is not launching or running on agent"},
		{"another agent's connection", a1, a2.conn, &agentproto.SecretsRequest{FrameworkID: f.id, TaskID: "app"}, 404, "is not launching or running"},
		{"another agent's task", a1, a1.conn, &agentproto.SecretsRequest{FrameworkID: f.id, TaskID: "elsewhere"}, 404, "'elsewhere'"},
		{"the other agent asks for this one's task", a2, a2.conn, &agentproto.SecretsRequest{FrameworkID: f.id, TaskID: "app"}, 404, "'app'"},
		{"another framework", a1, a1.conn, &agentproto.SecretsRequest{FrameworkID: "other", TaskID: "app"}, 404, "framework 'other'"},
		{"unknown task", a1, a1.conn, &agentproto.SecretsRequest{FrameworkID: f.id, TaskID: "nope"}, 404, "'nope'"},
		{"a secret deleted since", a1, a1.conn, &agentproto.SecretsRequest{FrameworkID: f.id, TaskID: "doomed"}, 404, "Secret 'team/gone' referenced by task 'doomed' does not exist"},
		{"no request", a1, a1.conn, nil, 400, "'secrets' to be present"},
		{"no task", a1, a1.conn, &agentproto.SecretsRequest{FrameworkID: f.id}, 400, "'secrets.task_id' is required"},
		{"no framework", a1, a1.conn, &agentproto.SecretsRequest{TaskID: "app"}, 400, "'secrets.framework_id' is required"},
	} {
		resp, body := ask(tc.agent, tc.conn, tc.req)
		if resp.StatusCode != tc.code || !strings.Contains(body, tc.says) {
			t.Errorf("%s: SECRETS = %d %q; want %d saying %q", tc.name, resp.StatusCode, body, tc.code, tc.says)
		}
	}

	// A task that ended is not given its secrets any more.
	a1.update(f.id, "app", mesos.TaskFinished)
	waitFor(t, func() bool {
		resp, _ := ask(a1, a1.conn, &agentproto.SecretsRequest{FrameworkID: f.id, TaskID: "app"})
		return resp.StatusCode == http.StatusNotFound
	})

	// Values travel in base64; look for both forms.
	holds := func(body, v string) bool {
		return strings.Contains(body, v) || strings.Contains(body, base64.StdEncoding.EncodeToString([]byte(v)))
	}
	for _, b := range bodies[1:] {
		for name, v := range values {
			if holds(b, v) {
				t.Errorf("an answer other than the first holds the value of %s: %s", name, b)
			}
		}
	}
	if holds(bodies[0], values["team/unused"]) {
		t.Errorf("the answer holds a secret the task does not reference: %s", bodies[0])
	}
}

// TestTaskSecretsStoreOff: without a store, an agent is told so (503, a
// reason to retry and then to fail the task saying why), unless its task
// references no secret.
func TestTaskSecretsStoreOff(t *testing.T) {
	tm := startMaster(t, nil)
	a := registerAgent(t, tm.url, "", "cpus:2;mem:1024", nil)
	a.keepAlive(50 * time.Millisecond)
	f := subscribe(t, tm.url, plainFramework)
	offers := offerBook{}
	offers.launchOn(t, f, a, "app", refVar("DB_PASSWORD", "team/db"))
	offers.launchOn(t, f, a, "plain", mesos.Variable{Name: "PLAIN", Value: "x"})

	resp, body := askSecrets(t, tm.url, a.id, a.conn, &agentproto.SecretsRequest{FrameworkID: f.id, TaskID: "app"})
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "--secrets_key") {
		t.Errorf("SECRETS without a store = %d %q; want 503 naming --secrets_key", resp.StatusCode, body)
	}
	resp, body = askSecrets(t, tm.url, a.id, a.conn, &agentproto.SecretsRequest{FrameworkID: f.id, TaskID: "plain"})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("SECRETS of a task without secrets, without a store = %d %q; want 200", resp.StatusCode, body)
	}
}
