package services

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"corral/frameworks/internal/removed"
	"corral/frameworks/services/app"
	"corral/frameworks/services/store"
	"corral/internal/acl"
	"corral/internal/edge"
	"corral/kernel/mesos"
	"corral/kernel/sched"
)

// errorBody is Marathon's error shape.
type errorBody struct {
	Message     string   `json:"message"`
	Details     any      `json:"details,omitempty"`
	Deployments []idOnly `json:"deployments,omitempty"`
}

type idOnly struct {
	ID string `json:"id"`
}

// writeJSON writes v with a status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeErr maps an error to Marathon's status codes and bodies. Every
// client mistake is a 4xx; only a failure of ours is a 5xx, whose cause
// goes to the log, not to the client.
func writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var (
		ij *app.InvalidJSON
		ve *app.ValidationError
		nf *errNotFound
		cf *errConflict
		un *errUnavailable
		br *badRequest
	)
	if ids, ok := lockedError(err); ok {
		body := errorBody{Message: err.Error()}
		for _, id := range ids {
			body.Deployments = append(body.Deployments, idOnly{id})
		}
		writeJSON(w, http.StatusConflict, body)
		return
	}
	switch {
	case errors.As(err, &ij):
		writeJSON(w, http.StatusBadRequest, ij)
	case errors.As(err, &ve):
		writeJSON(w, http.StatusUnprocessableEntity, ve)
	case errors.As(err, &br):
		writeJSON(w, http.StatusBadRequest, errorBody{Message: br.msg})
	case errors.As(err, &nf):
		writeJSON(w, http.StatusNotFound, errorBody{Message: nf.msg})
	case errors.As(err, &cf):
		writeJSON(w, http.StatusConflict, errorBody{Message: cf.msg})
	case errors.As(err, &un):
		edge.Note(r, un.err)
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Message: "cannot store the change: the database is not reachable; retry"})
	case errors.Is(err, errStopped):
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Message: err.Error()})
	default:
		// Also the edge's own errors (413, 408) with their messages.
		code, msg := edge.Fail(r, err)
		writeJSON(w, code, errorBody{Message: msg})
	}
}

type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

// routes is the API. Every route but /ping and /health demands an
// authenticated principal when the cluster has credentials (the edge's
// guard); the ACLs then decide what it may do with apps (see authz.go).
// These name no app and need authentication only: /ping, /health,
// /v2/info, /v2/leader, /metrics and /metrics/prometheus. Once the master
// has removed the framework every change is 503 (removed.Guard).
func (s *Service) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(removed.Guard("services", "DELETE FROM services.framework", func() (sched.Status, bool) { return s.client.Status(), true }))
	r.Get("/ping", s.ping)
	r.Get("/health", s.health)
	r.Get("/v2/info", s.info)
	r.Get("/v2/leader", s.leader)
	r.Get("/metrics", s.metricsJSON)
	r.Get("/metrics/prometheus", s.metricsProm)
	r.Get("/v2/apps", s.listApps)
	r.Post("/v2/apps", s.createApp)
	r.Put("/v2/apps", s.bulkApps)
	r.Patch("/v2/apps", s.bulkApps)
	r.HandleFunc("/v2/apps/*", s.appRoute)
	r.Get("/v2/tasks", s.listTasks)
	r.Post("/v2/tasks/delete", s.deleteTasks)
	r.Get("/v2/deployments", s.listDeployments)
	r.Delete("/v2/deployments/{id}", s.deleteDeployment)
	r.Get("/v2/queue", s.queue)
	r.Delete("/v2/queue/*", s.resetDelay)
	r.Get("/v2/groups", s.groupRoute)
	r.HandleFunc("/v2/groups/*", s.groupRoute)
	r.Post("/v2/groups", s.groupRoute)
	r.Put("/v2/groups", s.groupRoute)
	r.Delete("/v2/groups", s.groupRoute)
	r.Get("/v2/events", s.eventStream)
	r.Get("/v2/eventSubscriptions", s.listSubscriptions)
	r.Post("/v2/eventSubscriptions", s.subscribe)
	r.Delete("/v2/eventSubscriptions", s.unsubscribe)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{Message: "Not found: " + r.URL.Path})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Message: "Method " + r.Method + " is not allowed on " + r.URL.Path})
	})
	return r
}

