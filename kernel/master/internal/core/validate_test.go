package core

import (
	"math"
	"strings"
	"testing"

	"corral/kernel/mesos"
	"corral/kernel/resource"
)

func TestCheckTask(t *testing.T) {
	offered, _ := resource.Parse("cpus:2;mem:1024;ports:[31000-31010]")
	base := func() mesos.TaskInfo {
		return mesos.TaskInfo{
			Name: "t", TaskID: mesos.ID{Value: "t1"}, AgentID: mesos.ID{Value: "a1"},
			Resources: resource.Scalar("cpus", 1).Add(resource.Scalar("mem", 128)).Wire(""),
			Command:   &mesos.CommandInfo{Value: "sleep 1"},
		}
	}
	none := func(string) bool { return false }
	for _, tc := range []struct {
		name   string
		mutate func(*mesos.TaskInfo)
		exists func(string) bool
		want   string
	}{
		{"valid", func(*mesos.TaskInfo) {}, none, ""},
		{"no id", func(ti *mesos.TaskInfo) { ti.TaskID.Value = "" }, none, "no 'task_id'"},
		{"slash id", func(ti *mesos.TaskInfo) { ti.TaskID.Value = "a/b" }, none, "must not contain"},
		{"duplicate", func(*mesos.TaskInfo) {}, func(string) bool { return true }, "already in use"},
		{"wrong agent", func(ti *mesos.TaskInfo) { ti.AgentID.Value = "a2" }, none, "offer is for agent"},
		{"executor", func(ti *mesos.TaskInfo) {
			ti.Command, ti.Executor = nil, &mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: "e"}, Command: &mesos.CommandInfo{Value: "./exec"}}
		}, none, ""},
		{"executor and command", func(ti *mesos.TaskInfo) {
			ti.Executor = &mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: "e"}, Command: &mesos.CommandInfo{Value: "./exec"}}
		}, none, "sets both 'command' and 'executor'"},
		{"executor without id", func(ti *mesos.TaskInfo) {
			ti.Command, ti.Executor = nil, &mesos.ExecutorInfo{Command: &mesos.CommandInfo{Value: "./exec"}}
		}, none, "'executor.executor_id' is required"},
		{"executor without command", func(ti *mesos.TaskInfo) {
			ti.Command, ti.Executor = nil, &mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: "e"}}
		}, none, "'executor.command' is required"},
		{"default executor", func(ti *mesos.TaskInfo) {
			ti.Command, ti.Executor = nil, &mesos.ExecutorInfo{Type: "DEFAULT", ExecutorID: mesos.ID{Value: "e"}, Command: &mesos.CommandInfo{Value: "./exec"}}
		}, none, "'executor.type' DEFAULT"},
		{"executor in a container", func(ti *mesos.TaskInfo) {
			ti.Command, ti.Executor = nil, &mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: "e"},
				Container: &mesos.ContainerInfo{Type: "DOCKER", Docker: &mesos.DockerInfo{Image: "x"}}}
		}, none, ""},
		{"executor in a MESOS container", func(ti *mesos.TaskInfo) {
			ti.Command, ti.Executor = nil, &mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: "e"}, Command: &mesos.CommandInfo{Value: "./exec"},
				Container: &mesos.ContainerInfo{Type: "MESOS"}}
		}, none, "only a DOCKER container may run an executor"},
		{"executor container without image", func(ti *mesos.TaskInfo) {
			ti.Command, ti.Executor = nil, &mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: "e"},
				Container: &mesos.ContainerInfo{Type: "DOCKER", Docker: &mesos.DockerInfo{}}}
		}, none, "'executor.container.docker.image' is required"},
		{"executor uri", func(ti *mesos.TaskInfo) {
			ti.Command, ti.Executor = nil, &mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: "e"}, Command: &mesos.CommandInfo{Value: "./exec",
				URIs: []mesos.CommandURI{{Value: "s3://b/exec"}}}}
		}, none, `'executor.command.uris': URI "s3://b/exec"`},
		{"executor secret reference", func(ti *mesos.TaskInfo) {
			ti.Command, ti.Executor = nil, &mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: "e"}, Command: &mesos.CommandInfo{Value: "./exec",
				Environment: &mesos.Environment{Variables: []mesos.Variable{secretVar("DB", "team/db")}}}}
		}, none, `"DB" references a stored secret; executors cannot have those`},
		{"no command", func(ti *mesos.TaskInfo) { ti.Command = nil }, none, "must set 'command' or 'executor'"},
		{"empty shell", func(ti *mesos.TaskInfo) { ti.Command.Value = "" }, none, "empty"},
		{"uris", func(ti *mesos.TaskInfo) {
			ti.Command.URIs = []mesos.CommandURI{{Value: "https://h/a.tgz"}, {Value: "file:///opt/a"}, {Value: "/opt/b", OutputFile: "d/b"}}
		}, none, ""},
		{"uri scheme", func(ti *mesos.TaskInfo) { ti.Command.URIs = []mesos.CommandURI{{Value: "s3://b/a"}} }, none,
			`'command.uris': URI "s3://b/a": scheme "s3" is not supported`},
		{"uri output_file", func(ti *mesos.TaskInfo) {
			ti.Command.URIs = []mesos.CommandURI{{Value: "http://h/a", OutputFile: "/etc/a"}}
		}, none,
			`output_file: path "/etc/a" is absolute`},
		{"too much cpu", func(ti *mesos.TaskInfo) { ti.Resources = resource.Scalar("cpus", 3).Wire("") }, none, "missing cpus:1"},
		{"port not offered", func(ti *mesos.TaskInfo) {
			ti.Resources = resource.Scalar("cpus", 1).Add(resource.RangesOf("ports", resource.Range{Begin: 80, End: 80})).Wire("")
		}, none, "missing ports:[80-80]"},
		{"no resources", func(ti *mesos.TaskInfo) { ti.Resources = nil }, none, "no cpus or mem"},
		{"reserved", func(ti *mesos.TaskInfo) { ti.Resources[0].Role = "eng" }, none, "reserved resources"},
		{"secret volume", func(ti *mesos.TaskInfo) { ti.Container = secretVolumes("conf/db") }, none, ""},
		{"docker", func(ti *mesos.TaskInfo) {
			ti.Container = &mesos.ContainerInfo{Type: "DOCKER", Docker: &mesos.DockerInfo{Image: "x"}}
		}, none, ""},
		{"docker without image", func(ti *mesos.TaskInfo) {
			ti.Container = &mesos.ContainerInfo{Type: "DOCKER", Docker: &mesos.DockerInfo{}}
		}, none, "'container.docker.image' is required"},
		{"docker image's own command", func(ti *mesos.TaskInfo) {
			no := false
			ti.Command = &mesos.CommandInfo{Shell: &no}
			ti.Container = &mesos.ContainerInfo{Type: "DOCKER", Docker: &mesos.DockerInfo{Image: "x"}}
		}, none, ""},
		{"docker without command", func(ti *mesos.TaskInfo) {
			ti.Command = nil
			ti.Container = &mesos.ContainerInfo{Type: "DOCKER", Docker: &mesos.DockerInfo{Image: "x"}}
		}, none, ""},
		{"docker port not the task's", func(ti *mesos.TaskInfo) {
			ti.Resources = resource.Scalar("cpus", 1).Add(resource.RangesOf("ports", resource.Range{Begin: 31000, End: 31000})).Wire("")
			ti.Container = &mesos.ContainerInfo{Type: "DOCKER", Docker: &mesos.DockerInfo{Image: "x", Network: "BRIDGE",
				PortMappings: []mesos.PortMapping{{HostPort: 31001, ContainerPort: 80}}}}
		}, none, "host_port 31001 is not one of the task's ports"},
		{"docker port mapping on host network", func(ti *mesos.TaskInfo) {
			ti.Container = &mesos.ContainerInfo{Type: "DOCKER", Docker: &mesos.DockerInfo{Image: "x", PortMappings: []mesos.PortMapping{{HostPort: 31000, ContainerPort: 80}}}}
		}, none, "need a BRIDGE or USER network"},
		{"limits above requests", func(ti *mesos.TaskInfo) {
			ti.Limits = map[string]mesos.Limit{"cpus": {Value: mesos.LimitValue(math.Inf(1))}, "mem": {Value: 256}}
		}, none, ""},
		{"limit below request", func(ti *mesos.TaskInfo) { ti.Limits = map[string]mesos.Limit{"mem": {Value: 64}} }, none, "'limits.mem' 64 is below the task's mem request 128"},
		{"limit of disk", func(ti *mesos.TaskInfo) { ti.Limits = map[string]mesos.Limit{"disk": {Value: 64}} }, none, "only cpus and mem may have limits"},
		{"docker unknown parameter", func(ti *mesos.TaskInfo) {
			ti.Container = &mesos.ContainerInfo{Type: "DOCKER", Docker: &mesos.DockerInfo{Image: "x", Parameters: []mesos.Parameter{{Key: "pid", Value: "host"}}}}
		}, none, `docker option "pid" is not supported`},
		{"mesos image", func(ti *mesos.TaskInfo) {
			ti.Container = &mesos.ContainerInfo{Type: "MESOS", Mesos: []byte(`{"image":{}}`)}
		}, none, "'container.mesos' (an image for the MESOS containerizer) is not supported"},
		{"empty mesos", func(ti *mesos.TaskInfo) { ti.Container = &mesos.ContainerInfo{Type: "MESOS", Mesos: []byte(`{}`)} }, none, ""},
		{"host path volume", func(ti *mesos.TaskInfo) {
			ti.Container = &mesos.ContainerInfo{Volumes: []mesos.Volume{{ContainerPath: "data", HostPath: "/etc", Mode: "RO"}}}
		}, none, "'container.volumes[0]': only volumes whose source is a SECRET"},
		{"absolute secret path", func(ti *mesos.TaskInfo) { ti.Container = secretVolumes("/etc/db") }, none, `'container.volumes[0].container_path' "/etc/db" is absolute`},
		{"escaping secret path", func(ti *mesos.TaskInfo) { ti.Container = secretVolumes("a/../../db") }, none, "clean path inside the sandbox"},
		{"secret over stdout", func(ti *mesos.TaskInfo) { ti.Container = secretVolumes("stdout") }, none, "writes the task's output"},
		{"same path twice", func(ti *mesos.TaskInfo) { ti.Container = secretVolumes("a", "b", "a") }, none, `'container.volumes[2].container_path' "a" is used by an earlier volume`},
		{"secret key", func(ti *mesos.TaskInfo) {
			ti.Container = secretVolumes("a")
			ti.Container.Volumes[0].Source.Secret.Reference.Key = "k"
		}, none, "'container.volumes[0].source.secret': secret keys are not supported"},
		{"bad mode", func(ti *mesos.TaskInfo) {
			ti.Container = secretVolumes("a")
			ti.Container.Volumes[0].Mode = "RX"
		}, none, `unknown mode "RX"`},
		{"check secret without name", func(ti *mesos.TaskInfo) {
			ti.HealthCheck = &mesos.HealthCheck{Type: "COMMAND", Command: &mesos.CommandInfo{Value: "true", Environment: &mesos.Environment{Variables: []mesos.Variable{
				{Name: "X", Type: mesos.VariableSecret, Secret: &mesos.Secret{Type: mesos.SecretReferenceType}}}}}}
		}, none, "health_check.command: environment variable \"X\": a secret of type REFERENCE must set 'reference.name'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ti := base()
			tc.mutate(&ti)
			got := checkTask(&ti, "a1", "web", mesos.ResourceFormat{}, offered, tc.exists, resource.Resources{})
			if tc.want == "" && got.reason != "" || tc.want != "" && !strings.Contains(got.reason, tc.want) {
				t.Errorf("checkTask(%s) reason = %q; want %q", tc.name, got.reason, tc.want)
			}
		})
	}
}

