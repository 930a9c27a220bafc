package testcluster

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corral/internal/devca"
	"corral/internal/edge"
)

// TestMTLSCluster runs a cluster whose every process demands a client
// certificate signed by the cluster's CA (--tls_client_auth). The
// processes reach each other with their own certificate (the agent
// registers, services subscribes, an app's task runs), while a caller
// that trusts the CA and holds the operator's credential is refused at
// the TLS handshake by the master, the agent and services when it
// presents no certificate or one from another CA, and answered when it
// presents the CA's client certificate (and still needs a credential).
// The corral CLI works with --tls_cert/--tls_key and cannot reach the
// APIs without them.
func TestMTLSCluster(t *testing.T) {
	c := Start(t, Options{Agents: 1, Secure: true, ClientAuth: true})
	services := c.StartFramework("services")
	waitSubscribed(t, c, "services")
	deployAndWaitRunning(t, c, services, "/mtls")

	sec := c.Security
	roots := certPool(t, sec.TLS.CA)
	ops := sec.Credential("ops")
	good, err := tls.LoadX509KeyPair(sec.TLS.ClientCert, sec.TLS.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	// A client certificate for the same name, from a CA the cluster does
	// not trust.
	otherCA, err := devca.Ensure(filepath.Join(t.TempDir(), "other-ca"), nil, "ops", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := tls.LoadX509KeyPair(otherCA.ClientCert, otherCA.ClientKey)
	if err != nil {
		t.Fatal(err)
	}

	endpoints := []struct{ name, url string }{
		{"master", c.URL + "/state"},
		{"agent", c.Agents[0].URL + "/state"},
		{"services", services.URL + "/v2/apps"},
	}
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			host := hostOf(t, ep.url)
			// Refused at the handshake: a TLS 1.2 client learns of it
			// while shaking hands, a TLS 1.3 one on its first read, since
			// its side of the handshake ends before the server has
			// checked its certificate. Either way the answer is the
			// server's alert, not HTTP.
			for _, v := range []struct {
				name    string
				version uint16
				noCert  string // the server's alert for no certificate
			}{
				{"TLS 1.2", tls.VersionTLS12, "handshake failure"},
				{"TLS 1.3", tls.VersionTLS13, "certificate required"},
			} {
				asked := false
				none := &tls.Config{RootCAs: roots, MinVersion: v.version, MaxVersion: v.version,
					GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
						asked = true
						return &tls.Certificate{}, nil
					}}
				checkAlert(t, v.name+" without a client certificate", host, tlsRefusal(none, host), v.noCert)
				if !asked {
					t.Errorf("%s %s: the server never asked for a client certificate", v.name, host)
				}
				other := &tls.Config{RootCAs: roots, MinVersion: v.version, MaxVersion: v.version, Certificates: []tls.Certificate{stranger}}
				checkAlert(t, v.name+" with another CA's client certificate", host, tlsRefusal(other, host), "unknown certificate authority")
			}
			for how, cfg := range map[string]*tls.Config{
				"without a client certificate":         {RootCAs: roots},
				"with another CA's client certificate": {RootCAs: roots, Certificates: []tls.Certificate{stranger}},
			} {
				if resp, err := getOnce(cfg, ops, ep.url); err == nil {
					resp.Body.Close()
					t.Errorf("GET %s as ops %s = %s; want no HTTP answer", ep.url, how, resp.Status)
				}
			}

			withCert := &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{good}}
			resp, err := getOnce(withCert, ops, ep.url)
			if err != nil {
				t.Fatalf("GET %s with the CA's client certificate as ops: %v", ep.url, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s with the CA's client certificate as ops = %s; want 200", ep.url, resp.Status)
			}
			// The certificate does not stand in for a credential.
			resp, err = getOnce(withCert, edge.Credential{}, ep.url)
			if err != nil {
				t.Fatalf("GET %s with the CA's client certificate and no credential: %v", ep.url, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET %s with the CA's client certificate and no credential = %s; want 401", ep.url, resp.Status)
			}
		})
	}

	t.Run("cli", func(t *testing.T) {
		env := []string{"CORRAL_PRINCIPAL=" + ops.Principal, "CORRAL_SECRET=" + ops.Secret}
		withCert := []string{"--tls_ca", sec.TLS.CA, "--tls_cert", sec.TLS.ClientCert, "--tls_key", sec.TLS.ClientKey}
		for _, v := range []struct {
			verb []string
			want string // in the output with the certificate
		}{
			{[]string{"app", "list", "--services", services.URL}, "/mtls"},
			{[]string{"agent", "list", "--master", c.URL}, "agent0.test"},
		} {
			out, errOut, code := runCorral(t, env, append(v.verb, withCert...)...)
			if code != 0 || !strings.Contains(out, v.want) {
				t.Errorf("corral %s with the client certificate = exit %d, stdout %q, stderr %q; want exit 0 listing %q",
					strings.Join(v.verb, " "), code, out, errOut, v.want)
			}
			// Without a certificate the verb cannot reach the API, and
			// says what it lacks (the client gives up the handshake
			// itself when asked for a certificate, so the message does
			// not depend on who closes first), without the misleading
			// hint to set another address.
			out, errOut, code = runCorral(t, env, append(v.verb, "--tls_ca", sec.TLS.CA)...)
			if code != 4 || out != "" || !strings.Contains(errOut, "cannot reach the") || !strings.Contains(errOut, "--tls_cert and --tls_key") ||
				strings.Contains(errOut, "(set --") {
				t.Errorf("corral %s without a client certificate = exit %d, stdout %q, stderr %q; want exit 4, no output, and a message asking for --tls_cert and --tls_key",
					strings.Join(v.verb, " "), code, out, errOut)
			}
		}
	})
}

