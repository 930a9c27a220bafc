package app

import (
	"encoding/json"
	"fmt"
	"strings"

	"corral/kernel/mesos"
)

// Networks of a Docker app, in Marathon 1.5+'s modes.
const (
	NetworkHost      = "host"             // the agent's network (default)
	NetworkBridge    = "container/bridge" // Docker's bridge, ports mapped
	NetworkContainer = "container"        // a named Docker network
)

// Docker is an app's Docker container as corral runs it, read from
// either of Marathon's shapes (DockerOf): the legacy one (docker.network,
// docker.portMappings) and the 1.5+ one (networks, container.portMappings).
type Docker struct {
	Image string
	// Network is NetworkHost, NetworkBridge or NetworkContainer, then
	// named NetworkName.
	Network, NetworkName string
	// PortMappings are the container's ports; with NetworkBridge and none
	// given, one default mapping (container port = host port, dynamic).
	PortMappings   []PortMapping
	Privileged     bool
	ForcePullImage bool
	Parameters     []Parameter
	Volumes        []HostVolume
}

// PortMapping is one of a Docker app's container ports.
type PortMapping struct {
	// ContainerPort 0 means the host port.
	ContainerPort int
	// HostPort is the host port to publish it on: 0 is any free one of
	// the offer; nil publishes none (NetworkContainer only; with
	// NetworkBridge nil means 0).
	HostPort    *int
	ServicePort int
	// Protocol is "tcp", "udp" or "udp,tcp".
	Protocol string
	Name     string
}

// Parameter is a `docker run` option.
type Parameter struct{ Key, Value string }

// HostVolume mounts HostPath (relative: in the sandbox) at ContainerPath
// (relative: in the sandbox mount), Mode "RW" or "RO".
type HostVolume struct{ ContainerPath, HostPath, Mode string }

// dockerJSON is the part of Marathon's container JSON a Docker app uses.
type dockerJSON struct {
	Type   string `json:"type"`
	Docker *struct {
		Image          string            `json:"image"`
		Network        string            `json:"network"`
		PortMappings   []portMappingJSON `json:"portMappings"`
		Privileged     bool              `json:"privileged"`
		ForcePullImage bool              `json:"forcePullImage"`
		Parameters     []Parameter       `json:"parameters"`
		PullConfig     json.RawMessage   `json:"pullConfig"`
		Credential     json.RawMessage   `json:"credential"`
	} `json:"docker"`
	PortMappings []portMappingJSON            `json:"portMappings"`
	Volumes      []map[string]json.RawMessage `json:"volumes"`
}

type portMappingJSON struct {
	ContainerPort int               `json:"containerPort"`
	HostPort      *int              `json:"hostPort"`
	ServicePort   int               `json:"servicePort"`
	Protocol      string            `json:"protocol"`
	Name          string            `json:"name"`
	Labels        map[string]string `json:"labels"`
}

// isDocker reports whether the app's container is a Docker one: type
// DOCKER, or no type and a docker image (Marathon's default type).
func (c *dockerJSON) isDocker() bool {
	return c.Type == "DOCKER" || (c.Type == "" && c.Docker != nil && c.Docker.Image != "")
}

// readDocker reads the container JSON; ok is false for none or an
// unreadable one.
func readDocker(raw json.RawMessage) (dockerJSON, bool) {
	var c dockerJSON
	if len(raw) == 0 || isNull(raw) {
		return c, false
	}
	if json.Unmarshal(raw, &c) != nil {
		return c, false
	}
	return c, true
}

