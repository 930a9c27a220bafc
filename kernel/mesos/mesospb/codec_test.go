package mesospb

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"

	"corral/kernel/mesos"
)

func ptr[T any](v T) *T { return &v }

// TestEventRoundTrip: every event the master sends survives encoding and
// decoding unchanged.
func TestEventRoundTrip(t *testing.T) {
	res := []mesos.Resource{
		{Name: "cpus", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 0}, AllocationInfo: &mesos.AllocationInfo{Role: "r"},
			Reservations: []mesos.ReservationInfo{{Type: "STATIC", Role: "r"}, {Type: "DYNAMIC", Role: "r/s", Principal: "p", Labels: &mesos.Labels{Labels: []mesos.Label{{Key: "k"}}}}}},
		{Name: "ports", Type: mesos.Ranges, Ranges: &mesos.RangesValue{Range: []mesos.Range{{Begin: 0, End: 65535}}}, Role: "r", Reservation: &mesos.ReservationInfo{Principal: "p"}},
		{Name: "disks", Type: mesos.Set, Set: &mesos.SetValue{Item: []string{"a"}}},
	}
	for _, ev := range []mesos.Event{
		{Type: mesos.EventSubscribed, Subscribed: &mesos.Subscribed{FrameworkID: mesos.ID{Value: "f"}, HeartbeatIntervalSeconds: 15,
			MasterInfo: &mesos.MasterInfo{ID: "m", IP: 0x0100007f, Port: 5050, PID: "master@127.0.0.1:5050", Hostname: "h", Version: "1.11.0",
				Address: &mesos.Address{Hostname: "h", IP: "127.0.0.1", Port: 5050}}}},
		{Type: mesos.EventOffers, Offers: &mesos.Offers{Offers: []mesos.Offer{{
			ID: mesos.ID{Value: "o"}, FrameworkID: mesos.ID{Value: "f"}, AgentID: mesos.ID{Value: "a"}, Hostname: "h",
			URL:            &mesos.URL{Scheme: "http", Address: mesos.Address{Hostname: "h", IP: "10.0.0.1", Port: 5051}, Path: "/slave(1)"},
			AllocationInfo: &mesos.AllocationInfo{Role: "r"}, Resources: res,
			Attributes: []mesos.Attribute{
				{Name: "rack", Type: mesos.Text, Text: &mesos.TextValue{Value: "r1"}},
				{Name: "n", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 2.5}},
				{Name: "rg", Type: mesos.Ranges, Ranges: &mesos.RangesValue{Range: []mesos.Range{{Begin: 1, End: 2}}}},
				{Name: "s", Type: mesos.Set, Set: &mesos.SetValue{Item: []string{"x", "y"}}}},
			ExecutorIDs:    []mesos.ID{{Value: "e"}},
			Unavailability: &mesos.Unavailability{Start: mesos.TimeInfo{Nanoseconds: 1}},
		}}}},
		{Type: mesos.EventRescind, Rescind: &mesos.Rescind{OfferID: mesos.ID{Value: "o"}}},
		{Type: mesos.EventUpdate, Update: &mesos.Update{Status: mesos.TaskStatus{
			TaskID: mesos.ID{Value: "t"}, State: mesos.TaskStarting, Message: "m", Source: mesos.SourceMaster, Reason: mesos.ReasonCommandExecutorFailed,
			Data: "AAE=", AgentID: &mesos.ID{Value: "a"}, ExecutorID: &mesos.ID{Value: "e"}, Timestamp: 1.7e9, UUID: "AAECAwQFBgcICQoLDA0ODw==",
			Healthy: ptr(false), Labels: &mesos.Labels{Labels: []mesos.Label{{Key: "k", Value: "v"}}},
			UnreachableTime: &mesos.TimeInfo{Nanoseconds: 1}}}},
		{Type: mesos.EventMessage, Message: &mesos.Message{AgentID: mesos.ID{Value: "a"}, ExecutorID: mesos.ID{Value: "e"}, Data: "aGk="}},
		{Type: mesos.EventFailure, Failure: &mesos.Failure{AgentID: &mesos.ID{Value: "a"}, ExecutorID: &mesos.ID{Value: "e"}, Status: ptr(mesos.Int(-9))}},
		{Type: mesos.EventError, Error: &mesos.Error{Message: "framework has been removed"}},
		{Type: mesos.EventHeartbeat},
		{Type: mesos.EventInverseOffers, InverseOffers: &mesos.InverseOffers{InverseOffers: []mesos.InverseOffer{{
			ID: mesos.ID{Value: "i"}, FrameworkID: mesos.ID{Value: "f"}, AgentID: &mesos.ID{Value: "a"},
			Unavailability: mesos.Unavailability{Start: mesos.TimeInfo{Nanoseconds: 1.7e18}, Duration: &mesos.DurationInfo{Nanoseconds: 6e11}}}}}},
		{Type: mesos.EventRescindInverseOffer, RescindInverseOffer: &mesos.RescindInverseOffer{InverseOfferID: mesos.ID{Value: "i"}}},
	} {
		t.Run(string(ev.Type), func(t *testing.T) {
			b, err := MarshalEvent(&ev)
			if err != nil {
				t.Fatalf("MarshalEvent: %v", err)
			}
			var got mesos.Event
			if err := UnmarshalEvent(b, &got); err != nil {
				t.Fatalf("UnmarshalEvent: %v", err)
			}
			if d := cmp.Diff(ev, got); d != "" {
				t.Errorf("round trip differs (-sent +got):\n%s", d)
			}
		})
	}
}

