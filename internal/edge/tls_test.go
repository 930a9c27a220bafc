package edge

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testCA is a certificate authority made for a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// leaf is a certificate and its key in PEM.
type leaf struct{ cert, key []byte }

// issue makes a certificate for 127.0.0.1 and localhost with the given
// serial, common name and extended key usages.
func (ca *testCA) issue(t *testing.T, serial int64, cn string, usages ...x509.ExtKeyUsage) leaf {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  usages,
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return leaf{
		cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	}
}

func (ca *testCA) server(t *testing.T, serial int64) leaf {
	return ca.issue(t, serial, "server", x509.ExtKeyUsageServerAuth)
}

func (ca *testCA) client(t *testing.T, serial int64, cn string) leaf {
	return ca.issue(t, serial, cn, x509.ExtKeyUsageClientAuth)
}

// mtimes makes every file written by put look written a second after the
// one before, as rotations apart in time are: the file system's own clock
// may give two quick writes the same modification time.
var mtimes = struct {
	sync.Mutex
	next time.Time
}{next: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}

// put replaces path with data by a rename, as a rotation should.
func put(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	mtimes.Lock()
	mtimes.next = mtimes.next.Add(time.Second)
	mt := mtimes.next
	mtimes.Unlock()
	if err := os.Chtimes(tmp, mt, mt); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// putPair writes l as dir/name.pem and dir/name-key.pem, key first, and
// returns the files.
func putPair(t *testing.T, dir, name string, l leaf) TLSFiles {
	t.Helper()
	f := TLSFiles{Cert: filepath.Join(dir, name+".pem"), Key: filepath.Join(dir, name+"-key.pem")}
	put(t, f.Key, l.key)
	put(t, f.Cert, l.cert)
	return f
}

// putCA writes the CA bundle of cas as dir/name.pem.
func putCA(t *testing.T, dir, name string, cas ...*testCA) string {
	t.Helper()
	var b []byte
	for _, ca := range cas {
		b = append(b, ca.pem...)
	}
	p := filepath.Join(dir, name+".pem")
	put(t, p, b)
	return p
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// tlsLog is a log sink safe for the server's goroutines.
type tlsLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *tlsLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *tlsLog) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func (l *tlsLog) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// serveTLS runs an edge server speaking TLS with cfg until the test ends.
// Its handler answers with the common name of the client's verified
// certificate, if any, and the protocol. It returns the address.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cn := "-"
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
			cn = r.TLS.VerifiedChains[0][0].Subject.CommonName
		}
		fmt.Fprintf(w, "%s %s", cn, r.Proto)
	})
	s := New(Config{TLS: cfg}, h, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v; want nil after a shutdown", err)
		}
	})
	return ln.Addr().String()
}

// get fetches https://addr/ with a fresh connection over tr and returns
// the body.
func get(t *testing.T, tr *http.Transport, addr string) (string, error) {
	t.Helper()
	tr.DisableKeepAlives = true
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET https://%s/ = %d %s; want 200", addr, resp.StatusCode, b)
	}
	return string(b), err
}

// transport returns Transport(f), failing the test on an error.
func transport(t *testing.T, f TLSFiles) *http.Transport {
	t.Helper()
	tr, err := Transport(f)
	if err != nil {
		t.Fatalf("Transport(%+v) = %v", f, err)
	}
	return tr
}

