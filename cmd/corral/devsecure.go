package main

import (
	"context"
	"corral/internal/acl"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"corral/internal/devca"
	"corral/internal/devsecure"
	"corral/internal/edge"
)

// devTrust is what `corral dev --secure` gives each part: the servers'
// shared settings and each part's own credential.
type devTrust struct {
	files devsecure.Files
	tls   devca.Files
	base  edge.Trust // demanded by every server; no credential of its own
	creds map[string]edge.Credential
}

// secureDev makes (once) and loads the files of a secured dev cluster
// under dir/secure.
func secureDev(o devOptions, dir string, log *slog.Logger) (*devTrust, error) {
	files, err := devsecure.Ensure(filepath.Join(dir, "secure"))
	if err != nil {
		return nil, fmt.Errorf("--secure: %w", err)
	}
	hosts := []string{o.host, o.advertiseHost()}
	tlsFiles, err := devca.Ensure(filepath.Join(files.Dir, "tls"), hosts, "ops", time.Now())
	if err != nil {
		return nil, fmt.Errorf("--secure: %w", err)
	}
	d := &devTrust{files: files, tls: tlsFiles, creds: map[string]edge.Credential{}}
	b, err := os.ReadFile(files.Credentials)
	if err != nil {
		return nil, err
	}
	if d.base.Credentials, err = edge.ParseCredentials(b); err != nil {
		return nil, fmt.Errorf("%s: %w", files.Credentials, err)
	}
	if b, err = os.ReadFile(files.ACLs); err != nil {
		return nil, err
	}
	if d.base.ACLs, err = acl.Parse(b); err != nil {
		return nil, fmt.Errorf("%s: %w", files.ACLs, err)
	}
	for p, path := range files.Credential {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if d.creds[p], err = edge.ParseCredential(b); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	tf := edge.TLSFiles{Cert: tlsFiles.Cert, Key: tlsFiles.Key, CA: tlsFiles.CA}
	if d.base.ServerTLS, err = edge.ServerTLS(context.Background(), tf, log); err != nil {
		return nil, err
	}
	if d.base.ClientTLS, err = edge.ClientTLS(tf); err != nil {
		return nil, err
	}
	return d, nil
}

// trust returns the Trust of a part listening on listen, presenting the
// credential of principal ("" for none).
func (d *devTrust) trust(principal, listen, advertise string) edge.Trust {
	if d == nil {
		return edge.Trust{}
	}
	t := d.base
	t.Credential = d.creds[principal]
	t.Hosts = edge.DefaultHosts(listen, advertise)
	return t
}

// client is an HTTP client of the dev cluster as the operator.
func (d *devTrust) client() *http.Client {
	if d == nil {
		return &http.Client{Timeout: 2 * time.Second}
	}
	c := d.trust("ops", "", "").Client()
	c.Timeout = 2 * time.Second
	return c
}

// explain tells the developer how to reach the secured cluster.
func (d *devTrust) explain(w io.Writer, o devOptions) {
	if d == nil {
		return
	}
	ops := d.creds["ops"]
	ca := d.tls.CA
	if rel, err := filepath.Rel(mustGetwd(), ca); err == nil && !strings.HasPrefix(rel, "..") {
		ca = rel
	}
	fmt.Fprintf(w, `secured: TLS, authentication and ACLs are on; files in %s
  operator   principal %s, secret %s
  CLI        export CORRAL_PRINCIPAL=%s CORRAL_SECRET=%s CORRAL_TLS_CA=%s \
                    CORRAL_MASTER=%s CORRAL_SERVICES=%s CORRAL_JOBS=%s
  curl       curl --cacert %s -u %s:%s %s/v2/apps
  browser    trust %s (or accept the warning), open %s/ and sign in as %s

`, d.files.Dir, ops.Principal, ops.Secret, ops.Principal, ops.Secret, ca,
		o.url(o.port), o.url(o.servicesPort), o.url(o.jobsPort),
		ca, ops.Principal, ops.Secret, o.url(o.servicesPort), ca, o.url(o.port), ops.Principal)
}

func mustGetwd() string {
	wd, err := os.Getwd()
	if err != nil {
		return "/"
	}
	return wd
}