// DockerOf returns the app's Docker container, or nil when the app runs
// no Docker image. It assumes a valid app (Validate); what it cannot read
// is left out.
func DockerOf(a App) *Docker {
	c, ok := readDocker(a.Container)
	if !ok || !c.isDocker() || c.Docker == nil {
		return nil
	}
	d := &Docker{Image: c.Docker.Image, Privileged: c.Docker.Privileged, ForcePullImage: c.Docker.ForcePullImage,
		Parameters: c.Docker.Parameters, Network: NetworkHost}
	switch strings.ToUpper(c.Docker.Network) {
	case "BRIDGE":
		d.Network = NetworkBridge
	case "USER":
		d.Network = NetworkContainer
	}
	for _, n := range networkModes(a.Networks) {
		d.Network, d.NetworkName = n.Mode, n.Name
	}
	mappings := c.PortMappings
	if len(mappings) == 0 {
		mappings = c.Docker.PortMappings
	}
	for _, m := range mappings {
		pm := PortMapping{ContainerPort: m.ContainerPort, HostPort: m.HostPort, ServicePort: m.ServicePort,
			Protocol: m.Protocol, Name: m.Name}
		if pm.Protocol == "" {
			pm.Protocol = "tcp"
		}
		if pm.HostPort == nil && d.Network == NetworkBridge {
			zero := 0
			pm.HostPort = &zero
		}
		d.PortMappings = append(d.PortMappings, pm)
	}
	if d.Network == NetworkBridge && mappings == nil {
		zero := 0
		d.PortMappings = []PortMapping{{HostPort: &zero, Protocol: "tcp", Name: "default"}}
	}
	for _, v := range c.Volumes {
		var hv HostVolume
		_ = json.Unmarshal(v["containerPath"], &hv.ContainerPath)
		_ = json.Unmarshal(v["hostPath"], &hv.HostPath)
		_ = json.Unmarshal(v["mode"], &hv.Mode)
		if hv.HostPath != "" {
			d.Volumes = append(d.Volumes, hv)
		}
	}
	return d
}

// HostPorts returns the host ports the app's Docker container asks for,
// one per mapping that publishes one, in order: 0 for any free port.
func (d *Docker) HostPorts() []uint64 {
	var out []uint64
	for _, m := range d.PortMappings {
		if m.HostPort != nil {
			out = append(out, uint64(*m.HostPort))
		}
	}
	return out
}

// networkMode is one of the app's networks.
type networkMode struct{ Mode, Name string }

// networkModes reads the app's networks.
func networkModes(raw json.RawMessage) []networkMode {
	var ns []networkMode
	if len(raw) == 0 || isNull(raw) {
		return nil
	}
	var list []struct {
		Mode string `json:"mode"`
		Name string `json:"name"`
	}
	if json.Unmarshal(raw, &list) != nil {
		return nil
	}
	for _, n := range list {
		mode := n.Mode
		if mode == "" {
			mode = NetworkContainer // Marathon's default mode
		}
		ns = append(ns, networkMode{Mode: mode, Name: n.Name})
	}
	return ns
}

