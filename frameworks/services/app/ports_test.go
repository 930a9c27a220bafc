package app

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestServicePorts(t *testing.T) {
	for _, c := range []struct {
		name, body string
		ports      []int
		path       string
	}{
		{"default port", `{"instances":1}`, []int{0}, "/portDefinitions(1)/port"},
		{"definitions", `{"portDefinitions":[{"port":80},{"port":0}]}`, []int{80, 0}, "/portDefinitions(1)/port"},
		{"legacy ports", `{"ports":[0,81]}`, []int{0, 81}, "/portDefinitions(1)/port"},
		{"mappings", `{"networks":[{"mode":"container/bridge"}],"container":{"type":"DOCKER","docker":{"image":"i"},
			"portMappings":[{"containerPort":80,"servicePort":9000},{"containerPort":81}]}}`, []int{9000, 0}, "/container/portMappings(1)/servicePort"},
		{"legacy mappings", `{"container":{"type":"DOCKER","docker":{"image":"i","network":"BRIDGE",
			"portMappings":[{"containerPort":80},{"containerPort":81,"servicePort":9001}]}}}`, []int{0, 9001}, "/container/docker/portMappings(1)/servicePort"},
		{"legacy ports fill mappings", `{"ports":[9002,9003],"container":{"type":"DOCKER","docker":{"image":"i","network":"BRIDGE",
			"portMappings":[{"containerPort":80},{"containerPort":81,"servicePort":9001}]}}}`, []int{9002, 9001}, "/container/docker/portMappings(1)/servicePort"},
		{"bridge default", `{"container":{"type":"DOCKER","docker":{"image":"i","network":"BRIDGE"}}}`, []int{0}, "/container/portMappings(1)/servicePort"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := mustDecode(t, `{"id":"/a","cmd":"x",`+c.body[1:])
			if ve := Validate(a); ve != nil {
				t.Fatalf("Validate = %v", ve)
			}
			if got := a.ServicePorts(); !cmp.Equal(got, c.ports) {
				t.Fatalf("ServicePorts() = %v; want %v", got, c.ports)
			}
			if got := a.ServicePortPath(1); got != c.path {
				t.Errorf("ServicePortPath(1) = %q; want %q", got, c.path)
			}
			if b := a.WithServicePorts(c.ports); string(b.Container) != string(a.Container) {
				t.Errorf("WithServicePorts(the same ports) rewrote the container: %s", b.Container)
			}
			want := make([]int, len(c.ports))
			for i := range want {
				want[i] = 12000 + i
			}
			b := a.WithServicePorts(want)
			if got := b.ServicePorts(); !cmp.Equal(got, want) {
				t.Errorf("WithServicePorts(%v).ServicePorts() = %v", want, got)
			}
			if got := a.ServicePorts(); !cmp.Equal(got, c.ports) {
				t.Errorf("WithServicePorts changed its receiver: %v", got)
			}
			// The rewritten app is still valid and reads back the same.
			raw, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			back := mustDecode(t, string(raw))
			if ve := Validate(back); ve != nil {
				t.Errorf("Validate(rewritten) = %v", ve)
			}
			if got := back.ServicePorts(); !cmp.Equal(got, want) {
				t.Errorf("rewritten app read back has service ports %v; want %v", got, want)
			}
		})
	}
}

func TestLegacyPortsForMappings(t *testing.T) {
	a, err := Decode([]byte(`{"id":"/a","cmd":"x","ports":[1,2,3],"container":{"type":"DOCKER","docker":{"image":"i","network":"BRIDGE",
		"portMappings":[{"containerPort":80}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	a.Normalize()
	ve := Validate(a)
	if ve == nil || len(ve.Details) != 1 || ve.Details[0].Path != "/ports" {
		t.Errorf("Validate(3 ports for 1 mapping) = %v; want a /ports error", ve)
	}
}
