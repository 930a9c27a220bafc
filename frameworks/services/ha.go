package services

import (
	"corral/internal/edge"
	"net/http"

	"corral/internal/lead"
)

// Leadership of the services instances sharing one database (see
// corral/internal/lead). With Config.ZK they elect a leader in ZooKeeper;
// without it, the instance holding the database's services lock leads and
// the others wait for it. Each time an instance is elected it begins a
// services term in Postgres (store.BeginTerm) before loading the state,
// so a deposed leader that has not noticed yet has its writes refused and
// its term ends at the first of them.

// memberPrefix names services instances' members in ZooKeeper: distinct
// from the jobs instances' ("jobs_") and the masters' ("json.info_"), so
// that sharing a path never mixes two elections.
const memberPrefix = "services_"

// leadLockKey is the Postgres advisory lock by which instances without
// ZooKeeper elect one: "corralsv" in ASCII.
const leadLockKey int64 = 0x636f7272616c7376

// election returns this instance's election: in ZooKeeper with Config.ZK,
// else by the database lock.
func (s *Service) election(self lead.Member) (lead.Election, error) {
	if s.cfg.ZK != "" {
		return lead.NewZK(s.cfg.ZK, self, lead.ZKOptions{SessionTimeout: s.cfg.ZKSessionTimeout, Prefix: memberPrefix,
			Logger: s.baseLog.With("component", "services-election")})
	}
	return lead.NewDBLock(s.cfg.DB, leadLockKey, self, s.baseLog.With("component", "services-election"))
}

// standby answers for an instance that does not lead: like Marathon's
// standbys it proxies the whole API (reads and writes) to the leader, so a
// client can talk to any instance. /ping, /v2/leader and /health answer
// here.
type standby struct {
	self  lead.Member
	el    lead.Election
	trust edge.Trust
}

func (s *standby) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("pong\n"))
	})
	mux.HandleFunc("GET /v2/leader", s.leader)
	mux.HandleFunc("GET /health", s.health)
	mux.Handle("/", &lead.Forwarder{Self: s.self, Leader: s.el.Leader, Name: "services instance", Error: writeErr, Transport: s.trust.Transport()})
	return mux
}

// leaderURL is the leader's URL when it is another instance.
func (s *standby) leaderURL() (string, bool) {
	l, ok := s.el.Leader()
	if !ok || l.Same(s.self) {
		// Unknown, or this instance was elected a moment ago and its term
		// is loading.
		return "", false
	}
	return l.URL, true
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
