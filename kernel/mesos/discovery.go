package mesos

// Discovery visibilities (the proto DiscoveryInfo.Visibility enum): who
// should be told of a task or a port.
const (
	VisibilityFramework = "FRAMEWORK"
	VisibilityCluster   = "CLUSTER"
	VisibilityExternal  = "EXTERNAL"
)

// DiscoveryInfo is the proto DiscoveryInfo message: how a task wants to be
// found. The master's DNS names a task with one by Name instead of the
// task's name, and adds SRV records for its Ports, by protocol and, for a
// named port, by name (see package dnsrec).
type DiscoveryInfo struct {
	Visibility  string          `json:"visibility" pb:"1,req,enum=DiscoveryVisibility"`
	Name        string          `json:"name,omitempty" pb:"2"`
	Environment string          `json:"environment,omitempty" pb:"3"`
	Location    string          `json:"location,omitempty" pb:"4"`
	Version     string          `json:"version,omitempty" pb:"5"`
	Ports       *DiscoveryPorts `json:"ports,omitempty" pb:"6"`
	Labels      *Labels         `json:"labels,omitempty" pb:"7"`
}

// DiscoveryPorts is the proto Ports message.
type DiscoveryPorts struct {
	Ports []DiscoveryPort `json:"ports" pb:"1"`
}

// DiscoveryPort is the proto Port message: a port a task serves on, its
// name (e.g. "http") and protocol ("tcp" or "udp"; empty is both).
type DiscoveryPort struct {
	Number     Int     `json:"number" pb:"1,req"`
	Name       string  `json:"name,omitempty" pb:"2"`
	Protocol   string  `json:"protocol,omitempty" pb:"3"`
	Visibility string  `json:"visibility,omitempty" pb:"4,enum=DiscoveryVisibility"`
	Labels     *Labels `json:"labels,omitempty" pb:"5"`
}
