package job

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// chronosDocker is a Chronos job with a container using every field
// corral runs.
const chronosDocker = `{"name":"d","command":"echo hi > $MESOS_SANDBOX/out","schedule":"R/2030-01-01T00:00:00Z/PT1H",
	"container":{"type":"DOCKER","image":"busybox:1","network":"USER","networkName":"backend",
		"volumes":[{"containerPath":"/data","hostPath":"/srv/data","mode":"RO"},{"containerPath":"cache","hostPath":"cache"}],
		"forcePullImage":true,"parameters":[{"key":"label","value":"team=data"},{"key":"env","value":"A=1"}]},
	"fetch":[{"uri":"https://example.com/tool","executable":true},{"uri":"https://example.com/data.tgz","cache":true,"output_file":"in/data.tgz"}]}`

// wantDocker is the container of chronosDocker.
var wantDocker = &Container{Image: "busybox:1", Network: NetworkUser, NetworkName: "backend",
	Volumes:        []Volume{{ContainerPath: "/data", HostPath: "/srv/data", Mode: "RO"}, {ContainerPath: "cache", HostPath: "cache", Mode: "RW"}},
	ForcePullImage: true, Parameters: []Parameter{{"label", "team=data"}, {"env", "A=1"}}}

// wantFetch is the fetch of chronosDocker.
var wantFetch = []Fetch{{URI: "https://example.com/tool", Executable: true, Extract: true},
	{URI: "https://example.com/data.tgz", Extract: true, Cache: true, OutputFile: "in/data.tgz"}}

// TestDecodeContainer: a Chronos container with an image and fetch
// entries decode to the Job's Container and Fetch, with the defaults
// (mode RW, extract true), in both formats; a container without an image
// is ignored, as Chronos ignores it.
func TestDecodeContainer(t *testing.T) {
	for _, dec := range decoders {
		t.Run(dec.format, func(t *testing.T) {
			j, ws, err := dec.decode([]byte(chronosDocker), fw)
			if err != nil || len(ws) != 0 {
				t.Fatalf("Decode%s(docker job) = %v, %v; want no error and no warnings", dec.format, ws, err)
			}
			if d := cmp.Diff(wantDocker, j.Container); d != "" {
				t.Errorf("Decode%s(docker job).Container (-want +got):\n%s", dec.format, d)
			}
			if d := cmp.Diff(wantFetch, j.Fetch); d != "" {
				t.Errorf("Decode%s(docker job).Fetch (-want +got):\n%s", dec.format, d)
			}
			j.Normalize()
			if ve := Validate(j, nil); ve != nil {
				t.Errorf("Validate(docker job) = %v; want nil", ve)
			}
		})
	}
	tests := []struct {
		name string
		body string
		want *Container
		uris []string
	}{
		{"no image", `{"name":"a","command":"true","container":{"type":"DOCKER","forcePullImage":true}}`, nil, nil},
		{"defaults", `{"name":"a","command":"true","container":{"image":"busybox"}}`, &Container{Image: "busybox"}, nil},
		{"lower-case network, name from networkInfos", `{"name":"a","command":"true","container":{"image":"i","network":"user","networkInfos":[{"name":"n"}]}}`,
			&Container{Image: "i", Network: NetworkUser, NetworkName: "n"}, nil},
		{"networkName and networkInfos agree", `{"name":"a","command":"true","container":{"image":"i","network":"USER","networkName":"n","networkInfos":[{"name":"n"}]}}`,
			&Container{Image: "i", Network: NetworkUser, NetworkName: "n"}, nil},
		{"uris", `{"name":"a","command":"true","uris":["https://example.com/a.tgz","/opt/x"]}`, nil, []string{"https://example.com/a.tgz", "/opt/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, _, err := DecodeChronos([]byte(tt.body), fw)
			if err != nil {
				t.Fatalf("DecodeChronos(%s) = %v; want no error", tt.body, err)
			}
			if d := cmp.Diff(tt.want, j.Container); d != "" {
				t.Errorf("DecodeChronos(%s).Container (-want +got):\n%s", tt.body, d)
			}
			if d := cmp.Diff(tt.uris, j.URIs); d != "" {
				t.Errorf("DecodeChronos(%s).URIs (-want +got):\n%s", tt.body, d)
			}
		})
	}
}

