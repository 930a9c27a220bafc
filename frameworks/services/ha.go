package services

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"
)

// Election is how several services instances agree on one leader
// (ZooKeeper in production).
type Election interface {
	// Run contends until ctx ends. While this instance is elected it calls
	// lead, whose context ends as soon as leadership may have been lost;
	// lead must return soon after. Run then contends again.
	Run(ctx context.Context, lead func(ctx context.Context)) error
	// Leader returns the leading instance's advertised base URL, if one is
	// known.
	Leader() (string, bool)
}

// soleLeader is the election of an instance that runs alone: it always
// wins (the database lock still keeps a second instance from scheduling).
type soleLeader string

func (s soleLeader) Run(ctx context.Context, lead func(context.Context)) error {
	for ctx.Err() == nil {
		lead(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return ctx.Err()
}

func (s soleLeader) Leader() (string, bool) { return string(s), true }

// term is one leadership term's Service and its API handler.
type term struct {
	s *Service
	h http.Handler
}

// termHandler serves the API of the leading term, or the standby API
// while this instance does not lead.
type termHandler struct {
	term    atomic.Pointer[term]
	standby http.Handler
}

func (h *termHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if t := h.term.Load(); t != nil {
		t.h.ServeHTTP(w, r)
		return
	}
	h.standby.ServeHTTP(w, r)
}

// forwardedHeader marks a request a standby forwarded, so that it is never
// forwarded again (two instances that disagree on the leader must not
// bounce a request between them).
const forwardedHeader = "X-Corral-Forwarded-By"

// standby answers for an instance that does not lead: like Marathon's
// standbys it proxies the whole API (reads and writes) to the leader, so a
// client can talk to any instance. /ping answers locally.
type standby struct {
	self string // this instance's advertised URL
	el   Election
	log  *slog.Logger
}

func (s *standby) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("pong\n"))
	})
	mux.HandleFunc("GET /v2/leader", s.leader)
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("/", s.forward)
	return mux
}

// leaderURL is the leader's URL when it is another instance.
func (s *standby) leaderURL() (string, bool) {
	u, ok := s.el.Leader()
	if !ok || u == "" || u == s.self {
		// Unknown, or this instance was elected a moment ago and its term
		// is loading.
		return "", false
	}
	return u, true
}

// leader is GET /v2/leader: Marathon answers 404 while there is none.
func (s *standby) leader(w http.ResponseWriter, r *http.Request) {
	u, ok := s.leaderURL()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "There is no leader"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"leader": hostOf(u)})
}

// health is GET /health on a standby: alive, not leading, and who leads.
func (s *standby) health(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{"healthy": true, "leader": false}
	if u, ok := s.leaderURL(); ok {
		body["leaderUrl"] = u
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *standby) forward(w http.ResponseWriter, r *http.Request) {
	u, ok := s.leaderURL()
	if !ok || r.Header.Get(forwardedHeader) != "" {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{
			"message": "this services instance does not lead and no leader is known yet (election or take-over in progress); retry shortly"})
		return
	}
	target, err := url.Parse(u)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"message": "the leader's address " + u + " is not a URL"})
		return
	}
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Header.Set(forwardedHeader, s.self)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"message": "the leading services instance at " + u + " did not answer: " + err.Error()})
		},
	}
	p.ServeHTTP(w, r)
}
