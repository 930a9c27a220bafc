package app

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"corral/kernel/mesos"
)

// ValidationError lists why an app definition is not acceptable. Its JSON
// form is the body of the HTTP 422 answer. Message is "Object is not
// valid"; Details hold one entry per path, in the order of the app's
// fields.
type ValidationError struct {
	Message string   `json:"message"`
	Details []Detail `json:"details"`
}

// Error returns the message and the details on one line.
func (e *ValidationError) Error() string { return joinDetails(e.Message, e.Details) }

// MaxResource bounds cpus, mem, disk and gpus. The kernel keeps scalar
// resources in fixed point with three decimals and refuses amounts above
// 1e15, beyond which its int64 milli-units overflow: an app asking for
// more would never fit an offer, or be accounted as nothing.
const MaxResource = 1e15

// MaxInstances bounds instances. Marathon has no bound; corral's is the
// number of tasks its design targets for a whole cluster (100,000 tasks
// on 10,000 agents), so that no app a cluster can run is refused while a
// typo ("instances": 1000000 for 1000) is, instead of taking every offer
// of the cluster. 10,000 would be too tight: an app with a few tasks on
// every agent of such a cluster needs more.
const MaxInstances = 100_000

func validationError(ds []Detail) *ValidationError {
	return &ValidationError{Message: "Object is not valid", Details: ds}
}

