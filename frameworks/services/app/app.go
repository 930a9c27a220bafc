package app

import (
	"encoding/json"
	"strings"
)

// App is a Marathon app definition: the JSON body of POST /v2/apps and the
// app part of GET /v2/apps/{id}, in the classic (Marathon ≤1.4) shape plus
// the newer fields. The zero value is not useful: build one with Decode (or
// json.Unmarshal) and Normalize it before Validate.
//
// An App is a value. Normalize, Merge and the other functions of this
// package never modify memory shared with another copy, so copies may be
// handed to other goroutines; mutating a copy's maps or slices in place is
// the caller's business.
//
// Compare Apps with ConfigEqual rather than reflect.DeepEqual: the
// unexported bookkeeping (which fields the JSON carried) differs between an
// App fresh from Decode and the same App after Normalize.
type App struct {
	ID   string
	Cmd  *string // nil: not given; run with /bin/sh -c
	Args []string
	// User is the user the app's tasks run as (CommandInfo.user); "":
	// none is named, and the agent runs them as the framework's user.
	User string

	// Env holds the app's plain environment variables, EnvSecrets those
	// whose value is a secret: variable name → the name of an entry of
	// Secrets. In JSON both are "env", a secret one written
	// {"secret": "<name>"}. A variable is in one map or the other; should
	// a Go caller put it in both, the secret is the one written out.
	Env        map[string]string
	EnvSecrets map[string]string
	// Secrets are the secrets the app's env references may use, by the
	// name the references give: "secrets": {"db": {"source": "team/db"}}.
	// They are references only: the values live in the master's secret
	// store, and the agent resolves them when it launches a task. A secret
	// that no variable references is allowed, as in Marathon.
	Secrets map[string]Secret
	Labels  map[string]string

	Instances int
	CPUs      float64
	Mem       float64 // MB
	Disk      float64 // MB
	GPUs      int
	// ResourceLimits, if set, are limits above the requests (CPUs, Mem)
	// the tasks may burst to.
	ResourceLimits *ResourceLimits

	PortDefinitions []PortDefinition
	RequirePorts    bool

	Constraints  []Constraint
	HealthChecks []HealthCheck
	// ReadinessChecks gate deployments: a new instance counts as ready
	// (towards the upgrade strategy and the deployment's progress) only
	// once its check has answered one of HTTPStatusCodesForReady. At most
	// one, as in Marathon.
	ReadinessChecks []ReadinessCheck

	UpgradeStrategy UpgradeStrategy

	BackoffSeconds        float64
	BackoffFactor         float64
	MaxLaunchDelaySeconds float64

	KillSelection              string // KillYoungestFirst or KillOldestFirst
	TaskKillGracePeriodSeconds *int   // nil: the agent's default
	UnreachableStrategy        UnreachableStrategy
	Dependencies               []string

	// Version is when this definition was last changed (scale included),
	// as produced by NewVersion. It is read-only for clients: Merge never
	// takes it from a patch.
	Version     string
	VersionInfo *VersionInfo

	// Fetch are the artifacts the agent fetches into each task's sandbox
	// before the command starts (Marathon's fetch; CommandInfo.uris).
	Fetch []Artifact
	// URIs is Marathon's legacy form of Fetch: each URI is fetched with
	// the defaults, archives extracted. An app gives URIs or Fetch, not
	// both.
	URIs []string

	// Fields accepted for compatibility with existing app definitions and
	// written back unchanged. Corral does not act on them, except that
	// Validate rejects a container with an image.
	// The json.RawMessage fields hold compact JSON or nil (not given).
	Container             json.RawMessage // object
	Executor              string
	AcceptedResourceRoles []string
	IPAddress             json.RawMessage // object
	Networks              json.RawMessage // array
	Residency             json.RawMessage // object
	StoreURLs             []string
	Role                  string

	// given records which fields the decoded JSON carried, so that
	// Normalize can tell an absent field (default applies) from an
	// explicit zero. nil: no record; see Normalize.
	given *given
	// normalized is set by Normalize: every field then counts as given.
	normalized bool
	// problems are findings of Decode that are about meaning rather than
	// JSON types (an env object that is no secret reference, a constraint
	// with four elements...).
	// Validate reports them.
	problems []problem
	// legacyPorts holds "ports" while Decode folds it into PortDefinitions.
	legacyPorts []int
}

