package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"corral/internal/apiclient"
)

// step is one poll of a scripted deployment: what GET /v2/deployments
// and GET /v2/apps/hello answer ("" app: 404).
type step struct {
	deps string
	app  string
}

// script serves the steps; each GET /v2/deployments moves to the next
// one, the last one repeats. Before the first of those, GET
// /v2/apps/hello answers initial if set: the app as it was before the
// change.
type script struct {
	mu      sync.Mutex
	steps   []step
	i       int
	initial string
}

func (s *script) deployments(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	st := s.steps[min(s.i, len(s.steps)-1)]
	s.i++
	s.mu.Unlock()
	answer(200, st.deps)(w, r)
}

func (s *script) app(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	st := s.steps[max(0, min(s.i-1, len(s.steps)-1))]
	if s.i == 0 && s.initial != "" {
		st.app = s.initial
	}
	s.mu.Unlock()
	if st.app == "" {
		answer(404, `{"message": "App '/hello' does not exist"}`)(w, r)
		return
	}
	answer(200, `{"app": `+st.app+`}`)(w, r)
}

// helloApp is /hello as GET /v2/apps/hello shows it.
func helloApp(version string, instances, running, staged, healthy int) string {
	return fmt.Sprintf(`{"id": "/hello", "cmd": "python3 -m http.server $PORT0", "instances": %d, "version": %q,
		"healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0}],
		"tasksRunning": %d, "tasksStaged": %d, "tasksHealthy": %d, "tasksUnhealthy": 0, "deployments": [], "tasks": []}`,
		instances, version, running, staged, healthy)
}

func ourDeployment(waiting string) string {
	return `[{"id": "d-1", "version": "V1", "affectedApps": ["/hello"], "currentActions": [{"action": "StartApplication", "app": "/hello", "waiting": "` + waiting + `"}]}]`
}

// writeFile writes content to a file in a temp dir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const helloJSON = `{"id": "/hello", "cmd": "python3 -m http.server $PORT0", "instances": 2}`

func TestDeployCreatesAndWaitsUntilHealthy(t *testing.T) {
	sc := &script{steps: []step{
		{ourDeployment("waiting for offers to launch 2 instance(s)"), helloApp("V1", 2, 0, 0, 0)},
		{ourDeployment("waiting for offers to launch 2 instance(s)"), helloApp("V1", 2, 0, 0, 0)},
		{ourDeployment(""), helloApp("V1", 2, 1, 1, 0)},
		{ourDeployment(""), helloApp("V1", 2, 2, 0, 1)},
		{`[]`, helloApp("V1", 2, 2, 0, 2)},
	}}
	created := false
	var mu sync.Mutex
	svc := newFake(t, map[string]http.HandlerFunc{
		"GET /v2/apps/hello": func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			c := created
			mu.Unlock()
			if !c {
				answer(404, `{"message": "App '/hello' does not exist"}`)(w, r)
				return
			}
			sc.app(w, r)
		},
		"POST /v2/apps": func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			created = true
			mu.Unlock()
			w.Header().Set("Marathon-Deployment-Id", "d-1")
			answer(201, helloApp("V1", 2, 0, 0, 0))(w, r)
		},
		"GET /v2/deployments": sc.deployments,
	})
	file := writeFile(t, "app.json", helloJSON)
	res := runCLI(t, invocation{env: addrEnv(nil, svc, nil)}, "app", "deploy", file)
	if res.code != ExitOK {
		t.Fatalf("app deploy = %d; want 0\nstderr: %s", res.code, res.stderr)
	}
	golden(t, "app_deploy_progress.txt", res.stdout)
	if got := svc.bodyOf("POST /v2/apps?force=false"); len(got) != 1 || got[0] != helloJSON {
		t.Errorf("POST /v2/apps bodies = %q; want the file as given", got)
	}
}