// TestEventGolden pins the bytes of an event against a hand-built form:
// required fields are written even when zero (Value.Type SCALAR is 0, a
// zero scalar, an empty id), as mesos-go's generated Unmarshal demands.
func TestEventGolden(t *testing.T) {
	ev := mesos.Event{Type: mesos.EventOffers, Offers: &mesos.Offers{Offers: []mesos.Offer{{
		ID: mesos.ID{Value: "o"}, FrameworkID: mesos.ID{}, AgentID: mesos.ID{Value: "a"}, Hostname: "h",
		Resources: []mesos.Resource{{Name: "gpus", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{}}},
	}}}}
	want := msg(vint(1, 2), sub(3, sub(1,
		id(1, "o"), id(2, ""), id(3, "a"), str(4, "h"),
		sub(5, str(1, "gpus"), vint(2, 0), sub(3, dbl(1, 0))))))
	got, err := MarshalEvent(&ev)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("MarshalEvent(%+v) =\n%x; want\n%x", ev, got, want)
	}
}

// TestRawFields: messages corral keeps only to refuse decode to JSON that
// validation judges as it judges the JSON form: an empty message is
// blank, any content is not; the typed ones come out as their JSON.
func TestRawFields(t *testing.T) {
	task := func(container ...fld) []byte {
		return msg(vint(2, callAccept), sub(4, sub(2, vint(1, 1), sub(2, sub(1, str(1, "n"), sub(9, container...))))))
	}
	decode := func(t *testing.T, b []byte) *mesos.ContainerInfo {
		t.Helper()
		var c mesos.Call
		if err := UnmarshalCall(b, &c); err != nil {
			t.Fatal(err)
		}
		return c.Accept.Operations[0].Launch.TaskInfos[0].Container
	}
	for _, tc := range []struct {
		name    string
		pb      []byte
		problem string // "" or a part of ContainerInfo.Problem()
	}{
		{"empty mesos info", task(vint(1, 2), sub(5)), ""},
		{"mesos image", task(vint(1, 2), sub(5, sub(1, vint(1, 2), sub(3, str(1, "busybox"))))), "'container.mesos'"},
		{"linux info", task(vint(1, 2), sub(8, vint(4, 1))), "'container.linux_info'"},
		{"rlimit info", task(vint(1, 2), sub(9, sub(1, vint(1, 10)))), "'container.rlimit_info'"},
		{"tty info", task(vint(1, 2), sub(10)), ""},
		{"tty info with a size", task(vint(1, 2), sub(10, sub(1, vint(1, 24), vint(2, 80)))), "'container.tty_info'"},
		{"volume image", task(vint(1, 2), sub(2, vint(3, 1), str(1, "s"), sub(4, vint(1, 2)), sub(5, vint(1, 3), sub(4, vint(1, 1), sub(2, str(1, "x")))))), ".image'"},
		{"docker volume source", task(vint(1, 2), sub(2, vint(3, 1), str(1, "s"), sub(5, vint(1, 3), sub(2, str(2, "v")), sub(4, vint(1, 1), sub(2, str(1, "x")))))), "a SECRET source sets only 'secret'"},
		{"user network groups", task(vint(1, 1), sub(3, str(1, "img"), vint(2, 4)), sub(7, str(6, "net"), str(3, "g"))), "may set only 'name'"},
		{"user network labels", task(vint(1, 1), sub(3, str(1, "img"), vint(2, 4)), sub(7, str(6, "net"), sub(4, sub(1, str(1, "k"))))), ""},
		{"user network ip", task(vint(1, 1), sub(3, str(1, "img"), vint(2, 4)), sub(7, str(6, "net"), sub(5, vint(1, 2)))), "may set only 'name'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ci := decode(t, tc.pb)
			if p := ci.Problem(); (tc.problem == "") != (p == "") || !strings.Contains(p, tc.problem) {
				t.Errorf("Problem() = %q; want one containing %q", p, tc.problem)
			}
			// What was decoded encodes to the same bytes.
			var c mesos.Call
			_ = UnmarshalCall(tc.pb, &c)
			b, err := MarshalCall(&c)
			if err != nil {
				t.Fatal(err)
			}
			var again mesos.Call
			if err := UnmarshalCall(b, &again); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c, again); d != "" {
				t.Errorf("round trip differs:\n%s", d)
			}
		})
	}

	// The typed shapes read as the JSON form does.
	ci := decode(t, task(vint(1, 1), sub(7, str(6, "n"), str(3, "g1"), str(3, "g2"), sub(4, sub(1, str(1, "k"), str(2, "v"))),
		sub(5, vint(1, 2), str(2, "::1")))))
	n := ci.NetworkInfos[0]
	for _, c := range []struct{ got, want string }{
		{string(n.Groups), `["g1","g2"]`},
		{string(n.Labels), `{"labels":[{"key":"k","value":"v"}]}`},
		{string(n.IPAddresses), `[{"protocol":"IPv6","ip_address":"::1"}]`},
	} {
		if c.got != c.want {
			t.Errorf("network info field = %s; want %s", c.got, c.want)
		}
	}
	// JSON that has no protobuf form is refused on encoding, not dropped.
	bad := mesos.Call{Type: mesos.CallAccept, Accept: &mesos.Accept{Operations: []mesos.Operation{{Type: mesos.OpLaunch, Launch: &mesos.Launch{
		TaskInfos: []mesos.TaskInfo{{Container: &mesos.ContainerInfo{LinuxInfo: json.RawMessage(`{"share_pid_namespace":true}`)}}}}}}}}
	if _, err := MarshalCall(&bad); err == nil || !strings.Contains(err.Error(), "linux_info") {
		t.Errorf("MarshalCall(JSON linux_info) = %v; want an error naming linux_info", err)
	}
}

