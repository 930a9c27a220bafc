package devca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Files are the paths of the files Ensure keeps.
type Files struct {
	CA, CAKey             string // ca.pem, ca-key.pem
	Cert, Key             string // server.pem, server-key.pem
	ClientCert, ClientKey string // client.pem, client-key.pem
}

// defaultHosts are covered by every server certificate.
var defaultHosts = []string{"localhost", "127.0.0.1", "::1"}

const (
	// renewBefore is how long before it expires a certificate is replaced.
	renewBefore = 30 * 24 * time.Hour
	// backdate puts NotBefore a little before now, for clocks a little
	// behind the one that issued the certificate.
	backdate = time.Hour
)

// Ensure makes the development CA and its certificates in dir, unless
// they exist and are still good (see the package doc), and returns their
// paths. hosts are DNS names and IP addresses the server certificate must
// cover besides localhost, 127.0.0.1 and ::1; empty ones are skipped, and
// one that is neither is an error. clientCN is the common name of the
// client certificate. now is the time validity is judged at and issued
// from.
//
// Files are replaced by renames, so a reader never sees half of one. dir
// is made 0700 when it does not exist. Ensure is idempotent, but not safe
// for concurrent callers on one dir: run it once before the processes
// that use the files start.
func Ensure(dir string, hosts []string, clientCN string, now time.Time) (Files, error) {
	if strings.TrimSpace(clientCN) == "" {
		return Files{}, errors.New("devca: the client common name is empty")
	}
	want, err := normalize(append(slices.Clone(defaultHosts), hosts...))
	if err != nil {
		return Files{}, err
	}
	f := Files{
		CA: filepath.Join(dir, "ca.pem"), CAKey: filepath.Join(dir, "ca-key.pem"),
		Cert: filepath.Join(dir, "server.pem"), Key: filepath.Join(dir, "server-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client-key.pem"),
	}
	if err := makeDir(dir); err != nil {
		return Files{}, err
	}

	ca, err := loadCA(f.CA, f.CAKey, now)
	if err != nil {
		return Files{}, err
	}
	if ca == nil {
		if ca, err = newCA(now); err != nil {
			return Files{}, err
		}
		if err := writePair(f.CA, f.CAKey, ca.certPEM, ca.keyPEM); err != nil {
			return Files{}, err
		}
	}

	server, err := loadLeaf(f.Cert, f.Key, ca, now, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return Files{}, err
	}
	if server == nil || !covers(server, want) {
		// Keep the hosts an earlier caller asked for, so that two callers
		// with different hosts do not reissue it in turn.
		old, err := readCert(f.Cert)
		if err != nil {
			return Files{}, err
		}
		sans := want
		if old != nil {
			sans = union(sans, old)
		}
		if _, err := issue(f.Cert, f.Key, serverTemplate(sans), ca, now); err != nil {
			return Files{}, err
		}
	}

	client, err := loadLeaf(f.ClientCert, f.ClientKey, ca, now, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return Files{}, err
	}
	if client == nil || client.Subject.CommonName != clientCN {
		tmpl := &x509.Certificate{
			Subject:     pkix.Name{Organization: []string{"corral development"}, CommonName: clientCN},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		if _, err := issue(f.ClientCert, f.ClientKey, tmpl, ca, now); err != nil {
			return Files{}, err
		}
	}

	// Kept keys may have been loosened by hand.
	for _, k := range []string{f.CAKey, f.Key, f.ClientKey} {
		if err := os.Chmod(k, 0o600); err != nil {
			return Files{}, fmt.Errorf("devca: %w", err)
		}
	}
	return f, nil
}

// ReissueServer replaces the server certificate and key of f with a new
// pair from f's CA, as an operator or a certificate manager rotating them
// would: a new key and serial number, the hosts of the certificate it
// replaces (at least localhost, 127.0.0.1 and ::1), valid for a year from
// now but not past the CA. Like Ensure it writes the key and then the
// certificate, each by a rename, so that a process reloading them on
// change (edge.ServerTLS) never reads half a file; the CA and the client
// certificate are left alone. It returns the new certificate.
//
// It fails, changing nothing, when f's CA is missing, broken or expiring
// within 30 days of now: Ensure makes a usable one. It is not safe for
// concurrent callers on the same files.
func ReissueServer(f Files, now time.Time) (*x509.Certificate, error) {
	ca, err := loadCA(f.CA, f.CAKey, now)
	if err != nil {
		return nil, err
	}
	if ca == nil {
		return nil, fmt.Errorf("devca: no usable CA in %s and %s to reissue %s from", f.CA, f.CAKey, f.Cert)
	}
	old, err := readCert(f.Cert)
	if err != nil {
		return nil, err
	}
	sans := slices.Clone(defaultHosts)
	if old != nil {
		sans = union(sans, old)
	}
	return issue(f.Cert, f.Key, serverTemplate(sans), ca, now)
}

// serverTemplate is the subject, names and extended key usages of a
// server certificate for hosts (normalized): serverAuth, and clientAuth
// for the calls a process makes to others over mTLS.
func serverTemplate(hosts []string) *x509.Certificate {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{Organization: []string{"corral development"}, CommonName: "corral development server"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return tmpl
}

// authority is the CA as issuing needs it.
type authority struct {
	cert            *x509.Certificate
	key             crypto.Signer
	certPEM, keyPEM []byte
}

// loadCA returns the CA in certFile and keyFile, or nil when it is
// missing, broken or expiring within renewBefore of now. It fails only on
// files it cannot read.
func loadCA(certFile, keyFile string, now time.Time) (*authority, error) {
	pair, certPEM, keyPEM, err := readPair(certFile, keyFile)
	if pair == nil || err != nil {
		return nil, err
	}
	c := pair.Leaf
	key, ok := pair.PrivateKey.(crypto.Signer)
	if !ok || !c.IsCA || !c.BasicConstraintsValid || c.KeyUsage&x509.KeyUsageCertSign == 0 || !good(c, now) {
		return nil, nil
	}
	return &authority{cert: c, key: key, certPEM: certPEM, keyPEM: keyPEM}, nil
}

// loadLeaf returns the certificate in certFile, with its key in keyFile,
// when it verifies against ca at now for each of usages and is not
// expiring within renewBefore; else nil. It fails only on files it cannot
// read.
func loadLeaf(certFile, keyFile string, ca *authority, now time.Time, usages ...x509.ExtKeyUsage) (*x509.Certificate, error) {
	pair, _, _, err := readPair(certFile, keyFile)
	if pair == nil || err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	c := pair.Leaf
	for _, u := range usages {
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{u}}); err != nil {
			return nil, nil
		}
	}
	if !good(c, now) {
		return nil, nil
	}
	return c, nil
}