// TestCheckTaskAllocation: a task's resources may leave out
// allocation_info, whatever the framework's capabilities, but may not name
// a role other than the offer's.
func TestCheckTaskAllocation(t *testing.T) {
	offered, _ := resource.Parse("cpus:2;mem:1024")
	multiRole := mesos.ResourceFormat{MultiRole: true, ReservationRefinement: true}
	for _, tc := range []struct {
		name      string
		format    mesos.ResourceFormat
		resources []mesos.Resource
		want      string
	}{
		{"legacy without allocation_info", mesos.ResourceFormat{}, resource.Scalar("cpus", 1).Wire(""), ""},
		{"multi-role without allocation_info", multiRole, resource.Scalar("cpus", 1).Wire(""), ""},
		{"multi-role with the offer's role", multiRole, resource.Scalar("cpus", 1).Wire("web"), ""},
		{"multi-role with another role", multiRole, resource.Scalar("cpus", 1).Wire("batch"), `allocated to role "batch", but the offer is allocated to role "web"`},
		{"legacy with another role", mesos.ResourceFormat{}, resource.Scalar("cpus", 1).Wire("batch"), `allocated to role "batch"`},
		{"reserved post-refinement", multiRole, []mesos.Resource{{Name: "cpus", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 1},
			Reservations: []mesos.ReservationInfo{{Type: mesos.ReservationStatic, Role: "web"}}}}, "reserved resources are not supported"},
		{"star dynamically reserved", multiRole, []mesos.Resource{{Name: "cpus", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 1},
			Role: "*", Reservation: &mesos.ReservationInfo{Principal: "p"}}}, "cannot be dynamically reserved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ti := mesos.TaskInfo{Name: "t", TaskID: mesos.ID{Value: "t1"}, AgentID: mesos.ID{Value: "a1"}, Resources: tc.resources, Command: &mesos.CommandInfo{Value: "sleep 1"}}
			got := checkTask(&ti, "a1", "web", tc.format, offered, func(string) bool { return false }, resource.Resources{})
			if tc.want == "" && got.reason != "" || tc.want != "" && !strings.Contains(got.reason, tc.want) {
				t.Errorf("checkTask(%s) reason = %q; want %q", tc.name, got.reason, tc.want)
			}
			if tc.want == "" && got.resources.Scalar("cpus") != 1 {
				t.Errorf("checkTask(%s) resources = %s; want cpus:1", tc.name, got.resources)
			}
		})
	}
}

