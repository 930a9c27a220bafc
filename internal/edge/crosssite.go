package edge

import (
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// CrossSite is the guard against other web sites a browser visits: DNS
// rebinding (a foreign Host), cross-origin requests (a foreign Origin),
// and the "simple" requests a page may send without a CORS pre-flight
// (form and text/plain bodies). Its fields are set before it serves.
//
// Non-browser clients (curl, the CLI, SDKs) send no Origin and are not
// affected beyond the Host and Content-Type rules.
type CrossSite struct {
	// Hosts are the names this server answers to (the Host header without
	// its port, compared without case). IP literals are always accepted:
	// rebinding needs a name. Empty accepts every Host; "*" too.
	Hosts []string
	// Origins may call from other origins ("https://ui.example:8443"):
	// their pre-flights are answered and their requests served with CORS
	// headers. Same-origin requests never need to be listed.
	Origins []string
}

// BodyTypes are the media types a request body may have; any other is
// 415, because the browser's "simple" types (form, multipart, text/plain)
// are what a foreign page can send without a CORS pre-flight.
var BodyTypes = []string{"application/json", "application/x-protobuf"}

// Guard returns the middleware. It answers, in order: 421 for a Host that
// is not this server's, CORS pre-flights (204 for listed origins, 403
// otherwise), 403 for a foreign Origin not listed, and 415 for a body that
// is not JSON (or protobuf).
func (c CrossSite) Guard() Middleware {
	hosts := map[string]bool{}
	anyHost := len(c.Hosts) == 0
	for _, h := range c.Hosts {
		if h == "*" {
			anyHost = true
		}
		hosts[strings.ToLower(strings.TrimSuffix(h, "."))] = true
	}
	origins := map[string]bool{}
	for _, o := range c.Origins {
		origins[normalOrigin(o)] = true
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !anyHost {
				if h := hostOnly(r.Host); !hosts[h] && net.ParseIP(h) == nil {
					Write(w, r, Errorf(http.StatusMisdirectedRequest,
						"host %q is not one of this server's names; add it to --allowed_hosts if it is", h))
					return
				}
			}
			origin := r.Header.Get("Origin")
			foreign := origin != "" && !sameOrigin(origin, r)
			listed := foreign && origins[normalOrigin(origin)]
			if r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
				if !listed && foreign {
					Write(w, r, Errorf(http.StatusForbidden, "origin %q may not call this server; list it in --cors_origins to allow it", origin))
					return
				}
				h := w.Header()
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept, Last-Event-ID, Mesos-Stream-Id")
				h.Set("Access-Control-Max-Age", "600")
				h.Add("Vary", "Origin")
				w.WriteHeader(http.StatusNoContent)
				return
			}
			if foreign && !listed {
				Write(w, r, Errorf(http.StatusForbidden, "origin %q may not call this server; list it in --cors_origins to allow it", origin))
				return
			}
			if listed {
				w.Header().Set("Access-Control-Allow-Origin", origin)
				w.Header().Set("Access-Control-Expose-Headers", "Mesos-Stream-Id, Location")
				w.Header().Add("Vary", "Origin")
			}
			if hasBody(r) && !allowedBody(r.Header.Get("Content-Type")) {
				Write(w, r, Errorf(http.StatusUnsupportedMediaType,
					"a request body must be application/json; Content-Type %q is refused", r.Header.Get("Content-Type")))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// hasBody reports whether r sends a body.
func hasBody(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		// Their bodies carry no meaning here and are never read.
		return false
	}
	return r.ContentLength > 0 || (r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody)
}

func allowedBody(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	for _, t := range BodyTypes {
		if mt == t {
			return true
		}
	}
	return false
}

// hostOnly is a Host header's name, lower-case, without port or brackets.
func hostOnly(hostport string) string {
	h := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.Trim(h, "[]"), ".")
	return strings.ToLower(h)
}

// sameOrigin reports whether origin is the origin r was sent to: same
// host and port (the scheme's default port when none is given).
func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false // "null" (sandboxed frames, file:) is never the same
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if u.Scheme != scheme {
		return false
	}
	return withPort(u.Host, u.Scheme) == withPort(strings.ToLower(r.Host), scheme)
}

// normalOrigin is origin lower-cased, with an explicit port.
func normalOrigin(origin string) string {
	u, err := url.Parse(strings.ToLower(strings.TrimSuffix(origin, "/")))
	if err != nil || u.Host == "" {
		return origin
	}
	return u.Scheme + "://" + withPort(u.Host, u.Scheme)
}

func withPort(hostport, scheme string) string {
	hostport = strings.ToLower(hostport)
	if _, _, err := net.SplitHostPort(hostport); err == nil {
		return hostport
	}
	port := "80"
	if scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(strings.Trim(hostport, "[]"), port)
}
