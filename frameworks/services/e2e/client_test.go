package e2e

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"corral/internal/apiclient"
	"corral/internal/testcluster"
)

func TestMain(m *testing.M) { testcluster.Main(m) }

// api is the services API of a test cluster, read through apiclient.
type api struct {
	t   testing.TB
	url string
}

// client is the typed client of the services API.
func (a api) client() apiclient.Services { return apiclient.NewServices(a.url, nil) }

// do sends a request (a string body as it is) and returns the status,
// body and headers of any answer; only a failed connection fails the test.
func (a api) do(method, path string, body any) (int, []byte, http.Header) {
	a.t.Helper()
	if s, ok := body.(string); ok {
		body = []byte(s)
	}
	resp, err := a.client().Do(context.Background(), method, path, body)
	var ae *apiclient.Error
	switch {
	case err == nil:
		return resp.Status, resp.Body, resp.Header
	case errors.As(err, &ae):
		return ae.Status, ae.Body, http.Header{}
	}
	a.t.Fatalf("%s %s: %v", method, path, err)
	return 0, nil, nil
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

type appJSON = apiclient.App

func (a api) app(id string) appJSON {
	a.t.Helper()
	ap, err := a.client().App(context.Background(), id)
	if err != nil {
		a.t.Fatalf("GET app %s: %v", id, err)
	}
	return ap
}

func (a api) deployments() []apiclient.Deployment {
	a.t.Helper()
	ds, err := a.client().Deployments(context.Background())
	if err != nil {
		a.t.Fatalf("GET /v2/deployments: %v", err)
	}
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
