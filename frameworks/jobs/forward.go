package jobs

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
)

// forwardedBy is the header on a request one instance forwarded to
// another, naming the forwarder's URL. A request that carries it is never
// forwarded again, so two instances that disagree about who leads cannot
// bounce a request between them.
const forwardedBy = "X-Corral-Forwarded-By"

// errNoLeader is the answer to a request only the leader can carry out
// (stopping a running run) when no instance is known to lead.
func errNoLeader() *apiError {
	return errf(http.StatusServiceUnavailable, "no leading jobs instance known; retry")
}

// forwardTarget decides where a request goes: to the base URL leader of
// another instance that leads, or, when it returns "", here. Reads (GET,
// HEAD, OPTIONS) and everything outside /v1/ are answered here, as are
// requests already forwarded once and all requests while no other
// instance is known to lead (leader ""). It is pure.
func forwardTarget(method, path string, forwarded bool, leader string) string {
	switch {
	case leader == "", forwarded, !strings.HasPrefix(path, "/v1/"):
		return ""
	case method == http.MethodGet, method == http.MethodHead, method == http.MethodOptions:
		return ""
	}
	return leader
}

// forwardWrites sends writes under /v1/ (native and Chronos APIs) to the
// leading instance when another one leads, so every write, stopping a
// running run included, works through any instance. Everything else, and
// every request when no other leader is known, goes to next. Without an
// election it is next itself.
func (s *Service) forwardWrites(next http.Handler) http.Handler {
	if s.el == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leader, other, _ := s.leaderURL()
		if !other {
			leader = ""
		}
		target := forwardTarget(r.Method, r.URL.Path, r.Header.Get(forwardedBy) != "", leader)
		if target == "" {
			next.ServeHTTP(w, r)
			return
		}
		s.forward(w, r, target)
	})
}

// forward proxies r to the instance at base. If that instance cannot be
// reached the client gets 503 naming it, and retries (by then the
// election may name another leader).
func (s *Service) forward(w http.ResponseWriter, r *http.Request, base string) {
	fail := func(w http.ResponseWriter, r *http.Request, msg string) {
		err := errf(http.StatusServiceUnavailable, "%s", msg)
		if strings.HasPrefix(r.URL.Path, "/v1/scheduler/") {
			chronosErr(w, r, err)
			return
		}
		writeErr(w, r, err)
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		fail(w, r, "the leading jobs instance published an unusable URL "+base+"; retry")
		return
	}
	s.log.Debug("forwarding a write to the leader", "method", r.Method, "path", r.URL.Path, "leader", base)
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
			pr.Out.Header.Set(forwardedBy, s.url)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.log.Warn("cannot forward a write to the leader", "leader", base, "err", err)
			fail(w, r, "the leading jobs instance at "+base+" did not answer: "+err.Error()+"; retry")
		},
	}
	p.ServeHTTP(w, r)
}