func TestReconcileUnknown(t *testing.T) {
	for _, tc := range []struct {
		agent     agentStatus
		pa        bool
		want      mesos.TaskState
		wantReply bool
	}{
		{agentRecovered, true, "", false},
		{agentRegistered, true, mesos.TaskGone, true},
		{agentUnreachable, true, mesos.TaskUnreachable, true},
		{agentGone, true, mesos.TaskGoneByOperator, true},
		{agentUnknown, true, mesos.TaskUnknown, true},
		{agentRegistered, false, mesos.TaskLost, true},
		{agentUnreachable, false, mesos.TaskLost, true},
		{agentUnknown, false, mesos.TaskLost, true},
	} {
		got, reply := reconcileUnknown(tc.agent, tc.pa)
		if got != tc.want || reply != tc.wantReply {
			t.Errorf("reconcileUnknown(%d, pa=%v) = %s, %v; want %s, %v", tc.agent, tc.pa, got, reply, tc.want, tc.wantReply)
		}
	}
}

func TestRefuseSeconds(t *testing.T) {
	f := func(v float64) *mesos.Filters { x := mesos.Float(v); return &mesos.Filters{RefuseSeconds: &x} }
	for _, tc := range []struct {
		in   *mesos.Filters
		want float64
	}{{nil, 5}, {&mesos.Filters{}, 5}, {f(0), 0}, {f(-3), 0}, {f(60), 60}, {f(1e12), maxRefuseSeconds}} {
		if got := refuseSeconds(tc.in, 5); got != tc.want {
			t.Errorf("refuseSeconds(%v) = %v; want %v", tc.in, got, tc.want)
		}
	}
}

