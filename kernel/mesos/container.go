package mesos

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
)

// ContainerInfo is the proto ContainerInfo message. corral runs a MESOS
// container as a plain process on the agent, acting on its volumes whose
// source is a SECRET: each is a file in the task's sandbox holding the
// secret's value (see SecretVolumes). A DOCKER container runs its image
// with the Docker engine (Docker, NetworkInfos, host-path volumes,
// Hostname). The other fields are kept as given, so that validation can
// refuse a task that sets them, naming the field, rather than run it
// without what it asked for.
type ContainerInfo struct {
	Type     string   `json:"type,omitempty" pb:"1,enum=ContainerType"`
	Volumes  []Volume `json:"volumes,omitempty" pb:"2"`
	Hostname string   `json:"hostname,omitempty" pb:"4"`

	Docker       *DockerInfo     `json:"docker,omitempty" pb:"3"`
	NetworkInfos []NetworkInfo   `json:"network_infos,omitempty" pb:"7"`
	Mesos        json.RawMessage `json:"mesos,omitempty" pb:"5,raw"`
	LinuxInfo    json.RawMessage `json:"linux_info,omitempty" pb:"8,raw"`
	RlimitInfo   json.RawMessage `json:"rlimit_info,omitempty" pb:"9,raw"`
	TTYInfo      json.RawMessage `json:"tty_info,omitempty" pb:"10,raw"`
}

// Container types.
const (
	ContainerMesos  = "MESOS"
	ContainerDocker = "DOCKER"
)

// Volume is the proto Volume message: ContainerPath in the container
// (relative: in the sandbox), with Mode RO or RW, from Source.
type Volume struct {
	Mode          string          `json:"mode,omitempty" pb:"3,enum=VolumeMode"`
	ContainerPath string          `json:"container_path" pb:"1,req"`
	HostPath      string          `json:"host_path,omitempty" pb:"2"`
	Image         json.RawMessage `json:"image,omitempty" pb:"4,raw"`
	Source        *VolumeSource   `json:"source,omitempty" pb:"5"`
}

// Volume modes.
const (
	VolumeRO = "RO"
	VolumeRW = "RW"
)

// VolumeSource is Volume.Source. Of its types corral implements SECRET;
// the other sources are kept as given for validation to refuse.
type VolumeSource struct {
	Type   string  `json:"type,omitempty" pb:"1,enum=VolumeSourceType"`
	Secret *Secret `json:"secret,omitempty" pb:"4"`

	DockerVolume json.RawMessage `json:"docker_volume,omitempty" pb:"2,raw"`
	HostPath     json.RawMessage `json:"host_path,omitempty" pb:"5,raw"`
	SandboxPath  json.RawMessage `json:"sandbox_path,omitempty" pb:"3,raw"`
	CSIVolume    json.RawMessage `json:"csi_volume,omitempty" pb:"6,raw"`
}

// VolumeSourceSecret is the type of a volume that is a secret file.
const VolumeSourceSecret = "SECRET"

// SecretVolumes returns the container's volumes whose source is a
// SECRET, in order; none for a nil container.
func (c *ContainerInfo) SecretVolumes() []Volume {
	if c == nil {
		return nil
	}
	var out []Volume
	for _, v := range c.Volumes {
		if v.Source != nil && v.Source.Type == VolumeSourceSecret {
			out = append(out, v)
		}
	}
	return out
}

// SecretRefs returns the names of the stored secrets the task references
// anywhere: in its command's environment, its health check command's
// environment and its secret volumes; in that order, without duplicates.
func (t *TaskInfo) SecretRefs() []string {
	var out []string
	seen := map[string]bool{}
	add := func(s *Secret) {
		if s != nil && s.Type == SecretReferenceType && s.Reference != nil && !seen[s.Reference.Name] {
			seen[s.Reference.Name] = true
			out = append(out, s.Reference.Name)
		}
	}
	addEnv := func(c *CommandInfo) {
		if c == nil || c.Environment == nil {
			return
		}
		for _, v := range c.Environment.Variables {
			if v.Type == VariableSecret {
				add(v.Secret)
			}
		}
	}
	addEnv(t.Command)
	if t.HealthCheck != nil {
		addEnv(t.HealthCheck.Command)
	}
	for _, v := range t.Container.SecretVolumes() {
		add(v.Source.Secret)
	}
	return out
}

// MaxVolumePath is the longest container_path of a volume, in bytes.
const MaxVolumePath = 1024

