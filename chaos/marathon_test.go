//go:build chaos

package chaos

import (
	"context"
	"net/url"

	"corral/internal/apiclient"
)

// marathon is a client of the services framework's Marathon API at one
// instance (a standby proxies to the leader), through apiclient. It never
// fails the test: the suite calls it while components die, so every method
// returns an error.
type marathon struct{ url string }

func (m marathon) api() apiclient.Services { return apiclient.NewServices(m.url, httpClient) }

// mApp is an app as GET /v2/apps{,/id} shows it.
type mApp = apiclient.App

// healthyTasks counts the running tasks whose health checks all pass.
func healthyTasks(a mApp) int {
	n := 0
	for _, t := range a.Tasks {
		if h := t.Healthy(); t.State == "TASK_RUNNING" && h != nil && *h {
			n++
		}
	}
	return n
}

// createApp is POST /v2/apps; nil means the API acknowledged it (2xx).
func (m marathon) createApp(def map[string]any) error {
	_, _, err := m.api().CreateApp(context.Background(), def, false)
	return err
}

// scale is PUT /v2/apps{id} with only instances, as Marathon's clients
// scale.
func (m marathon) scale(id string, instances int) error {
	_, err := m.scaleDeployment(id, instances)
	return err
}

// scaleDeployment is scale that returns the id of the deployment the
// API acknowledged.
func (m marathon) scaleDeployment(id string, instances int) (string, error) {
	ch, err := m.api().UpdateApp(context.Background(), id, map[string]int{"instances": instances}, false)
	return ch.DeploymentID, err
}

// deploymentIDs is GET /v2/deployments, the ids only.
func (m marathon) deploymentIDs() ([]string, error) {
	ds, err := m.deployments()
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(ds))
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids, nil
}

// apps is GET /v2/apps with every app's tasks.
func (m marathon) apps() ([]mApp, error) {
	return m.api().Apps(context.Background())
}

// deployments is GET /v2/deployments.
func (m marathon) deployments() ([]apiclient.Deployment, error) {
	return m.api().Deployments(context.Background())
}

// leader is GET /v2/leader: the leading instance's host:port.
func (m marathon) leader() (string, error) {
	return m.api().Leader(context.Background())
}

// hostPort returns the host:port of a base URL.
func hostPort(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Host
}

// sleepApp is an app of sleeping tasks.
func sleepApp(id string, instances int) map[string]any {
	return map[string]any{
		"id": id, "cmd": "sleep 3600", "cpus": 0.02, "mem": 16, "instances": instances,
		"backoffSeconds": 1,
	}
}

// webApp is an app whose tasks serve HTTP on $PORT0 and pass their
// health check while the file "health" exists in their sandbox. They
// listen on every address: an agent in a network namespace is reached on
// its namespace's address. Like the sleep app's, they end by themselves
// within the hour, should a killed test binary leave them behind.
func webApp(id string, instances int) map[string]any {
	return map[string]any{
		"id":        id,
		"cmd":       "echo ok > health && exec timeout 3600 python3 -m http.server $PORT0",
		"cpus":      0.05,
		"mem":       64,
		"instances": instances,
		"healthChecks": []map[string]any{{
			"protocol": "HTTP", "path": "/health", "portIndex": 0,
			"gracePeriodSeconds": 10, "intervalSeconds": 1, "timeoutSeconds": 1, "maxConsecutiveFailures": 3,
		}},
		"upgradeStrategy": map[string]any{"minimumHealthCapacity": 1, "maximumOverCapacity": 1},
		"backoffSeconds":  1,
	}
}