// servedSerial opens a new TLS connection to addr with cfg and returns the
// serial number of the certificate the server presents.
func servedSerial(t *testing.T, addr string, cfg *tls.Config) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatalf("dialing %s: %v", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// refusal opens a TLS connection to addr with cfg and returns the error
// by which the server refuses it: under TLS 1.3 the client learns of it
// only on its first read, after its own side of the handshake.
func refusal(t *testing.T, addr string, cfg *tls.Config) error {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = conn.Read(make([]byte, 1))
	return err
}

func TestTLSFilesValidate(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "ca")
	good := putPair(t, dir, "good", ca.server(t, 1))
	other := putPair(t, dir, "other", ca.server(t, 2))
	caFile := putCA(t, dir, "ca", ca)
	garbage := filepath.Join(dir, "garbage.pem")
	put(t, garbage, []byte("not PEM at all\n"))
	missing := filepath.Join(dir, "missing.pem")

	tests := []struct {
		name string
		f    TLSFiles
		want []string // prefixes of the joined errors, in order; none when valid
	}{
		{"zero: plain HTTP", TLSFiles{}, nil},
		{"certificate and key", good, nil},
		{"CA only", TLSFiles{CA: caFile}, nil},
		{"mTLS", TLSFiles{Cert: good.Cert, Key: good.Key, CA: caFile, ClientAuth: true}, nil},
		{"certificate without key", TLSFiles{Cert: good.Cert}, []string{"tls_key: required with tls_cert"}},
		{"key without certificate", TLSFiles{Key: good.Key}, []string{"tls_cert: required with tls_key"}},
		{"client auth without CA", TLSFiles{Cert: good.Cert, Key: good.Key, ClientAuth: true}, []string{"tls_client_auth: needs tls_ca"}},
		{"client auth alone", TLSFiles{ClientAuth: true}, []string{"tls_client_auth: needs tls_ca", "tls_client_auth: needs tls_cert"}},
		{"certificate missing", TLSFiles{Cert: missing, Key: good.Key}, []string{"tls_cert: open " + missing}},
		{"certificate garbage", TLSFiles{Cert: garbage, Key: good.Key}, []string{"tls_cert: " + garbage + ": no PEM certificate"}},
		{"key in the certificate's place", TLSFiles{Cert: good.Key, Key: good.Key}, []string{"tls_cert: " + good.Key + `: holds a "PRIVATE KEY" PEM block`}},
		{"key missing", TLSFiles{Cert: good.Cert, Key: missing}, []string{"tls_key: open " + missing}},
		{"key garbage", TLSFiles{Cert: good.Cert, Key: garbage}, []string{"tls_key: " + garbage}},
		{"key of another certificate", TLSFiles{Cert: good.Cert, Key: other.Key}, []string{"tls_key: " + other.Key + " (for tls_cert " + good.Cert + "): tls: private key does not match public key"}},
		{"CA missing", TLSFiles{CA: missing}, []string{"tls_ca: open " + missing}},
		{"CA garbage", TLSFiles{CA: garbage}, []string{"tls_ca: " + garbage + ": no PEM certificate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.f.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate(%+v) = %v; want nil", tt.f, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%+v) = nil; want %q", tt.f, tt.want)
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tt.want) {
				t.Fatalf("Validate(%+v) = %q; want %d errors %q", tt.f, got, len(tt.want), tt.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("Validate(%+v) error %d = %q; want it to start with %q", tt.f, i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestServerTLSRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "ca")
	caFile := putCA(t, dir, "ca", ca)
	for _, f := range []TLSFiles{{}, {CA: caFile}} {
		if _, err := ServerTLS(t.Context(), f, nil); err == nil || !strings.HasPrefix(err.Error(), "tls_cert: required") {
			t.Errorf("ServerTLS(%+v) = %v; want tls_cert: required", f, err)
		}
	}
	f := TLSFiles{Cert: filepath.Join(dir, "missing.pem"), Key: filepath.Join(dir, "missing-key.pem")}
	if _, err := ServerTLS(t.Context(), f, nil); err == nil || !strings.HasPrefix(err.Error(), "tls_cert: ") {
		t.Errorf("ServerTLS(%+v) = %v; want a tls_cert error", f, err)
	}
	if _, err := ClientTLS(TLSFiles{Key: f.Key}); err == nil || !strings.HasPrefix(err.Error(), "tls_cert: ") {
		t.Errorf("ClientTLS(key only) = %v; want a tls_cert error", err)
	}
	if _, err := Transport(TLSFiles{Key: f.Key}); err == nil || !strings.HasPrefix(err.Error(), "tls_cert: ") {
		t.Errorf("Transport(key only) = %v; want a tls_cert error", err)
	}
}

func TestTransportWithoutFilesKeepsTheDefaults(t *testing.T) {
	tr := transport(t, TLSFiles{})
	if tr.TLSClientConfig != nil {
		t.Errorf("Transport({}).TLSClientConfig = %+v; want nil", tr.TLSClientConfig)
	}
	if tr == http.DefaultTransport {
		t.Error("Transport({}) returned http.DefaultTransport itself; want a clone")
	}
}

func TestHTTPSVerifiedWithTheCA(t *testing.T) {
	dir := t.TempDir()
	ca, stranger := newTestCA(t, "ca"), newTestCA(t, "stranger")
	srv := putPair(t, dir, "server", ca.server(t, 1))
	cfg, err := ServerTLS(t.Context(), srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, cfg)

	body, err := get(t, transport(t, TLSFiles{CA: putCA(t, dir, "ca", ca)}), addr)
	if err != nil {
		t.Fatalf("GET with the CA: %v", err)
	}
	if body != "- HTTP/2.0" {
		t.Errorf("GET with the CA = %q; want %q (no client certificate, HTTP/2 by ALPN)", body, "- HTTP/2.0")
	}

	for name, f := range map[string]TLSFiles{
		"system roots":                   {},
		"another CA":                     {CA: putCA(t, dir, "stranger", stranger)},
		"another CA, with a certificate": {CA: putCA(t, dir, "stranger", stranger), Cert: srv.Cert, Key: srv.Key},
	} {
		_, err := get(t, transport(t, f), addr)
		var ua x509.UnknownAuthorityError
		if !errors.As(err, &ua) {
			t.Errorf("GET trusting %s = %v; want an unknown authority error", name, err)
		}
	}
}

func TestClientAuth(t *testing.T) {
	dir := t.TempDir()
	ca, stranger := newTestCA(t, "ca"), newTestCA(t, "stranger")
	caFile := putCA(t, dir, "ca", ca)
	srv := putPair(t, dir, "server", ca.server(t, 1))
	srv.CA, srv.ClientAuth = caFile, true
	cfg, err := ServerTLS(t.Context(), srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, cfg)

	alice := putPair(t, dir, "alice", ca.client(t, 2, "alice"))
	alice.CA = caFile
	body, err := get(t, transport(t, alice), addr)
	if err != nil {
		t.Fatalf("GET with a client certificate: %v", err)
	}
	if want := "alice HTTP/2.0"; body != want {
		t.Errorf("GET with a client certificate = %q; want %q", body, want)
	}

	refused := []struct {
		name string
		f    TLSFiles
		want string
	}{
		// The client itself gives up, saying what it lacks.
		{"no certificate", TLSFiles{CA: caFile}, ErrNoClientCertificate.Error()},
		{"another CA's certificate", putPair(t, dir, "mallory", stranger.client(t, 3, "mallory")), "unknown certificate authority"},
		{"a certificate for servers only", putPair(t, dir, "server-only", ca.server(t, 4)), "bad certificate"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.CA = caFile
			cc, err := ClientTLS(tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if err := refusal(t, addr, cc); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("handshake with %s: %v; want the server to refuse it with %q", tt.name, err, tt.want)
			}
		})
	}
}

func TestServerCertificateRotation(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "ca")
	clock := newFakeClock()
	srv := putPair(t, dir, "server", ca.server(t, 1))
	logs := &tlsLog{}
	cfg, err := serverTLS(t.Context(), srv, logs.logger(), clock.now)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, cfg)
	cc, err := ClientTLS(TLSFiles{CA: putCA(t, dir, "ca", ca)})
	if err != nil {
		t.Fatal(err)
	}
	if got := servedSerial(t, addr, cc); got != 1 {
		t.Fatalf("serial served = %d; want 1", got)
	}

	putPair(t, dir, "server", ca.server(t, 2))
	if got := servedSerial(t, addr, cc); got != 1 {
		t.Errorf("serial served within a second of the last look = %d; want 1 (files looked at once a second at most)", got)
	}
	clock.advance(reloadEvery)
	if got := servedSerial(t, addr, cc); got != 2 {
		t.Errorf("serial served after the rotation = %d; want 2", got)
	}
	if n := logs.count("TLS certificate reloaded"); n != 1 {
		t.Errorf("reloads logged = %d; want 1", n)
	}
}

