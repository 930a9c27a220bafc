package cli

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// cannedCluster is a master, services and jobs API answering from
// testdata/api.
func cannedCluster(t *testing.T) (master, services, jobs *fakeAPI) {
	t.Helper()
	master = newFake(t, map[string]http.HandlerFunc{
		"GET /state": answer(200, apiFile(t, "state.json")),
	})
	services = newFake(t, map[string]http.HandlerFunc{
		"GET /health":                   answer(200, `{"healthy": true, "leader": true, "database": "ok", "connected": true}`),
		"GET /v2/info":                  answer(200, `{"name": "corral-services", "version": "1.2.3"}`),
		"GET /v2/apps":                  answer(200, apiFile(t, "apps.json")),
		"GET /v2/apps/web":              answer(200, apiFile(t, "app.json")),
		"GET /v2/apps/web/tasks":        answer(200, apiFile(t, "app_tasks.json")),
		"GET /v2/tasks":                 answer(200, apiFile(t, "app_tasks.json")),
		"GET /v2/apps/web/versions":     answer(200, apiFile(t, "versions.json")),
		"GET /v2/apps/web/versions/old": answer(200, `{"id": "/web", "instances": 1}`),
	})
	jobs = newFake(t, map[string]http.HandlerFunc{
		"GET /health":               answer(503, `{"healthy": false, "leading": true, "database": "connection refused"}`),
		"GET /v1/info":              answer(200, `{"name": "corral-jobs", "version": "1.2.3"}`),
		"GET /v1/jobs":              answer(200, apiFile(t, "jobs.json")),
		"GET /v1/jobs/extract":      answer(200, apiFile(t, "job.json")),
		"GET /v1/jobs/extract/runs": answer(200, apiFile(t, "runs.json")),
		"GET /v1/graph":             answer(200, apiFile(t, "graph.json")),
		"GET /v1/graph.dot": func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("digraph G {\n\t\"a\" -> \"b\";\n}\n"))
		},
		"GET /v1/jobs/missing":               answer(404, `{"message": "job \"missing\" does not exist"}`),
		"GET /v1/jobs/missing/runs":          answer(404, `{"message": "job \"missing\" does not exist"}`),
		"POST /v1/jobs/missing/run":          answer(404, `{"message": "job \"missing\" does not exist"}`),
		"DELETE /v1/jobs/extract":            answer(409, `{"message": "job \"extract\" has dependent jobs [transform]; delete with force=true to rewire them", "children": ["transform"]}`),
		"DELETE /v1/jobs/extract?force=true": answer(200, `{"deleted": "extract", "rewired": [{"job": "transform", "schedule": "*/5 * * * *"}]}`),
	})
	return master, services, jobs
}

func TestGoldenOutput(t *testing.T) {
	master, services, jobs := cannedCluster(t)
	env := addrEnv(master, services, jobs)
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		// The jobs API answers 503 on /health: printed, and exit 4.
		{"cluster_status.txt", []string{"cluster", "status"}, ExitUnreachable},
		{"cluster_status.json", []string{"cluster", "status", "--json"}, ExitUnreachable},
		{"agent_list.txt", []string{"agent", "list"}, ExitOK},
		{"agent_list.json", []string{"agent", "list", "--json"}, ExitOK},
		{"task_list.txt", []string{"task", "list"}, ExitOK},
		{"task_list_all.txt", []string{"task", "list", "--all"}, ExitOK},
		{"task_list_app.txt", []string{"task", "list", "--app", "web"}, ExitOK},
		{"task_list.json", []string{"task", "list", "--json"}, ExitOK},
		{"app_list.txt", []string{"app", "list"}, ExitOK},
		{"app_list.json", []string{"app", "list", "--json"}, ExitOK},
		{"app_show.txt", []string{"app", "show", "/web"}, ExitOK},
		{"app_show.json", []string{"app", "show", "web", "--json"}, ExitOK},
		{"app_versions.txt", []string{"app", "versions", "/web"}, ExitOK},
		{"app_version.json", []string{"app", "versions", "/web", "old"}, ExitOK},
		{"job_list.txt", []string{"job", "list"}, ExitOK},
		{"job_list.json", []string{"job", "list", "--json"}, ExitOK},
		{"job_show.txt", []string{"job", "show", "extract"}, ExitOK},
		{"job_runs.txt", []string{"job", "runs", "extract"}, ExitOK},
		{"job_runs.json", []string{"job", "runs", "extract", "--json"}, ExitOK},
		{"job_graph.txt", []string{"job", "graph"}, ExitOK},
		{"job_graph.json", []string{"job", "graph", "--json"}, ExitOK},
		{"job_graph.dot", []string{"job", "graph", "--dot"}, ExitOK},
		{"job_delete_force.txt", []string{"job", "delete", "extract", "--force"}, ExitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runCLI(t, invocation{env: env}, tc.args...)
			if res.code != tc.code {
				t.Fatalf("Run(%q) = %d; want %d\nstderr: %s", tc.args, res.code, tc.code, res.stderr)
			}
			out := strings.NewReplacer(master.URL, "MASTER", services.URL, "SERVICES", jobs.URL, "JOBS").Replace(res.stdout)
			if strings.HasSuffix(tc.name, ".json") && !json.Valid([]byte(out)) {
				t.Errorf("Run(%q) printed invalid JSON:\n%s", tc.args, out)
			}
			golden(t, tc.name, out)
		})
	}
}

