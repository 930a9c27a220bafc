package edge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"
)

// TLSFiles names the PEM files of a process's TLS setup. The same files
// serve a process both as a server (Config.TLS from ServerTLS) and as a
// client of other corral servers (ClientTLS, Transport). Its fields are
// filled from the flags named in the comments.
type TLSFiles struct {
	// Cert and Key are this process's certificate (chain, leaf first) and
	// private key (tls_cert, tls_key): served by servers, presented by
	// clients when a server asks for one (mTLS). A certificate that both
	// serves and calls needs both the serverAuth and clientAuth extended
	// key usages.
	Cert, Key string
	// CA is a PEM bundle (tls_ca): it verifies the servers this process
	// calls, and the client certificates when ClientAuth. Empty means the
	// system roots for servers called, and no client certificates.
	CA string
	// ClientAuth makes a server require a client certificate signed by CA
	// (tls_client_auth).
	ClientAuth bool
}

// Enabled reports whether the process has a certificate of its own: a
// server then speaks TLS.
func (f TLSFiles) Enabled() bool { return f.Cert != "" }

// Validate checks that Cert and Key come together, that ClientAuth has a
// CA and a certificate to serve, and that every named file is readable and
// parses (the key matching the certificate). Each error names its flag
// (tls_cert, tls_key, tls_ca, tls_client_auth); all of them are joined.
// The zero TLSFiles is valid: plain HTTP.
func (f TLSFiles) Validate() error {
	var errs []error
	switch {
	case f.Cert != "" && f.Key == "":
		errs = append(errs, errors.New("tls_key: required with tls_cert"))
	case f.Cert == "" && f.Key != "":
		errs = append(errs, errors.New("tls_cert: required with tls_key"))
	case f.Cert != "":
		if _, err := loadPair(f.Cert, f.Key); err != nil {
			errs = append(errs, err)
		}
	}
	if f.ClientAuth {
		if f.CA == "" {
			errs = append(errs, errors.New("tls_client_auth: needs tls_ca, the CA that signs the client certificates"))
		}
		if f.Cert == "" {
			errs = append(errs, errors.New("tls_client_auth: needs tls_cert and tls_key: client certificates are asked for only over TLS"))
		}
	}
	if f.CA != "" {
		if _, err := loadCA(f.CA); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ServerTLS returns the TLS config of a server (Config.TLS): TLS 1.2 at
// least, serving Cert/Key. A new handshake looks at the files' metadata
// at most once a second, and reads them again when one of them changed
// (size, modification time or the file itself, as after a rename or a
// symlink swap): a rotated certificate is served without a restart. Write
// the new key before the new certificate, or better, write both aside and
// rename them into place. A reload that fails (a broken or half-written
// file, a key that does not fit) keeps the last good pair and is logged
// once, at error level, until a reload succeeds; it is retried on later
// handshakes while the files differ from the good ones. ctx is the context
// of these log records. A nil log discards.
//
// With ClientAuth the server requires a client certificate that verifies
// against CA for client authentication (r.TLS.VerifiedChains is set); CA
// is reloaded like the pair, so that a new CA bundle is trusted without a
// restart. To that end each handshake takes its config from
// GetConfigForClient, which offers h2 and http/1.1 by ALPN whatever the
// returned config's NextProtos say.
func ServerTLS(ctx context.Context, f TLSFiles, log *slog.Logger) (*tls.Config, error) {
	return serverTLS(ctx, f, log, time.Now)
}

// serverTLS is ServerTLS with its clock.
func serverTLS(ctx context.Context, f TLSFiles, log *slog.Logger, now func() time.Time) (*tls.Config, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if !f.Enabled() {
		return nil, errors.New("tls_cert: required to serve TLS")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pair, err := newReloader("certificate", []string{f.Cert, f.Key},
		func() (*tls.Certificate, error) { return loadPair(f.Cert, f.Key) }, now, log)
	if err != nil {
		return nil, err
	}
	getCert := func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return pair.get(ctx), nil }
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: getCert}
	if !f.ClientAuth {
		return cfg, nil
	}
	// A CertPool cannot be swapped in a live config, so each handshake
	// takes a config made for the CA bundle as last loaded.
	perCA, err := newReloader("CA", []string{f.CA}, func() (*tls.Config, error) {
		pool, err := loadCA(f.CA)
		if err != nil {
			return nil, err
		}
		return &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: getCert,
			ClientAuth:     tls.RequireAndVerifyClientCert,
			ClientCAs:      pool,
			NextProtos:     []string{"h2", "http/1.1"},
		}, nil
	}, now, log)
	if err != nil {
		return nil, err
	}
	first := perCA.get(ctx)
	cfg.ClientAuth = first.ClientAuth
	cfg.ClientCAs = first.ClientCAs
	cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return perCA.get(ctx), nil }
	return cfg, nil
}

// ClientTLS returns the TLS config of a client of corral servers (TLS 1.2
// at least): it trusts CA, or the system roots when CA is empty, and when
// Cert is set presents Cert/Key to servers that ask for a certificate.
// The pair is reloaded on change as in ServerTLS (failures are logged to
// slog.Default); CA is read once. Only CA set is one-way TLS.
func ClientTLS(f TLSFiles) (*tls.Config, error) {
	return clientTLS(f, time.Now, slog.Default())
}

