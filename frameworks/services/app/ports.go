package app

import (
	"encoding/json"
	"fmt"
)

// Service ports are the ports an app is known by outside its tasks (a
// load balancer such as marathon-lb listens on them): with host
// networking the port definitions' port, and for a Docker container on a
// bridge or container network its port mappings' servicePort. Marathon's
// legacy "ports" lists them. 0 asks the framework for one; the framework
// assigns it (see the services package) and stores the app with it.

// ServicePorts returns the app's service ports in order, one per port
// definition, or for a Docker container on a bridge or container network
// one per port mapping (with a bridge and no mappings given, the default
// one); 0 for a port not yet assigned. It never returns nil.
func (a App) ServicePorts() []int {
	out := []int{}
	if d := DockerOf(a); d != nil && d.Network != NetworkHost {
		for _, m := range d.PortMappings {
			out = append(out, m.ServicePort)
		}
		return out
	}
	for _, pd := range a.PortDefinitions {
		out = append(out, pd.Port)
	}
	return out
}

// ServicePortPath is the JSON path of the app's service port i (see
// ServicePorts), for errors: /portDefinitions(i)/port, or the port
// mapping's servicePort in whichever shape the container gives them.
func (a App) ServicePortPath(i int) string {
	if d := DockerOf(a); d != nil && d.Network != NetworkHost {
		return fmt.Sprintf("%s(%d)/servicePort", mappingsPath(a), i)
	}
	return fmt.Sprintf("/portDefinitions(%d)/port", i)
}

// mappingsPath is where the app's container gives its port mappings:
// Marathon 1.5's /container/portMappings unless only the legacy
// /container/docker/portMappings has some.
func mappingsPath(a App) string {
	if c, ok := readDocker(a.Container); ok && len(c.PortMappings) == 0 && c.Docker != nil && len(c.Docker.PortMappings) > 0 {
		return "/container/docker/portMappings"
	}
	return "/container/portMappings"
}

// WithServicePorts returns a copy of a whose service ports (see
// ServicePorts) are ports, which must have one entry per service port.
// Port definitions are copied; a container's JSON is rewritten with the
// mappings' servicePort set, in the shape it had (a bridge's default
// mapping is written out as container.portMappings). a is returned as is
// when its service ports are ports already, so that its JSON keeps its
// bytes.
func (a App) WithServicePorts(ports []int) App {
	cur := a.ServicePorts()
	if len(cur) != len(ports) {
		panic(fmt.Sprintf("app.WithServicePorts: %d ports for %d service ports", len(ports), len(cur)))
	}
	same := true
	for i := range cur {
		same = same && cur[i] == ports[i]
	}
	if same {
		return a
	}
	if d := DockerOf(a); d != nil && d.Network != NetworkHost {
		a.Container = withMappingServicePorts(a.Container, d, ports)
		return a
	}
	pds := make([]PortDefinition, len(a.PortDefinitions))
	copy(pds, a.PortDefinitions)
	for i := range pds {
		pds[i].Port = ports[i]
	}
	a.PortDefinitions = pds
	return a
}

// withMappingServicePorts returns the container JSON raw with the
// servicePort of its port mappings (those d read from it) set to ports.
// raw is a valid container (DockerOf read d from it).
func withMappingServicePorts(raw json.RawMessage, d *Docker, ports []int) json.RawMessage {
	var container map[string]json.RawMessage
	if json.Unmarshal(raw, &container) != nil {
		return raw
	}
	var docker map[string]json.RawMessage
	_ = json.Unmarshal(container["docker"], &docker)
	var mappings []map[string]json.RawMessage
	inDocker := false
	switch {
	case json.Unmarshal(container["portMappings"], &mappings) == nil && len(mappings) > 0:
	case json.Unmarshal(docker["portMappings"], &mappings) == nil && len(mappings) > 0:
		inDocker = true
	default:
		// The default mapping of a bridge, written out.
		mappings = nil
		for _, m := range d.PortMappings {
			mappings = append(mappings, map[string]json.RawMessage{
				"containerPort": jsonOf(m.ContainerPort), "hostPort": jsonOf(m.HostPort),
				"protocol": jsonOf(m.Protocol), "name": jsonOf(m.Name),
			})
		}
	}
	for i := range mappings {
		mappings[i]["servicePort"] = jsonOf(ports[i])
	}
	if inDocker {
		docker["portMappings"] = jsonOf(mappings)
		container["docker"] = jsonOf(docker)
	} else {
		container["portMappings"] = jsonOf(mappings)
	}
	return jsonOf(container)
}

// jsonOf is v as JSON; v is always encodable here.
func jsonOf(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