// ResourceLimits are an app's limits above its requests (Marathon's
// resourceLimits): a nil field sets none (the request is the limit).
type ResourceLimits struct {
	CPUs, Mem *Limit
}

// Limit is one resource limit: Value, or none at all when Unlimited.
type Limit struct {
	Value     float64
	Unlimited bool
}

// MarshalJSON writes a number or "unlimited".
func (l Limit) MarshalJSON() ([]byte, error) {
	if l.Unlimited {
		return []byte(`"unlimited"`), nil
	}
	return json.Marshal(l.Value)
}

// MarshalJSON writes the limits set.
func (r ResourceLimits) MarshalJSON() ([]byte, error) {
	out := map[string]Limit{}
	if r.CPUs != nil {
		out["cpus"] = *r.CPUs
	}
	if r.Mem != nil {
		out["mem"] = *r.Mem
	}
	return json.Marshal(out)
}

// PortCount is how many host ports each of the app's tasks gets: one per
// port definition, or for a Docker container on a bridge or container
// network one per port mapping that publishes one. Health checks'
// portIndex counts in them.
func (a App) PortCount() int {
	if d := DockerOf(a); d != nil && d.Network != NetworkHost {
		return len(d.HostPorts())
	}
	return len(a.PortDefinitions)
}

// PortNames returns the names of the app's host ports, in the order
// PortCount counts them ("" for an unnamed one): the port definitions'
// names, or for a Docker container on a bridge or container network the
// names of the port mappings that publish a host port.
func (a App) PortNames() []string {
	var out []string
	if d := DockerOf(a); d != nil && d.Network != NetworkHost {
		for _, m := range d.PortMappings {
			if m.HostPort != nil {
				out = append(out, m.Name)
			}
		}
		return out
	}
	for _, pd := range a.PortDefinitions {
		out = append(out, pd.Name)
	}
	return out
}

// PortIndex returns the index among the app's host ports (see PortNames)
// of the port named name, and false when no port has that name.
func (a App) PortIndex(name string) (int, bool) {
	if name == "" {
		return 0, false
	}
	for i, n := range a.PortNames() {
		if n == name {
			return i, true
		}
	}
	return 0, false
}

// Artifact is one entry of an app's fetch (Marathon's artifact.raml): a
// file the agent puts into each task's sandbox. URI is http, https, file
// or an absolute path on the agent; Extract (default true) unpacks an
// archive; Executable makes the file executable (and is never extracted);
// Cache keeps it in the agent's fetcher cache; DestPath, if set, is its
// name in the sandbox (relative, inside it).
type Artifact struct {
	URI        string `json:"uri"`
	Extract    bool   `json:"extract"`
	Executable bool   `json:"executable"`
	Cache      bool   `json:"cache"`
	DestPath   string `json:"destPath,omitempty"`
}

// Secret is one entry of an app's secrets. Source is the secret's name in
// the master's secret store, a path such as "team/db" (see
// ValidSecretName); it is kept as given, leading slash included.
//
// File, if set, is a path relative to the task's sandbox where the task
// finds the secret's value in a file (see SecretFiles).
type Secret struct {
	Source string `json:"source"`
	File   string `json:"file,omitempty"`
}

// StoreName returns the name the secret store knows the secret by: Source
// without its leading slash, if it has one.
func (s Secret) StoreName() string { return strings.TrimPrefix(s.Source, "/") }

// PortDefinition is one port the app's tasks listen on. Port 0 asks for
// a port chosen by the framework. Protocol is "tcp", "udp" or "udp,tcp".
type PortDefinition struct {
	Port     int
	Protocol string
	Name     string
	Labels   map[string]string
}

// Constraint is a placement rule, written in JSON as an array of two or
// three strings: ["hostname","UNIQUE"] or ["rack","LIKE","a.*"]. Value ""
// means the rule has no value (the two-element form).
type Constraint struct {
	Field    string
	Operator string
	Value    string
}

