package mesos

import (
	"encoding/json"
	"math"
	"testing"
)

func TestRootOnHost(t *testing.T) {
	docker := func(d DockerInfo, vols ...Volume) *ContainerInfo {
		return &ContainerInfo{Type: ContainerDocker, Docker: &d, Volumes: vols}
	}
	for _, tc := range []struct {
		name string
		c    *ContainerInfo
		want bool
	}{
		{"none", nil, false},
		{"plain image", docker(DockerInfo{Image: "x"}), false},
		{"privileged", docker(DockerInfo{Image: "x", Privileged: true}), true},
		{"cap-add", docker(DockerInfo{Image: "x", Parameters: []Parameter{{Key: "cap-add", Value: "NET_ADMIN"}}}), true},
		{"cap-drop", docker(DockerInfo{Image: "x", Parameters: []Parameter{{Key: "cap-drop", Value: "ALL"}}}), false},
		{"absolute host path", docker(DockerInfo{Image: "x"}, Volume{ContainerPath: "/h", HostPath: "/var/run/docker.sock"}), true},
		{"sandbox path", docker(DockerInfo{Image: "x"}, Volume{ContainerPath: "/data", HostPath: "data"}), false},
		{"mesos container", &ContainerInfo{Type: ContainerMesos}, false},
	} {
		if got := tc.c.RootOnHost(); got != tc.want {
			t.Errorf("%s: RootOnHost() = %v; want %v", tc.name, got, tc.want)
		}
	}
}

func TestLimitJSON(t *testing.T) {
	var ti TaskInfo
	if err := json.Unmarshal([]byte(`{"limits":{"cpus":{"value":"Infinity"},"mem":{"value":512}}}`), &ti); err != nil {
		t.Fatal(err)
	}
	if !math.IsInf(float64(ti.Limits["cpus"].Value), 1) || ti.Limits["mem"].Value != 512 {
		t.Errorf("limits = %+v", ti.Limits)
	}
	b, _ := json.Marshal(ti.Limits)
	if string(b) != `{"cpus":{"value":"Infinity"},"mem":{"value":512}}` {
		t.Errorf("marshalled = %s", b)
	}
}
