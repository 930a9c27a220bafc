package master

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"corral/internal/migrate"
	"corral/internal/testpg"
	"corral/kernel/internal/agentproto"
	"corral/kernel/internal/registry"
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

func TestMain(m *testing.M) { testpg.Main(m) }

// testMaster is a master running in this process on a real Postgres.
type testMaster struct {
	url   string
	store *registry.Store
	m     *Master
	stop  func()
}

func startMaster(t *testing.T, mutate func(*Config)) *testMaster {
	t.Helper()
	db := testpg.URL(t)
	return startMasterOn(t, db, mutate)
}

func startMasterOn(t *testing.T, db string, mutate func(*Config)) *testMaster {
	t.Helper()
	ctx := t.Context()
	if err := migrate.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	store, err := registry.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.DB = db
	cfg.Listen = ln.Addr().String()
	cfg.Advertise = "http://" + ln.Addr().String()
	cfg.AgentPingInterval = 200 * time.Millisecond
	cfg.AllocationInterval = 100 * time.Millisecond
	if mutate != nil {
		mutate(&cfg)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m, err := New(cfg, store, log)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := m.Serve(runCtx, ln); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	select {
	case <-m.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("master did not recover its registry")
	}
	tm := &testMaster{url: cfg.Advertise, store: store, m: m}
	var stopped bool
	tm.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-done
		store.Close()
	}
	t.Cleanup(tm.stop)
	return tm
}

func post(t *testing.T, url string, hdr map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var jsonCT = map[string]string{"Content-Type": "application/json"}

// stream is a reader of a RecordIO stream (framework or agent side).
type stream struct {
	t      *testing.T
	resp   *http.Response
	events chan []byte
}

func openStream(t *testing.T, url string, body any) *stream {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream %s: %d %s", url, resp.StatusCode, msg)
	}
	return readStream(t, resp)
}

// readStream decodes a RecordIO response body in the background.
func readStream(t *testing.T, resp *http.Response) *stream {
	s := &stream{t: t, resp: resp, events: make(chan []byte, 4096)}
	go func() {
		defer close(s.events)
		rd := mesos.NewReader(resp.Body)
		for {
			rec, err := rd.Next()
			if err != nil {
				return
			}
			s.events <- rec
		}
	}()
	t.Cleanup(func() { resp.Body.Close() })
	return s
}

func (s *stream) close() { s.resp.Body.Close() }

// next returns the next record that satisfies keep, failing after a while.
func (s *stream) next(keep func([]byte) bool) []byte {
	s.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case rec, ok := <-s.events:
			if !ok {
				s.t.Fatal("stream ended")
			}
			if keep(rec) {
				return rec
			}
		case <-deadline:
			s.t.Fatal("timed out waiting for an event")
		}
	}
}

// nextOf decodes records as E until one has a type among types.
func nextOf[E any, T comparable](s *stream, typeOf func(*E) T, types ...T) *E {
	s.t.Helper()
	var ev E
	s.next(func(b []byte) bool {
		var zero E
		ev = zero
		_ = json.Unmarshal(b, &ev)
		return slices.Contains(types, typeOf(&ev))
	})
	return &ev
}

func (s *stream) nextEvent(types ...mesos.EventType) *mesos.Event {
	s.t.Helper()
	return nextOf(s, func(e *mesos.Event) mesos.EventType { return e.Type }, types...)
}

func (s *stream) nextAgentEvent(types ...agentproto.EventType) *agentproto.Event {
	s.t.Helper()
	return nextOf(s, func(e *agentproto.Event) agentproto.EventType { return e.Type }, types...)
}

// fakeAgent registers with the master over agentproto, standing in for a
// real agent so the master's side can be driven precisely.
type fakeAgent struct {
	t      *testing.T
	master string
	id     string
	conn   string
	s      *stream
}

func registerAgent(t *testing.T, master, id string, res string, tasks []agentproto.Task) *fakeAgent {
	t.Helper()
	r, err := resource.Parse(res)
	if err != nil {
		t.Fatal(err)
	}
	call := agentproto.Call{Type: agentproto.CallRegister, AgentID: id, Register: &agentproto.Register{
		Info:  agentproto.AgentInfo{Hostname: "testhost", Endpoint: "http://127.0.0.1:1", Resources: r.Wire(""), Cgroups: agentproto.CgroupsNone},
		Tasks: tasks,
	}}
	s := openStream(t, master+agentproto.Path, call)
	ev := s.nextAgentEvent(agentproto.EventRegistered)
	return &fakeAgent{t: t, master: master, id: ev.Registered.AgentID, conn: ev.Registered.ConnectionID, s: s}
}

