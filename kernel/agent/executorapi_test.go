package agent

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
	"corral/kernel/mesos/mesospb"
)

// execTask is a task of an executor whose process only records its
// environment and waits: the test speaks the executor API for it.
func execTask(id string) mesos.TaskInfo {
	ti := cmdTask(id, "")
	ti.Command = nil
	ti.Resources = ti.Resources[:2]
	ti.Executor = &mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: "ex"}, Name: "test executor",
		Command:   &mesos.CommandInfo{Value: "env > executor.env; exec sleep 600"},
		Resources: []mesos.Resource{{Name: "cpus", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 0.1}}}}
	return ti
}

// executorEnv waits for the executor's recorded environment.
func executorEnv(t *testing.T, ep string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var st State
		getJSON(t, ep+"/state", &st)
		if len(st.Executors) == 1 {
			b, err := os.ReadFile(filepath.Join(st.Executors[0].Sandbox, "executor.env"))
			if err == nil && strings.Contains(string(b), "MESOS_EXECUTOR_AUTHENTICATION_TOKEN=") {
				env := map[string]string{}
				for _, line := range strings.Split(string(b), "\n") {
					if k, v, ok := strings.Cut(line, "="); ok {
						env[k] = v
					}
				}
				return env
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the executor did not start")
	return nil
}

// execCall POSTs an executor call as JSON with the token (if any).
func execCall(t *testing.T, ep, token string, call any, contentType string) (*http.Response, string) {
	t.Helper()
	b, _ := json.Marshal(call)
	req, _ := http.NewRequest(http.MethodPost, ep+"/api/v1/executor", strings.NewReader(string(b)))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func newUUID() string {
	u := uuid.New()
	return base64.StdEncoding.EncodeToString(u[:])
}

// TestExecutorAPI drives the agent's v1 executor API by hand: the
// executor's environment, the refusals (each with its status), SUBSCRIBE
// with its stream, UPDATE reaching the master and acknowledged back,
// MESSAGE both ways, KILL, and the executor's end.
func TestExecutorAPI(t *testing.T) {
	m := newFakeMaster(t)
	cfg := testConfig(t, m.srv.URL)
	startAgent(t, cfg)
	ep := m.waitRegister(t).Register.Info.Endpoint
	m.event(launch("F", execTask("t1")))
	env := executorEnv(t, ep)
	for k, want := range map[string]string{
		"MESOS_FRAMEWORK_ID": "F", "MESOS_EXECUTOR_ID": "ex", "MESOS_CHECKPOINT": "0",
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "5secs", "CORRAL_AGENT_URL": ep,
	} {
		if env[k] != want {
			t.Errorf("executor env %s = %q; want %q", k, env[k], want)
		}
	}
	if env["MESOS_AGENT_ENDPOINT"] == "" || env["MESOS_SANDBOX"] == "" || env["MESOS_TASK_ID"] != "" {
		t.Errorf("executor env: MESOS_AGENT_ENDPOINT=%q MESOS_SANDBOX=%q MESOS_TASK_ID=%q", env["MESOS_AGENT_ENDPOINT"], env["MESOS_SANDBOX"], env["MESOS_TASK_ID"])
	}
	token := env["MESOS_EXECUTOR_AUTHENTICATION_TOKEN"]
	ids := map[string]any{"framework_id": map[string]string{"value": "F"}, "executor_id": map[string]string{"value": "ex"}}
	call := func(typ string, extra map[string]any) map[string]any {
		c := map[string]any{"type": typ}
		for k, v := range ids {
			c[k] = v
		}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	update := func(task, state, id string) map[string]any {
		return call("UPDATE", map[string]any{"update": map[string]any{"status": map[string]any{
			"task_id": map[string]string{"value": task}, "state": state, "source": "SOURCE_EXECUTOR", "uuid": id}}})
	}

	// Refusals.
	for _, c := range []struct {
		name        string
		token, ct   string
		call        any
		code        int
		mentions    string
		contentType string
	}{
		// The edge's cross-site defence refuses a body that is not
		// declared JSON (or protobuf), before the API sees it.
		{"no content type", token, "", call("SUBSCRIBE", nil), 415, "Content-Type", ""},
		{"text", token, "text/plain", call("SUBSCRIBE", nil), 415, "application/json", ""},
		{"unknown type", token, "application/json", call("UNKNOWN", nil), 501, "UNKNOWN", ""},
		{"no executor id", token, "application/json", map[string]any{"type": "SUBSCRIBE", "framework_id": map[string]string{"value": "F"}}, 400, "executor_id", ""},
		{"wrong token", "not-its-token", "application/json", call("SUBSCRIBE", nil), 401, "token", ""},
		{"unknown executor", token, "application/json", map[string]any{"type": "SUBSCRIBE", "framework_id": map[string]string{"value": "F"},
			"executor_id": map[string]string{"value": "nope"}}, 400, "not running on this agent", ""},
		{"update before subscribing", token, "application/json", update("t1", "TASK_RUNNING", newUUID()), 403, "not subscribed", ""},
		{"short uuid", token, "application/json", update("t1", "TASK_RUNNING", "AAAA"), 400, "16 bytes", ""},
		{"staging", token, "application/json", update("t1", "TASK_STAGING", newUUID()), 400, "TASK_STAGING", ""},
	} {
		resp, body := execCall(t, ep, c.token, c.call, c.ct)
		if resp.StatusCode != c.code || !strings.Contains(body, c.mentions) {
			t.Errorf("%s: %d %q; want %d mentioning %q", c.name, resp.StatusCode, body, c.code, c.mentions)
		}
	}
	if resp, body := execCall(t, ep, "", map[string]any{"type": "HEARTBEAT", "framework_id": map[string]string{"value": "x"}, "executor_id": map[string]string{"value": "y"}}, "application/json"); resp.StatusCode != 202 {
		t.Errorf("HEARTBEAT = %d %s; want 202", resp.StatusCode, body)
	}
	req, _ := http.NewRequest(http.MethodPost, ep+"/api/v1/executor", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/html")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 400 && resp.StatusCode != 406 && resp.StatusCode != 501 {
		t.Errorf("SUBSCRIBE accepting only HTML: %v %v", resp, err)
	}

	// SUBSCRIBE: SUBSCRIBED, then the queued task.
	resp, _ := execCall(t, ep, token, call("SUBSCRIBE", nil), "application/json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("SUBSCRIBE = %s (%s)", resp.Status, resp.Header.Get("Content-Type"))
	}
	defer resp.Body.Close()
	events := make(chan mesos.ExecutorEvent, 16)
	go func() {
		r := mesos.NewReader(bufio.NewReader(resp.Body))
		for {
			rec, err := r.Next()
			if err != nil {
				close(events)
				return
			}
			var ev mesos.ExecutorEvent
			if json.Unmarshal(rec, &ev) == nil {
				events <- ev
			}
		}
	}()
	next := func(want mesos.ExecutorEventType) mesos.ExecutorEvent {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("stream ended; want %s", want)
			}
			if ev.Type != want {
				t.Fatalf("event %s; want %s", ev.Type, want)
			}
			return ev
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s event", want)
		}
		return mesos.ExecutorEvent{}
	}
	sub := next(mesos.ExecEventSubscribed)
	if sub.Subscribed.ExecutorInfo.ExecutorID.Value != "ex" || sub.Subscribed.FrameworkInfo.ID == nil || sub.Subscribed.AgentInfo.Hostname == "" {
		t.Errorf("SUBSCRIBED = %+v", sub.Subscribed)
	}
	if l := next(mesos.ExecEventLaunch); l.Launch.Task.TaskID.Value != "t1" {
		t.Errorf("LAUNCH = %+v; want t1", l.Launch)
	}

	// UPDATE goes to the master and is acknowledged back; a repeat is
	// acknowledged again but not sent twice.
	id := newUUID()
	for range 2 {
		if resp, body := execCall(t, ep, token, update("t1", "TASK_RUNNING", id), "application/json"); resp.StatusCode != 202 {
			t.Fatalf("UPDATE = %d %s", resp.StatusCode, body)
		}
		if a := next(mesos.ExecEventAcknowledged); a.Acknowledged.UUID != id || a.Acknowledged.TaskID.Value != "t1" {
			t.Errorf("ACKNOWLEDGED = %+v; want t1 %s", a.Acknowledged, id)
		}
	}
	up := m.waitState(t, "t1", mesos.TaskRunning, 10*time.Second)
	if up.Status.UUID != id || up.Status.ExecutorID == nil || up.Status.ExecutorID.Value != "ex" || up.Status.Source != mesos.SourceExecutor {
		t.Errorf("update at the master = %+v; want the executor's, uuid %s", up.Status, id)
	}
	if n := len(m.updatesOf("t1")); n != 1 {
		t.Errorf("the master got %d updates of t1; want 1", n)
	}

	// MESSAGE both ways.
	if resp, body := execCall(t, ep, token, call("MESSAGE", map[string]any{"message": map[string]string{"data": "aGVsbG8="}}), "application/json"); resp.StatusCode != 202 {
		t.Fatalf("MESSAGE = %d %s", resp.StatusCode, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		m.mu.Lock()
		n := len(m.executors.Messages)
		m.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the executor's message did not reach the master")
		}
		time.Sleep(10 * time.Millisecond)
	}
	m.event(agentproto.Event{Type: agentproto.EventMessage, Message: &agentproto.ExecutorMessage{FrameworkID: "F", ExecutorID: "ex", Data: "cGluZw=="}})
	if msg := next(mesos.ExecEventMessage); msg.Message.Data != "cGluZw==" {
		t.Errorf("MESSAGE event = %+v", msg.Message)
	}

	// KILL reaches the executor, whose terminal update ends the task.
	m.event(agentproto.Event{Type: agentproto.EventKill, Kill: &agentproto.Kill{FrameworkID: "F", TaskID: "t1", GracePeriodSeconds: 2}})
	if k := next(mesos.ExecEventKill); k.Kill.TaskID.Value != "t1" || k.Kill.KillPolicy == nil {
		t.Errorf("KILL = %+v", k.Kill)
	}
	if resp, body := execCall(t, ep, token, update("t1", "TASK_KILLED", newUUID()), "application/json"); resp.StatusCode != 202 {
		t.Fatalf("UPDATE KILLED = %d %s", resp.StatusCode, body)
	}
	next(mesos.ExecEventAcknowledged)
	m.waitState(t, "t1", mesos.TaskKilled, 10*time.Second)

	// SHUTDOWN: the executor is told, then killed after its grace; the
	// master hears it ended.
	m.event(agentproto.Event{Type: agentproto.EventShutdownExecutor, ShutdownExecutor: &agentproto.ShutdownExecutor{FrameworkID: "F", ExecutorID: "ex"}})
	next(mesos.ExecEventShutdown)
	deadline = time.Now().Add(20 * time.Second)
	for {
		m.mu.Lock()
		exited := m.executors.Exited
		m.mu.Unlock()
		if len(exited) == 1 {
			if exited[0].ExecutorID != "ex" || exited[0].FrameworkID != "F" {
				t.Errorf("EXECUTORS exited = %+v", exited[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the executor's end did not reach the master")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var st State
	getJSON(t, ep+"/state", &st)
	if len(st.Executors) != 0 {
		t.Errorf("executors after shutdown = %+v", st.Executors)
	}
}

// TestExecutorCallProtobuf: an UPDATE in protobuf is taken like JSON.
func TestExecutorCallProtobuf(t *testing.T) {
	call := &mesos.ExecutorCall{Type: mesos.ExecCallUpdate, FrameworkID: mesos.ID{Value: "F"}, ExecutorID: mesos.ID{Value: "ex"},
		Update: &mesos.ExecutorUpdate{Status: mesos.TaskStatus{TaskID: mesos.ID{Value: "t"}, State: mesos.TaskRunning, Source: mesos.SourceExecutor, UUID: newUUID()}}}
	b, err := mesospb.MarshalExecutorCall(call)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, "/api/v1/executor", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", mesospb.MediaType)
	got, err := decodeExecutorCall(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateExecutorCall(got); err != nil {
		t.Fatal(err)
	}
	if got.Update.Status.UUID != call.Update.Status.UUID || got.Update.Status.State != mesos.TaskRunning {
		t.Errorf("decoded %+v", got.Update.Status)
	}
}

// subscribeStream SUBSCRIBEs as executor ex of framework F and returns its
// events and a function closing the stream.
func subscribeStream(t *testing.T, ep, token string) (<-chan mesos.ExecutorEvent, func()) {
	t.Helper()
	resp, body := execCall(t, ep, token, map[string]any{"type": "SUBSCRIBE", "framework_id": map[string]string{"value": "F"},
		"executor_id": map[string]string{"value": "ex"}}, "application/json")
	if resp.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE = %d %s", resp.StatusCode, body)
	}
	events := make(chan mesos.ExecutorEvent, 16)
	go func() {
		defer close(events)
		r := mesos.NewReader(bufio.NewReader(resp.Body))
		for {
			rec, err := r.Next()
			if err != nil {
				return
			}
			var ev mesos.ExecutorEvent
			if json.Unmarshal(rec, &ev) == nil {
				events <- ev
			}
		}
	}()
	return events, func() { resp.Body.Close() }
}

func nextEvent(t *testing.T, events <-chan mesos.ExecutorEvent, want mesos.ExecutorEventType) mesos.ExecutorEvent {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok || ev.Type != want {
			t.Fatalf("event %s (stream open: %v); want %s", ev.Type, ok, want)
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s event", want)
	}
	return mesos.ExecutorEvent{}
}

// TestExecutorGetsKillsMadeWhileAway: a task the executor runs (its
// RUNNING acknowledged) is killed while the executor's stream is down;
// the executor gets the KILL when it subscribes again.
func TestExecutorGetsKillsMadeWhileAway(t *testing.T) {
	m := newFakeMaster(t)
	startAgent(t, testConfig(t, m.srv.URL))
	ep := m.waitRegister(t).Register.Info.Endpoint
	m.event(launch("F", execTask("t1")))
	token := executorEnv(t, ep)["MESOS_EXECUTOR_AUTHENTICATION_TOKEN"]
	events, closeStream := subscribeStream(t, ep, token)
	nextEvent(t, events, mesos.ExecEventSubscribed)
	nextEvent(t, events, mesos.ExecEventLaunch)
	if resp, body := execCall(t, ep, token, map[string]any{"type": "UPDATE", "framework_id": map[string]string{"value": "F"},
		"executor_id": map[string]string{"value": "ex"}, "update": map[string]any{"status": map[string]any{
			"task_id": map[string]string{"value": "t1"}, "state": "TASK_RUNNING", "source": "SOURCE_EXECUTOR", "uuid": newUUID()}}}, "application/json"); resp.StatusCode != 202 {
		t.Fatalf("UPDATE = %d %s", resp.StatusCode, body)
	}
	nextEvent(t, events, mesos.ExecEventAcknowledged)
	closeStream()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var st State
		getJSON(t, ep+"/state", &st)
		if len(st.Executors) == 1 && st.Executors[0].State == "registering" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not see the executor go: %+v", st.Executors)
		}
		time.Sleep(10 * time.Millisecond)
	}
	m.event(agentproto.Event{Type: agentproto.EventKill, Kill: &agentproto.Kill{FrameworkID: "F", TaskID: "t1"}})
	deadline = time.Now().Add(10 * time.Second)
	for killed := false; !killed; {
		var st State
		getJSON(t, ep+"/state", &st)
		killed = len(st.Tasks) == 1 && st.Tasks[0].KillRequested
		if time.Now().After(deadline) {
			t.Fatalf("the kill did not reach the agent: %+v", st.Tasks)
		}
		time.Sleep(10 * time.Millisecond)
	}
	events, closeStream = subscribeStream(t, ep, token)
	defer closeStream()
	nextEvent(t, events, mesos.ExecEventSubscribed)
	if k := nextEvent(t, events, mesos.ExecEventKill); k.Kill.TaskID.Value != "t1" {
		t.Errorf("KILL = %+v; want t1", k.Kill)
	}
}
