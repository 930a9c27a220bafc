package testcluster

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"corral/internal/devca"
	"corral/internal/devsecure"
	"corral/internal/edge"
)

// Security is what a cluster started with Options.Secure runs under: the
// files of `corral dev --secure` (devsecure: the credentials every server
// demands, each component's own credential, the development ACLs, a
// secrets key) and a CA (devca) with a server certificate for 127.0.0.1
// that every process serves HTTPS with and trusts. It is read-only once
// made (RotateCert replaces the certificate's files, not their paths);
// its methods are safe for concurrent use, RotateCert excepted.
type Security struct {
	// Files are the credentials, ACLs and secrets key.
	Files devsecure.Files
	// TLS are the CA and the certificates.
	TLS devca.Files
	// ClientAuth is whether every process demands a client certificate
	// signed by the CA (Options.ClientAuth).
	ClientAuth bool
	// creds are the principals' credentials, as in Files.Credential.
	creds map[string]edge.Credential
}

// newSecurity makes the files under a new temporary directory.
func newSecurity(tb testing.TB, clientAuth bool) *Security {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "secure")
	files, err := devsecure.Ensure(dir)
	if err != nil {
		tb.Fatalf("testcluster: %v", err)
	}
	tlsFiles, err := devca.Ensure(filepath.Join(dir, "tls"), []string{"127.0.0.1"}, "ops", time.Now())
	if err != nil {
		tb.Fatalf("testcluster: %v", err)
	}
	s := &Security{Files: files, TLS: tlsFiles, ClientAuth: clientAuth, creds: map[string]edge.Credential{}}
	for p, path := range files.Credential {
		b, err := os.ReadFile(path)
		if err != nil {
			tb.Fatalf("testcluster: %v", err)
		}
		if s.creds[p], err = edge.ParseCredential(b); err != nil {
			tb.Fatalf("testcluster: %s: %v", path, err)
		}
	}
	return s
}

// Credential returns principal's credential (one of devsecure.Principals:
// ops, agent, services, jobs); the zero Credential for any other.
func (s *Security) Credential(principal string) edge.Credential { return s.creds[principal] }

// Args are the security flags of a corral process presenting principal's
// credential to the master ("" for none, as a master): the credentials
// and ACLs it demands of its callers, its certificate and the CA it
// trusts, and with ClientAuth --tls_client_auth.
func (s *Security) Args(principal string) []string {
	args := []string{"--credentials", s.Files.Credentials, "--acls", s.Files.ACLs,
		"--tls_cert", s.TLS.Cert, "--tls_key", s.TLS.Key, "--tls_ca", s.TLS.CA}
	if s.ClientAuth {
		args = append(args, "--tls_client_auth")
	}
	if principal != "" {
		args = append(args, "--credential", s.Files.Credential[principal])
	}
	return args
}

// Client returns a new HTTP client that trusts the cluster's CA, presents
// the CA's client certificate to servers that ask for one (only those
// with ClientAuth do), and presents principal's credential ("" for none).
// It has its own connection pool with keep-alive (HTTP/2 where the server
// offers it, as corral's servers do over TLS) and no overall timeout.
func (s *Security) Client(principal string) (*http.Client, error) {
	tr, err := edge.Transport(edge.TLSFiles{CA: s.TLS.CA, Cert: s.TLS.ClientCert, Key: s.TLS.ClientKey})
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: s.Credential(principal).RoundTripper(tr)}, nil
}

// RotateCert replaces the certificate every process of the cluster serves
// and presents (TLS.Cert and TLS.Key) with a new one from the same CA for
// the same hosts, each file by a rename, as an operator rotating it would,
// and returns it. The processes keep running and pick the new files up on
// later handshakes (edge.ServerTLS, edge.ClientTLS). It must not run
// concurrently with itself.
func (s *Security) RotateCert(tb testing.TB) *x509.Certificate {
	tb.Helper()
	cert, err := devca.ReissueServer(s.TLS, time.Now())
	if err != nil {
		tb.Fatalf("testcluster: rotating the certificate: %v", err)
	}
	return cert
}

