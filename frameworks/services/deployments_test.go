package services

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"corral/frameworks/services/app"
	"corral/kernel/mesos"
)

// An app stored before upgradeStrategy had progressDeadlineSeconds and
// autoRollback loads with their defaults, and sending its definition
// again changes nothing: no restart for a field its JSON lacked.
func TestStoredAppGetsNewDefaults(t *testing.T) {
	db := newDB(t)
	s := startServer(t, db)
	def := `{"id":"/old","cmd":"sleep 1","instances":0,"upgradeStrategy":{"minimumHealthCapacity":0.5,"maximumOverCapacity":0}}`
	v1, _ := get(s.must(http.StatusCreated, "POST", "/v2/apps", def).json(t), "version").(string)
	s.settle("/old")
	rec, err := s.store.App(t.Context(), "/old")
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(rec.Spec, &spec); err != nil {
		t.Fatal(err)
	}
	spec["upgradeStrategy"] = map[string]any{"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0}
	old, _ := json.Marshal(spec)
	if err := s.store.PutApp(t.Context(), "/old", rec.Version, old); err != nil {
		t.Fatal(err)
	}
	s.stop()

	s2 := startServer(t, db)
	us := s2.app("/old")["upgradeStrategy"]
	if get(us, "progressDeadlineSeconds") != 600.0 || get(us, "autoRollback") != false {
		t.Errorf("upgradeStrategy of an app stored without the new fields = %v; want progressDeadlineSeconds 600, autoRollback false", us)
	}
	_, v := deploymentResultOf(t, s2.do("PUT", "/v2/apps/old", def), http.StatusOK)
	if v != v1 {
		t.Errorf("PUT of the same definition = version %s; want the unchanged %s", v, v1)
	}
}

// Bad values of the deployment fields are a 422 naming each.
func TestDeploymentFieldsValidated(t *testing.T) {
	s := startServer(t, newDB(t))
	for _, tc := range []struct {
		name, body string
		paths      []string
	}{
		{"negative deadline", `{"upgradeStrategy":{"progressDeadlineSeconds":-5}}`, []string{"/upgradeStrategy/progressDeadlineSeconds"}},
		{"deadline not a number", `{"upgradeStrategy":{"progressDeadlineSeconds":"10m"}}`, []string{"/upgradeStrategy/progressDeadlineSeconds"}},
		{"rollback not a boolean", `{"upgradeStrategy":{"autoRollback":"yes"}}`, []string{"/upgradeStrategy/autoRollback"}},
		{"readiness on an unnamed port", `{"readinessChecks":[{"path":"/ready"}]}`, []string{"/readinessChecks(0)/portName"}},
		{"readiness bad values", `{"portDefinitions":[{"port":0,"name":"http"}],"readinessChecks":[{"portName":"http","protocol":"TCP",
			"intervalSeconds":1,"timeoutSeconds":1,"httpStatusCodesForReady":[42]}]}`,
			[]string{"/readinessChecks(0)/protocol", "/readinessChecks(0)/intervalSeconds", "/readinessChecks(0)/httpStatusCodesForReady(0)"}},
		{"two readiness checks", `{"portDefinitions":[{"port":0,"name":"http-api"}],"readinessChecks":[{},{}]}`, []string{"/readinessChecks"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := s.with(t)
			body := `{"id":"/v","cmd":"sleep 1","instances":0,` + strings.TrimPrefix(tc.body, "{")
			r := s.do("POST", "/v2/apps", body)
			want := http.StatusUnprocessableEntity
			if strings.Contains(tc.name, "not a") {
				want = http.StatusBadRequest // a wrong JSON type
			}
			if r.code != want {
				t.Fatalf("%s %s = %d %s; want %d", r, body, r.code, r.body, want)
			}
			var got []string
			for _, d := range get(r.json(t), "details").([]any) {
				got = append(got, get(d, "path").(string))
			}
			if strings.Join(got, " ") != strings.Join(tc.paths, " ") {
				t.Errorf("%s %s details at %v; want %v", r, body, got, tc.paths)
			}
		})
	}
	if got := s.storedApps(); len(got) != 0 {
		t.Errorf("stored apps after refused requests = %v; want none", got)
	}
}

// history returns GET /v2/deployments?history=true.
func (s *server) history() []any {
	s.t.Helper()
	list, _ := s.must(http.StatusOK, "GET", "/v2/deployments?history=true", "").json(s.t).([]any)
	return list
}

// ended waits until deployment id is in the history with an outcome, and
// returns its entry.
func (s *server) ended(id string) map[string]any {
	s.t.Helper()
	var found map[string]any
	eventually(s.t, "deployment "+id+" ends", func() bool {
		for _, d := range s.history() {
			if get(d, "id") == id && get(d, "status") != "running" {
				found = d.(map[string]any)
				return true
			}
		}
		return false
	})
	return found
}

// waitEvent returns the data of the next event of type typ on ch.
func waitEvent(t *testing.T, ch <-chan frame, typ string) map[string]any {
	t.Helper()
	for {
		f := nextFrame(t, ch)
		if f.event != typ {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(f.data), &m); err != nil {
			t.Fatalf("%s event %s: %v", typ, f.data, err)
		}
		return m
	}
}

// A deployment that cannot progress (no agent ever offers anything here)
// fails at its progressDeadlineSeconds: it leaves the running ones, joins
// the history with its reason, is published as deployment_failed, and a
// start is not rolled back (there is nothing to return to).
func TestDeploymentFailsAtItsDeadline(t *testing.T) {
	db := newDB(t)
	s := startServer(t, db)
	events, stop := s.openEvents("?event_type=deployment_failed&event_type=deployment_step_failure")
	defer stop()
	r := s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/stuck","cmd":"sleep 100","instances":2,
		"upgradeStrategy":{"progressDeadlineSeconds":0.2,"autoRollback":true}}`)
	id := r.header.Get("Marathon-Deployment-Id")
	e := s.ended(id)
	if e["status"] != "failed" || get(e, "failure", "kind") != "progressDeadline" || e["finishedAt"] == nil {
		t.Errorf("history entry of %s = %v; want failed at its progress deadline, with finishedAt", id, e)
	}
	reason, _ := e["reason"].(string)
	for _, want := range []string{"no progress for 200ms (progressDeadlineSeconds 0.2)", "step 1 of 1, StartApplication /stuck",
		"0 of 2 new instances ready", "2 instances not launched", "waiting for offers"} {
		if !strings.Contains(reason, want) {
			t.Errorf("reason %q; want it to contain %q", reason, want)
		}
	}
	if notes := anyString(e["notes"]); !strings.Contains(notes, "/stuck: not rolled back: it has no previous version") || e["rollbackDeploymentId"] != nil {
		t.Errorf("a failed start: notes %q, rollback %v; want no rollback, and why", notes, e["rollbackDeploymentId"])
	}
	if slices.Contains(s.deploymentIDs(), id) {
		t.Errorf("GET /v2/deployments still lists the failed %s", id)
	}
	step := waitEvent(t, events, "deployment_step_failure")
	failed := waitEvent(t, events, "deployment_failed")
	if get(step, "plan", "id") != id || failed["id"] != id || failed["reason"] != reason || get(failed, "plan", "affectedApps", 0) != "/stuck" {
		t.Errorf("events: deployment_step_failure %v, deployment_failed %v; want both for %s with the reason", step, failed, id)
	}
	// The app stays as it was asked for, without a deployment.
	if a := s.app("/stuck"); a["instances"] != 2.0 || len(ids(a["deployments"])) != 0 {
		t.Errorf("after the failure the app = instances %v, deployments %v; want 2, none", a["instances"], a["deployments"])
	}
	eventually(t, "the failed deployment leaves the store", func() bool { return !slices.Contains(s.storedDeployments(), id) })

	// The history survives a restart; its ended deployments are not run.
	s.stop()
	s2 := startServer(t, db)
	var again map[string]any
	for _, d := range s2.history() {
		if get(d, "id") == id {
			again = d.(map[string]any)
		}
	}
	if again["status"] != "failed" || again["reason"] != reason {
		t.Errorf("after a restart the history has %v; want %s failed with its reason", again, id)
	}
	if slices.Contains(s2.deploymentIDs(), id) {
		t.Errorf("after a restart GET /v2/deployments lists the failed %s", id)
	}
}

// A new version that never becomes ready fails at its deadline and, with
// autoRollback, the app returns to its previous definition: a deployment
// that keeps the old version's instances (they run the definition it
// returns to) and so succeeds at once here, without touching them.
func TestAutoRollbackKeepsTheOldInstances(t *testing.T) {
	s := startServer(t, newDB(t))
	v1 := `{"id":"/rb","cmd":"sleep 100","instances":2,"upgradeStrategy":{"minimumHealthCapacity":1,"maximumOverCapacity":1,"progressDeadlineSeconds":600,"autoRollback":true}}`
	s.must(http.StatusCreated, "POST", "/v2/apps", v1)
	old := []string{s.seedTask("/rb", "h1", mesos.TaskRunning), s.seedTask("/rb", "h2", mesos.TaskRunning)}
	s.settle("/rb")
	before := s.app("/rb")
	cv1 := get(before, "versionInfo", "lastConfigChangeAt")

	nextMillisecond()
	id, _ := deploymentResultOf(t, s.do("PUT", "/v2/apps/rb", `{"cmd":"sleep 200","upgradeStrategy":{"progressDeadlineSeconds":0.2,"autoRollback":true}}`), http.StatusOK)
	e := s.ended(id)
	rb, _ := e["rollbackDeploymentId"].(string)
	if e["status"] != "failed" || rb == "" {
		t.Fatalf("history entry of %s = %v; want failed and rolled back", id, e)
	}
	r := s.ended(rb)
	if r["status"] != "succeeded" || r["rollbackOf"] != id || get(r, "currentActions", 0, "action") != "RestartApplication" {
		t.Errorf("history entry of the rollback %s = %v; want a succeeded RestartApplication, rollbackOf %s", rb, r, id)
	}
	a := s.app("/rb")
	if a["cmd"] != "sleep 100" || get(a, "upgradeStrategy", "progressDeadlineSeconds") != 600.0 || get(a, "versionInfo", "lastConfigChangeAt") != cv1 {
		t.Errorf("after the rollback cmd %v, deadline %v, lastConfigChangeAt %v; want sleep 100, 600, %v (the old configuration)",
			a["cmd"], get(a, "upgradeStrategy", "progressDeadlineSeconds"), get(a, "versionInfo", "lastConfigChangeAt"), cv1)
	}
	var tasks []string
	for _, tk := range a["tasks"].([]any) {
		tasks = append(tasks, get(tk, "id").(string))
	}
	slices.Sort(tasks)
	slices.Sort(old)
	if !slices.Equal(tasks, old) {
		t.Errorf("tasks after the rollback = %v; want the old ones %v, kept", tasks, old)
	}
	s.must(http.StatusOK, "GET", "/v2/apps/rb", "") // still there
	if err := s.svc.do(t.Context(), func(c *core) {
		for _, tid := range old {
			if in := c.instances[tid]; in == nil || in.Killing {
				t.Errorf("old instance %s killed by the rollback", tid)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
}

// New instances that fail in a row fail their deployment as a crash loop
// at the framework's limit (3 by default), long before its deadline,
// naming them.
func TestCrashLoopFailsTheDeployment(t *testing.T) {
	s := startServer(t, newDB(t))
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/crash","cmd":"sleep 100","instances":0}`)
	s.settle("/crash")
	id, _ := deploymentResultOf(t, s.do("PUT", "/v2/apps/crash", `{"cmd":"exit 1","instances":1}`), http.StatusOK)
	fail := func(n int) string {
		tid := s.seedTask("/crash", "h"+strconv.Itoa(n), mesos.TaskStaging)
		if err := s.svc.do(t.Context(), func(c *core) {
			c.update(mesos.TaskStatus{TaskID: mesos.ID{Value: tid}, State: mesos.TaskFailed, Message: "Command exited with status 1"}, time.Now())
		}); err != nil {
			t.Fatal(err)
		}
		return tid
	}
	first, second := fail(1), fail(2)
	if !slices.Contains(s.deploymentIDs(), id) {
		t.Fatalf("deployment %s ended after 2 failures; want it to run until the 3rd", id)
	}
	third := fail(3)
	e := s.ended(id)
	reason, _ := e["reason"].(string)
	want := "3 new instances failed in a row (crash loop; the limit is 3): step 1 of 1, RestartApplication /crash: " +
		first + " on h1: TASK_FAILED: Command exited with status 1; " + second + " on h2: TASK_FAILED: Command exited with status 1; " +
		third + " on h3: TASK_FAILED: Command exited with status 1"
	if e["status"] != "failed" || get(e, "failure", "kind") != "crashLoop" || reason != want {
		t.Errorf("history entry of %s = %v;\nwant failed as a crash loop with reason %q", id, e, want)
	}
	// Without autoRollback the app keeps its new definition.
	if a := s.app("/crash"); a["cmd"] != "exit 1" {
		t.Errorf("cmd after the failure = %v; want the new one kept", a["cmd"])
	}
}