// TestContainerRoundTrip: the container, uris and fetch survive the
// native JSON (storage and native answers) and the Chronos view
// (Chronos answers), each read back by its decoder without a warning.
func TestContainerRoundTrip(t *testing.T) {
	j, _, err := DecodeChronos([]byte(chronosDocker), fw)
	if err != nil {
		t.Fatal(err)
	}
	j.Normalize()
	withURIs := j.Clone()
	withURIs.Fetch, withURIs.URIs = nil, []string{"https://example.com/a.tgz"}
	for _, in := range []Job{j, withURIs} {
		native, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var stored Job
		if err := json.Unmarshal(native, &stored); err != nil {
			t.Fatalf("Unmarshal(%s) = %v", native, err)
		}
		if d := cmp.Diff(in, stored); d != "" {
			t.Errorf("stored JSON round trip (-want +got):\n%s\n%s", d, native)
		}
		back, ws, err := DecodeNative(native, fw)
		if err != nil || len(ws) != 0 {
			t.Fatalf("DecodeNative(%s) = %v, %v", native, ws, err)
		}
		back.Normalize()
		if d := cmp.Diff(in, back); d != "" {
			t.Errorf("native round trip (-want +got):\n%s\n%s", d, native)
		}

		view, err := json.Marshal(ChronosView(in, Stats{}))
		if err != nil {
			t.Fatal(err)
		}
		back, ws, err = DecodeChronos(view, fw)
		if err != nil || len(ws) != 0 {
			t.Fatalf("DecodeChronos(%s) = %v, %v", view, ws, err)
		}
		back.Normalize()
		back.ConcurrencyPolicy = in.ConcurrencyPolicy
		if d := cmp.Diff(in, back); d != "" {
			t.Errorf("Chronos round trip (-want +got):\n%s\n%s", d, view)
		}
	}
	// Clone shares nothing.
	c := j.Clone()
	c.Container.Volumes[0].Mode = "RW"
	c.Container.Parameters[0].Value = "x"
	c.Fetch[0].URI = "x"
	if d := cmp.Diff(wantDocker, j.Container); d != "" {
		t.Errorf("changing a clone's container changed the job (-want +got):\n%s", d)
	}
	if j.Fetch[0].URI == "x" {
		t.Errorf("changing a clone's fetch changed the job")
	}
}

// TestChronosViewContainer: the Chronos view carries the container in
// Chronos' shape, and a job without one has none.
func TestChronosViewContainer(t *testing.T) {
	j, _, err := DecodeChronos([]byte(chronosDocker), fw)
	if err != nil {
		t.Fatal(err)
	}
	j.Normalize()
	raw, _ := json.Marshal(ChronosView(j, Stats{}))
	var v map[string]any
	_ = json.Unmarshal(raw, &v)
	want := map[string]any{"type": "DOCKER", "image": "busybox:1", "network": "USER", "networkInfos": []any{map[string]any{"name": "backend"}},
		"volumes": []any{map[string]any{"containerPath": "/data", "hostPath": "/srv/data", "mode": "RO"},
			map[string]any{"containerPath": "cache", "hostPath": "cache", "mode": "RW"}},
		"forcePullImage": true, "parameters": []any{map[string]any{"key": "label", "value": "team=data"}, map[string]any{"key": "env", "value": "A=1"}}}
	if d := cmp.Diff(want, v["container"]); d != "" {
		t.Errorf("ChronosView(docker job) container (-want +got):\n%s", d)
	}
	if got := v["fetch"].([]any)[1].(map[string]any)["output_file"]; got != "in/data.tgz" {
		t.Errorf("ChronosView(docker job) fetch(1)/output_file = %v; want in/data.tgz", got)
	}
	if _, ok := ChronosView(New("plain"), Stats{})["container"]; ok {
		t.Errorf("ChronosView(job without container) has a container")
	}
}

