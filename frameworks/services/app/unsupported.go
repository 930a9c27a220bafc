package app

import (
	"encoding/json"
	"fmt"
	"slices"

	"corral/frameworks/internal/blank"
)

// Fields of the Marathon app format that corral accepts but does not act
// on. Silently ignoring them would deploy something else than asked for:
// an app that needs its fetched artifacts or its volumes crash-loops
// instead of being refused. So a request (DecodeRequest, Merge) that
// gives one of them a value that would change what the app does gets a 422
// naming it; the defaults and empty values that client libraries send with
// every app are accepted without a word.
//
//	field                          accepted                        refused
//	storeUrls                      null, []                        anything to download
//	executor                       null, "", "//cmd"               a custom executor
//	acceptedResourceRoles          null, [], a list holding "*"    reserved roles only
//	role                           null, "", the framework's role  another role
//	ipAddress, residency, check    null, {} or only empty values   anything else
//	tty                            null, false                     true
//	networks                       null, [], [{"mode":"host"}];    container and bridge networks
//	                               any with a Docker image         without one
//	container (without an image)   type, secret volumes, and       other volumes,
//	                               empty docker, appc, volumes,    portMappings, linuxInfo
//	                               portMappings                    with content
//	container (Docker image)       see validateDocker              linuxInfo with content
//	healthChecks(i)/ipProtocol     null, "", "IPv4"                IPv6
//
// uris and fetch are supported (App.Fetch, App.URIs): the agent fetches
// them into each task's sandbox. So are readinessChecks
// (App.ReadinessChecks), which the framework runs itself.
//
// Secrets are supported both as env references and as files (see
// App.Secrets, App.SecretFiles): Marathon's secret volumes, volumes with
// "secret" and "containerPath", are accepted; any other field of such a
// volume is refused. A container with an image is refused by Validate for any app,
// stored ones included; the refusals here concern only what a request
// asks for, so that an app stored before them still loads and scales.
//
// "user" is not among them: an app's tasks run as its user (see
// App.User), which Validate checks is a plausible user name.

// notYet ends every refusal of an unsupported field.
const notYet = "not supported by corral yet"

// readOnly are the fields of Marathon's AppInfo answers. They are known
// (no warning) and ignored, so that a client may send back what it read.
var readOnly = []string{
	"deployments", "lastTaskFailure", "readinessCheckResults", "tasks",
	"tasksHealthy", "tasksRunning", "tasksStaged", "tasksUnhealthy",
	"taskStats", "tasksStats",
}

// notKept are the fields of the Marathon format that App does not hold:
// only their empty values are accepted, and those mean nothing.
var notKept = []string{"check", "tty"}

// knownTopLevel reports whether name is a top-level field of the Marathon
// app format.
func knownTopLevel(name string) bool {
	for _, f := range fields {
		if f.name == name {
			return true
		}
	}
	return slices.Contains(readOnly, name) || slices.Contains(notKept, name)
}

// refuse records that a request asks at path for something corral does
// not do. field is the index in fields of the top-level field (so that
// Merge can tell whose problem it is), or -1 for a field App does not
// hold. Outside a request it does nothing.
func (d *decoder) refuse(field int, path, msg string) {
	if d.fw == nil {
		return
	}
	d.refusals = append(d.refusals, problem{field: field, path: path, msg: msg, unsupported: true})
}