func (a *fakeAgent) call(c agentproto.Call) int {
	c.AgentID, c.ConnectionID = a.id, a.conn
	b, _ := json.Marshal(c)
	resp, body := post(a.t, a.master+agentproto.Path, jsonCT, string(b))
	if resp.StatusCode >= 300 {
		a.t.Logf("agent call %s: %d %s", c.Type, resp.StatusCode, body)
	}
	return resp.StatusCode
}

func (a *fakeAgent) heartbeat() int { return a.call(agentproto.Call{Type: agentproto.CallHeartbeat}) }

func (a *fakeAgent) update(fid, tid string, st mesos.TaskState) string {
	u := newUUID()
	a.call(agentproto.Call{Type: agentproto.CallUpdate, Update: &agentproto.Updates{Updates: []agentproto.StatusUpdate{{
		FrameworkID: fid, LatestState: st,
		Status: mesos.TaskStatus{TaskID: mesos.ID{Value: tid}, State: st, UUID: u, AgentID: &mesos.ID{Value: a.id}, Source: mesos.SourceExecutor},
	}}}})
	return u
}

// newUUID returns a random 16-byte UUID, base64-encoded as Mesos' bytes.
func newUUID() string {
	u := uuid.New()
	return base64.StdEncoding.EncodeToString(u[:])
}

// keepAlive heartbeats until the test ends.
func (a *fakeAgent) keepAlive(every time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				c := agentproto.Call{Type: agentproto.CallHeartbeat, AgentID: a.id, ConnectionID: a.conn}
				b, _ := json.Marshal(c)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.master+agentproto.Path, bytes.NewReader(b))
				req.Header.Set("Content-Type", "application/json")
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		}
	}()
	a.t.Cleanup(cancel)
	return cancel
}

// fakeFramework is a scheduler speaking raw HTTP, to check the wire.
type fakeFramework struct {
	t        *testing.T
	master   string
	id       string
	streamID string
	s        *stream
}

func subscribe(t *testing.T, master string, info string) *fakeFramework {
	t.Helper()
	body := `{"type":"SUBSCRIBE","subscribe":{"framework_info":` + info + `}}`
	req, _ := http.NewRequest(http.MethodPost, master+"/api/v1/scheduler", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Mesos-Stream-Id") == "" {
		t.Fatalf("SUBSCRIBE: %d, Content-Type %q, stream id %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Mesos-Stream-Id"))
	}
	s := readStream(t, resp)
	ev := s.nextEvent(mesos.EventSubscribed, mesos.EventError)
	if ev.Type != mesos.EventSubscribed {
		t.Fatalf("first event = %s %+v; want SUBSCRIBED", ev.Type, ev.Error)
	}
	if ev.Subscribed.HeartbeatIntervalSeconds != 15 || ev.Subscribed.MasterInfo == nil {
		t.Errorf("SUBSCRIBED = %+v", ev.Subscribed)
	}
	return &fakeFramework{t: t, master: master, id: ev.Subscribed.FrameworkID.Value, streamID: resp.Header.Get("Mesos-Stream-Id"), s: s}
}

func (f *fakeFramework) call(body string) (int, string) {
	f.t.Helper()
	resp, msg := post(f.t, f.master+"/api/v1/scheduler", map[string]string{"Content-Type": "application/json", "Mesos-Stream-Id": f.streamID}, body)
	return resp.StatusCode, msg
}

func (f *fakeFramework) fid() string { return `"framework_id":{"value":"` + f.id + `"}` }

const plainFramework = `{"user":"u","name":"test"}`
const paFramework = `{"user":"u","name":"test","capabilities":[{"type":"PARTITION_AWARE"}]}`

