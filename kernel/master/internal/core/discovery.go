package core

import (
	"slices"
	"sort"

	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// Discovery is what the master's DNS names are made of (see package
// dnsrec): the agents, and the frameworks with the tasks they have now.
// Host names are as the agents and frameworks gave them; the shell
// resolves them.
type Discovery struct {
	Agents     []DiscoveryAgent
	Frameworks []DiscoveryFramework
}

// DiscoveryAgent is one agent, whatever its state.
type DiscoveryAgent struct {
	ID       string
	Hostname string
	// Endpoint is the agent's base URL, whose host Mesos-DNS calls the
	// agent's address.
	Endpoint string
}

// DiscoveryFramework is one framework that is not removed.
type DiscoveryFramework struct {
	Name     string
	Hostname string
	Tasks    []DiscoveryTask
}

// DiscoveryTask is one task that is not terminal.
type DiscoveryTask struct {
	ID, Name, AgentID string
	State             mesos.TaskState
	// Ports are the task's ports resource, ascending.
	Ports     []resource.Range
	Discovery *mesos.DiscoveryInfo
}

// Discovery returns the cluster as the DNS names it, in id order. It
// allocates only what it returns; the caller owns it.
func (c *Core) Discovery() Discovery {
	d := Discovery{Agents: make([]DiscoveryAgent, 0, len(c.agents)), Frameworks: make([]DiscoveryFramework, 0, len(c.frameworks))}
	for _, id := range sortedKeys(c.agents) {
		a := c.agents[id]
		d.Agents = append(d.Agents, DiscoveryAgent{ID: a.id, Hostname: a.info.Hostname, Endpoint: a.info.Endpoint})
	}
	for _, id := range sortedKeys(c.frameworks) {
		f := c.frameworks[id]
		df := DiscoveryFramework{Name: f.info.Name, Hostname: f.info.Hostname, Tasks: make([]DiscoveryTask, 0, len(f.tasks))}
		for _, t := range f.tasks {
			df.Tasks = append(df.Tasks, DiscoveryTask{ID: t.info.TaskID.Value, Name: t.info.Name, AgentID: t.agentID, State: t.state,
				Ports: slices.Clone(t.resources.Ranges(resource.Ports)), Discovery: t.info.Discovery})
		}
		sort.Slice(df.Tasks, func(i, j int) bool { return df.Tasks[i].ID < df.Tasks[j].ID })
		d.Frameworks = append(d.Frameworks, df)
	}
	return d
}

// TaskDiscovery returns the DiscoveryInfo of the tasks that have one, by
// framework id and task id: what /state adds to its tasks.
func (c *Core) TaskDiscovery() map[string]map[string]*mesos.DiscoveryInfo {
	out := map[string]map[string]*mesos.DiscoveryInfo{}
	for _, f := range c.frameworks {
		for _, t := range f.tasks {
			if t.info.Discovery == nil {
				continue
			}
			if out[f.id] == nil {
				out[f.id] = map[string]*mesos.DiscoveryInfo{}
			}
			out[f.id][t.info.TaskID.Value] = t.info.Discovery
		}
	}
	return out
}