// TestDecodeErrors: malformed input is an error naming the field; the
// JSON form's own refusals (non-finite numbers) hold in protobuf too.
func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		pb         []byte
	}{
		{"truncated", "", msg(id(1, "f"))[:3]},
		{"wrong wire type", "framework_id", msg(vint(1, 3))},
		{"infinite failover timeout", "failover_timeout", msg(sub(3, sub(1, str(1, "u"), dbl(4, math.Inf(1)))))},
		{"NaN refuse seconds", "refuse_seconds", msg(sub(5, sub(2, dbl(1, math.NaN()))))},
		{"invalid UTF-8", "task_id", msg(sub(6, sub(1, str(1, "\xff"))))},
		{"uint32 overflow", "host_port", msg(sub(4, sub(2, sub(2, sub(1, sub(9, sub(3, sub(3, vint(1, 1<<40)))))))))},
		{"bad tag", "", []byte{0x00}},
		{"NaN limit", "limits", msg(sub(4, sub(2, sub(2, sub(1, sub(15, str(1, "cpus"), sub(2, dbl(1, math.NaN()))))))))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c mesos.Call
			err := UnmarshalCall(tc.pb, &c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("UnmarshalCall = %v; want an error containing %q", err, tc.want)
			}
		})
	}
	// Packed repeated scalars are read too.
	packed := protowire.AppendVarint(protowire.AppendVarint(nil, 200), 204)
	var c mesos.Call
	pb := msg(sub(4, sub(2, sub(2, sub(1, sub(8, sub(1, byt(4, packed))))))))
	if err := UnmarshalCall(pb, &c); err != nil {
		t.Fatal(err)
	}
	if got := c.Accept.Operations[0].Launch.TaskInfos[0].HealthCheck.HTTP.Statuses; !reflect.DeepEqual(got, []mesos.Int{200, 204}) {
		t.Errorf("packed statuses = %v; want [200 204]", got)
	}
}