// Constraint operators, as spelled in the JSON.
const (
	OpUnique  = "UNIQUE"
	OpCluster = "CLUSTER"
	OpGroupBy = "GROUP_BY"
	OpLike    = "LIKE"
	OpUnlike  = "UNLIKE"
	OpMaxPer  = "MAX_PER"
	OpIs      = "IS"
)

// HealthCheck is one health check of an app's tasks. Port-based checks
// (every protocol except COMMAND) address the task's port either by
// PortIndex (into PortDefinitions) or by an explicit Port; COMMAND checks
// run Command on the agent.
type HealthCheck struct {
	Protocol               string
	Path                   string // HTTP and HTTPS kinds only
	PortIndex              *int
	Port                   *int
	Command                *Command
	GracePeriodSeconds     int
	IntervalSeconds        int
	TimeoutSeconds         int
	MaxConsecutiveFailures int // 0: never kill for failing this check
	IgnoreHTTP1xx          bool
	DelaySeconds           int
}

// Health check protocols, as spelled in the JSON. HTTP, HTTPS and TCP are
// run by the framework; the others by the agent.
const (
	ProtocolHTTP       = "HTTP"
	ProtocolHTTPS      = "HTTPS"
	ProtocolTCP        = "TCP"
	ProtocolCommand    = "COMMAND"
	ProtocolMesosHTTP  = "MESOS_HTTP"
	ProtocolMesosHTTPS = "MESOS_HTTPS"
	ProtocolMesosTCP   = "MESOS_TCP"
)

// Command is the shell command of a COMMAND health check.
type Command struct {
	Value string `json:"value"`
}

// UpgradeStrategy bounds a rolling deployment: at least
// MinimumHealthCapacity × instances healthy tasks at all times, and at most
// (1 + MaximumOverCapacity) × instances tasks. Both are in [0, 1].
//
// ProgressDeadlineSeconds and AutoRollback are corral's additions, with
// the meaning of Nomad's update.progress_deadline and auto_revert. A
// deployment of the app fails once it has made no progress (no new
// instance became ready, no instance it removes terminated) for
// ProgressDeadlineSeconds; 0 lets it run until it succeeds or is stopped,
// as Marathon's deployments do. With AutoRollback, a failed deployment
// is followed by one that returns the app to its previous definition,
// within this same upgrade strategy.
type UpgradeStrategy struct {
	MinimumHealthCapacity   float64 `json:"minimumHealthCapacity"`
	MaximumOverCapacity     float64 `json:"maximumOverCapacity"`
	ProgressDeadlineSeconds float64 `json:"progressDeadlineSeconds"`
	AutoRollback            bool    `json:"autoRollback"`
}

// ReadinessCheck is Marathon's readiness check: an HTTP(S) GET of Path on
// the task's port named PortName, every IntervalSeconds, each cut off
// after TimeoutSeconds, until it answers one of HTTPStatusCodesForReady.
// With PreserveLastResponse the last answer (status, content type, body)
// is kept in the app's readinessCheckResults.
type ReadinessCheck struct {
	Name                    string
	Protocol                string // ProtocolHTTP or ProtocolHTTPS
	Path                    string
	PortName                string
	IntervalSeconds         int
	TimeoutSeconds          int
	HTTPStatusCodesForReady []int
	PreserveLastResponse    bool
}

// UnreachableStrategy says what happens to a task on an unreachable agent:
// after InactiveAfterSeconds a replacement is started, after
// ExpungeAfterSeconds the task is forgotten (and killed if it comes back).
// Disabled (JSON "disabled") means neither. In JSON it is the string
// "disabled" or an object with the two fields.
type UnreachableStrategy struct {
	Disabled             bool
	InactiveAfterSeconds int
	ExpungeAfterSeconds  int
}

// VersionInfo holds the versions at which an app was last scaled and last
// changed otherwise. Both are in the format of NewVersion.
type VersionInfo struct {
	LastScalingAt      string `json:"lastScalingAt"`
	LastConfigChangeAt string `json:"lastConfigChangeAt"`
}

