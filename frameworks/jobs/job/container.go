package job

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"

	"corral/frameworks/internal/blank"
	"corral/kernel/mesos"
)

// Container is the Docker container a job's runs run in: Chronos'
// "container" with an image. Chronos' MESOS type with an image (the
// MESOS containerizer running a Docker image) is refused by the
// decoders: corral runs images with the Docker engine only.
type Container struct {
	// Image is the Docker image; required.
	Image string
	// Network is NetworkHost, NetworkBridge or NetworkUser; "" means
	// NetworkHost. The decoders store it upper-cased.
	Network string
	// NetworkName is the Docker network a NetworkUser container joins
	// (Chronos' networkName, or the name of its one networkInfos entry).
	NetworkName string
	// Volumes mount host paths into the container.
	Volumes []Volume
	// ForcePullImage pulls the image before every run, not only when the
	// agent's engine lacks it.
	ForcePullImage bool
	// Parameters are `docker run` options, --key=value; the keys are
	// those of mesos.DockerParameters that are not refused.
	Parameters []Parameter
}

// The networks of a Container, as Chronos names them.
const (
	NetworkHost   = "HOST"
	NetworkBridge = "BRIDGE"
	NetworkUser   = "USER"
)

// Volume mounts HostPath (relative: a path in the run's sandbox) at
// ContainerPath (relative: under the sandbox's mount point), read-write
// or read-only.
type Volume struct {
	ContainerPath, HostPath string
	// Mode is "RW" or "RO"; the decoders turn an absent mode into "RW".
	Mode string
}

// Parameter is a `docker run` option.
type Parameter struct{ Key, Value string }

// Fetch is a file the agent downloads into each run's sandbox before the
// command starts (Chronos' fetch entry; its uris are plain URIs with the
// defaults below).
type Fetch struct {
	// URI is an http, https or file URI, or an absolute path on the
	// agent (see mesos.Locate).
	URI string
	// Executable makes the file executable (and is never extracted).
	Executable bool
	// Extract unpacks an archive into the sandbox; the decoders default
	// it to true, as Mesos and Chronos do.
	Extract bool
	// Cache keeps the file in the agent's fetcher cache.
	Cache bool
	// OutputFile, if set, is the file's path in the sandbox (relative,
	// inside it); otherwise the URI's base name.
	OutputFile string
}

// containerWire is the JSON of a Container, in both formats: Chronos'
// field names, type always DOCKER, the network name as the one entry of
// networkInfos.
type containerWire struct {
	Type           string            `json:"type"`
	Image          string            `json:"image"`
	Network        string            `json:"network"`
	NetworkInfos   []networkInfoWire `json:"networkInfos"`
	Volumes        []volumeWire      `json:"volumes"`
	ForcePullImage bool              `json:"forcePullImage"`
	Parameters     []parameterWire   `json:"parameters"`
}

type networkInfoWire struct {
	Name string `json:"name"`
}

type volumeWire struct {
	ContainerPath string `json:"containerPath"`
	HostPath      string `json:"hostPath"`
	Mode          string `json:"mode"`
}

type parameterWire struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// containerJSON returns the JSON shape of c, nil for no container.
func containerJSON(c *Container) *containerWire {
	if c == nil {
		return nil
	}
	network := c.Network
	if network == "" {
		network = NetworkHost
	}
	w := &containerWire{Type: mesos.ContainerDocker, Image: c.Image, Network: network,
		NetworkInfos: []networkInfoWire{}, Volumes: []volumeWire{}, ForcePullImage: c.ForcePullImage,
		Parameters: []parameterWire{}}
	if c.NetworkName != "" {
		w.NetworkInfos = append(w.NetworkInfos, networkInfoWire{Name: c.NetworkName})
	}
	for _, v := range c.Volumes {
		w.Volumes = append(w.Volumes, volumeWire(v))
	}
	for _, p := range c.Parameters {
		w.Parameters = append(w.Parameters, parameterWire(p))
	}
	return w
}

// fetchWire is the native JSON of a Fetch; Chronos calls outputFile
// output_file (chronosFetchWire).
type fetchWire struct {
	URI        string `json:"uri"`
	Executable bool   `json:"executable"`
	Extract    bool   `json:"extract"`
	Cache      bool   `json:"cache"`
	OutputFile string `json:"outputFile,omitempty"`
}

type chronosFetchWire struct {
	URI        string `json:"uri"`
	Executable bool   `json:"executable"`
	Extract    bool   `json:"extract"`
	Cache      bool   `json:"cache"`
	OutputFile string `json:"output_file,omitempty"`
}

