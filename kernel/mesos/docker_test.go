package mesos

import "testing"

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
