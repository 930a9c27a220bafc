package services

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"corral/frameworks/services/app"
	"corral/frameworks/services/plan"
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// instance is one task the framework launched and has not forgotten. Its
// JSON form is what the store keeps (services.instances.spec).
type instance struct {
	TaskID        string            `json:"taskId"`
	AppID         string            `json:"appId"`
	Version       string            `json:"version"`       // the app version it was launched with
	ConfigVersion string            `json:"configVersion"` // the config version (lastConfigChangeAt)
	AgentID       string            `json:"agentId"`
	Host          string            `json:"host"`
	ProbeHost     string            `json:"probeHost,omitempty"` // address used by framework-run health checks
	Attributes    map[string]string `json:"attributes,omitempty"`
	Ports         []uint64          `json:"ports"`
	State         mesos.TaskState   `json:"state"`
	Healthy       *bool             `json:"healthy,omitempty"`
	Message       string            `json:"message,omitempty"`
	StagedAt      time.Time         `json:"stagedAt"`
	StartedAt     time.Time         `json:"startedAt,omitempty"`
	Unreachable   time.Time         `json:"unreachableSince,omitempty"`
	Killing       bool              `json:"killing,omitempty"`
	EverReady     bool              `json:"everReady,omitempty"`
	// Checks holds the framework-run health check results, by index of
	// the app's healthChecks (nil entries for agent-run checks).
	Checks []*plan.Health `json:"checks,omitempty"`
	// Readiness is the outcome of the app's readiness check so far; nil
	// until it first answered (see readiness.go).
	Readiness *readiness `json:"readiness,omitempty"`
	// lastStatus is the time of the newest status seen (for reconciliation).
	LastStatus time.Time `json:"lastStatus,omitempty"`
}

func (in *instance) toPlan() plan.Instance {
	return plan.Instance{
		TaskID: in.TaskID, AppID: in.AppID, ConfigVersion: in.ConfigVersion,
		AgentID: in.AgentID, Hostname: in.Host, Attributes: in.Attributes, Ports: in.Ports,
		State: in.State, Healthy: in.Healthy, StagedAt: in.StagedAt, StartedAt: in.StartedAt,
		UnreachableSince: in.Unreachable, Killing: in.Killing,
		ReadinessPassed: in.Readiness != nil && in.Readiness.Ready,
	}
}

// ready reports whether the instance counts as up: running, and healthy
// when the app has health checks.
func (in *instance) ready(checked bool) bool {
	if in.State != mesos.TaskRunning || in.Killing {
		return false
	}
	return !checked || (in.Healthy != nil && *in.Healthy)
}

// configVersion is the version of an app's configuration: it changes on
// config changes and restarts, not on scaling.
func configVersion(a app.App) string {
	if a.VersionInfo != nil && a.VersionInfo.LastConfigChangeAt != "" {
		return a.VersionInfo.LastConfigChangeAt
	}
	return a.Version
}