// Kill selections: which task goes first when an app scales down.
const (
	KillYoungestFirst = "YOUNGEST_FIRST"
	KillOldestFirst   = "OLDEST_FIRST"
)

// Defaults that Normalize applies to absent fields.
//
// DefaultMaxLaunchDelaySeconds is 300, the value of Marathon 1.5 and later,
// rather than the 3600 of Marathon ≤1.4: an app that failed for a while
// (a database was down) comes back within five minutes of being fixed,
// and an app that keeps failing still costs only one launch per five
// minutes.
const (
	DefaultInstances             = 1
	DefaultCPUs                  = 1.0
	DefaultMem                   = 128.0
	DefaultDisk                  = 0.0
	DefaultBackoffSeconds        = 1.0
	DefaultBackoffFactor         = 1.15
	DefaultMaxLaunchDelaySeconds = 300.0
	DefaultMinimumHealthCapacity = 1.0
	DefaultMaximumOverCapacity   = 1.0
	// DefaultProgressDeadlineSeconds is Nomad's progress_deadline: ten
	// minutes without a new instance becoming ready fail a deployment.
	DefaultProgressDeadlineSeconds = 600.0
	DefaultKillSelection           = KillYoungestFirst

	DefaultHealthCheckProtocol     = ProtocolHTTP
	DefaultHealthCheckPath         = "/"
	DefaultGracePeriodSeconds      = 300
	DefaultIntervalSeconds         = 60
	DefaultTimeoutSeconds          = 20
	DefaultMaxConsecutiveFailures  = 3
	DefaultHealthCheckDelaySeconds = 15

	// Readiness checks: Marathon's defaults.
	DefaultReadinessCheckName     = "readinessCheck"
	DefaultReadinessCheckPath     = "/"
	DefaultReadinessCheckPortName = "http-api"
	DefaultReadinessInterval      = 30
	DefaultReadinessTimeout       = 10
)

// DefaultHTTPStatusCodesForReady are the status codes that make a task
// ready when a readiness check names none.
var DefaultHTTPStatusCodesForReady = []int{200}

// given records presence: bit i of top is field i of the fields table; the
// other masks are per nested object. A given is never modified once
// attached to an App, so copies of an App may share it.
type given struct {
	top     uint64
	upgrade uint8    // upgradeMin, upgradeMax, upgradeDeadline
	hc      []uint16 // per health check: hcGrace...
	rc      []uint8  // per readiness check: rcName...
}

const (
	upgradeMin = 1 << iota
	upgradeMax
	upgradeDeadline
)

const (
	rcName = 1 << iota
	rcPath
	rcPortName
	rcInterval
	rcTimeout
	rcCodes
	rcProtocol
)

const (
	hcGrace = 1 << iota
	hcInterval
	hcTimeout
	hcMaxFailures
	hcDelay
)

// problem is a Decode finding reported by Validate. field is the index in
// the fields table of the top-level field it is about, so that Merge can
// drop the problems of a replaced field (-1: a field App does not hold).
// unsupported marks the refusal of a field corral does not implement,
// which concerns one request only (see unsupported.go).
type problem struct {
	field       int
	path        string
	msg         string
	unsupported bool
}

// has reports whether top-level field f counts as given. Without a record
// (an App built in Go), a non-zero value counts as given.
func (a *App) has(f int, nonZero bool) bool {
	switch {
	case a.normalized:
		return true
	case a.given != nil:
		return a.given.top&(1<<f) != 0
	default:
		return nonZero
	}
}

func (a *App) hasUpgrade(bit uint8, nonZero bool) bool {
	switch {
	case a.normalized:
		return true
	case a.given != nil:
		return a.given.top&(1<<fUpgradeStrategy) != 0 && a.given.upgrade&bit != 0
	default:
		return nonZero
	}
}

func (a *App) hasRC(i int, bit uint8, nonZero bool) bool {
	switch {
	case a.normalized:
		return true
	case a.given != nil && i < len(a.given.rc):
		return a.given.rc[i]&bit != 0
	default:
		return nonZero
	}
}

func (a *App) hasHC(i int, bit uint16, nonZero bool) bool {
	switch {
	case a.normalized:
		return true
	case a.given != nil && i < len(a.given.hc):
		return a.given.hc[i]&bit != 0
	default:
		return nonZero
	}
}

