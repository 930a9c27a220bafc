package jobs

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"corral/frameworks/internal/place"
	"corral/frameworks/jobs/job"
	"corral/frameworks/jobs/store"
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// TestTaskInfoContainer: a job with a container runs as a DOCKER
// container of its image, with its network, volumes and parameters, and
// its command as Mesos runs one in an image; a job without one has no
// container. Every container built passes the kernel's validation.
func TestTaskInfoContainer(t *testing.T) {
	c := &core{s: &Service{cfg: DefaultConfig()}}
	p := place.Placement{OfferID: "o1", AgentID: "a1", Hostname: "h1", Resources: resource.Scalar(resource.CPUs, 1)}
	no := false
	docker := &job.Container{Image: "busybox"}
	tests := []struct {
		name      string
		change    func(*job.Job)
		args      []string // the run's arguments
		wantCmd   mesos.CommandInfo
		container *mesos.ContainerInfo
	}{
		{"no container", func(j *job.Job) { j.Command = "echo hi" }, nil,
			mesos.CommandInfo{Value: "echo hi"}, nil},
		{"shell command", func(j *job.Job) { j.Command, j.Container = "echo hi", docker }, nil,
			mesos.CommandInfo{Value: "echo hi"},
			&mesos.ContainerInfo{Type: "DOCKER", Docker: &mesos.DockerInfo{Image: "busybox", Network: "HOST"}}},
		{"shell command with run arguments", func(j *job.Job) { j.Command, j.Container = "echo", docker }, []string{"a b"},
			mesos.CommandInfo{Value: "echo 'a b'"},
			&mesos.ContainerInfo{Type: "DOCKER", Docker: &mesos.DockerInfo{Image: "busybox", Network: "HOST"}}},
		{"argument vector", func(j *job.Job) { j.Args, j.Container = []string{"/bin/echo", "-n", "hi"}, docker }, []string{"x"},
			mesos.CommandInfo{Shell: &no, Arguments: []string{"/bin/echo", "-n", "hi", "x"}},
			&mesos.ContainerInfo{Type: "DOCKER", Docker: &mesos.DockerInfo{Image: "busybox", Network: "HOST"}}},
		{"native command without shell", func(j *job.Job) { j.Command, j.Shell, j.Container = "/bin/echo hi", false, docker }, nil,
			mesos.CommandInfo{Shell: &no, Arguments: []string{"/bin/echo", "hi"}},
			&mesos.ContainerInfo{Type: "DOCKER", Docker: &mesos.DockerInfo{Image: "busybox", Network: "HOST"}}},
		{"the image's own command", func(j *job.Job) { j.Container = docker }, nil,
			mesos.CommandInfo{Shell: &no},
			&mesos.ContainerInfo{Type: "DOCKER", Docker: &mesos.DockerInfo{Image: "busybox", Network: "HOST"}}},
		{"the image's own entrypoint with run arguments", func(j *job.Job) { j.Container = docker }, []string{"-v"},
			mesos.CommandInfo{Shell: &no, Arguments: []string{"-v"}},
			&mesos.ContainerInfo{Type: "DOCKER", Docker: &mesos.DockerInfo{Image: "busybox", Network: "HOST"}}},
		{"every field", func(j *job.Job) {
			j.Command = "true"
			j.Container = &job.Container{Image: "busybox:1", Network: job.NetworkUser, NetworkName: "backend", ForcePullImage: true,
				Volumes:    []job.Volume{{ContainerPath: "/data", HostPath: "/srv", Mode: "RO"}, {ContainerPath: "c", HostPath: "c", Mode: "RW"}},
				Parameters: []job.Parameter{{Key: "label", Value: "a=b"}}}
		}, nil,
			mesos.CommandInfo{Value: "true"},
			&mesos.ContainerInfo{Type: "DOCKER",
				Docker: &mesos.DockerInfo{Image: "busybox:1", Network: "USER", ForcePullImage: true,
					Parameters: []mesos.Parameter{{Key: "label", Value: "a=b"}}},
				NetworkInfos: []mesos.NetworkInfo{{Name: "backend"}},
				Volumes:      []mesos.Volume{{ContainerPath: "/data", HostPath: "/srv", Mode: "RO"}, {ContainerPath: "c", HostPath: "c", Mode: "RW"}}}},
		{"bridge", func(j *job.Job) {
			j.Command, j.Container = "true", &job.Container{Image: "i", Network: job.NetworkBridge}
		}, nil,
			mesos.CommandInfo{Value: "true"},
			&mesos.ContainerInfo{Type: "DOCKER", Docker: &mesos.DockerInfo{Image: "i", Network: "BRIDGE"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := job.New("d")
			j.Schedule = "@daily"
			tc.change(&j)
			if ve := job.Validate(j, nil); ve != nil {
				t.Fatalf("Validate = %v", ve)
			}
			r := store.Run{ID: 1, Job: "d", TaskID: job.TaskID(0, 0, "d", 1), Arguments: tc.args}
			ti := c.taskInfo(j, r, p)
			got := *ti.Command
			got.Environment = nil
			if d := cmp.Diff(tc.wantCmd, got); d != "" {
				t.Errorf("taskInfo(%s).Command (-want +got):\n%s", tc.name, d)
			}
			if d := cmp.Diff(tc.container, ti.Container); d != "" {
				t.Errorf("taskInfo(%s).Container (-want +got):\n%s", tc.name, d)
			}
			if ti.Container != nil {
				if why := ti.Container.Problem(); why != "" {
					t.Errorf("taskInfo(%s).Container.Problem() = %q; want none", tc.name, why)
				}
			}
		})
	}
}

// TestTaskInfoURIs: a job's uris (Mesos' defaults) and fetch entries
// (their options) are the task's CommandInfo.uris, each one the kernel
// accepts.
func TestTaskInfoURIs(t *testing.T) {
	c := &core{s: &Service{cfg: DefaultConfig()}}
	p := place.Placement{OfferID: "o1", AgentID: "a1", Hostname: "h1", Resources: resource.Scalar(resource.CPUs, 1)}
	yes, no := true, false
	j := job.New("f")
	j.Command, j.Schedule = "./tool", "@daily"
	j.URIs = []string{"https://example.com/a.tgz"}
	r := store.Run{ID: 1, Job: "f", TaskID: job.TaskID(0, 0, "f", 1)}
	want := []mesos.CommandURI{{Value: "https://example.com/a.tgz", Executable: &no, Extract: &yes, Cache: &no}}
	if d := cmp.Diff(want, c.taskInfo(j, r, p).Command.URIs); d != "" {
		t.Errorf("taskInfo(uris).Command.URIs (-want +got):\n%s", d)
	}
	j.URIs = nil
	j.Fetch = []job.Fetch{{URI: "https://example.com/tool", Executable: true, Extract: true},
		{URI: "/opt/data.tgz", Extract: false, Cache: true, OutputFile: "in/data.tgz"}}
	want = []mesos.CommandURI{{Value: "https://example.com/tool", Executable: &yes, Extract: &yes, Cache: &no},
		{Value: "/opt/data.tgz", Executable: &no, Extract: &no, Cache: &yes, OutputFile: "in/data.tgz"}}
	got := c.taskInfo(j, r, p).Command.URIs
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("taskInfo(fetch).Command.URIs (-want +got):\n%s", d)
	}
	for _, u := range got {
		if why := u.Problem(); why != "" {
			t.Errorf("URI %q: Problem() = %q; want none", u.Value, why)
		}
	}
	j.Fetch = nil
	if got := c.taskInfo(j, r, p).Command.URIs; got != nil {
		t.Errorf("taskInfo(no files).Command.URIs = %+v; want none", got)
	}
}