// ping answers "pong" per Marathon's content negotiation.
func (s *Service) ping(w http.ResponseWriter, r *http.Request) {
	accept := r.Header.Get("Accept")
	switch {
	case accept == "" || strings.Contains(accept, "text/plain") || strings.Contains(accept, "*/*"):
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "pong\n")
	case strings.Contains(accept, "application/json"):
		writeJSON(w, http.StatusOK, "pong")
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// health is GET /health on the leading instance: 200 while it reaches
// its database and its framework is subscribed to a master, or has been
// without a subscription for no longer than the grace (two of the
// master's heartbeat intervals: reconnecting, a master failover, the
// start); 503 otherwise, with "reason" naming every problem and
// "framework" the connection's facts. A framework the master removed
// stays 503: this instance schedules nothing more (see lead). Tasks keep
// running while the database is away; writes wait for it.
func (s *Service) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var writes map[string]any
	_ = s.do(ctx, func(c *core) { writes = c.writeStats() })
	fw := s.client.Status()
	rep := fw.Report(time.Now())
	body := map[string]any{"healthy": true, "leader": true, "leaderUrl": s.leaderURL, "database": "ok",
		"connected": fw.State == sched.StateSubscribed, "writes": writes, "framework": rep}
	var problems []string
	if err := s.store.Ping(ctx); err != nil {
		edge.Note(r, err)
		body["database"] = "not reachable"
		problems = append(problems, "database not reachable")
	}
	if !rep.Sound {
		problems = append(problems, rep.Reason)
	}
	code := http.StatusOK
	if len(problems) > 0 {
		body["healthy"], body["reason"] = false, strings.Join(problems, "; ")
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, body)
}

func (s *Service) info(w http.ResponseWriter, r *http.Request) {
	var connected bool
	_ = s.do(r.Context(), func(c *core) { connected = c.subscribed })
	writeJSON(w, http.StatusOK, map[string]any{
		"name": "corral-services", "version": s.cfg.Version, "buildref": s.cfg.Version, "elected": true,
		"leader": hostOf(s.leaderURL), "frameworkId": s.FrameworkID(), "connected": connected,
		"marathon_config": map[string]any{
			"master": strings.Join(s.cfg.Masters, ","), "failover_timeout": int64(s.cfg.FailoverTimeout.Seconds()),
			"framework_name": s.cfg.Name, "mesos_role": s.cfg.Role, "mesos_user": s.cfg.User,
			"checkpoint": true, "executor": "//cmd", "hostname": hostOf(s.leaderURL), "webui_url": s.leaderURL,
			"decline_offer_duration": s.cfg.DeclineRefuse.Milliseconds(),
		},
		"zookeeper_config": map[string]any{},
		"http_config":      map[string]any{"http_port": portOf(s.leaderURL)},
		"event_subscriber": map[string]any{"type": "http_callback", "http_endpoints": []string{}},
	})
}

func hostOf(u string) string {
	u = strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
	return strings.TrimSuffix(u, "/")
}

func portOf(u string) int {
	h := hostOf(u)
	if i := strings.LastIndex(h, ":"); i >= 0 {
		p, _ := strconv.Atoi(h[i+1:])
		return p
	}
	return 80
}

func (s *Service) leader(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"leader": hostOf(s.leaderURL)})
}

// --- apps ------------------------------------------------------------------

// appPath splits /v2/apps/<id>[/restart|/tasks[/<task>]|/versions[/<v>]].
// App id segments can never be restart, tasks or versions, so the suffix
// is unambiguous.
func appPath(rest string) (id, sub, arg string) {
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	n := len(segs)
	switch {
	case n >= 2 && (segs[n-1] == "restart" || segs[n-1] == "tasks" || segs[n-1] == "versions"):
		return app.CanonicalID(strings.Join(segs[:n-1], "/")), segs[n-1], ""
	case n >= 3 && (segs[n-2] == "tasks" || segs[n-2] == "versions"):
		return app.CanonicalID(strings.Join(segs[:n-2], "/")), segs[n-2], segs[n-1]
	}
	return app.CanonicalID(strings.Join(segs, "/")), "", ""
}

func (s *Service) appRoute(w http.ResponseWriter, r *http.Request) {
	id, sub, arg := appPath(chi.URLParam(r, "*"))
	m := r.Method
	switch {
	case sub == "" && strings.HasSuffix(id, "/*") && m == http.MethodGet:
		s.listGroupApps(w, r, strings.TrimSuffix(id, "/*"))
	case sub == "" && m == http.MethodGet:
		s.getApp(w, r, id)
	case sub == "" && (m == http.MethodPut || m == http.MethodPatch):
		s.updateApp(w, r, id, m == http.MethodPatch)
	case sub == "" && m == http.MethodDelete:
		s.deleteApp(w, r, id)
	case sub == "restart" && m == http.MethodPost:
		s.restartApp(w, r, id)
	case sub == "tasks" && arg == "" && m == http.MethodGet:
		s.appTasks(w, r, id)
	case sub == "tasks" && m == http.MethodDelete:
		s.killAppTasks(w, r, id, arg)
	case sub == "tasks" && arg != "" && m == http.MethodGet:
		s.appTask(w, r, id, arg)
	case sub == "versions" && arg == "" && m == http.MethodGet:
		s.appVersions(w, r, id)
	case sub == "versions" && m == http.MethodGet:
		s.appVersion(w, r, id, arg)
	default:
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Message: "Method " + m + " is not allowed on " + r.URL.Path})
	}
}

