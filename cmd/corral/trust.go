package main

import (
	"context"
	"corral/internal/acl"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"corral/internal/edge"
)

// trustFlags are the security flags every server shares (--credentials,
// --allowed_hosts, --cors_origins, --insecure) and, for processes that
// call a master, --credential.
type trustFlags struct {
	credentials  string
	acls         string
	credential   string
	allowedHosts string
	corsOrigins  string
	insecure     bool
	tls          edge.TLSFiles
}

// registerServer adds the flags of a process that serves HTTP.
func (t *trustFlags) registerServer(fs *flag.FlagSet) {
	fs.StringVar(&t.credentials, "credentials", "", `file of the principals allowed to call this process: JSON {"credentials": [{"principal": "…", "secret": "…"}]} or lines "principal secret"; with it every endpoint but /health and /ping needs HTTP Basic or Bearer credentials`)
	fs.StringVar(&t.acls, "acls", "", "file of Mesos-format ACLs (JSON) deciding what each principal may do; without it every authenticated principal may do everything; tasks as root need a run_tasks entry that allows root")
	fs.StringVar(&t.allowedHosts, "allowed_hosts", "", "comma-separated names the Host header may carry (IP addresses are always accepted; * accepts any); default: localhost, the hostname and the listen and advertise hosts")
	fs.StringVar(&t.corsOrigins, "cors_origins", "", "comma-separated browser origins on other sites allowed to call this process (e.g. https://ui.example.com); default none")
	fs.StringVar(&t.tls.Cert, "tls_cert", "", "PEM certificate (chain) to serve HTTPS with; also presented to servers that ask for a client certificate; re-read when the file changes")
	fs.StringVar(&t.tls.Key, "tls_key", "", "PEM private key of --tls_cert")
	fs.StringVar(&t.tls.CA, "tls_ca", "", "PEM CA bundle that verifies the corral servers this process calls (https:// masters, agents, frameworks) and, with --tls_client_auth, client certificates; default the system's roots")
	fs.BoolVar(&t.tls.ClientAuth, "tls_client_auth", false, "require a client certificate signed by --tls_ca from every caller (mutual TLS)")
	fs.BoolVar(&t.insecure, "insecure", false, "allow listening beyond loopback without --credentials (anyone who reaches the port can then run commands on the agents)")
}

// registerClient adds --credential, presented to the master.
func (t *trustFlags) registerClient(fs *flag.FlagSet) {
	fs.StringVar(&t.credential, "credential", "", `file of the credential presented to the master: JSON {"principal": "…", "secret": "…"} or one line "principal secret"`)
}

// load reads the files and returns the Trust of a server listening on
// listen and reached at advertise. Off loopback it refuses to run without
// credentials unless --insecure.
func (t *trustFlags) load(log *slog.Logger, listen string, advertise ...string) (edge.Trust, error) {
	var tr edge.Trust
	if err := t.tls.Validate(); err != nil {
		return tr, usageError{err.Error()}
	}
	if t.tls.Enabled() {
		var err error
		if tr.ServerTLS, err = edge.ServerTLS(context.Background(), t.tls, log); err != nil {
			return tr, err
		}
	}
	if t.tls.Enabled() || t.tls.CA != "" {
		var err error
		if tr.ClientTLS, err = edge.ClientTLS(t.tls); err != nil {
			return tr, err
		}
	}
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
	if t.acls != "" {
		b, err := os.ReadFile(strings.TrimPrefix(t.acls, "file://"))
		if err != nil {
			return tr, usageError{fmt.Sprintf("acls: %v", err)}
		}
		if tr.ACLs, err = acl.Parse(b); err != nil {
			return tr, usageError{fmt.Sprintf("acls: %s: %v", t.acls, err)}
		}
		log.Info(tr.ACLs.Summary())
	} else if t.credentials != "" {
		log.Info("no --acls: every authenticated principal may do everything (tasks as root excepted)")
	}
	if err := t.exposed(tr, listen); err != nil {
		return tr, err
	}
	tr.Hosts = splitList(t.allowedHosts)
	if len(tr.Hosts) == 0 {
		tr.Hosts = edge.DefaultHosts(listen, advertise...)
	}
	tr.Origins = splitList(t.corsOrigins)
	return tr, nil
}

// alsoListen extends the Trust load made for a process's main listener
// to a second one at listen: off loopback it too needs --credentials
// unless --insecure, and without --allowed_hosts its host joins the
// names the Host header may carry.
func (t *trustFlags) alsoListen(tr *edge.Trust, listen string) error {
	if err := t.exposed(*tr, listen); err != nil {
		return err
	}
	if len(splitList(t.allowedHosts)) == 0 {
		for _, h := range edge.DefaultHosts(listen) {
			if !slices.Contains(tr.Hosts, h) {
				tr.Hosts = append(tr.Hosts, h)
			}
		}
	}
	return nil
}

// exposed refuses to listen beyond loopback without credentials, unless
// --insecure.
func (t *trustFlags) exposed(tr edge.Trust, listen string) error {
	if tr.Credentials == nil && !t.insecure && !edge.Loopback(listen) {
		return usageError{fmt.Sprintf("refusing to listen on %s without --credentials: anyone who can reach it could run commands on every agent; give --credentials FILE, listen on 127.0.0.1, or pass --insecure", listen)}
	}
	return nil
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
