package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"corral/internal/testcluster"
	"corral/kernel/agent"
	"corral/kernel/mesos"
)

func plainInfo(name string) mesos.FrameworkInfo {
	ft := mesos.Float(3600)
	return mesos.FrameworkInfo{User: "nobody", Name: name, FailoverTimeout: &ft,
		Capabilities: []mesos.Capability{{Type: mesos.CapPartitionAware}}}
}

func TestTaskLifecycle(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Agents: 2})
	f := startFramework(t, c.URL, plainInfo("lifecycle"))

	f.launch(
		shellTask("ok", "exit 0", 0.1, 32),
		shellTask("three", "echo failing >&2; exit 3", 0.1, 32),
		shellTask("sleeper", "sleep 600", 0.1, 32),
		shellTask("env", `test "$CORRAL_TASK_ID" = env && test -d "$MESOS_SANDBOX" && test "$MESOS_TASK_ID" = env`, 0.1, 32),
	)
	if st := f.waitState("ok", 30*time.Second, mesos.TaskFinished, mesos.TaskFailed); st.State != mesos.TaskFinished {
		t.Errorf("exit 0: %s %s", st.State, st.Message)
	}
	st := f.waitState("three", 30*time.Second, mesos.TaskFinished, mesos.TaskFailed)
	if st.State != mesos.TaskFailed || !strings.Contains(st.Message, "3") {
		t.Errorf("exit 3: %s %q; want TASK_FAILED naming status 3", st.State, st.Message)
	}
	if st := f.waitState("env", 30*time.Second, mesos.TaskFinished, mesos.TaskFailed); st.State != mesos.TaskFinished {
		t.Errorf("environment check: %s %s", st.State, st.Message)
	}
	run := f.waitState("sleeper", 30*time.Second, mesos.TaskRunning)
	if err := f.client.Kill(t.Context(), "sleeper", run.AgentID.Value); err != nil {
		t.Fatal(err)
	}
	if st := f.waitState("sleeper", 30*time.Second, mesos.TaskKilled, mesos.TaskFailed); st.State != mesos.TaskKilled {
		t.Errorf("kill: %s %s", st.State, st.Message)
	}
	for _, id := range []string{"ok", "three", "sleeper", "env"} {
		if d, n := countTerminal(f.history(id)); d != 1 {
			t.Errorf("task %s: %d distinct terminal updates (%d in all): %v", id, d, n, statesOf(f.history(id)))
		}
	}

	// The sandbox of a finished task can be read through its agent.
	var sandbox, agentURL string
	for _, fw := range c.State().Frameworks {
		for _, tk := range append(fw.Tasks, fw.CompletedTasks...) {
			if tk.ID == "three" {
				sandbox = tk.Sandbox
				for _, a := range c.State().Agents {
					if a.ID == tk.AgentID {
						agentURL = a.Endpoint
					}
				}
			}
		}
	}
	if sandbox == "" || agentURL == "" {
		t.Fatalf("task 'three' has no sandbox (%q) or agent (%q) in /state", sandbox, agentURL)
	}
	resp, err := http.Get(agentURL + "/files/read?offset=0&path=" + url.QueryEscape(sandbox+"/stderr"))
	if err != nil {
		t.Fatal(err)
	}
	var read struct {
		Data   string `json:"data"`
		Offset int64  `json:"offset"`
	}
	err = json.NewDecoder(resp.Body).Decode(&read)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !strings.Contains(read.Data, "failing") {
		t.Errorf("reading stderr of task 'three': %d %+v %v", resp.StatusCode, read, err)
	}
}

func TestTaskOverMemoryLimit(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Agents: 1})
	var cg string
	for _, a := range c.State().Agents {
		cg = a.Cgroups
	}
	if cg == "none" || cg == "" {
		if os.Getenv("CI") == "true" && os.Geteuid() == 0 {
			t.Fatalf("cgroups unavailable to a root agent in CI: %+v", c.State().Agents)
		}
		t.Skip("agent runs without cgroups here; memory limits are not enforced")
	}
	f := startFramework(t, c.URL, plainInfo("memhog"))
	// tail keeps a line without newline in memory: 256 MB > 32 MB limit.
	f.launch(shellTask("hog", "head -c 268435456 /dev/zero | tail > /dev/null", 0.1, 32))
	st := f.waitState("hog", 60*time.Second, mesos.TaskFinished, mesos.TaskFailed, mesos.TaskKilled)
	if st.State != mesos.TaskFailed || st.Reason != mesos.ReasonContainerLimitationMem || !strings.Contains(strings.ToLower(st.Message), "memory") {
		t.Errorf("memory hog: %s %s %q; want TASK_FAILED with the memory limitation reason", st.State, st.Reason, st.Message)
	}
}

