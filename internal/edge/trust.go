package edge

import (
	"corral/internal/acl"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Trust is how one corral process meets the network: what it demands of
// its callers and what it presents to the servers it calls. Every
// component's Config carries one; cmd fills it from the shared flags
// (--credentials, --credential, --allowed_hosts, --cors_origins). The
// zero value demands nothing and presents nothing.
type Trust struct {
	// Credentials are demanded of every caller (except on the open
	// paths); nil serves anyone.
	Credentials *Credentials
	// Credential is presented to the servers this process calls (agent
	// and frameworks to the master, standbys' forwards carry the caller's
	// own).
	Credential Credential
	// Hosts are the names the Host header may carry; empty accepts any.
	// DefaultHosts derives them from the listen and advertise addresses.
	Hosts []string
	// Origins are the foreign browser origins allowed to call (CORS).
	Origins []string
	// ServerTLS, when set, makes the process's servers speak HTTPS
	// (ServerTLS builds it from --tls_cert/--tls_key, with reload).
	ServerTLS *tls.Config
	// ACLs decide what an authenticated principal may do (--acls); nil
	// allows every request.
	ACLs *acl.ACLs
	// ClientTLS is used for the servers this process calls: it trusts
	// --tls_ca and presents the certificate for mTLS. Nil uses the
	// system's roots.
	ClientTLS *tls.Config
}

// Scheme is "https" when the process serves TLS, else "http": the scheme
// of the URLs it advertises.
func (t Trust) Scheme() string {
	if t.ServerTLS != nil {
		return "https"
	}
	return "http"
}

// Guards returns the edge guards, outermost first: the cross-site checks
// (which answer CORS pre-flights before any credential is asked for),
// then authentication.
func (t Trust) Guards() []Middleware {
	return []Middleware{
		CrossSite{Hosts: t.Hosts, Origins: t.Origins}.Guard(),
		Authentication{Credentials: t.Credentials}.Guard(),
	}
}

// RoundTripper returns next presenting t.Credential on requests that
// carry no Authorization of their own.
func (t Trust) RoundTripper(next http.RoundTripper) http.RoundTripper {
	return t.Credential.RoundTripper(next)
}

// DefaultHosts are the names a server answers to when --allowed_hosts is
// not given: localhost, this machine's hostname, and the host names of
// its listen address and advertised URLs. (IP literals are always
// accepted.) A listen address on every interface adds nothing more: a
// name must be meant to reach this server to be listed.
func DefaultHosts(listen string, advertise ...string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(h string) {
		h = strings.ToLower(strings.Trim(h, "[]"))
		if h == "" || seen[h] || net.ParseIP(h) != nil {
			return
		}
		seen[h] = true
		out = append(out, h)
	}
	add("localhost")
	if hn, err := os.Hostname(); err == nil {
		add(hn)
		if short, _, ok := strings.Cut(hn, "."); ok {
			add(short)
		}
	}
	if h, _, err := net.SplitHostPort(listen); err == nil {
		add(h)
	}
	for _, a := range advertise {
		if u, err := url.Parse(a); err == nil {
			add(u.Hostname())
		}
	}
	return out
}

// Loopback reports whether a listen address accepts connections only
// from this machine: a loopback IP or "localhost". An empty host (":5050")
// or an unspecified one listens everywhere.
func Loopback(listen string) bool {
	h, _, err := net.SplitHostPort(listen)
	if err != nil {
		h = listen
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Transport returns the transport for calling other corral servers on
// their callers' behalf (proxies, standbys forwarding to the leader): a
// clone of http.DefaultTransport with a short dial timeout (a server that
// is gone should cost seconds before the next is tried). It presents no
// credential of this process: what is forwarded carries the caller's own.
func (t Trust) Transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	if t.ClientTLS != nil {
		tr.TLSClientConfig = t.ClientTLS.Clone()
	}
	return tr
}

// Client returns an HTTP client for this process's own calls to other
// corral servers: Transport, presenting t.Credential. It has no overall
// timeout: streams live long.
func (t Trust) Client() *http.Client {
	return &http.Client{Transport: t.RoundTripper(t.Transport())}
}

// Authorize checks that r's principal may perform act on object: nil, or
// a 403 *Error naming the principal, the action and the object.
func (t Trust) Authorize(r *http.Request, act acl.Action, object string) error {
	if err := t.ACLs.Check(act, Principal(r.Context()), object); err != nil {
		return &Error{Status: http.StatusForbidden, Message: err.Error()}
	}
	return nil
}