// clone returns a deep copy of c.
func (c *Container) clone() *Container {
	if c == nil {
		return nil
	}
	out := *c
	out.Volumes = slices.Clone(c.Volumes)
	out.Parameters = slices.Clone(c.Parameters)
	return &out
}

// containerFields are the fields of a Chronos container.
var containerFields = []string{"forcePullImage", "image", "network", "networkInfos", "networkName", "parameters", "type", "volumes"}

// container reads a Chronos container. Chronos reads a container only
// when it has an image; so does container, returning nil for one
// without, unless it asks for what only an image would give (volumes, a
// network, docker parameters): that is refused at path/image, as the run
// would not get it. In a request it refuses (into d.meaning) what corral
// does not run: a MESOS container with an image, external volumes,
// network labels, and a network name that contradicts another or goes
// with a network other than USER. The rest is for Validate.
func (d *decoder) container(path string, raw json.RawMessage) *Container {
	m, ok := d.object(path, raw)
	if !ok {
		return nil
	}
	d.warnUnknown(path, raw, func(k string) bool { return slices.Contains(containerFields, k) })
	var typ string
	c := &Container{}
	if r, ok := m["type"]; ok {
		d.str(path+"/type", r, &typ)
	}
	if r, ok := m["image"]; ok {
		d.str(path+"/image", r, &c.Image)
	}
	if r, ok := m["network"]; ok {
		d.str(path+"/network", r, &c.Network)
		c.Network = strings.ToUpper(strings.TrimSpace(c.Network))
	}
	var name string
	if r, ok := m["networkName"]; ok {
		d.str(path+"/networkName", r, &name)
	}
	var infos []string
	if r, ok := m["networkInfos"]; ok {
		infos = d.networkInfos(path+"/networkInfos", r)
	}
	if r, ok := m["volumes"]; ok {
		c.Volumes = d.volumes(path+"/volumes", r)
	}
	if r, ok := m["forcePullImage"]; ok {
		d.boolean(path+"/forcePullImage", r, &c.ForcePullImage)
	}
	if r, ok := m["parameters"]; ok {
		c.Parameters = d.parameters(path+"/parameters", r)
	}
	if d.fw == nil {
		// Stored JSON: written by MarshalJSON, valid when stored.
		if len(infos) > 0 {
			c.NetworkName = infos[0]
		}
		if c.Image == "" {
			return nil
		}
		return c
	}

	if c.Image == "" {
		if len(c.Volumes) > 0 || len(c.Parameters) > 0 || name != "" || len(infos) > 0 || c.Network != "" && c.Network != NetworkHost {
			d.meaning.add(path+"/image", "must not be empty: volumes, networks and docker parameters are for a Docker container; give its image, or leave container out")
		}
		return nil
	}
	switch strings.ToUpper(strings.TrimSpace(typ)) {
	case "", mesos.ContainerDocker:
	case mesos.ContainerMesos:
		d.meaning.add(path+"/type", `images run as Docker containers: give "type": "DOCKER" (corral's MESOS containerizer runs no images)`)
	default:
		d.meaning.add(path+"/type", fmt.Sprintf("unknown container type %q (want DOCKER)", typ))
	}
	switch {
	case len(infos) > 1:
		d.meaning.add(path+"/networkInfos", fmt.Sprintf("a Docker container joins one network (got %d)", len(infos)))
	case len(infos) == 1 && name != "" && infos[0] != name:
		d.meaning.add(path+"/networkName", fmt.Sprintf("%q contradicts networkInfos(0)/name %q; give one of them", name, infos[0]))
	case len(infos) == 1:
		name = infos[0]
	}
	c.NetworkName = name
	if name != "" && c.Network != NetworkUser {
		field := "/networkName"
		if len(infos) > 0 {
			field = "/networkInfos"
		}
		d.meaning.add(path+field, fmt.Sprintf("a network name is only for a USER network (network is %s)", orHost(c.Network)))
	}
	return c
}

func orHost(network string) string {
	if network == "" {
		return NetworkHost
	}
	return network
}

// networkInfos reads Chronos' networkInfos, [{"name", "labels"}], into
// the names.
func (d *decoder) networkInfos(path string, raw json.RawMessage) []string {
	items, ok := d.array(path, raw, `must be an array of {"name"} objects`)
	if !ok {
		return nil
	}
	var out []string
	for i, item := range items {
		p := fmt.Sprintf("%s(%d)", path, i)
		fields, ok := d.object(p, item)
		if !ok {
			continue
		}
		d.warnUnknown(p, item, func(k string) bool { return k == "name" || k == "labels" })
		var name string
		if r, ok := fields["name"]; ok {
			d.str(p+"/name", r, &name)
		}
		if d.fw != nil && name == "" {
			d.meaning.add(p+"/name", "must not be empty: name the Docker network")
		}
		if d.fw != nil && !blank.JSON(fields["labels"]) {
			d.meaning.add(p+"/labels", "network labels are "+notYet+"; give [] or leave labels out")
		}
		out = append(out, name)
	}
	return out
}