// Readiness gates a new instance: healthy (or, without health checks,
// running) it is not ready until its check answers one of
// httpStatusCodesForReady; meanwhile the old instance stays and the
// results show in readinessCheckResults. Once it passes, the old one is
// killed.
func TestReadinessGatesNewInstances(t *testing.T) {
	var ready atomic.Bool
	check := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if r.URL.Path != "/ready" || !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("warming up"))
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer check.Close()
	_, portText, _ := net.SplitHostPort(strings.TrimPrefix(check.URL, "http://"))
	port, _ := strconv.ParseUint(portText, 10, 64)

	s := startServer(t, newDB(t))
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/gate","cmd":"sleep 100","instances":1,"portDefinitions":[{"port":0,"name":"http"}]}`)
	old := s.seedTask("/gate", "h1", mesos.TaskRunning)
	s.settle("/gate")
	id, _ := deploymentResultOf(t, s.do("PUT", "/v2/apps/gate", `{"cmd":"sleep 200","readinessChecks":[{"name":"warm","portName":"http","path":"/ready",
		"intervalSeconds":2,"timeoutSeconds":1,"httpStatusCodesForReady":[200,204],"preserveLastResponse":true}]}`), http.StatusOK)
	fresh := app.NewTaskID("/gate")
	if err := s.svc.do(t.Context(), func(c *core) {
		as := c.apps["/gate"]
		now := time.Now()
		c.addInstance(&instance{TaskID: fresh, AppID: "/gate", Version: as.app.Version, ConfigVersion: configVersion(as.app),
			AgentID: "agent-1", Host: "127.0.0.1", Ports: []uint64{port}, State: mesos.TaskRunning, StagedAt: now, StartedAt: now})
		c.dirty[fresh] = true
	}); err != nil {
		t.Fatal(err)
	}

	results := func() []any {
		rs, _ := s.app("/gate")["readinessCheckResults"].([]any)
		return rs
	}
	eventually(t, "the new instance's readiness check answers", func() bool { return len(results()) == 1 })
	r := results()[0]
	if get(r, "name") != "warm" || get(r, "taskId") != fresh || get(r, "ready") != false ||
		get(r, "lastResponse", "status") != 503.0 || get(r, "lastResponse", "body") != "warming up" || get(r, "lastResponse", "contentType") != "text/plain" {
		t.Errorf("readinessCheckResults = %v; want %s not ready, its last response 503 text/plain \"warming up\"", results(), fresh)
	}
	var cur []any
	for _, d := range s.must(http.StatusOK, "GET", "/v2/deployments", "").json(t).([]any) {
		if get(d, "id") == id {
			cur, _ = get(d, "currentActions", 0, "readinessCheckResults").([]any)
			if w := anyString(get(d, "currentActions", 0, "waiting")); !strings.Contains(w, "pass the readiness check") {
				t.Errorf("deployment %s waits for %q; want it to say the readiness check", id, w)
			}
		}
	}
	if len(cur) != 1 || get(cur[0], "taskId") != fresh {
		t.Errorf("deployment %s readinessCheckResults = %v; want the new instance's", id, cur)
	}
	killing := func(tid string) (k bool) {
		_ = s.svc.do(t.Context(), func(c *core) { k = c.instances[tid] != nil && c.instances[tid].Killing })
		return k
	}
	if killing(old) {
		t.Fatalf("the old instance was killed before the new one was ready")
	}

	ready.Store(true)
	eventually(t, "the new instance is ready", func() bool { rs := results(); return len(rs) == 1 && get(rs[0], "ready") == true })
	if got := get(results()[0], "lastResponse", "status"); got != 200.0 {
		t.Errorf("last response once ready = %v; want 200", got)
	}
	eventually(t, "the old instance is killed", func() bool { return killing(old) })
}