// specOf is what the planner needs of an app. A deleting app wants no
// instances.
func specOf(a app.App, deleting bool) plan.Spec {
	s := plan.Spec{
		AppID:                 a.ID,
		ConfigVersion:         configVersion(a),
		Instances:             a.Instances,
		CPUs:                  a.CPUs,
		Mem:                   a.Mem,
		Disk:                  a.Disk,
		GPUs:                  float64(a.GPUs),
		RequirePorts:          a.RequirePorts,
		MinimumHealthCapacity: a.UpgradeStrategy.MinimumHealthCapacity,
		MaximumOverCapacity:   a.UpgradeStrategy.MaximumOverCapacity,
		HealthChecked:         len(a.HealthChecks) > 0,
		ReadinessChecked:      len(a.ReadinessChecks) > 0,
		KillSelection:         a.KillSelection,
		Backoff:               secondsDur(a.BackoffSeconds),
		BackoffFactor:         a.BackoffFactor,
		MaxLaunchDelay:        secondsDur(a.MaxLaunchDelaySeconds),
	}
	if deleting {
		s.Instances = 0
		s.MinimumHealthCapacity = 0
	}
	s.Docker = app.DockerOf(a) != nil
	if d := app.DockerOf(a); d != nil && d.Network != app.NetworkHost {
		// A mapping's host port is taken as given (0: any).
		s.Ports, s.RequirePorts = d.HostPorts(), true
	} else {
		for _, pd := range a.PortDefinitions {
			if a.RequirePorts {
				s.Ports = append(s.Ports, uint64(pd.Port))
			} else {
				s.Ports = append(s.Ports, 0)
			}
		}
	}
	for _, c := range a.Constraints {
		s.Constraints = append(s.Constraints, plan.Constraint{Field: c.Field, Operator: c.Operator, Value: c.Value})
	}
	if a.UnreachableStrategy.Disabled {
		s.UnreachableInactiveAfter, s.UnreachableExpungeAfter = -1, -1
	} else {
		s.UnreachableInactiveAfter = time.Duration(a.UnreachableStrategy.InactiveAfterSeconds) * time.Second
		s.UnreachableExpungeAfter = time.Duration(a.UnreachableStrategy.ExpungeAfterSeconds) * time.Second
	}
	return s
}

func secondsDur(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// agentRunCheck reports whether a health check protocol is run by the
// agent (and reported through TaskStatus.healthy) rather than by us.
func agentRunCheck(protocol string) bool {
	switch strings.ToUpper(protocol) {
	case "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP":
		return true
	}
	return false
}

// taskInfo builds the kernel task for one placement of an app. The task
// runs as the app's user (CommandInfo.user) when it names one; otherwise
// it names none, and the agent runs it as the framework's user.
//
// The environment holds the app's env in name order: plain values as
// they are, and each secret reference as a SECRET variable whose secret
// is a REFERENCE to the store name of the app's secret (see secretEnv),
// which the agent resolves at launch; the framework never sees a value.
// The MARATHON_* and PORT* variables follow.
func taskInfo(a app.App, taskID, role string, p plan.Placement) mesos.TaskInfo {
	cmd := &mesos.CommandInfo{User: a.User}
	if a.Cmd != nil {
		cmd.Value = *a.Cmd
	} else if len(a.Args) > 0 {
		f := false
		cmd.Shell = &f
		cmd.Value = a.Args[0]
		cmd.Arguments = a.Args
	}
	env := &mesos.Environment{}
	add := func(k, v string) { env.Variables = append(env.Variables, mesos.Variable{Name: k, Value: v}) }
	secrets := secretEnv(a)
	names := slices.Concat(sortedKeys(a.Env), sortedKeys(secrets))
	slices.Sort(names)
	for _, k := range slices.Compact(names) {
		if name, ok := secrets[k]; ok {
			env.Variables = append(env.Variables, mesos.Variable{Name: k, Type: mesos.VariableSecret,
				Secret: &mesos.Secret{Type: mesos.SecretReferenceType, Reference: &mesos.SecretReference{Name: name}}})
		} else {
			add(k, a.Env[k])
		}
	}
	add("MARATHON_APP_ID", a.ID)
	add("MARATHON_APP_VERSION", a.Version)
	docker := app.DockerOf(a)
	if docker != nil {
		add("MARATHON_APP_DOCKER_IMAGE", docker.Image)
	}
	add("MARATHON_APP_RESOURCE_CPUS", strconv.FormatFloat(a.CPUs, 'f', -1, 64))
	add("MARATHON_APP_RESOURCE_MEM", strconv.FormatFloat(a.Mem, 'f', -1, 64))
	add("MARATHON_APP_RESOURCE_DISK", strconv.FormatFloat(a.Disk, 'f', -1, 64))
	add("MARATHON_APP_LABELS", strings.Join(sortedKeys(a.Labels), " "))
	// Ports in port-definition order (the agent would list them sorted).
	var list []string
	for i, port := range p.Ports {
		s := strconv.FormatUint(port, 10)
		list = append(list, s)
		add("PORT"+strconv.Itoa(i), s)
		if name := portName(a, docker, i); name != "" {
			add("PORT_"+strings.ToUpper(name), s)
		}
	}
	if len(list) > 0 {
		add("PORT", list[0])
		add("PORTS", strings.Join(list, ","))
	}
	cmd.Environment = env
	cmd.URIs = commandURIs(a)
	ti := mesos.TaskInfo{
		Name:      TaskName(a.ID),
		TaskID:    mesos.ID{Value: taskID},
		AgentID:   mesos.ID{Value: p.AgentID},
		Resources: p.Resources.Wire(role),
		Command:   cmd,
	}
	if len(a.Labels) > 0 {
		ti.Labels = &mesos.Labels{}
		for _, k := range sortedKeys(a.Labels) {
			ti.Labels.Labels = append(ti.Labels.Labels, mesos.Label{Key: k, Value: a.Labels[k]})
		}
	}
	if a.TaskKillGracePeriodSeconds != nil {
		ti.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: mesos.Int(int64(*a.TaskKillGracePeriodSeconds) * int64(time.Second))}}
	}
	for _, hc := range a.HealthChecks {
		if !agentRunCheck(hc.Protocol) {
			continue
		}
		ti.HealthCheck = agentHealthCheck(hc, p.Ports)
		break // Mesos runs one health check per task
	}
	if rl := a.ResourceLimits; rl != nil {
		ti.Limits = map[string]mesos.Limit{}
		for name, l := range map[string]*app.Limit{"cpus": rl.CPUs, "mem": rl.Mem} {
			switch {
			case l == nil:
			case l.Unlimited:
				ti.Limits[name] = mesos.Limit{Value: mesos.LimitValue(math.Inf(1))}
			default:
				ti.Limits[name] = mesos.Limit{Value: mesos.LimitValue(l.Value)}
			}
		}
	}
	ti.Discovery = discovery(a, docker, p.Ports)
	ti.Container = secretVolumes(a)
	if docker != nil {
		ti.Container = dockerContainer(docker, p.Ports)
		if a.Cmd == nil && len(a.Args) == 0 {
			// The image's own entrypoint and command.
			no := false
			ti.Command = &mesos.CommandInfo{User: a.User, Shell: &no, Environment: cmd.Environment}
		} else if len(a.Args) > 0 {
			// The arguments are the container's command, after the
			// image's entrypoint.
			ti.Command.Value = ""
		}
	}
	return ti
}

