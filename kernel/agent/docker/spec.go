package docker

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
	"github.com/docker/go-units"

	"corral/kernel/agent/logrotate"
	"corral/kernel/mesos"
)

// SandboxMount is where a container finds its task's sandbox, as Mesos
// mounts it (MESOS_SANDBOX inside the container).
const SandboxMount = "/mnt/mesos/sandbox"

// Labels the agent puts on its containers.
const (
	LabelAgent     = "corral.agent"     // the agent's key (Config.AgentKey)
	LabelFramework = "corral.framework" // the task's framework id
	LabelTask      = "corral.task"      // the task's id
)

// Spec is one task's container: what Configs turns into the engine's
// create request.
type Spec struct {
	// ID is the runner id of the task (framework/task); Name the
	// container's name (ContainerName).
	ID, Name string
	// FrameworkID and TaskID label the container.
	FrameworkID, TaskID string
	// Container is the task's DOCKER container; Command its command (nil
	// or an empty non-shell value: the image's own).
	Container *mesos.ContainerInfo
	Command   *mesos.CommandInfo
	// Env is the task's environment as NAME=value, the agent's variables
	// first (task.Env); MESOS_SANDBOX is replaced by SandboxMount.
	Env []string
	// Sandbox is the host directory of the task's sandbox, mounted at
	// SandboxMount; relative host paths of volumes are taken from it.
	Sandbox string
	// User is the numeric uid[:gid] the container runs as; "" is the
	// image's own user.
	User string
	// CPUs and MemMB are the task's resources, the container's limits
	// unless CPULimit and MemLimitMB are set (above them; +Inf: none).
	CPUs, MemMB          float64
	CPULimit, MemLimitMB float64
	// Stdout and Stderr bound the sandbox files the output is copied to.
	Stdout, Stderr logrotate.Limits
}

// nameUnsafe are the characters a container name may not hold.
var nameUnsafe = regexp.MustCompile(`[^a-zA-Z0-9_.-]`)

// ContainerName names the container of task taskID of framework
// frameworkID for the agent with key agentKey: "corral-", the task id
// made safe for Docker (at most 100 bytes of it), and a digest of all
// three, so that names never collide across agents sharing an engine.
func ContainerName(agentKey, frameworkID, taskID string) string {
	sum := sha256.Sum256([]byte(agentKey + "\x00" + frameworkID + "\x00" + taskID))
	safe := nameUnsafe.ReplaceAllString(taskID, "_")
	if len(safe) > 100 {
		safe = safe[:100]
	}
	return "corral-" + safe + "-" + hex.EncodeToString(sum[:6])
}

// Configs returns the engine's create request for s, labelled for the
// agent with key agentKey. It is pure. An error names what cannot be
// honoured (a parameter value the engine would misread); the master has
// already refused what corral does not support (mesos ContainerInfo
// Problem), so errors here are rare.
func Configs(s Spec, agentKey string) (*container.Config, *container.HostConfig, *network.NetworkingConfig, error) {
	d := s.Container.Docker
	cfg := &container.Config{
		Image: d.Image,
		Env:   sandboxEnv(s.Env),
		User:  s.User,
		Labels: map[string]string{
			LabelAgent: agentKey, LabelFramework: s.FrameworkID, LabelTask: s.TaskID,
		},
		Hostname: s.Container.Hostname,
	}
	if c := s.Command; c != nil {
		switch {
		case c.IsShell():
			cfg.Entrypoint = []string{"/bin/sh", "-c"}
			cfg.Cmd = []string{c.Value}
		case c.Value != "" || len(c.Arguments) > 0:
			// As Mesos: value, if any, then the arguments are the CMD,
			// after the image's entrypoint.
			if c.Value != "" {
				cfg.Cmd = []string{c.Value}
			}
			cfg.Cmd = append(cfg.Cmd, c.Arguments...)
		}
	}
	host := &container.HostConfig{
		Privileged: d.Privileged,
		// The agent reads the output through the engine's log API; the
		// engine's copy is bounded.
		LogConfig: container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "2"}},
	}
	bind(host, s.Sandbox, SandboxMount, false)
	if s.CPUs > 0 {
		host.CPUShares = max(int64(1024*s.CPUs), 2)
		cpu := s.CPUs
		if s.CPULimit > 0 {
			cpu = s.CPULimit
		}
		if !math.IsInf(cpu, 1) {
			host.CPUPeriod = 100000
			host.CPUQuota = max(int64(math.Round(100000*cpu)), 1000)
		}
	}
	if s.MemMB > 0 {
		mem := s.MemMB
		if s.MemLimitMB > 0 {
			mem = s.MemLimitMB
		}
		if !math.IsInf(mem, 1) {
			host.Memory = max(int64(mem*1024*1024), 32*1024*1024)
			host.MemorySwap = host.Memory // no swap beyond the limit (a memory-swap parameter may change it)
		}
		if mem > s.MemMB {
			host.MemoryReservation = max(int64(s.MemMB*1024*1024), 32*1024*1024)
		}
	}
	var netCfg *network.NetworkingConfig
	switch d.Network {
	case "", mesos.NetworkHost:
		host.NetworkMode = "host"
	case mesos.NetworkBridge:
		host.NetworkMode = "bridge"
	case mesos.NetworkNone:
		host.NetworkMode = "none"
	case mesos.NetworkUser:
		name := s.Container.NetworkInfos[0].Name
		host.NetworkMode = container.NetworkMode(name)
		netCfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{name: {}}}
	default:
		return nil, nil, nil, fmt.Errorf("unknown docker.network %q", d.Network)
	}
	if len(d.PortMappings) > 0 {
		cfg.ExposedPorts = nat.PortSet{}
		host.PortBindings = nat.PortMap{}
		for _, m := range d.PortMappings {
			proto := m.Protocol
			if proto == "" {
				proto = "tcp"
			}
			p := nat.Port(strconv.FormatUint(uint64(m.ContainerPort), 10) + "/" + proto)
			cfg.ExposedPorts[p] = struct{}{}
			host.PortBindings[p] = append(host.PortBindings[p], nat.PortBinding{HostPort: strconv.FormatUint(uint64(m.HostPort), 10)})
		}
	}
	for _, v := range s.Container.Volumes {
		hostPath := v.HostPath
		if !path.IsAbs(hostPath) {
			hostPath = path.Join(s.Sandbox, hostPath)
		}
		target := v.ContainerPath
		if !path.IsAbs(target) {
			target = path.Join(SandboxMount, target)
		}
		bind(host, hostPath, target, v.Mode == mesos.VolumeRO)
	}
	for _, p := range d.Parameters {
		if err := applyParameter(cfg, host, p); err != nil {
			return nil, nil, nil, fmt.Errorf("docker parameter %s=%q: %w", p.Key, p.Value, err)
		}
	}
	return cfg, host, netCfg, nil
}