func TestAgentKilledMakesTasksUnreachable(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Agents: 2})
	f := startFramework(t, c.URL, plainInfo("partition"))
	agentID := c.State().Agents[0].ID
	task := shellTask("victim", "sleep 600", 0.1, 32)
	task.AgentID = mesos.ID{Value: agentID}
	f.launch(task)
	f.waitState("victim", 30*time.Second, mesos.TaskRunning)

	victim := c.AgentByID(agentID)
	victim.Kill(syscall.SIGKILL)
	st := f.waitState("victim", 30*time.Second, mesos.TaskUnreachable, mesos.TaskLost)
	if st.State != mesos.TaskUnreachable || st.UnreachableTime == nil {
		t.Errorf("after agent death: %+v; want TASK_UNREACHABLE with unreachable_time", st)
	}
	testcluster.Eventually(t, 10*time.Second, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, id := range f.failures {
			if id == agentID {
				return true
			}
		}
		return false
	}, "FAILURE event for the dead agent")
	testcluster.Eventually(t, 10*time.Second, func() bool { return c.State().UnreachableAgents == 1 }, "agent unreachable in /state")

	// It comes back (same work dir, same id): the task is still running.
	victim.Start()
	testcluster.Eventually(t, 30*time.Second, func() bool { return c.State().ActivatedAgents == 2 }, "agent re-registered")
	f.client.Reconcile(t.Context(), nil)
	f.waitState("victim", 30*time.Second, mesos.TaskRunning)
}

func TestAgentRestartKeepsTasks(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Agents: 1})
	f := startFramework(t, c.URL, plainInfo("survivor"))
	marker := t.TempDir() + "/go"
	// The task waits for a file the test creates once the agent is back, so
	// it finishes while the new agent process watches it.
	f.launch(shellTask("survivor", "while [ ! -e "+marker+" ]; do sleep 0.05; done; exit 7", 0.1, 32))
	f.waitState("survivor", 30*time.Second, mesos.TaskRunning)

	a := c.Agents[0]
	a.Kill(syscall.SIGKILL)
	a.Start()
	testcluster.Eventually(t, 30*time.Second, func() bool {
		st := c.State()
		return st.ActivatedAgents == 1 && len(st.Frameworks) == 1 && len(st.Frameworks[0].Tasks) == 1
	}, "agent re-registered with its task")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	st := f.waitState("survivor", 30*time.Second, mesos.TaskFailed, mesos.TaskFinished, mesos.TaskKilled, mesos.TaskLost)
	if st.State != mesos.TaskFailed || !strings.Contains(st.Message, "7") {
		t.Errorf("final status after agent restart: %s %q; want TASK_FAILED with status 7", st.State, st.Message)
	}
	// Once its FAILED is acknowledged the agent forgets the task: nothing
	// of it is left to resend. The agent sends one UPDATE call at a time
	// and the master forwards them in order, so a second task's updates,
	// sent after that, reach the framework after any duplicate.
	testcluster.Eventually(t, 30*time.Second, func() bool {
		st, err := agentState(a.URL)
		return err == nil && st.PendingUpdates == 0 && len(st.Tasks) == 0
	}, "the agent to forget the acknowledged task")
	f.launch(shellTask("later", "exit 0", 0.1, 32))
	f.waitState("later", 30*time.Second, mesos.TaskFinished)
	if d, n := countTerminal(f.history("survivor")); d != 1 || n != 1 {
		t.Errorf("terminal updates: %d distinct, %d in all; want exactly one: %v", d, n, statesOf(f.history("survivor")))
	}
}

// agentState is GET /state of the agent at url.
func agentState(url string) (agent.State, error) {
	var st agent.State
	resp, err := http.Get(url + "/state")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET %s/state: %s", url, resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func TestMasterRestart(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Agents: 2})
	f := startFramework(t, c.URL, plainInfo("failover"))
	f.launch(shellTask("a", "sleep 600", 0.1, 32), shellTask("b", "sleep 600", 0.1, 32))
	f.waitState("a", 30*time.Second, mesos.TaskRunning)
	f.waitState("b", 30*time.Second, mesos.TaskRunning)
	fid := f.client.FrameworkID()

	c.Master.Kill(syscall.SIGKILL)
	c.Master.Start()
	testcluster.WaitHTTP(t, c.URL+"/health")
	testcluster.Eventually(t, 60*time.Second, func() bool {
		st := c.State()
		if st.ActivatedAgents != 2 || len(st.Frameworks) != 1 {
			return false
		}
		fw := st.Frameworks[0]
		return fw.ID == fid && fw.Connected && len(fw.Tasks) == 2
	}, "agents and framework back with both tasks")
	for _, fw := range c.State().Frameworks {
		for _, tk := range fw.Tasks {
			if tk.State != string(mesos.TaskRunning) {
				t.Errorf("task %s is %s after master restart", tk.ID, tk.State)
			}
		}
	}
	// The restarted master still launches and kills.
	f.launch(shellTask("c", "sleep 600", 0.1, 32))
	f.waitState("c", 30*time.Second, mesos.TaskRunning)
	if err := f.client.Kill(t.Context(), "a", ""); err != nil {
		t.Fatal(err)
	}
	f.waitState("a", 30*time.Second, mesos.TaskKilled)
}
