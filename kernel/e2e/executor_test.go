package e2e

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"corral/internal/dockertest"
	"corral/internal/testcluster"
	"corral/kernel/mesos"
	"corral/kernel/sched"
)

// exampleExecutor builds examples/executor and serves it over HTTP, as
// a framework serves its executor: the URL of the binary.
func exampleExecutor(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	// Static, so that it runs in an image with no C library too.
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "example-executor"), "corral/examples/executor")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("building examples/executor: %v\n%s", err, out)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv.URL + "/example-executor"
}

// shellExecutor is the ExecutorInfo of the example executor fetched from
// url, as an executable URI.
func shellExecutor(id, url string) *mesos.ExecutorInfo {
	yes := true
	return &mesos.ExecutorInfo{
		Type:       mesos.ExecutorCustom,
		ExecutorID: mesos.ID{Value: id},
		Name:       "example shell executor",
		Command:    &mesos.CommandInfo{Value: "./example-executor", URIs: []mesos.CommandURI{{Value: url, Executable: &yes}}},
		Resources: []mesos.Resource{
			{Name: "cpus", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 0.1}},
			{Name: "mem", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 64}},
		},
	}
}

// executorTask is a task of executor ei that runs script in it.
func executorTask(id, script string, ei *mesos.ExecutorInfo) mesos.TaskInfo {
	ti := shellTask(id, "", 0.1, 32)
	ti.Command = nil
	ti.Executor = ei
	ti.Data = base64.StdEncoding.EncodeToString([]byte(script))
	return ti
}

// TestCustomExecutor runs a framework on kernel/sched whose executor is
// fetched as an executable URI, in both codecs: tasks run in the one
// executor to FINISHED and KILLED, messages go both ways, the offers
// list the executor, and SHUTDOWN ends it with its unfinished task.
func TestCustomExecutor(t *testing.T) {
	url := exampleExecutor(t)
	c := testcluster.Start(t, testcluster.Options{Agents: 1})
	for _, codec := range []string{"json", "protobuf"} {
		t.Run(codec, func(t *testing.T) {
			f := startFramework(t, c.URL, plainInfo("executor-"+codec), func(cfg *sched.Config) { cfg.Protobuf = codec == "protobuf" })
			ei := shellExecutor("shell", url)
			if codec == "protobuf" {
				// The executor speaks protobuf to the agent too.
				ei.Command.Environment = &mesos.Environment{Variables: []mesos.Variable{{Name: "CORRAL_EXECUTOR_CODEC", Value: "protobuf"}}}
			}
			f.launch(
				executorTask("hello", `echo "hello from $MESOS_TASK_ID"`, ei),
				executorTask("sleeper", "sleep 600", ei),
			)
			done := f.waitState("hello", 60*time.Second, mesos.TaskFinished, mesos.TaskFailed, mesos.TaskError, mesos.TaskLost)
			if done.State != mesos.TaskFinished {
				t.Fatalf("task hello: %s", statesOf(f.history("hello")))
			}
			if done.ExecutorID == nil || done.ExecutorID.Value != "shell" || done.Source != mesos.SourceExecutor {
				t.Errorf("hello's FINISHED = executor %v, source %s; want executor shell, SOURCE_EXECUTOR", done.ExecutorID, done.Source)
			}
			run := f.waitState("sleeper", 30*time.Second, mesos.TaskRunning)
			agentID := run.AgentID.Value

			// The agent's view: one executor holding both tasks, its
			// output in its sandbox.
			a := c.Agents[0]
			var sandbox string
			testcluster.Eventually(t, 10*time.Second, func() bool {
				st, err := agentState(a.URL)
				if err != nil {
					return false
				}
				for _, ex := range st.Executors {
					if ex.ExecutorID == "shell" && ex.State == "subscribed" && slices.Contains(ex.Tasks, "sleeper") && ex.Codec == codec {
						sandbox = ex.Sandbox
						return true
					}
				}
				return false
			}, "the agent to show the subscribed executor")
			testcluster.Eventually(t, 10*time.Second, func() bool {
				b, _ := os.ReadFile(filepath.Join(sandbox, "stdout"))
				return strings.Contains(string(b), "hello from hello")
			}, "the task's output in the executor's sandbox")

			// Messages both ways.
			if err := f.client.Message(t.Context(), agentID, "shell", []byte("ping")); err != nil {
				t.Fatal(err)
			}
			testcluster.Eventually(t, 20*time.Second, func() bool {
				f.mu.Lock()
				defer f.mu.Unlock()
				return slices.Contains(f.messages, "shell: echo: ping")
			}, "the executor's answer to the framework's message")

			// A third task goes to the running executor, which the master
			// lists in the offers.
			f.launch(executorTask("third", "exit 3", ei))
			if st := f.waitState("third", 30*time.Second, mesos.TaskFailed, mesos.TaskFinished, mesos.TaskError); st.State != mesos.TaskFailed {
				t.Errorf("task third: %s", statesOf(f.history("third")))
			}

			if err := f.client.Kill(t.Context(), "sleeper", agentID); err != nil {
				t.Fatal(err)
			}
			if st := f.waitState("sleeper", 30*time.Second, mesos.TaskKilled, mesos.TaskFailed, mesos.TaskFinished); st.State != mesos.TaskKilled {
				t.Errorf("kill: %s", statesOf(f.history("sleeper")))
			}

			// SHUTDOWN ends the executor and the task it still runs.
			f.launch(executorTask("last", "sleep 600", ei))
			f.waitState("last", 30*time.Second, mesos.TaskRunning)
			if err := f.client.Shutdown(t.Context(), agentID, "shell"); err != nil {
				t.Fatal(err)
			}
			if st := f.waitState("last", 30*time.Second, mesos.TaskKilled, mesos.TaskFailed, mesos.TaskLost); st.State == mesos.TaskRunning {
				t.Errorf("task last after SHUTDOWN: %s", statesOf(f.history("last")))
			}
			testcluster.Eventually(t, 30*time.Second, func() bool {
				f.mu.Lock()
				defer f.mu.Unlock()
				return slices.Contains(f.execEnds, agentID+"/shell")
			}, "FAILURE for the executor that ended")
			for _, id := range []string{"hello", "sleeper", "third", "last"} {
				if d, n := countTerminal(f.history(id)); d != 1 {
					t.Errorf("task %s: %d distinct terminal updates (%d in all): %v", id, d, n, statesOf(f.history(id)))
				}
			}
			// Its resources are free again: the agent's executors are gone.
			testcluster.Eventually(t, 30*time.Second, func() bool {
				st, err := agentState(a.URL)
				return err == nil && len(st.Executors) == 0
			}, "the agent to forget the executor")
			f.stop()
		})
	}
}

