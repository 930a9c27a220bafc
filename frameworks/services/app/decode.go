package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Detail is the errors found at one place of a request body. Path is a
// JSON-pointer-like path in Marathon's notation: "/cpus",
// "/healthChecks(0)/portIndex", "/upgradeStrategy/minimumHealthCapacity";
// "/" is the whole body.
type Detail struct {
	Path   string   `json:"path"`
	Errors []string `json:"errors"`
}

// InvalidJSON is the error of a body that is not JSON, is not an object, or
// has a value of the wrong JSON type for a known field. Its JSON form is
// the body of the HTTP 400 answer. Message is always "Invalid JSON";
// Details hold one entry per path, in the order found.
type InvalidJSON struct {
	Message string   `json:"message"`
	Details []Detail `json:"details"`
}

// Error returns the message and the details on one line.
func (e *InvalidJSON) Error() string { return joinDetails(e.Message, e.Details) }

func joinDetails(msg string, ds []Detail) string {
	var b strings.Builder
	b.WriteString(msg)
	for i, d := range ds {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(d.Path)
		b.WriteString(" ")
		b.WriteString(strings.Join(d.Errors, ", "))
	}
	return b.String()
}

// Messages for a value of the wrong JSON type. They are the tokens that
// Marathon's clients already know from its 400 answers.
const (
	expString = "error.expected.jsstring"
	expNumber = "error.expected.jsnumber"
	expBool   = "error.expected.jsboolean"
	expArray  = "error.expected.jsarray"
	expObject = "error.expected.jsobject"
)

// Decode parses the JSON of an app definition. It is strict about types and
// lenient about everything else:
//
//   - malformed JSON, a body that is not an object, or a known field with a
//     value of the wrong type (e.g. "cpus":"x") give an *InvalidJSON whose
//     details name every offending path ("/cpus");
//   - unknown fields are ignored, and null means absent (DecodeRequest,
//     for request bodies, also names them in warnings);
//   - integers may be written as 2.0 but not as 2.5;
//   - legacy "ports":[n, ...] becomes portDefinitions {port n, "tcp"};
//     when both are given, portDefinitions wins and Validate reports ports
//     that disagree with it;
//   - env values are strings or secret references {"secret": "<name>"};
//     secrets are {"<name>": {"source": "<store name>"}};
//   - findings about meaning rather than type (an env object that is no
//     secret reference, a field of a secret other than source, a
//     constraint of the wrong length) are kept for Validate.
//
// Decode records which fields were present so that Normalize can tell an
// absent field from an explicit zero. It applies no defaults. It reads
// stored apps back, and so does not refuse the fields corral does not
// implement: request bodies go through DecodeRequest.
func Decode(data []byte) (App, error) {
	d := newDecoder()
	a := d.app(data)
	if len(d.details) > 0 {
		return App{}, &InvalidJSON{Message: "Invalid JSON", Details: d.details}
	}
	return a, nil
}

// Framework is what an app definition may name of the services framework
// itself without asking for anything corral does not do: a definition
// that gives the framework's own role asks for what every app gets.
//
// User is the framework's user, which the tasks of an app without a user
// run as. The package does not consult it: an app may name any user.
type Framework struct {
	Role string
	User string
}

// Warning is something a request body carried that corral ignores without
// refusing the body: a field it does not know. Marathon ignores unknown
// fields too, so a misspelt "intances" would otherwise deploy one instance
// without a word. Path is where, in the notation of Detail.Path:
// "/intances", "/healthChecks(0)/intervalSecond".
type Warning struct {
	Path string
}

// String returns the warning as API answers carry it:
// `unknown field "/intances" ignored`.
func (w Warning) String() string { return fmt.Sprintf("unknown field %q ignored", w.Path) }

// In returns the warning of an app found at prefix in a larger document:
// Warning{"/x"}.In("/apps(0)") is Warning{"/apps(0)/x"}.
func (w Warning) In(prefix string) Warning { return Warning{Path: prefix + w.Path} }

// DecodeRequest is Decode for the body of a request that creates or
// replaces an app. On top of what Decode does, it
//
//   - records, for Validate to refuse, every field of the Marathon format
//     that corral does not implement when it holds a value that would
//     change what the app does (see unsupported.go): "storeUrls":["…"],
//     "role":"prod", container volumes... The defaults and empty values
//     that clients send with every app ("storeUrls":[], the framework's own
//     role, "acceptedResourceRoles":["*"], "networks":[{"mode":"host"}])
//     ask for nothing and pass;
//   - returns a warning for every field it does not know at all, at the
//     top level or inside the objects it reads (a health check, a port
//     definition, the upgrade strategy, the container...), sorted by
//     path. The read-only fields of Marathon's answers (tasksRunning,
//     deployments, tasks...) are known: what a client read it may send
//     back without a warning.
//
// Errors are those of Decode, and come without warnings.
func DecodeRequest(data []byte, fw Framework) (App, []Warning, error) {
	d := newDecoder()
	d.fw = &fw
	a := d.app(data)
	if len(d.details) > 0 {
		return App{}, nil, &InvalidJSON{Message: "Invalid JSON", Details: d.details}
	}
	slices.SortFunc(d.warnings, func(x, y Warning) int { return strings.Compare(x.Path, y.Path) })
	return a, d.warnings, nil
}