func TestDeployUpdatesExistingAppWithPut(t *testing.T) {
	sc := &script{steps: []step{{ourDeployment(""), helloApp("V1", 2, 2, 0, 1)}, {`[]`, helloApp("V1", 2, 2, 0, 2)}}, initial: helloApp("V0", 1, 1, 0, 1)}
	svc := newFake(t, map[string]http.HandlerFunc{
		"GET /v2/apps/hello":  sc.app,
		"PUT /v2/apps/hello":  answer(200, `{"deploymentId": "d-1", "version": "V1"}`),
		"POST /v2/apps":       answer(500, `{"message": "must not be called"}`),
		"GET /v2/deployments": sc.deployments,
	})
	res := runCLI(t, invocation{env: addrEnv(nil, svc, nil), stdin: helloJSON}, "app", "deploy", "-", "--json")
	if res.code != ExitOK {
		t.Fatalf("app deploy - = %d; want 0\nstderr: %s", res.code, res.stderr)
	}
	if got := svc.bodyOf("PUT /v2/apps/hello?force=false&partialUpdate=false"); len(got) != 1 || got[0] != helloJSON {
		t.Errorf("PUT bodies = %q (calls %q); want the file, replacing the app", got, svc.called())
	}
	if n := svc.count("POST"); n != 0 {
		t.Errorf("an existing app was POSTed %d times", n)
	}
	var out changeResult
	if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
		t.Fatalf("--json printed %q: %v", res.stdout, err)
	}
	if want := (changeResult{App: "/hello", DeploymentID: "d-1", Version: "V1", Status: "finished"}); out != want {
		t.Errorf("--json = %+v; want %+v", out, want)
	}
	if !strings.Contains(res.stderr, "/hello: instances running 2/2, healthy 1/2") {
		t.Errorf("with --json, progress should go to stderr; stderr = %q", res.stderr)
	}
}

func TestDeployOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		steps   []step
		args    []string
		code    int
		stderr  []string
		stdout  []string
		noPolls bool
	}{
		{
			name: "deployment stopped before the target",
			steps: []step{
				{ourDeployment(""), helloApp("V1", 2, 1, 0, 0)},
				{`[]`, helloApp("V1", 2, 1, 0, 1)},
				{`[]`, helloApp("V1", 2, 2, 0, 1)}, // running, not yet healthy
				{`[]`, helloApp("V1", 2, 2, 0, 2)},
			},
			code:   ExitOK,
			stdout: []string{"deployment d-1 ended before /hello reached its target", "/hello: instances running 2/2, healthy 1/2\n", "deployment d-1 finished: instances running 2/2, healthy 2/2"},
		},
		{
			name: "replaced by another deployment",
			steps: []step{
				{ourDeployment(""), helloApp("V1", 2, 1, 0, 0)},
				{`[{"id": "d-2", "version": "V2", "affectedApps": ["/hello"], "currentActions": []}]`, helloApp("V2", 1, 1, 0, 0)},
			},
			code:   ExitFailed,
			stderr: []string{"deployment d-1 was replaced by deployment d-2", "now at version V2"},
		},
		{
			name: "deployment failed",
			steps: []step{
				{ourDeployment(""), helloApp("V1", 2, 1, 0, 0)},
				{`[{"id": "d-0", "status": "succeeded", "affectedApps": ["/hello"]},
				   {"id": "d-1", "status": "failed", "affectedApps": ["/hello"], "reason": "no progress for 10s (progressDeadlineSeconds 10): step 1 of 1, ScaleApplication /hello: 1 of 2 new instances ready",
				    "rollbackDeploymentId": "d-2", "failure": {"kind": "progressDeadline"}}]`, helloApp("V1", 2, 1, 0, 0)},
			},
			code:   ExitFailed,
			stderr: []string{"deployment d-1 of /hello failed: no progress for 10s (progressDeadlineSeconds 10): step 1 of 1, ScaleApplication /hello: 1 of 2 new instances ready; rolling back to the previous version: deployment d-2"},
		},
		{
			name: "deployment cancelled",
			steps: []step{
				{ourDeployment(""), helloApp("V1", 2, 1, 0, 0)},
				{`[{"id": "d-1", "status": "cancelled", "affectedApps": ["/hello"], "reason": "rolled back by deployment d-2"}]`, helloApp("V1", 2, 1, 0, 0)},
			},
			code:   ExitFailed,
			stderr: []string{"deployment d-1 of /hello was cancelled: rolled back by deployment d-2"},
		},
		{
			name: "deployment stopped, the app goes on",
			steps: []step{
				{ourDeployment(""), helloApp("V1", 2, 1, 0, 0)},
				{`[{"id": "d-1", "status": "stopped", "affectedApps": ["/hello"], "reason": "stopped with force=true"}]`, helloApp("V1", 2, 1, 0, 1)},
				{`[{"id": "d-1", "status": "stopped", "affectedApps": ["/hello"], "reason": "stopped with force=true"}]`, helloApp("V1", 2, 2, 0, 2)},
			},
			code:   ExitOK,
			stdout: []string{"deployment d-1 ended before /hello reached its target", "deployment d-1 finished"},
		},
		{
			name:   "app deleted meanwhile",
			steps:  []step{{ourDeployment(""), helloApp("V1", 2, 1, 0, 0)}, {`[]`, ""}},
			code:   ExitFailed,
			stderr: []string{"app /hello was deleted while deployment d-1 was running"},
		},
		{
			name:   "timeout names what is missing",
			steps:  []step{{ourDeployment("waiting for offers that fit 1 more instance(s)"), helloApp("V1", 2, 1, 0, 0)}},
			args:   []string{"--timeout", "60ms"},
			code:   ExitFailed,
			stderr: []string{"timed out after 60ms waiting for deployment d-1 of /hello: 1 not running, 2 not healthy", "2 not healthy (waiting for offers that fit 1 more instance(s))"},
		},
		{
			name:    "detach",
			steps:   []step{{ourDeployment(""), helloApp("V1", 2, 0, 0, 0)}},
			args:    []string{"--detach"},
			code:    ExitOK,
			noPolls: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := &script{steps: tc.steps, initial: helloApp("V0", 1, 1, 0, 1)}
			svc := newFake(t, map[string]http.HandlerFunc{
				"GET /v2/apps/hello":   sc.app,
				"PATCH /v2/apps/hello": answer(200, `{"deploymentId": "d-1", "version": "V1"}`),
				"GET /v2/deployments":  sc.deployments,
			})
			args := append([]string{"app", "scale", "/hello", "2"}, tc.args...)
			res := runCLI(t, invocation{env: addrEnv(nil, svc, nil)}, args...)
			if res.code != tc.code {
				t.Fatalf("Run(%q) = %d; want %d\nstdout: %s\nstderr: %s", args, res.code, tc.code, res.stdout, res.stderr)
			}
			for _, want := range tc.stderr {
				if !strings.Contains(res.stderr, want) {
					t.Errorf("stderr = %q; want it to contain %q", res.stderr, want)
				}
			}
			for _, want := range tc.stdout {
				if !strings.Contains(res.stdout, want) {
					t.Errorf("stdout = %q; want it to contain %q", res.stdout, want)
				}
			}
			if !strings.Contains(res.stdout, "deployment d-1") {
				t.Errorf("stdout = %q; want the deployment id", res.stdout)
			}
			if n := svc.count("GET /v2/deployments"); tc.noPolls && n > 0 {
				t.Errorf("--detach polled deployments %d times", n)
			}
		})
	}
}