func TestClusterStatusSaysWhatIsDown(t *testing.T) {
	master, services, jobs := cannedCluster(t)
	env := addrEnv(master, services, jobs)
	env["CORRAL_SERVICES"] = closedURL(t)
	res := runCLI(t, invocation{env: env}, "cluster", "status")
	if res.code != ExitUnreachable {
		t.Fatalf("cluster status with services down = %d; want %d", res.code, ExitUnreachable)
	}
	for _, want := range []string{"Services:", "unreachable:", "Jobs:", "unhealthy: database: connection refused"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("cluster status output lacks %q:\n%s", want, res.stdout)
		}
	}
	if !strings.Contains(res.stderr, "cannot reach the services API") || !strings.Contains(res.stderr, "CORRAL_SERVICES") {
		t.Errorf("stderr = %q; want it to name the services API and its variable", res.stderr)
	}
}

func TestStandbyMasterSendsToLeader(t *testing.T) {
	leader := newFake(t, map[string]http.HandlerFunc{"GET /state": answer(200, apiFile(t, "state.json"))})
	standby := newFake(t, map[string]http.HandlerFunc{
		"GET /state": answer(200, `{"id": "s", "elected": false, "leader": "master@x", "leader_url": "`+leader.URL+`", "slaves": [], "frameworks": []}`),
	})
	res := runCLI(t, invocation{}, "agent", "list", "--master", standby.URL)
	if res.code != ExitOK || !strings.Contains(res.stdout, "agent1.test") {
		t.Fatalf("agent list through a standby = %d %q %q; want the leader's agents", res.code, res.stdout, res.stderr)
	}
	// A leader whose advertised address does not resolve here (docker
	// compose publishes one master): the standby passes the state on.
	passesOn := newFake(t, map[string]http.HandlerFunc{
		"GET /state":         answer(200, `{"id": "s", "elected": false, "leader": "master@x", "leader_url": "http://master-2.invalid:5050", "slaves": [], "frameworks": []}`),
		"GET /console/state": answer(200, apiFile(t, "state.json")),
	})
	res = runCLI(t, invocation{}, "agent", "list", "--master", passesOn.URL)
	if res.code != ExitOK || !strings.Contains(res.stdout, "agent1.test") {
		t.Fatalf("agent list through a standby that passes the state on = %d %q %q; want the leader's agents", res.code, res.stdout, res.stderr)
	}
	noLeader := newFake(t, map[string]http.HandlerFunc{
		"GET /state": answer(200, `{"id": "s", "elected": false, "slaves": [], "frameworks": []}`),
	})
	res = runCLI(t, invocation{}, "agent", "list", "--master", noLeader.URL)
	if res.code != ExitUnreachable || !strings.Contains(res.stderr, "standby") {
		t.Errorf("agent list on a standby without leader = %d %q; want %d naming the standby", res.code, res.stderr, ExitUnreachable)
	}
}