// TestJobContainerAPI: a job's container and files are stored and read
// back in both APIs, a job given through one reads the same through the
// other, and what a GET answers goes back as it is.
func TestJobContainerAPI(t *testing.T) {
	s := startServer(t, newDB(t))
	s.must(http.StatusNoContent, "POST", "/v1/scheduler/iso8601", `{"name":"c","command":"echo hi","schedule":"R/2030-01-01T00:00:00Z/PT1H",
		"container":{"type":"DOCKER","image":"busybox","network":"BRIDGE","volumes":[{"containerPath":"/d","hostPath":"d","mode":"RO"}],
			"forcePullImage":true,"parameters":[{"key":"label","value":"a=b"}]},
		"fetch":[{"uri":"https://example.com/tool","executable":true,"output_file":"bin/tool"}]}`)
	s.must(http.StatusCreated, "POST", "/v1/jobs", `{"name":"n","schedule":"@daily","container":{"image":"busybox"},"uris":["https://example.com/a.tgz"]}`)

	wantContainer := map[string]any{"type": "DOCKER", "image": "busybox", "network": "BRIDGE", "networkInfos": []any{},
		"volumes": []any{map[string]any{"containerPath": "/d", "hostPath": "d", "mode": "RO"}}, "forcePullImage": true,
		"parameters": []any{map[string]any{"key": "label", "value": "a=b"}}}
	for _, path := range []string{"/v1/scheduler/job/c", "/v1/jobs/c"} {
		v := s.must(http.StatusOK, "GET", path, "").object(t)
		if d := cmp.Diff(wantContainer, v["container"]); d != "" {
			t.Errorf("GET %s container (-want +got):\n%s", path, d)
		}
	}
	fetch := s.must(http.StatusOK, "GET", "/v1/scheduler/job/c", "").object(t)["fetch"]
	if want := []any{map[string]any{"uri": "https://example.com/tool", "executable": true, "extract": true, "cache": false, "output_file": "bin/tool"}}; !cmp.Equal(want, fetch) {
		t.Errorf("GET /v1/scheduler/job/c fetch = %v; want %v", fetch, want)
	}
	fetch = s.must(http.StatusOK, "GET", "/v1/jobs/c", "").object(t)["fetch"]
	if want := []any{map[string]any{"uri": "https://example.com/tool", "executable": true, "extract": true, "cache": false, "outputFile": "bin/tool"}}; !cmp.Equal(want, fetch) {
		t.Errorf("GET /v1/jobs/c fetch = %v; want %v", fetch, want)
	}
	for _, path := range []string{"/v1/scheduler/job/n", "/v1/jobs/n"} {
		v := s.must(http.StatusOK, "GET", path, "").object(t)
		if got := v["uris"]; !cmp.Equal(got, []any{"https://example.com/a.tgz"}) {
			t.Errorf("GET %s uris = %v; want [https://example.com/a.tgz]", path, got)
		}
		if got := v["container"].(map[string]any)["image"]; got != "busybox" {
			t.Errorf("GET %s container image = %v; want busybox", path, got)
		}
	}

	// Round trips: each API takes back what it answered, unchanged.
	before := s.must(http.StatusOK, "GET", "/v1/scheduler/job/c", "")
	r := s.must(http.StatusNoContent, "POST", "/v1/scheduler/iso8601", string(before.body))
	if ws := r.header.Values("Warning"); len(ws) != 0 {
		t.Errorf("POST of the Chronos GET answer: Warning = %q; want none", ws)
	}
	if after := s.must(http.StatusOK, "GET", "/v1/scheduler/job/c", ""); !cmp.Equal(before.json(t), after.json(t)) {
		t.Errorf("Chronos round trip: %s; want %s", after.body, before.body)
	}
	view := s.must(http.StatusOK, "GET", "/v1/jobs/n", "")
	r = s.must(http.StatusOK, "PUT", "/v1/jobs/n", string(view.body))
	if ws := warningsOf(t, r); ws != nil {
		t.Errorf("PUT of the native GET answer warnings = %q; want none", ws)
	}
	if got := s.must(http.StatusOK, "GET", "/v1/jobs/n", "").object(t)["container"]; !cmp.Equal(view.object(t)["container"], got) {
		t.Errorf("native round trip container = %v; want %v", got, view.object(t)["container"])
	}
}