// bind mounts the host path source at target. A path holding a ':'
// cannot be written as a bind ("source:target:mode"), and sandboxes are
// named after task ids, which may hold one (Chronos' "ct:<due>:..."):
// such a bind is a mount, whose source the engine does not create when
// missing (a bind's it does). Others stay binds, for that creation.
func bind(host *container.HostConfig, source, target string, readOnly bool) {
	if strings.Contains(source, ":") || strings.Contains(target, ":") {
		host.Mounts = append(host.Mounts, mount.Mount{Type: mount.TypeBind, Source: source, Target: target, ReadOnly: readOnly})
		return
	}
	mode := "rw"
	if readOnly {
		mode = "ro"
	}
	host.Binds = append(host.Binds, source+":"+target+":"+mode)
}

// sandboxEnv returns env with MESOS_SANDBOX (and CORRAL_SANDBOX) set to
// where the container sees its sandbox.
func sandboxEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "MESOS_SANDBOX", "CORRAL_SANDBOX", "MESOS_DIRECTORY":
			kv = name + "=" + SandboxMount
		}
		out = append(out, kv)
	}
	return out
}

// applyParameter applies one `docker run` option the master accepted
// (mesos.DockerParameters).
func applyParameter(cfg *container.Config, host *container.HostConfig, p mesos.Parameter) error {
	switch p.Key {
	case "label":
		k, v, _ := strings.Cut(p.Value, "=")
		if strings.HasPrefix(k, "corral.") {
			return fmt.Errorf("labels starting corral. are the agent's")
		}
		cfg.Labels[k] = v
	case "env":
		cfg.Env = append(cfg.Env, p.Value)
	case "hostname":
		cfg.Hostname = p.Value
	case "workdir":
		cfg.WorkingDir = p.Value
	case "user":
		cfg.User = p.Value
	case "entrypoint":
		cfg.Entrypoint = []string{p.Value}
	case "add-host":
		host.ExtraHosts = append(host.ExtraHosts, p.Value)
	case "dns":
		host.DNS = append(host.DNS, p.Value)
	case "dns-search":
		host.DNSSearch = append(host.DNSSearch, p.Value)
	case "memory-swap":
		if p.Value == "-1" {
			host.MemorySwap = -1
			return nil
		}
		n, err := units.RAMInBytes(p.Value)
		if err != nil {
			return err
		}
		host.MemorySwap = n
	case "shm-size":
		n, err := units.RAMInBytes(p.Value)
		if err != nil {
			return err
		}
		host.ShmSize = n
	case "ulimit":
		u, err := units.ParseUlimit(p.Value)
		if err != nil {
			return err
		}
		host.Ulimits = append(host.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	case "init":
		b, err := strconv.ParseBool(orTrue(p.Value))
		if err != nil {
			return err
		}
		host.Init = &b
	case "read-only":
		b, err := strconv.ParseBool(orTrue(p.Value))
		if err != nil {
			return err
		}
		host.ReadonlyRootfs = b
	case "tmpfs":
		if host.Tmpfs == nil {
			host.Tmpfs = map[string]string{}
		}
		dir, opts, _ := strings.Cut(p.Value, ":")
		host.Tmpfs[dir] = opts
	case "cap-add":
		host.CapAdd = append(host.CapAdd, p.Value)
	case "cap-drop":
		host.CapDrop = append(host.CapDrop, p.Value)
	default:
		return fmt.Errorf("not supported")
	}
	return nil
}

// orTrue is v, or "true" for a flag given without a value.
func orTrue(v string) string {
	if v == "" {
		return "true"
	}
	return v
}