// Every way a deployment ends joins the history: success, a rollback
// through the API (which keeps the instances of the definition it
// returns to), a forced change, a forced stop.
func TestDeploymentHistory(t *testing.T) {
	s := startServer(t, newDB(t))
	start := s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/h","cmd":"sleep 100","instances":1}`).header.Get("Marathon-Deployment-Id")
	v1task := s.seedTask("/h", "h1", mesos.TaskRunning)
	if e := s.ended(start); e["status"] != "succeeded" || e["reason"] != nil || get(e, "currentActions", 0, "action") != "StartApplication" {
		t.Errorf("history entry of the start = %v; want succeeded, without a reason", e)
	}

	nextMillisecond()
	change, _ := deploymentResultOf(t, s.do("PUT", "/v2/apps/h", `{"cmd":"sleep 200"}`), http.StatusOK)
	rollback, _ := deploymentResultOf(t, s.do("DELETE", "/v2/deployments/"+change, ""), http.StatusOK)
	if e := s.ended(change); e["status"] != "cancelled" || e["reason"] != "rolled back by deployment "+rollback {
		t.Errorf("history entry of the rolled back change = %v; want cancelled, rolled back by %s", e, rollback)
	}
	if e := s.ended(rollback); e["status"] != "succeeded" {
		t.Errorf("history entry of the rollback = %v; want succeeded (the old instance runs the old definition)", e)
	}
	if a := s.app("/h"); a["cmd"] != "sleep 100" || len(a["tasks"].([]any)) != 1 || get(a, "tasks", 0, "id") != v1task {
		t.Errorf("after the rollback cmd %v, tasks %v; want sleep 100 and %s kept", a["cmd"], a["tasks"], v1task)
	}

	nextMillisecond()
	first, _ := deploymentResultOf(t, s.do("PUT", "/v2/apps/h", `{"cmd":"sleep 300"}`), http.StatusOK)
	forced, _ := deploymentResultOf(t, s.do("PUT", "/v2/apps/h?force=true", `{"cmd":"sleep 400"}`), http.StatusOK)
	if e := s.ended(first); e["status"] != "cancelled" || e["reason"] != "cancelled by a forced change: deployment "+forced {
		t.Errorf("history entry of the overridden change = %v; want cancelled by %s", e, forced)
	}
	s.must(http.StatusAccepted, "DELETE", "/v2/deployments/"+forced+"?force=true", "")
	if e := s.ended(forced); e["status"] != "stopped" || e["reason"] != "stopped with force=true" {
		t.Errorf("history entry of the stopped change = %v; want stopped with force=true", e)
	}

	// Newest first, after the running ones; without history=true, only
	// the running ones, in Marathon's shape.
	var order []string
	for _, d := range s.history() {
		order = append(order, anyString(get(d, "id")))
	}
	if want := []string{forced, first, rollback, change, start}; !slices.Equal(order, want) {
		t.Errorf("history order = %v; want %v", order, want)
	}
	if got := s.deploymentIDs(); len(got) != 0 {
		t.Errorf("GET /v2/deployments = %v; want none running", got)
	}
	stored, err := s.store.DeploymentHistory(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the history is stored", func() bool {
		stored, err = s.store.DeploymentHistory(t.Context(), 10)
		return err == nil && len(stored) == 5
	})
}