// Validate checks a normalized app (see Normalize) and returns nil if it is
// valid, or every violation grouped by path. It checks:
//
//   - /id: ValidID;
//   - /: exactly one of cmd and args (a container image is not supported:
//     /container); /cmd not empty;
//   - /cpus, /mem, /disk finite and in [0, MaxResource], and cpus or mem
//     > 0 (reported at /); /gpus in [0, MaxResource]; /instances in
//     [0, MaxInstances];
//   - /backoffSeconds ≥ 0, /backoffFactor ≥ 1, /maxLaunchDelaySeconds ≥ 0;
//   - /upgradeStrategy/minimumHealthCapacity and …/maximumOverCapacity in
//     [0, 1]; …/progressDeadlineSeconds finite, in [0,
//     MaxProgressDeadlineSeconds]; /killSelection YOUNGEST_FIRST or
//     OLDEST_FIRST;
//   - /readinessChecks: at most one; /readinessChecks(i)/…: see
//     validateReadinessCheck;
//   - /unreachableStrategy: both values ≥ 0 and inactive ≤ expunge;
//   - /taskKillGracePeriodSeconds ≥ 0;
//   - /portDefinitions(i)/port in 0..65535, non-zero ports and names
//     unique (/portDefinitions), /portDefinitions(i)/protocol tcp, udp or
//     "udp,tcp"; /ports agreeing with portDefinitions when both are given;
//   - /constraints(i): 2 or 3 elements, a field, a known operator with the
//     right value: UNIQUE none, CLUSTER and IS one, LIKE and UNLIKE a
//     regular expression (RE2 syntax), MAX_PER a positive integer,
//     GROUP_BY optionally a positive integer;
//   - /healthChecks(i)/…: a known protocol; COMMAND needs command.value
//     and other protocols take no command; port-based checks need an
//     explicit port in 1..65535 or a portIndex naming an existing port
//     definition, not both; intervalSeconds and timeoutSeconds > 0,
//     timeoutSeconds ≤ intervalSeconds, gracePeriodSeconds,
//     maxConsecutiveFailures and delaySeconds ≥ 0;
//   - /dependencies(i): valid ids other than the app's own;
//   - /labels, /env: no empty names; /env/NAME: a secret reference names
//     an entry of secrets ("references an undefined secret"), and an
//     object value is a secret reference, {"secret": "<name>"} and
//     nothing else;
//   - /secrets: no empty names; /secrets/NAME/source: given, not empty,
//     and a valid secret name (ValidSecretName); an entry has no field
//     but source. A secret that nothing references is fine;
//   - /user: empty or a user name (ValidUser);
//   - /fetch(i)/uri: an http, https or file URI or an absolute path;
//     /fetch(i)/destPath: relative and inside the sandbox; /uris(i): an
//     http, https or file URI or an absolute path; /uris: not together
//     with fetch;
//   - the fields corral does not implement, when the request that
//     DecodeRequest or Merge read gave them a value other than their
//     default: "/storeUrls", "/role", "/container/volumes"... (see
//     DecodeRequest).
func Validate(a App) *ValidationError {
	v := &collector{index: map[string]int{}}

	if err := ValidID(a.ID); err != nil {
		v.add("/id", err.Error())
	}
	image := DockerOf(a) != nil
	validateDocker(v, a)
	switch {
	case a.Cmd != nil && len(a.Args) > 0:
		v.add("/", "cmd and args are mutually exclusive; give one of them")
	case a.Cmd == nil && len(a.Args) == 0 && !image:
		v.add("/", "one of cmd or args is required")
	}
	if a.Cmd != nil && *a.Cmd == "" {
		v.add("/cmd", "must not be empty")
	}
	if a.User != "" {
		if err := ValidUser(a.User); err != nil {
			v.add("/user", err.Error())
		}
	}
	resource(v, "/cpus", a.CPUs)
	resource(v, "/mem", a.Mem)
	if rl := a.ResourceLimits; rl != nil {
		for _, l := range []struct {
			path string
			lim  *Limit
			req  float64
			name string
		}{{"/resourceLimits/cpus", rl.CPUs, a.CPUs, "cpus"}, {"/resourceLimits/mem", rl.Mem, a.Mem, "mem"}} {
			switch {
			case l.lim == nil || l.lim.Unlimited:
			case l.lim.Value <= 0 || l.lim.Value > MaxResource:
				v.add(l.path, fmt.Sprintf("must be greater than 0 and at most %g, or \"unlimited\" (got %v)", MaxResource, l.lim.Value))
			case l.lim.Value < l.req:
				v.add(l.path, fmt.Sprintf("must be at least the app's %s request %v (got %v)", l.name, l.req, l.lim.Value))
			}
		}
	}
	resource(v, "/disk", a.Disk)
	if a.CPUs == 0 && a.Mem == 0 {
		v.add("/", "cpus or mem must be greater than 0")
	}
	switch {
	case a.Instances < 0:
		v.add("/instances", fmt.Sprintf("must be 0 or more (got %d)", a.Instances))
	case a.Instances > MaxInstances:
		v.add("/instances", fmt.Sprintf("must be at most %d (got %d)", MaxInstances, a.Instances))
	}
	switch {
	case a.GPUs < 0:
		v.add("/gpus", fmt.Sprintf("must be 0 or more (got %d)", a.GPUs))
	case float64(a.GPUs) > MaxResource:
		v.add("/gpus", fmt.Sprintf("must be at most %g (got %d)", MaxResource, a.GPUs))
	}
	_, plain := a.Env[""]
	_, secret := a.EnvSecrets[""]
	if plain || secret {
		v.add("/env", "variable names must not be empty")
	}
	for _, k := range sortedKeys(a.EnvSecrets) {
		if _, ok := a.Secrets[a.EnvSecrets[k]]; !ok {
			v.add("/env/"+k, "references an undefined secret")
		}
	}
	for _, p := range a.problems {
		if p.field == fEnv {
			v.add(p.path, p.msg)
		}
	}
	if _, ok := a.Labels[""]; ok {
		v.add("/labels", "label names must not be empty")
	}

	validatePorts(v, a)
	for _, p := range a.problems {
		if p.field == fPortDefinitions {
			v.add(p.path, p.msg)
		}
	}
	for i, c := range a.Constraints {
		validateConstraint(v, fmt.Sprintf("/constraints(%d)", i), c)
	}
	for _, p := range a.problems {
		if p.field == fConstraints {
			v.add(p.path, p.msg)
		}
	}
	for i, hc := range a.HealthChecks {
		validateHealthCheck(v, fmt.Sprintf("/healthChecks(%d)", i), hc, a.PortCount())
	}
	validateFetch(v, a)

	for i, rc := range a.ReadinessChecks {
		validateReadinessCheck(v, fmt.Sprintf("/readinessChecks(%d)", i), rc, a)
	}
	if len(a.ReadinessChecks) > 1 {
		v.add("/readinessChecks", fmt.Sprintf("at most one readiness check is supported (got %d)", len(a.ReadinessChecks)))
	}

	between01(v, "/upgradeStrategy/minimumHealthCapacity", a.UpgradeStrategy.MinimumHealthCapacity)
	between01(v, "/upgradeStrategy/maximumOverCapacity", a.UpgradeStrategy.MaximumOverCapacity)
	nonNegative(v, "/upgradeStrategy/progressDeadlineSeconds", a.UpgradeStrategy.ProgressDeadlineSeconds)
	if d := a.UpgradeStrategy.ProgressDeadlineSeconds; d > MaxProgressDeadlineSeconds && finite(d) {
		v.add("/upgradeStrategy/progressDeadlineSeconds", fmt.Sprintf("must be at most %d (got %v)", MaxProgressDeadlineSeconds, d))
	}
	nonNegative(v, "/backoffSeconds", a.BackoffSeconds)
	if !finite(a.BackoffFactor) || a.BackoffFactor < 1 {
		v.add("/backoffFactor", fmt.Sprintf("must be 1 or more (got %v)", a.BackoffFactor))
	}
	nonNegative(v, "/maxLaunchDelaySeconds", a.MaxLaunchDelaySeconds)
	if a.KillSelection != KillYoungestFirst && a.KillSelection != KillOldestFirst {
		v.add("/killSelection", fmt.Sprintf("must be %s or %s (got %q)", KillYoungestFirst, KillOldestFirst, a.KillSelection))
	}
	if t := a.TaskKillGracePeriodSeconds; t != nil && *t < 0 {
		v.add("/taskKillGracePeriodSeconds", fmt.Sprintf("must be 0 or more (got %d)", *t))
	}
	if u := a.UnreachableStrategy; !u.Disabled {
		if u.InactiveAfterSeconds < 0 {
			v.add("/unreachableStrategy/inactiveAfterSeconds", fmt.Sprintf("must be 0 or more (got %d)", u.InactiveAfterSeconds))
		}
		if u.ExpungeAfterSeconds < 0 {
			v.add("/unreachableStrategy/expungeAfterSeconds", fmt.Sprintf("must be 0 or more (got %d)", u.ExpungeAfterSeconds))
		}
		if u.InactiveAfterSeconds > u.ExpungeAfterSeconds {
			v.add("/unreachableStrategy", fmt.Sprintf("inactiveAfterSeconds (%d) must not exceed expungeAfterSeconds (%d)",
				u.InactiveAfterSeconds, u.ExpungeAfterSeconds))
		}
	}
	self := CanonicalID(a.ID)
	for i, dep := range a.Dependencies {
		p := fmt.Sprintf("/dependencies(%d)", i)
		if err := ValidID(dep); err != nil {
			v.add(p, err.Error())
		} else if CanonicalID(dep) == self {
			v.add(p, "an app cannot depend on itself")
		}
	}
	for _, k := range sortedKeys(a.Secrets) {
		p := "/secrets/" + k + "/source"
		switch src := a.Secrets[k].Source; {
		case k == "":
			v.add("/secrets", "secret names must not be empty")
		case src == "":
			v.add(p, "must not be empty")
		default:
			if err := ValidSecretName(src); err != nil {
				v.add(p, err.Error())
			}
		}
	}
	validateSecretFiles(v, a)
	for _, p := range a.problems {
		if p.field == fSecrets {
			v.add(p.path, p.msg)
		}
	}
	for _, p := range a.problems {
		if p.unsupported {
			v.add(p.path, p.msg)
		}
	}

	if len(v.details) == 0 {
		return nil
	}
	return validationError(v.details)
}