// validateDocker checks a Docker app as Marathon does, and for what
// corral's agents can run. It reports nothing for an app without a
// Docker container.
func validateDocker(v *collector, a App) {
	c, ok := readDocker(a.Container)
	if !ok {
		if len(a.Container) > 0 && !isNull(a.Container) {
			v.add("/container", "must be an object")
		}
		return
	}
	if !c.isDocker() {
		if c.Type == "MESOS" && c.Docker != nil && c.Docker.Image != "" {
			v.add("/container/docker/image", `images run as Docker containers: give "type": "DOCKER" (the MESOS containerizer runs no images in corral)`)
		}
		return
	}
	if c.Docker == nil || strings.TrimSpace(c.Docker.Image) == "" {
		v.add("/container/docker/image", "must not be empty")
		return
	}
	d := c.Docker
	if !isNull(d.PullConfig) && len(d.PullConfig) > 0 {
		v.add("/container/docker/pullConfig", "pullConfig is not supported by corral yet: the engine's own credentials are used")
	}
	if !isNull(d.Credential) && len(d.Credential) > 0 {
		v.add("/container/docker/credential", "credential is not supported (deprecated in Marathon)")
	}
	nets := networkModes(a.Networks)
	switch strings.ToUpper(d.Network) {
	case "", "HOST", "BRIDGE", "USER":
	case "NONE":
		v.add("/container/docker/network", "network NONE is not supported: use networks")
	default:
		v.add("/container/docker/network", fmt.Sprintf("unknown network %q (want HOST, BRIDGE or USER)", d.Network))
	}
	if d.Network != "" && len(nets) > 0 {
		v.add("/networks", "networks cannot be combined with the legacy container.docker.network")
	}
	if d.Network != "" && strings.ToUpper(d.Network) == "USER" {
		v.add("/container/docker/network", `USER networking needs a network name: give "networks": [{"mode": "container", "name": "<docker network>"}]`)
	}
	if len(nets) > 1 {
		v.add("/networks", "a Docker container joins one network")
	}
	for i, n := range nets {
		p := fmt.Sprintf("/networks(%d)", i)
		switch n.Mode {
		case NetworkHost, NetworkBridge:
		case NetworkContainer:
			if n.Name == "" {
				v.add(p+"/name", "container networking needs the name of a Docker network")
			}
		default:
			v.add(p+"/mode", fmt.Sprintf("unknown network mode %q (want host, container/bridge or container)", n.Mode))
		}
	}
	if len(c.PortMappings) > 0 && len(d.PortMappings) > 0 {
		v.add("/container/portMappings", "give portMappings once: container.portMappings, or the legacy container.docker.portMappings")
	}
	dk := DockerOf(a)
	mapsField := "/container/portMappings"
	if len(c.PortMappings) == 0 && len(d.PortMappings) > 0 {
		mapsField = "/container/docker/portMappings"
	}
	if dk.Network == NetworkHost && (len(c.PortMappings) > 0 || len(d.PortMappings) > 0) {
		v.add(mapsField, "port mappings need container/bridge or container networking; with host networking use portDefinitions")
	}
	if dk.Network != NetworkHost && len(a.PortDefinitions) > 0 {
		v.add("/portDefinitions", "portDefinitions are only for host networking; give container.portMappings")
	}
	names := map[string]bool{}
	for i, m := range dk.PortMappings {
		p := fmt.Sprintf("%s(%d)", mapsField, i)
		if m.ContainerPort < 0 || m.ContainerPort > 65535 {
			v.add(p+"/containerPort", fmt.Sprintf("must be between 0 and 65535 (got %d)", m.ContainerPort))
		}
		if m.HostPort != nil && (*m.HostPort < 0 || *m.HostPort > 65535) {
			v.add(p+"/hostPort", fmt.Sprintf("must be between 0 and 65535 (got %d)", *m.HostPort))
		}
		if m.ContainerPort == 0 && m.HostPort == nil {
			v.add(p+"/containerPort", "give a containerPort, or a hostPort to take it from")
		}
		switch m.Protocol {
		case "tcp", "udp", "udp,tcp":
		default:
			v.add(p+"/protocol", fmt.Sprintf(`must be "tcp", "udp" or "udp,tcp" (got %q)`, m.Protocol))
		}
		if m.Name != "" {
			if names[m.Name] {
				v.add(mapsField, fmt.Sprintf("port name %q is given more than once", m.Name))
			}
			names[m.Name] = true
		}
	}
	for i, p := range d.Parameters {
		kind, ok := mesos.DockerParameters[p.Key]
		switch {
		case !ok:
			v.add(fmt.Sprintf("/container/docker/parameters(%d)/key", i), fmt.Sprintf("docker option %q is not supported", p.Key))
		case kind.Why != "":
			v.add(fmt.Sprintf("/container/docker/parameters(%d)/key", i), fmt.Sprintf("docker option %q is not supported: %s", p.Key, kind.Why))
		}
	}
	for i, vol := range c.Volumes {
		p := fmt.Sprintf("/container/volumes(%d)", i)
		for _, f := range []string{"external", "persistent", "secret"} {
			if raw, ok := vol[f]; ok && !isNull(raw) && len(raw) > 0 && string(raw) != `""` {
				v.add(p+"/"+f, fmt.Sprintf("a %s volume is not supported in a Docker container; give hostPath", f))
			}
		}
		var hv HostVolume
		_ = json.Unmarshal(vol["containerPath"], &hv.ContainerPath)
		_ = json.Unmarshal(vol["hostPath"], &hv.HostPath)
		_ = json.Unmarshal(vol["mode"], &hv.Mode)
		switch {
		case hv.ContainerPath == "":
			v.add(p+"/containerPath", "must not be empty")
		case hv.HostPath == "":
			v.add(p+"/hostPath", "must not be empty")
		case !strings.HasPrefix(hv.HostPath, "/") && mesos.SandboxPathProblem(hv.HostPath) != "":
			v.add(p+"/hostPath", fmt.Sprintf("%q: a relative host path is in the sandbox and %s", hv.HostPath, mesos.SandboxPathProblem(hv.HostPath)))
		}
		switch hv.Mode {
		case "RW", "RO":
		default:
			v.add(p+"/mode", fmt.Sprintf(`must be "RW" or "RO" (got %q)`, hv.Mode))
		}
	}
}
