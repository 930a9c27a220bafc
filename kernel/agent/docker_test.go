package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"corral/internal/dockertest"
	"corral/kernel/agent/docker"
	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// dockerTask is a DOCKER task of the test image running shell cmd.
func dockerTask(id, cmd string) mesos.TaskInfo {
	ti := cmdTask(id, cmd)
	ti.Container = &mesos.ContainerInfo{Type: mesos.ContainerDocker, Docker: &mesos.DockerInfo{Image: dockertest.Image}}
	return ti
}

// dockerConfig is testConfig with the docker containerizer; the test's
// containers are removed at its end.
func dockerConfig(t *testing.T, masters ...string) (Config, *client.Client) {
	t.Helper()
	cli := dockertest.Engine(t)
	cfg := testConfig(t, masters...)
	cfg.Containerizers = []string{"docker", "mesos"}
	t.Cleanup(func() { removeAgentContainers(t, cli, cfg) })
	return cfg, cli
}

// removeAgentContainers removes what containers the agent of cfg left.
func removeAgentContainers(t *testing.T, cli *client.Client, cfg Config) {
	list, err := cli.ContainerList(t.Context(), container.ListOptions{All: true})
	if err != nil {
		return
	}
	for _, c := range list {
		if c.Labels["corral.agent"] == agentKey(cfg.WorkDir) {
			_ = cli.ContainerRemove(t.Context(), c.ID, container.RemoveOptions{Force: true})
		}
	}
}

// TestDockerTask: a DOCKER task runs its image, its output lands in its
// sandbox, its command health check runs inside the container, and a kill
// ends it KILLED with its container removed.
func TestDockerTask(t *testing.T) {
	m := newFakeMaster(t)
	cfg, cli := dockerConfig(t, m.srv.URL)
	startAgent(t, cfg)
	m.waitRegister(t)
	ti := dockerTask("web", `echo "hi from $MESOS_SANDBOX"; exec sleep 600`)
	interval, delay := mesos.Float(0.2), mesos.Float(0)
	// /www exists in the image only: the check passes only inside it.
	ti.HealthCheck = &mesos.HealthCheck{Type: "COMMAND", IntervalSeconds: &interval, DelaySeconds: &delay, Command: &mesos.CommandInfo{Value: "test -d /www"}}
	m.event(launch("fw-1", ti))
	m.waitState(t, "web", mesos.TaskRunning, 60*time.Second)
	sandbox := filepath.Join(cfg.WorkDir, "sandboxes", "fw-1", "web")
	waitFor(t, 30*time.Second, "the container's output in the sandbox", func() bool {
		b, _ := os.ReadFile(filepath.Join(sandbox, "stdout"))
		return string(b) == "hi from /mnt/mesos/sandbox\n"
	})
	waitFor(t, 30*time.Second, "the health check to pass inside the container", func() bool {
		for _, u := range m.updatesOf("web") {
			if u.Status.Healthy != nil && *u.Status.Healthy {
				return true
			}
		}
		return false
	})
	name := dockerName(cfg, "fw-1", "web")
	if st, err := cli.ContainerInspect(t.Context(), name); err != nil || !st.State.Running || st.Config.Labels["corral.task"] != "web" {
		t.Fatalf("container %s: %v; want it running, labelled with its task", name, err)
	}
	m.event(agentproto.Event{Type: agentproto.EventKill, Kill: &agentproto.Kill{FrameworkID: "fw-1", TaskID: "web"}})
	m.waitState(t, "web", mesos.TaskKilled, 30*time.Second)
	if _, err := cli.ContainerInspect(t.Context(), name); !cerrdefs.IsNotFound(err) {
		t.Errorf("container after the kill: %v; want it removed", err)
	}
}

func dockerName(cfg Config, fw, task string) string {
	return docker.ContainerName(agentKey(cfg.WorkDir), fw, task)
}

// TestDockerTaskAdopted: a container outlives its agent; the restarted
// agent adopts it and reports its real exit, once; a container of the
// agent's that no task owns (an orphan) is removed at start.
func TestDockerTaskAdopted(t *testing.T) {
	m := newFakeMaster(t)
	cfg, cli := dockerConfig(t, m.srv.URL)
	stop := startAgent(t, cfg)
	m.waitRegister(t)
	m.event(launch("fw-1", dockerTask("job", `echo one; while [ ! -f $MESOS_SANDBOX/go ]; do sleep 0.1; done; echo two; exit 5`)))
	m.waitState(t, "job", mesos.TaskRunning, 60*time.Second)
	sandbox := filepath.Join(cfg.WorkDir, "sandboxes", "fw-1", "job")
	waitFor(t, 30*time.Second, "the first line", func() bool {
		b, _ := os.ReadFile(filepath.Join(sandbox, "stdout"))
		return string(b) == "one\n"
	})
	time.Sleep(time.Second) // let the output copy record where it stands
	stop()

	// An orphan: labelled as this agent's, known to no task.
	orphan := docker.ContainerName(agentKey(cfg.WorkDir), "fw-1", "orphan")
	if _, err := cli.ContainerCreate(t.Context(), &container.Config{Image: dockertest.Image, Cmd: []string{"sleep", "600"},
		Labels: map[string]string{"corral.agent": agentKey(cfg.WorkDir)}}, nil, nil, nil, orphan); err != nil {
		t.Fatal(err)
	}
	startAgent(t, cfg)
	reg := m.waitRegister(t)
	if len(reg.Register.Tasks) != 1 || reg.Register.Tasks[0].State != mesos.TaskRunning {
		t.Fatalf("REGISTER after restart has tasks %+v; want job RUNNING", reg.Register.Tasks)
	}
	waitFor(t, 30*time.Second, "the orphan container to be removed", func() bool {
		_, err := cli.ContainerInspect(t.Context(), orphan)
		return cerrdefs.IsNotFound(err)
	})
	if err := os.WriteFile(filepath.Join(sandbox, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	u := m.waitState(t, "job", mesos.TaskFailed, 30*time.Second)
	if !strings.Contains(u.Status.Message, "status 5") {
		t.Errorf("TASK_FAILED %q; want the container's exit status 5", u.Status.Message)
	}
	if got := m.states("job"); strings.Count(strings.Join(stateNames(got), ","), "TASK_FAILED") != 1 {
		t.Errorf("updates %v; want one TASK_FAILED", got)
	}
	if b, _ := os.ReadFile(filepath.Join(sandbox, "stdout")); string(b) != "one\ntwo\n" {
		t.Errorf("stdout across the restart = %q; want one, two, once each", b)
	}
}

func stateNames(ss []mesos.TaskState) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

// TestDockerTaskWithoutDocker: an agent without the docker containerizer
// fails a DOCKER task at once, saying so.
func TestDockerTaskWithoutDocker(t *testing.T) {
	m := newFakeMaster(t)
	cfg := testConfig(t, m.srv.URL)
	startAgent(t, cfg)
	m.waitRegister(t)
	m.event(launch("fw-1", dockerTask("img", "true")))
	u := m.waitState(t, "img", mesos.TaskFailed, 15*time.Second)
	if u.Status.Reason != mesos.ReasonContainerLaunchFailed || !strings.Contains(u.Status.Message, "--containerizers") {
		t.Errorf("TASK_FAILED %s %q; want REASON_CONTAINER_LAUNCH_FAILED naming --containerizers", u.Status.Reason, u.Status.Message)
	}
}