// refuseUnsupported checks the top-level fields of a request, in the
// order of the fields table, then the fields App does not hold. The
// health checks' ipProtocol is checked as it is decoded.
func (d *decoder) refuseUnsupported(obj map[string]json.RawMessage, a *App) {
	fw := *d.fw
	if a.Executor != "" && a.Executor != "//cmd" {
		d.refuse(fExecutor, "/executor", fmt.Sprintf("a custom executor (%q) is %s: tasks run with the built-in command executor; leave executor out", a.Executor, notYet))
	}
	if len(a.AcceptedResourceRoles) > 0 && !slices.Contains(a.AcceptedResourceRoles, "*") {
		d.refuse(fAcceptedResourceRoles, "/acceptedResourceRoles", `placing tasks on resources reserved for a role is `+notYet+`: agents offer only unreserved resources; give ["*"] or leave acceptedResourceRoles out`)
	}
	if !blank.JSON(a.IPAddress) {
		d.refuse(fIPAddress, "/ipAddress", "an IP address per task (ipAddress) is "+notYet+"; tasks use the agent's network")
	}
	docker := containerImage(a.Container)
	if !hostNetworks(a.Networks) && !docker {
		d.refuse(fNetworks, "/networks", `container or bridge networking is `+notYet+` without a Docker image: tasks use the agent's network; give [{"mode":"host"}] or leave networks out`)
	}
	if !blank.JSON(a.Residency) {
		d.refuse(fResidency, "/residency", "residency (resident tasks with local volumes) is "+notYet)
	}
	if len(a.StoreURLs) > 0 {
		d.refuse(fStoreURLs, "/storeUrls", "the artifact store (storeUrls) is "+notYet+"; give [] or leave storeUrls out")
	}
	if a.Role != "" && a.Role != fw.Role {
		d.refuse(fRole, "/role", fmt.Sprintf("role %q is %s: tasks use the framework's role %q; leave role out", a.Role, notYet, fw.Role))
	}
	var c map[string]json.RawMessage
	_ = json.Unmarshal(a.Container, &c)
	if raw, ok := c["linuxInfo"]; ok && !blank.JSON(raw) {
		d.refuse(fContainer, "/container/linuxInfo", "linuxInfo is "+notYet+"; leave it out")
	}
	if !docker {
		// A Docker container's volumes and port mappings are checked by
		// Validate.
		if raw, ok := c["volumes"]; ok && !blank.JSON(raw) {
			d.refuseVolumes(raw)
		}
		if raw, ok := c["portMappings"]; ok && !blank.JSON(raw) {
			d.refuse(fContainer, "/container/portMappings", "mapping ports is "+notYet+" without a Docker image: tasks use the agent's network; use portDefinitions")
		}
	}
	for _, k := range notKept {
		if raw, ok := obj[k]; ok && !blank.JSON(raw) {
			d.refuse(-1, "/"+k, k+" is "+notYet+"; leave it out")
		}
	}
}

// refuseVolumes refuses a container's volumes but its secret volumes (a
// volume with "secret", see App.SecretFiles): in one of those, each field
// but containerPath and secret at its own path; the other volumes as a
// whole.
func (d *decoder) refuseVolumes(raw json.RawMessage) {
	var vs []map[string]json.RawMessage
	others := json.Unmarshal(raw, &vs) != nil
	for i, v := range vs {
		if s, ok := v["secret"]; ok && !blank.JSON(s) {
			for _, f := range sortedKeys(v) {
				if f != "secret" && f != "containerPath" && !blank.JSON(v[f]) {
					d.refuse(fContainer, fmt.Sprintf("/container/volumes(%d)/%s", i, f),
						fmt.Sprintf(`%q in a secret volume is %s: a secret volume has only "containerPath" and "secret", a read-only file in the sandbox`, f, notYet))
				}
			}
		} else {
			for _, f := range v {
				others = others || !blank.JSON(f)
			}
		}
	}
	if others {
		d.refuse(fContainer, "/container/volumes", "mounting volumes is "+notYet+"; give [] or leave volumes out")
	}
}

// containerFields are the fields of a Marathon container.
var containerFields = []string{"appc", "docker", "linuxInfo", "portMappings", "type", "volumes"}

// container warns about the unknown fields of a container object.
func (d *decoder) container(raw json.RawMessage) {
	var c map[string]json.RawMessage
	if json.Unmarshal(raw, &c) != nil {
		return
	}
	d.warnUnknown("/container", c, func(k string) bool { return slices.Contains(containerFields, k) })
}

// networks warns about the unknown fields of the networks.
func (d *decoder) networks(raw json.RawMessage) {
	var ns []map[string]json.RawMessage
	if json.Unmarshal(raw, &ns) != nil {
		return
	}
	for i, n := range ns {
		d.warnUnknown(fmt.Sprintf("/networks(%d)", i), n, func(k string) bool { return k == "mode" || k == "name" || k == "labels" })
	}
}

// hostNetworks reports whether networks asks only for the agent's own
// network: absent, [], or entries {"mode":"host"} with no name or labels.
func hostNetworks(raw json.RawMessage) bool {
	if blank.JSON(raw) {
		return true
	}
	var ns []map[string]json.RawMessage
	if json.Unmarshal(raw, &ns) != nil {
		return false
	}
	for _, n := range ns {
		var mode string
		if json.Unmarshal(n["mode"], &mode) != nil || mode != "host" {
			return false
		}
		if !blank.JSON(n["name"]) || !blank.JSON(n["labels"]) {
			return false
		}
	}
	return true
}
