package docker

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/mount"

	"corral/kernel/mesos"
)

// TestConfigs: the create request of a task's container.
func TestConfigs(t *testing.T) {
	no := false
	base := func() Spec {
		return Spec{ID: "fw/t", Name: "corral-t-1", FrameworkID: "fw", TaskID: "t",
			Container: &mesos.ContainerInfo{Type: mesos.ContainerDocker, Docker: &mesos.DockerInfo{Image: "img"}},
			Env:       []string{"MESOS_SANDBOX=/var/lib/x", "A=1"}, Sandbox: "/sb", CPUs: 0.5, MemMB: 10}
	}
	s := base()
	s.Command = &mesos.CommandInfo{Value: "echo hi"}
	cfg, host, _, err := Configs(s, "key")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/bin/sh", "-c"}) || !slices.Equal(cfg.Cmd, []string{"echo hi"}) {
		t.Errorf("shell command: entrypoint %v cmd %v", cfg.Entrypoint, cfg.Cmd)
	}
	if !slices.Contains(cfg.Env, "MESOS_SANDBOX="+SandboxMount) || !slices.Contains(cfg.Env, "A=1") {
		t.Errorf("env %v; want MESOS_SANDBOX at the mount and A", cfg.Env)
	}
	if host.NetworkMode != "host" || host.Memory != 32<<20 || host.MemorySwap != host.Memory || host.CPUShares != 512 || host.CPUQuota != 50000 {
		t.Errorf("host config: network %s memory %d swap %d shares %d quota %d", host.NetworkMode, host.Memory, host.MemorySwap, host.CPUShares, host.CPUQuota)
	}
	if cfg.Labels[LabelAgent] != "key" || cfg.Labels[LabelTask] != "t" || !slices.Contains(host.Binds, "/sb:"+SandboxMount+":rw") {
		t.Errorf("labels %v binds %v", cfg.Labels, host.Binds)
	}

	s = base()
	s.MemMB, s.MemLimitMB, s.CPULimit = 64, math.Inf(1), 2
	_, host, _, _ = Configs(s, "key")
	if host.Memory != 0 || host.MemoryReservation != 64<<20 || host.CPUQuota != 200000 {
		t.Errorf("limits: memory %d reservation %d quota %d; want no memory limit, 64 MB reserved, quota of 2 cpus", host.Memory, host.MemoryReservation, host.CPUQuota)
	}

	s = base()
	s.Command = &mesos.CommandInfo{Shell: &no, Value: "run", Arguments: []string{"--fast"}}
	cfg, _, _, _ = Configs(s, "key")
	if cfg.Entrypoint != nil || !slices.Equal(cfg.Cmd, []string{"run", "--fast"}) {
		t.Errorf("exec command: entrypoint %v cmd %v; want the image's entrypoint and [run --fast]", cfg.Entrypoint, cfg.Cmd)
	}
	s.Command = &mesos.CommandInfo{Shell: &no}
	cfg, _, _, _ = Configs(s, "key")
	if cfg.Entrypoint != nil || cfg.Cmd != nil {
		t.Errorf("no command: entrypoint %v cmd %v; want the image's own", cfg.Entrypoint, cfg.Cmd)
	}

	s = base()
	s.Container.Docker.Network = mesos.NetworkBridge
	s.Container.Docker.PortMappings = []mesos.PortMapping{{HostPort: 31000, ContainerPort: 80}, {HostPort: 31001, ContainerPort: 53, Protocol: "udp"}}
	s.Container.Volumes = []mesos.Volume{{ContainerPath: "data", HostPath: "d", Mode: "RO"}, {ContainerPath: "/etc/x", HostPath: "/srv/x"}}
	s.Container.Docker.Parameters = []mesos.Parameter{{Key: "ulimit", Value: "nofile=1024:2048"}, {Key: "env", Value: "B=2"}}
	cfg, host, _, err = Configs(s, "key")
	if err != nil {
		t.Fatal(err)
	}
	if host.NetworkMode != "bridge" || host.PortBindings["80/tcp"][0].HostPort != "31000" || host.PortBindings["53/udp"][0].HostPort != "31001" {
		t.Errorf("bridge: %s %v", host.NetworkMode, host.PortBindings)
	}
	if !slices.Contains(host.Binds, "/sb/d:"+SandboxMount+"/data:ro") || !slices.Contains(host.Binds, "/srv/x:/etc/x:rw") {
		t.Errorf("binds %v", host.Binds)
	}
	if len(host.Ulimits) != 1 || host.Ulimits[0].Hard != 2048 || !slices.Contains(cfg.Env, "B=2") {
		t.Errorf("parameters: ulimits %v env %v", host.Ulimits, cfg.Env)
	}

	// A sandbox named after a task id with colons (Chronos' task ids)
	// cannot be a bind: it is a mount, and so are volumes under it.
	s = base()
	s.Sandbox = "/sb/ct:1:0:job:1"
	s.Container.Volumes = []mesos.Volume{{ContainerPath: "data", HostPath: "d", Mode: "RO"}, {ContainerPath: "/etc/x", HostPath: "/srv/x"}}
	_, host, _, err = Configs(s, "key")
	if err != nil {
		t.Fatal(err)
	}
	want := []mount.Mount{{Type: mount.TypeBind, Source: "/sb/ct:1:0:job:1", Target: SandboxMount},
		{Type: mount.TypeBind, Source: "/sb/ct:1:0:job:1/d", Target: SandboxMount + "/data", ReadOnly: true}}
	if !slices.Equal(host.Binds, []string{"/srv/x:/etc/x:rw"}) || !reflect.DeepEqual(host.Mounts, want) {
		t.Errorf("colon sandbox: binds %v mounts %+v; want [/srv/x:/etc/x:rw] and %+v", host.Binds, host.Mounts, want)
	}

	s = base()
	s.Container.Docker.Parameters = []mesos.Parameter{{Key: "label", Value: "corral.agent=evil"}}
	if _, _, _, err := Configs(s, "key"); err == nil || !strings.Contains(err.Error(), "agent's") {
		t.Errorf("a corral. label = %v; want refused", err)
	}
}

func TestContainerName(t *testing.T) {
	n := ContainerName("k", "fw", "my app/1")
	if !strings.HasPrefix(n, "corral-my_app_1-") || n == ContainerName("k2", "fw", "my app/1") || n == ContainerName("k", "fw2", "my app/1") {
		t.Errorf("ContainerName = %q; want a safe name, distinct per agent and framework", n)
	}
}