// UnmarshalJSON decodes data with Decode, so that an App can sit inside
// other JSON documents. It does not normalize.
func (a *App) UnmarshalJSON(data []byte) error {
	v, err := Decode(data)
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// collector gathers messages grouped by path, in the order first seen.
type collector struct {
	details []Detail
	index   map[string]int
}

func newDecoder() *decoder { return &decoder{collector: collector{index: map[string]int{}}} }

func (c *collector) add(path, msg string) {
	if i, ok := c.index[path]; ok {
		if !slices.Contains(c.details[i].Errors, msg) {
			c.details[i].Errors = append(c.details[i].Errors, msg)
		}
		return
	}
	c.index[path] = len(c.details)
	c.details = append(c.details, Detail{Path: path, Errors: []string{msg}})
}

// decoder turns raw JSON values into Go values, reporting type errors by
// path. Its methods return ok=false after reporting.
type decoder struct {
	collector
	// fw is set when decoding a request (DecodeRequest): then fields that
	// corral does not implement are checked, and refusals gathered.
	fw       *Framework
	refusals []problem
	// warnings name the fields that no handler knew.
	warnings []Warning
}

// warnUnknown adds a warning for every key of obj that known does not
// report as known.
func (d *decoder) warnUnknown(path string, obj map[string]json.RawMessage, known func(string) bool) {
	for k := range obj {
		if !known(k) {
			d.warnings = append(d.warnings, Warning{Path: strings.TrimSuffix(path, "/") + "/" + k})
		}
	}
}

// field is one top-level field of the app JSON. Its index in fields is its
// presence bit.
type field struct {
	name   string
	decode func(d *decoder, path string, raw json.RawMessage, a *App)
	// copy moves the field from a patch into the app being updated (Merge).
	copy func(dst, src *App)
}

// Indexes into fields, for presence bits.
const (
	fID = iota
	fCmd
	fArgs
	fUser
	fEnv
	fLabels
	fInstances
	fCPUs
	fMem
	fDisk
	fGPUs
	fResourceLimits
	fPortDefinitions
	fPorts
	fRequirePorts
	fConstraints
	fHealthChecks
	fUpgradeStrategy
	fBackoffSeconds
	fBackoffFactor
	fMaxLaunchDelaySeconds
	fKillSelection
	fTaskKillGracePeriodSeconds
	fUnreachableStrategy
	fDependencies
	fVersion
	fVersionInfo
	fContainer
	fURIs
	fFetch
	fExecutor
	fAcceptedResourceRoles
	fReadinessChecks
	fIPAddress
	fNetworks
	fResidency
	fSecrets
	fStoreURLs
	fRole
	numFields
)

// fields lists the top-level fields in the order they are decoded and
// reported. Its entries must follow the f* constants.
var fields = [numFields]field{
	fID: {"id", func(d *decoder, p string, r json.RawMessage, a *App) { a.ID, _ = d.str(p, r) },
		func(dst, src *App) { dst.ID = src.ID }},
	fCmd: {"cmd", func(d *decoder, p string, r json.RawMessage, a *App) {
		if s, ok := d.str(p, r); ok {
			a.Cmd = &s
		}
	}, func(dst, src *App) { dst.Cmd = src.Cmd }},
	fArgs: {"args", func(d *decoder, p string, r json.RawMessage, a *App) { a.Args, _ = d.strings(p, r) },
		func(dst, src *App) { dst.Args = src.Args }},
	fUser: {"user", func(d *decoder, p string, r json.RawMessage, a *App) { a.User, _ = d.str(p, r) },
		func(dst, src *App) { dst.User = src.User }},
	fEnv: {"env", (*decoder).env, func(dst, src *App) { dst.Env, dst.EnvSecrets = src.Env, src.EnvSecrets }},
	fLabels: {"labels", func(d *decoder, p string, r json.RawMessage, a *App) { a.Labels, _ = d.stringMap(p, r) },
		func(dst, src *App) { dst.Labels = src.Labels }},
	fInstances: {"instances", func(d *decoder, p string, r json.RawMessage, a *App) { a.Instances, _ = d.int(p, r) },
		func(dst, src *App) { dst.Instances = src.Instances }},
	fCPUs: {"cpus", func(d *decoder, p string, r json.RawMessage, a *App) { a.CPUs, _ = d.float(p, r) },
		func(dst, src *App) { dst.CPUs = src.CPUs }},
	fMem: {"mem", func(d *decoder, p string, r json.RawMessage, a *App) { a.Mem, _ = d.float(p, r) },
		func(dst, src *App) { dst.Mem = src.Mem }},
	fDisk: {"disk", func(d *decoder, p string, r json.RawMessage, a *App) { a.Disk, _ = d.float(p, r) },
		func(dst, src *App) { dst.Disk = src.Disk }},
	fGPUs: {"gpus", func(d *decoder, p string, r json.RawMessage, a *App) { a.GPUs, _ = d.int(p, r) },
		func(dst, src *App) { dst.GPUs = src.GPUs }},
	fResourceLimits: {"resourceLimits", (*decoder).resourceLimits,
		func(dst, src *App) { dst.ResourceLimits = src.ResourceLimits }},
	fPortDefinitions: {"portDefinitions", (*decoder).portDefinitions,
		func(dst, src *App) { dst.PortDefinitions = src.PortDefinitions }},
	// ports is folded into portDefinitions by app(); copying that is enough.
	fPorts: {"ports", (*decoder).ports, func(dst, src *App) {}},
	fRequirePorts: {"requirePorts", func(d *decoder, p string, r json.RawMessage, a *App) { a.RequirePorts, _ = d.bool(p, r) },
		func(dst, src *App) { dst.RequirePorts = src.RequirePorts }},
	fConstraints:  {"constraints", (*decoder).constraints, func(dst, src *App) { dst.Constraints = src.Constraints }},
	fHealthChecks: {"healthChecks", (*decoder).healthChecks, func(dst, src *App) { dst.HealthChecks = src.HealthChecks }},
	fUpgradeStrategy: {"upgradeStrategy", (*decoder).upgradeStrategy,
		func(dst, src *App) { dst.UpgradeStrategy = src.UpgradeStrategy }},
	fBackoffSeconds: {"backoffSeconds", func(d *decoder, p string, r json.RawMessage, a *App) { a.BackoffSeconds, _ = d.float(p, r) },
		func(dst, src *App) { dst.BackoffSeconds = src.BackoffSeconds }},
	fBackoffFactor: {"backoffFactor", func(d *decoder, p string, r json.RawMessage, a *App) { a.BackoffFactor, _ = d.float(p, r) },
		func(dst, src *App) { dst.BackoffFactor = src.BackoffFactor }},
	fMaxLaunchDelaySeconds: {"maxLaunchDelaySeconds", func(d *decoder, p string, r json.RawMessage, a *App) { a.MaxLaunchDelaySeconds, _ = d.float(p, r) },
		func(dst, src *App) { dst.MaxLaunchDelaySeconds = src.MaxLaunchDelaySeconds }},
	fKillSelection: {"killSelection", func(d *decoder, p string, r json.RawMessage, a *App) { a.KillSelection, _ = d.str(p, r) },
		func(dst, src *App) { dst.KillSelection = src.KillSelection }},
	fTaskKillGracePeriodSeconds: {"taskKillGracePeriodSeconds", func(d *decoder, p string, r json.RawMessage, a *App) {
		if n, ok := d.int(p, r); ok {
			a.TaskKillGracePeriodSeconds = &n
		}
	}, func(dst, src *App) { dst.TaskKillGracePeriodSeconds = src.TaskKillGracePeriodSeconds }},
	fUnreachableStrategy: {"unreachableStrategy", func(d *decoder, p string, r json.RawMessage, a *App) { a.UnreachableStrategy, _ = d.unreachable(p, r) },
		func(dst, src *App) { dst.UnreachableStrategy = src.UnreachableStrategy }},
	fDependencies: {"dependencies", func(d *decoder, p string, r json.RawMessage, a *App) { a.Dependencies, _ = d.strings(p, r) },
		func(dst, src *App) { dst.Dependencies = src.Dependencies }},
	// version and versionInfo are read so that a stored app decodes back;
	// Merge never takes them from a patch.
	fVersion: {"version", func(d *decoder, p string, r json.RawMessage, a *App) { a.Version, _ = d.str(p, r) },
		func(dst, src *App) {}},
	fVersionInfo: {"versionInfo", (*decoder).versionInfo, func(dst, src *App) {}},
	fContainer: {"container", func(d *decoder, p string, r json.RawMessage, a *App) { a.Container, _ = d.raw(p, r, '{') },
		func(dst, src *App) { dst.Container = src.Container }},
	fURIs: {"uris", func(d *decoder, p string, r json.RawMessage, a *App) { a.URIs, _ = d.strings(p, r) },
		func(dst, src *App) { dst.URIs = src.URIs }},
	fFetch: {"fetch", func(d *decoder, p string, r json.RawMessage, a *App) { d.fetch(p, r, a) },
		func(dst, src *App) { dst.Fetch = src.Fetch }},
	fExecutor: {"executor", func(d *decoder, p string, r json.RawMessage, a *App) { a.Executor, _ = d.str(p, r) },
		func(dst, src *App) { dst.Executor = src.Executor }},
	fAcceptedResourceRoles: {"acceptedResourceRoles", func(d *decoder, p string, r json.RawMessage, a *App) { a.AcceptedResourceRoles, _ = d.strings(p, r) },
		func(dst, src *App) { dst.AcceptedResourceRoles = src.AcceptedResourceRoles }},
	fReadinessChecks: {"readinessChecks", (*decoder).readinessChecks,
		func(dst, src *App) { dst.ReadinessChecks = src.ReadinessChecks }},
	fIPAddress: {"ipAddress", func(d *decoder, p string, r json.RawMessage, a *App) { a.IPAddress, _ = d.raw(p, r, '{') },
		func(dst, src *App) { dst.IPAddress = src.IPAddress }},
	fNetworks: {"networks", func(d *decoder, p string, r json.RawMessage, a *App) { a.Networks, _ = d.raw(p, r, '[') },
		func(dst, src *App) { dst.Networks = src.Networks }},
	fResidency: {"residency", func(d *decoder, p string, r json.RawMessage, a *App) { a.Residency, _ = d.raw(p, r, '{') },
		func(dst, src *App) { dst.Residency = src.Residency }},
	fSecrets: {"secrets", (*decoder).secrets, func(dst, src *App) { dst.Secrets = src.Secrets }},
	fStoreURLs: {"storeUrls", func(d *decoder, p string, r json.RawMessage, a *App) { a.StoreURLs, _ = d.strings(p, r) },
		func(dst, src *App) { dst.StoreURLs = src.StoreURLs }},
	fRole: {"role", func(d *decoder, p string, r json.RawMessage, a *App) { a.Role, _ = d.str(p, r) },
		func(dst, src *App) { dst.Role = src.Role }},
}

// app decodes a whole app definition.
func (d *decoder) app(data []byte) App {
	var a App
	if !json.Valid(data) {
		d.add("/", syntaxMessage(data))
		return a
	}
	obj, ok := d.object("/", data)
	if !ok {
		return a
	}
	a.given = &given{}
	for i, f := range fields {
		raw, ok := obj[f.name]
		if !ok || isNull(raw) {
			continue
		}
		f.decode(d, "/"+f.name, raw, &a)
		a.given.top |= 1 << i
	}
	d.foldPorts(&a)
	d.warnUnknown("/", obj, knownTopLevel)
	d.container(a.Container)
	d.networks(a.Networks)
	if d.fw != nil && len(d.details) == 0 {
		d.refuseUnsupported(obj, &a)
		a.problems = append(a.problems, d.refusals...)
	}
	return a
}

// foldPorts turns legacy ports into port definitions, or, when both are
// given, checks that they agree. A Docker container on a bridge or
// container network takes its ports from its port mappings: legacy ports
// are then the mappings' service ports (as Marathon 1.4 wrote them), one
// per mapping: they fill the servicePorts left 0, and a mapping's own
// servicePort wins over them (Marathon 1.4's documented example has them
// disagree).
func (d *decoder) foldPorts(a *App) {
	hasPorts := a.given.top&(1<<fPorts) != 0
	if !hasPorts {
		return
	}
	if dk := DockerOf(*a); dk != nil && dk.Network != NetworkHost {
		cur := a.ServicePorts()
		switch {
		case len(a.legacyPorts) == 0:
		case len(a.legacyPorts) != len(cur):
			a.problems = append(a.problems, problem{field: fPortDefinitions, path: "/ports",
				msg: fmt.Sprintf("ports are the service ports of the container's %d port mappings: give one per mapping, or only the mappings' servicePort", len(cur))})
		default:
			ports := make([]int, len(cur))
			for i, p := range a.legacyPorts {
				ports[i] = cur[i]
				if cur[i] == 0 {
					ports[i] = p
				}
			}
			*a = a.WithServicePorts(ports)
		}
		a.legacyPorts = nil
		return
	}
	if a.given.top&(1<<fPortDefinitions) == 0 {
		a.PortDefinitions = make([]PortDefinition, len(a.legacyPorts))
		for i, p := range a.legacyPorts {
			a.PortDefinitions[i] = PortDefinition{Port: p, Protocol: "tcp"}
		}
		a.given.top |= 1 << fPortDefinitions
	} else if len(a.legacyPorts) > 0 {
		same := len(a.legacyPorts) == len(a.PortDefinitions)
		for i := 0; same && i < len(a.legacyPorts); i++ {
			same = a.legacyPorts[i] == a.PortDefinitions[i].Port
		}
		if !same {
			a.problems = append(a.problems, problem{field: fPortDefinitions, path: "/ports",
				msg: "ports and portDefinitions disagree; give only portDefinitions"})
		}
	}
	a.legacyPorts = nil
}

func syntaxMessage(data []byte) string {
	var v any
	err := json.Unmarshal(data, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)
	}
	if err == nil {
		return "malformed JSON"
	}
	return "malformed JSON: " + err.Error()
}

