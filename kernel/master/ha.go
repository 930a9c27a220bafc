package master

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// Election is how masters agree on one leader (ZooKeeper in production).
type Election interface {
	// Run contends until ctx ends. While this master is elected it calls
	// lead, whose context ends as soon as leadership may have been lost;
	// lead must return soon after. Run then contends again.
	Run(ctx context.Context, lead func(ctx context.Context)) error
	// Leader returns the info the leading master published (MasterInfo
	// JSON), if a leader is known.
	Leader() ([]byte, bool)
}

// Contend serves the master's APIs on ln until ctx ends, as the leader
// while the election elects this master and as a standby otherwise.
// elect is given the MasterInfo JSON to publish and returns the election.
//
// Each election starts a new term: a fresh master state recovered from the
// registry in Postgres (agents get AgentReregisterTimeout to come back).
// When leadership may have been lost the term ends at once: its scheduler
// and agent streams close, so their clients look for the new leader.
//
// A standby answers scheduler SUBSCRIBE calls and agent connections with
// 307 to the leader, forwards the other scheduler calls and /weights to
// it, says on /state, /health and /redirect who leads, serves the console
// (its own embedded pages, and the leader's answers to what they read),
// and answers 503 while no leader is known.
func Contend(ctx context.Context, cfg Config, store Store, log *slog.Logger, ln net.Listener, elect func(info []byte) Election) error {
	if cfg.ID == "" {
		cfg.ID = uuid.NewString()
	}
	if log == nil {
		log = slog.Default()
	}
	first, err := New(cfg, store, log)
	if err != nil {
		return err
	}
	info, _ := json.Marshal(first.info)
	el := elect(info)
	sb := &standby{el: el, self: first, started: time.Now(), log: log.With("component", "master")}
	h := &haHandler{standby: sb.routes()}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := newServer(h, cfg.ShutdownGrace, sb.log)
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ctx, ln) }()
	sb.log.Info("master listening; contending for leadership", "addr", ln.Addr().String(), "url", first.url, "id", cfg.ID)

	elDone := make(chan error, 1)
	go func() {
		next := first
		elDone <- el.Run(ctx, func(lctx context.Context) {
			// The term also ends with Contend.
			lctx, endTerm := context.WithCancel(lctx)
			defer endTerm()
			defer context.AfterFunc(ctx, endTerm)()
			m := next
			next = nil
			if m == nil {
				if m, err = New(cfg, store, log); err != nil {
					sb.log.Error("cannot start a term", "err", err)
					return
				}
			}
			m.metrics.elected.Set(1)
			sb.log.Info("elected: leading", "url", m.url)
			h.leader.Store(&term{m: m, h: m.routes()})
			m.Lead(lctx)
			h.leader.Store(nil)
			if ctx.Err() == nil {
				sb.log.Warn("lost leadership; standing by")
			}
		})
	}()

	select {
	case <-ctx.Done():
		err = nil
	case err = <-srvErr:
	case err = <-elDone:
		if ctx.Err() != nil {
			err = nil
		}
	}
	cancel()
	shutCtx, c2 := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer c2()
	srv.Shutdown(shutCtx)
	if e := <-elDone; err == nil && e != nil && !errors.Is(e, context.Canceled) {
		err = e
	}
	return err
}

// term is the master state of one leadership term and its handler.
type term struct {
	m *Master
	h http.Handler
}

// haHandler sends requests to the leading term, or to the standby
// handler when this master does not lead.
type haHandler struct {
	leader  atomic.Pointer[term]
	standby http.Handler
}

func (h *haHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if t := h.leader.Load(); t != nil {
		t.h.ServeHTTP(w, r)
		return
	}
	h.standby.ServeHTTP(w, r)
}

// standby answers for a master that does not lead.
type standby struct {
	el      Election
	self    *Master
	started time.Time
	log     *slog.Logger
}

// LeaderURL is the base URL ("http://host:port") of the master whose
// MasterInfo JSON is info.
func LeaderURL(info []byte) (string, error) {
	var mi mesos.MasterInfo
	if err := json.Unmarshal(info, &mi); err != nil {
		return "", fmt.Errorf("leader info: %w", err)
	}
	return mi.BaseURL()
}

// leader returns the leader's info and base URL; ok is false when no
// other master is known to lead.
func (s *standby) leader() (mi mesos.MasterInfo, base string, ok bool) {
	info, known := s.el.Leader()
	if !known {
		return mi, "", false
	}
	base, err := LeaderURL(info)
	if err != nil {
		return mi, "", false
	}
	_ = json.Unmarshal(info, &mi)
	if mi.ID == s.self.runID {
		// Elected a moment ago: the term is starting.
		return mi, "", false
	}
	if strings.TrimRight(base, "/") == strings.TrimRight(s.self.url, "/") {
		// This master's own address under an earlier run id: it crashed
		// and came back before its old member expired. Proxying there
		// would be proxying to itself.
		return mi, "", false
	}
	return mi, base, true
}

// forwardedHeader marks a request a standby master passed on to the
// leader; a master that receives it as a standby refuses it rather than
// passing it on again, so two masters that each think the other leads
// cannot bounce a request between them.
const forwardedHeader = "X-Corral-Forwarded-By"

// looped answers 503 if r was already passed on by a standby, and
// otherwise marks r as passed on by this one.
func (s *standby) looped(w http.ResponseWriter, r *http.Request) bool {
	if by := r.Header.Get(forwardedHeader); by != "" {
		writeMessage(w, http.StatusServiceUnavailable, fmt.Sprintf("The request was passed on by the standby master %s, and this master is not leading either (elections in progress); retry shortly", by))
		return true
	}
	r.Header.Set(forwardedHeader, s.self.url)
	return false
}