func TestSchedulerAPIErrors(t *testing.T) {
	tm := startMaster(t, nil)
	api := tm.url + "/api/v1/scheduler"
	f := subscribe(t, tm.url, plainFramework)

	for _, tc := range []struct {
		name     string
		method   string
		hdr      map[string]string
		body     string
		wantCode int
		wantMsg  string
	}{
		{"GET", http.MethodGet, nil, "", 405, "POST"},
		{"no content type", http.MethodPost, nil, `{}`, 415, "a request body must be application/json"},
		{"text content type", http.MethodPost, map[string]string{"Content-Type": "text/plain"}, `{}`, 415, "application/json"},
		{"protobuf that is not a Call", http.MethodPost, map[string]string{"Content-Type": "application/x-protobuf"}, `{}`, 400, "Failed to parse body into Call"},
		{"malformed json", http.MethodPost, jsonCT, `{"type":`, 400, "Failed to parse body into Call"},
		{"wrong field type", http.MethodPost, jsonCT, `{"type":"KILL","kill":{"task_id":"x"}}`, 400, "Failed to parse"},
		{"unknown call", http.MethodPost, jsonCT, `{"type":"UNKNOWN","framework_id":{"value":"x"}}`, 501, "UNKNOWN"},
		{"unsupported call", http.MethodPost, jsonCT, `{"type":"FROB","framework_id":{"value":"x"}}`, 400, "Unsupported call type"},
		{"missing stream id", http.MethodPost, jsonCT, `{"type":"REVIVE",` + f.fid() + `}`, 400, "Mesos-Stream-Id"},
		{"wrong stream id", http.MethodPost, map[string]string{"Content-Type": "application/json", "Mesos-Stream-Id": "nope"}, `{"type":"REVIVE",` + f.fid() + `}`, 400, "didn't match"},
		{"unknown framework", http.MethodPost, map[string]string{"Content-Type": "application/json", "Mesos-Stream-Id": "x"}, `{"type":"REVIVE","framework_id":{"value":"nope"}}`, 400, "Framework cannot be found"},
		{"subscribe with stream id", http.MethodPost, map[string]string{"Content-Type": "application/json", "Mesos-Stream-Id": "x"}, `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}`, 400, "should not include"},
		{"subscribe not acceptable", http.MethodPost, map[string]string{"Content-Type": "application/json", "Accept": "text/html"}, `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}`, 406, "Accept"},
		{"subscribe invalid", http.MethodPost, jsonCT, `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"n"}}}`, 400, "framework_info.user"},
		{"revive foreign role", http.MethodPost, map[string]string{"Content-Type": "application/json", "Mesos-Stream-Id": f.streamID}, `{"type":"REVIVE",` + f.fid() + `,"revive":{"roles":["other"]}}`, 400, "not one of the framework's roles"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, api, strings.NewReader(tc.body))
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantCode || !strings.Contains(string(b), tc.wantMsg) {
				t.Errorf("%s: got %d %q; want %d containing %q", tc.name, resp.StatusCode, b, tc.wantCode, tc.wantMsg)
			}
		})
	}

	// A framework whose stream closed is "not subscribed": 403.
	f.s.close()
	waitForWithin(t, 5*time.Second, "REVIVE after the disconnect to get 403 not subscribed", func() bool {
		code, msg := f.call(`{"type":"REVIVE",` + f.fid() + `}`)
		return code == 403 && strings.Contains(msg, "not subscribed")
	})
}