// kind returns the first byte of a JSON value: '{', '[', '"', 't', 'f',
// 'n', or the first character of a number.
func kind(raw json.RawMessage) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

func isNull(raw json.RawMessage) bool { return kind(raw) == 'n' }

func isNumber(raw json.RawMessage) bool {
	k := kind(raw)
	return k == '-' || (k >= '0' && k <= '9')
}

func (d *decoder) object(path string, raw json.RawMessage) (map[string]json.RawMessage, bool) {
	if kind(raw) != '{' {
		d.add(path, expObject)
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		d.add(path, expObject)
		return nil, false
	}
	return m, true
}

func (d *decoder) array(path string, raw json.RawMessage) ([]json.RawMessage, bool) {
	if kind(raw) != '[' {
		d.add(path, expArray)
		return nil, false
	}
	var s []json.RawMessage
	if err := json.Unmarshal(raw, &s); err != nil {
		d.add(path, expArray)
		return nil, false
	}
	if s == nil {
		s = []json.RawMessage{}
	}
	return s, true
}

func (d *decoder) str(path string, raw json.RawMessage) (string, bool) {
	var s string
	if kind(raw) != '"' || json.Unmarshal(raw, &s) != nil {
		d.add(path, expString)
		return "", false
	}
	return s, true
}

