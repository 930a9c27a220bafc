package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"corral/internal/edge"
)

// trustFlags are the security flags every server shares (--credentials,
// --allowed_hosts, --cors_origins, --insecure) and, for processes that
// call a master, --credential.
type trustFlags struct {
	credentials  string
	credential   string
	allowedHosts string
	corsOrigins  string
	insecure     bool
}

// registerServer adds the flags of a process that serves HTTP.
func (t *trustFlags) registerServer(fs *flag.FlagSet) {
	fs.StringVar(&t.credentials, "credentials", "", `file of the principals allowed to call this process: JSON {"credentials": [{"principal": "…", "secret": "…"}]} or lines "principal secret"; with it every endpoint but /health and /ping needs HTTP Basic or Bearer credentials`)
	fs.StringVar(&t.allowedHosts, "allowed_hosts", "", "comma-separated names the Host header may carry (IP addresses are always accepted; * accepts any); default: localhost, the hostname and the listen and advertise hosts")
	fs.StringVar(&t.corsOrigins, "cors_origins", "", "comma-separated browser origins on other sites allowed to call this process (e.g. https://ui.example.com); default none")
	fs.BoolVar(&t.insecure, "insecure", false, "allow listening beyond loopback without --credentials (anyone who reaches the port can then run commands on the agents)")
}

// registerClient adds --credential, presented to the master.
func (t *trustFlags) registerClient(fs *flag.FlagSet) {
	fs.StringVar(&t.credential, "credential", "", `file of the credential presented to the master: JSON {"principal": "…", "secret": "…"} or one line "principal secret"`)
}

// load reads the files and returns the Trust of a server listening on
// listen and reached at advertise. Off loopback it refuses to run without
// credentials unless --insecure.
func (t *trustFlags) load(listen string, advertise ...string) (edge.Trust, error) {
	var tr edge.Trust
	if t.credentials != "" {
		b, err := os.ReadFile(strings.TrimPrefix(t.credentials, "file://"))
		if err != nil {
			return tr, usageError{fmt.Sprintf("credentials: %v", err)}
		}
		if tr.Credentials, err = edge.ParseCredentials(b); err != nil {
			return tr, usageError{fmt.Sprintf("credentials: %s: %v", t.credentials, err)}
		}
	}
	if t.credential != "" {
		b, err := os.ReadFile(strings.TrimPrefix(t.credential, "file://"))
		if err != nil {
			return tr, usageError{fmt.Sprintf("credential: %v", err)}
		}
		if tr.Credential, err = edge.ParseCredential(b); err != nil {
			return tr, usageError{fmt.Sprintf("credential: %s: %v", t.credential, err)}
		}
	}
	if tr.Credentials == nil && !t.insecure && !edge.Loopback(listen) {
		return tr, usageError{fmt.Sprintf("refusing to listen on %s without --credentials: anyone who can reach it could run commands on every agent; give --credentials FILE, listen on 127.0.0.1, or pass --insecure", listen)}
	}
	tr.Hosts = splitList(t.allowedHosts)
	if len(tr.Hosts) == 0 {
		tr.Hosts = edge.DefaultHosts(listen, advertise...)
	}
	tr.Origins = splitList(t.corsOrigins)
	return tr, nil
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