// TestContainerRefusals: what corral cannot run as asked is refused with
// a *ValidationError naming the path, by the decoders (shapes of the
// Chronos JSON) or by Validate (the job's meaning), in both formats.
func TestContainerRefusals(t *testing.T) {
	const job = `"name":"a","command":"true","schedule":"R/2030-01-01T00:00:00Z/PT1H",`
	tests := []struct {
		name  string
		body  string
		paths []string
	}{
		{"MESOS with an image", `{` + job + `"container":{"type":"MESOS","image":"busybox"}}`, []string{"/container/type"}},
		{"unknown type", `{` + job + `"container":{"type":"RKT","image":"busybox"}}`, []string{"/container/type"}},
		{"empty image with volumes", `{` + job + `"container":{"image":"","volumes":[{"containerPath":"/d","hostPath":"/d"}]}}`, []string{"/container/image"}},
		{"network without image", `{` + job + `"container":{"network":"BRIDGE"}}`, []string{"/container/image"}},
		{"blank image", `{` + job + `"container":{"image":"  "}}`, []string{"/container/image"}},
		{"unknown network", `{` + job + `"container":{"image":"i","network":"NONE"}}`, []string{"/container/network"}},
		{"USER without a name", `{` + job + `"container":{"image":"i","network":"USER"}}`, []string{"/container/network"}},
		{"name without USER", `{` + job + `"container":{"image":"i","network":"BRIDGE","networkName":"n"}}`, []string{"/container/networkName"}},
		{"networkInfos without USER", `{` + job + `"container":{"image":"i","networkInfos":[{"name":"n"}]}}`, []string{"/container/networkInfos"}},
		{"two networks", `{` + job + `"container":{"image":"i","network":"USER","networkInfos":[{"name":"n"},{"name":"m"}]}}`, []string{"/container/networkInfos"}},
		{"names contradict", `{` + job + `"container":{"image":"i","network":"USER","networkName":"m","networkInfos":[{"name":"n"}]}}`, []string{"/container/networkName"}},
		{"network labels", `{` + job + `"container":{"image":"i","network":"USER","networkInfos":[{"name":"n","labels":[{"key":"k","value":"v"}]}]}}`,
			[]string{"/container/networkInfos(0)/labels"}},
		{"external volume", `{` + job + `"container":{"image":"i","volumes":[{"containerPath":"/d","external":{"name":"v","provider":"dvdi"}}]}}`,
			[]string{"/container/volumes(0)/external"}},
		{"volume without paths", `{` + job + `"container":{"image":"i","volumes":[{"mode":"RW"}]}}`,
			[]string{"/container/volumes(0)/containerPath", "/container/volumes(0)/hostPath"}},
		{"volume mode", `{` + job + `"container":{"image":"i","volumes":[{"containerPath":"/d","hostPath":"/d","mode":"RX"}]}}`,
			[]string{"/container/volumes(0)/mode"}},
		{"relative host path leaving the sandbox", `{` + job + `"container":{"image":"i","volumes":[{"containerPath":"/d","hostPath":"../d"}]}}`,
			[]string{"/container/volumes(0)/hostPath"}},
		{"unknown docker option", `{` + job + `"container":{"image":"i","parameters":[{"key":"label","value":"x"},{"key":"pid","value":"host"}]}}`,
			[]string{"/container/parameters(1)/key"}},
		{"refused docker option", `{` + job + `"container":{"image":"i","parameters":[{"key":"privileged","value":"true"}]}}`,
			[]string{"/container/parameters(0)/key"}},
		{"bad uri", `{` + job + `"uris":["https://example.com/ok.tgz","ftp://example.com/x"]}`, []string{"/uris(1)"}},
		{"relative uri", `{` + job + `"uris":["tool"]}`, []string{"/uris(0)"}},
		{"bad fetch uri", `{` + job + `"fetch":[{"uri":"s3://bucket/x"}]}`, []string{"/fetch(0)/uri"}},
		{"fetch output leaving the sandbox", `{` + job + `"fetch":[{"uri":"https://example.com/x","output_file":"../x"}]}`, []string{"/fetch(0)/outputFile"}},
		{"uris and fetch", `{` + job + `"uris":["https://example.com/a"],"fetch":[{"uri":"https://example.com/b"}]}`, []string{"/uris"}},
		{"output names contradict", `{` + job + `"fetch":[{"uri":"https://example.com/x","output_file":"a","outputFile":"b"}]}`, []string{"/fetch(0)/output_file"}},
	}
	for _, dec := range decoders {
		for _, tt := range tests {
			t.Run(dec.format+"/"+tt.name, func(t *testing.T) {
				j, _, err := dec.decode([]byte(tt.body), fw)
				if err == nil {
					j.Normalize()
					if ve := Validate(j, nil); ve != nil {
						err = ve
					}
				}
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("Decode%s+Validate(%s) = %v; want *ValidationError at %v", dec.format, tt.body, err, tt.paths)
				}
				if d := cmp.Diff(tt.paths, pathsOf(err)); d != "" {
					t.Errorf("Decode%s+Validate(%s) paths (-want +got):\n%s\n%v", dec.format, tt.body, d, err)
				}
			})
		}
	}
}