// rollbackChanges: only the apps that ask for autoRollback, and only to
// a definition they had; never a rollback of a rollback.
func TestRollbackChanges(t *testing.T) {
	def := func(cmd string, rollback bool) app.App {
		a := app.App{ID: "/a", Cmd: &cmd, Instances: 2}
		a.Normalize()
		a.UpgradeStrategy.AutoRollback = rollback
		a.Version = "2026-01-01T00:00:00.000Z"
		a.VersionInfo = &app.VersionInfo{LastScalingAt: a.Version, LastConfigChangeAt: "2026-01-01T00:00:00.000Z"}
		return a
	}
	raw := func(a app.App) json.RawMessage { b, _ := json.Marshal(a); return b }
	prev := def("old", false)
	cur := def("new", true)
	cur.VersionInfo = &app.VersionInfo{LastConfigChangeAt: "2026-02-01T00:00:00.000Z"}
	unscaled := def("old", true)
	scaled := unscaled
	scaled.Instances = 5
	tests := []struct {
		name   string
		d      deployment
		cur    map[string]app.App
		action action // of the one change; "" for none
		note   string
	}{
		{"restart rolled back", deployment{Apps: []string{"/a"}, Actions: map[string]action{"/a": actionRestart}, Previous: map[string]json.RawMessage{"/a": raw(prev)}},
			map[string]app.App{"/a": cur}, actionRestart, ""},
		{"scale rolled back", deployment{Apps: []string{"/a"}, Actions: map[string]action{"/a": actionScale}, Previous: map[string]json.RawMessage{"/a": raw(unscaled)}},
			map[string]app.App{"/a": scaled}, actionScale, ""},
		{"no autoRollback", deployment{Apps: []string{"/a"}, Actions: map[string]action{"/a": actionRestart}, Previous: map[string]json.RawMessage{"/a": raw(prev)}},
			map[string]app.App{"/a": def("new", false)}, "", ""},
		{"a start", deployment{Apps: []string{"/a"}, Actions: map[string]action{"/a": actionStart}},
			map[string]app.App{"/a": cur}, "", "it has no previous version"},
		{"a rollback", deployment{Apps: []string{"/a"}, Actions: map[string]action{"/a": actionRestart}, Previous: map[string]json.RawMessage{"/a": raw(prev)}, RollbackOf: "d-0"},
			map[string]app.App{"/a": cur}, "", "this deployment rolled back d-0"},
		{"deleted meanwhile", deployment{Apps: []string{"/a"}, Actions: map[string]action{"/a": actionRestart}, Previous: map[string]json.RawMessage{"/a": raw(prev)}},
			map[string]app.App{}, "", ""},
		{"unreadable previous", deployment{Apps: []string{"/a"}, Actions: map[string]action{"/a": actionRestart}, Previous: map[string]json.RawMessage{"/a": json.RawMessage(`{"cpus":"x"}`)}},
			map[string]app.App{"/a": cur}, "", "not rolled back: previous definition of /a unreadable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changes, notes := rollbackChanges(&tt.d, tt.cur)
			switch {
			case tt.action == "" && len(changes) != 0:
				t.Errorf("rollbackChanges = %+v; want none", changes)
			case tt.action != "" && (len(changes) != 1 || changes[0].action != tt.action || *changes[0].next.Cmd != "old" ||
				changes[0].config != "2026-01-01T00:00:00.000Z"):
				t.Errorf("rollbackChanges = %+v; want one %s back to cmd old, keeping its configuration version", changes, tt.action)
			}
			if got := strings.Join(notes, "; "); tt.note == "" && got != "" || !strings.Contains(got, tt.note) {
				t.Errorf("rollbackChanges notes = %q; want %q", got, tt.note)
			}
		})
	}
}
