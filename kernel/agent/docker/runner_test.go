package docker

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"corral/internal/dockertest"
	"corral/kernel/agent/task"
	"corral/kernel/mesos"
)

// newRunner returns a Runner on the local engine with its own agent key,
// and removes whatever containers it leaves.
func newRunner(t *testing.T) (*Runner, *client.Client, string) {
	t.Helper()
	cli := dockertest.Engine(t)
	key := fmt.Sprintf("test-%d-%d", os.Getpid(), time.Now().UnixNano())
	r, err := New(t.Context(), Config{AgentKey: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if other, err := New(ctx, Config{AgentKey: key}, nil); err == nil {
			_, _ = other.RemoveOrphans(ctx, nil)
			other.Close()
		}
	})
	return r, cli, key
}

// spec is a container of the test image running shell cmd.
func spec(t *testing.T, key, id, cmd string, mutate func(*mesos.ContainerInfo)) Spec {
	c := &mesos.ContainerInfo{Type: mesos.ContainerDocker, Docker: &mesos.DockerInfo{Image: dockertest.Image}}
	if mutate != nil {
		mutate(c)
	}
	return Spec{ID: "fw/" + id, Name: ContainerName(key, "fw", id), FrameworkID: "fw", TaskID: id,
		Container: c, Command: &mesos.CommandInfo{Value: cmd}, Env: []string{"MESOS_SANDBOX=/host/path", "A=1"},
		Sandbox: t.TempDir(), CPUs: 0.1, MemMB: 64}
}

// exitOf waits for the exit of id.
func exitOf(t *testing.T, r *Runner, id string) task.Exit {
	t.Helper()
	select {
	case ex := <-r.Exits():
		if ex.ID != id {
			t.Fatalf("exit of %s; want %s", ex.ID, id)
		}
		return ex.Exit
	case <-time.After(60 * time.Second):
		t.Fatalf("no exit of %s", id)
	}
	return task.Exit{}
}

func read(t *testing.T, dir, name string) string {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(dir, name))
	return string(b)
}

// TestRunAndExit: a container runs its shell command in the image, with
// the sandbox mounted and MESOS_SANDBOX pointing at it; its output lands
// in the sandbox files; its exit status is reported; it is removed.
func TestRunAndExit(t *testing.T) {
	r, cli, key := newRunner(t)
	s := spec(t, key, "exit3", `echo "out $A $MESOS_SANDBOX"; echo err >&2; echo made > $MESOS_SANDBOX/file; exit 3`, nil)
	if err := r.Start(t.Context(), s, ""); err != nil {
		t.Fatal(err)
	}
	ex := exitOf(t, r, s.ID)
	if ex.Kind != task.Exited || ex.Code != 3 || ex.OOM {
		t.Errorf("exit = %+v; want exited with 3", ex)
	}
	if got := read(t, s.Sandbox, "stdout"); got != "out 1 "+SandboxMount+"\n" {
		t.Errorf("stdout = %q", got)
	}
	if got := read(t, s.Sandbox, "stderr"); got != "err\n" {
		t.Errorf("stderr = %q", got)
	}
	if got := read(t, s.Sandbox, "file"); got != "made\n" {
		t.Errorf("file written in the sandbox = %q", got)
	}
	if _, err := cli.ContainerInspect(t.Context(), s.Name); !cerrdefs.IsNotFound(err) {
		t.Errorf("container after its exit: %v; want it removed", err)
	}
}