func TestLaunchUpdateAcknowledge(t *testing.T) {
	tm := startMaster(t, nil)
	a := registerAgent(t, tm.url, "", "cpus:4;mem:4096;ports:[31000-31009]", nil)
	a.keepAlive(50 * time.Millisecond)
	f := subscribe(t, tm.url, plainFramework)

	ev := f.s.nextEvent(mesos.EventOffers)
	o := ev.Offers.Offers[0]
	if o.AgentID.Value != a.id || o.Hostname != "testhost" || len(o.Resources) != 3 {
		t.Fatalf("offer = %+v", o)
	}
	offered, _ := resource.FromWire(o.Resources)
	if offered.Scalar("cpus") != 4 || offered.NumRangeValues("ports") != 10 {
		t.Errorf("offered %s; want the whole agent", offered)
	}

	// An ACCEPT naming an unknown offer: the task is answered, nothing runs.
	code, msg := f.call(`{"type":"ACCEPT",` + f.fid() + `,"accept":{"offer_ids":[{"value":"bogus"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"x","task_id":{"value":"x"},"agent_id":{"value":"` + a.id + `"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}],"command":{"value":"true"}}]}}]}}`)
	if code != 202 {
		t.Fatalf("ACCEPT bogus offer: %d %s", code, msg)
	}
	up := f.s.nextEvent(mesos.EventUpdate).Update.Status
	if up.TaskID.Value != "x" || up.State != mesos.TaskLost || up.Reason != mesos.ReasonInvalidOffers || !strings.Contains(up.Message, "bogus") {
		t.Errorf("update for bogus offer = %+v", up)
	}

	// Launch two tasks, one of which asks for more than offered.
	accept := `{"type":"ACCEPT",` + f.fid() + `,"accept":{"offer_ids":[{"value":"` + o.ID.Value + `"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[
	 {"name":"ok","task_id":{"value":"ok"},"agent_id":{"value":"` + a.id + `"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}},{"name":"mem","type":"SCALAR","scalar":{"value":128}}],"command":{"value":"sleep 100"}},
	 {"name":"big","task_id":{"value":"big"},"agent_id":{"value":"` + a.id + `"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":8}}],"command":{"value":"true"}}]}}],
	 "filters":{"refuse_seconds":0}}}`
	if code, msg := f.call(accept); code != 202 {
		t.Fatalf("ACCEPT: %d %s", code, msg)
	}
	bad := f.s.nextEvent(mesos.EventUpdate).Update.Status
	if bad.TaskID.Value != "big" || bad.State != mesos.TaskError || bad.Reason != mesos.ReasonTaskInvalid || !strings.Contains(bad.Message, "missing cpus") {
		t.Errorf("update for oversized task = %+v", bad)
	}
	launch := a.s.nextAgentEvent(agentproto.EventLaunch).Launch
	if len(launch.Tasks) != 1 || launch.Tasks[0].TaskID.Value != "ok" || launch.FrameworkID != f.id {
		t.Fatalf("LAUNCH = %+v", launch)
	}
	// The rest of the agent is re-offered (refuse_seconds 0), minus the task.
	next := f.s.nextEvent(mesos.EventOffers).Offers.Offers[0]
	left, _ := resource.FromWire(next.Resources)
	if left.Scalar("cpus") != 3 || left.Scalar("mem") != 4096-128 {
		t.Errorf("re-offer = %s; want cpus:3 mem:3968", left)
	}

	// The same offer cannot be used twice.
	if code, _ := f.call(accept); code != 202 {
		t.Fatal("second ACCEPT refused")
	}
	for i := 0; i < 2; i++ {
		if st := f.s.nextEvent(mesos.EventUpdate).Update.Status; st.Reason != mesos.ReasonInvalidOffers {
			t.Errorf("reused offer: update %+v; want REASON_INVALID_OFFERS", st)
		}
	}

	// The agent reports RUNNING; the framework sees it and acknowledges.
	u := a.update(f.id, "ok", mesos.TaskRunning)
	st := f.s.nextEvent(mesos.EventUpdate).Update.Status
	if st.TaskID.Value != "ok" || st.State != mesos.TaskRunning || st.UUID != u {
		t.Fatalf("forwarded update = %+v", st)
	}
	if code, msg := f.call(`{"type":"ACKNOWLEDGE",` + f.fid() + `,"acknowledge":{"agent_id":{"value":"` + a.id + `"},"task_id":{"value":"ok"},"uuid":"` + u + `"}}`); code != 202 {
		t.Fatalf("ACKNOWLEDGE: %d %s", code, msg)
	}
	ack := a.s.nextAgentEvent(agentproto.EventAcknowledge).Acknowledge
	if ack.UUID != u || ack.TaskID != "ok" {
		t.Errorf("agent got ack %+v", ack)
	}

	// Explicit reconciliation: a known task and an unknown one.
	f.call(`{"type":"RECONCILE",` + f.fid() + `,"reconcile":{"tasks":[{"task_id":{"value":"ok"}},{"task_id":{"value":"ghost"},"agent_id":{"value":"` + a.id + `"}}]}}`)
	got := map[string]mesos.TaskStatus{}
	for len(got) < 2 {
		s := f.s.nextEvent(mesos.EventUpdate).Update.Status
		got[s.TaskID.Value] = s
	}
	if s := got["ok"]; s.State != mesos.TaskRunning || s.Reason != mesos.ReasonReconciliation || s.UUID != "" {
		t.Errorf("reconcile known = %+v", s)
	}
	if s := got["ghost"]; s.State != mesos.TaskLost || s.UUID != "" {
		t.Errorf("reconcile unknown (not partition aware) = %+v; want TASK_LOST", s)
	}

	// KILL goes to the agent; the terminal update frees the resources.
	f.call(`{"type":"KILL",` + f.fid() + `,"kill":{"task_id":{"value":"ok"}}}`)
	if k := a.s.nextAgentEvent(agentproto.EventKill).Kill; k.TaskID != "ok" {
		t.Errorf("KILL = %+v", k)
	}
	u = a.update(f.id, "ok", mesos.TaskKilled)
	if st := f.s.nextEvent(mesos.EventUpdate).Update.Status; st.State != mesos.TaskKilled {
		t.Errorf("update = %+v; want KILLED", st)
	}
	f.call(`{"type":"ACKNOWLEDGE",` + f.fid() + `,"acknowledge":{"agent_id":{"value":"` + a.id + `"},"task_id":{"value":"ok"},"uuid":"` + u + `"}}`)

	var state State
	waitFor(t, func() bool {
		state = getState(t, tm.url)
		return len(state.Frameworks) == 1 && len(state.Frameworks[0].Tasks) == 0 && len(state.Frameworks[0].CompletedTasks) == 1
	})
	if ct := state.Frameworks[0].CompletedTasks[0]; ct.ID != "ok" || ct.State != string(mesos.TaskKilled) {
		t.Errorf("completed task = %+v", ct)
	}
	if len(state.Agents) != 1 || state.Agents[0].UsedResources["cpus"].(float64) != 0 {
		t.Errorf("agent after kill = %+v", state.Agents)
	}
}

