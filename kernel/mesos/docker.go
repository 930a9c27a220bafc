package mesos

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
)

// DockerInfo is ContainerInfo.DockerInfo: the image a DOCKER container
// runs and how (see workloads: Docker). Network is HOST when empty.
type DockerInfo struct {
	Image          string        `json:"image" pb:"1,req"`
	Network        string        `json:"network,omitempty" pb:"2,enum=DockerNetwork"`
	PortMappings   []PortMapping `json:"port_mappings,omitempty" pb:"3"`
	Privileged     bool          `json:"privileged,omitempty" pb:"4"`
	Parameters     []Parameter   `json:"parameters,omitempty" pb:"5"`
	ForcePullImage bool          `json:"force_pull_image,omitempty" pb:"6"`
	VolumeDriver   string        `json:"volume_driver,omitempty" pb:"7"`
}

// Docker networks.
const (
	NetworkHost   = "HOST"
	NetworkBridge = "BRIDGE"
	NetworkNone   = "NONE"
	NetworkUser   = "USER"
)

// PortMapping maps a host port (one of the task's port resources) to a
// port of the container, for tcp (default) or udp.
type PortMapping struct {
	HostPort      uint32 `json:"host_port" pb:"1,req"`
	ContainerPort uint32 `json:"container_port" pb:"2,req"`
	Protocol      string `json:"protocol,omitempty" pb:"3"`
}

// Parameter is a `docker run` option, --key=value.
type Parameter struct {
	Key   string `json:"key" pb:"1,req"`
	Value string `json:"value" pb:"2,req"`
}

// NetworkInfo is the proto NetworkInfo; corral uses Name, for a Docker
// container's USER network. The rest is kept for validation to refuse.
type NetworkInfo struct {
	Name         string          `json:"name,omitempty" pb:"6"`
	Groups       json.RawMessage `json:"groups,omitempty" pb:"3,raw=strings"`
	Labels       json.RawMessage `json:"labels,omitempty" pb:"4,raw=labels"`
	IPAddresses  json.RawMessage `json:"ip_addresses,omitempty" pb:"5,raw=ipaddresses"`
	PortMappings []PortMapping   `json:"port_mappings,omitempty" pb:"7"`
}

// DockerParameter says what corral does with a `docker run` option given
// as a DockerInfo parameter: Root options give the container power over
// the host (they need what running as root needs); Refused ones are not
// supported, and Why says what to use instead.
type DockerParameter struct {
	Root bool
	Why  string // non-empty: refused
}

// DockerParameters are the `docker run` options corral knows, by key.
// A key not among them is refused.
var DockerParameters = map[string]DockerParameter{
	"label":       {},
	"env":         {},
	"hostname":    {},
	"workdir":     {},
	"user":        {},
	"entrypoint":  {},
	"add-host":    {},
	"dns":         {},
	"dns-search":  {},
	"memory-swap": {},
	"shm-size":    {},
	"ulimit":      {},
	"init":        {},
	"read-only":   {},
	"tmpfs":       {},
	"cap-add":     {Root: true},
	"cap-drop":    {},
	"net":         {Why: "give the network as docker.network"},
	"network":     {Why: "give the network as docker.network"},
	"publish":     {Why: "give ports as docker.port_mappings"},
	"volume":      {Why: "give volumes as container.volumes"},
	"privileged":  {Why: "give docker.privileged"},
	"cpus":        {Why: "the task's cpus resource sets the limit"},
	"cpu-shares":  {Why: "the task's cpus resource sets the limit"},
	"memory":      {Why: "the task's mem resource sets the limit"},
	"log-driver":  {Why: "the agent reads the container's output into the sandbox through the engine's log API"},
	"rm":          {Why: "the agent removes the container when the task ends"},
	"name":        {Why: "the agent names the container after the task"},
}