func (s *standby) routes() http.Handler {
	r := chi.NewRouter()
	r.HandleFunc("/api/v1/scheduler", s.handleScheduler)
	r.HandleFunc(agentproto.Path, s.redirect)
	for _, p := range []string{"/state", "/state.json", "/master/state", "/master/state.json"} {
		r.Get(p, s.handleState)
	}
	r.Get("/health", s.handleHealth)
	r.Get("/master/health", s.handleHealth)
	r.Get("/metrics", s.handleMetrics)
	r.HandleFunc("/weights", s.forward)
	s.consoleRoutes(r)
	r.NotFound(s.redirect)
	return r
}

// consoleRoutes serves the console on a standby, for a browser that
// reaches only this master (say, the one port docker compose publishes)
// and cannot resolve the leader's advertised URL: the pages come from the
// embedded files, and what they read (/console/*, /framework/*, /agent/*)
// is proxied to the leader, streams flushed as they come.
func (s *standby) consoleRoutes(r chi.Router) {
	consoleFiles(r)
	for _, p := range []string{consolePrefix + "*", frameworkPrefix + "*", agentPrefix + "*"} {
		r.HandleFunc(p, s.proxyToLeader)
	}
}

// proxyToLeader sends the request, path unchanged, to the leader: 503
// JSON while no leader is known, 502 JSON when it does not answer.
func (s *standby) proxyToLeader(w http.ResponseWriter, r *http.Request) {
	if s.looped(w, r) {
		return
	}
	_, base, ok := s.leader()
	if !ok {
		writeMessage(w, http.StatusServiceUnavailable, "No leading master is known (elections in progress); retry shortly")
		return
	}
	u, err := url.Parse(base)
	if err != nil {
		writeMessage(w, http.StatusBadGateway, fmt.Sprintf("The leading master's URL %q is not a URL", base))
		return
	}
	proxyTo(u, "", r.URL.EscapedPath(), "The leading master at "+base).ServeHTTP(w, r)
}

func (s *standby) noLeader(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, errorf(http.StatusServiceUnavailable, "No leading master is known (elections in progress); retry shortly"))
}

// redirect answers 307 to the same path on the leader (Mesos' /redirect
// goes to the leader's root).
func (s *standby) redirect(w http.ResponseWriter, r *http.Request) {
	_, base, ok := s.leader()
	if !ok {
		s.noLeader(w, r)
		return
	}
	target := base + r.URL.Path
	switch r.URL.Path {
	case "/redirect", "/master/redirect":
		target = base
	}
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, target, http.StatusTemporaryRedirect)
}

// handleScheduler redirects SUBSCRIBE (a client must hold its stream with
// the leader) and forwards every other call, so a client that keeps
// calling the address it started with still works.
func (s *standby) handleScheduler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, r, errorf(http.StatusMethodNotAllowed, "Expecting 'POST', received '%s'", r.Method))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxCallBytes+1))
	if err != nil {
		writeError(w, r, errorf(http.StatusBadRequest, "Failed to read the request body: %v", err))
		return
	}
	var head struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &head)
	if head.Type == "SUBSCRIBE" {
		s.redirect(w, r)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	s.forward(w, r)
}

// forward proxies the request to the leader.
func (s *standby) forward(w http.ResponseWriter, r *http.Request) {
	if s.looped(w, r) {
		return
	}
	_, base, ok := s.leader()
	if !ok {
		s.noLeader(w, r)
		return
	}
	u, _ := url.Parse(base)
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, r, errorf(http.StatusServiceUnavailable, "The leading master at %s did not answer: %v", base, err))
		},
	}
	p.ServeHTTP(w, r)
}

// StandbyState is GET /state on a standby: who it is and who leads.
type StandbyState struct {
	ID         string            `json:"id"`
	PID        string            `json:"pid"`
	Hostname   string            `json:"hostname"`
	Version    string            `json:"version"`
	StartTime  float64           `json:"start_time"`
	Elected    bool              `json:"elected"`
	Leader     string            `json:"leader,omitempty"`
	LeaderInfo *mesos.MasterInfo `json:"leader_info,omitempty"`
	LeaderURL  string            `json:"leader_url,omitempty"`
	Slaves     []any             `json:"slaves"`
	Frameworks []any             `json:"frameworks"`
}

func (s *standby) handleState(w http.ResponseWriter, r *http.Request) {
	st := StandbyState{ID: s.self.runID, PID: s.self.info.PID, Hostname: s.self.info.Hostname, Version: s.self.cfg.Version,
		StartTime: float64(s.started.UnixNano()) / 1e9, Slaves: []any{}, Frameworks: []any{}}
	if mi, base, ok := s.leader(); ok {
		st.Leader, st.LeaderInfo, st.LeaderURL = mi.PID, &mi, base
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *standby) handleHealth(w http.ResponseWriter, r *http.Request) {
	h := Health{Healthy: true, Registry: "not used by a standby"}
	if _, base, ok := s.leader(); ok {
		h.LeaderURL = base
	}
	writeJSON(w, http.StatusOK, h)
}

func (s *standby) handleMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprint(w, "# HELP corral_master_elected 1 while this master leads.\n# TYPE corral_master_elected gauge\ncorral_master_elected 0\n")
}