// Normalize applies Marathon's defaults to the fields that the decoded JSON
// did not carry (or carried as null), and canonicalises ids:
//
//   - instances 1, cpus 1, mem 128, disk 0, backoffSeconds 1,
//     backoffFactor 1.15, maxLaunchDelaySeconds 300 (see
//     DefaultMaxLaunchDelaySeconds), upgradeStrategy {1, 1} field by field
//     with progressDeadlineSeconds 600 and autoRollback false,
//     killSelection YOUNGEST_FIRST, unreachableStrategy {0, 0};
//   - no portDefinitions and no ports: one port {port 0, "tcp"}; an
//     explicit empty list stays empty; a port without protocol gets "tcp"
//     (Decode already turned legacy ports [n, ...] into port definitions);
//   - health checks: protocol HTTP, path "/" for HTTP and HTTPS kinds,
//     portIndex 0 when a port-based check has neither port nor portIndex,
//     gracePeriodSeconds 300, intervalSeconds 60, timeoutSeconds 20,
//     maxConsecutiveFailures 3, delaySeconds 15;
//   - readiness checks: Marathon's defaults, name "readinessCheck",
//     protocol HTTP, path "/", portName "http-api", intervalSeconds 30,
//     timeoutSeconds 10, httpStatusCodesForReady [200];
//   - id through CanonicalID; dependencies made absolute, a relative one
//     ("db") being resolved against the app's parent group as Marathon
//     does; args [] becomes nil (no args).
//
// An explicit zero is kept ("instances": 0 stays 0). An App built in Go
// rather than decoded has no record of what was given: Normalize then
// treats zero values as absent, so set a wanted zero after Normalize.
//
// Normalize is idempotent, and it does not modify slices or maps that the
// App shares with other copies: it replaces them.
func (a *App) Normalize() {
	a.ID = CanonicalID(a.ID)
	if !a.has(fInstances, a.Instances != 0) {
		a.Instances = DefaultInstances
	}
	if !a.has(fCPUs, a.CPUs != 0) {
		a.CPUs = DefaultCPUs
	}
	if !a.has(fMem, a.Mem != 0) {
		a.Mem = DefaultMem
	}
	if !a.has(fDisk, a.Disk != 0) {
		a.Disk = DefaultDisk
	}
	if !a.has(fBackoffSeconds, a.BackoffSeconds != 0) {
		a.BackoffSeconds = DefaultBackoffSeconds
	}
	if !a.has(fBackoffFactor, a.BackoffFactor != 0) {
		a.BackoffFactor = DefaultBackoffFactor
	}
	if !a.has(fMaxLaunchDelaySeconds, a.MaxLaunchDelaySeconds != 0) {
		a.MaxLaunchDelaySeconds = DefaultMaxLaunchDelaySeconds
	}
	if !a.hasUpgrade(upgradeMin, a.UpgradeStrategy.MinimumHealthCapacity != 0) {
		a.UpgradeStrategy.MinimumHealthCapacity = DefaultMinimumHealthCapacity
	}
	if !a.hasUpgrade(upgradeMax, a.UpgradeStrategy.MaximumOverCapacity != 0) {
		a.UpgradeStrategy.MaximumOverCapacity = DefaultMaximumOverCapacity
	}
	if !a.hasUpgrade(upgradeDeadline, a.UpgradeStrategy.ProgressDeadlineSeconds != 0) {
		a.UpgradeStrategy.ProgressDeadlineSeconds = DefaultProgressDeadlineSeconds
	}
	if a.KillSelection == "" {
		a.KillSelection = DefaultKillSelection
	}
	if len(a.Args) == 0 {
		a.Args = nil
	}

	if !a.has(fPortDefinitions, a.PortDefinitions != nil) {
		a.PortDefinitions = []PortDefinition{{Port: 0, Protocol: "tcp"}}
		if d := DockerOf(*a); d != nil && d.Network != NetworkHost {
			// Such a container's ports are its port mappings.
			a.PortDefinitions = []PortDefinition{}
		}
	} else {
		pds := make([]PortDefinition, len(a.PortDefinitions))
		copy(pds, a.PortDefinitions)
		for i := range pds {
			if pds[i].Protocol == "" {
				pds[i].Protocol = "tcp"
			}
		}
		a.PortDefinitions = pds
	}

	if a.HealthChecks != nil {
		hcs := make([]HealthCheck, len(a.HealthChecks))
		copy(hcs, a.HealthChecks)
		for i := range hcs {
			a.normalizeHealthCheck(i, &hcs[i])
		}
		a.HealthChecks = hcs
	}
	if a.ReadinessChecks != nil {
		rcs := make([]ReadinessCheck, len(a.ReadinessChecks))
		copy(rcs, a.ReadinessChecks)
		for i := range rcs {
			a.normalizeReadinessCheck(i, &rcs[i])
		}
		a.ReadinessChecks = rcs
	}

	if a.Dependencies != nil {
		deps := make([]string, len(a.Dependencies))
		parent := Parent(a.ID)
		for i, d := range a.Dependencies {
			if !strings.HasPrefix(d, "/") {
				d = strings.TrimSuffix(parent, "/") + "/" + d
			}
			deps[i] = CanonicalID(d)
		}
		a.Dependencies = deps
	}

	a.given = nil
	a.normalized = true
}

