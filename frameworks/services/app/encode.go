package app

import (
	"encoding/json"
	"errors"
)

// appJSON is the output shape of an App: every field of classic Marathon
// (≤1.4) that its clients expect to find, plus the newer ones.
type appJSON struct {
	ID                         string              `json:"id"`
	Cmd                        *string             `json:"cmd"`
	Args                       []string            `json:"args"`
	User                       *string             `json:"user"`
	Env                        map[string]any      `json:"env"`
	Instances                  int                 `json:"instances"`
	CPUs                       float64             `json:"cpus"`
	Mem                        float64             `json:"mem"`
	Disk                       float64             `json:"disk"`
	GPUs                       int                 `json:"gpus"`
	ResourceLimits             *ResourceLimits     `json:"resourceLimits,omitempty"`
	Executor                   string              `json:"executor"`
	Constraints                []Constraint        `json:"constraints"`
	URIs                       []string            `json:"uris"`
	Fetch                      []Artifact          `json:"fetch"`
	StoreURLs                  []string            `json:"storeUrls"`
	BackoffSeconds             float64             `json:"backoffSeconds"`
	BackoffFactor              float64             `json:"backoffFactor"`
	MaxLaunchDelaySeconds      float64             `json:"maxLaunchDelaySeconds"`
	Container                  json.RawMessage     `json:"container"`
	HealthChecks               []HealthCheck       `json:"healthChecks"`
	ReadinessChecks            []ReadinessCheck    `json:"readinessChecks"`
	Dependencies               []string            `json:"dependencies"`
	UpgradeStrategy            UpgradeStrategy     `json:"upgradeStrategy"`
	Labels                     map[string]string   `json:"labels"`
	AcceptedResourceRoles      []string            `json:"acceptedResourceRoles"`
	IPAddress                  json.RawMessage     `json:"ipAddress"`
	Version                    string              `json:"version,omitempty"`
	Residency                  json.RawMessage     `json:"residency,omitempty"`
	Secrets                    map[string]Secret   `json:"secrets"`
	TaskKillGracePeriodSeconds *int                `json:"taskKillGracePeriodSeconds"`
	UnreachableStrategy        UnreachableStrategy `json:"unreachableStrategy"`
	KillSelection              string              `json:"killSelection"`
	VersionInfo                *VersionInfo        `json:"versionInfo,omitempty"`
	Ports                      []int               `json:"ports"`
	PortDefinitions            []PortDefinition    `json:"portDefinitions"`
	RequirePorts               bool                `json:"requirePorts"`
	Networks                   json.RawMessage     `json:"networks,omitempty"`
	Role                       string              `json:"role,omitempty"`
}