// TestContainerTypeErrors: a container field of the wrong JSON type is
// invalid JSON naming it.
func TestContainerTypeErrors(t *testing.T) {
	body := `{"name":"a","container":{"image":1,"volumes":[{"containerPath":2}],"parameters":"x","forcePullImage":"yes"},"fetch":[{"uri":"u","extract":"no"}],"uris":"x"}`
	_, _, err := DecodeChronos([]byte(body), fw)
	var ij *InvalidJSON
	if !errors.As(err, &ij) {
		t.Fatalf("DecodeChronos(%s) = %v; want *InvalidJSON", body, err)
	}
	want := []string{"/container/image", "/container/volumes(0)/containerPath", "/container/forcePullImage", "/container/parameters", "/uris", "/fetch(0)/extract"}
	if d := cmp.Diff(want, pathsOf(err)); d != "" {
		t.Errorf("DecodeChronos(%s) paths (-want +got):\n%s", body, d)
	}
}

// TestValidateContainerWithoutCommand: with a container a job may give
// no command (its runs run the image's own); without one it may not.
func TestValidateContainerWithoutCommand(t *testing.T) {
	j := valid()
	j.Command = ""
	if Validate(j, nil) == nil {
		t.Errorf("Validate(no command, no container) = nil; want an error")
	}
	j.Container = &Container{Image: "busybox"}
	if ve := Validate(j, nil); ve != nil {
		t.Errorf("Validate(no command, container) = %v; want nil", ve)
	}
}

// TestContainerUnknownFieldsWarn: unknown fields inside the container
// and fetch entries are warnings with their paths.
func TestContainerUnknownFieldsWarn(t *testing.T) {
	body := `{"name":"a","container":{"image":"i","imgae":"x","volumes":[{"containerPath":"/d","hostPath":"/d","mdoe":"RO"}]},"fetch":[{"uri":"https://example.com/x","destPath":"y"}]}`
	_, ws, err := DecodeChronos([]byte(body), fw)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range ws {
		got = append(got, w.Path)
	}
	want := []string{"/container/imgae", "/container/volumes(0)/mdoe", "/fetch(0)/destPath"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("DecodeChronos(%s) warnings (-want +got):\n%s", body, d)
	}
}
