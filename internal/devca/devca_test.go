package devca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

func mustEnsure(t *testing.T, dir string, hosts []string, cn string, now time.Time) Files {
	t.Helper()
	f, err := Ensure(dir, hosts, cn, now)
	if err != nil {
		t.Fatalf("Ensure(%s, %q, %q, %v) = %v", dir, hosts, cn, now, err)
	}
	return f
}

func readCertFile(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// contents reads the files, by group: "ca", "server", "client".
func contents(t *testing.T, f Files) map[string][]byte {
	t.Helper()
	read := func(paths ...string) []byte {
		var all []byte
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		return all
	}
	return map[string][]byte{
		"ca":     read(f.CA, f.CAKey),
		"server": read(f.Cert, f.Key),
		"client": read(f.ClientCert, f.ClientKey),
	}
}

// changed lists the groups whose files differ between a and b.
func changed(a, b map[string][]byte) []string {
	var out []string
	for _, g := range []string{"ca", "server", "client"} {
		if !bytes.Equal(a[g], b[g]) {
			out = append(out, g)
		}
	}
	return out
}

// checkUsable checks that the server certificate verifies against the CA
// for each host, for serving and for calling, that the client
// certificate verifies for client authentication only with common name
// cn, and that both pairs load and complete an mTLS handshake.
func checkUsable(t *testing.T, f Files, hosts []string, cn string, now time.Time) {
	t.Helper()
	ca := readCertFile(t, f.CA)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	server, client := readCertFile(t, f.Cert), readCertFile(t, f.ClientCert)
	verify := func(c *x509.Certificate, host string, usage x509.ExtKeyUsage) error {
		_, err := c.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage}})
		return err
	}
	for _, h := range append([]string{"localhost", "127.0.0.1", "::1"}, hosts...) {
		if err := verify(server, h, x509.ExtKeyUsageServerAuth); err != nil {
			t.Errorf("server certificate for %q: %v", h, err)
		}
	}
	if err := verify(server, "elsewhere.example", x509.ExtKeyUsageServerAuth); err == nil {
		t.Error("server certificate verifies for elsewhere.example; want it only for the hosts asked for")
	}
	if err := verify(server, "", x509.ExtKeyUsageClientAuth); err != nil {
		t.Errorf("server certificate for client authentication: %v", err)
	}
	if err := verify(client, "", x509.ExtKeyUsageClientAuth); err != nil {
		t.Errorf("client certificate for client authentication: %v", err)
	}
	if err := verify(client, "", x509.ExtKeyUsageServerAuth); err == nil {
		t.Error("client certificate verifies for server authentication; want client only")
	}
	for name, c := range map[string]*x509.Certificate{"server": server, "client": client} {
		if c.NotAfter.After(ca.NotAfter) {
			t.Errorf("%s certificate NotAfter = %v; want it no later than the CA's, %v", name, c.NotAfter, ca.NotAfter)
		}
	}
	if client.Subject.CommonName != cn {
		t.Errorf("client certificate common name = %q; want %q", client.Subject.CommonName, cn)
	}

	serverPair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		t.Fatalf("server pair: %v", err)
	}
	clientPair, err := tls.LoadX509KeyPair(f.ClientCert, f.ClientKey)
	if err != nil {
		t.Fatalf("client pair: %v", err)
	}
	clock := func() time.Time { return now }
	sc, cc := net.Pipe()
	defer sc.Close()
	defer cc.Close()
	srv := tls.Server(sc, &tls.Config{Certificates: []tls.Certificate{serverPair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: roots, Time: clock})
	cli := tls.Client(cc, &tls.Config{Certificates: []tls.Certificate{clientPair}, RootCAs: roots, ServerName: "localhost", Time: clock})
	errc := make(chan error, 1)
	go func() { errc <- srv.HandshakeContext(t.Context()) }()
	if err := cli.HandshakeContext(t.Context()); err != nil {
		t.Errorf("mTLS handshake, client side: %v", err)
	}
	if err := <-errc; err != nil {
		t.Errorf("mTLS handshake, server side: %v", err)
	}
}

func TestEnsureMakesTheFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev", "ca")
	f := mustEnsure(t, dir, []string{"master"}, "alice", t0)

	want := Files{
		CA: filepath.Join(dir, "ca.pem"), CAKey: filepath.Join(dir, "ca-key.pem"),
		Cert: filepath.Join(dir, "server.pem"), Key: filepath.Join(dir, "server-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client-key.pem"),
	}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("Ensure paths (-want +got):\n%s", diff)
	}
	modes := map[string]fs.FileMode{
		dir:  0o700 | fs.ModeDir,
		f.CA: 0o644, f.Cert: 0o644, f.ClientCert: 0o644,
		f.CAKey: 0o600, f.Key: 0o600, f.ClientKey: 0o600,
	}
	for p, m := range modes {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != m {
			t.Errorf("mode of %s = %v; want %v", p, fi.Mode(), m)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 6 {
		t.Errorf("%s holds %d entries; want the 6 files and no leftovers", dir, len(entries))
	}

	for _, c := range []struct {
		path     string
		ca       bool
		notAfter time.Time
	}{
		{f.CA, true, t0.AddDate(10, 0, 0)},
		{f.Cert, false, t0.AddDate(1, 0, 0)},
		{f.ClientCert, false, t0.AddDate(1, 0, 0)},
	} {
		cert := readCertFile(t, c.path)
		if cert.IsCA != c.ca {
			t.Errorf("%s: IsCA = %v; want %v", c.path, cert.IsCA, c.ca)
		}
		if !cert.NotAfter.Equal(c.notAfter) {
			t.Errorf("%s: NotAfter = %v; want %v", c.path, cert.NotAfter, c.notAfter)
		}
		if cert.NotBefore.After(t0) {
			t.Errorf("%s: NotBefore = %v; want at %v or before", c.path, cert.NotBefore, t0)
		}
		if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
			t.Errorf("%s: public key %T; want ECDSA P-256", c.path, cert.PublicKey)
		}
	}
	checkUsable(t, f, []string{"master"}, "alice", t0)
}