// MaxSecretNameLen is the longest secret name, in bytes, without its
// leading slash.
const MaxSecretNameLen = 255

// secretComponent is the grammar of one component of a secret name.
var secretComponent = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// ValidSecretName returns nil if name can name a secret in the master's
// secret store: a path of components of letters, digits, '.', '_' and
// '-' separated by '/', with no empty, "." or ".." component, of at most
// MaxSecretNameLen bytes. A leading slash is allowed and not counted: the
// store name is the path without it (Secret.StoreName).
func ValidSecretName(name string) error {
	stored := strings.TrimPrefix(name, "/")
	if len(stored) > MaxSecretNameLen {
		return fmt.Errorf("a secret name has at most %d bytes (got %d)", MaxSecretNameLen, len(stored))
	}
	for _, c := range strings.Split(stored, "/") {
		if c == "." || c == ".." || !secretComponent.MatchString(c) {
			return fmt.Errorf(`%q is not a valid secret name: want components of letters, digits, '.', '_' and '-' separated by '/', none empty, "." or ".."`, name)
		}
	}
	return nil
}

// userName is the grammar of a user name, the portable one of POSIX and
// shadow-utils' useradd: a lowercase letter or underscore, then lowercase
// letters, digits, underscores and hyphens, and an optional final "$"
// (Samba machine accounts).
var userName = regexp.MustCompile(`^[a-z_][a-z0-9_-]*[$]?$`)

