package mesospb

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"

	"corral/kernel/mesos"
)

// The protobuf bodies below are built field by field with protowire, from
// the field numbers of Mesos' .proto files, independently of the codec.

type fld func([]byte) []byte

func msg(fs ...fld) []byte {
	var b []byte
	for _, f := range fs {
		b = f(b)
	}
	return b
}

func str(n protowire.Number, s string) fld {
	return func(b []byte) []byte {
		return protowire.AppendString(protowire.AppendTag(b, n, protowire.BytesType), s)
	}
}

func byt(n protowire.Number, s []byte) fld {
	return func(b []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(b, n, protowire.BytesType), s)
	}
}

func sub(n protowire.Number, fs ...fld) fld { return byt(n, msg(fs...)) }

func vint(n protowire.Number, x int64) fld {
	return func(b []byte) []byte {
		return protowire.AppendVarint(protowire.AppendTag(b, n, protowire.VarintType), uint64(x))
	}
}

func dbl(n protowire.Number, f float64) fld {
	return func(b []byte) []byte {
		return protowire.AppendFixed64(protowire.AppendTag(b, n, protowire.Fixed64Type), math.Float64bits(f))
	}
}

func fix32(n protowire.Number, x uint32) fld {
	return func(b []byte) []byte {
		return protowire.AppendFixed32(protowire.AppendTag(b, n, protowire.Fixed32Type), x)
	}
}

func id(n protowire.Number, v string) fld { return sub(n, str(1, v)) }

// Numbers of the Mesos enums the cases use.
const (
	callSubscribe, callTeardown, callAccept, callDecline, callRevive = 1, 2, 3, 4, 5
	callKill, callShutdown, callAcknowledge, callReconcile           = 6, 7, 8, 9
	callMessage, callRequest, callSuppress, callUpdateFramework      = 10, 11, 12, 17
	valScalar, valRanges, valSet                                     = 0, 1, 2
)

