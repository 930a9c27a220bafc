package master

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"corral/internal/acl"
	"corral/internal/edge"
	"corral/kernel/internal/agentproto"
	"corral/kernel/master/internal/core"
	"corral/kernel/mesos"
)

func (m *Master) routes() http.Handler {
	r := chi.NewRouter()
	r.HandleFunc("/api/v1/scheduler", m.handleScheduler)
	r.Post("/api/v1", m.handleOperator)
	r.HandleFunc(agentproto.Path, m.handleAgent)
	r.Get("/state", m.handleState)
	r.Get("/state.json", m.handleState)
	r.Get("/master/state", m.handleState)
	r.Get("/master/state.json", m.handleState)
	r.Get("/health", m.handleHealth)
	r.Get("/master/health", m.handleHealth)
	r.Get("/redirect", m.handleRedirect)
	r.Get("/master/redirect", m.handleRedirect)
	r.Get("/weights", m.handleGetWeights)
	r.Put("/weights", m.handlePutWeights)
	r.Post("/teardown", m.handleTeardown)
	r.Post("/master/teardown", m.handleTeardown)
	r.Method(http.MethodGet, "/metrics", m.endpoint("/metrics", promhttp.HandlerFor(m.metrics.reg, promhttp.HandlerOpts{})))
	m.maintenanceRoutes(r)
	m.consoleRoutes(r)
	m.secretRoutes(r)
	return r
}

// WeightInfo is one entry of GET/PUT /weights (Mesos' JSON shape), and
// Mesos' WeightInfo message in the operator API (the pb tags are its
// field numbers).
type WeightInfo struct {
	Role   string  `json:"role" pb:"2"`
	Weight float64 `json:"weight" pb:"1,req"`
}

func (m *Master) handleGetWeights(w http.ResponseWriter, r *http.Request) {
	var out []WeightInfo
	if err := m.do(r.Context(), func(c *core.Core) {
		for role, wt := range c.Weights() {
			if m.cfg.Trust.ACLs.Allowed(acl.ViewRoles, edge.Principal(r.Context()), role) {
				out = append(out, WeightInfo{Role: role, Weight: wt})
			}
		}
	}); err != nil {
		writeError(w, r, errorf(http.StatusServiceUnavailable, "Master is stopping"))
		return
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Role < out[j].Role })
	if out == nil {
		out = []WeightInfo{}
	}
	writeJSON(w, http.StatusOK, out)
}

// handlePutWeights sets role weights at runtime; they are persisted in the
// registry before the call answers 200, and win over --weights on restart.
func (m *Master) handlePutWeights(w http.ResponseWriter, r *http.Request) {
	var ws []WeightInfo
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&ws); err != nil {
		writeError(w, r, errorf(http.StatusBadRequest, "Failed to parse body into a list of weights: %v", err))
		return
	}
	m.putWeights(w, r, ws)
}

// putWeights validates, authorizes and records weights, answering 200
// once they are durable (PUT /weights, UPDATE_WEIGHTS).
func (m *Master) putWeights(w http.ResponseWriter, r *http.Request, ws []WeightInfo) {
	for i, x := range ws {
		if err := validateRole(x.Role); err != nil {
			writeError(w, r, errorf(http.StatusBadRequest, "weights[%d].role: %v", i, err))
			return
		}
		if !m.authorize(w, r, acl.UpdateWeights, x.Role) {
			return
		}
		if !(x.Weight > 0) || x.Weight > 1e9 {
			writeError(w, r, errorf(http.StatusBadRequest, "weights[%d].weight: must be a positive number, got %v", i, x.Weight))
			return
		}
	}
	var dones []<-chan error
	for _, x := range ws {
		role, wt := x.Role, x.Weight
		dones = append(dones, m.registrar.enqueue("weight "+role, func(ctx context.Context) error { return m.store.SetWeight(ctx, role, wt) }))
	}
	if !m.awaitDurable(w, r, dones) {
		return
	}
	if err := m.do(r.Context(), func(c *core.Core) {
		for _, x := range ws {
			c.SetWeight(x.Role, x.Weight)
		}
	}); err != nil {
		writeError(w, r, errorf(http.StatusServiceUnavailable, "Master is stopping"))
		return
	}
	w.WriteHeader(http.StatusOK)
}

// handleRedirect sends clients to the leading master (this one).
func (m *Master) handleRedirect(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, m.url, http.StatusTemporaryRedirect)
}

// Health is the body of GET /health.
type Health struct {
	Healthy   bool   `json:"healthy"`
	Leader    bool   `json:"leader"`
	Recovered bool   `json:"recovered"`
	Registry  string `json:"registry"`
	Error     string `json:"error,omitempty"`
	// LeaderURL is, on a standby, the leading master's base URL.
	LeaderURL string `json:"leader_url,omitempty"`
}