// TestKillAfterGrace: a container that ignores SIGTERM is killed after
// the grace period.
func TestKillAfterGrace(t *testing.T) {
	r, _, key := newRunner(t)
	s := spec(t, key, "stubborn", `trap "" TERM; echo ready; while true; do sleep 1; done`, nil)
	if err := r.Start(t.Context(), s, ""); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for read(t, s.Sandbox, "stdout") != "ready\n" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if err := r.Kill(s.ID, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if ex := exitOf(t, r, s.ID); ex.Code != 137 {
		t.Errorf("exit = %+v; want 137 (SIGKILL)", ex)
	}
	if err := r.Kill(s.ID, 0); err != ErrUnknown {
		t.Errorf("Kill after the exit = %v; want ErrUnknown", err)
	}
}

// TestOOM: a container that uses more memory than its limit is reported
// as killed by the OOM killer.
func TestOOM(t *testing.T) {
	r, _, key := newRunner(t)
	s := spec(t, key, "hog", `x=$(head -c 200000000 /dev/zero | tr '\0' a); echo survived`, nil)
	s.MemMB = 32
	if err := r.Start(t.Context(), s, ""); err != nil {
		t.Fatal(err)
	}
	if ex := exitOf(t, r, s.ID); !ex.OOM {
		t.Errorf("exit = %+v; want OOM", ex)
	}
}

// TestMissingImage: a launch of an image that is not there and cannot be
// pulled fails naming the image.
func TestMissingImage(t *testing.T) {
	r, _, key := newRunner(t)
	s := spec(t, key, "nope", "true", func(c *mesos.ContainerInfo) { c.Docker.Image = "corral-test/no-such-image:1" })
	err := r.Start(t.Context(), s, "")
	if err == nil || !strings.Contains(err.Error(), `"corral-test/no-such-image:1"`) {
		t.Fatalf("Start = %v; want an error naming the image", err)
	}
}

// TestAdoptAfterRestart: a runner closed while its container runs (the
// agent stopped) leaves it running; a new runner adopts it, its output
// copy resumes without repeating or losing a line, and its real exit is
// reported.
func TestAdoptAfterRestart(t *testing.T) {
	r, _, key := newRunner(t)
	s := spec(t, key, "long", `echo one; while [ ! -f $MESOS_SANDBOX/go ]; do sleep 0.1; done; echo two; exit 7`, nil)
	state := filepath.Join(t.TempDir(), "logstate")
	if err := r.Start(t.Context(), s, state); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for read(t, s.Sandbox, "stdout") != "one\n" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * saveEvery) // let the copy save where it stands
	r.Close()

	r2, err := New(t.Context(), Config{AgentKey: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	r2.Adopt(s.ID, s.Name, s.Sandbox, state, s.Stdout, s.Stderr)
	if err := os.WriteFile(filepath.Join(s.Sandbox, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if ex := exitOf(t, r2, s.ID); ex.Kind != task.Exited || ex.Code != 7 {
		t.Errorf("exit = %+v; want exited with 7", ex)
	}
	if got := read(t, s.Sandbox, "stdout"); got != "one\ntwo\n" {
		t.Errorf("stdout across the restart = %q; want one, two, once each", got)
	}
	// A container that is gone is reported at once.
	r2.Adopt("fw/gone", ContainerName(key, "fw", "gone"), t.TempDir(), "", s.Stdout, s.Stderr)
	if ex := exitOf(t, r2, "fw/gone"); ex.Kind != task.Unknown {
		t.Errorf("exit of a container that is gone = %+v; want Unknown", ex)
	}
}

// TestPortMapping: a BRIDGE container's port is reached on its mapped
// host port.
func TestPortMapping(t *testing.T) {
	r, _, key := newRunner(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := spec(t, key, "web", `exec httpd -f -p 8080 -h /www`, func(c *mesos.ContainerInfo) {
		c.Docker.Network = mesos.NetworkBridge
		c.Docker.PortMappings = []mesos.PortMapping{{HostPort: uint32(port), ContainerPort: 8080, Protocol: "tcp"}}
	})
	if err := r.Start(t.Context(), s, ""); err != nil {
		t.Fatal(err)
	}
	var body string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if body = string(b); resp.StatusCode == 200 {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if body != "hello from a container\n" {
		t.Errorf("GET on the mapped host port = %q; want the container's page", body)
	}
	r.Kill(s.ID, time.Second)
	exitOf(t, r, s.ID)
}

// TestRemoveOrphans: the agent's containers that it does not know are
// removed; others' are left alone.
func TestRemoveOrphans(t *testing.T) {
	r, cli, key := newRunner(t)
	s := spec(t, key, "orphan", "sleep 600", nil)
	if err := r.Start(t.Context(), s, ""); err != nil {
		t.Fatal(err)
	}
	kept := spec(t, key, "kept", "sleep 600", nil)
	if err := r.Start(t.Context(), kept, ""); err != nil {
		t.Fatal(err)
	}
	n, err := r.RemoveOrphans(t.Context(), map[string]bool{kept.Name: true})
	if err != nil || n != 1 {
		t.Fatalf("RemoveOrphans = %d, %v; want 1", n, err)
	}
	if _, err := cli.ContainerInspect(t.Context(), s.Name); !cerrdefs.IsNotFound(err) {
		t.Errorf("the orphan: %v; want it removed", err)
	}
	if st, err := cli.ContainerInspect(t.Context(), kept.Name); err != nil || !st.State.Running {
		t.Errorf("the live container: %v; want it running", err)
	}
	_ = cli.ContainerRemove(t.Context(), kept.Name, container.RemoveOptions{Force: true})
}

// TestStartReplacesLeftover: a stopped container of the task's name, left
// by a launch the agent did not finish, is replaced.
func TestStartReplacesLeftover(t *testing.T) {
	r, cli, key := newRunner(t)
	s := spec(t, key, "again", "echo fresh", nil)
	if _, err := cli.ContainerCreate(t.Context(), &container.Config{Image: dockertest.Image, Cmd: []string{"true"}}, nil, nil, nil, s.Name); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context(), s, ""); err != nil {
		t.Fatalf("Start over a leftover container = %v", err)
	}
	if ex := exitOf(t, r, s.ID); ex.Code != 0 {
		t.Errorf("exit = %+v; want 0", ex)
	}
	if got := read(t, s.Sandbox, "stdout"); got != "fresh\n" {
		t.Errorf("stdout = %q; want the new container's", got)
	}
}