// MarshalJSON writes the app in the classic Marathon shape that existing
// clients parse, plus the newer fields: unset cmd, args and user are null;
// env (plain values as strings, secret references as {"secret": "<name>"}),
// labels and secrets ({"<name>": {"source": "<store name>"}}) are {} when
// empty; constraints (as arrays of
// strings), healthChecks, dependencies, uris, fetch, storeUrls and
// readinessChecks are [] when empty; container, ipAddress,
// acceptedResourceRoles and taskKillGracePeriodSeconds are null unless
// given; residency, networks and role are left out unless given; version
// and versionInfo are left out while unset. The legacy "ports" (the
// service ports: the port numbers of portDefinitions, or the port
// mappings' servicePort off host networking) is written next to
// "portDefinitions".
//
// It fails only for values JSON cannot hold (NaN or infinite numbers),
// which Validate rejects.
func (a App) MarshalJSON() ([]byte, error) {
	out := appJSON{
		ID:                         a.ID,
		Cmd:                        a.Cmd,
		Args:                       a.Args,
		Env:                        envJSON(a),
		Instances:                  a.Instances,
		CPUs:                       a.CPUs,
		Mem:                        a.Mem,
		Disk:                       a.Disk,
		GPUs:                       a.GPUs,
		ResourceLimits:             a.ResourceLimits,
		Executor:                   a.Executor,
		Constraints:                orEmpty(a.Constraints),
		URIs:                       orEmpty(a.URIs),
		Fetch:                      orEmpty(a.Fetch),
		StoreURLs:                  orEmpty(a.StoreURLs),
		BackoffSeconds:             a.BackoffSeconds,
		BackoffFactor:              a.BackoffFactor,
		MaxLaunchDelaySeconds:      a.MaxLaunchDelaySeconds,
		Container:                  a.Container,
		HealthChecks:               orEmpty(a.HealthChecks),
		ReadinessChecks:            orEmpty(a.ReadinessChecks),
		Dependencies:               orEmpty(a.Dependencies),
		UpgradeStrategy:            a.UpgradeStrategy,
		Labels:                     orEmptyMap(a.Labels),
		AcceptedResourceRoles:      a.AcceptedResourceRoles,
		IPAddress:                  a.IPAddress,
		Version:                    a.Version,
		Residency:                  a.Residency,
		Secrets:                    orEmptyMap(a.Secrets),
		TaskKillGracePeriodSeconds: a.TaskKillGracePeriodSeconds,
		UnreachableStrategy:        a.UnreachableStrategy,
		KillSelection:              a.KillSelection,
		VersionInfo:                a.VersionInfo,
		Ports:                      a.ServicePorts(),
		PortDefinitions:            orEmpty(a.PortDefinitions),
		RequirePorts:               a.RequirePorts,
		Networks:                   a.Networks,
		Role:                       a.Role,
	}
	if a.User != "" {
		out.User = &a.User
	}
	return json.Marshal(out)
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func orEmptyMap[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}

// envRef is the JSON of a variable whose value is a secret.
type envRef struct {
	Secret string `json:"secret"`
}

// envJSON is the app's "env": the plain variables as strings, those of
// EnvSecrets as {"secret": "<name>"}.
func envJSON(a App) map[string]any {
	out := make(map[string]any, len(a.Env)+len(a.EnvSecrets))
	for k, v := range a.Env {
		out[k] = v
	}
	for k, name := range a.EnvSecrets {
		out[k] = envRef{Secret: name}
	}
	return out
}

// MarshalJSON writes the constraint as ["field","OPERATOR"] or, with a
// value, ["field","OPERATOR","value"].
func (c Constraint) MarshalJSON() ([]byte, error) {
	if c.Value == "" {
		return json.Marshal([]string{c.Field, c.Operator})
	}
	return json.Marshal([]string{c.Field, c.Operator, c.Value})
}

// UnmarshalJSON reads an array of two or three strings; an empty third
// string is the same as none.
func (c *Constraint) UnmarshalJSON(data []byte) error {
	d := newDecoder()
	v, n, ok := d.constraint("/", data)
	if !ok {
		return &InvalidJSON{Message: "Invalid JSON", Details: d.details}
	}
	if n < 2 || n > 3 {
		return &InvalidJSON{Message: "Invalid JSON", Details: []Detail{{Path: "/", Errors: []string{"a constraint has 2 or 3 elements"}}}}
	}
	*c = v
	return nil
}

// MarshalJSON writes "disabled" or
// {"inactiveAfterSeconds":…,"expungeAfterSeconds":…}.
func (u UnreachableStrategy) MarshalJSON() ([]byte, error) {
	if u.Disabled {
		return []byte(`"disabled"`), nil
	}
	return json.Marshal(struct {
		InactiveAfterSeconds int `json:"inactiveAfterSeconds"`
		ExpungeAfterSeconds  int `json:"expungeAfterSeconds"`
	}{u.InactiveAfterSeconds, u.ExpungeAfterSeconds})
}

// UnmarshalJSON reads "disabled" or an object with inactiveAfterSeconds
// and expungeAfterSeconds (absent ones are 0).
func (u *UnreachableStrategy) UnmarshalJSON(data []byte) error {
	d := newDecoder()
	v, ok := d.unreachable("/", data)
	if len(d.details) > 0 {
		return &InvalidJSON{Message: "Invalid JSON", Details: d.details}
	}
	if !ok {
		return errors.New("invalid unreachableStrategy")
	}
	*u = v
	return nil
}

// MarshalJSON writes the port definition with its labels ({} when none)
// and its name when it has one.
func (p PortDefinition) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Port     int               `json:"port"`
		Protocol string            `json:"protocol"`
		Name     string            `json:"name,omitempty"`
		Labels   map[string]string `json:"labels"`
	}{p.Port, p.Protocol, p.Name, orEmptyMap(p.Labels)})
}

// MarshalJSON writes the health check with "portIndex" and "port" when
// set, "path" when not empty, and "command" null unless the protocol is
// COMMAND.
func (hc HealthCheck) MarshalJSON() ([]byte, error) {
	out := struct {
		Protocol               string   `json:"protocol"`
		Path                   string   `json:"path,omitempty"`
		PortIndex              *int     `json:"portIndex,omitempty"`
		Port                   *int     `json:"port,omitempty"`
		Command                *Command `json:"command"`
		GracePeriodSeconds     int      `json:"gracePeriodSeconds"`
		IntervalSeconds        int      `json:"intervalSeconds"`
		TimeoutSeconds         int      `json:"timeoutSeconds"`
		MaxConsecutiveFailures int      `json:"maxConsecutiveFailures"`
		IgnoreHTTP1xx          bool     `json:"ignoreHttp1xx"`
		DelaySeconds           int      `json:"delaySeconds"`
	}{
		Protocol: hc.Protocol, Path: hc.Path, PortIndex: hc.PortIndex, Port: hc.Port,
		GracePeriodSeconds: hc.GracePeriodSeconds, IntervalSeconds: hc.IntervalSeconds,
		TimeoutSeconds: hc.TimeoutSeconds, MaxConsecutiveFailures: hc.MaxConsecutiveFailures,
		IgnoreHTTP1xx: hc.IgnoreHTTP1xx, DelaySeconds: hc.DelaySeconds,
	}
	if hc.Protocol == ProtocolCommand {
		out.Command = hc.Command
	}
	return json.Marshal(out)
}

// MarshalJSON writes the readiness check with every field of Marathon's
// shape.
func (rc ReadinessCheck) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name                    string `json:"name"`
		Protocol                string `json:"protocol"`
		Path                    string `json:"path"`
		PortName                string `json:"portName"`
		IntervalSeconds         int    `json:"intervalSeconds"`
		TimeoutSeconds          int    `json:"timeoutSeconds"`
		HTTPStatusCodesForReady []int  `json:"httpStatusCodesForReady"`
		PreserveLastResponse    bool   `json:"preserveLastResponse"`
	}{rc.Name, rc.Protocol, rc.Path, rc.PortName, rc.IntervalSeconds, rc.TimeoutSeconds, orEmpty(rc.HTTPStatusCodesForReady), rc.PreserveLastResponse})
}