// dockerProblem validates a DOCKER container. It returns "" or what is
// wrong, naming the field.
func (c *ContainerInfo) dockerProblem() string {
	d := c.Docker
	switch {
	case d == nil || strings.TrimSpace(d.Image) == "":
		return "'container.docker.image' is required for a DOCKER container"
	case !blankJSON(c.Mesos):
		return "'container.mesos' is for MESOS containers; a DOCKER container names its image in 'container.docker.image'"
	case d.VolumeDriver != "":
		return "'container.docker.volume_driver' is not supported"
	}
	network := d.Network
	if network == "" {
		network = NetworkHost
	}
	switch network {
	case NetworkHost, NetworkBridge, NetworkNone:
		if len(c.NetworkInfos) > 0 {
			return fmt.Sprintf("'container.network_infos' is only for a USER network (docker.network is %s)", network)
		}
	case NetworkUser:
		if len(c.NetworkInfos) != 1 || c.NetworkInfos[0].Name == "" {
			return "a USER network needs exactly one 'container.network_infos' entry with a 'name'"
		}
		n := c.NetworkInfos[0]
		if !blankJSON(n.Groups) || !blankJSON(n.IPAddresses) || len(n.PortMappings) > 0 {
			return "'container.network_infos[0]' may set only 'name' (and 'labels') for a Docker container"
		}
	default:
		return fmt.Sprintf("unknown 'container.docker.network' %q (want HOST, BRIDGE, NONE or USER)", d.Network)
	}
	if len(d.PortMappings) > 0 && (network == NetworkHost || network == NetworkNone) {
		return fmt.Sprintf("'container.docker.port_mappings' need a BRIDGE or USER network (docker.network is %s)", network)
	}
	if c.Hostname != "" && network == NetworkHost {
		return "'container.hostname' cannot be set with HOST networking"
	}
	for i, m := range d.PortMappings {
		switch {
		case m.HostPort == 0 || m.HostPort > 65535:
			return fmt.Sprintf("'container.docker.port_mappings[%d].host_port' must be one of the task's ports (1-65535)", i)
		case m.ContainerPort == 0 || m.ContainerPort > 65535:
			return fmt.Sprintf("'container.docker.port_mappings[%d].container_port' must be 1-65535", i)
		case m.Protocol != "" && m.Protocol != "tcp" && m.Protocol != "udp":
			return fmt.Sprintf("'container.docker.port_mappings[%d].protocol' %q is not tcp or udp", i, m.Protocol)
		}
	}
	for i, p := range d.Parameters {
		kind, ok := DockerParameters[p.Key]
		switch {
		case !ok:
			return fmt.Sprintf("'container.docker.parameters[%d]': docker option %q is not supported", i, p.Key)
		case kind.Why != "":
			return fmt.Sprintf("'container.docker.parameters[%d]': docker option %q is not supported: %s", i, p.Key, kind.Why)
		}
	}
	for i, v := range c.Volumes {
		field := fmt.Sprintf("'container.volumes[%d]", i)
		switch {
		case v.Source != nil:
			return field + ".source' is not supported for a DOCKER container: give host_path (secrets go through the environment)"
		case !blankJSON(v.Image):
			return field + ".image' is not supported"
		case v.Mode != "" && v.Mode != VolumeRO && v.Mode != VolumeRW:
			return fmt.Sprintf("%s.mode': unknown mode %q (want RO or RW)", field, v.Mode)
		case v.ContainerPath == "" || strings.IndexByte(v.ContainerPath, 0) >= 0:
			return field + ".container_path' is required"
		case v.HostPath == "":
			return field + ".host_path' is required for a DOCKER container"
		case strings.IndexByte(v.HostPath, 0) >= 0:
			return field + ".host_path' contains a NUL byte"
		case !path.IsAbs(v.HostPath):
			if p := SandboxPathProblem(v.HostPath); p != "" {
				return fmt.Sprintf("%s.host_path' %q: a relative host path is in the sandbox and %s", field, v.HostPath, p)
			}
		}
	}
	return ""
}

// RootOnHost reports whether the container gives its task power over the
// host: a privileged Docker container, one with added capabilities, or
// one mounting an absolute host path. Such a task needs what running as
// root needs (a run_tasks grant of user root).
func (c *ContainerInfo) RootOnHost() bool {
	if c == nil || c.Type != ContainerDocker || c.Docker == nil {
		return false
	}
	if c.Docker.Privileged {
		return true
	}
	for _, p := range c.Docker.Parameters {
		if DockerParameters[p.Key].Root {
			return true
		}
	}
	for _, v := range c.Volumes {
		if path.IsAbs(v.HostPath) {
			return true
		}
	}
	return false
}

// HostPorts returns the host ports of a Docker container's port
// mappings: they must be among the task's port resources.
func (c *ContainerInfo) HostPorts() []uint32 {
	if c == nil || c.Docker == nil {
		return nil
	}
	out := make([]uint32, 0, len(c.Docker.PortMappings))
	for _, m := range c.Docker.PortMappings {
		out = append(out, m.HostPort)
	}
	return out
}
