package master

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
	"corral/kernel/mesos/mesospb"
)

// pbFramework is a scheduler on the protobuf codec, as most Mesos v1
// libraries are by default.
type pbFramework struct {
	t        *testing.T
	api      string
	id       string
	streamID string
	s        *stream
}

// postPB posts a protobuf call with the given headers.
func postPB(t *testing.T, api string, hdr map[string]string, call *mesos.Call) (*http.Response, error) {
	t.Helper()
	b, err := mesospb.MarshalCall(call)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, api, bytes.NewReader(b))
	req.Header.Set("Content-Type", mesospb.MediaType)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return http.DefaultClient.Do(req)
}

func subscribePB(t *testing.T, master string, info mesos.FrameworkInfo) *pbFramework {
	t.Helper()
	api := master + "/api/v1/scheduler"
	resp, err := postPB(t, api, map[string]string{"Accept": mesospb.MediaType},
		&mesos.Call{Type: mesos.CallSubscribe, Subscribe: &mesos.Subscribe{FrameworkInfo: info}})
	if err != nil {
		t.Fatal(err)
	}
	// mesos-go compares Content-Type with its codec's media type exactly.
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != mesospb.MediaType || resp.Header.Get("Mesos-Stream-Id") == "" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("SUBSCRIBE: %d, Content-Type %q, stream id %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Mesos-Stream-Id"), b)
	}
	f := &pbFramework{t: t, api: api, streamID: resp.Header.Get("Mesos-Stream-Id"), s: readStream(t, resp)}
	// The first record is an Event whose field 1 (type) is SUBSCRIBED (1).
	var raw []byte
	f.s.next(func(b []byte) bool { raw = b; return true })
	num, typ, n := protowire.ConsumeTag(raw)
	if v, m := protowire.ConsumeVarint(raw[max(n, 0):]); num != 1 || typ != protowire.VarintType || m < 0 || v != 1 {
		t.Fatalf("first record %x is not a protobuf SUBSCRIBED event", raw)
	}
	var ev mesos.Event
	if err := mesospb.UnmarshalEvent(raw, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Subscribed == nil || ev.Subscribed.FrameworkID.Value == "" || ev.Subscribed.HeartbeatIntervalSeconds != 15 || ev.Subscribed.MasterInfo == nil {
		t.Fatalf("SUBSCRIBED = %+v", ev.Subscribed)
	}
	f.id = ev.Subscribed.FrameworkID.Value
	return f
}

// next returns the next event of one of the types, decoding protobuf.
func (f *pbFramework) next(types ...mesos.EventType) *mesos.Event {
	f.t.Helper()
	var ev mesos.Event
	f.s.next(func(b []byte) bool {
		if err := mesospb.UnmarshalEvent(b, &ev); err != nil {
			f.t.Fatalf("record %x: %v", b, err)
		}
		return slices.Contains(types, ev.Type)
	})
	return &ev
}

