package jobs

import (
	"net/http"
	"strings"

	"corral/internal/lead"
)

// errNoLeader is the answer to a request only the leader can carry out
// (stopping a running run) when no instance is known to lead.
func errNoLeader() *apiError {
	return errf(http.StatusServiceUnavailable, "no leading jobs instance known; retry")
}

// forwardable reports whether a request goes to the leader when another
// instance leads: writes under /v1/ (native and Chronos APIs) and
// /metronome/v1/ (the Metronome API, whichever listener it came to).
// Reads (GET, HEAD, OPTIONS) and everything else are answered by any
// instance from the database. It is pure.
func forwardable(method, path string) bool {
	switch {
	case !strings.HasPrefix(path, "/v1/") && !strings.HasPrefix(path, metronomePrefix+"/v1/"):
		return false
	case method == http.MethodGet, method == http.MethodHead, method == http.MethodOptions:
		return false
	}
	return true
}

// forwardWrites sends writes (forwardable) to the leading instance when
// another one leads, so every write, stopping a running run included,
// works through any instance. Everything else goes to next, as do writes
// while no other instance is known to lead and writes already forwarded
// once: any instance can store them, and the leader picks them up from the
// database. Without ZooKeeper it is next itself.
func (s *Service) forwardWrites(next http.Handler) http.Handler {
	if !s.forwarding() {
		return next
	}
	return &lead.Forwarder{
		Self:      s.self,
		Leader:    s.el.Leader,
		Name:      "jobs instance",
		Forward:   func(r *http.Request) bool { return forwardable(r.Method, r.URL.Path) },
		Next:      next,
		Fallback:  next,
		Error:     apiErr,
		Log:       s.log,
		Transport: s.cfg.Trust.Transport(),
	}
}

// apiErr writes an error in the shape of the API the request is for:
// Chronos' under /v1/scheduler/, the native one elsewhere.
func apiErr(w http.ResponseWriter, r *http.Request, err error) {
	if strings.HasPrefix(r.URL.Path, "/v1/scheduler/") {
		chronosErr(w, r, err)
		return
	}
	writeErr(w, r, err)
}