func TestScaleRestartDeleteRequests(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		call  string // the change request the verb must send
		body  string
		final step
	}{
		{"scale", []string{"app", "scale", "hello", "3"}, "PATCH /v2/apps/hello?force=false", `{"instances":3}`, step{`[]`, helloApp("V1", 3, 3, 0, 3)}},
		{"restart forced", []string{"app", "restart", "/hello/", "--force"}, "POST /v2/apps/hello/restart?force=true", "", step{`[]`, helloApp("V1", 2, 2, 0, 2)}},
		{"delete", []string{"app", "delete", "/hello"}, "DELETE /v2/apps/hello?force=true", "", step{`[]`, ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := &script{steps: []step{tc.final}, initial: helloApp("V0", 1, 1, 0, 1)}
			method, path, _ := strings.Cut(tc.call, " ")
			path, _, _ = strings.Cut(path, "?")
			svc := newFake(t, map[string]http.HandlerFunc{
				method + " " + path:   answer(200, `{"deploymentId": "d-1", "version": "V1"}`),
				"GET /v2/apps/hello":  sc.app,
				"GET /v2/deployments": sc.deployments,
			})
			res := runCLI(t, invocation{env: addrEnv(nil, svc, nil)}, tc.args...)
			if res.code != ExitOK {
				t.Fatalf("Run(%q) = %d; want 0\nstderr: %s", tc.args, res.code, res.stderr)
			}
			got := svc.bodyOf(tc.call)
			if len(got) != 1 || got[0] != tc.body {
				t.Errorf("Run(%q) sent %q to %s (calls %q); want body %q", tc.args, got, tc.call, svc.called(), tc.body)
			}
		})
	}
}

// An apply that changes nothing is answered with the app's version as it
// was and no deployment: the CLI says "unchanged" and waits for nothing.
func TestUnchangedApply(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		call string
	}{
		{"deploy", []string{"app", "deploy", "-"}, "PUT /v2/apps/hello"},
		{"scale", []string{"app", "scale", "/hello", "2"}, "PATCH /v2/apps/hello"},
	} {
		for _, asJSON := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s json=%v", tc.name, asJSON), func(t *testing.T) {
				svc := newFake(t, map[string]http.HandlerFunc{
					"GET /v2/apps/hello":  answer(200, `{"app": `+helloApp("V1", 2, 2, 0, 2)+`}`),
					tc.call:               answer(200, `{"deploymentId": "d-7", "version": "V1"}`),
					"GET /v2/deployments": answer(500, `{"message": "must not be called"}`),
				})
				args := tc.args
				if asJSON {
					args = append(args, "--json")
				}
				res := runCLI(t, invocation{env: addrEnv(nil, svc, nil), stdin: helloJSON}, args...)
				if res.code != ExitOK {
					t.Fatalf("Run(%q) = %d; want 0\nstderr: %s", args, res.code, res.stderr)
				}
				if n := svc.count(tc.call); n != 1 {
					t.Errorf("Run(%q) sent %s %d times; want once", args, tc.call, n)
				}
				if !asJSON {
					if want := "/hello unchanged (version V1)\n"; res.stdout != want {
						t.Errorf("Run(%q) stdout = %q; want %q", args, res.stdout, want)
					}
					return
				}
				var out changeResult
				if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
					t.Fatalf("--json printed %q: %v", res.stdout, err)
				}
				if want := (changeResult{App: "/hello", DeploymentID: "d-7", Version: "V1", Status: "unchanged"}); out != want {
					t.Errorf("--json = %+v; want %+v", out, want)
				}
			})
		}
	}
}