func TestEnsureKeepsGoodFiles(t *testing.T) {
	dir := t.TempDir()
	f := mustEnsure(t, dir, []string{"master", "10.0.0.7"}, "alice", t0)
	before := contents(t, f)
	// Loosened by hand: Ensure tightens it again without a new key.
	if err := os.Chmod(f.Key, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, hosts := range [][]string{
		{"master", "10.0.0.7"},
		{"10.0.0.7"},
		{"MASTER.", "[10.0.0.7]", " localhost ", ""},
		nil,
	} {
		now := t0.Add(200 * day)
		g := mustEnsure(t, dir, hosts, "alice", now)
		if got := changed(before, contents(t, g)); len(got) != 0 {
			t.Errorf("Ensure(%q) at %v changed %v; want every file kept", hosts, now, got)
		}
	}
	if fi, err := os.Stat(f.Key); err != nil || fi.Mode() != 0o600 {
		t.Errorf("mode of %s = %v, %v; want 0600", f.Key, fi.Mode(), err)
	}
}

func TestEnsureReissues(t *testing.T) {
	remove := func(name string) func(*testing.T, string) {
		return func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	garble := func(name string) func(*testing.T, string) {
		return func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte("garbage\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name   string
		before func(*testing.T, string) // breaks files after the first Ensure
		hosts  []string
		cn     string
		now    time.Time
		want   []string // the groups reissued
		// forgets: the server certificate is lost, and with it the hosts
		// the first call asked for.
		forgets bool
	}{
		{name: "nothing changed", now: t0.Add(day), want: nil},
		{name: "a new host", hosts: []string{"agent-1", "10.0.0.8"}, now: t0.Add(day), want: []string{"server"}},
		{name: "another client name", cn: "bob", now: t0.Add(day), want: []string{"client"}},
		{name: "leaves 31 days from expiry", now: t0.AddDate(1, 0, 0).Add(-31 * day), want: nil},
		{name: "leaves 29 days from expiry", now: t0.AddDate(1, 0, 0).Add(-29 * day), want: []string{"server", "client"}},
		{name: "leaves expired", now: t0.AddDate(1, 0, 1), want: []string{"server", "client"}},
		{name: "CA 100 days from expiry", now: t0.AddDate(10, 0, 0).Add(-100 * day), want: []string{"server", "client"}},
		{name: "CA 29 days from expiry", now: t0.AddDate(10, 0, 0).Add(-29 * day), want: []string{"ca", "server", "client"}},
		{name: "server certificate broken", before: garble("server.pem"), now: t0.Add(day), want: []string{"server"}, forgets: true},
		{name: "server key lost", before: remove("server-key.pem"), now: t0.Add(day), want: []string{"server"}},
		{name: "client key broken", before: garble("client-key.pem"), now: t0.Add(day), want: []string{"client"}},
		{name: "CA key lost", before: remove("ca-key.pem"), now: t0.Add(day), want: []string{"ca", "server", "client"}},
		{name: "CA certificate broken", before: garble("ca.pem"), now: t0.Add(day), want: []string{"ca", "server", "client"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			f := mustEnsure(t, dir, []string{"master"}, "alice", t0)
			before := contents(t, f)
			if tt.before != nil {
				tt.before(t, dir)
			}
			cn := tt.cn
			if cn == "" {
				cn = "alice"
			}
			hosts := tt.hosts
			if !tt.forgets {
				hosts = append([]string{"master"}, hosts...)
			}
			f = mustEnsure(t, dir, tt.hosts, cn, tt.now)
			if got := changed(before, contents(t, f)); !slices.Equal(got, tt.want) {
				t.Errorf("reissued %v; want %v", got, tt.want)
			}
			// The server keeps covering the hosts of the first call even
			// when the second did not ask for them.
			checkUsable(t, f, hosts, cn, tt.now)
		})
	}
}

func TestEnsureRejectsBadInput(t *testing.T) {
	tests := []struct {
		name  string
		hosts []string
		cn    string
		want  string
	}{
		{"empty client name", nil, " ", "devca: the client common name is empty"},
		{"host with a space", []string{"my host"}, "alice", `devca: host "my host" is neither a DNS name nor an IP address`},
		{"URL for a host", []string{"https://master"}, "alice", `devca: host "https://master"`},
		{"host and port", []string{"master:8080"}, "alice", `devca: host "master:8080"`},
		{"bare wildcard", []string{"*"}, "alice", `devca: host "*"`},
		{"label starting with a dash", []string{"-master"}, "alice", `devca: host "-master"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ca")
			_, err := Ensure(dir, tt.hosts, tt.cn, t0)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Ensure(%q, %q) = %v; want %q", tt.hosts, tt.cn, err, tt.want)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("stat %s after a refusal = %v; want it not made", dir, err)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	got, err := normalize([]string{"localhost", "Master.", "[::1]", "0:0::1", " 10.0.0.7 ", "", "*.Apps.corral", "corral_master", "master"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"localhost", "master", "::1", "10.0.0.7", "*.apps.corral", "corral_master"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("normalize (-want +got):\n%s", diff)
	}
}

func TestReissueServer(t *testing.T) {
	dir := t.TempDir()
	f := mustEnsure(t, dir, []string{"master", "10.0.0.7"}, "alice", t0)
	before := contents(t, f)
	old := readCertFile(t, f.Cert)
	oldCertInfo, oldKeyInfo := stat(t, f.Cert), stat(t, f.Key)
	now := t0.Add(100 * day)

	got, err := ReissueServer(f, now)
	if err != nil {
		t.Fatalf("ReissueServer(%s, %v) = %v", dir, now, err)
	}
	if diff := changed(before, contents(t, f)); !slices.Equal(diff, []string{"server"}) {
		t.Errorf("ReissueServer changed %v; want only the server pair", diff)
	}
	onDisk := readCertFile(t, f.Cert)
	if !got.Equal(onDisk) {
		t.Errorf("ReissueServer returned serial %x; the file holds serial %x", got.SerialNumber, onDisk.SerialNumber)
	}
	if got.SerialNumber.Cmp(old.SerialNumber) == 0 {
		t.Errorf("reissued serial = %x; want a new one", got.SerialNumber)
	}
	if !slices.Equal(names(got), names(old)) {
		t.Errorf("reissued names = %q; want those of the replaced certificate, %q", names(got), names(old))
	}
	if !got.NotAfter.Equal(now.AddDate(1, 0, 0)) {
		t.Errorf("reissued NotAfter = %v; want a year from %v", got.NotAfter, now)
	}
	// A process reloading on change sees other files, not the old ones
	// rewritten in place: each was replaced by a rename.
	if os.SameFile(oldCertInfo, stat(t, f.Cert)) || os.SameFile(oldKeyInfo, stat(t, f.Key)) {
		t.Error("the server certificate or key was rewritten in place; want each replaced by a rename")
	}
	if fi := stat(t, f.Key); fi.Mode() != 0o600 {
		t.Errorf("mode of %s = %v; want 0600", f.Key, fi.Mode())
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 6 {
		t.Errorf("%s holds %d entries (%v); want the 6 files and no leftovers", dir, len(entries), err)
	}
	checkUsable(t, f, []string{"master", "10.0.0.7"}, "alice", now)

	// Ensure keeps the reissued pair: it is as good as one it made.
	after := contents(t, f)
	g := mustEnsure(t, dir, []string{"master"}, "alice", now.Add(day))
	if diff := changed(after, contents(t, g)); len(diff) != 0 {
		t.Errorf("Ensure after ReissueServer changed %v; want every file kept", diff)
	}
}

func TestReissueServerNeedsAUsableCA(t *testing.T) {
	for _, tt := range []struct {
		name   string
		before func(t *testing.T, f Files)
		now    time.Time
	}{
		{"CA key lost", func(t *testing.T, f Files) {
			if err := os.Remove(f.CAKey); err != nil {
				t.Fatal(err)
			}
		}, t0.Add(day)},
		{"CA certificate broken", func(t *testing.T, f Files) {
			if err := os.WriteFile(f.CA, []byte("garbage\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, t0.Add(day)},
		{"CA 29 days from expiry", func(*testing.T, Files) {}, t0.AddDate(10, 0, 0).Add(-29 * day)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := mustEnsure(t, t.TempDir(), nil, "alice", t0)
			tt.before(t, f)
			// The CA's files may be gone: compare the leaves only.
			leaves := func() map[string][]byte {
				c := contents(t, Files{CA: f.Cert, CAKey: f.Key, Cert: f.Cert, Key: f.Key, ClientCert: f.ClientCert, ClientKey: f.ClientKey})
				delete(c, "ca")
				return c
			}
			before := leaves()
			got, err := ReissueServer(f, tt.now)
			if err == nil || !strings.HasPrefix(err.Error(), "devca: no usable CA") {
				t.Errorf("ReissueServer = %v, %v; want a \"devca: no usable CA\" error", got, err)
			}
			if diff := changed(before, leaves()); len(diff) != 0 {
				t.Errorf("a refused ReissueServer changed %v; want nothing", diff)
			}
		})
	}
}

func stat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}
