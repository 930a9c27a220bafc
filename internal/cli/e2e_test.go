package cli_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"corral/internal/cli"
	"corral/internal/testcluster"
)

func TestMain(m *testing.M) { testcluster.Main(m) }

// client runs verbs in-process against a real cluster.
type client struct {
	t   *testing.T
	env map[string]string
}

func (c client) run(args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	var out, errw bytes.Buffer
	code = cli.Run(c.t.Context(), args, cli.Env{
		Stdout: &out, Stderr: &errw,
		Getenv:       func(k string) string { return c.env[k] },
		PollInterval: 100 * time.Millisecond,
	})
	return out.String(), errw.String(), code
}

// must runs a verb and fails the test unless it exits with want.
func (c client) must(want int, args ...string) string {
	c.t.Helper()
	start := time.Now()
	out, errOut, code := c.run(args...)
	c.t.Logf("corral %s (%v, exit %d)\n%s%s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), code, out, errOut)
	if code != want {
		c.t.Fatalf("corral %s = %d; want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out
}

func contains(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s: output lacks %q:\n%s", what, w, out)
		}
	}
}

// getJSON reads an API directly, to check the verbs' effects.
func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func TestVerbsAgainstARealCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	// Tasks serve HTTP on their ports: a range no other package's tests
	// use, so that health checks never reach another test's servers.
	c := testcluster.Start(t, testcluster.Options{Agents: 2, Resources: func(i int) string {
		return fmt.Sprintf("cpus:2;mem:1024;disk:1000;ports:[%d-%d]", 37100+i*100, 37199+i*100)
	}})
	svc := c.StartFramework("services")
	jobs := c.StartFramework("jobs")
	cl := client{t: t, env: map[string]string{"CORRAL_MASTER": c.URL, "CORRAL_SERVICES": svc.URL, "CORRAL_JOBS": jobs.URL}}

	// The example app: deploy waits until both instances are healthy.
	out := cl.must(cli.ExitOK, "app", "deploy", "../../examples/app.json", "--timeout", "90s")
	contains(t, "app deploy", out, "Creating /hello: deployment ", "/hello: instances running 2/2, healthy 2/2", "finished")
	var app struct {
		App struct {
			Instances, TasksRunning, TasksHealthy int
			Deployments                           []any
		} `json:"app"`
	}
	getJSON(t, svc.URL+"/v2/apps/hello", &app)
	if a := app.App; a.TasksHealthy != 2 || len(a.Deployments) != 0 {
		t.Fatalf("after app deploy returned: %+v; want 2 healthy, no deployment", a)
	}

	cl.must(cli.ExitOK, "app", "scale", "/hello", "1", "--timeout", "60s")
	getJSON(t, svc.URL+"/v2/apps/hello", &app)
	if a := app.App; a.Instances != 1 || a.TasksRunning != 1 {
		t.Fatalf("after app scale 1: %+v; want 1 instance running", a)
	}
	contains(t, "app list", cl.must(cli.ExitOK, "app", "list"), "/hello", "running")
	contains(t, "app show", cl.must(cli.ExitOK, "app", "show", "hello"), "python3 -m http.server $PORT0", "TASK_RUNNING", "healthy")

	var tasks []struct {
		ID, State, Framework, Host string
		Healthy                    *bool
	}
	if err := json.Unmarshal([]byte(cl.must(cli.ExitOK, "task", "list", "--app", "/hello", "--json")), &tasks); err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 1 || tasks[0].State != "TASK_RUNNING" || tasks[0].Framework != "services" || !strings.HasPrefix(tasks[0].ID, "hello.") ||
		tasks[0].Healthy == nil || !*tasks[0].Healthy {
		t.Fatalf("task list --app /hello = %+v; want its one running task", tasks)
	}
	if out := cl.must(cli.ExitOK, "task", "list"); !regexp.MustCompile(regexp.QuoteMeta(tasks[0].ID) + `\s+services\s+TASK_RUNNING\s+healthy\s`).MatchString(out) {
		t.Errorf("task list does not show %s as a healthy running services task:\n%s", tasks[0].ID, out)
	}
	// PYTHONUNBUFFERED makes the server's banner reach stdout at once;
	// the health checks' requests are logged on stderr.
	contains(t, "task logs", cl.must(cli.ExitOK, "task", "logs", tasks[0].ID), "Serving HTTP on")
	contains(t, "task logs --stderr", cl.must(cli.ExitOK, "task", "logs", tasks[0].ID, "--stderr"), `"GET / HTTP/1.1" 200`)
	// The master's route that task logs falls back on when the agent
	// cannot be reached directly answers in the agent's shape.
	var st struct {
		Frameworks []struct {
			Tasks []struct {
				ID      string `json:"id"`
				AgentID string `json:"slave_id"`
				Sandbox string `json:"sandbox"`
			} `json:"tasks"`
		} `json:"frameworks"`
	}
	getJSON(t, c.URL+"/state", &st)
	var read struct {
		Data   string `json:"data"`
		Offset int64  `json:"offset"`
	}
	for _, f := range st.Frameworks {
		for _, tk := range f.Tasks {
			if tk.ID == tasks[0].ID {
				getJSON(t, c.URL+"/agent/"+url.PathEscape(tk.AgentID)+"/files/read?"+url.Values{"path": {tk.Sandbox + "/stdout"}, "offset": {"0"}, "length": {"100"}}.Encode(), &read)
			}
		}
	}
	if !strings.Contains(read.Data, "Serving HTTP on") {
		t.Errorf("the master's /agent/ID/files/read answered %+v; want the task's stdout", read)
	}

	// The example chain of jobs, then a manual run of a child.
	out = cl.must(cli.ExitOK, "job", "add", "../../examples/jobs.json")
	if want := "created job hello-extract\ncreated job hello-transform\ncreated job hello-report\n"; out != want {
		t.Errorf("job add printed %q; want %q", out, want)
	}
	// Adding again updates in place.
	contains(t, "job add again", cl.must(cli.ExitOK, "job", "add", "../../examples/jobs.json"), "updated job hello-extract")
	contains(t, "job list", cl.must(cli.ExitOK, "job", "list"), "hello-extract", "* * * * * (Europe/Berlin)", "after hello-extract")
	contains(t, "job graph", cl.must(cli.ExitOK, "job", "graph"), "hello-extract", "└── hello-transform", "    └── hello-report")

	var run struct {
		ID     int64  `json:"id"`
		State  string `json:"state"`
		TaskID string `json:"taskId"`
	}
	if err := json.Unmarshal([]byte(cl.must(cli.ExitOK, "job", "run", "hello-transform", "--json", "--timeout", "60s")), &run); err != nil {
		t.Fatal(err)
	}
	if run.State != "SUCCEEDED" || run.TaskID == "" {
		t.Fatalf("job run = %+v; want a SUCCEEDED run with a task", run)
	}
	contains(t, "job runs", cl.must(cli.ExitOK, "job", "runs", "hello-transform"), "manual", "SUCCEEDED")
	contains(t, "task logs of the run", cl.must(cli.ExitOK, "task", "logs", run.TaskID), "transforming 42 rows")

	out = cl.must(cli.ExitOK, "cluster", "status")
	contains(t, "cluster status", out, "2 active of 2", "services (active", "jobs (active", "Services:", ": ok", "Jobs:")
	contains(t, "agent list", cl.must(cli.ExitOK, "agent", "list"), "agent0.test", "agent1.test", "registered")

	// Disable and enable, through the real API: the rest of the job stays.
	cl.must(cli.ExitOK, "job", "disable", "hello-extract")
	contains(t, "job show after disable", cl.must(cli.ExitOK, "job", "show", "hello-extract"), "Enabled:       no", "* * * * *")
	contains(t, "job enable", cl.must(cli.ExitOK, "job", "enable", "hello-extract"), "enabled job hello-extract: next run at ")
	contains(t, "job show after enable", cl.must(cli.ExitOK, "job", "show", "hello-extract"), "Enabled:       yes")
	contains(t, "job stop with nothing under way", cl.must(cli.ExitOK, "job", "stop", "hello-report"), "")

	// A failed run shows the end of its stderr, read through the master.
	cl.must(cli.ExitOK, "job", "add", writeTemp(t, `{"name": "boom", "onDemand": true, "command": "echo first >&2; echo it went boom >&2; exit 3", "cpus": 0.1, "mem": 32}`))
	_, errOut, code := cl.run("job", "run", "boom", "--timeout", "60s")
	if code != cli.ExitFailed || !strings.Contains(errOut, "  first\n  it went boom\n") || !strings.Contains(errOut, "ended FAILED") {
		t.Errorf("job run of a failing job = %d, stderr:\n%s\nwant exit %d with the end of its stderr", code, errOut, cli.ExitFailed)
	}

	// Logs of an app and of a job's run, both streams, prefixed.
	out = cl.must(cli.ExitOK, "app", "logs", "hello")
	contains(t, "app logs", out, "stdout| Serving HTTP on", `stderr| `, `"GET / HTTP/1.1" 200`, "hello.")
	contains(t, "job logs", cl.must(cli.ExitOK, "job", "logs", "hello-transform"), "stdout| transforming 42 rows")
	contains(t, "job logs of a failed run", cl.must(cli.ExitOK, "job", "logs", "boom"), "stderr| first\nstderr| it went boom\n")

	// Rolling the scale back: the version before it, with 2 instances.
	contains(t, "app rollback", cl.must(cli.ExitOK, "app", "rollback", "hello", "--timeout", "60s"), "Rolling /hello back to version", "finished")
	getJSON(t, svc.URL+"/v2/apps/hello", &app)
	if a := app.App; a.Instances != 2 || a.TasksRunning != 2 {
		t.Errorf("after app rollback: %+v; want the 2 instances of the version before the scale", a)
	}

	// Not found and unreachable, through the real APIs.
	cl.must(cli.ExitNotFound, "app", "show", "/nope")
	cl.must(cli.ExitNotFound, "job", "run", "nope")
	cl.must(cli.ExitFailed, "job", "add", writeTemp(t, `{"name": "bad", "command": "true", "schedule": "not a schedule"}`))

	// The binary: `corral agent list` is the client verb, and exit codes
	// reach the shell.
	bin := testcluster.Binary(t)
	cmd := exec.Command(bin, "agent", "list", "--master", c.URL)
	b, err := cmd.Output()
	if err != nil || !strings.Contains(string(b), "agent0.test") {
		t.Errorf("corral agent list = %v %q; want the agents", err, b)
	}
	cmd = exec.Command(bin, "job", "show", "nope")
	cmd.Env = append(cmd.Environ(), "CORRAL_JOBS="+jobs.URL)
	var ee *exec.ExitError
	if err := cmd.Run(); !errors.As(err, &ee) || ee.ExitCode() != cli.ExitNotFound {
		t.Errorf("corral job show nope: %v; want exit %d", err, cli.ExitNotFound)
	}

	cl.must(cli.ExitOK, "app", "delete", "/hello", "--timeout", "60s")
	cl.must(cli.ExitNotFound, "app", "show", "/hello")
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := t.TempDir() + "/job.json"
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// `corral app deploy` of a version whose instances crash exits 1 with the
// services API's reason as soon as the deployment fails (a crash loop,
// long before its progress deadline), naming the rollback; the app then
// returns to the version that worked.
func TestDeployOfACrashingVersionFails(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	c := testcluster.Start(t, testcluster.Options{Agents: 1, Resources: func(i int) string {
		return fmt.Sprintf("cpus:2;mem:1024;disk:1000;ports:[%d-%d]", 37300+i*100, 37399+i*100)
	}})
	svc := c.StartFramework("services")
	cl := client{t: t, env: map[string]string{"CORRAL_MASTER": c.URL, "CORRAL_SERVICES": svc.URL}}
	const def = `{"id": "/crashy", "cmd": %q, "instances": 1, "cpus": 0.1, "mem": 32,
		"portDefinitions": [{"port": 0, "name": "http"}],
		"healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0, "gracePeriodSeconds": 30, "intervalSeconds": 1, "timeoutSeconds": 1}],
		"upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 1, "autoRollback": true}}`
	works := "exec python3 -m http.server $PORT0 --bind 127.0.0.1"
	cl.must(cli.ExitOK, "app", "deploy", writeTemp(t, fmt.Sprintf(def, works)), "--timeout", "90s")

	out, errOut, code := cl.run("app", "deploy", writeTemp(t, fmt.Sprintf(def, "echo starting; exit 1")), "--timeout", "300s")
	t.Logf("corral app deploy (crashing version): exit %d\n%s%s", code, out, errOut)
	if code != cli.ExitFailed {
		t.Fatalf("app deploy of a crashing version = %d; want %d", code, cli.ExitFailed)
	}
	for _, want := range []string{"of /crashy failed: 3 new instances failed in a row (crash loop; the limit is 3)",
		"TASK_FAILED", "rolling back to the previous version: deployment "} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	testcluster.Eventually(t, 90*time.Second, func() bool {
		var app struct {
			App struct {
				Cmd          string
				TasksHealthy int
				Deployments  []any
			} `json:"app"`
		}
		getJSON(t, svc.URL+"/v2/apps/crashy", &app)
		return app.App.Cmd == works && app.App.TasksHealthy == 1 && len(app.App.Deployments) == 0
	}, "/crashy back on the version that works, healthy")
}