// The fields the services API ignored are named on stderr, on create and
// on update alike.
func TestDeployPrintsWarnings(t *testing.T) {
	warned := `"warnings": ["unknown field \"/intances\" ignored"]`
	for _, tc := range []struct {
		name   string
		routes map[string]http.HandlerFunc
	}{
		{"create", map[string]http.HandlerFunc{
			"GET /v2/apps/hello": answer(404, `{"message": "App '/hello' does not exist"}`),
			"POST /v2/apps":      answer(201, `{"id": "/hello", "version": "V1", `+warned+`}`),
		}},
		{"update", map[string]http.HandlerFunc{
			"GET /v2/apps/hello": answer(200, `{"app": `+helloApp("V0", 1, 1, 0, 1)+`}`),
			"PUT /v2/apps/hello": answer(200, `{"deploymentId": "d-1", "version": "V1", `+warned+`}`),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := newFake(t, tc.routes)
			res := runCLI(t, invocation{env: addrEnv(nil, svc, nil), stdin: `{"id": "/hello", "cmd": "x", "intances": 3}`}, "app", "deploy", "-", "--detach")
			if res.code != ExitOK {
				t.Fatalf("app deploy = %d; want 0\nstderr: %s", res.code, res.stderr)
			}
			if want := "warning: unknown field \"/intances\" ignored\n"; !strings.Contains(res.stderr, want) {
				t.Errorf("stderr = %q; want %q", res.stderr, want)
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	svc := newFake(t, map[string]http.HandlerFunc{
		"GET /v2/apps/nope": answer(404, `{"message": "App '/nope' does not exist"}`),
		// As the services API does: PUT creates a missing app, PATCH does not.
		"PUT /v2/apps/nope":   answer(422, `{"message": "Object is not valid", "details": [{"path": "/cmd", "errors": ["one of cmd or args is required"]}]}`),
		"PATCH /v2/apps/nope": answer(404, `{"message": "App '/nope' does not exist"}`),
		"GET /v2/apps/bad":    answer(404, `{"message": "App '/bad' does not exist"}`),
		"POST /v2/apps": answer(422, `{"message": "Object is not valid", "details": [
			{"path": "/instances", "errors": ["must be 0 or more (got -1)"]},
			{"path": "/healthChecks(0)/path", "errors": ["must start with /"]}]}`),
		"GET /v2/apps/locked": answer(200, `{"app": `+helloApp("V1", 1, 1, 0, 1)+`}`),
		"PUT /v2/apps/locked": answer(409, `{"message": "App is locked by one or more deployments. Override with the option '?force=true'.", "deployments": [{"id": "d-9"}]}`),
		"GET /v2/apps":        answer(503, `{"message": "cannot store the change: database down"}`),
	})
	jobs := newFake(t, map[string]http.HandlerFunc{
		"GET /v1/jobs/missing": answer(404, `{"message": "job \"missing\" does not exist"}`),
	})
	master := newFake(t, map[string]http.HandlerFunc{"GET /state": answer(200, apiFile(t, "state.json"))})
	env := addrEnv(master, svc, jobs)
	down := map[string]string{"CORRAL_SERVICES": closedURL(t), "CORRAL_MASTER": closedURL(t), "CORRAL_JOBS": closedURL(t)}
	invalid := writeFile(t, "bad.json", `{"id": "/bad", "instances": -1, "healthChecks": [{"path": "x"}]}`)
	locked := writeFile(t, "locked.json", `{"id": "/locked", "cmd": "sleep 1"}`)
	notJSON := writeFile(t, "x.json", `{"id": `)
	for _, tc := range []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stderr []string
	}{
		{"app not found", env, []string{"app", "show", "nope"}, ExitNotFound, []string{"App '/nope' does not exist"}},
		{"scale not found", env, []string{"app", "scale", "/nope", "2"}, ExitNotFound, []string{"app /nope does not exist"}},
		{"job not found", env, []string{"job", "show", "missing"}, ExitNotFound, []string{`job "missing" does not exist`}},
		{"task not found", env, []string{"task", "logs", "nope.123"}, ExitNotFound, []string{`no task "nope.123"`}},
		{"ambiguous task prefix", env, []string{"task", "logs", "web."}, ExitUsage, []string{"matches 3 tasks"}},
		{"services unreachable", down, []string{"app", "list"}, ExitUnreachable, []string{"cannot reach the services API", "CORRAL_SERVICES"}},
		{"master unreachable", down, []string{"agent", "list"}, ExitUnreachable, []string{"cannot reach the master API", "--master"}},
		{"jobs unreachable", down, []string{"job", "list"}, ExitUnreachable, []string{"cannot reach the jobs API"}},
		{"unavailable is unreachable", env, []string{"app", "list"}, ExitUnreachable, []string{"database down", "HTTP 503"}},
		{"validation error names fields", env, []string{"app", "deploy", invalid}, ExitFailed, []string{
			"Object is not valid", "\n  /instances: must be 0 or more (got -1)", "\n  /healthChecks(0)/path: must start with /"}},
		{"locked", env, []string{"app", "deploy", locked}, ExitFailed, []string{"locked by deployment(s) d-9; --force overrides"}},
		{"file not JSON", env, []string{"app", "deploy", notJSON}, ExitFailed, []string{"does not hold one app definition"}},
		{"file missing", env, []string{"app", "deploy", "/no/such/file.json"}, ExitUsage, []string{"cannot read /no/such/file.json"}},
		{"missing argument", env, []string{"app", "show"}, ExitUsage, []string{"missing arguments: want ID", "corral app show --help"}},
		{"extra argument", env, []string{"app", "list", "x"}, ExitUsage, []string{"unexpected arguments"}},
		{"bad instances", env, []string{"app", "scale", "/x", "many"}, ExitUsage, []string{"N must be a whole number"}},
		{"unknown flag", env, []string{"job", "list", "--bogus"}, ExitUsage, []string{"unknown flag --bogus"}},
		{"unknown verb", env, []string{"app", "frobnicate"}, ExitUsage, []string{`unknown verb "frobnicate"`}},
		{"no verb", env, []string{"job"}, ExitUsage, []string{"Usage: corral job <verb>"}},
		{"unknown group", env, []string{"nonsense"}, ExitUsage, []string{`unknown command "nonsense"`}},
		{"bad address", env, []string{"app", "list", "--services", "ftp://x"}, ExitUsage, []string{"--services"}},
		{"bad limit", env, []string{"job", "runs", "x", "--limit", "0"}, ExitUsage, []string{"--limit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runCLI(t, invocation{env: tc.env}, tc.args...)
			if res.code != tc.code {
				t.Fatalf("Run(%q) = %d; want %d\nstdout: %s\nstderr: %s", tc.args, res.code, tc.code, res.stdout, res.stderr)
			}
			for _, want := range tc.stderr {
				if !strings.Contains(res.stderr, want) {
					t.Errorf("Run(%q) stderr = %q; want it to contain %q", tc.args, res.stderr, want)
				}
			}
		})
	}
}

func TestAddressFlagsAndEnvironment(t *testing.T) {
	a := newFake(t, map[string]http.HandlerFunc{"GET /v2/apps": answer(200, `{"apps": [{"id": "/from-env"}]}`)})
	b := newFake(t, map[string]http.HandlerFunc{"GET /v2/apps": answer(200, `{"apps": [{"id": "/from-flag"}]}`)})
	env := map[string]string{"CORRAL_SERVICES": a.URL}
	if res := runCLI(t, invocation{env: env}, "app", "list"); !strings.Contains(res.stdout, "/from-env") {
		t.Errorf("with CORRAL_SERVICES, app list = %q; want the app of that API", res.stdout)
	}
	if res := runCLI(t, invocation{env: env}, "app", "list", "--services", strings.TrimPrefix(b.URL, "http://")); !strings.Contains(res.stdout, "/from-flag") {
		t.Errorf("--services (without scheme) should win over the environment; got %q %q", res.stdout, res.stderr)
	}
}

// app rollback deploys a stored version again: the one before the
// current by default, or the one named, without what the API adds to a
// stored version.
func TestAppRollback(t *testing.T) {
	svc := newFake(t, map[string]http.HandlerFunc{
		"GET /v2/apps/hello":          answer(200, `{"app": `+helloApp("V3", 2, 2, 0, 2)+`}`),
		"GET /v2/apps/hello/versions": answer(200, `{"versions": ["V3", "V2", "V1"]}`),
		"GET /v2/apps/hello/versions/V2": answer(200, `{"id": "/hello", "cmd": "sleep 2", "instances": 2, "version": "V2",
			"versionInfo": {"lastConfigChangeAt": "V2"}, "tasksRunning": 0, "tasks": []}`),
		"GET /v2/apps/hello/versions/V1": answer(200, `{"id": "/hello", "cmd": "sleep 1", "instances": 1, "version": "V1"}`),
		"GET /v2/apps/hello/versions/V9": answer(404, `{"message": "App '/hello' has no version V9"}`),
		"PUT /v2/apps/hello":             answer(200, `{"deploymentId": "d-4", "version": "V4"}`),
		"GET /v2/apps/gone":              answer(404, `{"message": "App '/gone' does not exist"}`),
	})
	env := addrEnv(nil, svc, nil)
	res := runCLI(t, invocation{env: env}, "app", "rollback", "hello", "--detach")
	if res.code != ExitOK || !strings.Contains(res.stdout, "Rolling /hello back to version V2") {
		t.Fatalf("app rollback = %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	var put map[string]any
	bodies := svc.bodyOf("PUT /v2/apps/hello?force=false&partialUpdate=false")
	if len(bodies) != 1 || json.Unmarshal([]byte(bodies[0]), &put) != nil {
		t.Fatalf("PUT bodies = %q", bodies)
	}
	if put["cmd"] != "sleep 2" || put["instances"] != float64(2) || put["version"] != nil || put["versionInfo"] != nil || put["tasks"] != nil || put["tasksRunning"] != nil {
		t.Errorf("app rollback stored %v; want version V2's definition without what the API adds", put)
	}
	if res := runCLI(t, invocation{env: env}, "app", "rollback", "hello", "V1", "--detach"); res.code != ExitOK || !strings.Contains(res.stdout, "back to version V1") {
		t.Errorf("app rollback hello V1 = %d %q %q", res.code, res.stdout, res.stderr)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"app", "rollback", "hello", "V9"}, ExitNotFound, "app /hello has no version V9"},
		{[]string{"app", "rollback", "hello", "V3"}, ExitFailed, "version V3 is the current one of app /hello"},
		{[]string{"app", "rollback", "gone"}, ExitNotFound, "app /gone does not exist"},
	} {
		if res := runCLI(t, invocation{env: env}, tc.args...); res.code != tc.code || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("corral %q = %d %q; want %d and %q", tc.args, res.code, res.stderr, tc.code, tc.want)
		}
	}
}

// While a deployment waits for offers, the progress says why each
// agent's offers do not fit (from the services API's queue), once per
// change, and so does the timeout.
func TestWaitingShowsAgentsReasons(t *testing.T) {
	sc := &script{steps: []step{{ourDeployment("waiting for offers to launch 2 instance(s)"), helloApp("V1", 2, 0, 0, 0)}}, initial: helloApp("V0", 1, 1, 0, 1)}
	queue := `{"queue": [{"app": {"id": "/other"}, "lastUnusedOffers": [{"agentId": "S9", "hostname": "x.test", "reasons": ["not this app"]}]},
		{"app": {"id": "/hello"}, "count": 2, "lastUnusedOffers": [
			{"agentId": "S2", "hostname": "agent1.test", "reasons": ["insufficient cpus: needs 8, offer has 1.2", "insufficient mem: needs 4096, offer has 900"]},
			{"agentId": "S1", "hostname": "agent0.test", "reasons": ["insufficient cpus: needs 8, offer has 0.8"]}]}]}`
	svc := newFake(t, map[string]http.HandlerFunc{
		"GET /v2/apps/hello":   sc.app,
		"PATCH /v2/apps/hello": answer(200, `{"deploymentId": "d-1", "version": "V1"}`),
		"GET /v2/deployments":  sc.deployments,
		"GET /v2/queue":        answer(200, queue),
	})
	res := runCLI(t, invocation{env: addrEnv(nil, svc, nil)}, "app", "scale", "/hello", "2", "--timeout", "100ms")
	if res.code != ExitFailed {
		t.Fatalf("exit %d; want %d (timed out)\nstderr: %s", res.code, ExitFailed, res.stderr)
	}
	lines := "  agent0.test: insufficient cpus: needs 8, offer has 0.8\n  agent1.test: insufficient cpus: needs 8, offer has 1.2; insufficient mem: needs 4096, offer has 900\n"
	if !strings.Contains(res.stdout, "/hello: waiting for offers to launch 2 instance(s)\n"+lines) || strings.Count(res.stdout, "agent0.test") != 1 || strings.Contains(res.stdout, "x.test") {
		t.Errorf("stdout:\n%s\nwant the wait followed once by each agent's reasons for /hello:\n%s", res.stdout, lines)
	}
	if !strings.Contains(res.stderr, "the agents' offers did not fit:\n"+lines) {
		t.Errorf("stderr:\n%s\nwant the timeout to carry the agents' reasons", res.stderr)
	}
	res = runCLI(t, invocation{env: addrEnv(nil, svc, nil)}, "app", "show", "/hello")
	if !regexp.MustCompile(`Not placed: +the last offers of each agent did not fit:\n +agent0.test: insufficient cpus: needs 8, offer has 0.8\n +agent1.test: insufficient cpus`).MatchString(res.stdout) {
		t.Errorf("app show:\n%s\nwant the agents' reasons under Not placed", res.stdout)
	}
}

func TestUnfit(t *testing.T) {
	agents := []apiclient.Agent{
		{Hostname: "a", Resources: apiclient.Resources{"cpus": 2.0, "mem": 4096.0, "disk": 100.0}},
		{Hostname: "b", Resources: apiclient.Resources{"cpus": 8.0, "mem": 1024.0, "disk": 100.0}},
	}
	for _, tc := range []struct {
		cpus, mem float64
		want      string
	}{
		{1, 512, ""},
		{8, 512, ""},
		{16, 512, "no agent can ever run an instance of /x as defined: it needs cpus 16 (the largest agent has 8); it will wait until a large enough agent registers"},
		{4, 2048, "no agent can ever run an instance of /x as defined: it needs its cpus, mem and disk together (each fits some agent, none fits all); it will wait until a large enough agent registers"},
		{1, 8192, "no agent can ever run an instance of /x as defined: it needs mem 8192 MB (the largest agent has 4096); it will wait until a large enough agent registers"},
	} {
		if got := unfit(appView{ID: "/x", CPUs: tc.cpus, Mem: tc.mem}, agents); got != tc.want {
			t.Errorf("unfit(cpus %v, mem %v) = %q; want %q", tc.cpus, tc.mem, got, tc.want)
		}
	}
}

// app deploy of a definition no agent can hold warns at once.
func TestDeployWarnsWhenNoAgentFits(t *testing.T) {
	svc := newFake(t, map[string]http.HandlerFunc{
		"GET /v2/apps/big": func(w http.ResponseWriter, r *http.Request) {
			answer(200, `{"app": {"id": "/big", "cmd": "x", "cpus": 64, "mem": 128, "instances": 1, "version": "V1", "deployments": [], "tasks": []}}`)(w, r)
		},
		"PUT /v2/apps/big": answer(200, `{"deploymentId": "d-1", "version": "V2"}`),
	})
	master := newFake(t, map[string]http.HandlerFunc{"GET /state": answer(200, apiFile(t, "state.json"))})
	file := writeFile(t, "big.json", `{"id": "/big", "cmd": "x", "cpus": 64}`)
	res := runCLI(t, invocation{env: addrEnv(master, svc, nil)}, "app", "deploy", file, "--detach")
	if !strings.Contains(res.stderr, "warning: no agent can ever run an instance of /big as defined: it needs cpus 64 (the largest agent has") {
		t.Errorf("app deploy of a too large app: stderr %q; want the warning", res.stderr)
	}
}