// Client returns a new HTTP client of the cluster with its own connection
// pool (keep-alive) and no overall timeout. On a secured cluster it
// trusts the cluster's CA, presents the CA's client certificate when
// asked (Options.ClientAuth) and presents principal's credential ("" for
// none); on a plain one principal is ignored.
func (c *Cluster) Client(principal string) *http.Client {
	c.tb.Helper()
	if c.Security == nil {
		return &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if principal != "" && c.Security.Credential(principal).Principal == "" {
		c.tb.Fatalf("testcluster: no credential for principal %q; have %v", principal, devsecure.Principals)
	}
	hc, err := c.Security.Client(principal)
	if err != nil {
		c.tb.Fatalf("testcluster: %v", err)
	}
	return hc
}

// scheme is the scheme of the cluster's URLs.
func (c *Cluster) scheme() string {
	if c.Security != nil {
		return "https"
	}
	return "http"
}

// securityArgs are the security flags of a process presenting
// principal's credential, none on a plain cluster.
func (c *Cluster) securityArgs(principal string) []string {
	if c.Security == nil {
		return nil
	}
	return c.Security.Args(principal)
}

// get GETs url with the cluster's client: http.DefaultClient on a plain
// cluster, as before Options.Secure existed.
func (c *Cluster) get(url string) (*http.Response, error) {
	if c.Security == nil {
		return http.Get(url)
	}
	return c.HTTP.Get(url)
}

// waitHTTP is WaitHTTP through the cluster's client.
func (c *Cluster) waitHTTP(url string) {
	c.tb.Helper()
	if c.Security == nil {
		WaitHTTP(c.tb, url)
		return
	}
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := c.HTTP.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.tb.Fatalf("%s did not answer 200 in time; last: %s", url, last)
}

// frameworkPrincipal is the principal a framework of kind presents.
func frameworkPrincipal(kind string) (string, error) {
	switch kind {
	case "services", "jobs":
		return kind, nil
	}
	return "", fmt.Errorf("testcluster: no principal for framework kind %q on a secured cluster (want services or jobs)", kind)
}

// clockTick is USER_HZ, the unit of the CPU times in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// CPUTime is the CPU time (user and system, of all its threads) the
// process has used so far, read from /proc/<pid>/stat at the kernel's
// clock-tick resolution (10 ms); 0 when it cannot be read. Unlike wall
// time it hardly depends on what else the machine runs, which makes it
// the steadier measure of a process's cost on a shared machine.
func (p *Proc) CPUTime() time.Duration {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	st, err := ReadProcStat(p.cmd.Process.Pid)
	if err != nil {
		return 0
	}
	return st.CPU
}

// ProcStat is what /proc/<pid>/stat says of a process's cost and parent.
type ProcStat struct {
	// CPU is its own CPU time (user and system, of all its threads);
	// Children that of its children it has reaped, once reaped.
	CPU, Children time.Duration
	PPID          int
}

// ReadProcStat reads process pid's ProcStat, at the kernel's clock-tick
// resolution (10 ms).
func ReadProcStat(pid int) (ProcStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcStat{}, err
	}
	st, ok := parseProcStat(string(b))
	if !ok {
		return ProcStat{}, fmt.Errorf("/proc/%d/stat: unreadable: %q", pid, b)
	}
	return st, nil
}

// parseCPUTime reads utime + stime from a /proc/<pid>/stat line; 0 if it
// cannot.
func parseCPUTime(stat string) time.Duration {
	st, _ := parseProcStat(stat)
	return st.CPU
}

// parseProcStat reads a /proc/<pid>/stat line: the parent (field 4),
// utime + stime (fields 14 and 15) and cutime + cstime (16 and 17),
// counted after the command name, which may hold spaces and parentheses
// and so ends at the last ')'.
func parseProcStat(stat string) (ProcStat, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return ProcStat{}, false
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3, the state
	if len(f) < 15 {
		return ProcStat{}, false
	}
	var n [5]int64
	for k, idx := range []int{1, 11, 12, 13, 14} {
		v, err := strconv.ParseInt(f[idx], 10, 64)
		if err != nil {
			return ProcStat{}, false
		}
		n[k] = v
	}
	return ProcStat{PPID: int(n[0]), CPU: time.Duration(n[1]+n[2]) * clockTick, Children: time.Duration(n[3]+n[4]) * clockTick}, true
}
