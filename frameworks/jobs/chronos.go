package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"corral/frameworks/jobs/job"
	"corral/frameworks/jobs/store"
	"corral/internal/acl"
)

// chronosRoutes mounts the Chronos-compatible API under /v1/scheduler, so
// scripts written for Chronos keep working.
func (s *Service) chronosRoutes(r chi.Router) {
	r.Post("/v1/scheduler/iso8601", s.chronosUpsert(false))
	r.Post("/v1/scheduler/dependency", s.chronosUpsert(true))
	r.Put("/v1/scheduler/iso8601", s.chronosUpsert(false))
	r.Put("/v1/scheduler/dependency", s.chronosUpsert(true))
	r.Get("/v1/scheduler/jobs", s.chronosJobs)
	r.Get("/v1/scheduler/jobs/search", s.chronosSearch)
	r.Get("/v1/scheduler/jobs/summary", s.chronosSummary)
	r.Get("/v1/scheduler/job/{name}", s.chronosJob)
	r.Put("/v1/scheduler/job/{name}", s.chronosRunNow)
	r.Delete("/v1/scheduler/job/{name}", s.chronosDelete)
	r.Put("/v1/scheduler/job/success/{name}", s.chronosSuccess)
	r.Delete("/v1/scheduler/task/kill/{name}", s.chronosKill)
	r.Get("/v1/scheduler/graph/dot", s.graphDot)
	r.Get("/v1/scheduler/leader", s.chronosLeader)
}

// chronosLeader answers host:port of the leading instance, as Chronos
// does. Without an election, an instance that does not know the leader
// names itself (any instance takes every request); with one, 503 until a
// leader is known.
func (s *Service) chronosLeader(w http.ResponseWriter, r *http.Request) {
	u, ok := s.leaderURL()
	if !ok {
		if s.forwarding() {
			chronosErr(w, r, errNoLeader())
			return
		}
		u = s.url
	}
	writeJSON(w, http.StatusOK, map[string]string{"leader": strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")})
}

// chronosErr writes Chronos' error shape {"message","status"} (always a
// 400 for a client's mistake, unlike Chronos' stack traces).
func chronosErr(w http.ResponseWriter, r *http.Request, err error) {
	var ve *job.ValidationError
	var ae *apiError
	switch {
	case errors.As(err, &ve):
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": detailText(ve.Details), "status": "Bad Request", "details": ve.Details})
	case errors.As(err, &ae) && ae.code < 500:
		msg := ae.msg
		if ds, ok := ae.details.([]job.Detail); ok && len(ds) > 0 {
			// Invalid JSON: name the fields, as Chronos clients only
			// read the message.
			msg += ": " + detailText(ds)
		}
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": msg, "status": "Bad Request"})
	default:
		code, msg := failure(r, err)
		writeJSON(w, code, map[string]string{"message": msg, "status": http.StatusText(code)})
	}
}

// emptyStart matches a Chronos schedule whose start is empty: R[n]//period.
var emptyStart = regexp.MustCompile(`^\s*(R[0-9]*)//(P\S*)\s*$`)

// chronosNow is the start Chronos means by "now", a second ahead: the
// scheduler only plans occurrences after the job was stored, so a start at
// the present instant (or truncated to the second) would never come due.
func chronosNow() string {
	return time.Now().UTC().Add(time.Second).Format("2006-01-02T15:04:05.000Z")
}

// detailText writes details as "field: problem; field: problem".
func detailText(ds []job.Detail) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, strings.TrimPrefix(d.Path, "/")+": "+strings.Join(d.Errors, "; "))
	}
	return strings.Join(parts, "; ")
}