// call sends a protobuf call on the framework's stream id.
func (f *pbFramework) call(c mesos.Call) (int, string) {
	f.t.Helper()
	c.FrameworkID = &mesos.ID{Value: f.id}
	resp, err := postPB(f.t, f.api, map[string]string{"Mesos-Stream-Id": f.streamID}, &c)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestProtobufFramework: a framework that speaks only protobuf subscribes,
// gets its offers, launches a task, sees its status and acknowledges it,
// all in protobuf, against a (fake) agent that speaks corral's JSON.
func TestProtobufFramework(t *testing.T) {
	tm := startMaster(t, nil)
	a := registerAgent(t, tm.url, "", "cpus:4;mem:4096;ports:[31000-31009]", nil)
	a.keepAlive(50 * time.Millisecond)
	f := subscribePB(t, tm.url, mesos.FrameworkInfo{User: "u", Name: "pb", Capabilities: []mesos.Capability{{Type: mesos.CapPartitionAware}}})

	o := f.next(mesos.EventOffers).Offers.Offers[0]
	if o.AgentID.Value != a.id || o.Hostname != "testhost" || len(o.Resources) != 3 || o.FrameworkID.Value != f.id {
		t.Fatalf("offer = %+v", o)
	}
	var ports *mesos.Resource
	for i, r := range o.Resources {
		if r.Name == "ports" {
			ports = &o.Resources[i]
		}
	}
	if ports == nil || ports.Type != mesos.Ranges || len(ports.Ranges.Range) != 1 || ports.Ranges.Range[0] != (mesos.Range{Begin: 31000, End: 31009}) || ports.Role != "*" {
		t.Fatalf("offered ports = %+v", ports)
	}

	shell := false
	task := mesos.TaskInfo{
		Name: "pb", TaskID: mesos.ID{Value: "pb"}, AgentID: o.AgentID,
		Resources: []mesos.Resource{
			{Name: "cpus", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 1}, Role: "*"},
			{Name: "mem", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 128}, Role: "*"},
			{Name: "ports", Type: mesos.Ranges, Ranges: &mesos.RangesValue{Range: []mesos.Range{{Begin: 31000, End: 31000}}}, Role: "*"},
		},
		Command: &mesos.CommandInfo{Shell: &shell, Value: "/bin/sleep", Arguments: []string{"sleep", "100"},
			Environment: &mesos.Environment{Variables: []mesos.Variable{{Name: "PORT", Type: mesos.VariableValue, Value: "31000"}}}},
		KillPolicy: &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: 2e9}},
		Labels:     &mesos.Labels{Labels: []mesos.Label{{Key: "via", Value: "protobuf"}}},
	}
	refuse := mesos.Float(0)
	if code, msg := f.call(mesos.Call{Type: mesos.CallAccept, Accept: &mesos.Accept{
		OfferIDs:   []mesos.ID{o.ID},
		Operations: []mesos.Operation{{Type: mesos.OpLaunch, Launch: &mesos.Launch{TaskInfos: []mesos.TaskInfo{task}}}},
		Filters:    &mesos.Filters{RefuseSeconds: &refuse},
	}}); code != 202 {
		t.Fatalf("ACCEPT: %d %s", code, msg)
	}
	launch := a.s.nextAgentEvent(agentproto.EventLaunch).Launch
	if len(launch.Tasks) != 1 || launch.FrameworkID != f.id {
		t.Fatalf("LAUNCH = %+v", launch)
	}
	got := launch.Tasks[0]
	if got.TaskID.Value != "pb" || got.Command == nil || got.Command.IsShell() || got.Command.Value != "/bin/sleep" ||
		!slices.Equal(got.Command.Arguments, []string{"sleep", "100"}) || got.Command.Environment.Variables[0].Value != "31000" ||
		got.KillPolicy.GracePeriod.Nanoseconds != 2e9 || got.Labels.Labels[0].Value != "protobuf" {
		t.Errorf("launched task = %+v; want the protobuf ACCEPT's task", got)
	}

	u := a.update(f.id, "pb", mesos.TaskRunning)
	st := f.next(mesos.EventUpdate).Update.Status
	if st.TaskID.Value != "pb" || st.State != mesos.TaskRunning || st.UUID != u || st.AgentID == nil || st.AgentID.Value != a.id {
		t.Fatalf("forwarded update = %+v", st)
	}
	if code, msg := f.call(mesos.Call{Type: mesos.CallAcknowledge, Acknowledge: &mesos.Acknowledge{AgentID: *st.AgentID, TaskID: st.TaskID, UUID: st.UUID}}); code != 202 {
		t.Fatalf("ACKNOWLEDGE: %d %s", code, msg)
	}
	if ack := a.s.nextAgentEvent(agentproto.EventAcknowledge).Acknowledge; ack.UUID != u || ack.TaskID != "pb" {
		t.Errorf("agent got ack %+v", ack)
	}

	// Reconciliation answers in protobuf too, and so does a KILL.
	if code, msg := f.call(mesos.Call{Type: mesos.CallReconcile, Reconcile: &mesos.Reconcile{Tasks: []mesos.ReconcileTask{{TaskID: mesos.ID{Value: "ghost"}}}}}); code != 202 {
		t.Fatalf("RECONCILE: %d %s", code, msg)
	}
	if s := f.next(mesos.EventUpdate).Update.Status; s.TaskID.Value != "ghost" || s.State != mesos.TaskUnknown {
		t.Errorf("reconcile unknown task (partition aware) = %+v; want TASK_UNKNOWN", s)
	}
	if code, msg := f.call(mesos.Call{Type: mesos.CallKill, Kill: &mesos.Kill{TaskID: mesos.ID{Value: "pb"}}}); code != 202 {
		t.Fatalf("KILL: %d %s", code, msg)
	}
	if k := a.s.nextAgentEvent(agentproto.EventKill).Kill; k.TaskID != "pb" {
		t.Errorf("KILL = %+v", k)
	}
	a.update(f.id, "pb", mesos.TaskKilled)
	if s := f.next(mesos.EventUpdate).Update.Status; s.State != mesos.TaskKilled {
		t.Errorf("update = %+v; want TASK_KILLED", s)
	}

	// Validation holds for protobuf calls: an unsupported operation is
	// refused by name, as in JSON.
	code, msg := f.call(mesos.Call{Type: mesos.CallAccept, Accept: &mesos.Accept{OfferIDs: []mesos.ID{{Value: "x"}},
		Operations: []mesos.Operation{{Type: mesos.OpReserve}}}})
	if code != 400 || !strings.Contains(msg, "RESERVE") {
		t.Errorf("ACCEPT with RESERVE: %d %q; want 400 naming RESERVE", code, msg)
	}
}