// readBody reads a request's body within the edge's limits (413 past the
// size, 408 when it is too slow).
func readBody(r *http.Request) ([]byte, error) {
	return edge.ReadBody(r)
}

func boolParam(r *http.Request, name string, def bool) bool {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return def
	}
	return b
}

// framework is what app definitions may name of this framework without
// asking for anything corral does not do: its role and user.
func (s *Service) framework() app.Framework {
	return app.Framework{Role: s.cfg.Role, User: s.cfg.User}
}

// decodeApp parses, defaults and validates an app definition, and returns
// the warnings about the fields it ignored.
func (s *Service) decodeApp(body []byte) (app.App, []app.Warning, error) {
	a, ws, err := app.DecodeRequest(body, s.framework())
	if err != nil {
		return app.App{}, nil, err
	}
	a.Normalize()
	if ve := app.Validate(a); ve != nil {
		return app.App{}, nil, ve
	}
	return a, ws, nil
}

// warningTexts are warnings as answers carry them: a "warnings" list of
// strings, left out when empty so that answers without warnings keep the
// shape Marathon's clients parse.
func warningTexts(ws []app.Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.String())
	}
	return out
}

// deploymentResult writes Marathon's DeploymentResult, with the warnings
// (see warningTexts) of the request that started the deployment.
func deploymentResult(w http.ResponseWriter, code int, d *deployment, warnings ...app.Warning) {
	w.Header().Set("Marathon-Deployment-Id", d.ID)
	body := map[string]any{"deploymentId": d.ID, "version": d.Version}
	if ws := warningTexts(warnings); len(ws) > 0 {
		body["warnings"] = ws
	}
	writeJSON(w, code, body)
}

func (s *Service) createApp(w http.ResponseWriter, r *http.Request) {
	if !s.grants(w, r, acl.ManageApps) {
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	a, warnings, err := s.decodeApp(body)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	if !s.may(w, r, acl.ManageApps, a.ID) {
		return
	}
	force := boolParam(r, "force", false)
	var (
		out json.RawMessage
		dep *deployment
	)
	client, uri := r.RemoteAddr, r.URL.Path
	err = s.mutate(r.Context(), func(c *core) (*commit, error) {
		if as := c.apps[a.ID]; as != nil {
			if as.deleting {
				return nil, &errLocked{ids: idsOf(c.deploymentsOf(a.ID))}
			}
			return nil, &errConflict{fmt.Sprintf("An app with id [%s] already exists.", a.ID)}
		}
		if c.groups[a.ID] != nil {
			return nil, &errConflict{fmt.Sprintf("A group with id [%s] already exists.", a.ID)}
		}
		cm, d, err := c.deploy([]change{{id: a.ID, next: &a, action: actionStart}}, force, time.Now())
		if err != nil {
			return nil, err
		}
		dep = d
		cm.apply(func(c *core) {
			out = c.appInfo(c.apps[a.ID], true)
			c.s.bus.Publish("api_post_event", map[string]any{"clientIp": client, "uri": uri, "appDefinition": json.RawMessage(out)})
		})
		return cm, nil
	})
	if err != nil {
		writeErr(w, r, err)
		return
	}
	w.Header().Set("Location", a.ID)
	w.Header().Set("Marathon-Deployment-Id", dep.ID)
	if ws := warningTexts(warnings); len(ws) > 0 {
		out = spliceJSON(out, map[string]any{"warnings": ws})
	}
	writeJSON(w, http.StatusCreated, out)
}

func idsOf(ds []map[string]string) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d["id"])
	}
	return out
}

// appMatches applies GET /v2/apps filters.
type appFilter struct {
	cmd, id string
	labels  []labelSelector
}

type labelSelector struct {
	key, op string
	values  []string
}

var labelRe = regexp.MustCompile(`^\s*([^!=\s]+)\s*(?:(==|!=|=)\s*(\S*)|\s+(in|notin)\s*\(([^)]*)\))?\s*$`)