// SandboxPathProblem returns "" if p can name a file a task's sandbox is
// given (a secret volume): relative, clean (no ".", ".." or empty
// component, no trailing slash), without NUL, at most MaxVolumePath
// bytes, and not one of the files the agent writes there itself (stdout,
// stderr). Otherwise it returns what is wrong, as a phrase completing
// "container_path "p" …".
func SandboxPathProblem(p string) string {
	switch {
	case p == "":
		return "is empty: give a path relative to the sandbox"
	case len(p) > MaxVolumePath:
		return fmt.Sprintf("is longer than %d bytes", MaxVolumePath)
	case strings.IndexByte(p, 0) >= 0:
		return "contains a NUL byte"
	case path.IsAbs(p):
		return "is absolute: tasks have no file system of their own; give a path relative to the sandbox"
	case path.Clean(p) != p || p == "." || strings.HasPrefix(p, "../") || p == "..":
		return "must be a clean path inside the sandbox (no '.', '..', empty components or trailing '/')"
	case p == "stdout" || p == "stderr":
		return "is where the agent writes the task's output"
	}
	return ""
}

// Problem validates a secret's shape: a REFERENCE to a stored secret by
// name (keys are not supported), or an inline VALUE. It returns "" or
// what is wrong.
func (s *Secret) Problem() string {
	switch {
	case s.Type == SecretReferenceType && (s.Reference == nil || s.Reference.Name == ""):
		return "a secret of type REFERENCE must set 'reference.name'"
	case s.Type == SecretReferenceType && s.Reference.Key != "":
		return "secret keys are not supported; store the value under a name of its own"
	case s.Type == SecretValueType && s.Value == nil:
		return "a secret of type VALUE must set 'value'"
	case s.Type != SecretReferenceType && s.Type != SecretValueType:
		return fmt.Sprintf("unknown secret type %q (want REFERENCE or VALUE)", s.Type)
	}
	return ""
}

// Problem validates a task's container: a MESOS container runs its task
// in the agent's own file system and acts on one kind of volume, a
// SECRET, written to a file at the volume's container_path in the
// sandbox; a DOCKER container is checked by dockerProblem. Every other
// field that would change what the task gets is refused by name. It
// returns "" or what is wrong.
func (c *ContainerInfo) Problem() string {
	switch c.Type {
	case "", ContainerMesos:
	case ContainerDocker:
		if p := c.otherProblem(); p != "" {
			return p
		}
		return c.dockerProblem()
	default:
		return fmt.Sprintf("unknown container type %q (want MESOS or DOCKER)", c.Type)
	}
	if c.Docker != nil {
		return "'container.docker' is for DOCKER containers; set type DOCKER to run an image"
	}
	if len(c.NetworkInfos) > 0 {
		return "'container.network_infos' is not supported for a MESOS container: tasks use the agent's network"
	}
	if !blankJSON(c.Mesos) {
		return "'container.mesos' (an image for the MESOS containerizer) is not supported; run images as DOCKER containers"
	}
	if p := c.otherProblem(); p != "" {
		return p
	}
	if c.Hostname != "" {
		return "'container.hostname' is not supported for a MESOS container: tasks share the agent's hostname; leave it out"
	}
	seen := map[string]bool{}
	for i, v := range c.Volumes {
		field := fmt.Sprintf("'container.volumes[%d]", i)
		switch {
		case v.Source == nil || v.Source.Type != VolumeSourceSecret:
			return field + "': only volumes whose source is a SECRET (a file in the sandbox) are supported"
		case v.HostPath != "":
			return field + ".host_path' is not supported: a SECRET volume is a file in the sandbox"
		case !blankJSON(v.Image):
			return field + ".image' is not supported"
		case !blankJSON(v.Source.DockerVolume) || !blankJSON(v.Source.HostPath) || !blankJSON(v.Source.SandboxPath) || !blankJSON(v.Source.CSIVolume):
			return field + ".source': a SECRET source sets only 'secret'"
		case v.Mode != "" && v.Mode != VolumeRO && v.Mode != VolumeRW:
			return fmt.Sprintf("%s.mode': unknown mode %q (want RO or RW)", field, v.Mode)
		case v.Source.Secret == nil:
			return field + ".source.secret': a SECRET volume must set 'secret'"
		}
		if reason := v.Source.Secret.Problem(); reason != "" {
			return field + ".source.secret': " + reason
		}
		if reason := SandboxPathProblem(v.ContainerPath); reason != "" {
			return fmt.Sprintf("%s.container_path' %q %s", field, v.ContainerPath, reason)
		}
		if seen[v.ContainerPath] {
			return fmt.Sprintf("%s.container_path' %q is used by an earlier volume", field, v.ContainerPath)
		}
		seen[v.ContainerPath] = true
	}
	return ""
}

// otherProblem refuses the fields no container type supports.
func (c *ContainerInfo) otherProblem() string {
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{
		{"linux_info", c.LinuxInfo}, {"rlimit_info", c.RlimitInfo}, {"tty_info", c.TTYInfo},
	} {
		if !blankJSON(f.raw) {
			return fmt.Sprintf("'container.%s' is not supported; leave it out", f.name)
		}
	}
	return ""
}

// blankJSON reports whether raw is absent or an empty value: null, {},
// [], "", false or 0.
func blankJSON(raw json.RawMessage) bool {
	switch strings.TrimSpace(string(raw)) {
	case "", "null", "{}", "[]", `""`, "false", "0":
		return true
	}
	return false
}
