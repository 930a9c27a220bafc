package services

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"corral/kernel/mesos"
)

// servicePortsOf returns the app's legacy "ports" as GET /v2/apps/{id}
// shows them, and checks that they agree with its portDefinitions or
// container.portMappings.
func (s *server) servicePortsOf(id string) []int {
	s.t.Helper()
	a := s.app(id)
	var ports, defs []int
	for _, p := range get(a, "ports").([]any) {
		ports = append(ports, int(p.(float64)))
	}
	list, _ := get(a, "portDefinitions").([]any)
	field := "port"
	if len(list) == 0 {
		list, _ = get(a, "container", "portMappings").([]any)
		field = "servicePort"
	}
	for _, pd := range list {
		defs = append(defs, int(get(pd, field).(float64)))
	}
	if !cmp.Equal(ports, defs) {
		s.t.Errorf("app %s: ports %v but its port definitions or mappings have %v", id, ports, defs)
	}
	return ports
}

// TestServicePorts checks that ports asking for any get distinct ports of
// the range, kept across updates and freed by a delete; that ports asked
// for by number are kept, unless another app has them; and that tasks
// show their app's service ports.
func TestServicePorts(t *testing.T) {
	s := startServer(t, newDB(t))
	want := func(id string, ports ...int) {
		t.Helper()
		if got := s.servicePortsOf(id); !cmp.Equal(got, ports) {
			t.Errorf("service ports of %s = %v; want %v", id, got, ports)
		}
	}
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/sp/a","cmd":"sleep 1","instances":0,"portDefinitions":[{"port":0},{"port":0,"name":"admin"}]}`)
	want("/sp/a", 10000, 10001)
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/sp/legacy","cmd":"sleep 1","instances":1,"ports":[0]}`)
	want("/sp/legacy", 10002)
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/sp/fixed","cmd":"sleep 1","instances":0,"portDefinitions":[{"port":80},{"port":0}]}`)
	want("/sp/fixed", 80, 10003)

	// Tasks show them.
	tid := s.seedTask("/sp/legacy", "h1", mesos.TaskRunning)
	tasks := get(s.must(http.StatusOK, "GET", "/v2/apps/sp/legacy/tasks", "").json(t), "tasks").([]any)
	if len(tasks) != 1 || get(tasks[0], "id") != tid || !cmp.Equal(get(tasks[0], "servicePorts"), []any{10002.0}) {
		t.Errorf("tasks of /sp/legacy = %v; want %s with servicePorts [10002]", tasks, tid)
	}

	// Updates keep them: a change elsewhere, the same definitions sent
	// again (no change at all), and a port added.
	s.settle("/sp/a")
	deploymentResultOf(t, s.do("PUT", "/v2/apps/sp/a", `{"cmd":"sleep 2"}`), http.StatusOK)
	want("/sp/a", 10000, 10001)
	s.settle("/sp/a")
	version := get(s.app("/sp/a"), "version")
	deploymentResultOf(t, s.do("PUT", "/v2/apps/sp/a", `{"portDefinitions":[{"port":0},{"port":0,"name":"admin"}]}`), http.StatusOK)
	if got := get(s.app("/sp/a"), "version"); got != version {
		t.Errorf("version after sending the same ports again = %v; want it unchanged, %v", got, version)
	}
	s.settle("/sp/a")
	deploymentResultOf(t, s.do("PUT", "/v2/apps/sp/a", `{"portDefinitions":[{"port":0},{"port":0,"name":"admin"},{"port":0}]}`), http.StatusOK)
	want("/sp/a", 10000, 10001, 10004)

	// A port another app has is refused, naming the field; one the app
	// has already is not.
	r := s.do("POST", "/v2/apps", `{"id":"/sp/clash","cmd":"sleep 1","instances":0,"portDefinitions":[{"port":0},{"port":10002}]}`)
	body := wantError(t, r, http.StatusUnprocessableEntity, "Object is not valid")
	if d := get(body, "details", 0); get(d, "path") != "/portDefinitions(1)/port" ||
		get(d, "errors", 0) != "service port 10002 of app /sp/clash is already the service port of app /sp/legacy" {
		t.Errorf("details = %v; want /portDefinitions(1)/port naming /sp/legacy", body["details"])
	}
	wantError(t, s.do("POST", "/v2/apps", `{"id":"/sp/clash","cmd":"sleep 1","instances":0,"ports":[80]}`), http.StatusUnprocessableEntity, "Object is not valid")
	s.settle("/sp/fixed")
	deploymentResultOf(t, s.do("PUT", "/v2/apps/sp/fixed", `{"portDefinitions":[{"port":80},{"port":0},{"port":0}]}`), http.StatusOK)
	want("/sp/fixed", 80, 10003, 10005)

	// Two apps of one change get different ports, and may not ask for
	// the same one.
	deploymentResultOf(t, s.do("POST", "/v2/groups", `{"id":"/grp","apps":[
		{"id":"x","cmd":"sleep 1","instances":0},{"id":"y","cmd":"sleep 1","instances":0}]}`), http.StatusCreated)
	want("/grp/x", 10006)
	want("/grp/y", 10007)
	wantError(t, s.do("POST", "/v2/groups", `{"id":"/grp2","apps":[
		{"id":"x","cmd":"sleep 1","instances":0,"ports":[7000]},{"id":"y","cmd":"sleep 1","instances":0,"ports":[7000]}]}`),
		http.StatusUnprocessableEntity, "Object is not valid")

	// A deleted app's ports are free again.
	s.must(http.StatusOK, "DELETE", "/v2/apps/sp/legacy", "")
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/sp/after","cmd":"sleep 1","instances":0,"portDefinitions":[{"port":0},{"port":10002}]}`)
	want("/sp/after", 10008, 10002)
}