// TestProtobufNegotiation: the request's Content-Type and the stream's
// Accept are independent, as in Mesos.
func TestProtobufNegotiation(t *testing.T) {
	tm := startMaster(t, nil)
	api := tm.url + "/api/v1/scheduler"
	sub := &mesos.Call{Type: mesos.CallSubscribe, Subscribe: &mesos.Subscribe{FrameworkInfo: mesos.FrameworkInfo{User: "u", Name: "n"}}}
	for _, tc := range []struct {
		name, accept, want string
		code               int
	}{
		{"no Accept is JSON", "", "application/json", 200},
		{"JSON preferred when both", "application/x-protobuf, application/json", "application/json", 200},
		{"wildcard is JSON", "*/*", "application/json", 200},
		{"JSON refused", "application/json;q=0, */*", mesospb.MediaType, 200},
		{"protobuf", mesospb.MediaType, mesospb.MediaType, 200},
		{"neither", "text/html", "", 406},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := postPB(t, api, map[string]string{"Accept": tc.accept}, sub)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.code || (tc.code == 200 && resp.Header.Get("Content-Type") != tc.want) {
				t.Fatalf("SUBSCRIBE Accept %q: %d %q; want %d %q", tc.accept, resp.StatusCode, resp.Header.Get("Content-Type"), tc.code, tc.want)
			}
			if tc.code != 200 {
				return
			}
			rec, err := mesos.NewReader(resp.Body).Next()
			if err != nil {
				t.Fatal(err)
			}
			var ev mesos.Event
			if tc.want == mesospb.MediaType {
				err = mesospb.UnmarshalEvent(rec, &ev)
			} else {
				err = json.Unmarshal(rec, &ev)
			}
			if err != nil || ev.Type != mesos.EventSubscribed {
				t.Errorf("first record %q: %v, type %q; want SUBSCRIBED", rec, err, ev.Type)
			}
		})
	}

	// A JSON request may ask for a protobuf stream.
	req, _ := http.NewRequest(http.MethodPost, api, strings.NewReader(`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", mesospb.MediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != mesospb.MediaType {
		t.Errorf("JSON SUBSCRIBE accepting protobuf: Content-Type %q", resp.Header.Get("Content-Type"))
	}

	// A body that is not a Call is 400; an unsupported type stays 415.
	for _, tc := range []struct {
		ct, body string
		code     int
		msg      string
	}{
		{mesospb.MediaType, "\x0a\xff", 400, "Failed to parse body into Call"},
		{mesospb.MediaType, "", 400, "Expecting 'type' to be present"},
		{"text/plain", "x", 415, "Content-Type"},
	} {
		req, _ := http.NewRequest(http.MethodPost, api, strings.NewReader(tc.body))
		req.Header.Set("Content-Type", tc.ct)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.msg) {
			t.Errorf("POST %s %q: %d %q; want %d containing %q", tc.ct, tc.body, resp.StatusCode, b, tc.code, tc.msg)
		}
	}
}
