//go:build chaos

package chaos

import (
	"encoding/json"
	"net/url"
)

// marathon is a client of the services framework's Marathon API at one
// instance (a standby proxies to the leader). It never fails the test: the
// suite calls it while components die, so every method returns an error.
type marathon struct{ url string }

// mTask is a task as GET /v2/apps/{id} shows it.
type mTask struct {
	ID                 string `json:"id"`
	SlaveID            string `json:"slaveId"`
	State              string `json:"state"`
	HealthCheckResults []struct {
		Alive bool `json:"alive"`
	} `json:"healthCheckResults"`
}

// mApp is an app as GET /v2/apps{,/id} shows it.
type mApp struct {
	ID           string            `json:"id"`
	Instances    int               `json:"instances"`
	TasksRunning int               `json:"tasksRunning"`
	TasksHealthy int               `json:"tasksHealthy"`
	HealthChecks []json.RawMessage `json:"healthChecks"`
	Tasks        []mTask           `json:"tasks"`
	Deployments  []json.RawMessage `json:"deployments"`
}

// healthy counts the running tasks whose health checks all pass.
func (a mApp) healthy() int {
	n := 0
	for _, t := range a.Tasks {
		if t.State != "TASK_RUNNING" || len(t.HealthCheckResults) == 0 {
			continue
		}
		ok := true
		for _, h := range t.HealthCheckResults {
			ok = ok && h.Alive
		}
		if ok {
			n++
		}
	}
	return n
}

// createApp is POST /v2/apps; nil means the API acknowledged it (2xx).
func (m marathon) createApp(def map[string]any) error {
	return call("POST", m.url+"/v2/apps", def, nil)
}

// scale is PUT /v2/apps{id} with only instances.
func (m marathon) scale(id string, instances int) error {
	return call("PUT", m.url+"/v2/apps"+id, map[string]any{"instances": instances}, nil)
}

// scaleDeployment is scale that returns the id of the deployment the
// API acknowledged.
func (m marathon) scaleDeployment(id string, instances int) (string, error) {
	var out struct {
		DeploymentID string `json:"deploymentId"`
	}
	err := call("PUT", m.url+"/v2/apps"+id, map[string]any{"instances": instances}, &out)
	return out.DeploymentID, err
}

// deploymentIDs is GET /v2/deployments, the ids only.
func (m marathon) deploymentIDs() ([]string, error) {
	var ds []struct {
		ID string `json:"id"`
	}
	if err := call("GET", m.url+"/v2/deployments", nil, &ds); err != nil {
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
	var w struct {
		Apps []mApp `json:"apps"`
	}
	err := call("GET", m.url+"/v2/apps?embed=apps.tasks", nil, &w)
	return w.Apps, err
}

// deployments is GET /v2/deployments.
func (m marathon) deployments() ([]json.RawMessage, error) {
	var ds []json.RawMessage
	err := call("GET", m.url+"/v2/deployments", nil, &ds)
	return ds, err
}

// leader is GET /v2/leader: the leading instance's host:port.
func (m marathon) leader() (string, error) {
	var l struct {
		Leader string `json:"leader"`
	}
	err := call("GET", m.url+"/v2/leader", nil, &l)
	return l.Leader, err
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