func getState(t *testing.T, url string) State {
	t.Helper()
	resp, err := http.Get(url + "/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	waitForWithin(t, 15*time.Second, "the condition", cond)
}

// waitForWithin polls cond until it holds, failing the test after d. It is
// the package's one polling loop.
func waitForWithin(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// barrier sends a RECONCILE for a task nobody knows and returns the events
// the stream delivered before its answer. The master queues a framework's
// events in order, so these are all the events queued before the call.
func (f *fakeFramework) barrier(taskID string) []mesos.Event {
	f.t.Helper()
	if code, msg := f.call(`{"type":"RECONCILE",` + f.fid() + `,"reconcile":{"tasks":[{"task_id":{"value":"` + taskID + `"}}]}}`); code != 202 {
		f.t.Fatalf("RECONCILE: %d %s", code, msg)
	}
	var before []mesos.Event
	for {
		ev := *f.s.nextEvent(mesos.EventOffers, mesos.EventRescind, mesos.EventUpdate, mesos.EventFailure, mesos.EventError)
		if ev.Type == mesos.EventUpdate && ev.Update.Status.TaskID.Value == taskID {
			return before
		}
		before = append(before, ev)
	}
}

// allocationCycles returns how many allocation cycles the master has run,
// from its /metrics.
func allocationCycles(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "corral_master_allocation_cycle_seconds_count "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("/metrics: %q", line)
			}
			return n
		}
	}
	t.Fatalf("/metrics has no corral_master_allocation_cycle_seconds_count")
	return 0
}

func TestAgentUnreachable(t *testing.T) {
	for _, tc := range []struct {
		name string
		info string
		want mesos.TaskState
	}{
		{"partition aware", paFramework, mesos.TaskUnreachable},
		{"not partition aware", plainFramework, mesos.TaskLost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tm := startMaster(t, nil)
			a := registerAgent(t, tm.url, "", "cpus:2;mem:1024", nil)
			stopBeats := a.keepAlive(50 * time.Millisecond)
			f := subscribe(t, tm.url, tc.info)
			o := f.s.nextEvent(mesos.EventOffers).Offers.Offers[0]
			f.call(`{"type":"ACCEPT",` + f.fid() + `,"accept":{"offer_ids":[{"value":"` + o.ID.Value + `"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"` + a.id + `"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}],"command":{"value":"sleep 100"}}]}}]}}`)
			a.s.nextAgentEvent(agentproto.EventLaunch)
			a.update(f.id, "t", mesos.TaskRunning)
			f.s.nextEvent(mesos.EventUpdate)

			stopBeats() // the agent goes silent: 3 × 200ms later it is unreachable
			st := f.s.nextEvent(mesos.EventUpdate).Update.Status
			if st.TaskID.Value != "t" || st.State != tc.want || st.UnreachableTime == nil {
				t.Errorf("update = %+v; want %s with unreachable_time", st, tc.want)
			}
			if fe := f.s.nextEvent(mesos.EventFailure).Failure; fe.AgentID == nil || fe.AgentID.Value != a.id {
				t.Errorf("FAILURE = %+v", fe)
			}
			agents, err := tm.store.Agents(t.Context())
			if err != nil || len(agents) != 1 {
				t.Fatal(agents, err)
			}
			waitFor(t, func() bool {
				agents, _ = tm.store.Agents(t.Context())
				return agents[0].State == registry.AgentUnreachable
			})
			// Calls on the old connection are refused; the agent must register again.
			if code := a.heartbeat(); code != http.StatusConflict {
				t.Errorf("heartbeat after unreachable: %d; want 409", code)
			}

			// The agent comes back with its task still running.
			b := registerAgent(t, tm.url, a.id, "cpus:2;mem:1024", []agentproto.Task{{
				FrameworkID: f.id, State: mesos.TaskRunning,
				TaskInfo: mesos.TaskInfo{Name: "t", TaskID: mesos.ID{Value: "t"}, AgentID: mesos.ID{Value: a.id}, Resources: resource.Scalar("cpus", 1).Wire(""), Command: &mesos.CommandInfo{Value: "sleep 100"}},
			}})
			b.keepAlive(50 * time.Millisecond)
			if tc.want == mesos.TaskLost {
				// The framework was told the task is lost: the master kills it.
				if k := b.s.nextAgentEvent(agentproto.EventKill).Kill; k.TaskID != "t" {
					t.Errorf("KILL = %+v", k)
				}
			} else {
				waitFor(t, func() bool {
					st := getState(t, tm.url)
					return len(st.Frameworks) == 1 && len(st.Frameworks[0].Tasks) == 1 && st.Frameworks[0].Tasks[0].State == string(mesos.TaskRunning)
				})
			}
			waitFor(t, func() bool {
				agents, _ = tm.store.Agents(t.Context())
				return agents[0].State == registry.AgentAdmitted
			})
		})
	}
}