// good reports whether c is valid at now and stays so for renewBefore.
func good(c *x509.Certificate, now time.Time) bool {
	return !now.Before(c.NotBefore) && c.NotAfter.After(now.Add(renewBefore))
}

// readPair reads a certificate and its key. A missing or broken pair is
// nil without an error; an error is a file there but unreadable.
func readPair(certFile, keyFile string) (*tls.Certificate, []byte, []byte, error) {
	certPEM, err := readFile(certFile)
	if certPEM == nil || err != nil {
		return nil, nil, nil, err
	}
	keyPEM, err := readFile(keyFile)
	if keyPEM == nil || err != nil {
		return nil, nil, nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, nil, nil
	}
	return &pair, certPEM, keyPEM, nil
}

// readCert returns the first certificate in file, or nil when there is
// none or it does not parse.
func readCert(file string) (*x509.Certificate, error) {
	b, err := readFile(file)
	if b == nil || err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, nil
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil
	}
	return c, nil
}

// readFile reads file; a missing one is nil without an error.
func readFile(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("devca: %w", err)
	}
	return b, nil
}

// newCA makes a CA valid for 10 years from now.
func newCA(now time.Time) (*authority, error) {
	key, keyPEM, err := newKey()
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{"corral development"},
			CommonName:   "corral development CA " + now.UTC().Format("2006-01-02"),
		},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("devca: making the CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("devca: making the CA: %w", err)
	}
	return &authority{cert: cert, key: key, certPEM: certPEM(der), keyPEM: keyPEM}, nil
}

// issue signs tmpl (its subject, names and extended key usages) with ca
// for a new key, valid for a year from now but not past the CA, writes
// the pair and returns the certificate.
func issue(certFile, keyFile string, tmpl *x509.Certificate, ca *authority, now time.Time) (*x509.Certificate, error) {
	key, keyPEM, err := newKey()
	if err != nil {
		return nil, err
	}
	if tmpl.SerialNumber, err = newSerial(); err != nil {
		return nil, err
	}
	tmpl.NotBefore = now.Add(-backdate)
	tmpl.NotAfter = now.AddDate(1, 0, 0)
	if tmpl.NotAfter.After(ca.cert.NotAfter) {
		tmpl.NotAfter = ca.cert.NotAfter
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, fmt.Errorf("devca: issuing %s: %w", certFile, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("devca: issuing %s: %w", certFile, err)
	}
	if err := writePair(certFile, keyFile, certPEM(der), keyPEM); err != nil {
		return nil, err
	}
	return cert, nil
}

// newKey makes an ECDSA P-256 key; it returns it with its PKCS #8 PEM.
func newKey() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("devca: making a key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("devca: making a key: %w", err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// newSerial returns a random 128-bit serial number.
func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("devca: making a serial number: %w", err)
	}
	return n, nil
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// writePair writes a key (0600) and then its certificate (0644), so that
// a reader reloading on change never pairs a new certificate with an old
// key.
func writePair(certFile, keyFile string, certPEM, keyPEM []byte) error {
	if err := writeFile(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	return writeFile(certFile, certPEM, 0o644)
}

// writeFile replaces file with data and mode by a rename.
func writeFile(file string, data []byte, mode os.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
			err = fmt.Errorf("devca: writing %s: %w", file, err)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

// makeDir makes dir 0700 unless it exists; an existing one keeps its mode.
func makeDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	return nil
}

// normalize validates hosts and returns them without duplicates, empty
// entries or brackets, DNS names in lower case, IPs in canonical form.
func normalize(hosts []string) ([]string, error) {
	var out []string
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
			h = h[1 : len(h)-1]
		}
		if ip := net.ParseIP(h); ip != nil {
			h = ip.String()
		} else if name := strings.ToLower(strings.TrimSuffix(h, ".")); dnsName(name) {
			h = name
		} else {
			return nil, fmt.Errorf("devca: host %q is neither a DNS name nor an IP address", h)
		}
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out, nil
}

// dnsName reports whether s is a DNS name (lower case), its first label
// possibly a wildcard.
func dnsName(s string) bool {
	if len(s) == 0 || len(s) > 253 || s == "*" {
		return false
	}
	for i, label := range strings.Split(s, ".") {
		if label == "*" && i == 0 {
			continue
		}
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// covers reports whether c names every host in hosts (normalized).
func covers(c *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if !slices.Contains(names(c), h) {
			return false
		}
	}
	return true
}

// names returns the subject alternative names of c, normalized.
func names(c *x509.Certificate) []string {
	var out []string
	for _, n := range c.DNSNames {
		out = append(out, strings.ToLower(n))
	}
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

// union returns hosts followed by the names of c not among them.
func union(hosts []string, c *x509.Certificate) []string {
	out := slices.Clone(hosts)
	for _, n := range names(c) {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