// volumes reads Chronos' volumes, [{"containerPath", "hostPath",
// "mode", "external"}]; an absent mode is RW.
func (d *decoder) volumes(path string, raw json.RawMessage) []Volume {
	items, ok := d.array(path, raw, `must be an array of {"containerPath", "hostPath", "mode"} objects`)
	if !ok {
		return nil
	}
	var out []Volume
	for i, item := range items {
		p := fmt.Sprintf("%s(%d)", path, i)
		fields, ok := d.object(p, item)
		if !ok {
			continue
		}
		d.warnUnknown(p, item, func(k string) bool {
			return k == "containerPath" || k == "hostPath" || k == "mode" || k == "external"
		})
		var v Volume
		if r, ok := fields["containerPath"]; ok {
			d.str(p+"/containerPath", r, &v.ContainerPath)
		}
		if r, ok := fields["hostPath"]; ok {
			d.str(p+"/hostPath", r, &v.HostPath)
		}
		if r, ok := fields["mode"]; ok {
			d.str(p+"/mode", r, &v.Mode)
		}
		v.Mode = strings.ToUpper(strings.TrimSpace(v.Mode))
		if v.Mode == "" {
			v.Mode = mesos.VolumeRW
		}
		if d.fw != nil && !blank.JSON(fields["external"]) {
			d.meaning.add(p+"/external", "external volumes (Docker volume drivers) are "+notYet+"; give hostPath")
		}
		out = append(out, v)
	}
	return out
}

// parameters reads [{"key", "value"}].
func (d *decoder) parameters(path string, raw json.RawMessage) []Parameter {
	items, ok := d.array(path, raw, `must be an array of {"key", "value"} objects`)
	if !ok {
		return nil
	}
	var out []Parameter
	for i, item := range items {
		p := fmt.Sprintf("%s(%d)", path, i)
		fields, ok := d.object(p, item)
		if !ok {
			continue
		}
		d.warnUnknown(p, item, func(k string) bool { return k == "key" || k == "value" })
		var pm Parameter
		if r, ok := fields["key"]; ok {
			d.str(p+"/key", r, &pm.Key)
		}
		if r, ok := fields["value"]; ok {
			d.str(p+"/value", r, &pm.Value)
		}
		out = append(out, pm)
	}
	return out
}

// fetch reads Chronos' fetch, [{"uri", "executable", "extract",
// "cache", "output_file"}]; outputFile, the native name, is read too. An
// absent extract is true.
func (d *decoder) fetch(path string, raw json.RawMessage) []Fetch {
	items, ok := d.array(path, raw, `must be an array of {"uri", "executable", "extract", "cache", "output_file"} objects`)
	if !ok {
		return nil
	}
	var out []Fetch
	for i, item := range items {
		p := fmt.Sprintf("%s(%d)", path, i)
		fields, ok := d.object(p, item)
		if !ok {
			continue
		}
		d.warnUnknown(p, item, func(k string) bool {
			switch k {
			case "uri", "executable", "extract", "cache", "output_file", "outputFile":
				return true
			}
			return false
		})
		f := Fetch{Extract: true}
		if r, ok := fields["uri"]; ok {
			d.str(p+"/uri", r, &f.URI)
		}
		if r, ok := fields["executable"]; ok {
			d.boolean(p+"/executable", r, &f.Executable)
		}
		if r, ok := fields["extract"]; ok {
			d.boolean(p+"/extract", r, &f.Extract)
		}
		if r, ok := fields["cache"]; ok {
			d.boolean(p+"/cache", r, &f.Cache)
		}
		var snake string
		if r, ok := fields["output_file"]; ok {
			d.str(p+"/output_file", r, &snake)
		}
		if r, ok := fields["outputFile"]; ok {
			d.str(p+"/outputFile", r, &f.OutputFile)
		}
		switch {
		case snake == "" || snake == f.OutputFile:
		case f.OutputFile != "":
			d.meaning.add(p+"/output_file", fmt.Sprintf("%q contradicts outputFile %q; give one of them", snake, f.OutputFile))
		default:
			f.OutputFile = snake
		}
		out = append(out, f)
	}
	return out
}