// portName is the name of the app's i-th host port: its port
// definition's, or its Docker port mapping's on a bridge or container
// network.
// TaskName is the name of an app's tasks, as Marathon names them: the
// app id's segments last first, joined by dots ("/group/web" is
// "web.group"), so that DNS names them web-group.<framework>.<domain>.
func TaskName(id string) string {
	segs := strings.Split(strings.Trim(id, "/"), "/")
	slices.Reverse(segs)
	return strings.Join(segs, ".")
}

// discovery is a task's DiscoveryInfo, as Marathon sets it: its name and
// its host ports with their names and protocols, for DNS.
func discovery(a app.App, d *app.Docker, ports []uint64) *mesos.DiscoveryInfo {
	info := &mesos.DiscoveryInfo{Visibility: mesos.VisibilityFramework, Name: TaskName(a.ID)}
	if len(ports) == 0 {
		return info
	}
	info.Ports = &mesos.DiscoveryPorts{}
	for i, p := range ports {
		for _, proto := range strings.Split(portProtocol(a, d, i), ",") {
			info.Ports.Ports = append(info.Ports.Ports, mesos.DiscoveryPort{Number: mesos.Int(p), Name: portName(a, d, i), Protocol: proto})
		}
	}
	return info
}

// portProtocol is the protocol of an app's port i: "tcp", "udp" or
// "udp,tcp".
func portProtocol(a app.App, d *app.Docker, i int) string {
	proto := ""
	if d != nil && d.Network != app.NetworkHost {
		n := 0
		for _, m := range d.PortMappings {
			if m.HostPort == nil {
				continue
			}
			if n == i {
				proto = m.Protocol
			}
			n++
		}
	} else if i < len(a.PortDefinitions) {
		proto = a.PortDefinitions[i].Protocol
	}
	if proto == "" {
		return "tcp"
	}
	return proto
}