func (m *Master) handleHealth(w http.ResponseWriter, r *http.Request) {
	ok, err := m.registrar.health()
	h := Health{Healthy: ok && m.recovered.Load(), Leader: true, Recovered: m.recovered.Load(), Registry: "ok"}
	if !ok {
		h.Registry = "unavailable"
		h.Error = "registry writes are failing; the master's log has the cause"
		edge.Note(r, err)
	}
	code := http.StatusOK
	if !h.Healthy {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, h)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// The bodies of GET /state; see package core for their fields.
type (
	// State is the body of GET /state: the master's whole view of the
	// cluster.
	State = core.State
	// AgentState is one agent in State.
	AgentState = core.AgentState
	// FrameworkState is one framework in State.
	FrameworkState = core.FrameworkState
	// TaskState is one task in State.
	TaskState = core.TaskState
	// StatusState is the latest status of a task in State.
	StatusState = core.StatusState
	// OfferState is one outstanding offer in State.
	OfferState = core.OfferState
	// ResourceSummary is a resource set in State.
	ResourceSummary = core.ResourceSummary
)

func (m *Master) handleState(w http.ResponseWriter, r *http.Request) {
	// The loop only copies what /state reads; the body is built here.
	var read stateRead
	if err := m.do(r.Context(), read.take); err != nil {
		writeError(w, r, errorf(http.StatusServiceUnavailable, "Master is stopping"))
		return
	}
	st, discovery := read.src.State(read.now), read.discovery
	st.Version, st.ID, st.Leader, st.LeaderInfo = m.cfg.Version, m.runID, m.leaderPID(), m.info
	st.StartTime, st.ElectedTime, st.Hostname = secs(m.startedAt), secs(m.startedAt), m.info.Hostname
	m.visible(r, &st)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	// Streamed: a failure here is the client going away.
	_ = writeState(w, withDiscovery(st, discovery))
}

// stateRead is what GET /state takes of the core on the master's loop.
type stateRead struct {
	src       core.StateSource
	discovery map[string]map[string]*mesos.DiscoveryInfo
	now       time.Time
}

// take reads c; it runs on the loop.
func (s *stateRead) take(c *core.Core) {
	s.src, s.discovery, s.now = c.StateSource(), c.TaskDiscovery(), time.Now()
}

// leaderPID is /state's "leader": the master's pid with its IP address
// where it has one, as Mesos' is (Mesos-DNS reads the leader's address
// from it and accepts no host name).
func (m *Master) leaderPID() string {
	if a := m.info.Address; a != nil && a.IP != "" {
		return "master@" + net.JoinHostPort(a.IP, strconv.Itoa(int(m.info.Port)))
	}
	return m.info.PID
}

// stateBody is the body of GET /state: State, its current tasks with
// their DiscoveryInfo as Mesos' v0 "discovery" (Mesos-DNS reads it).
type stateBody struct {
	State
	Frameworks []frameworkBody `json:"frameworks"`
}

type frameworkBody struct {
	FrameworkState
	Tasks []taskBody `json:"tasks"`
}

type taskBody struct {
	TaskState
	Discovery *mesos.DiscoveryInfo `json:"discovery,omitempty"`
}

func withDiscovery(st State, discovery map[string]map[string]*mesos.DiscoveryInfo) stateBody {
	b := stateBody{State: st, Frameworks: make([]frameworkBody, len(st.Frameworks))}
	for i, f := range st.Frameworks {
		b.Frameworks[i] = frameworkBody{FrameworkState: f, Tasks: make([]taskBody, len(f.Tasks))}
		for j, t := range f.Tasks {
			b.Frameworks[i].Tasks[j] = taskBody{TaskState: t, Discovery: discovery[f.ID][t.ID]}
		}
	}
	return b
}

func secs(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// handleTeardown serves POST /teardown?frameworkId=ID (Mesos' operator
// endpoint; the id may also come as JSON {"framework_id": "ID"}): the
// framework is removed for good and its tasks killed. teardown_frameworks
// decides, for the framework's principal.
func (m *Master) handleTeardown(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("frameworkId")
	if id == "" && r.ContentLength != 0 {
		var body struct {
			FrameworkID string `json:"framework_id"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeError(w, r, errorf(http.StatusBadRequest, "Failed to parse the body: %v", err))
			return
		}
		id = body.FrameworkID
	}
	if id == "" {
		writeError(w, r, errorf(http.StatusBadRequest, "Missing 'frameworkId' query parameter"))
		return
	}
	m.teardown(w, r, id)
}

// teardown removes framework id for good (POST /teardown, TEARDOWN).
func (m *Master) teardown(w http.ResponseWriter, r *http.Request, id string) {
	var owner string
	var known bool
	if err := m.do(r.Context(), func(c *core.Core) { owner, known = c.Owner(id) }); err != nil {
		writeError(w, r, errorf(http.StatusServiceUnavailable, "Master is stopping"))
		return
	}
	if !m.authorize(w, r, acl.TeardownFrameworks, owner) {
		return
	}
	var ok bool
	if err := m.do(r.Context(), func(c *core.Core) {
		var fx core.Effects
		fx, ok = c.Teardown(id, time.Now())
		m.apply(fx)
	}); err != nil {
		writeError(w, r, errorf(http.StatusServiceUnavailable, "Master is stopping"))
		return
	}
	if !known || !ok {
		writeError(w, r, errorf(http.StatusBadRequest, "No framework found with specified ID"))
		return
	}
	w.WriteHeader(http.StatusOK)
}

// awaitDurable waits for registry writes; false means it answered an
// error (a write failed) or the caller went away.
func (m *Master) awaitDurable(w http.ResponseWriter, r *http.Request, dones []<-chan error) bool {
	for _, d := range dones {
		select {
		case err := <-d:
			if err != nil {
				writeError(w, r, notWritten(err))
				return false
			}
		case <-r.Context().Done():
			return false
		}
	}
	return true
}