// array reads a JSON array; msg is the type error.
func (d *decoder) array(path string, raw json.RawMessage, msg string) ([]json.RawMessage, bool) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		d.types.add(path, msg)
		return nil, false
	}
	return items, true
}

// artifacts decodes what both formats share beyond the plain fields: the
// container, uris and fetch.
func (d *decoder) artifacts(m map[string]json.RawMessage, j *Job) {
	if raw, ok := m["container"]; ok {
		j.Container = d.container("/container", raw)
	}
	if raw, ok := m["uris"]; ok {
		d.strings("/uris", raw, &j.URIs)
	}
	if raw, ok := m["fetch"]; ok {
		j.Fetch = d.fetch("/fetch", raw)
	}
}

// validateContainer checks the job's container (if any) for what the
// agents' Docker containerizer runs (mesos.ContainerInfo.Problem): an
// image, a known network with a name for USER, volumes with both paths
// and a mode, docker parameters corral knows and does not refuse.
func validateContainer(v *collector, c *Container) {
	if c == nil {
		return
	}
	if strings.TrimSpace(c.Image) == "" {
		v.add("/container/image", "must not be empty")
	}
	switch c.Network {
	case "", NetworkHost, NetworkBridge:
		if c.NetworkName != "" {
			v.add("/container/networkName", fmt.Sprintf("a network name is only for a USER network (network is %s)", orHost(c.Network)))
		}
	case NetworkUser:
		if c.NetworkName == "" {
			v.add("/container/network", `USER networking needs the name of a Docker network: give networkName or networkInfos [{"name": …}]`)
		}
	default:
		v.add("/container/network", fmt.Sprintf("unknown network %q (want HOST, BRIDGE or USER)", c.Network))
	}
	for i, vol := range c.Volumes {
		p := fmt.Sprintf("/container/volumes(%d)", i)
		switch {
		case vol.ContainerPath == "":
			v.add(p+"/containerPath", "must not be empty")
		case strings.IndexByte(vol.ContainerPath, 0) >= 0:
			v.add(p+"/containerPath", "must not contain a NUL byte")
		}
		switch {
		case vol.HostPath == "":
			v.add(p+"/hostPath", "must not be empty: corral mounts host paths (external volumes are not supported)")
		case strings.IndexByte(vol.HostPath, 0) >= 0:
			v.add(p+"/hostPath", "must not contain a NUL byte")
		case !path.IsAbs(vol.HostPath):
			if why := mesos.SandboxPathProblem(vol.HostPath); why != "" {
				v.add(p+"/hostPath", fmt.Sprintf("%q: a relative host path is in the sandbox and %s", vol.HostPath, why))
			}
		}
		switch vol.Mode {
		case mesos.VolumeRW, mesos.VolumeRO:
		default:
			v.add(p+"/mode", fmt.Sprintf(`must be "RW" or "RO" (got %q)`, vol.Mode))
		}
	}
	for i, pm := range c.Parameters {
		p := fmt.Sprintf("/container/parameters(%d)/key", i)
		kind, ok := mesos.DockerParameters[pm.Key]
		switch {
		case !ok:
			v.add(p, fmt.Sprintf("docker option %q is not supported", pm.Key))
		case kind.Why != "":
			v.add(p, fmt.Sprintf("docker option %q is not supported: %s", pm.Key, kind.Why))
		}
	}
}

// validateFetch checks the URIs as the agent fetches them (mesos.Locate,
// mesos.SandboxPath). Chronos refuses uris and fetch together, and so
// does validateFetch: a job's files are listed once.
func validateFetch(v *collector, uris []string, fetch []Fetch) {
	if len(uris) > 0 && len(fetch) > 0 {
		v.add("/uris", "uris and fetch may not be given together; use fetch")
	}
	for i, u := range uris {
		if why := (mesos.CommandURI{Value: u}).Problem(); why != "" {
			v.add(fmt.Sprintf("/uris(%d)", i), why)
		}
	}
	for i, f := range fetch {
		p := fmt.Sprintf("/fetch(%d)", i)
		if _, err := mesos.Locate(f.URI); err != nil {
			v.add(p+"/uri", err.Error())
		}
		if f.OutputFile != "" {
			if _, err := mesos.SandboxPath(f.OutputFile); err != nil {
				v.add(p+"/outputFile", err.Error())
			}
		}
	}
}

// Fetches returns the files of the job's runs, in order: its uris with
// Mesos' defaults (extracted, not executable, not cached), then its fetch.
func (j Job) Fetches() []Fetch {
	var out []Fetch
	for _, u := range j.URIs {
		out = append(out, Fetch{URI: u, Extract: true})
	}
	return append(out, j.Fetch...)
}