// parseLabelSelector parses Marathon's label selector: "k", "k==v", "k!=v",
// "k in (a, b)", "k notin (a)", comma = AND (commas inside parentheses
// belong to the set).
func parseLabelSelector(s string) ([]labelSelector, error) {
	var parts []string
	depth, start := 0, 0
	for i, ch := range s {
		switch ch {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	parts = append(parts, s[start:])
	var out []labelSelector
	for _, p := range parts {
		if strings.TrimSpace(p) == "" {
			continue
		}
		m := labelRe.FindStringSubmatch(p)
		if m == nil {
			return nil, &badRequest{fmt.Sprintf("invalid label selector %q", p)}
		}
		sel := labelSelector{key: m[1]}
		switch {
		case m[2] != "":
			sel.op = m[2]
			if sel.op == "=" {
				sel.op = "=="
			}
			sel.values = []string{m[3]}
		case m[4] != "":
			sel.op = m[4]
			for _, v := range strings.Split(m[5], ",") {
				sel.values = append(sel.values, strings.TrimSpace(v))
			}
		default:
			sel.op = "exists"
		}
		out = append(out, sel)
	}
	return out, nil
}

func (f appFilter) match(a app.App) bool {
	if f.cmd != "" && (a.Cmd == nil || !strings.Contains(*a.Cmd, f.cmd)) {
		return false
	}
	if f.id != "" && !strings.Contains(strings.ToLower(a.ID), strings.ToLower(f.id)) {
		return false
	}
	for _, sel := range f.labels {
		v, ok := a.Labels[sel.key]
		switch sel.op {
		case "exists":
			if !ok {
				return false
			}
		case "==":
			if !ok || v != sel.values[0] {
				return false
			}
		case "!=":
			if ok && v == sel.values[0] {
				return false
			}
		case "in":
			if !ok || !contains(sel.values, v) {
				return false
			}
		case "notin":
			if ok && contains(sel.values, v) {
				return false
			}
		}
	}
	return true
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func embeds(r *http.Request, prefix string) map[string]bool {
	out := map[string]bool{}
	for _, e := range r.URL.Query()["embed"] {
		for _, p := range strings.Split(e, ",") {
			out[strings.TrimPrefix(strings.TrimSpace(p), prefix)] = true
		}
	}
	return out
}

func (s *Service) listApps(w http.ResponseWriter, r *http.Request) {
	sees, ok := s.viewer(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	f := appFilter{cmd: q.Get("cmd"), id: q.Get("id")}
	if l := q.Get("label"); l != "" {
		sels, err := parseLabelSelector(l)
		if err != nil {
			writeErr(w, r, err)
			return
		}
		f.labels = sels
	}
	withTasks := embeds(r, "apps.")["tasks"]
	var apps []json.RawMessage
	err := s.do(r.Context(), func(c *core) {
		for _, id := range sortedKeys(c.apps) {
			as := c.apps[id]
			if as.deleting || !f.match(as.app) || !sees(id) {
				continue
			}
			apps = append(apps, c.appInfo(as, withTasks))
		}
	})
	if err != nil {
		writeErr(w, r, err)
		return
	}
	if apps == nil {
		apps = []json.RawMessage{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"apps": apps})
}

// listGroupApps is GET /v2/apps/<group>/*: the group's apps that r's
// principal may see; 403 if it may see neither the group nor any of them.
func (s *Service) listGroupApps(w http.ResponseWriter, r *http.Request, group string) {
	sees, ok := s.viewer(w, r)
	if !ok {
		return
	}
	var apps []json.RawMessage
	group = app.CanonicalID(group)
	found := false
	err := s.do(r.Context(), func(c *core) {
		found = c.groupExists(group)
		for _, id := range sortedKeys(c.apps) {
			if as := c.apps[id]; !as.deleting && app.InGroup(group, id) && sees(id) {
				apps = append(apps, c.appInfo(as, true))
			}
		}
	})
	if err == nil && len(apps) == 0 && group != "/" {
		err = s.authorize(r, acl.ViewApps, group)
	}
	if err == nil && !found {
		err = &errNotFound{fmt.Sprintf("Group '%s' does not exist", group)}
	}
	if err != nil {
		writeErr(w, r, err)
		return
	}
	if apps == nil {
		apps = []json.RawMessage{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"*": apps})
}

func appNotFound(id string) error { return &errNotFound{fmt.Sprintf("App '%s' does not exist", id)} }

func (s *Service) getApp(w http.ResponseWriter, r *http.Request, id string) {
	if !s.may(w, r, acl.ViewApps, id) {
		return
	}
	var out json.RawMessage
	err := s.do(r.Context(), func(c *core) {
		if as := c.apps[id]; as != nil && !as.deleting {
			out = c.appInfo(as, true)
		}
	})
	if err == nil && out == nil {
		err = appNotFound(id)
	}
	if err != nil {
		writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]json.RawMessage{"app": out})
}

// updateApp is PUT (partialUpdate=true merges, false replaces; creates the
// app if missing) and PATCH (merge; the app must exist).
func (s *Service) updateApp(w http.ResponseWriter, r *http.Request, id string, patch bool) {
	if !s.may(w, r, acl.ManageApps, id) {
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	if err := app.ValidID(id); err != nil {
		writeErr(w, r, &app.ValidationError{Message: "Object is not valid", Details: []app.Detail{{Path: "/id", Errors: []string{err.Error()}}}})
		return
	}
	partial := patch || boolParam(r, "partialUpdate", true)
	force := boolParam(r, "force", false)
	var (
		dep      *deployment
		created  bool
		warnings []app.Warning
	)
	err = s.mutate(r.Context(), func(c *core) (cm *commit, oerr error) {
		as := c.apps[id]
		if as != nil && as.deleting {
			as = nil
		}
		var next app.App
		switch {
		case as == nil && patch:
			oerr = appNotFound(id)
			return
		case as == nil || !partial:
			a, ws, err := app.DecodeRequest(body, s.framework())
			if err != nil {
				oerr = err
				return
			}
			warnings = ws
			if a.ID == "" {
				a.ID = id
			}
			next = a
			next.Normalize()
		default:
			m, ws, err := app.Merge(as.app, body, s.framework())
			if err != nil {
				oerr = err
				return
			}
			warnings = ws
			next = m
			next.Normalize()
		}
		if app.CanonicalID(next.ID) != id {
			oerr = &app.ValidationError{Message: "Object is not valid", Details: []app.Detail{{Path: "/id", Errors: []string{fmt.Sprintf("id %q in the body does not match %q in the URL", next.ID, id)}}}}
			return
		}
		next.ID = id
		if ve := app.Validate(next); ve != nil {
			oerr = ve
			return
		}
		created = as == nil
		ch, changed := c.updateOf(id, next)
		if !changed {
			dep = c.unchanged([]string{id}, time.Now())
			return
		}
		cm, dep, oerr = c.deploy([]change{ch}, force, time.Now())
		return
	})
	if err != nil {
		writeErr(w, r, err)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
		w.Header().Set("Location", id)
	}
	deploymentResult(w, code, dep, warnings...)
}

// bulkApps is PUT/PATCH /v2/apps with an array of apps, one deployment.
func (s *Service) bulkApps(w http.ResponseWriter, r *http.Request) {
	if !s.grants(w, r, acl.ManageApps) {
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		writeErr(w, r, &app.InvalidJSON{Message: "Invalid JSON", Details: []app.Detail{{Path: "/", Errors: []string{"expected an array of apps"}}}})
		return
	}
	patch := r.Method == http.MethodPatch
	partial := patch || boolParam(r, "partialUpdate", true)
	force := boolParam(r, "force", false)
	var (
		dep      *deployment
		warnings []app.Warning
	)
	err = s.mutate(r.Context(), func(c *core) (cm *commit, oerr error) {
		var (
			changes []change
			given   []string
		)
		for i, raw := range raws {
			var probe struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(raw, &probe)
			id := app.CanonicalID(probe.ID)
			if probe.ID == "" || app.ValidID(id) != nil {
				oerr = &app.ValidationError{Message: "Object is not valid", Details: []app.Detail{{Path: fmt.Sprintf("(%d)/id", i), Errors: []string{"a valid app id is required"}}}}
				return
			}
			if oerr = s.authorize(r, acl.ManageApps, id); oerr != nil {
				return
			}
			as := c.apps[id]
			var next app.App
			var ws []app.Warning
			var err error
			switch {
			case as == nil && patch:
				oerr = appNotFound(id)
				return
			case as == nil || !partial:
				next, ws, err = app.DecodeRequest(raw, s.framework())
			default:
				next, ws, err = app.Merge(as.app, raw, s.framework())
			}
			if err != nil {
				oerr = err
				return
			}
			for _, w := range ws {
				warnings = append(warnings, w.In(fmt.Sprintf("(%d)", i)))
			}
			next.ID = id
			next.Normalize()
			if ve := app.Validate(next); ve != nil {
				oerr = ve
				return
			}
			given = append(given, id)
			if ch, changed := c.updateOf(id, next); changed {
				changes = append(changes, ch)
			}
		}
		switch {
		case len(given) == 0:
			oerr = &badRequest{"no apps given"}
		case len(changes) == 0:
			dep = c.unchanged(given, time.Now())
		default:
			cm, dep, oerr = c.deploy(changes, force, time.Now())
		}
		return
	})
	if err != nil {
		writeErr(w, r, err)
		return
	}
	deploymentResult(w, http.StatusOK, dep, warnings...)
}

func (s *Service) deleteApp(w http.ResponseWriter, r *http.Request, id string) {
	if !s.may(w, r, acl.ManageApps, id) {
		return
	}
	force := boolParam(r, "force", true) // Marathon's default for DELETE
	var dep *deployment
	err := s.mutate(r.Context(), func(c *core) (cm *commit, oerr error) {
		if as := c.apps[id]; as == nil || as.deleting {
			return nil, appNotFound(id)
		}
		cm, dep, oerr = c.deploy([]change{{id: id, action: actionStop}}, force, time.Now())
		return
	})
	if err != nil {
		writeErr(w, r, err)
		return
	}
	deploymentResult(w, http.StatusOK, dep)
}

func (s *Service) restartApp(w http.ResponseWriter, r *http.Request, id string) {
	if !s.may(w, r, acl.ManageApps, id) {
		return
	}
	force := boolParam(r, "force", false)
	var dep *deployment
	err := s.mutate(r.Context(), func(c *core) (cm *commit, oerr error) {
		as := c.apps[id]
		if as == nil || as.deleting {
			return nil, appNotFound(id)
		}
		next := as.app
		// A restart is a new config version of the same definition.
		cm, dep, oerr = c.deploy([]change{{id: id, next: &next, action: actionRestart}}, force, time.Now())
		return
	})
	if err != nil {
		writeErr(w, r, err)
		return
	}
	deploymentResult(w, http.StatusOK, dep)
}

func (s *Service) appTasks(w http.ResponseWriter, r *http.Request, id string) {
	if !s.may(w, r, acl.ViewApps, id) {
		return
	}
	var tasks []TaskView
	found := false
	err := s.do(r.Context(), func(c *core) {
		if as := c.apps[id]; as != nil && !as.deleting {
			found = true
			tasks = c.tasksOf(id)
		}
	})
	if err == nil && !found {
		err = appNotFound(id)
	}
	if err != nil {
		writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tasks": tasks})
}

func (s *Service) appTask(w http.ResponseWriter, r *http.Request, id, taskID string) {
	if !s.may(w, r, acl.ViewApps, id) {
		return
	}
	var tv *TaskView
	err := s.do(r.Context(), func(c *core) {
		if in := c.instances[taskID]; in != nil && in.AppID == id {
			v := c.taskView(in)
			tv = &v
		}
	})
	if err == nil && tv == nil {
		err = &errNotFound{fmt.Sprintf("Task '%s' does not exist", taskID)}
	}
	if err != nil {
		writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"task": tv})
}

// killAppTasks is DELETE /v2/apps/{id}/tasks[/{taskId}]: kill (and with
// scale=true also scale the app down by the number killed).
func (s *Service) killAppTasks(w http.ResponseWriter, r *http.Request, id, taskID string) {
	if !s.may(w, r, acl.ManageApps, id) {
		return
	}
	host := r.URL.Query().Get("host")
	scale := boolParam(r, "scale", false)
	force := boolParam(r, "force", false)
	var (
		killed []TaskView
		dep    *deployment
	)
	err := s.mutate(r.Context(), func(c *core) (cm *commit, oerr error) {
		as := c.apps[id]
		if as == nil || as.deleting {
			return nil, appNotFound(id)
		}
		var targets []*instance
		for _, in := range c.byApp[id] {
			if (taskID != "" && in.TaskID != taskID) || (host != "" && in.Host != host) {
				continue
			}
			targets = append(targets, in)
		}
		if taskID != "" && len(targets) == 0 {
			return nil, &errNotFound{fmt.Sprintf("Task '%s' does not exist", taskID)}
		}
		sort.Slice(targets, func(i, j int) bool { return targets[i].TaskID < targets[j].TaskID })
		for _, in := range targets {
			killed = append(killed, c.taskView(in))
		}
		if !scale {
			c.killAll(targets, "killed through the API")
			return nil, nil
		}
		next := as.app
		next.Instances = max(0, next.Instances-len(targets))
		cm, dep, oerr = c.deploy([]change{{id: id, next: &next, action: actionScale}}, force, time.Now())
		if oerr != nil {
			return nil, oerr
		}
		// Killed once the smaller app is durable, lest they be replaced.
		cm.apply(func(c *core) { c.killAll(targets, "killed through the API") })
		return cm, nil
	})
	if err != nil {
		writeErr(w, r, err)
		return
	}
	if dep != nil {
		deploymentResult(w, http.StatusOK, dep)
		return
	}
	if taskID != "" {
		writeJSON(w, http.StatusOK, map[string]any{"task": killed[0]})
		return
	}
	if killed == nil {
		killed = []TaskView{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tasks": killed})
}

// readTimeout bounds the API's own reads of the database.
const readTimeout = 10 * time.Second

func (s *Service) appVersions(w http.ResponseWriter, r *http.Request, id string) {
	if !s.may(w, r, acl.ViewApps, id) {
		return
	}
	if app.ValidID(id) != nil {
		// No app can have this id; asking Postgres could only fail (a NUL
		// byte is not even text to it).
		writeErr(w, r, appNotFound(id))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	vs, err := s.store.AppVersions(ctx, id)
	if err == nil && len(vs) == 0 {
		err = appNotFound(id)
	}
	if err != nil {
		if isNotFound(err) {
			err = appNotFound(id)
		}
		writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": vs})
}

func (s *Service) appVersion(w http.ResponseWriter, r *http.Request, id, version string) {
	if !s.may(w, r, acl.ViewApps, id) {
		return
	}
	// Only valid ids and timestamps are ever stored; Postgres would fail on
	// some other strings (a NUL byte is not text to it).
	var spec json.RawMessage
	err := store.ErrNotFound
	if _, perr := app.ParseVersion(version); perr == nil && app.ValidID(id) == nil {
		ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
		defer cancel()
		spec, err = s.store.AppVersion(ctx, id, version)
	}
	if err != nil {
		if isNotFound(err) {
			err = &errNotFound{fmt.Sprintf("App '%s' does not exist in version %s", id, version)}
		}
		writeErr(w, r, err)
		return
	}
	var a app.App
	if json.Unmarshal(spec, &a) == nil {
		a.Normalize() // stored before fields with defaults were added
		writeJSON(w, http.StatusOK, a)
		return
	}
	writeJSON(w, http.StatusOK, spec)
}

// --- tasks -----------------------------------------------------------------

func (s *Service) listTasks(w http.ResponseWriter, r *http.Request) {
	sees, ok := s.viewer(w, r)
	if !ok {
		return
	}
	statuses := map[string]bool{}
	for _, k := range []string{"status", "status[]"} {
		for _, v := range r.URL.Query()[k] {
			statuses[strings.ToLower(v)] = true
		}
	}
	var tasks []TaskView
	err := s.do(r.Context(), func(c *core) {
		for _, id := range sortedKeys(c.apps) {
			if !sees(id) {
				continue
			}
			for _, tv := range c.tasksOf(id) {
				st := mesos.TaskState(tv.State)
				if len(statuses) > 0 {
					ok := (statuses["running"] && st == mesos.TaskRunning) ||
						(statuses["staging"] && (st == mesos.TaskStaging || st == mesos.TaskStarting))
					if !ok {
						continue
					}
				}
				tasks = append(tasks, tv)
			}
		}
	})
	if err != nil {
		writeErr(w, r, err)
		return
	}
	if tasks == nil {
		tasks = []TaskView{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tasks": tasks})
}

// deleteTasks is POST /v2/tasks/delete {"ids":[...]}.
func (s *Service) deleteTasks(w http.ResponseWriter, r *http.Request) {
	if !s.grants(w, r, acl.ManageApps) {
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	var req struct {
		IDs []string `json:"ids"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeErr(w, r, &app.InvalidJSON{Message: "Invalid JSON", Details: []app.Detail{{Path: "/ids", Errors: []string{err.Error()}}}})
		return
	}
	scale := boolParam(r, "scale", false)
	force := boolParam(r, "force", false)
	var (
		killed []TaskView
		dep    *deployment
	)
	err = s.mutate(r.Context(), func(c *core) (cm *commit, oerr error) {
		byApp := map[string][]*instance{}
		for _, tid := range req.IDs {
			appID, ok := app.AppIDOfTask(tid)
			if !ok {
				return nil, &badRequest{fmt.Sprintf("Invalid task id '%s'", tid)}
			}
			if err := s.authorize(r, acl.ManageApps, appID); err != nil {
				return nil, err
			}
			if in := c.instances[tid]; in != nil && in.AppID == appID {
				byApp[appID] = append(byApp[appID], in)
			}
		}
		var targets []*instance
		for _, appID := range sortedKeys(byApp) {
			for _, in := range byApp[appID] {
				killed = append(killed, c.taskView(in))
				targets = append(targets, in)
			}
		}
		if scale {
			var changes []change
			for _, appID := range sortedKeys(byApp) {
				as := c.apps[appID]
				if as == nil {
					continue
				}
				next := as.app
				next.Instances = max(0, next.Instances-len(byApp[appID]))
				changes = append(changes, change{id: appID, next: &next, action: actionScale})
			}
			if len(changes) > 0 {
				cm, dep, oerr = c.deploy(changes, force, time.Now())
				if oerr != nil {
					return nil, oerr
				}
				// Killed once the smaller apps are durable, lest they be
				// replaced.
				cm.apply(func(c *core) { c.killAll(targets, "killed through the API") })
				return cm, nil
			}
		}
		c.killAll(targets, "killed through the API")
		return nil, nil
	})
	if err != nil {
		writeErr(w, r, err)
		return
	}
	if dep != nil {
		deploymentResult(w, http.StatusOK, dep)
		return
	}
	if killed == nil {
		killed = []TaskView{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tasks": killed})
}

// --- deployments -----------------------------------------------------------

// listDeployments is GET /v2/deployments: the deployments whose every app
// r's principal may see. With history=true (corral's addition) the
// running ones say "status": "running", and the ended ones follow, newest
// first, the last historyKeep of them: each with its "status"
// (succeeded; failed; cancelled by a forced change or a rollback;
// stopped with force=true), "finishedAt", and but for the succeeded a
// "reason"; a failed one's "failure" says its kind
// (progressDeadline or crashLoop), and "rollbackDeploymentId" names the
// deployment that rolls it back, if any.
func (s *Service) listDeployments(w http.ResponseWriter, r *http.Request) {
	sees, ok := s.viewer(w, r)
	if !ok {
		return
	}
	history := boolParam(r, "history", false)
	var out []json.RawMessage
	err := s.do(r.Context(), func(c *core) {
		for _, d := range c.sortedDeployments() {
			if all(sees, d.Apps) {
				m := c.deploymentJSON(d)
				if history {
					m["status"] = "running"
				}
				b, _ := json.Marshal(m)
				out = append(out, b)
			}
		}
		if !history {
			return
		}
		for _, e := range c.history {
			if all(sees, e.apps) {
				out = append(out, e.spec)
			}
		}
	})
	if err != nil {
		writeErr(w, r, err)
		return
	}
	if out == nil {
		out = []json.RawMessage{}
	}
	writeJSON(w, http.StatusOK, out)
}

// deleteDeployment rolls a deployment back (a new deployment returning the
// apps to their previous definitions), or with force=true just forgets it:
// the apps keep their new definitions and are converged as usual.
func (s *Service) deleteDeployment(w http.ResponseWriter, r *http.Request) {
	if !s.grants(w, r, acl.ManageApps) {
		return
	}
	id := chi.URLParam(r, "id")
	force := boolParam(r, "force", false)
	var dep *deployment
	err := s.mutate(r.Context(), func(c *core) (cm *commit, oerr error) {
		d := c.deployments[id]
		if d == nil {
			return nil, &errNotFound{fmt.Sprintf("DeploymentPlan %s does not exist", id)}
		}
		if err := s.authorize(r, acl.ManageApps, d.Apps...); err != nil {
			return nil, err
		}
		if force {
			const why = "stopped with force=true"
			e := c.endOf(d, c.deploymentJSON(d), statusStopped, why, time.Now(), nil)
			cm = &commit{what: "stopping deployment " + id}
			cm.write(func(ctx context.Context, tx *store.Tx) error {
				return tx.EndDeployment(ctx, id, e.spec, e.at, historyKeep)
			})
			cm.apply(func(c *core) {
				d := c.deployments[id]
				if d == nil {
					return // finished meanwhile
				}
				delete(c.deployments, id)
				c.remember(e)
				// An abandoned delete still deletes: the app stays marked
				// deleting, and finishDeployments removes it once its last
				// instance is gone.
				c.s.bus.Publish("deployment_failed", map[string]any{"id": id, "plan": c.deploymentJSON(d), "reason": why})
			})
			return cm, nil
		}
		cm, dep, oerr = c.rollback(d, time.Now())
		return
	})
	if err != nil {
		writeErr(w, r, err)
		return
	}
	if force {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	deploymentResult(w, http.StatusOK, dep)
}

// --- queue -----------------------------------------------------------------

func (s *Service) queue(w http.ResponseWriter, r *http.Request) {
	sees, ok := s.viewer(w, r)
	if !ok {
		return
	}
	withOffers := embeds(r, "")["lastUnusedOffers"]
	var out []map[string]any
	err := s.do(r.Context(), func(c *core) {
		now := time.Now()
		for _, id := range sortedKeys(c.apps) {
			as := c.apps[id]
			if as.decision.Launch <= 0 || !sees(id) {
				continue
			}
			spec := specOf(as.app, as.deleting)
			ready := as.backoff.ReadyAt(spec)
			left := max(0, ready.Sub(now).Seconds())
			b, _ := json.Marshal(as.app)
			item := map[string]any{
				"app": json.RawMessage(b), "count": as.decision.Launch, "role": c.s.cfg.Role,
				"delay": map[string]any{"timeLeftSeconds": int(left + 0.999), "overdue": !now.Before(ready)},
				"since": as.waitingSince.UTC().Format(timeLayout),
				"processedOffersSummary": map[string]any{
					"processedOffersCount": as.offersProcessed, "unusedOffersCount": as.offersUnused,
					"lastUnusedOfferAt": stamp(as.lastUnusedAt), "rejectSummaryLastOffers": rejectSummary(as),
				},
				"waiting": c.waitingReason(as),
			}
			if withOffers {
				item["lastUnusedOffers"] = c.unplaced(as)
			}
			out = append(out, item)
		}
	})
	if err != nil {
		writeErr(w, r, err)
		return
	}
	if out == nil {
		out = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"queue": out})
}

// rejectSummary counts, per reason kind, how many agents' last offers were
// declined for it.
func rejectSummary(as *appState) []map[string]any {
	counts := map[string]int{}
	for _, r := range as.rejections {
		for _, reason := range r.Reasons {
			kind, _, _ := strings.Cut(reason, ":")
			counts[kind]++
		}
	}
	out := []map[string]any{}
	for _, k := range sortedKeys(counts) {
		out = append(out, map[string]any{"reason": k, "declined": counts[k], "processed": len(as.rejections)})
	}
	return out
}

func (s *Service) resetDelay(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimSuffix(chi.URLParam(r, "*"), "/")
	if !strings.HasSuffix(rest, "/delay") {
		writeJSON(w, http.StatusNotFound, errorBody{Message: "Not found: " + r.URL.Path})
		return
	}
	id := app.CanonicalID(strings.TrimSuffix(rest, "/delay"))
	if !s.may(w, r, acl.ManageApps, id) {
		return
	}
	var oerr error
	err := s.do(r.Context(), func(c *core) {
		as := c.apps[id]
		if as == nil {
			oerr = &errNotFound{fmt.Sprintf("Application %s not found in tasks queue.", id)}
			return
		}
		as.backoff = as.backoff.Reset()
		c.persistDelay(id)
	})
	if err == nil {
		err = oerr
	}
	if err != nil {
		writeErr(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