func TestCheckEnvironment(t *testing.T) {
	ref := func(name, key string) mesos.Variable {
		return mesos.Variable{Name: "PW", Type: mesos.VariableSecret, Secret: &mesos.Secret{Type: mesos.SecretReferenceType, Reference: &mesos.SecretReference{Name: name, Key: key}}}
	}
	for _, c := range []struct {
		name string
		v    mesos.Variable
		want string
	}{
		{"plain", mesos.Variable{Name: "A", Value: "1"}, ""},
		{"reference", ref("team/db", ""), ""},
		{"value", mesos.Variable{Name: "PW", Type: mesos.VariableSecret, Secret: &mesos.Secret{Type: mesos.SecretValueType, Value: &mesos.SecretValue{Data: []byte("x")}}}, ""},
		{"no secret", mesos.Variable{Name: "PW", Type: mesos.VariableSecret}, "must set 'secret'"},
		{"no name", ref("", ""), "reference.name"},
		{"key", ref("a", "k"), "keys are not supported"},
		{"nul", mesos.Variable{Name: "PW", Type: mesos.VariableSecret, Secret: &mesos.Secret{Type: mesos.SecretValueType, Value: &mesos.SecretValue{Data: []byte("a\x00b")}}}, "NUL"},
		{"unknown type", mesos.Variable{Name: "A", Type: "FILE"}, "unknown type"},
		{"secret on a value", mesos.Variable{Name: "A", Secret: &mesos.Secret{}}, "not SECRET"},
	} {
		got := checkEnvironment(&mesos.Environment{Variables: []mesos.Variable{c.v}})
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: checkEnvironment = %q; want %q", c.name, got, c.want)
		}
	}
}

// secretVolumes is a container of secret volumes at paths, each a
// reference to the stored secret "team/db".
func secretVolumes(paths ...string) *mesos.ContainerInfo {
	c := &mesos.ContainerInfo{Type: mesos.ContainerMesos}
	for _, p := range paths {
		c.Volumes = append(c.Volumes, mesos.Volume{ContainerPath: p, Mode: mesos.VolumeRO, Source: &mesos.VolumeSource{Type: mesos.VolumeSourceSecret,
			Secret: &mesos.Secret{Type: mesos.SecretReferenceType, Reference: &mesos.SecretReference{Name: "team/db"}}}})
	}
	return c
}