// TestSchema: every field of every type reachable from Call and Event has
// a protobuf form, and every tag is well formed (planOf panics if not).
func TestSchema(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(rt reflect.Type) {
		for rt.Kind() == reflect.Pointer || rt.Kind() == reflect.Slice || rt.Kind() == reflect.Map {
			rt = rt.Elem()
		}
		if rt.Kind() != reflect.Struct || seen[rt] {
			return
		}
		seen[rt] = true
		planOf(rt)
		for i := 0; i < rt.NumField(); i++ {
			sf := rt.Field(i)
			if _, ok := sf.Tag.Lookup("pb"); !ok {
				t.Errorf("%s.%s has no pb tag", rt, sf.Name)
				continue
			}
			if sf.Type != rawMessageType {
				walk(sf.Type)
			}
		}
	}
	walk(reflect.TypeFor[mesos.Call]())
	walk(reflect.TypeFor[mesos.Event]())
	walk(reflect.TypeFor[mesos.ExecutorCall]())
	walk(reflect.TypeFor[mesos.ExecutorEvent]())
	if len(seen) < 40 {
		t.Errorf("walked %d types; the walk is broken", len(seen))
	}
}

// TestEnumsCoverTheConstants: every enum value package mesos names has a
// number, so that no event loses a field on the way out.
func TestEnumsCoverTheConstants(t *testing.T) {
	for table, names := range map[string][]string{
		"TaskState": {string(mesos.TaskStaging), string(mesos.TaskStarting), string(mesos.TaskRunning), string(mesos.TaskKilling),
			string(mesos.TaskFinished), string(mesos.TaskFailed), string(mesos.TaskKilled), string(mesos.TaskError), string(mesos.TaskLost),
			string(mesos.TaskDropped), string(mesos.TaskUnreachable), string(mesos.TaskGone), string(mesos.TaskGoneByOperator), string(mesos.TaskUnknown)},
		"Source": {mesos.SourceMaster, mesos.SourceAgent, mesos.SourceExecutor},
		"Reason": {mesos.ReasonCommandExecutorFailed, mesos.ReasonContainerLimitation, mesos.ReasonContainerLimitationMem,
			mesos.ReasonContainerLaunchFailed, mesos.ReasonExecutorTerminated, mesos.ReasonFrameworkRemoved, mesos.ReasonAgentRemoved,
			mesos.ReasonAgentRestarted, mesos.ReasonAgentUnknown, mesos.ReasonAgentDisconnected, mesos.ReasonAgentDraining,
			mesos.ReasonInvalidOffers, mesos.ReasonReconciliation, mesos.ReasonTaskInvalid, mesos.ReasonTaskUnauthorized,
			mesos.ReasonTaskUnknown, mesos.ReasonTaskKilledDuringLaunch, mesos.ReasonResourcesUnknown, mesos.ReasonMasterDisconnected,
			mesos.ReasonExecutorUnregistered, mesos.ReasonTaskHealthCheckStatusUpdated},
		"EventType": {string(mesos.EventSubscribed), string(mesos.EventOffers), string(mesos.EventRescind), string(mesos.EventUpdate),
			string(mesos.EventMessage), string(mesos.EventFailure), string(mesos.EventError), string(mesos.EventHeartbeat),
			string(mesos.EventInverseOffers), string(mesos.EventRescindInverseOffer)},
		"ValueType":           {string(mesos.Scalar), string(mesos.Ranges), string(mesos.Set), string(mesos.Text)},
		"Capability":          {mesos.CapMultiRole, mesos.CapPartitionAware, mesos.CapTaskKillingState, mesos.CapRegionAware, mesos.CapReservationRefinement},
		"ReservationType":     {mesos.ReservationStatic, mesos.ReservationDynamic},
		"OperationType":       {string(mesos.OpLaunch), string(mesos.OpLaunchGroup), string(mesos.OpReserve), string(mesos.OpUnreserve), string(mesos.OpCreate), string(mesos.OpDestroy)},
		"ContainerType":       {mesos.ContainerMesos, mesos.ContainerDocker},
		"DockerNetwork":       {mesos.NetworkHost, mesos.NetworkBridge, mesos.NetworkNone, mesos.NetworkUser},
		"VolumeMode":          {mesos.VolumeRO, mesos.VolumeRW},
		"VariableType":        {mesos.VariableValue, mesos.VariableSecret},
		"SecretType":          {mesos.SecretReferenceType, mesos.SecretValueType},
		"DiscoveryVisibility": {mesos.VisibilityFramework, mesos.VisibilityCluster, mesos.VisibilityExternal},
	} {
		for _, name := range names {
			if _, ok := enums[table].nums[name]; !ok {
				t.Errorf("enum %s has no number for %q", table, name)
			}
		}
	}
}