// TestExecutorSurvivesAgentRestart: the agent is killed while a
// checkpointing framework's executor runs a task; the new agent process
// adopts the executor, which subscribes again, and the task's end is
// still reported, once.
func TestExecutorSurvivesAgentRestart(t *testing.T) {
	url := exampleExecutor(t)
	c := testcluster.Start(t, testcluster.Options{Agents: 1, AgentArgs: []string{"--executor_reregistration_timeout=10s"}})
	info := plainInfo("executor-restart")
	yes := true
	info.Checkpoint = &yes
	f := startFramework(t, c.URL, info)
	marker := t.TempDir() + "/go"
	ei := shellExecutor("shell", url)
	f.launch(executorTask("survivor", "while [ ! -e "+marker+" ]; do sleep 0.05; done; exit 0", ei))
	f.waitState("survivor", 60*time.Second, mesos.TaskRunning)

	a := c.Agents[0]
	a.Kill(syscall.SIGKILL)
	a.Start()
	testcluster.Eventually(t, 30*time.Second, func() bool {
		st, err := agentState(a.URL)
		return err == nil && st.Registered && len(st.Executors) == 1 && st.Executors[0].State == "subscribed"
	}, "the restarted agent to have its executor subscribed again")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if st := f.waitState("survivor", 30*time.Second, mesos.TaskFinished, mesos.TaskFailed, mesos.TaskKilled, mesos.TaskLost); st.State != mesos.TaskFinished {
		t.Errorf("task after the agent's restart: %s", statesOf(f.history("survivor")))
	}
	if d, n := countTerminal(f.history("survivor")); d != 1 {
		t.Errorf("terminal updates: %d distinct, %d in all; want one: %v", d, n, statesOf(f.history("survivor")))
	}
}

// TestExecutorRegistrationTimeout: an executor that never subscribes is
// killed after --executor_registration_timeout and its task fails with
// that reason.
func TestExecutorRegistrationTimeout(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Agents: 1, AgentArgs: []string{"--executor_registration_timeout=1s"}})
	f := startFramework(t, c.URL, plainInfo("executor-silent"))
	ei := &mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: "silent"}, Command: &mesos.CommandInfo{Value: "sleep 600"},
		Resources: []mesos.Resource{{Name: "cpus", Type: mesos.Scalar, Scalar: &mesos.ScalarValue{Value: 0.1}}}}
	f.launch(executorTask("waits", "true", ei))
	st := f.waitState("waits", 30*time.Second, mesos.TaskFailed, mesos.TaskFinished, mesos.TaskKilled, mesos.TaskLost)
	if st.State != mesos.TaskFailed || st.Reason != mesos.ReasonExecutorRegistrationTimeout || !strings.Contains(st.Message, "did not subscribe") {
		t.Errorf("task of a silent executor: %s", statesOf(f.history("waits")))
	}
}

// TestDockerExecutor: an executor in a DOCKER container (network HOST,
// its binary fetched into the sandbox the container mounts) subscribes,
// runs its tasks, and is gone with its container after SHUTDOWN.
func TestDockerExecutor(t *testing.T) {
	cli := dockertest.Engine(t)
	url := exampleExecutor(t)
	c := testcluster.Start(t, testcluster.Options{Agents: 1, AgentArgs: []string{"--containerizers", "docker,mesos"}})
	f := startFramework(t, c.URL, plainInfo("executor-docker"))
	ei := shellExecutor("boxed", url)
	ei.Command.Value = `exec "$MESOS_SANDBOX/example-executor"`
	ei.Container = &mesos.ContainerInfo{Type: mesos.ContainerDocker, Docker: &mesos.DockerInfo{Image: dockertest.Image, Network: "HOST"}}
	f.launch(executorTask("inside", `echo "in $MESOS_SANDBOX"; test -e /mnt/mesos/sandbox/example-executor`, ei))
	st := f.waitState("inside", 60*time.Second, mesos.TaskFinished, mesos.TaskFailed, mesos.TaskError, mesos.TaskLost)
	if st.State != mesos.TaskFinished {
		t.Fatalf("task in a containerized executor: %s", statesOf(f.history("inside")))
	}
	boxes := func() int {
		list, err := cli.ContainerList(t.Context(), container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", "corral.task=executor/boxed"))})
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	if n := boxes(); n != 1 {
		t.Fatalf("containers of the executor while it runs: %d; want 1", n)
	}
	if err := f.client.Shutdown(t.Context(), st.AgentID.Value, "boxed"); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 30*time.Second, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return slices.Contains(f.execEnds, st.AgentID.Value+"/boxed")
	}, "FAILURE for the containerized executor")
	testcluster.Eventually(t, 30*time.Second, func() bool { return boxes() == 0 }, "the executor's container to be removed")
}