var callCases = []struct {
	name string
	json string
	pb   []byte
}{
	{
		name: "SUBSCRIBE",
		json: `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"example",
			"id":{"value":"fw-1"},"failover_timeout":3600.5,"checkpoint":false,"role":"legacy",
			"roles":["a","b/c"],"hostname":"h","principal":"p","webui_url":"http://ui",
			"capabilities":[{"type":"MULTI_ROLE"},{"type":"PARTITION_AWARE"},{"type":"RESERVATION_REFINEMENT"}],
			"labels":{"labels":[{"key":"k","value":"v"},{"key":"only"}]}},
			"suppressed_roles":["b/c"]}}`,
		pb: msg(vint(2, callSubscribe), sub(3,
			sub(1, str(1, "root"), str(2, "example"), id(3, "fw-1"), dbl(4, 3600.5), vint(5, 0), str(6, "legacy"),
				str(12, "a"), str(12, "b/c"), str(7, "h"), str(8, "p"), str(9, "http://ui"),
				sub(10, vint(1, 6)), sub(10, vint(1, 5)), sub(10, vint(1, 7)),
				sub(11, sub(1, str(1, "k"), str(2, "v")), sub(1, str(1, "only"))),
				sub(13, str(1, "offer filters are not held"))), // unknown to corral: skipped
			str(2, "b/c"),
			sub(3, str(1, "offer constraints are not held"))), // likewise
			vint(99, 7), fix32(98, 1), dbl(97, 1), str(96, "unknown fields are skipped")),
	},
	{
		name: "ACCEPT with LAUNCH",
		json: `{"framework_id":{"value":"fw-1"},"type":"ACCEPT","accept":{
			"offer_ids":[{"value":"o1"},{"value":"o2"}],
			"operations":[{"type":"LAUNCH","id":{"value":"op"},"launch":{"task_infos":[{
				"name":"web","task_id":{"value":"t1"},"agent_id":{"value":"a1"},
				"resources":[
					{"name":"cpus","type":"SCALAR","scalar":{"value":0.5},"allocation_info":{"role":"eng"},
					 "reservations":[{"type":"STATIC","role":"eng"},{"type":"DYNAMIC","role":"eng/web","principal":"ops","labels":{"labels":[{"key":"x","value":"y"}]}}]},
					{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":31001},{"begin":0,"end":0}]},"role":"eng","reservation":{"principal":"ops"}},
					{"name":"disks","type":"SET","set":{"item":["ssd","hdd"]}}],
				"command":{"uris":[{"value":"http://x/a.tgz","executable":false,"extract":false,"cache":true,"output_file":"b.tgz"}],
					"environment":{"variables":[{"name":"A","type":"VALUE","value":"1"},{"name":"S","type":"SECRET","secret":{"type":"REFERENCE","reference":{"name":"db","key":"pw"}}}]},
					"shell":false,"value":"/bin/echo","arguments":["echo","hi"],"user":"nobody"},
				"container":{"type":"DOCKER","hostname":"box",
					"docker":{"image":"nginx","network":"BRIDGE","port_mappings":[{"host_port":31000,"container_port":80,"protocol":"tcp"}],
						"privileged":true,"parameters":[{"key":"label","value":"a=b"}],"force_pull_image":true,"volume_driver":"vd"},
					"volumes":[{"mode":"RO","container_path":"/data","host_path":"/srv"}],
					"network_infos":[{"name":"net","port_mappings":[{"host_port":1,"container_port":2}]}]},
				"health_check":{"type":"HTTP","http":{"protocol":"IPv6","scheme":"https","port":80,"path":"/h","statuses":[200,204]},
					"delay_seconds":1,"interval_seconds":2,"timeout_seconds":3,"consecutive_failures":4,"grace_period_seconds":5},
				"kill_policy":{"grace_period":{"nanoseconds":3000000000}},
				"executor":{"executor_id":{"value":"e"},"command":{"value":"exec"}},
				"data":"AAEC","labels":{"labels":[{"key":"tier","value":"web"}]}}]}}],
			"filters":{"refuse_seconds":0}}}`,
		pb: msg(id(1, "fw-1"), vint(2, callAccept), sub(4,
			id(1, "o1"), id(1, "o2"),
			sub(2, vint(1, 1), id(12, "op"), sub(2, sub(1,
				str(1, "web"), id(2, "t1"), id(3, "a1"),
				sub(4, str(1, "cpus"), vint(2, valScalar), sub(3, dbl(1, 0.5)), sub(11, str(1, "eng")),
					sub(13, vint(4, 1), str(3, "eng")),
					sub(13, vint(4, 2), str(3, "eng/web"), str(1, "ops"), sub(2, sub(1, str(1, "x"), str(2, "y"))))),
				sub(4, str(1, "ports"), vint(2, valRanges), sub(4, sub(1, vint(1, 31000), vint(2, 31001)), sub(1, vint(1, 0), vint(2, 0))),
					str(6, "eng"), sub(8, str(1, "ops"))),
				sub(4, str(1, "disks"), vint(2, valSet), sub(5, str(1, "ssd"), str(1, "hdd"))),
				sub(7,
					sub(1, str(1, "http://x/a.tgz"), vint(2, 0), vint(3, 0), vint(4, 1), str(5, "b.tgz")),
					sub(2, sub(1, str(1, "A"), vint(3, 1), str(2, "1")),
						sub(1, str(1, "S"), vint(3, 2), sub(4, vint(1, 1), sub(2, str(1, "db"), str(2, "pw"))))),
					vint(6, 0), str(3, "/bin/echo"), str(7, "echo"), str(7, "hi"), str(5, "nobody")),
				sub(9, vint(1, 1), str(4, "box"),
					sub(3, str(1, "nginx"), vint(2, 2), sub(3, vint(1, 31000), vint(2, 80), str(3, "tcp")),
						vint(4, 1), sub(5, str(1, "label"), str(2, "a=b")), vint(6, 1), str(7, "vd")),
					sub(2, vint(3, 2), str(1, "/data"), str(2, "/srv")),
					sub(7, str(6, "net"), sub(7, vint(1, 1), vint(2, 2)))),
				sub(8, vint(8, 2), sub(1, vint(5, 2), str(3, "https"), vint(1, 80), str(2, "/h"), vint(4, 200), vint(4, 204)),
					dbl(2, 1), dbl(3, 2), dbl(4, 3), vint(5, 4), dbl(6, 5)),
				sub(12, sub(1, vint(1, 3000000000))),
				sub(5, id(1, "e"), sub(7, str(3, "exec"))),
				byt(6, []byte{0, 1, 2}),
				sub(10, sub(1, str(1, "tier"), str(2, "web"))),
				sub(13, vint(1, 1)), // check: not held, skipped as in JSON
			))),
			sub(3, dbl(1, 0)))),
	},
	{
		name: "ACCEPT of a MESOS container with a secret volume",
		json: `{"framework_id":{"value":"f"},"type":"ACCEPT","accept":{"offer_ids":[{"value":"o"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{
			"name":"n","task_id":{"value":"t"},"agent_id":{"value":"a"},
			"container":{"type":"MESOS","volumes":[{"mode":"RW","container_path":"s","source":{"type":"SECRET","secret":{"type":"VALUE","value":{"data":"c2VjcmV0"}}}}]},
			"health_check":{"type":"TCP","tcp":{"port":8080}},
			"limits":{"cpus":{"value":"Infinity"},"mem":{"value":512}}}]}}]}}`,
		pb: msg(id(1, "f"), vint(2, callAccept), sub(4, id(1, "o"), sub(2, vint(1, 1), sub(2, sub(1,
			str(1, "n"), id(2, "t"), id(3, "a"),
			sub(9, vint(1, 2), sub(2, vint(3, 1), str(1, "s"), sub(5, vint(1, 3), sub(4, vint(1, 2), sub(3, byt(1, []byte("secret"))))))),
			sub(8, vint(8, 3), sub(9, vint(1, 8080))),
			sub(15, str(1, "mem"), sub(2, dbl(1, 512))),
			sub(15, sub(2, dbl(1, math.Inf(1))), str(1, "cpus")), // entry fields in either order
		))))),
	},
	{
		name: "ACCEPT of a task with discovery info",
		json: `{"framework_id":{"value":"f"},"type":"ACCEPT","accept":{"offer_ids":[{"value":"o"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{
			"name":"web.group","task_id":{"value":"t"},"agent_id":{"value":"a"},
			"discovery":{"visibility":"FRAMEWORK","name":"web.group","version":"v1",
				"ports":{"ports":[{"number":31000,"name":"http","protocol":"tcp","visibility":"CLUSTER","labels":{"labels":[{"key":"network-scope","value":"host"}]}},{"number":31001}]},
				"labels":{"labels":[{"key":"k","value":"v"}]}}}]}}]}}`,
		pb: msg(id(1, "f"), vint(2, callAccept), sub(4, id(1, "o"), sub(2, vint(1, 1), sub(2, sub(1,
			str(1, "web.group"), id(2, "t"), id(3, "a"),
			sub(11, vint(1, 0), str(2, "web.group"), str(5, "v1"),
				sub(6, sub(1, vint(1, 31000), str(2, "http"), str(3, "tcp"), vint(4, 1), sub(5, sub(1, str(1, "network-scope"), str(2, "host")))),
					sub(1, vint(1, 31001))),
				sub(7, sub(1, str(1, "k"), str(2, "v")))),
		))))),
	},
	{
		name: "DECLINE",
		json: `{"framework_id":{"value":"f"},"type":"DECLINE","decline":{"offer_ids":[{"value":"o"}],"filters":{"refuse_seconds":31536000}}}`,
		pb:   msg(id(1, "f"), vint(2, callDecline), sub(5, id(1, "o"), sub(2, dbl(1, 31536000)))),
	},
	{
		name: "REVIVE",
		json: `{"framework_id":{"value":"f"},"type":"REVIVE","revive":{"roles":["a","b"]}}`,
		pb:   msg(id(1, "f"), vint(2, callRevive), sub(15, str(1, "a"), str(1, "b"))),
	},
	{
		name: "SUPPRESS",
		json: `{"framework_id":{"value":"f"},"type":"SUPPRESS","suppress":{"roles":["a"]}}`,
		pb:   msg(id(1, "f"), vint(2, callSuppress), sub(16, str(1, "a"))),
	},
	{
		name: "KILL",
		json: `{"framework_id":{"value":"f"},"type":"KILL","kill":{"task_id":{"value":"t"},"agent_id":{"value":"a"},"kill_policy":{"grace_period":{"nanoseconds":-1}}}}`,
		pb:   msg(id(1, "f"), vint(2, callKill), sub(6, id(1, "t"), id(2, "a"), sub(3, sub(1, vint(1, -1))))),
	},
	{
		name: "SHUTDOWN",
		json: `{"framework_id":{"value":"f"},"type":"SHUTDOWN","shutdown":{"executor_id":{"value":"e"},"agent_id":{"value":"a"}}}`,
		pb:   msg(id(1, "f"), vint(2, callShutdown), sub(7, id(1, "e"), id(2, "a"))),
	},
	{
		name: "ACKNOWLEDGE",
		json: `{"framework_id":{"value":"f"},"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"AAECAwQFBgcICQoLDA0ODw=="}}`,
		pb:   msg(id(1, "f"), vint(2, callAcknowledge), sub(8, id(1, "a"), id(2, "t"), byt(3, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}))),
	},
	{
		name: "RECONCILE",
		json: `{"framework_id":{"value":"f"},"type":"RECONCILE","reconcile":{"tasks":[{"task_id":{"value":"t"}},{"task_id":{"value":"u"},"agent_id":{"value":"a"}}]}}`,
		pb:   msg(id(1, "f"), vint(2, callReconcile), sub(9, sub(1, id(1, "t")), sub(1, id(1, "u"), id(2, "a")))),
	},
	{
		name: "MESSAGE",
		json: `{"framework_id":{"value":"f"},"type":"MESSAGE","message":{"agent_id":{"value":"a"},"executor_id":{"value":"e"},"data":"aGk="}}`,
		pb:   msg(id(1, "f"), vint(2, callMessage), sub(10, id(1, "a"), id(2, "e"), byt(3, []byte("hi")))),
	},
	{
		name: "REQUEST",
		json: `{"framework_id":{"value":"f"},"type":"REQUEST","request":{"requests":[{"agent_id":{"value":"a"},"resources":[{"name":"mem","type":"SCALAR","scalar":{"value":64}}]}]}}`,
		pb:   msg(id(1, "f"), vint(2, callRequest), sub(11, sub(1, id(1, "a"), sub(2, str(1, "mem"), vint(2, valScalar), sub(3, dbl(1, 64)))))),
	},
	{
		name: "TEARDOWN",
		json: `{"framework_id":{"value":"f"},"type":"TEARDOWN"}`,
		pb:   msg(id(1, "f"), vint(2, callTeardown)),
	},
	{
		name: "UPDATE_FRAMEWORK",
		json: `{"framework_id":{"value":"f"},"type":"UPDATE_FRAMEWORK","update_framework":{"framework_info":{"user":"u","name":"n","id":{"value":"f"},"roles":["x"],"capabilities":[{"type":"MULTI_ROLE"}]},"suppressed_roles":["x"]}}`,
		pb: msg(id(1, "f"), vint(2, callUpdateFramework), sub(19,
			sub(1, str(1, "u"), str(2, "n"), id(3, "f"), str(12, "x"), sub(10, vint(1, 6))), str(2, "x"))),
	},
	{
		name: "UNKNOWN type, and a type newer than the tables",
		json: `{"type":"UNKNOWN","framework_id":{"value":"f"},"subscribe":{"framework_info":{"user":"u","name":"n","capabilities":[{"type":"42"}]}}}`,
		pb:   msg(vint(2, 0), id(1, "f"), sub(3, sub(1, str(1, "u"), str(2, "n"), sub(10, vint(1, 42))))),
	},
}

// TestCallGolden: the JSON and protobuf forms of the same call decode to
// the same Go value, and encoding that value gives it back.
func TestCallGolden(t *testing.T) {
	for _, tc := range callCases {
		t.Run(tc.name, func(t *testing.T) {
			var fromJSON, fromPB mesos.Call
			if err := json.Unmarshal([]byte(tc.json), &fromJSON); err != nil {
				t.Fatalf("JSON: %v", err)
			}
			if err := UnmarshalCall(tc.pb, &fromPB); err != nil {
				t.Fatalf("UnmarshalCall: %v", err)
			}
			if d := cmp.Diff(fromJSON, fromPB); d != "" {
				t.Fatalf("UnmarshalCall(pb) differs from the JSON form (-json +pb):\n%s", d)
			}
			b, err := MarshalCall(&fromPB)
			if err != nil {
				t.Fatalf("MarshalCall: %v", err)
			}
			var again mesos.Call
			if err := UnmarshalCall(b, &again); err != nil {
				t.Fatalf("UnmarshalCall(MarshalCall): %v", err)
			}
			if d := cmp.Diff(fromPB, again); d != "" {
				t.Errorf("round trip differs (-first +again):\n%s", d)
			}
		})
	}
}