func TestServerCertificateRotationKeepsTheLastGoodPair(t *testing.T) {
	ca := newTestCA(t, "ca")
	next := ca.server(t, 2)
	tests := []struct {
		name       string
		breakFiles func(t *testing.T, f TLSFiles)
	}{
		{"new key before the new certificate", func(t *testing.T, f TLSFiles) { put(t, f.Key, next.key) }},
		{"garbage certificate", func(t *testing.T, f TLSFiles) { put(t, f.Cert, []byte("garbage\n")) }},
		{"half-written certificate", func(t *testing.T, f TLSFiles) { put(t, f.Cert, next.cert[:len(next.cert)/2]) }},
		{"half-written key", func(t *testing.T, f TLSFiles) { put(t, f.Key, next.key[:len(next.key)/2]) }},
		{"certificate removed", func(t *testing.T, f TLSFiles) {
			if err := os.Remove(f.Cert); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			clock := newFakeClock()
			srv := putPair(t, dir, "server", ca.server(t, 1))
			logs := &tlsLog{}
			cfg, err := serverTLS(t.Context(), srv, logs.logger(), clock.now)
			if err != nil {
				t.Fatal(err)
			}
			addr := serveTLS(t, cfg)
			cc, err := ClientTLS(TLSFiles{CA: putCA(t, dir, "ca", ca)})
			if err != nil {
				t.Fatal(err)
			}

			tt.breakFiles(t, srv)
			for i := range 3 {
				clock.advance(reloadEvery)
				if got := servedSerial(t, addr, cc); got != 1 {
					t.Fatalf("serial served on look %d after the break = %d; want 1", i+1, got)
				}
			}
			if n := logs.count("TLS certificate reload failed"); n != 1 {
				t.Errorf("failed reloads logged = %d over 3 looks; want 1", n)
			}

			putPair(t, dir, "server", next)
			clock.advance(reloadEvery)
			if got := servedSerial(t, addr, cc); got != 2 {
				t.Errorf("serial served once the files are whole = %d; want 2", got)
			}
			if n := logs.count("TLS certificate reloaded"); n != 1 {
				t.Errorf("reloads logged = %d; want 1", n)
			}
		})
	}
}