// TestServicePortsDocker checks a Docker app's mappings: their
// servicePort is assigned in the shape the container gives them, and
// listed as "ports".
func TestServicePortsDocker(t *testing.T) {
	s := startServer(t, newDB(t))
	for i, c := range []struct{ name, container string }{
		{"1.5 shape", `"networks":[{"mode":"container/bridge"}],"container":{"type":"DOCKER","docker":{"image":"nginx:1"},
			"portMappings":[{"containerPort":80,"hostPort":0,"servicePort":0},{"containerPort":81,"hostPort":0,"servicePort":9000}]}`},
		{"legacy shape", `"container":{"type":"DOCKER","docker":{"image":"nginx:1","network":"BRIDGE",
			"portMappings":[{"containerPort":80,"hostPort":0},{"containerPort":81,"hostPort":0,"servicePort":9001}]}}`},
		{"legacy ports", `"ports":[0,9002],"container":{"type":"DOCKER","docker":{"image":"nginx:1","network":"BRIDGE",
			"portMappings":[{"containerPort":80,"hostPort":0},{"containerPort":81,"hostPort":0}]}}`},
		{"default mapping", `"container":{"type":"DOCKER","docker":{"image":"nginx:1","network":"BRIDGE"}}`},
	} {
		id := fmt.Sprintf("/docker/app-%d", i)
		s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"`+id+`","cmd":"nginx","instances":0,`+c.container+`}`)
		want := []int{10000 + i, 9000 + i}
		if c.name == "default mapping" {
			want = []int{10000 + i}
		}
		var got []int
		for _, p := range get(s.app(id), "ports").([]any) {
			got = append(got, int(p.(float64)))
		}
		if !cmp.Equal(got, want) {
			t.Errorf("%s: ports = %v; want %v", c.name, got, want)
		}
		mappings := get(s.app(id), "container", "portMappings")
		if c.name == "legacy shape" || c.name == "legacy ports" {
			mappings = get(s.app(id), "container", "docker", "portMappings")
		}
		for j, m := range mappings.([]any) {
			if sp := get(m, "servicePort"); sp != float64(want[j]) {
				t.Errorf("%s: mapping %d servicePort = %v; want %d", c.name, j, sp, want[j])
			}
		}
	}
}

// TestServicePortRange checks --local_port_min/max: ports come from the
// range, and its end is a 422 naming the field.
func TestServicePortRange(t *testing.T) {
	s := startServer(t, newDB(t), func(c *Config) { c.LocalPortMin, c.LocalPortMax = 31000, 31001 })
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/r/a","cmd":"sleep 1","instances":0,"ports":[0,0]}`)
	if got := s.servicePortsOf("/r/a"); !cmp.Equal(got, []int{31000, 31001}) {
		t.Errorf("ports = %v; want [31000 31001]", got)
	}
	body := wantError(t, s.do("POST", "/v2/apps", `{"id":"/r/b","cmd":"sleep 1","instances":0,"portDefinitions":[{"port":5000},{"port":0}]}`),
		http.StatusUnprocessableEntity, "Object is not valid")
	if d := get(body, "details", 0); get(d, "path") != "/portDefinitions(1)/port" ||
		get(d, "errors", 0) != "no service port left for app /r/b: every port of 31000-31001 (local_port_min, local_port_max) is taken" {
		t.Errorf("details = %v; want /portDefinitions(1)/port saying the range is used up", body["details"])
	}
}