func portName(a app.App, d *app.Docker, i int) string {
	if d != nil && d.Network != app.NetworkHost {
		n := 0
		for _, m := range d.PortMappings {
			if m.HostPort == nil {
				continue
			}
			if n == i {
				return m.Name
			}
			n++
		}
		return ""
	}
	if i < len(a.PortDefinitions) {
		return a.PortDefinitions[i].Name
	}
	return ""
}

// dockerContainer is the kernel container of an app's Docker container,
// its mappings' host ports taken from ports (the placement's, in
// HostPorts order); a container port 0 is its host port, and "udp,tcp"
// is two mappings.
func dockerContainer(d *app.Docker, ports []uint64) *mesos.ContainerInfo {
	info := &mesos.DockerInfo{Image: d.Image, Privileged: d.Privileged, ForcePullImage: d.ForcePullImage}
	c := &mesos.ContainerInfo{Type: mesos.ContainerDocker, Docker: info}
	switch d.Network {
	case app.NetworkBridge:
		info.Network = mesos.NetworkBridge
	case app.NetworkContainer:
		info.Network = mesos.NetworkUser
		c.NetworkInfos = []mesos.NetworkInfo{{Name: d.NetworkName}}
	default:
		info.Network = mesos.NetworkHost
	}
	i := 0
	for _, m := range d.PortMappings {
		if m.HostPort == nil {
			continue
		}
		if i >= len(ports) {
			break
		}
		host := uint32(ports[i])
		i++
		cport := uint32(m.ContainerPort)
		if cport == 0 {
			cport = host
		}
		for _, proto := range strings.Split(m.Protocol, ",") {
			info.PortMappings = append(info.PortMappings, mesos.PortMapping{HostPort: host, ContainerPort: cport, Protocol: proto})
		}
	}
	for _, p := range d.Parameters {
		info.Parameters = append(info.Parameters, mesos.Parameter{Key: p.Key, Value: p.Value})
	}
	for _, v := range d.Volumes {
		c.Volumes = append(c.Volumes, mesos.Volume{ContainerPath: v.ContainerPath, HostPath: v.HostPath, Mode: v.Mode})
	}
	return c
}

// secretVolumes is the container of the app's secret files
// (app.SecretFiles): a MESOS container of read-only SECRET volumes, each
// a REFERENCE to the store name of the app's secret, which the agent
// writes to the sandbox at launch. Nil for an app without secret files.
func secretVolumes(a app.App) *mesos.ContainerInfo {
	files := a.SecretFiles()
	if len(files) == 0 {
		return nil
	}
	c := &mesos.ContainerInfo{Type: mesos.ContainerMesos}
	for _, f := range files {
		s, ok := a.Secrets[f.Secret]
		if !ok {
			continue // Validate refuses such an app
		}
		c.Volumes = append(c.Volumes, mesos.Volume{ContainerPath: f.Path, Mode: mesos.VolumeRO,
			Source: &mesos.VolumeSource{Type: mesos.VolumeSourceSecret, Secret: &mesos.Secret{Type: mesos.SecretReferenceType,
				Reference: &mesos.SecretReference{Name: s.StoreName()}}}})
	}
	return c
}

// secretEnv maps the app's secret env variables to the store names of the
// secrets they reference. A reference to a secret the app does not define
// is left out: Validate refuses such an app.
func secretEnv(a app.App) map[string]string {
	out := make(map[string]string, len(a.EnvSecrets))
	for k, ref := range a.EnvSecrets {
		if s, ok := a.Secrets[ref]; ok {
			out[k] = s.StoreName()
		}
	}
	return out
}