// chronosUpsert creates or replaces a scheduled (iso8601) or dependent job.
func (s *Service) chronosUpsert(dependent bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.grants(r, acl.ManageJobs); err != nil {
			chronosErr(w, r, err)
			return
		}
		body, err := readBody(r)
		if err != nil {
			chronosErr(w, r, err)
			return
		}
		j, warnings, err := job.DecodeChronos(body, s.framework())
		if err != nil {
			chronosErr(w, r, asClientError(err))
			return
		}
		j.Normalize()
		switch {
		case dependent && len(j.Parents) == 0:
			chronosErr(w, r, &job.ValidationError{Message: "Object is not valid", Details: []job.Detail{{Path: "/parents", Errors: []string{"a dependent job needs at least one parent"}}}})
			return
		case !dependent && j.Schedule == "" && len(j.Parents) == 0:
			// Chronos: no schedule means run once, now.
			j.Schedule = "R1/" + chronosNow() + "/PT24H"
		case !dependent && len(j.Parents) > 0 && j.Schedule == "":
			chronosErr(w, r, &job.ValidationError{Message: "Object is not valid", Details: []job.Detail{{Path: "/schedule", Errors: []string{"a scheduled job needs a schedule; use /v1/scheduler/dependency for jobs with parents"}}}})
			return
		}
		if m := emptyStart.FindStringSubmatch(j.Schedule); m != nil {
			// Chronos reads an empty start as now.
			j.Schedule = m[1] + "/" + chronosNow() + "/" + m[2]
		}
		if err := s.save(r, &j, false); err != nil {
			chronosErr(w, r, err)
			return
		}
		// Chronos answers 204 with no body, and its clients expect just
		// that: the warnings go in Warning headers, with RFC 7234's code
		// 299 ("miscellaneous persistent warning"), as Kubernetes sends
		// its API warnings.
		for _, warning := range warnings {
			w.Header().Add("Warning", "299 - "+strconv.Quote(warning.String()))
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// chronosViews are the Chronos views of the jobs r's principal may see
// that keep (if not nil) accepts.
func (s *Service) chronosViews(r *http.Request, keep func(job.Job) bool) ([]map[string]any, error) {
	sees, err := s.viewer(r)
	if err != nil {
		return nil, err
	}
	all, err := s.loadGraph(r.Context())
	if err != nil {
		return nil, err
	}
	stats, _ := s.store.Stats(r.Context())
	out := []map[string]any{}
	for _, n := range sortedKeys(all) {
		if !sees(n) || keep != nil && !keep(all[n]) {
			continue
		}
		out = append(out, job.ChronosView(all[n], chronosStats(stats[n])))
	}
	return out, nil
}

func chronosStats(st store.Stats) job.Stats {
	out := job.Stats{SuccessCount: int(st.SuccessCount), ErrorCount: int(st.ErrorCount), ErrorsSinceLastSuccess: int(st.ErrorsSinceLastSuccess)}
	if st.LastSuccess != nil {
		out.LastSuccess = *st.LastSuccess
	}
	if st.LastError != nil {
		out.LastError = *st.LastError
	}
	return out
}

func (s *Service) chronosJobs(w http.ResponseWriter, r *http.Request) {
	out, err := s.chronosViews(r, nil)
	if err != nil {
		chronosErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// chronosSearch matches name, command or either (any), case-insensitively,
// with Chronos' default limit of 10.
func (s *Service) chronosSearch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name, command, anyOf := strings.ToLower(q.Get("name")), strings.ToLower(q.Get("command")), strings.ToLower(q.Get("any"))
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 {
		limit = 10
	}
	offset, _ := strconv.Atoi(q.Get("offset"))
	out, err := s.chronosViews(r, func(j job.Job) bool {
		n, c := strings.ToLower(j.Name), strings.ToLower(j.Command)
		switch {
		case name != "" && !strings.Contains(n, name):
			return false
		case command != "" && !strings.Contains(c, command):
			return false
		case anyOf != "" && !strings.Contains(n, anyOf) && !strings.Contains(c, anyOf):
			return false
		}
		return true
	})
	if err != nil {
		chronosErr(w, r, err)
		return
	}
	if offset > len(out) {
		offset = len(out)
	}
	out = out[offset:]
	if len(out) > limit {
		out = out[:limit]
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Service) chronosSummary(w http.ResponseWriter, r *http.Request) {
	ns, err := s.graph(r)
	if err != nil {
		chronosErr(w, r, err)
		return
	}
	all, _ := s.loadGraph(r.Context())
	var out []map[string]any
	for _, n := range ns {
		j := all[n.Name]
		out = append(out, map[string]any{"name": n.Name, "state": n.LastState, "status": n.Status, "schedule": j.Schedule, "parents": nonNil(n.Parents), "disabled": j.Disabled})
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": nonNilMaps(out)})
}

func nonNilMaps(m []map[string]any) []map[string]any {
	if m == nil {
		return []map[string]any{}
	}
	return m
}

// chronosJob answers 400 for an unknown job, as Chronos does.
func (s *Service) chronosJob(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	if err := s.authorize(r, acl.ViewJobs, name); err != nil {
		chronosErr(w, r, err)
		return
	}
	rec, err := s.store.Job(r.Context(), name)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = errf(http.StatusBadRequest, "job %q does not exist", name)
		}
		chronosErr(w, r, err)
		return
	}
	var j job.Job
	_ = json.Unmarshal(rec.Spec, &j)
	writeJSON(w, http.StatusOK, job.ChronosView(j, chronosStats(s.statsOf(r.Context(), name))))
}

// chronosRunNow is PUT /v1/scheduler/job/{name}: run now, schedule
// untouched; ?arguments= are appended to the command.
func (s *Service) chronosRunNow(w http.ResponseWriter, r *http.Request) {
	var args []string
	for _, a := range r.URL.Query()["arguments"] {
		args = append(args, strings.Fields(a)...)
	}
	if _, err := s.queueManual(r, chi.URLParam(r, "name"), args); err != nil {
		chronosErr(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// chronosDelete deletes a job, rewiring its children as Chronos does.
func (s *Service) chronosDelete(w http.ResponseWriter, r *http.Request) {
	if _, err := s.remove(r, chi.URLParam(r, "name"), true); err != nil {
		chronosErr(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// chronosSuccess marks a job successful: counted, and its children fire.
func (s *Service) chronosSuccess(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	if err := s.authorize(r, acl.ManageJobs, name); err != nil {
		chronosErr(w, r, err)
		return
	}
	ctx := r.Context()
	rec, err := s.store.Job(ctx, name)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = errf(http.StatusBadRequest, "job %q does not exist", name)
		}
		chronosErr(w, r, err)
		return
	}
	var j job.Job
	_ = json.Unmarshal(rec.Spec, &j)
	now := time.Now()
	// The run it records ends SUCCEEDED, and is told to the job's
	// webhooks that want that, like any other; the leader delivers.
	run, _, err := s.store.InsertRun(ctx, store.Run{Job: name, Trigger: "manual", DedupKey: fmt.Sprintf("success:%d", now.UnixNano()),
		State: stateSucceeded, MaxAttempts: 1, QueuedAt: now, FinishedAt: &now, Reason: "marked successful through the API",
		Notify: notifyTargets(j.Webhooks, j.Owner, &s.cfg, stateSucceeded)})
	if err == nil {
		err = s.store.RecordResult(ctx, name, true, now)
	}
	var children []store.Run
	if err == nil {
		children, err = s.store.MarkParentDone(ctx, name, run.ID, func(child string) store.Run {
			return store.Run{Job: child, Trigger: "dependency", State: stateQueued, MaxAttempts: 1, QueuedAt: now}
		})
	}
	if err != nil {
		chronosErr(w, r, err)
		return
	}
	s.queued(ctx, children...)
	s.poke()
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, fmt.Sprintf("marked job %s as successful: true", name))
}

// chronosKill kills every active run of a job.
func (s *Service) chronosKill(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	if err := s.authorize(r, acl.ManageJobs, name); err != nil {
		chronosErr(w, r, err)
		return
	}
	err := s.mustJob(r.Context(), name)
	if err == nil {
		err = s.killAll(r.Context(), name, "killed through the API")
	}
	if err != nil {
		chronosErr(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// killAll kills every active run of the job name, for why, and waits
// until that is stored. Only the leader can: elsewhere it is a 503 while
// no leader is known (with an election, writes reach the leader through
// forwardWrites) or a 409 without an election.
func (s *Service) killAll(ctx context.Context, name, why string) error {
	var durable durability
	if !s.withLeader(ctx, func(c *core) {
		for _, rs := range c.runs {
			if rs.run.Job == name {
				c.killRun(rs, why, false)
			}
		}
		durable = after(c) // before we answer
	}) {
		if s.forwarding() {
			return errNoLeader()
		}
		return errf(http.StatusConflict, "this jobs instance is not leading; send the request to the leader")
	}
	return durable.wait(ctx)
}