func TestClientCARotation(t *testing.T) {
	dir := t.TempDir()
	ca, next := newTestCA(t, "ca"), newTestCA(t, "next")
	clock := newFakeClock()
	srv := putPair(t, dir, "server", ca.server(t, 1))
	srv.CA, srv.ClientAuth = putCA(t, dir, "clients", ca), true
	cfg, err := serverTLS(t.Context(), srv, nil, clock.now)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, cfg)
	serverCA := putCA(t, dir, "ca", ca)
	old := putPair(t, dir, "old", ca.client(t, 2, "old"))
	old.CA = serverCA
	young := putPair(t, dir, "young", next.client(t, 3, "young"))
	young.CA = serverCA

	youngTLS, err := ClientTLS(young)
	if err != nil {
		t.Fatal(err)
	}
	if err := refusal(t, addr, youngTLS); err == nil || !strings.Contains(err.Error(), "unknown certificate authority") {
		t.Fatalf("handshake with the next CA's client before it is trusted: %v; want unknown certificate authority", err)
	}

	putCA(t, dir, "clients", ca, next)
	clock.advance(reloadEvery)
	for _, f := range []TLSFiles{old, young} {
		if _, err := get(t, transport(t, f), addr); err != nil {
			t.Errorf("GET as %s with both CAs trusted: %v", f.Cert, err)
		}
	}

	putCA(t, dir, "clients", next)
	clock.advance(reloadEvery)
	oldTLS, err := ClientTLS(old)
	if err != nil {
		t.Fatal(err)
	}
	if err := refusal(t, addr, oldTLS); err == nil || !strings.Contains(err.Error(), "unknown certificate authority") {
		t.Errorf("handshake with the old CA's client once it is dropped: %v; want unknown certificate authority", err)
	}
	if _, err := get(t, transport(t, young), addr); err != nil {
		t.Errorf("GET as the next CA's client: %v", err)
	}
}

