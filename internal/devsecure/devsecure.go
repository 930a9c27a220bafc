// Package devsecure makes the files of a secured development cluster:
// credentials for an operator and for each component, ACLs that give each
// only what it needs, a secrets key, and (through devca) a local CA with
// server and client certificates. `corral dev --secure` and the compose
// cluster use it. The files are for development: anyone who can read the
// directory holds the cluster.
//
// Layout of the directory (every file 0600, the directory 0700):
//
//	credentials.json   what every server demands: ops, agent, services, jobs
//	ops.json           the operator's credential (CLI, console)
//	agent.json         presented by agents to the master
//	services.json      presented by the services framework
//	jobs.json          presented by the jobs framework
//	acls.json          who may do what (see ACLs)
//	secrets.key        the master's key for secrets at rest
//	tls/               the CA and certificates (devca)
//
// Ensure keeps what exists: secrets are made once.
package devsecure

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Principals are the principals of a development cluster, in the order of
// credentials.json.
var Principals = []string{"ops", "agent", "services", "jobs"}

// Files are the paths Ensure made or found.
type Files struct {
	Dir         string
	Credentials string            // credentials.json
	Credential  map[string]string // principal → its own credential file
	ACLs        string            // acls.json
	SecretsKey  string            // secrets.key
}

// Ensure makes the files under dir unless they exist, and returns their
// paths. The operator's secret is in Files.Credential["ops"].
func Ensure(dir string) (Files, error) {
	f := Files{Dir: dir, Credentials: filepath.Join(dir, "credentials.json"), Credential: map[string]string{},
		ACLs: filepath.Join(dir, "acls.json"), SecretsKey: filepath.Join(dir, "secrets.key")}
	for _, p := range Principals {
		f.Credential[p] = filepath.Join(dir, p+".json")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return f, err
	}
	if _, err := os.Stat(f.Credentials); errors.Is(err, fs.ErrNotExist) {
		type cred struct {
			Principal string `json:"principal"`
			Secret    string `json:"secret"`
		}
		var all struct {
			Credentials []cred `json:"credentials"`
		}
		for _, p := range Principals {
			c := cred{Principal: p, Secret: randomSecret()}
			all.Credentials = append(all.Credentials, c)
			if err := writeJSON(f.Credential[p], c); err != nil {
				return f, err
			}
		}
		if err := writeJSON(f.Credentials, all); err != nil {
			return f, err
		}
	} else if err != nil {
		return f, err
	}
	if _, err := os.Stat(f.ACLs); errors.Is(err, fs.ErrNotExist) {
		if err := os.WriteFile(f.ACLs, []byte(ACLs), 0o600); err != nil {
			return f, err
		}
	}
	if _, err := os.Stat(f.SecretsKey); errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return f, err
		}
		if err := os.WriteFile(f.SecretsKey, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
			return f, err
		}
	}
	return f, nil
}

// ACLs give each principal of a development cluster what it needs and no
// more: ops may do everything; agents may register; each framework may
// register and run tasks as any user but root, and use secrets; nobody
// may run tasks as root.
const ACLs = `{
  "permissive": false,
  "register_frameworks": [
    {"principals": {"values": ["services", "jobs", "ops"]}, "roles": {"type": "ANY"}}
  ],
  "run_tasks": [
    {"principals": {"type": "NONE"}, "users": {"values": ["root"]}},
    {"principals": {"values": ["services", "jobs", "ops"]}, "users": {"type": "ANY"}}
  ],
  "register_agents": [{"principals": {"values": ["agent"]}, "agents": {"type": "ANY"}}],
  "teardown_frameworks": [{"principals": {"values": ["ops"]}, "framework_principals": {"type": "ANY"}}],
  "view_frameworks": [{"principals": {"type": "ANY"}, "users": {"type": "ANY"}}],
  "view_tasks": [{"principals": {"type": "ANY"}, "users": {"type": "ANY"}}],
  "view_executors": [{"principals": {"type": "ANY"}, "users": {"type": "ANY"}}],
  "access_sandboxes": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}}],
  "update_weights": [{"principals": {"values": ["ops"]}, "roles": {"type": "ANY"}}],
  "view_roles": [{"principals": {"type": "ANY"}, "roles": {"type": "ANY"}}],
  "get_endpoints": [{"principals": {"values": ["ops"]}, "paths": {"type": "ANY"}}],
  "manage_apps": [{"principals": {"values": ["ops"]}, "apps": {"type": "ANY"}}],
  "view_apps": [{"principals": {"values": ["ops"]}, "apps": {"type": "ANY"}}],
  "manage_jobs": [{"principals": {"values": ["ops"]}, "jobs": {"type": "ANY"}}],
  "view_jobs": [{"principals": {"values": ["ops"]}, "jobs": {"type": "ANY"}}],
  "manage_secrets": [{"principals": {"values": ["ops"]}, "secrets": {"type": "ANY"}}],
  "use_secrets": [{"principals": {"values": ["services", "jobs"]}, "secrets": {"type": "ANY"}}]
}
`

// randomSecret is 32 random bytes, URL-safe base64 (no padding, so no
// character a shell or a Basic header minds).
func randomSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}