// TestCertRotation replaces the certificate of a running mTLS cluster on
// disk, by renames, and checks that every process serves the new one on
// new connections without a restart, and that the cluster keeps working:
// the same agent active, services still subscribed, a new app launched.
func TestCertRotation(t *testing.T) {
	c := Start(t, Options{Agents: 1, Secure: true, ClientAuth: true})
	services := c.StartFramework("services")
	fwID := waitSubscribed(t, c, "services")
	agentID := c.State().Agents[0].ID

	sec := c.Security
	client, err := tls.LoadX509KeyPair(sec.TLS.ClientCert, sec.TLS.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{RootCAs: certPool(t, sec.TLS.CA), Certificates: []tls.Certificate{client}}
	procs := map[string]*Proc{"master": c.Master, "agent": c.Agents[0].Proc, "services": services.Proc}
	hosts := map[string]string{"master": hostOf(t, c.URL), "agent": hostOf(t, c.Agents[0].URL), "services": hostOf(t, services.URL)}
	pids := map[string]int{}
	old := readCert(t, sec.TLS.Cert)
	for name, h := range hosts {
		pids[name] = procs[name].PID()
		if got, err := servedCert(cfg, h); err != nil || !got.Equal(old) {
			t.Fatalf("%s serves %v (%v) before the rotation; want the certificate on disk, serial %x", name, serial(got), err, old.SerialNumber)
		}
	}

	rotated := sec.RotateCert(t)
	if rotated.SerialNumber.Cmp(old.SerialNumber) == 0 {
		t.Fatalf("the rotated certificate has the old serial %x", old.SerialNumber)
	}
	for name, h := range hosts {
		var got *x509.Certificate
		Eventually(t, 30*time.Second, func() bool {
			got, _ = servedCert(cfg, h)
			return got != nil && got.Equal(rotated)
		}, "%s to serve the rotated certificate, serial %x, on a new connection (last: %v)", name, rotated.SerialNumber, lazy(func() string { return serial(got) }))
	}
	for name, p := range procs {
		if p.Exited() || p.PID() != pids[name] {
			t.Errorf("%s exited or was restarted during the rotation (pid %d, then %d)", name, pids[name], p.PID())
		}
	}

	// The cluster still works: the agent and the framework are the ones
	// registered before, and a new app's task runs.
	c.WaitAgents(1)
	if st := c.State(); len(st.Agents) != 1 || st.Agents[0].ID != agentID || !st.Agents[0].Active {
		t.Errorf("/state agents after the rotation = %+v; want agent %s still active", st.Agents, agentID)
	}
	if id := waitSubscribed(t, c, "services"); id != fwID {
		t.Errorf("services framework after the rotation = %s; want %s still subscribed", id, fwID)
	}
	deployAndWaitRunning(t, c, services, "/rotated")
	// The CA that checks client certificates is as before.
	none := &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS13}
	checkAlert(t, "without a client certificate after the rotation", hosts["master"], tlsRefusal(none, hosts["master"]), "certificate required")
	for name, h := range hosts {
		if got, err := servedCert(cfg, h); err != nil || !got.Equal(rotated) {
			t.Errorf("%s serves %v (%v) at the end; want the rotated certificate, serial %x", name, serial(got), err, rotated.SerialNumber)
		}
	}
}

