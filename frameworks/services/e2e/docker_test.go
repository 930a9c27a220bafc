package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"corral/internal/dockertest"
	"corral/internal/testcluster"
)

// dockerApp is a Docker app of the test image serving its /www on
// container port 8080, health-checked over HTTP on its mapped host port;
// legacy picks Marathon's ≤1.4 shape (docker.network and
// docker.portMappings) over 1.5's (networks and container.portMappings).
func dockerApp(id string, instances int, legacy bool) map[string]any {
	a := map[string]any{
		"id": id, "instances": instances, "cpus": 0.05, "mem": 32,
		"cmd": "exec httpd -f -p 8080 -h /www",
		"healthChecks": []any{map[string]any{"protocol": "HTTP", "path": "/", "portIndex": 0,
			"gracePeriodSeconds": 30, "intervalSeconds": 1, "timeoutSeconds": 2, "maxConsecutiveFailures": 3}},
		"upgradeStrategy": map[string]any{"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0},
		"backoffSeconds":  1,
	}
	mapping := []any{map[string]any{"containerPort": 8080, "hostPort": 0, "name": "http"}}
	if legacy {
		a["container"] = map[string]any{"type": "DOCKER", "docker": map[string]any{
			"image": dockertest.Image, "network": "BRIDGE", "portMappings": mapping}}
	} else {
		a["networks"] = []any{map[string]any{"mode": "container/bridge"}}
		a["container"] = map[string]any{"type": "DOCKER", "docker": map[string]any{"image": dockertest.Image},
			"portMappings": mapping}
	}
	return a
}

// TestDockerApps: Docker apps in both of Marathon's shapes run on an
// agent with the docker containerizer, turn healthy serving on their
// mapped host ports, a container killed behind corral's back is
// replaced, and deleting the apps leaves no container.
func TestDockerApps(t *testing.T) {
	cli := dockertest.Engine(t)
	c := testcluster.Start(t, testcluster.Options{Agents: 1, AgentArgs: []string{"--containerizers", "docker,mesos"},
		Resources: func(int) string { return "cpus:4;mem:4096;disk:1000;ports:[31000-31099]" }})
	f := c.StartFramework("services")
	a := api{t: t, url: f.URL}
	fwID := c.FrameworkIDByName("services")
	containers := func() []container.Summary {
		list, err := cli.ContainerList(context.Background(), container.ListOptions{All: true,
			Filters: filters.NewArgs(filters.Arg("label", "corral.framework="+fwID))})
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
	t.Cleanup(func() {
		for _, ctr := range containers() {
			_ = cli.ContainerRemove(context.Background(), ctr.ID, container.RemoveOptions{Force: true})
		}
	})

	a.must("POST", "/v2/apps", dockerApp("/dock", 2, false), 201)
	a.must("POST", "/v2/apps", dockerApp("/legacy", 1, true), 201)
	testcluster.Eventually(t, 120*time.Second, func() bool {
		return healthyTasks(a.app("/dock")) == 2 && healthyTasks(a.app("/legacy")) == 1
	}, "the Docker apps healthy: /dock %d of 2, /legacy %d of 1", healthyTasks(a.app("/dock")), healthyTasks(a.app("/legacy")))

	for _, id := range []string{"/dock", "/legacy"} {
		for _, tk := range a.app(id).Tasks {
			if len(tk.Ports) != 1 {
				t.Fatalf("task %s ports %v; want one host port", tk.ID, tk.Ports)
			}
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", tk.Ports[0]))
			if err != nil {
				t.Fatalf("GET task %s on its host port: %v", tk.ID, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "hello from a container\n" {
				t.Errorf("task %s on host port %d answered %q; want the container's page", tk.ID, tk.Ports[0], body)
			}
		}
	}
	if n := len(containers()); n != 3 {
		t.Errorf("containers of the framework = %d; want 3", n)
	}

	// A container killed behind corral's back: its task fails and is
	// replaced.
	victim := a.app("/dock").Tasks[0].ID
	for _, ctr := range containers() {
		if ctr.Labels["corral.task"] == victim {
			if err := cli.ContainerKill(t.Context(), ctr.ID, "SIGKILL"); err != nil {
				t.Fatal(err)
			}
		}
	}
	testcluster.Eventually(t, 120*time.Second, func() bool {
		ap := a.app("/dock")
		ids := []string{}
		for _, tk := range ap.Tasks {
			ids = append(ids, tk.ID)
		}
		return healthyTasks(ap) == 2 && !slices.Contains(ids, victim)
	}, "the killed container's task replaced")

	a.must("DELETE", "/v2/apps/dock", nil, 200)
	a.must("DELETE", "/v2/apps/legacy", nil, 200)
	testcluster.Eventually(t, 60*time.Second, func() bool { return len(containers()) == 0 },
		"no container left after the apps are deleted")
}
