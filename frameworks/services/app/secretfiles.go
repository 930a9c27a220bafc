package app

import (
	"encoding/json"
	"fmt"

	"corral/kernel/mesos"
)

// SecretFile is a file an app's tasks find in their sandbox holding the
// value of one of the app's secrets; the agent writes it at launch (a
// Mesos secret volume) and removes it when the task ends.
type SecretFile struct {
	// Path is where, relative to the sandbox ($MESOS_SANDBOX).
	Path string
	// Secret names an entry of App.Secrets.
	Secret string
	// at is where the app defines it, for Validate's messages, and
	// volume whether that is a container volume (else an entry of
	// secrets).
	at     string
	volume bool
}

// SecretFiles returns the app's secret files, in two forms: Marathon's
// secret volumes, {"containerPath": "db.pw", "secret": "db"} among
// container.volumes, in order; then the entries of secrets that name a
// file ({"db": {"source": "team/db", "file": "db.pw"}}), by secret name.
// A volume whose secret is not a string is left out (Validate refuses
// it).
func (a App) SecretFiles() []SecretFile {
	var out []SecretFile
	for i, v := range containerVolumes(a.Container) {
		var name string
		raw, ok := v["secret"]
		if !ok || isNull(raw) || json.Unmarshal(raw, &name) != nil || name == "" {
			continue
		}
		var path string
		_ = json.Unmarshal(v["containerPath"], &path)
		out = append(out, SecretFile{Path: path, Secret: name, at: fmt.Sprintf("/container/volumes(%d)", i), volume: true})
	}
	for _, k := range sortedKeys(a.Secrets) {
		if f := a.Secrets[k].File; f != "" {
			out = append(out, SecretFile{Path: f, Secret: k, at: "/secrets/" + k})
		}
	}
	return out
}

// containerVolumes returns the volumes of a container definition, each
// as its fields; none when there are none or they cannot be read.
func containerVolumes(raw json.RawMessage) []map[string]json.RawMessage {
	if len(raw) == 0 || isNull(raw) {
		return nil
	}
	var c struct {
		Volumes []map[string]json.RawMessage `json:"volumes"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return nil
	}
	return c.Volumes
}

// validateSecretFiles checks the app's secret files: each names a secret
// the app defines (Marathon's "volume.secret must refer to an existing
// secret"), at a path a sandbox can hold (mesos.SandboxPathProblem) that
// no other file of the app uses; and a volume's secret is a string.
func validateSecretFiles(v *collector, a App) {
	for i, vol := range containerVolumes(a.Container) {
		raw, ok := vol["secret"]
		if !ok || isNull(raw) {
			continue
		}
		var name string
		if json.Unmarshal(raw, &name) != nil || name == "" {
			v.add(fmt.Sprintf("/container/volumes(%d)/secret", i), "must be the name of an entry of secrets")
		}
	}
	seen := map[string]bool{}
	for _, f := range a.SecretFiles() {
		pathField := f.at + "/file"
		if f.volume {
			pathField = f.at + "/containerPath"
			if _, ok := a.Secrets[f.Secret]; !ok {
				v.add(f.at+"/secret", "volume.secret must refer to an existing secret")
			}
		}
		switch p := mesos.SandboxPathProblem(f.Path); {
		case p != "":
			v.add(pathField, fmt.Sprintf("%q %s", f.Path, p))
		case seen[f.Path]:
			v.add(pathField, fmt.Sprintf("%q is the path of another secret file of the app", f.Path))
		}
		seen[f.Path] = true
	}
}
