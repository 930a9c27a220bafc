package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"corral/internal/testcluster"
)

func TestMain(m *testing.M) { testcluster.Main(m) }

// api is a minimal Marathon client.
type api struct {
	t   testing.TB
	url string
}

func (a api) do(method, path string, body any) (int, []byte, http.Header) {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, a.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, resp.Header
}

// must calls and checks the status code.
func (a api) must(method, path string, body any, want int) []byte {
	a.t.Helper()
	code, out, _ := a.do(method, path, body)
	if code != want {
		a.t.Fatalf("%s %s = %d %s; want %d", method, path, code, out, want)
	}
	return out
}

type taskJSON struct {
	ID                 string   `json:"id"`
	Host               string   `json:"host"`
	State              string   `json:"state"`
	Ports              []uint64 `json:"ports"`
	StagedAt           string   `json:"stagedAt"`
	Version            string   `json:"version"`
	HealthCheckResults []struct {
		Alive bool `json:"alive"`
	} `json:"healthCheckResults"`
}

type appJSON struct {
	ID             string              `json:"id"`
	Cmd            string              `json:"cmd"`
	Instances      int                 `json:"instances"`
	TasksRunning   int                 `json:"tasksRunning"`
	TasksHealthy   int                 `json:"tasksHealthy"`
	TasksStaged    int                 `json:"tasksStaged"`
	TasksUnhealthy int                 `json:"tasksUnhealthy"`
	Tasks          []taskJSON          `json:"tasks"`
	Deployments    []map[string]string `json:"deployments"`
	Version        string              `json:"version"`
}

func (a api) app(id string) appJSON {
	a.t.Helper()
	var w struct {
		App appJSON `json:"app"`
	}
	if err := json.Unmarshal(a.must("GET", "/v2/apps"+id, nil, 200), &w); err != nil {
		a.t.Fatal(err)
	}
	return w.App
}

func (a api) deployments() []map[string]any {
	a.t.Helper()
	var ds []map[string]any
	_ = json.Unmarshal(a.must("GET", "/v2/deployments", nil, 200), &ds)
	return ds
}

// waitDeployed waits until no deployment is running.
func (a api) waitDeployed(d time.Duration) {
	a.t.Helper()
	testcluster.Eventually(a.t, d, func() bool { return len(a.deployments()) == 0 }, "deployments to finish: %v", a.lastDeployments())
}

func (a api) lastDeployments() string {
	code, out, _ := a.do("GET", "/v2/deployments", nil)
	if code != 200 {
		return ""
	}
	return string(out)
}

// healthyTasks counts running tasks whose checks all pass.
func healthyTasks(ap appJSON) int {
	n := 0
	for _, t := range ap.Tasks {
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