func TestFailoverTimeoutKillsTasks(t *testing.T) {
	tm := startMaster(t, nil)
	a := registerAgent(t, tm.url, "", "cpus:2;mem:1024", nil)
	a.keepAlive(50 * time.Millisecond)
	f := subscribe(t, tm.url, `{"user":"u","name":"short","failover_timeout":0.5}`)
	o := f.s.nextEvent(mesos.EventOffers).Offers.Offers[0]
	f.call(`{"type":"ACCEPT",` + f.fid() + `,"accept":{"offer_ids":[{"value":"` + o.ID.Value + `"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"` + a.id + `"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}],"command":{"value":"sleep 100"}}]}}]}}`)
	a.s.nextAgentEvent(agentproto.EventLaunch)
	f.s.close()
	sd := a.s.nextAgentEvent(agentproto.EventShutdownFramework).ShutdownFramework
	if sd.FrameworkID != f.id {
		t.Errorf("SHUTDOWN_FRAMEWORK = %+v", sd)
	}
	// A removed framework cannot come back.
	body := `{"type":"SUBSCRIBE","framework_id":{"value":"` + f.id + `"},"subscribe":{"framework_info":{"user":"u","name":"short","id":{"value":"` + f.id + `"}}}}`
	resp, msg := post(t, tm.url+"/api/v1/scheduler", jsonCT, body)
	if resp.StatusCode != 200 || !strings.Contains(msg, "Framework has been removed") {
		t.Errorf("re-subscribe of a removed framework: %d %q", resp.StatusCode, msg)
	}
	// The registry write is asynchronous (the registrar): wait for it.
	waitFor(t, func() bool {
		fws, _ := tm.store.Frameworks(t.Context())
		return len(fws) == 1 && fws[0].State == registry.FrameworkRemoved
	})
}

func TestResubscribeKeepsTasks(t *testing.T) {
	tm := startMaster(t, nil)
	a := registerAgent(t, tm.url, "", "cpus:2;mem:1024", nil)
	a.keepAlive(50 * time.Millisecond)
	f := subscribe(t, tm.url, `{"user":"u","name":"long","failover_timeout":3600}`)
	o := f.s.nextEvent(mesos.EventOffers).Offers.Offers[0]
	f.call(`{"type":"ACCEPT",` + f.fid() + `,"accept":{"offer_ids":[{"value":"` + o.ID.Value + `"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"` + a.id + `"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}],"command":{"value":"sleep 100"}}]}}]}}`)
	a.s.nextAgentEvent(agentproto.EventLaunch)
	f.s.close()
	// While disconnected the agent reports RUNNING; the update waits.
	waitFor(t, func() bool {
		st := getState(t, tm.url)
		return len(st.Frameworks) == 1 && !st.Frameworks[0].Connected
	})
	u := a.update(f.id, "t", mesos.TaskRunning)
	g := subscribe(t, tm.url, `{"user":"u","name":"long","failover_timeout":3600,"id":{"value":"`+f.id+`"}}`)
	if g.id != f.id {
		t.Fatalf("re-subscribed as %s; want %s", g.id, f.id)
	}
	st := g.s.nextEvent(mesos.EventUpdate).Update.Status
	if st.TaskID.Value != "t" || st.State != mesos.TaskRunning || st.UUID != u {
		t.Errorf("pending update after re-subscribe = %+v", st)
	}
	g.call(`{"type":"RECONCILE",` + g.fid() + `}`)
	if st := g.s.nextEvent(mesos.EventUpdate).Update.Status; st.State != mesos.TaskRunning || st.Reason != mesos.ReasonReconciliation {
		t.Errorf("implicit reconcile = %+v", st)
	}
}

func TestAgentRegisterErrors(t *testing.T) {
	tm := startMaster(t, nil)
	for _, tc := range []struct {
		name, body string
		want       int
	}{
		{"malformed", `{"type":`, 400},
		{"no register body", `{"type":"REGISTER"}`, 400},
		{"no hostname", `{"type":"REGISTER","register":{"info":{"resources":[]}}}`, 400},
		{"no cpus", `{"type":"REGISTER","register":{"info":{"hostname":"h","resources":[{"name":"mem","type":"SCALAR","scalar":{"value":10}}]}}}`, 400},
		{"stale heartbeat", `{"type":"HEARTBEAT","agent_id":"nope","connection_id":"x"}`, 409},
		{"unknown call", `{"type":"DANCE"}`, 400},
	} {
		resp, msg := post(t, tm.url+agentproto.Path, jsonCT, tc.body)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d %q; want %d", tc.name, resp.StatusCode, msg, tc.want)
		}
	}
}