// waitSubscribed waits until the master lists an active framework of
// principal and returns its id.
func waitSubscribed(t *testing.T, c *Cluster, principal string) string {
	t.Helper()
	var id string
	Eventually(t, 60*time.Second, func() bool {
		for _, f := range c.State().Frameworks {
			if f.Principal == principal && f.Active {
				id = f.ID
				return true
			}
		}
		return false
	}, "an active framework of principal %s in /state", principal)
	return id
}

// deployAndWaitRunning creates an app of one instance through the
// services API, as the operator, and waits until the master reports its
// task TASK_RUNNING.
func deployAndWaitRunning(t *testing.T, c *Cluster, services *Framework, app string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"id": app, "cmd": "sleep 600", "cpus": 0.05, "mem": 32, "instances": 1})
	resp, err := c.HTTP.Post(services.URL+"/v2/apps", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST /v2/apps %s: %v", app, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v2/apps %s = %s; want 201", app, resp.Status)
	}
	prefix := strings.TrimPrefix(app, "/") + "."
	Eventually(t, 60*time.Second, func() bool {
		for _, f := range c.State().Frameworks {
			for _, tk := range f.Tasks {
				if f.Principal == "services" && strings.HasPrefix(tk.ID, prefix) && tk.State == "TASK_RUNNING" {
					return true
				}
			}
		}
		return false
	}, "a TASK_RUNNING task of app %s in the master's /state", app)
}

// getOnce GETs url on a connection of its own, made with cfg, presenting
// cred (none when zero).
func getOnce(cfg *tls.Config, cred edge.Credential, url string) (*http.Response, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	tr.DisableKeepAlives = true
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: cred.RoundTripper(tr), Timeout: 30 * time.Second}
	return hc.Get(url)
}

// tlsRefusal shakes hands with host using cfg and reads once, sending
// nothing: it returns the error of the handshake or of the read (nil if
// the server sent data, as no server should before a request).
func tlsRefusal(cfg *tls.Config, host string) error {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", host, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = conn.Read(make([]byte, 1))
	return err
}

// checkAlert checks that err is the server's TLS alert, whose text
// contains alert.
func checkAlert(t *testing.T, how, host string, err error, alert string) {
	t.Helper()
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || !strings.Contains(op.Err.Error(), alert) {
		t.Errorf("TLS to %s %s: %v; want the server's alert %q", host, how, err, alert)
	}
}

// hostOf is the host:port of URL u.
func hostOf(t *testing.T, u string) string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return pu.Host
}

// servedCert returns the certificate the server at host presents on a
// new TLS connection made with cfg.
func servedCert(cfg *tls.Config, host string) (*x509.Certificate, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", host, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if certs := conn.ConnectionState().PeerCertificates; len(certs) > 0 {
		return certs[0], nil
	}
	return nil, fmt.Errorf("%s presented no certificate", host)
}

// serial is c's serial number in hex, or "none".
func serial(c *x509.Certificate) string {
	if c == nil {
		return "none"
	}
	return fmt.Sprintf("serial %x", c.SerialNumber)
}

// lazy is a fmt.Stringer that formats when printed, as Eventually's
// message is after its condition last ran.
type lazy func() string

func (f lazy) String() string { return f() }

// runCorral runs the corral binary with args and only env (plus PATH and
// HOME), so that no CORRAL_* variable of the test's own leaks in.
func runCorral(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), Binary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running corral %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

func certPool(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("%s: no certificate", file)
	}
	return pool
}

func readCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM block", file)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return c
}
