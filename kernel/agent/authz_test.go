package agent

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"corral/internal/acl"
	"corral/internal/edge"
	"corral/internal/edge/edgetest"
	"corral/kernel/mesos"
)

// securedAgent starts an agent that demands credentials (ops may do
// everything, idle nothing, alice may read the sandboxes of tasks run as
// nobody) and returns its endpoint.
func securedAgent(t *testing.T, m *fakeMaster) string {
	t.Helper()
	cs, err := edge.ParseCredentials([]byte(`{"credentials": [{"principal": "ops", "secret": "0ps"}, {"principal": "idle", "secret": "1dle"}, {"principal": "alice", "secret": "al1ce"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	a, err := acl.Parse([]byte(`{"permissive": false,
		"access_sandboxes": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}}, {"principals": {"values": ["alice"]}, "users": {"values": ["nobody"]}}],
		"view_tasks": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}}],
		"get_endpoints": [{"principals": {"values": ["ops"]}, "paths": {"type": "ANY"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := userConfig(t, m.srv.URL)
	cfg.EnableDebug = true
	cfg.Trust = edge.Trust{Credentials: cs, ACLs: a}
	startAgent(t, cfg)
	return m.waitRegister(t).Register.Info.Endpoint
}

func getAs(t *testing.T, principal, secret, u string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if principal != "" {
		req.SetBasicAuth(principal, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestSandboxesByUser: access_sandboxes decides, per task, by the user the
// task runs as; anonymous callers get 401.
func TestSandboxesByUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("switching users needs root")
	}
	m := newFakeMaster(t)
	ep := securedAgent(t, m)
	nobody := cmdTask("as-nobody", "echo hi; sleep 100")
	nobody.Command.User = "nobody"
	daemon := cmdTask("as-daemon", "echo hi; sleep 100")
	daemon.Command.User = "daemon"
	daemon.Resources = daemon.Resources[:2]
	m.event(launchAs("F", "nobody", nobody, daemon))
	m.waitState(t, "as-nobody", mesos.TaskRunning, 10*time.Second)
	m.waitState(t, "as-daemon", mesos.TaskRunning, 10*time.Second)
	read := func(task string) string {
		return ep + "/files/read?path=" + url.QueryEscape("F/"+task+"/stdout") + "&offset=0&length=10"
	}
	for _, c := range []struct {
		who, secret, task string
		want              int
	}{
		{"", "", "as-nobody", 401},
		{"idle", "1dle", "as-nobody", 403},
		{"alice", "al1ce", "as-nobody", 200},
		{"alice", "al1ce", "as-daemon", 403},
		{"ops", "0ps", "as-daemon", 200},
	} {
		if got := getAs(t, c.who, c.secret, read(c.task)); got != c.want {
			t.Errorf("read %s's stdout as %q = %d; want %d", c.task, c.who, got, c.want)
		}
	}
	if got := getAs(t, "idle", "1dle", ep+"/metrics"); got != 403 {
		t.Errorf("/metrics as idle = %d; want 403 (get_endpoints)", got)
	}
	if got := getAs(t, "idle", "1dle", ep+"/debug/pprof/cmdline"); got != 403 {
		t.Errorf("/debug/pprof as idle = %d; want 403", got)
	}
	if got := getAs(t, "ops", "0ps", ep+"/metrics"); got != 200 {
		t.Errorf("/metrics as ops = %d; want 200", got)
	}
}

// TestEveryAgentRouteIsGuarded: the agent's route table through the auth
// matrix (see edgetest).
func TestEveryAgentRouteIsGuarded(t *testing.T) {
	m := newFakeMaster(t)
	cs, err := edge.ParseCredentials([]byte(`{"credentials": [{"principal": "ops", "secret": "0ps"}, {"principal": "idle", "secret": "1dle"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, m.srv.URL)
	cfg.EnableDebug = true
	cfg.Trust = edge.Trust{Credentials: cs, ACLs: edgetest.ACLs(t, "ops")}
	a, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.runner.Close)
	startAgent(t, cfg)
	ep := m.waitRegister(t).Register.Info.Endpoint
	table := map[string]edgetest.Case{
		"GET /health":  {Access: edgetest.Open},
		"GET /state":   {Access: edgetest.Filtered},
		"GET /metrics": {Access: edgetest.Guarded},
		"GET /files/*": {Access: edgetest.Guarded, Path: "/files/browse?path=."},
		// Executors present the token the agent gave them, nothing else.
		"POST /api/v1/executor":          {Access: edgetest.Token},
		"POST /slave(1)/api/v1/executor": {Access: edgetest.Token},
	}
	for _, meth := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		table[meth+" /debug/*"] = edgetest.Case{Access: edgetest.Guarded, Path: "/debug/pprof/"}
	}
	edgetest.Check(t, ep, http.DefaultClient, edgetest.Routes(t, a.routes()), table,
		edgetest.Who{Allowed: [2]string{"ops", "0ps"}, Denied: [2]string{"idle", "1dle"}})
}

func TestUnsearchable(t *testing.T) {
	dir := t.TempDir() // the testing package makes its parent 0700
	if got := unsearchable(dir); got == "" {
		t.Fatalf("unsearchable(%s) = \"\"; want a directory above it", dir)
	}
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if got := unsearchable(dir); got != "" && got != os.TempDir() {
		t.Fatalf("unsearchable after chmod = %q; want \"\"", got)
	}
}