func TestMasterRestartRecoversRegistry(t *testing.T) {
	db := testpg.URL(t)
	tm := startMasterOn(t, db, nil)
	a := registerAgent(t, tm.url, "", "cpus:2;mem:1024", nil)
	f := subscribe(t, tm.url, `{"user":"u","name":"long","failover_timeout":3600}`)
	waitFor(t, func() bool {
		fws, _ := tm.store.Frameworks(t.Context())
		return len(fws) == 1
	})
	tm.stop()

	tm2 := startMasterOn(t, db, func(c *Config) { c.AgentReregisterTimeout = 300 * time.Millisecond })
	st := getState(t, tm2.url)
	if len(st.Agents) != 1 || st.Agents[0].ID != a.id || st.Agents[0].State != "recovered" {
		t.Fatalf("agents after restart = %+v", st.Agents)
	}
	if len(st.Frameworks) != 1 || st.Frameworks[0].ID != f.id || st.Frameworks[0].State != "disconnected" {
		t.Fatalf("frameworks after restart = %+v", st.Frameworks)
	}
	// Reconciling a task on a recovering agent gets no answer; once the
	// agent missed its re-registration window it is unreachable.
	g := subscribe(t, tm2.url, `{"user":"u","name":"long","failover_timeout":3600,"id":{"value":"`+f.id+`"}}`)
	waitFor(t, func() bool { return getState(t, tm2.url).UnreachableAgents == 1 })
	g.call(`{"type":"RECONCILE",` + g.fid() + `,"reconcile":{"tasks":[{"task_id":{"value":"x"},"agent_id":{"value":"` + a.id + `"}}]}}`)
	if st := g.s.nextEvent(mesos.EventUpdate).Update.Status; st.State != mesos.TaskLost || st.UnreachableTime == nil {
		t.Errorf("reconcile on unreachable agent = %+v", st)
	}
}

// A master failover is not a framework failure: a framework that was
// connected when the master died may re-subscribe even with the default
// failover_timeout of 0.
func TestMasterRestartSparesConnectedFrameworks(t *testing.T) {
	db := testpg.URL(t)
	tm := startMasterOn(t, db, nil)
	f := subscribe(t, tm.url, plainFramework)
	waitFor(t, func() bool {
		fws, _ := tm.store.Frameworks(t.Context())
		return len(fws) == 1
	})
	tm.stop()
	tm2 := startMasterOn(t, db, func(c *Config) { c.AgentReregisterTimeout = 5 * time.Second })
	// The check that expires failover timeouts also marks agents that
	// stopped heartbeating unreachable: once a silent agent is, the
	// master has run it well after the framework's timeout of 0.
	registerAgent(t, tm2.url, "", "cpus:1;mem:128", nil)
	waitFor(t, func() bool { return getState(t, tm2.url).UnreachableAgents == 1 })
	g := subscribe(t, tm2.url, `{"user":"u","name":"test","id":{"value":"`+f.id+`"}}`)
	if g.id != f.id {
		t.Errorf("re-subscribed as %s; want %s", g.id, f.id)
	}
}

func TestNonFiniteNumbersRefused(t *testing.T) {
	tm := startMaster(t, nil)
	f := subscribe(t, tm.url, plainFramework)
	code, msg := f.call(`{"type":"DECLINE",` + f.fid() + `,"decline":{"offer_ids":[],"filters":{"refuse_seconds":"NaN"}}}`)
	if code != 400 || !strings.Contains(msg, "invalid number") {
		t.Errorf("NaN refuse_seconds: %d %q; want 400", code, msg)
	}
	// The master is still there.
	if st := getState(t, tm.url); len(st.Frameworks) != 1 {
		t.Errorf("state after bad input: %+v", st.Frameworks)
	}
}