// MaxUserLen is the longest user name, in bytes, as useradd allows.
const MaxUserLen = 32

// ValidUser returns nil if name can be the user an app's tasks run as: at
// most MaxUserLen bytes of the portable user name grammar
// ([a-z_][a-z0-9_-]*[$]?). Whether the user exists on the agents, and
// whether the framework may run tasks as it, is for the agents and the
// master to say.
func ValidUser(name string) error {
	switch {
	case len(name) > MaxUserLen:
		return fmt.Errorf("a user name has at most %d bytes (got %d)", MaxUserLen, len(name))
	case !userName.MatchString(name):
		return fmt.Errorf("%q is not a valid user name: want a lowercase letter or '_', then lowercase letters, digits, '_' or '-', optionally ending in '$'", name)
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func nonNegative(v *collector, path string, f float64) {
	if !finite(f) {
		v.add(path, "must be a finite number")
	} else if f < 0 {
		v.add(path, fmt.Sprintf("must be 0 or more (got %v)", f))
	}
}

// resource checks an amount of a scalar resource: finite, 0 or more, at
// most MaxResource.
func resource(v *collector, path string, f float64) {
	nonNegative(v, path, f)
	if f > MaxResource && finite(f) {
		v.add(path, fmt.Sprintf("must be at most %g (got %v)", MaxResource, f))
	}
}

func between01(v *collector, path string, f float64) {
	if !finite(f) || f < 0 || f > 1 {
		v.add(path, fmt.Sprintf("must be between 0 and 1 (got %v)", f))
	}
}

// containerImage reports whether a container definition asks for an image,
// which corral's agents cannot run.
func containerImage(raw json.RawMessage) bool {
	if len(raw) == 0 || isNull(raw) {
		return false
	}
	var c struct {
		Type   string `json:"type"`
		Docker *struct {
			Image string `json:"image"`
		} `json:"docker"`
		Appc *struct {
			Image string `json:"image"`
		} `json:"appc"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return true // unreadable: do not pretend we can run it
	}
	return c.Type == "DOCKER" || (c.Docker != nil && c.Docker.Image != "") || (c.Appc != nil && c.Appc.Image != "")
}

func validatePorts(v *collector, a App) {
	ports := map[int]bool{}
	names := map[string]bool{}
	for i, pd := range a.PortDefinitions {
		p := fmt.Sprintf("/portDefinitions(%d)", i)
		if pd.Port < 0 || pd.Port > 65535 {
			v.add(p+"/port", fmt.Sprintf("must be between 0 and 65535 (got %d)", pd.Port))
		} else if pd.Port != 0 {
			if ports[pd.Port] {
				v.add("/portDefinitions", fmt.Sprintf("port %d is given more than once", pd.Port))
			}
			ports[pd.Port] = true
		}
		switch pd.Protocol {
		case "tcp", "udp", "udp,tcp":
		default:
			v.add(p+"/protocol", fmt.Sprintf(`must be "tcp", "udp" or "udp,tcp" (got %q)`, pd.Protocol))
		}
		if pd.Name != "" {
			if names[pd.Name] {
				v.add("/portDefinitions", fmt.Sprintf("port name %q is given more than once", pd.Name))
			}
			names[pd.Name] = true
		}
		if _, ok := pd.Labels[""]; ok {
			v.add(p+"/labels", "label names must not be empty")
		}
	}
}

func validateConstraint(v *collector, path string, c Constraint) {
	if c.Field == "" {
		v.add(path, "the field must not be empty")
	}
	positive := func(s string) bool {
		n, err := strconv.Atoi(s)
		return err == nil && n > 0
	}
	switch c.Operator {
	case OpUnique:
		if c.Value != "" {
			v.add(path, "UNIQUE takes no value")
		}
	case OpCluster:
		// Without a value CLUSTER pins the app to the first value seen.
	case OpIs:
		if c.Value == "" {
			v.add(path, c.Operator+" needs a value")
		}
	case OpLike, OpUnlike:
		if c.Value == "" {
			v.add(path, c.Operator+" needs a regular expression")
		} else if _, err := regexp.Compile(c.Value); err != nil {
			v.add(path, fmt.Sprintf("%s value is not a valid regular expression: %v", c.Operator, err))
		}
	case OpMaxPer:
		if !positive(c.Value) {
			v.add(path, fmt.Sprintf("MAX_PER needs a positive integer (got %q)", c.Value))
		}
	case OpGroupBy:
		if c.Value != "" && !positive(c.Value) {
			v.add(path, fmt.Sprintf("GROUP_BY value must be a positive integer (got %q)", c.Value))
		}
	default:
		v.add(path, fmt.Sprintf("unknown operator %q; use one of UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS", c.Operator))
	}
}

// MaxProgressDeadlineSeconds bounds upgradeStrategy.progressDeadlineSeconds
// at a year, far beyond any deployment, and well within a time.Duration.
const MaxProgressDeadlineSeconds = 365 * 24 * 3600

// validateReadinessCheck checks one readiness check as Marathon does: a
// name, protocol HTTP or HTTPS, an absolute path, a portName naming one
// of the app's ports, timeoutSeconds ≥ 1 and intervalSeconds greater,
// and at least one status code, each in 100..999 and given once.
func validateReadinessCheck(v *collector, path string, rc ReadinessCheck, a App) {
	if rc.Name == "" {
		v.add(path+"/name", "must not be empty")
	}
	if rc.Protocol != ProtocolHTTP && rc.Protocol != ProtocolHTTPS {
		v.add(path+"/protocol", fmt.Sprintf("must be HTTP or HTTPS (got %q)", rc.Protocol))
	}
	if !strings.HasPrefix(rc.Path, "/") {
		v.add(path+"/path", fmt.Sprintf("must be an absolute path starting with / (got %q)", rc.Path))
	}
	if _, ok := a.PortIndex(rc.PortName); !ok {
		var named []string
		for _, n := range a.PortNames() {
			if n != "" {
				named = append(named, strconv.Quote(n))
			}
		}
		have := "the app names no port"
		if len(named) > 0 {
			have = "the app's ports are named " + strings.Join(named, ", ")
		}
		v.add(path+"/portName", fmt.Sprintf("no port is named %q (%s)", rc.PortName, have))
	}
	if rc.TimeoutSeconds < 1 {
		v.add(path+"/timeoutSeconds", fmt.Sprintf("must be 1 or more (got %d)", rc.TimeoutSeconds))
	}
	if rc.IntervalSeconds <= rc.TimeoutSeconds {
		v.add(path+"/intervalSeconds", fmt.Sprintf("must be greater than timeoutSeconds (%d) (got %d)", rc.TimeoutSeconds, rc.IntervalSeconds))
	}
	if len(rc.HTTPStatusCodesForReady) == 0 {
		v.add(path+"/httpStatusCodesForReady", "must hold at least one status code")
	}
	seen := map[int]bool{}
	for i, c := range rc.HTTPStatusCodesForReady {
		switch {
		case c < 100 || c > 999:
			v.add(fmt.Sprintf("%s/httpStatusCodesForReady(%d)", path, i), fmt.Sprintf("must be between 100 and 999 (got %d)", c))
		case seen[c]:
			v.add(path+"/httpStatusCodesForReady", fmt.Sprintf("status code %d is given more than once", c))
		}
		seen[c] = true
	}
}

func validateHealthCheck(v *collector, path string, hc HealthCheck, nPorts int) {
	switch hc.Protocol {
	case ProtocolHTTP, ProtocolHTTPS, ProtocolTCP, ProtocolCommand,
		ProtocolMesosHTTP, ProtocolMesosHTTPS, ProtocolMesosTCP:
	default:
		v.add(path+"/protocol", fmt.Sprintf("unknown protocol %q; use one of HTTP, HTTPS, TCP, COMMAND, MESOS_HTTP, MESOS_HTTPS, MESOS_TCP", hc.Protocol))
	}
	if hc.Protocol == ProtocolCommand {
		if hc.Command == nil || hc.Command.Value == "" {
			v.add(path+"/command", "a COMMAND health check needs command.value")
		}
	} else {
		if hc.Command != nil {
			v.add(path+"/command", "only COMMAND health checks take a command")
		}
		switch {
		case hc.Port != nil && hc.PortIndex != nil:
			v.add(path, "give port or portIndex, not both")
		case hc.Port != nil:
			if *hc.Port < 1 || *hc.Port > 65535 {
				v.add(path+"/port", fmt.Sprintf("must be between 1 and 65535 (got %d)", *hc.Port))
			}
		case hc.PortIndex == nil:
			v.add(path+"/portIndex", "a port-based health check needs portIndex or port")
		case *hc.PortIndex < 0 || *hc.PortIndex >= nPorts:
			v.add(path+"/portIndex", fmt.Sprintf("there is no port definition with index %d (the app has %d)", *hc.PortIndex, nPorts))
		}
	}
	if hc.IntervalSeconds <= 0 {
		v.add(path+"/intervalSeconds", fmt.Sprintf("must be greater than 0 (got %d)", hc.IntervalSeconds))
	}
	if hc.TimeoutSeconds <= 0 {
		v.add(path+"/timeoutSeconds", fmt.Sprintf("must be greater than 0 (got %d)", hc.TimeoutSeconds))
	}
	// A timeout longer than the interval is accepted, as by Marathon (the
	// defaults alone, 20 s and 60 s, would otherwise reject "interval 5"):
	// probes never overlap because each one is cut off at the interval.
	if hc.GracePeriodSeconds < 0 {
		v.add(path+"/gracePeriodSeconds", fmt.Sprintf("must be 0 or more (got %d)", hc.GracePeriodSeconds))
	}
	if hc.MaxConsecutiveFailures < 0 {
		v.add(path+"/maxConsecutiveFailures", fmt.Sprintf("must be 0 or more (got %d)", hc.MaxConsecutiveFailures))
	}
	if hc.DelaySeconds < 0 {
		v.add(path+"/delaySeconds", fmt.Sprintf("must be 0 or more (got %d)", hc.DelaySeconds))
	}
}

// validateFetch checks the artifacts as the agent fetches them
// (mesos.Locate, mesos.SandboxPath).
func validateFetch(v *collector, a App) {
	if len(a.URIs) > 0 && len(a.Fetch) > 0 {
		v.add("/uris", "uris and fetch may not be given together; use fetch")
	}
	for i, u := range a.URIs {
		if _, err := mesos.Locate(u); err != nil {
			v.add(fmt.Sprintf("/uris(%d)", i), err.Error())
		}
	}
	for i, f := range a.Fetch {
		p := fmt.Sprintf("/fetch(%d)", i)
		if _, err := mesos.Locate(f.URI); err != nil {
			v.add(p+"/uri", err.Error())
		}
		if f.DestPath != "" {
			if _, err := mesos.SandboxPath(f.DestPath); err != nil {
				v.add(p+"/destPath", err.Error())
			}
		}
	}
}
