package services

import (
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"corral/frameworks/services/app"
	"corral/frameworks/services/plan"
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// decodeValid decodes, normalizes and validates an app.
func decodeValid(t *testing.T, body string) app.App {
	t.Helper()
	a, err := app.Decode([]byte(body))
	if err != nil {
		t.Fatalf("app.Decode(%s) = %v", body, err)
	}
	a.Normalize()
	if v := app.Validate(a); v != nil {
		t.Fatalf("app.Validate(%s) = %v", body, v)
	}
	return a
}

// TestTaskInfoDocker: a Docker app on the bridge asks the planner for a
// host port per mapping, and its task is a DOCKER container mapping the
// placement's host ports to the container ports, with the PORT
// variables naming host ports and the image in MARATHON_APP_DOCKER_IMAGE.
func TestTaskInfoDocker(t *testing.T) {
	a := decodeValid(t, `{"id":"/web","cmd":"nginx -g 'daemon off;'","networks":[{"mode":"container/bridge"}],
		"container":{"type":"DOCKER","docker":{"image":"nginx:1","privileged":false,"parameters":[{"key":"label","value":"team=web"}]},
		"portMappings":[{"containerPort":80,"hostPort":0,"name":"http"},{"containerPort":53,"hostPort":0,"protocol":"udp,tcp","name":"dns"},{"containerPort":0,"hostPort":31500}],
		"volumes":[{"containerPath":"/data","hostPath":"data","mode":"RW"}]}}`)
	s := specOf(a, false)
	if !slices.Equal(s.Ports, []uint64{0, 0, 31500}) || !s.RequirePorts {
		t.Errorf("spec ports %v require %v; want [0 0 31500] required", s.Ports, s.RequirePorts)
	}
	p := plan.Placement{AgentID: "a1", Resources: resource.Scalar(resource.CPUs, 1), Ports: []uint64{31001, 31002, 31500}}
	ti := taskInfo(a, app.NewTaskID(a.ID), "*", p)
	want := &mesos.ContainerInfo{Type: mesos.ContainerDocker, Docker: &mesos.DockerInfo{Image: "nginx:1", Network: mesos.NetworkBridge,
		PortMappings: []mesos.PortMapping{
			{HostPort: 31001, ContainerPort: 80, Protocol: "tcp"},
			{HostPort: 31002, ContainerPort: 53, Protocol: "udp"}, {HostPort: 31002, ContainerPort: 53, Protocol: "tcp"},
			{HostPort: 31500, ContainerPort: 31500, Protocol: "tcp"},
		},
		Parameters: []mesos.Parameter{{Key: "label", Value: "team=web"}}},
		Volumes: []mesos.Volume{{ContainerPath: "/data", HostPath: "data", Mode: "RW"}}}
	if d := cmp.Diff(want, ti.Container); d != "" {
		t.Errorf("taskInfo container (-want +got):\n%s", d)
	}
	if p := ti.Container.Problem(); p != "" {
		t.Errorf("the master would refuse the container: %s", p)
	}
	env := map[string]string{}
	for _, v := range ti.Command.Environment.Variables {
		env[v.Name] = v.Value
	}
	for k, v := range map[string]string{"PORT0": "31001", "PORT_HTTP": "31001", "PORT_DNS": "31002", "PORT2": "31500", "MARATHON_APP_DOCKER_IMAGE": "nginx:1"} {
		if env[k] != v {
			t.Errorf("env %s = %q; want %q", k, env[k], v)
		}
	}
	if !ti.Command.IsShell() || ti.Command.Value != "nginx -g 'daemon off;'" {
		t.Errorf("command = %+v; want the shell command", ti.Command)
	}

	// No cmd or args: the image's own; args: the container's command.
	own := taskInfo(decodeValid(t, `{"id":"/own","cmd":null,"container":{"type":"DOCKER","docker":{"image":"nginx:1"}}}`), "own.1", "*", p)
	if own.Command.IsShell() || own.Command.Value != "" || len(own.Command.Arguments) != 0 || own.Container.Docker.Network != mesos.NetworkHost {
		t.Errorf("command of an image's own = %+v on %s; want no shell, no value, host network", own.Command, own.Container.Docker.Network)
	}
	args := taskInfo(decodeValid(t, `{"id":"/args","cmd":null,"args":["-g","daemon off;"],"container":{"type":"DOCKER","docker":{"image":"nginx:1"}}}`), "args.1", "*", p)
	if args.Command.IsShell() || args.Command.Value != "" || !slices.Equal(args.Command.Arguments, []string{"-g", "daemon off;"}) {
		t.Errorf("command with args = %+v; want the args as the container's command", args.Command)
	}
}

// TestTaskInfoLimits: resourceLimits become the task's limits, unlimited
// as +Inf, and the master accepts them.
func TestTaskInfoLimits(t *testing.T) {
	a := decodeValid(t, `{"id":"/bursty","cmd":"./run","cpus":1,"mem":4096,"resourceLimits":{"cpus":"unlimited","mem":8192}}`)
	p := plan.Placement{AgentID: "a1", Resources: resource.Scalar(resource.CPUs, 1).Add(resource.Scalar(resource.Mem, 4096))}
	ti := taskInfo(a, app.NewTaskID(a.ID), "*", p)
	if !math.IsInf(float64(ti.Limits["cpus"].Value), 1) || ti.Limits["mem"].Value != 8192 || len(ti.Limits) != 2 {
		t.Errorf("limits = %+v; want cpus +Inf and mem 8192", ti.Limits)
	}
	if p := mesos.LimitsProblem(ti.Limits, 1, 4096); p != "" {
		t.Errorf("the master would refuse the limits: %s", p)
	}
}