// agentHealthCheck translates a Marathon COMMAND/MESOS_* check.
func agentHealthCheck(hc app.HealthCheck, ports []uint64) *mesos.HealthCheck {
	f := func(v int) *mesos.Float { x := mesos.Float(v); return &x }
	failures := mesos.Int(hc.MaxConsecutiveFailures)
	out := &mesos.HealthCheck{
		DelaySeconds:        f(hc.DelaySeconds),
		IntervalSeconds:     f(hc.IntervalSeconds),
		TimeoutSeconds:      f(hc.TimeoutSeconds),
		GracePeriodSeconds:  f(hc.GracePeriodSeconds),
		ConsecutiveFailures: &failures,
	}
	port := checkPort(hc, ports)
	switch strings.ToUpper(hc.Protocol) {
	case "COMMAND":
		out.Type = "COMMAND"
		if hc.Command != nil {
			out.Command = &mesos.CommandInfo{Value: hc.Command.Value}
		}
	case "MESOS_HTTP", "MESOS_HTTPS":
		out.Type = "HTTP"
		scheme := "http"
		if strings.ToUpper(hc.Protocol) == "MESOS_HTTPS" {
			scheme = "https"
		}
		out.HTTP = &mesos.HTTPCheckInfo{Scheme: scheme, Port: mesos.Int(port), Path: hc.Path}
	case "MESOS_TCP":
		out.Type = "TCP"
		out.TCP = &mesos.TCPCheckInfo{Port: mesos.Int(port)}
	}
	return out
}

// checkPort is the host port a health check probes.
func checkPort(hc app.HealthCheck, ports []uint64) uint64 {
	if hc.Port != nil && *hc.Port > 0 {
		return uint64(*hc.Port)
	}
	idx := 0
	if hc.PortIndex != nil {
		idx = *hc.PortIndex
	}
	if idx >= 0 && idx < len(ports) {
		return ports[idx]
	}
	return 0
}

// offerOf converts a kernel offer for the planner.
func offerOf(o *mesos.Offer) plan.Offer {
	res, _ := resource.FromWire(o.Resources)
	return plan.Offer{ID: o.ID.Value, AgentID: o.AgentID.Value, Hostname: o.Hostname, Attributes: textAttributes(o.Attributes), Resources: res}
}

// textAttributes renders agent attributes as text, the form constraints
// compare against.
func textAttributes(as []mesos.Attribute) map[string]string {
	out := map[string]string{}
	for _, a := range as {
		switch {
		case a.Text != nil:
			out[a.Name] = a.Text.Value
		case a.Scalar != nil:
			out[a.Name] = strconv.FormatFloat(float64(a.Scalar.Value), 'f', -1, 64)
		case a.Set != nil:
			out[a.Name] = "{" + strings.Join(a.Set.Item, ",") + "}"
		case a.Ranges != nil:
			var rs []string
			for _, r := range a.Ranges.Range {
				rs = append(rs, strconv.FormatUint(uint64(r.Begin), 10)+"-"+strconv.FormatUint(uint64(r.End), 10))
			}
			out[a.Name] = "[" + strings.Join(rs, ",") + "]"
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// commandURIs maps the app's fetch, or its legacy uris, to
// CommandInfo.uris, as Marathon's TaskBuilder does: a legacy URI takes
// Mesos' defaults (archives extracted).
func commandURIs(a app.App) []mesos.CommandURI {
	var out []mesos.CommandURI
	for _, u := range a.URIs {
		out = append(out, mesos.CommandURI{Value: u})
	}
	for _, f := range a.Fetch {
		out = append(out, mesos.CommandURI{Value: f.URI, Executable: &f.Executable, Extract: &f.Extract,
			Cache: &f.Cache, OutputFile: f.DestPath})
	}
	return out
}
