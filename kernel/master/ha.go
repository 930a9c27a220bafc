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
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"corral/internal/edge"
	"corral/internal/lead"
	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// Contend serves the master's APIs on ln until ctx ends, as the leader
// while the election elects this master and as a standby otherwise.
// elect is given this master as the election knows it (its run id, its
// URL, and as Data the MasterInfo JSON to publish; ParseMember reads it
// back) and returns the election.
//
// Each election starts a new term: a fresh master state recovered from the
// registry in Postgres (agents get AgentReregisterTimeout to come back).
// When leadership may have been lost, or a registry write of the term is
// refused because another master began a term since, the term ends at
// once: its scheduler and agent streams close, so their clients look for
// the new leader.
//
// A standby answers scheduler SUBSCRIBE calls and agent connections with
// 307 to the leader, forwards the other scheduler calls and /weights to
// it, says on /state, /health and /redirect who leads, serves the console
// (its own embedded pages, and the leader's answers to what they read),
// and answers 503 while no leader is known.
func Contend(ctx context.Context, cfg Config, store Store, log *slog.Logger, ln net.Listener, elect func(self lead.Member) (lead.Election, error)) error {
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
	self := lead.Member{ID: first.runID, URL: first.url, Data: info}
	el, err := elect(self)
	if err != nil {
		return err
	}
	sb := &standby{el: el, self: first, member: self, started: time.Now(), log: log.With("component", "master")}
	sb.fwd = &lead.Forwarder{Self: self, Leader: el.Leader, Name: "master", Error: forwardError, Log: sb.log, Transport: cfg.Trust.Transport()}
	swap := lead.NewSwap(sb.routes())

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// One DNS server for every term; each term's master fills its table.
	var tables *dnsTables
	if cfg.DNSListen != "" {
		tables = &dnsTables{}
		waitDNS, err := startDNS(ctx, cfg, tables, sb.log)
		if err != nil {
			return err
		}
		defer func() { cancel(); waitDNS() }()
	}
	first.dns = tables
	srv := newServer(swap, cfg, sb.log)
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
				var err error
				if m, err = New(cfg, store, log); err != nil {
					sb.log.Error("cannot start a term", "err", err)
					return
				}
				m.dns = tables
			}
			m.metrics.elected.Set(1)
			sb.log.Info("elected: leading", "url", m.url)
			end := swap.Serve(lctx, m.routes())
			err := m.Lead(lctx)
			end()
			switch {
			case err != nil:
				// Leadership is given up: another master leads, or will.
				sb.log.Warn("deposed: another master began a term; standing by", "cause", err)
			case ctx.Err() == nil:
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

// ParseMember reads the data a master publishes in the election, its
// MasterInfo JSON, as the member it describes: its run id and base URL.
// It is the Parse of the masters' lead.ZKOptions.
func ParseMember(data []byte) (lead.Member, error) { return MemberParser("http")(data) }

// MemberParser is ParseMember for a cluster whose masters' URLs have
// scheme ("https" when they speak TLS).
func MemberParser(scheme string) func([]byte) (lead.Member, error) {
	return func(data []byte) (lead.Member, error) { return parseMember(data, scheme) }
}

func parseMember(data []byte, scheme string) (lead.Member, error) {
	var mi mesos.MasterInfo
	if err := json.Unmarshal(data, &mi); err != nil {
		return lead.Member{}, fmt.Errorf("master info: %w", err)
	}
	base, err := mi.BaseURLScheme(scheme)
	if err != nil {
		return lead.Member{}, err
	}
	return lead.Member{ID: mi.ID, URL: base, Data: data}, nil
}

// standby answers for a master that does not lead.
type standby struct {
	el      lead.Election
	self    *Master
	member  lead.Member // self as the election knows it
	started time.Time
	log     *slog.Logger
	fwd     *lead.Forwarder // to the leader
}

// leader returns the leader's info and base URL; ok is false when no
// other master is known to lead.
func (s *standby) leader() (mi mesos.MasterInfo, base string, ok bool) {
	l, known := s.el.Leader()
	if !known || l.Same(s.member) {
		// Unknown; or this master, elected a moment ago (the term is
		// starting), or at its own address under an earlier run id (it
		// crashed and came back before its old member expired): sending
		// clients there would be sending them back here.
		return mi, "", false
	}
	_ = json.Unmarshal(l.Data, &mi)
	return mi, l.URL, true
}

// routes are the standby's API. What it forwards to the leader (scheduler
// calls other than SUBSCRIBE, /weights, and what the console's pages read:
// /console/*, /framework/*, /agent/*) goes through one lead.Forwarder;
// the console's pages themselves come from the embedded files, for a
// browser that reaches only this master (say, the one port docker compose
// publishes) and cannot resolve the leader's advertised URL.
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
	for _, p := range []string{"/weights", "/teardown", "/master/teardown", "/secrets", "/secrets/*",
		"/maintenance/*", "/master/maintenance/*", "/machine/*", "/master/machine/*"} {
		r.Handle(p, s.fwd)
	}
	consoleFiles(r)
	for _, p := range []string{consolePrefix + "*", frameworkPrefix + "*", agentPrefix + "*"} {
		r.Handle(p, s.fwd)
	}
	r.NotFound(s.redirect)
	return r
}

// forwardError writes a failure of the standby's forwarder in the shape
// of the API the request is for: the console's JSON under its prefixes,
// Mesos' text elsewhere.
func forwardError(w http.ResponseWriter, r *http.Request, err error) {
	for _, p := range []string{consolePrefix, frameworkPrefix, agentPrefix, "/secrets"} {
		if strings.HasPrefix(r.URL.Path, p) {
			code, msg := edge.Fail(r, err)
			writeMessage(w, code, msg)
			return
		}
	}
	writeError(w, r, err)
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
	s.fwd.ServeHTTP(w, r)
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
