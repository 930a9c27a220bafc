package services

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"corral/frameworks/services/app"
	"corral/frameworks/services/plan"
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// TestTaskDiscovery: tasks are named the Marathon way and carry their
// ports' names and protocols, which is what DNS names them by.
func TestTaskDiscovery(t *testing.T) {
	for id, want := range map[string]string{"/web": "web", "/group/web": "web.group", "/a/b/c": "c.b.a"} {
		if got := TaskName(id); got != want {
			t.Errorf("TaskName(%q) = %q; want %q", id, got, want)
		}
	}
	a, err := app.Decode([]byte(`{"id":"/group/web","cmd":"x","portDefinitions":[{"port":0,"name":"http"},{"port":0,"protocol":"udp,tcp","name":"dns"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	a.Normalize()
	p := plan.Placement{AgentID: "a1", Resources: resource.Scalar(resource.CPUs, 1), Ports: []uint64{31000, 31001}}
	ti := taskInfo(a, app.NewTaskID(a.ID), "*", p)
	if ti.Name != "web.group" {
		t.Errorf("task name = %q", ti.Name)
	}
	want := &mesos.DiscoveryInfo{Visibility: mesos.VisibilityFramework, Name: "web.group", Ports: &mesos.DiscoveryPorts{Ports: []mesos.DiscoveryPort{
		{Number: 31000, Name: "http", Protocol: "tcp"}, {Number: 31001, Name: "dns", Protocol: "udp"}, {Number: 31001, Name: "dns", Protocol: "tcp"}}}}
	if d := cmp.Diff(want, ti.Discovery); d != "" {
		t.Errorf("discovery (-want +got):\n%s", d)
	}
}