func TestTeardownUpdateFrameworkSuppressRevive(t *testing.T) {
	tm := startMaster(t, func(c *Config) { c.OfferTimeout = 300 * time.Millisecond })
	a := registerAgent(t, tm.url, "", "cpus:2;mem:1024", nil)
	a.keepAlive(50 * time.Millisecond)
	f := subscribe(t, tm.url, `{"user":"u","name":"n","principal":"p","roles":["a","b"],"capabilities":[{"type":"MULTI_ROLE"}]}`)

	// An offer nobody answers is rescinded after the offer timeout.
	o := f.s.nextEvent(mesos.EventOffers).Offers.Offers[0]
	if r := f.s.nextEvent(mesos.EventRescind).Rescind; r.OfferID.Value != o.ID.Value {
		t.Errorf("RESCIND = %+v; want offer %s", r, o.ID.Value)
	}

	// SUPPRESS stops offers; REVIVE brings them back.
	if code, msg := f.call(`{"type":"SUPPRESS",` + f.fid() + `}`); code != 202 {
		t.Fatalf("SUPPRESS: %d %s", code, msg)
	}
	// Offers made before the SUPPRESS (it keeps them) may still be on
	// their way: decline them, without a filter, so that the agent's
	// resources are free to be offered again.
	var held []string
	for _, ev := range f.barrier("before-suppress") {
		switch ev.Type {
		case mesos.EventOffers:
			for _, o := range ev.Offers.Offers {
				held = append(held, `{"value":"`+o.ID.Value+`"}`)
			}
		case mesos.EventRescind:
			held = slices.DeleteFunc(held, func(id string) bool { return id == `{"value":"`+ev.Rescind.OfferID.Value+`"}` })
		}
	}
	if len(held) > 0 {
		if code, msg := f.call(`{"type":"DECLINE",` + f.fid() + `,"decline":{"offer_ids":[` + strings.Join(held, ",") + `],"filters":{"refuse_seconds":0}}}`); code != 202 {
			t.Fatalf("DECLINE: %d %s", code, msg)
		}
	}
	// Three allocation cycles later, with the agent's resources free,
	// still no offer: any would have been queued before the next answer.
	n := allocationCycles(t, tm.url)
	waitFor(t, func() bool { return allocationCycles(t, tm.url) >= n+3 })
	for _, ev := range f.barrier("while-suppressed") {
		if ev.Type == mesos.EventOffers {
			t.Fatalf("offer %s while suppressed", ev.Offers.Offers[0].ID.Value)
		}
	}
	if code, msg := f.call(`{"type":"REVIVE",` + f.fid() + `,"revive":{"roles":["b"]}}`); code != 202 {
		t.Fatalf("REVIVE: %d %s", code, msg)
	}
	if o := f.s.nextEvent(mesos.EventOffers).Offers.Offers[0]; o.AllocationInfo == nil || o.AllocationInfo.Role != "b" {
		t.Errorf("offer after REVIVE b = %+v; want role b", o.AllocationInfo)
	}

	// UPDATE_FRAMEWORK: 200 for allowed changes, 400 for the principal.
	upd := func(info string) (int, string) {
		return f.call(`{"type":"UPDATE_FRAMEWORK",` + f.fid() + `,"update_framework":{"framework_info":` + info + `}}`)
	}
	if code, msg := upd(`{"user":"u","name":"renamed","principal":"p","roles":["a"],"capabilities":[{"type":"MULTI_ROLE"}],"id":{"value":"` + f.id + `"}}`); code != 200 {
		t.Errorf("UPDATE_FRAMEWORK: %d %s", code, msg)
	}
	if code, msg := upd(`{"user":"u","name":"renamed","principal":"q","id":{"value":"` + f.id + `"}}`); code != 400 || !strings.Contains(msg, "principal") {
		t.Errorf("UPDATE_FRAMEWORK principal: %d %s; want 400", code, msg)
	}
	waitFor(t, func() bool {
		st := getState(t, tm.url)
		return len(st.Frameworks) == 1 && st.Frameworks[0].Name == "renamed" && len(st.Frameworks[0].Roles) == 1
	})

	// TEARDOWN removes the framework for good.
	if code, msg := f.call(`{"type":"TEARDOWN",` + f.fid() + `}`); code != 202 {
		t.Fatalf("TEARDOWN: %d %s", code, msg)
	}
	waitFor(t, func() bool {
		st := getState(t, tm.url)
		return len(st.Frameworks) == 0 && len(st.CompletedFrameworks) == 1
	})
	if code, msg := f.call(`{"type":"REVIVE",` + f.fid() + `}`); code != 400 || !strings.Contains(msg, "cannot be found") {
		t.Errorf("call after TEARDOWN: %d %q; want 400", code, msg)
	}
	waitFor(t, func() bool {
		fws, _ := tm.store.Frameworks(t.Context())
		return len(fws) == 1 && fws[0].State == registry.FrameworkRemoved
	})
}

func TestWeights(t *testing.T) {
	db := testpg.URL(t)
	tm := startMasterOn(t, db, func(c *Config) { c.Weights = "prod=3" })
	put := func(body string) int {
		req, _ := http.NewRequest(http.MethodPut, tm.url+"/weights", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for body, want := range map[string]int{
		`[{"role":"dev","weight":0.5}]`: 200,
		`[{"role":"/x","weight":1}]`:    400,
		`[{"role":"a","weight":-1}]`:    400,
		`{"role":"a"}`:                  400,
	} {
		if got := put(body); got != want {
			t.Errorf("PUT /weights %s = %d; want %d", body, got, want)
		}
	}
	get := func(url string) map[string]float64 {
		resp, err := http.Get(url + "/weights")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ws []WeightInfo
		_ = json.NewDecoder(resp.Body).Decode(&ws)
		out := map[string]float64{}
		for _, w := range ws {
			out[w.Role] = w.Weight
		}
		return out
	}
	if got := get(tm.url); got["dev"] != 0.5 || got["prod"] != 3 {
		t.Errorf("GET /weights = %v", got)
	}
	tm.stop()
	tm2 := startMasterOn(t, db, nil)
	if got := get(tm2.url); got["dev"] != 0.5 {
		t.Errorf("weights after restart = %v; want dev=0.5 kept", got)
	}
}
