package master

import (
	"io"
	"net/http"
	"strings"
	"testing"

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
	resp, body := as(t, "", "", "POST", tm.url+"/api/v1/agent", nil, `{"type":"REGISTER"}`)
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