// TestJobContainerRefusedAPI: a container corral cannot run is refused in
// each API's error shape naming the field, and nothing is stored.
func TestJobContainerRefusedAPI(t *testing.T) {
	s := startServer(t, newDB(t))
	before := s.must(http.StatusOK, "GET", "/v1/jobs", "").body
	native := []struct{ name, body, detail string }{
		{"MESOS image", `{"name":"x","command":"true","schedule":"@daily","container":{"type":"MESOS","image":"busybox"}}`, "/container/type"},
		{"docker option", `{"name":"x","command":"true","schedule":"@daily","container":{"image":"busybox","parameters":[{"key":"volume","value":"/:/host"}]}}`, "/container/parameters(0)/key"},
		{"external volume", `{"name":"x","command":"true","schedule":"@daily","container":{"image":"busybox","volumes":[{"containerPath":"/d","external":{"name":"v"}}]}}`, "/container/volumes(0)/external"},
		{"bad uri", `{"name":"x","command":"true","schedule":"@daily","uris":["ftp://example.com/a"]}`, "/uris(0)"},
		{"bad fetch uri", `{"name":"x","command":"true","schedule":"@daily","fetch":[{"uri":"relative/a"}]}`, "/fetch(0)/uri"},
	}
	for _, tc := range native {
		t.Run("native/"+tc.name, func(t *testing.T) {
			s := s.with(t)
			r := s.do("POST", "/v1/jobs", tc.body)
			body := wantJSONError(t, r, http.StatusUnprocessableEntity, "Object is not valid")
			if got := detailPaths(t, r, body); !cmp.Equal(got, []string{tc.detail}) {
				t.Errorf("%s detail paths = %v; want [%s]\n%s", r, got, tc.detail, r.body)
			}
		})
	}
	chronos := []struct{ name, body string }{
		{"MESOS image", `{"name":"x","command":"true","schedule":"R/2030-01-01T00:00:00Z/PT1H","container":{"type":"MESOS","image":"busybox"}}`},
		{"USER without a name", `{"name":"x","command":"true","schedule":"R/2030-01-01T00:00:00Z/PT1H","container":{"image":"busybox","network":"USER"}}`},
		{"bad uri", `{"name":"x","command":"true","schedule":"R/2030-01-01T00:00:00Z/PT1H","uris":["s3://b/a"]}`},
	}
	words := map[string][]string{"MESOS image": {"container/type", "DOCKER"}, "USER without a name": {"container/network", "networkName"}, "bad uri": {"uris(0)", "s3"}}
	for _, tc := range chronos {
		t.Run("Chronos/"+tc.name, func(t *testing.T) {
			s := s.with(t)
			wantChronosError(t, s.do("POST", "/v1/scheduler/iso8601", tc.body), words[tc.name]...)
		})
	}
	if after := s.must(http.StatusOK, "GET", "/v1/jobs", "").body; !cmp.Equal(before, after) {
		t.Errorf("GET /v1/jobs = %s; want it unchanged by the refused requests: %s", after, before)
	}
}