func (a *App) normalizeHealthCheck(i int, hc *HealthCheck) {
	if hc.Protocol == "" {
		hc.Protocol = DefaultHealthCheckProtocol
	}
	if hc.Path == "" && httpKind(hc.Protocol) {
		hc.Path = DefaultHealthCheckPath
	}
	if hc.Protocol != ProtocolCommand && hc.Port == nil && hc.PortIndex == nil {
		zero := 0
		hc.PortIndex = &zero
	}
	if !a.hasHC(i, hcGrace, hc.GracePeriodSeconds != 0) {
		hc.GracePeriodSeconds = DefaultGracePeriodSeconds
	}
	if !a.hasHC(i, hcInterval, hc.IntervalSeconds != 0) {
		hc.IntervalSeconds = DefaultIntervalSeconds
	}
	if !a.hasHC(i, hcTimeout, hc.TimeoutSeconds != 0) {
		hc.TimeoutSeconds = DefaultTimeoutSeconds
	}
	if !a.hasHC(i, hcMaxFailures, hc.MaxConsecutiveFailures != 0) {
		hc.MaxConsecutiveFailures = DefaultMaxConsecutiveFailures
	}
	if !a.hasHC(i, hcDelay, hc.DelaySeconds != 0) {
		hc.DelaySeconds = DefaultHealthCheckDelaySeconds
	}
}

func (a *App) normalizeReadinessCheck(i int, rc *ReadinessCheck) {
	if !a.hasRC(i, rcName, rc.Name != "") {
		rc.Name = DefaultReadinessCheckName
	}
	if !a.hasRC(i, rcProtocol, rc.Protocol != "") {
		rc.Protocol = ProtocolHTTP
	}
	if !a.hasRC(i, rcPath, rc.Path != "") {
		rc.Path = DefaultReadinessCheckPath
	}
	if !a.hasRC(i, rcPortName, rc.PortName != "") {
		rc.PortName = DefaultReadinessCheckPortName
	}
	if !a.hasRC(i, rcInterval, rc.IntervalSeconds != 0) {
		rc.IntervalSeconds = DefaultReadinessInterval
	}
	if !a.hasRC(i, rcTimeout, rc.TimeoutSeconds != 0) {
		rc.TimeoutSeconds = DefaultReadinessTimeout
	}
	if !a.hasRC(i, rcCodes, rc.HTTPStatusCodesForReady != nil) {
		rc.HTTPStatusCodesForReady = append([]int(nil), DefaultHTTPStatusCodesForReady...)
	}
}

// httpKind reports whether a health check protocol speaks HTTP (and so has
// a path).
func httpKind(protocol string) bool {
	switch protocol {
	case ProtocolHTTP, ProtocolHTTPS, ProtocolMesosHTTP, ProtocolMesosHTTPS:
		return true
	}
	return false
}