func TestClientCertificateRotation(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "ca")
	caFile := putCA(t, dir, "ca", ca)
	srv := putPair(t, dir, "server", ca.server(t, 1))
	srv.CA, srv.ClientAuth = caFile, true
	cfg, err := ServerTLS(t.Context(), srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, cfg)

	clock := newFakeClock()
	logs := &tlsLog{}
	f := putPair(t, dir, "client", ca.client(t, 2, "before"))
	f.CA = caFile
	cc, err := clientTLS(f, clock.now, logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: cc, ForceAttemptHTTP2: true}
	if got, err := get(t, tr, addr); err != nil || got != "before HTTP/2.0" {
		t.Fatalf("GET = %q, %v; want %q", got, err, "before HTTP/2.0")
	}

	put(t, f.Cert, []byte("garbage\n"))
	clock.advance(reloadEvery)
	if got, err := get(t, tr, addr); err != nil || got != "before HTTP/2.0" {
		t.Errorf("GET with a broken certificate file = %q, %v; want %q (the last good pair)", got, err, "before HTTP/2.0")
	}
	if n := logs.count("TLS certificate reload failed"); n != 1 {
		t.Errorf("failed reloads logged = %d; want 1", n)
	}

	putPair(t, dir, "client", ca.client(t, 3, "after"))
	clock.advance(reloadEvery)
	if got, err := get(t, tr, addr); err != nil || got != "after HTTP/2.0" {
		t.Errorf("GET after the rotation = %q, %v; want %q", got, err, "after HTTP/2.0")
	}
}

func TestServerCertificateReplacedWithTheSameSizeAndTime(t *testing.T) {
	// Copies that keep their source's modification time (cp -p, rsync -t)
	// and certificates of one size differ from the old files only in
	// being other files.
	dir := t.TempDir()
	ca := newTestCA(t, "ca")
	clock := newFakeClock()
	pad := func(l leaf) leaf {
		return leaf{cert: padTo(t, l.cert, 4096), key: padTo(t, l.key, 1024)}
	}
	srv := putPair(t, dir, "server", pad(ca.server(t, 1)))
	cfg, err := serverTLS(t.Context(), srv, nil, clock.now)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, cfg)
	cc, err := ClientTLS(TLSFiles{CA: putCA(t, dir, "ca", ca)})
	if err != nil {
		t.Fatal(err)
	}

	old := map[string]os.FileInfo{}
	for _, p := range []string{srv.Cert, srv.Key} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		old[p] = fi
	}
	putPair(t, dir, "server", pad(ca.server(t, 2)))
	for p, fi := range old {
		if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
			t.Fatal(err)
		}
		if now, err := os.Stat(p); err != nil || now.Size() != fi.Size() {
			t.Fatalf("stat %s = %v, %v; want size %d", p, now, err, fi.Size())
		}
	}
	clock.advance(reloadEvery)
	if got := servedSerial(t, addr, cc); got != 2 {
		t.Errorf("serial served after the rotation = %d; want 2", got)
	}
}

// padTo pads PEM data to n bytes with newlines, which PEM readers skip.
func padTo(t *testing.T, b []byte, n int) []byte {
	t.Helper()
	if len(b) > n {
		t.Fatalf("PEM data of %d bytes is over %d", len(b), n)
	}
	return append(b, bytes.Repeat([]byte("\n"), n-len(b))...)
}

func TestServerCertificateReloadFailureLoggedOncePerEpisode(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "ca")
	clock := newFakeClock()
	srv := putPair(t, dir, "server", ca.server(t, 1))
	logs := &tlsLog{}
	cfg, err := serverTLS(t.Context(), srv, logs.logger(), clock.now)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, cfg)
	cc, err := ClientTLS(TLSFiles{CA: putCA(t, dir, "ca", ca)})
	if err != nil {
		t.Fatal(err)
	}

	// Moving the certificate away and back leaves it the very file it was.
	aside := srv.Cert + ".aside"
	for i, want := range []int{1, 1, 2} {
		from, to := srv.Cert, aside
		if i == 1 {
			from, to = aside, srv.Cert
		}
		if err := os.Rename(from, to); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			clock.advance(reloadEvery)
			if got := servedSerial(t, addr, cc); got != 1 {
				t.Fatalf("step %d: serial served = %d; want 1", i, got)
			}
		}
		if n := logs.count("TLS certificate reload failed"); n != want {
			t.Errorf("step %d: failed reloads logged = %d; want %d", i, n, want)
		}
	}
	if n := logs.count("TLS certificate reloaded"); n != 0 {
		t.Errorf("reloads logged = %d; want 0: the files came back unchanged", n)
	}
}