// clientTLS is ClientTLS with its clock and log.
func clientTLS(f TLSFiles, now func() time.Time, log *slog.Logger) (*tls.Config, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CA != "" {
		pool, err := loadCA(f.CA)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if f.Enabled() {
		pair, err := newReloader("certificate", []string{f.Cert, f.Key},
			func() (*tls.Certificate, error) { return loadPair(f.Cert, f.Key) }, now, log)
		if err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return pair.get(context.Background()), nil
		}
	} else {
		// A corral server asks for a certificate only when it requires
		// one: abort the handshake here, saying so, rather than let the
		// server drop it (which reads as a broken pipe at best).
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return nil, ErrNoClientCertificate
		}
	}
	return cfg, nil
}

// ErrNoClientCertificate is the failed handshake of a client without a
// certificate (no tls_cert) with a server that demands one
// (tls_client_auth).
var ErrNoClientCertificate = errors.New("the server demands a client certificate (mutual TLS): give --tls_cert and --tls_key")

// Transport returns a new *http.Transport, cloned from
// http.DefaultTransport, that calls corral servers with ClientTLS. When f
// has neither a certificate nor a CA its TLSClientConfig is nil: HTTPS
// then goes by the system roots, as with the default transport.
func Transport(f TLSFiles) (*http.Transport, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	if !f.Enabled() && f.CA == "" {
		t.TLSClientConfig = nil
		return t, nil
	}
	cfg, err := ClientTLS(f)
	if err != nil {
		return nil, err
	}
	t.TLSClientConfig = cfg
	return t, nil
}

// loadPair reads a certificate chain and its key. Errors name the flag of
// the file at fault.
func loadPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("tls_cert: %w", err)
	}
	if _, err := parseCerts(certPEM); err != nil {
		return nil, fmt.Errorf("tls_cert: %s: %w", certFile, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls_key: %w", err)
	}
	// The certificates parse, so what X509KeyPair finds wrong is the key:
	// missing, unparsable, or not the certificate's.
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tls_key: %s (for tls_cert %s): %w", keyFile, certFile, err)
	}
	return &pair, nil
}

// loadCA reads a PEM bundle of CA certificates.
func loadCA(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tls_ca: %w", err)
	}
	certs, err := parseCerts(b)
	if err != nil {
		return nil, fmt.Errorf("tls_ca: %s: %w", file, err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// parseCerts parses the CERTIFICATE blocks of b; there must be one at
// least, and no other kind of block.
func parseCerts(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("holds a %q PEM block where certificates belong", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return certs, nil
}

// reloadEvery is how often at most a reloader looks at its files.
const reloadEvery = time.Second

// reloader holds a value loaded from files and loads it again when one of
// them changes on disk, looking at most once every reloadEvery, when the
// value is asked for. A failed load keeps the last good value and is
// logged once until a load succeeds. It is safe for concurrent use.
type reloader[T any] struct {
	what  string // in log lines: "certificate", "CA"
	files []string
	load  func() (T, error)
	now   func() time.Time
	log   *slog.Logger

	mu      sync.Mutex
	checked time.Time     // when the files were last looked at
	good    []os.FileInfo // the files as val was loaded from them
	val     T
	failing bool // a failure was logged since the last good load
}

// newReloader loads the value for the first time; its error is load's.
func newReloader[T any](what string, files []string, load func() (T, error), now func() time.Time, log *slog.Logger) (*reloader[T], error) {
	r := &reloader[T]{what: what, files: files, load: load, now: now, log: log}
	infos, err := r.stat()
	if err != nil {
		return nil, err
	}
	v, err := load()
	if err != nil {
		return nil, err
	}
	r.val, r.good, r.checked = v, infos, now()
	return r, nil
}

// get returns the value, loading it again first if its files changed.
func (r *reloader[T]) get(ctx context.Context) T {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if now.Sub(r.checked) < reloadEvery {
		return r.val
	}
	r.checked = now
	infos, err := r.stat()
	if err == nil {
		if sameFiles(infos, r.good) {
			r.failing = false
			return r.val
		}
		var v T
		if v, err = r.load(); err == nil {
			r.val, r.good, r.failing = v, infos, false
			r.log.InfoContext(ctx, "TLS "+r.what+" reloaded", "files", r.files)
			return r.val
		}
	}
	if !r.failing {
		r.failing = true
		r.log.ErrorContext(ctx, "TLS "+r.what+" reload failed; keeping the last good one", "files", r.files, "err", err)
	}
	return r.val
}

// stat returns the metadata of the files.
func (r *reloader[T]) stat() ([]os.FileInfo, error) {
	infos := make([]os.FileInfo, len(r.files))
	for i, name := range r.files {
		fi, err := os.Stat(name)
		if err != nil {
			return nil, err
		}
		infos[i] = fi
	}
	return infos, nil
}

// sameFiles reports whether a and b describe the same files unchanged.
func sameFiles(a, b []os.FileInfo) bool {
	for i := range a {
		if !os.SameFile(a[i], b[i]) || a[i].Size() != b[i].Size() || !a[i].ModTime().Equal(b[i].ModTime()) {
			return false
		}
	}
	return true
}