func (d *decoder) bool(path string, raw json.RawMessage) (bool, bool) {
	var b bool
	if k := kind(raw); (k != 't' && k != 'f') || json.Unmarshal(raw, &b) != nil {
		d.add(path, expBool)
		return false, false
	}
	return b, true
}

func (d *decoder) float(path string, raw json.RawMessage) (float64, bool) {
	if !isNumber(raw) {
		d.add(path, expNumber)
		return 0, false
	}
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
	if err != nil || math.IsInf(f, 0) {
		d.add(path, "number out of range")
		return 0, false
	}
	return f, true
}

// maxInt bounds integers to what every platform's int and a float64 hold
// exactly.
const maxInt = 1<<31 - 1

func (d *decoder) int(path string, raw json.RawMessage) (int, bool) {
	if !isNumber(raw) {
		d.add(path, expNumber)
		return 0, false
	}
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
		d.add(path, expNumber)
	case err != nil || f > maxInt || f < -maxInt:
		d.add(path, "number out of range")
	case f != math.Trunc(f):
		d.add(path, "must be an integer")
	default:
		return int(f), true
	}
	return 0, false
}

func (d *decoder) strings(path string, raw json.RawMessage) ([]string, bool) {
	elems, ok := d.array(path, raw)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(elems))
	ok = true
	for i, e := range elems {
		s, good := d.str(fmt.Sprintf("%s(%d)", path, i), e)
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

func (d *decoder) stringMap(path string, raw json.RawMessage) (map[string]string, bool) {
	obj, ok := d.object(path, raw)
	if !ok {
		return nil, false
	}
	out := make(map[string]string, len(obj))
	for _, k := range sortedKeys(obj) {
		if s, good := d.str(path+"/"+k, obj[k]); good {
			out[k] = s
		} else {
			ok = false
		}
	}
	return out, ok
}

// raw checks that a compatibility field has the expected JSON kind ('{' or
// '[') and returns it compacted.
func (d *decoder) raw(path string, raw json.RawMessage, want byte) (json.RawMessage, bool) {
	if kind(raw) != want {
		if want == '{' {
			d.add(path, expObject)
		} else {
			d.add(path, expArray)
		}
		return nil, false
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		d.add(path, "malformed JSON")
		return nil, false
	}
	return json.RawMessage(b.Bytes()), true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// env reads string values into a.Env and secret references
// {"secret": "<name>"} into a.EnvSecrets. An object that is not a secret
// reference (no "secret", or another field) is left for Validate to
// refuse.
func (d *decoder) env(path string, raw json.RawMessage, a *App) {
	obj, ok := d.object(path, raw)
	if !ok {
		return
	}
	a.Env = make(map[string]string, len(obj))
	for _, k := range sortedKeys(obj) {
		p := path + "/" + k
		switch v := obj[k]; kind(v) {
		case '{':
			if name, ok := d.envSecret(p, v, a); ok {
				if a.EnvSecrets == nil {
					a.EnvSecrets = map[string]string{}
				}
				a.EnvSecrets[k] = name
			}
		case 'n':
			// null: as if absent
		default:
			if s, ok := d.str(p, v); ok {
				a.Env[k] = s
			}
		}
	}
}

// envSecret reads the secret reference of one env variable and returns
// the name it references.
func (d *decoder) envSecret(path string, raw json.RawMessage, a *App) (string, bool) {
	obj, ok := d.object(path, raw)
	if !ok {
		return "", false
	}
	good := true
	for _, k := range sortedKeys(obj) {
		if k != "secret" {
			a.problems = append(a.problems, problem{field: fEnv, path: path + "/" + k, msg: `unknown field: a secret reference has only "secret"`})
			good = false
		}
	}
	r, ok := obj["secret"]
	if !ok || isNull(r) {
		a.problems = append(a.problems, problem{field: fEnv, path: path,
			msg: `must be a string or a secret reference {"secret": "<name of an entry of secrets>"}`})
		return "", false
	}
	name, ok := d.str(path+"/secret", r)
	return name, ok && good
}

// secrets reads the app's secrets. A null entry is as if absent; fields
// of an entry other than source and file are left for Validate to
// refuse, and so is a missing source (it reads as "").
func (d *decoder) secrets(path string, raw json.RawMessage, a *App) {
	obj, ok := d.object(path, raw)
	if !ok {
		return
	}
	a.Secrets = make(map[string]Secret, len(obj))
	for _, k := range sortedKeys(obj) {
		p := path + "/" + k
		if isNull(obj[k]) {
			continue
		}
		e, ok := d.object(p, obj[k])
		if !ok {
			continue
		}
		var s Secret
		for _, f := range sortedKeys(e) {
			switch {
			case f != "source" && f != "file":
				a.problems = append(a.problems, problem{field: fSecrets, path: p + "/" + f, msg: `unknown field: a secret has only "source" and "file"`})
			case isNull(e[f]):
			case f == "source":
				s.Source, _ = d.str(p+"/source", e[f])
			default:
				s.File, _ = d.str(p+"/file", e[f])
			}
		}
		a.Secrets[k] = s
	}
}

func (d *decoder) ports(path string, raw json.RawMessage, a *App) {
	elems, ok := d.array(path, raw)
	if !ok {
		return
	}
	a.legacyPorts = make([]int, 0, len(elems))
	for i, e := range elems {
		n, _ := d.int(fmt.Sprintf("%s(%d)", path, i), e)
		a.legacyPorts = append(a.legacyPorts, n)
	}
}

func (d *decoder) portDefinitions(path string, raw json.RawMessage, a *App) {
	elems, ok := d.array(path, raw)
	if !ok {
		return
	}
	a.PortDefinitions = make([]PortDefinition, 0, len(elems))
	for i, e := range elems {
		p := fmt.Sprintf("%s(%d)", path, i)
		obj, ok := d.object(p, e)
		var pd PortDefinition
		if ok {
			d.each(p, obj, map[string]func(string, json.RawMessage){
				"port":     func(q string, r json.RawMessage) { pd.Port, _ = d.int(q, r) },
				"protocol": func(q string, r json.RawMessage) { pd.Protocol, _ = d.str(q, r) },
				"name":     func(q string, r json.RawMessage) { pd.Name, _ = d.str(q, r) },
				"labels":   func(q string, r json.RawMessage) { pd.Labels, _ = d.stringMap(q, r) },
			})
		}
		a.PortDefinitions = append(a.PortDefinitions, pd)
	}
}

// each calls the handler of every known, non-null key of obj, in sorted
// key order so that details come out in a stable order, and reports which
// keys were handled.
func (d *decoder) each(path string, obj map[string]json.RawMessage, handlers map[string]func(string, json.RawMessage)) map[string]bool {
	d.warnUnknown(path, obj, func(k string) bool { _, ok := handlers[k]; return ok })
	seen := map[string]bool{}
	for _, k := range sortedKeys(handlers) {
		r, ok := obj[k]
		if !ok || isNull(r) {
			continue
		}
		handlers[k](path+"/"+k, r)
		seen[k] = true
	}
	return seen
}

func (d *decoder) constraints(path string, raw json.RawMessage, a *App) {
	elems, ok := d.array(path, raw)
	if !ok {
		return
	}
	a.Constraints = make([]Constraint, 0, len(elems))
	for i, e := range elems {
		p := fmt.Sprintf("%s(%d)", path, i)
		c, n, ok := d.constraint(p, e)
		if ok && (n < 2 || n > 3) {
			a.problems = append(a.problems, problem{field: fConstraints, path: p,
				msg: fmt.Sprintf("must have 2 or 3 elements (field, operator, optional value), not %d", n)})
		}
		a.Constraints = append(a.Constraints, c)
	}
}

// constraint decodes one constraint array and returns its length.
func (d *decoder) constraint(path string, raw json.RawMessage) (Constraint, int, bool) {
	var c Constraint
	if kind(raw) != '[' {
		d.add(path, expArray)
		return c, 0, false
	}
	var elems []json.RawMessage
	if json.Unmarshal(raw, &elems) != nil {
		d.add(path, expArray)
		return c, 0, false
	}
	parts := make([]string, len(elems))
	for i, e := range elems {
		if kind(e) != '"' || json.Unmarshal(e, &parts[i]) != nil {
			d.add(path, "constraint elements must be strings")
			return c, 0, false
		}
	}
	if len(parts) > 0 {
		c.Field = parts[0]
	}
	if len(parts) > 1 {
		c.Operator = parts[1]
	}
	if len(parts) > 2 {
		c.Value = parts[2]
	}
	return c, len(parts), true
}

func (d *decoder) healthChecks(path string, raw json.RawMessage, a *App) {
	elems, ok := d.array(path, raw)
	if !ok {
		return
	}
	a.HealthChecks = make([]HealthCheck, 0, len(elems))
	a.given.hc = make([]uint16, len(elems))
	for i, e := range elems {
		p := fmt.Sprintf("%s(%d)", path, i)
		var hc HealthCheck
		if obj, ok := d.object(p, e); ok {
			a.given.hc[i] = d.healthCheck(p, obj, &hc)
		}
		a.HealthChecks = append(a.HealthChecks, hc)
	}
}

func (d *decoder) healthCheck(path string, obj map[string]json.RawMessage, hc *HealthCheck) uint16 {
	intPtr := func(dst **int) func(string, json.RawMessage) {
		return func(q string, r json.RawMessage) {
			if n, ok := d.int(q, r); ok {
				*dst = &n
			}
		}
	}
	seen := d.each(path, obj, map[string]func(string, json.RawMessage){
		"protocol":  func(q string, r json.RawMessage) { hc.Protocol, _ = d.str(q, r) },
		"path":      func(q string, r json.RawMessage) { hc.Path, _ = d.str(q, r) },
		"portIndex": intPtr(&hc.PortIndex),
		"port":      intPtr(&hc.Port),
		"command": func(q string, r json.RawMessage) {
			if o, ok := d.object(q, r); ok {
				c := &Command{}
				d.each(q, o, map[string]func(string, json.RawMessage){
					"value": func(q string, r json.RawMessage) { c.Value, _ = d.str(q, r) },
				})
				hc.Command = c
			}
		},
		"gracePeriodSeconds":     func(q string, r json.RawMessage) { hc.GracePeriodSeconds, _ = d.int(q, r) },
		"intervalSeconds":        func(q string, r json.RawMessage) { hc.IntervalSeconds, _ = d.int(q, r) },
		"timeoutSeconds":         func(q string, r json.RawMessage) { hc.TimeoutSeconds, _ = d.int(q, r) },
		"maxConsecutiveFailures": func(q string, r json.RawMessage) { hc.MaxConsecutiveFailures, _ = d.int(q, r) },
		"ignoreHttp1xx":          func(q string, r json.RawMessage) { hc.IgnoreHTTP1xx, _ = d.bool(q, r) },
		"delaySeconds":           func(q string, r json.RawMessage) { hc.DelaySeconds, _ = d.int(q, r) },
		// Marathon probes over IPv4 unless told otherwise; so does corral.
		"ipProtocol": func(q string, r json.RawMessage) {
			if p, ok := d.str(q, r); ok && p != "" && p != "IPv4" {
				d.refuse(fHealthChecks, q, fmt.Sprintf("checking over %s is %s; give IPv4 or leave ipProtocol out", p, notYet))
			}
		},
	})
	var bits uint16
	for name, bit := range map[string]uint16{
		"gracePeriodSeconds": hcGrace, "intervalSeconds": hcInterval, "timeoutSeconds": hcTimeout,
		"maxConsecutiveFailures": hcMaxFailures, "delaySeconds": hcDelay,
	} {
		if seen[name] {
			bits |= bit
		}
	}
	return bits
}

func (d *decoder) fetch(path string, raw json.RawMessage, a *App) {
	elems, ok := d.array(path, raw)
	if !ok {
		return
	}
	a.Fetch = make([]Artifact, 0, len(elems))
	for i, e := range elems {
		p := fmt.Sprintf("%s(%d)", path, i)
		art := Artifact{Extract: true}
		if obj, ok := d.object(p, e); ok {
			d.each(p, obj, map[string]func(string, json.RawMessage){
				"uri":        func(q string, r json.RawMessage) { art.URI, _ = d.str(q, r) },
				"extract":    func(q string, r json.RawMessage) { art.Extract, _ = d.bool(q, r) },
				"executable": func(q string, r json.RawMessage) { art.Executable, _ = d.bool(q, r) },
				"cache":      func(q string, r json.RawMessage) { art.Cache, _ = d.bool(q, r) },
				"destPath":   func(q string, r json.RawMessage) { art.DestPath, _ = d.str(q, r) },
			})
		}
		a.Fetch = append(a.Fetch, art)
	}
}

func (d *decoder) upgradeStrategy(path string, raw json.RawMessage, a *App) {
	obj, ok := d.object(path, raw)
	if !ok {
		return
	}
	us := &a.UpgradeStrategy
	seen := d.each(path, obj, map[string]func(string, json.RawMessage){
		"minimumHealthCapacity":   func(q string, r json.RawMessage) { us.MinimumHealthCapacity, _ = d.float(q, r) },
		"maximumOverCapacity":     func(q string, r json.RawMessage) { us.MaximumOverCapacity, _ = d.float(q, r) },
		"progressDeadlineSeconds": func(q string, r json.RawMessage) { us.ProgressDeadlineSeconds, _ = d.float(q, r) },
		"autoRollback":            func(q string, r json.RawMessage) { us.AutoRollback, _ = d.bool(q, r) },
	})
	if seen["minimumHealthCapacity"] {
		a.given.upgrade |= upgradeMin
	}
	if seen["maximumOverCapacity"] {
		a.given.upgrade |= upgradeMax
	}
	if seen["progressDeadlineSeconds"] {
		a.given.upgrade |= upgradeDeadline
	}
}

func (d *decoder) readinessChecks(path string, raw json.RawMessage, a *App) {
	elems, ok := d.array(path, raw)
	if !ok {
		return
	}
	a.ReadinessChecks = make([]ReadinessCheck, 0, len(elems))
	a.given.rc = make([]uint8, len(elems))
	for i, e := range elems {
		p := fmt.Sprintf("%s(%d)", path, i)
		var rc ReadinessCheck
		if obj, ok := d.object(p, e); ok {
			a.given.rc[i] = d.readinessCheck(p, obj, &rc)
		}
		a.ReadinessChecks = append(a.ReadinessChecks, rc)
	}
}

func (d *decoder) readinessCheck(path string, obj map[string]json.RawMessage, rc *ReadinessCheck) uint8 {
	seen := d.each(path, obj, map[string]func(string, json.RawMessage){
		"name":            func(q string, r json.RawMessage) { rc.Name, _ = d.str(q, r) },
		"protocol":        func(q string, r json.RawMessage) { rc.Protocol, _ = d.str(q, r) },
		"path":            func(q string, r json.RawMessage) { rc.Path, _ = d.str(q, r) },
		"portName":        func(q string, r json.RawMessage) { rc.PortName, _ = d.str(q, r) },
		"intervalSeconds": func(q string, r json.RawMessage) { rc.IntervalSeconds, _ = d.int(q, r) },
		"timeoutSeconds":  func(q string, r json.RawMessage) { rc.TimeoutSeconds, _ = d.int(q, r) },
		"httpStatusCodesForReady": func(q string, r json.RawMessage) {
			elems, ok := d.array(q, r)
			if !ok {
				return
			}
			rc.HTTPStatusCodesForReady = make([]int, 0, len(elems))
			for i, e := range elems {
				n, _ := d.int(fmt.Sprintf("%s(%d)", q, i), e)
				rc.HTTPStatusCodesForReady = append(rc.HTTPStatusCodesForReady, n)
			}
		},
		"preserveLastResponse": func(q string, r json.RawMessage) { rc.PreserveLastResponse, _ = d.bool(q, r) },
	})
	var bits uint8
	for name, bit := range map[string]uint8{
		"name": rcName, "protocol": rcProtocol, "path": rcPath, "portName": rcPortName,
		"intervalSeconds": rcInterval, "timeoutSeconds": rcTimeout, "httpStatusCodesForReady": rcCodes,
	} {
		if seen[name] {
			bits |= bit
		}
	}
	return bits
}

func (d *decoder) unreachable(path string, raw json.RawMessage) (UnreachableStrategy, bool) {
	var u UnreachableStrategy
	if kind(raw) == '"' {
		s, ok := d.str(path, raw)
		if ok && s != "disabled" {
			d.add(path, `must be "disabled" or an object`)
			return u, false
		}
		u.Disabled = ok
		return u, ok
	}
	obj, ok := d.object(path, raw)
	if !ok {
		return u, false
	}
	d.each(path, obj, map[string]func(string, json.RawMessage){
		"inactiveAfterSeconds": func(q string, r json.RawMessage) { u.InactiveAfterSeconds, _ = d.int(q, r) },
		"expungeAfterSeconds":  func(q string, r json.RawMessage) { u.ExpungeAfterSeconds, _ = d.int(q, r) },
	})
	return u, true
}

// resourceLimits reads {"cpus": number | "unlimited", "mem": ...}.
func (d *decoder) resourceLimits(path string, raw json.RawMessage, a *App) {
	obj, ok := d.object(path, raw)
	if !ok {
		return
	}
	rl := &ResourceLimits{}
	limit := func(q string, r json.RawMessage) *Limit {
		if kind(r) == '"' {
			s, ok := d.str(q, r)
			if ok && s != "unlimited" {
				d.add(q, `must be a number or "unlimited"`)
				return nil
			}
			return &Limit{Unlimited: true}
		}
		f, ok := d.float(q, r)
		if !ok {
			return nil
		}
		return &Limit{Value: f}
	}
	d.each(path, obj, map[string]func(string, json.RawMessage){
		"cpus": func(q string, r json.RawMessage) { rl.CPUs = limit(q, r) },
		"mem":  func(q string, r json.RawMessage) { rl.Mem = limit(q, r) },
	})
	if rl.CPUs != nil || rl.Mem != nil {
		a.ResourceLimits = rl
	}
}

func (d *decoder) versionInfo(path string, raw json.RawMessage, a *App) {
	obj, ok := d.object(path, raw)
	if !ok {
		return
	}
	vi := &VersionInfo{}
	d.each(path, obj, map[string]func(string, json.RawMessage){
		"lastScalingAt":      func(q string, r json.RawMessage) { vi.LastScalingAt, _ = d.str(q, r) },
		"lastConfigChangeAt": func(q string, r json.RawMessage) { vi.LastConfigChangeAt, _ = d.str(q, r) },
	})
	a.VersionInfo = vi
}
