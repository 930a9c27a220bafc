package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"corral/frameworks/internal/removed"
	"corral/frameworks/jobs/dag"
	"corral/frameworks/jobs/job"
	"corral/frameworks/jobs/schedule"
	"corral/frameworks/jobs/store"
	"corral/internal/acl"
	"corral/internal/edge"
)

// apiError is a client-facing error with its status.
type apiError struct {
	code    int
	msg     string
	details any
	extra   map[string]any
}

func (e *apiError) Error() string { return e.msg }

func errf(code int, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeErr writes the native error shape {"message","details"}; client
// mistakes are 4xx, a database that cannot be reached is 503.
func writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var ve *job.ValidationError
	switch {
	case errors.As(err, &ae):
		body := map[string]any{"message": ae.msg}
		if ae.details != nil {
			body["details"] = ae.details
		}
		for k, v := range ae.extra {
			body[k] = v
		}
		writeJSON(w, ae.code, body)
	case errors.As(err, &ve):
		writeJSON(w, http.StatusUnprocessableEntity, ve)
	case errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"message": err.Error()})
	default:
		code, msg := failure(r, err)
		writeJSON(w, code, map[string]string{"message": msg})
	}
}

// failure is the status and message of an error that is not the client's
// mistake: the edge's own (413, 408) as they are, anything else a 503
// (the jobs database cannot be reached) whose cause is only logged.
func failure(r *http.Request, err error) (int, string) {
	var ee *edge.Error
	if errors.As(err, &ee) {
		return edge.Fail(r, err)
	}
	edge.Note(r, err)
	return http.StatusServiceUnavailable, "the jobs database cannot be reached; retry"
}

// readBody reads a request's body within the edge's limits (413 past the
// size, 408 when it is too slow).
func readBody(r *http.Request) ([]byte, error) {
	return edge.ReadBody(r)
}

// routes is the native API, the Chronos API (chronosRoutes), the
// Metronome API under /metronome (metronomeRoutes) and the service's own
// endpoints. Every route but /ping and /health demands an
// authenticated principal when the cluster has credentials (the edge's
// guard); the ACLs then decide what it may do with jobs (see authz.go).
// These name no job and need authentication only: /ping, /health,
// /metrics, /v1/info and /v1/scheduler/leader.
func (s *Service) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.forwardWrites, bounded, removed.Guard("jobs", "DELETE FROM jobs.framework", s.kernelStatus))
	r.Get("/ping", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "pong\n") })
	r.Get("/health", s.health)
	r.Get("/metrics", s.metrics)
	r.Get("/v1/info", s.info)
	r.Get("/v1/jobs", s.listJobs)
	r.Post("/v1/jobs", s.createJob)
	r.Get("/v1/jobs/{name}", s.getJob)
	r.Put("/v1/jobs/{name}", s.putJob)
	r.Delete("/v1/jobs/{name}", s.deleteJob)
	r.Get("/v1/jobs/{name}/runs", s.listRuns)
	r.Get("/v1/jobs/{name}/runs/{id}", s.getRun)
	r.Post("/v1/jobs/{name}/run", s.triggerRun)
	r.Post("/v1/jobs/{name}/runs/{id}/stop", s.stopRun)
	r.Get("/v1/graph", s.graphJSON)
	r.Get("/v1/graph.dot", s.graphDot)
	r.Get("/v1/events", s.eventStream)
	s.chronosRoutes(r)
	r.Route(metronomePrefix, s.metronomeRoutes)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not found: " + r.URL.Path})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "Method " + r.Method + " is not allowed on " + r.URL.Path})
	})
	return r
}

// requestTimeout bounds a request, and so the store calls it makes.
const requestTimeout = 30 * time.Second

// bounded gives every request but the event stream a deadline: the store
// calls of handlers honor their request's context, so a database that
// hangs costs a client at most requestTimeout.
func bounded(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/events" {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// health says whether the database can be reached, whether this
// instance leads ("leading", and "leader" as the masters name it), and,
// when known, the base URL of the instance that leads ("leaderUrl"). It
// answers 503, with "reason" naming every problem, when the database
// cannot be reached, and on the leader also when its framework is not
// subscribed to a master for longer than the grace (two of the master's
// heartbeat intervals: reconnecting, a master failover, the start) or
// was removed by the kernel; "framework" gives the connection's facts.
// A standby's health depends on itself alone.
func (s *Service) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	err := s.store.Ping(ctx)
	leading := s.Leading()
	body := map[string]any{"healthy": true, "leading": leading, "leader": leading, "database": "ok"}
	if u, ok := s.leaderURL(); ok {
		body["leaderUrl"] = u
	}
	var problems []string
	if err != nil {
		edge.Note(r, err)
		body["database"] = "not reachable"
		problems = append(problems, "database not reachable")
	}
	if fw, ok := s.kernelStatus(); leading && ok {
		rep := fw.Report(time.Now())
		body["framework"] = rep
		if !rep.Sound {
			problems = append(problems, rep.Reason)
		}
	}
	code := http.StatusOK
	if len(problems) > 0 {
		body["healthy"], body["reason"] = false, strings.Join(problems, "; ")
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, body)
}

func (s *Service) info(w http.ResponseWriter, r *http.Request) {
	fid, _ := s.store.FrameworkID(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{"name": "corral-jobs", "version": s.cfg.Version, "frameworkId": fid, "leading": s.Leading(), "url": s.url})
}

// parseSchedule checks a schedule and its zone for job.Validate.
func parseSchedule(expr, tz string) error {
	_, err := schedule.Parse(expr, tz)
	return err
}

// jobView is a job as the native API shows it.
func (s *Service) jobView(j job.Job, st store.Stats, now time.Time) map[string]any {
	b, _ := json.Marshal(j)
	var v map[string]any
	_ = json.Unmarshal(b, &v)
	v["successCount"] = st.SuccessCount
	v["errorCount"] = st.ErrorCount
	v["errorsSinceLastSuccess"] = st.ErrorsSinceLastSuccess
	v["lastSuccess"] = timeOrEmpty(st.LastSuccess)
	v["lastError"] = timeOrEmpty(st.LastError)
	if j.Schedule != "" && !j.Disabled {
		if sch, err := schedule.Parse(j.Schedule, j.Timezone); err == nil {
			if next, ok := sch.Next(now); ok {
				loc, _ := schedule.LoadLocation(j.Timezone)
				v["nextRun"] = next.In(loc).Format(time.RFC3339)
			}
		}
	}
	return v
}

func timeOrEmpty(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// loadGraph reads every job's definition.
func (s *Service) loadGraph(ctx context.Context) (map[string]job.Job, error) {
	recs, err := s.store.Jobs(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]job.Job{}
	for _, r := range recs {
		var j job.Job
		if json.Unmarshal(r.Spec, &j) == nil {
			out[r.Name] = j
		}
	}
	return out, nil
}

func parentsOf(jobs map[string]job.Job) map[string][]string {
	out := map[string][]string{}
	for n, j := range jobs {
		out[n] = j.Parents
	}
	return out
}

// save validates j against the whole graph and stores it for r, setting
// j.Version to the stored version, if r's principal may (authorizeJob).
// create refuses an existing name with 409.
func (s *Service) save(r *http.Request, j *job.Job, create bool) error {
	if ve := job.Validate(*j, parseSchedule); ve != nil {
		return ve
	}
	if err := s.authorizeJob(r, *j); err != nil {
		return err
	}
	ctx := r.Context()
	all, err := s.loadGraph(ctx)
	if err != nil {
		return err
	}
	if _, exists := all[j.Name]; exists && create {
		return &apiError{code: http.StatusConflict, msg: fmt.Sprintf("job %q already exists", j.Name)}
	}
	all[j.Name] = *j
	if err := dag.Check(parentsOf(all)); err != nil {
		return &job.ValidationError{Message: "Object is not valid", Details: []job.Detail{{Path: "/parents", Errors: []string{err.Error()}}}}
	}
	j.Version = time.Now().UTC().Format(time.RFC3339Nano)
	spec, err := json.Marshal(j)
	if err != nil {
		return err
	}
	if err := s.store.PutJob(ctx, j.Name, j.Version, spec, j.Parents); err != nil {
		return err
	}
	s.poke()
	s.bus.Publish("job_saved", map[string]any{"job": j.Name, "version": j.Version})
	return nil
}

// framework is what job definitions may name of this framework without
// asking for anything corral does not do: its user.
func (s *Service) framework() job.Framework { return job.Framework{User: s.cfg.User} }

// decodeNative reads a native job from the request body, normalized, and
// the warnings about the fields it ignored.
func (s *Service) decodeNative(r *http.Request) (job.Job, []job.Warning, error) {
	body, err := readBody(r)
	if err != nil {
		return job.Job{}, nil, err
	}
	j, ws, err := job.DecodeNative(body, s.framework())
	if err != nil {
		return job.Job{}, nil, asClientError(err)
	}
	j.Normalize()
	return j, ws, nil
}

// withWarnings adds the warnings of a request to the view answering it,
// as a "warnings" list of strings, left out when empty.
func withWarnings(view map[string]any, ws []job.Warning) map[string]any {
	if len(ws) == 0 {
		return view
	}
	texts := make([]string, len(ws))
	for i, w := range ws {
		texts[i] = w.String()
	}
	view["warnings"] = texts
	return view
}

// asClientError turns a decoding error into a 400 naming the problem.
func asClientError(err error) error {
	var ve *job.ValidationError
	if errors.As(err, &ve) {
		return ve
	}
	var ij *job.InvalidJSON
	if errors.As(err, &ij) {
		return &apiError{code: http.StatusBadRequest, msg: ij.Message, details: ij.Details}
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return &apiError{code: http.StatusBadRequest, msg: "Invalid JSON: " + err.Error()}
}

func (s *Service) createJob(w http.ResponseWriter, r *http.Request) {
	if err := s.grants(r, acl.ManageJobs); err != nil {
		writeErr(w, r, err)
		return
	}
	j, warnings, err := s.decodeNative(r)
	if err == nil {
		err = s.save(r, &j, true)
	}
	if err != nil {
		writeErr(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/jobs/"+j.Name)
	writeJSON(w, http.StatusCreated, withWarnings(s.jobView(j, store.Stats{}, time.Now()), warnings))
}

func (s *Service) putJob(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	if err := s.authorize(r, acl.ManageJobs, name); err != nil {
		writeErr(w, r, err)
		return
	}
	j, warnings, err := s.decodeNative(r)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	if j.Name == "" {
		j.Name = name
	}
	if j.Name != name {
		writeErr(w, r, &job.ValidationError{Message: "Object is not valid", Details: []job.Detail{{Path: "/name", Errors: []string{fmt.Sprintf("name %q does not match %q in the URL", j.Name, name)}}}})
		return
	}
	if err := s.save(r, &j, false); err != nil {
		writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, withWarnings(s.jobView(j, s.statsOf(r.Context(), name), time.Now()), warnings))
}

func (s *Service) statsOf(ctx context.Context, name string) store.Stats {
	all, err := s.store.Stats(ctx)
	if err != nil {
		return store.Stats{}
	}
	return all[name]
}

func (s *Service) getJob(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	if err := s.authorize(r, acl.ViewJobs, name); err != nil {
		writeErr(w, r, err)
		return
	}
	rec, err := s.store.Job(r.Context(), name)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = errf(http.StatusNotFound, "job %q does not exist", name)
		}
		writeErr(w, r, err)
		return
	}
	var j job.Job
	_ = json.Unmarshal(rec.Spec, &j)
	writeJSON(w, http.StatusOK, s.jobView(j, s.statsOf(r.Context(), name), time.Now()))
}

func (s *Service) listJobs(w http.ResponseWriter, r *http.Request) {
	sees, err := s.viewer(r)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	all, err := s.loadGraph(r.Context())
	if err != nil {
		writeErr(w, r, err)
		return
	}
	stats, _ := s.store.Stats(r.Context())
	now := time.Now()
	out := []map[string]any{}
	for _, n := range sortedKeys(all) {
		if sees(n) {
			out = append(out, s.jobView(all[n], stats[n], now))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// deleteJob refuses (409) to delete a job others depend on unless
// force=true, which rewires the children as Chronos did and says how.
func (s *Service) deleteJob(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	force, _ := strconv.ParseBool(r.URL.Query().Get("force"))
	changes, err := s.remove(r, name, force)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": name, "rewired": changes})
}

// remove deletes the job name for r, if r's principal may: manage_jobs
// for it and, with force, for each child it rewires. Without force a job
// with children is refused (409), naming those r's principal may see.
func (s *Service) remove(r *http.Request, name string, force bool) ([]dag.Change, error) {
	if err := s.authorize(r, acl.ManageJobs, name); err != nil {
		return nil, err
	}
	ctx := r.Context()
	all, err := s.loadGraph(ctx)
	if err != nil {
		return nil, err
	}
	if _, ok := all[name]; !ok {
		return nil, errf(http.StatusNotFound, "job %q does not exist", name)
	}
	parents := parentsOf(all)
	children := dag.Children(parents, name)
	if len(children) > 0 && !force {
		sees := s.sees(r)
		seen := slices.DeleteFunc(slices.Clone(children), func(c string) bool { return !sees(c) })
		msg := fmt.Sprintf("job %q has dependent jobs %v", name, seen)
		if hidden := len(children) - len(seen); hidden > 0 {
			msg = fmt.Sprintf("job %q has dependent jobs %v and %d you may not view", name, seen, hidden)
		}
		return nil, &apiError{code: http.StatusConflict, msg: msg + "; delete with force=true to rewire them",
			extra: map[string]any{"children": seen}}
	}
	schedules := map[string]string{}
	for n, j := range all {
		schedules[n] = j.Schedule
	}
	newParents, newSchedules, changes := dag.Rewire(parents, schedules, name)
	for _, ch := range changes {
		if err := s.authorize(r, acl.ManageJobs, ch.Job); err != nil {
			return nil, err
		}
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	err = s.store.Atomically(ctx, func(tx *store.Tx) error {
		for _, ch := range changes {
			j := all[ch.Job]
			j.Parents = newParents[ch.Job]
			j.Schedule = newSchedules[ch.Job]
			if j.Schedule != "" && j.Timezone == "" {
				j.Timezone = all[name].Timezone
			}
			// The only child of an on-demand job becomes one.
			j.OnDemand = j.Schedule == "" && len(j.Parents) == 0
			j.Version = now
			spec, _ := json.Marshal(j)
			if err := tx.PutJob(ctx, j.Name, j.Version, spec, j.Parents); err != nil {
				return err
			}
		}
		return tx.DeleteJob(ctx, name)
	})
	if err != nil {
		return nil, err
	}
	s.poke()
	s.bus.Publish("job_deleted", map[string]any{"job": name, "rewired": changes})
	if changes == nil {
		changes = []dag.Change{}
	}
	return changes, nil
}

// runView is a run as the API shows it, with its webhook notifications
// and how their delivery goes.
func runView(r store.Run, notes []store.Notification) map[string]any {
	ns := make([]map[string]any, 0, len(notes))
	for _, n := range notes {
		ns = append(ns, notificationView(n))
	}
	v := map[string]any{
		"id": r.ID, "job": r.Job, "trigger": r.Trigger, "state": r.State, "attempt": r.Attempt, "maxAttempts": r.MaxAttempts,
		"arguments": nonNil(r.Arguments), "triggeredBy": nonNilIDs(r.TriggeredBy), "reason": r.Reason, "exitStatus": r.ExitStatus,
		"agentId": r.AgentID, "host": r.Host, "taskId": r.TaskID, "sandbox": r.Sandbox,
		"queuedAt": r.QueuedAt.UTC().Format(time.RFC3339Nano), "notifications": ns,
	}
	for k, t := range map[string]*time.Time{"scheduledFor": r.ScheduledFor, "startedAt": r.StartedAt, "finishedAt": r.FinishedAt, "notBefore": r.NotBefore} {
		if t != nil {
			v[k] = t.UTC().Format(time.RFC3339Nano)
		} else {
			v[k] = nil
		}
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilIDs(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}

func (s *Service) mustJob(ctx context.Context, name string) error {
	if _, err := s.store.Job(ctx, name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errf(http.StatusNotFound, "job %q does not exist", name)
		}
		return err
	}
	return nil
}

func (s *Service) listRuns(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	if err := s.authorize(r, acl.ViewJobs, name); err != nil {
		writeErr(w, r, err)
		return
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	if err := s.mustJob(r.Context(), name); err != nil {
		writeErr(w, r, err)
		return
	}
	runs, err := s.store.Runs(r.Context(), name, limit, before)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	ids := make([]int64, len(runs))
	for i, run := range runs {
		ids[i] = run.ID
	}
	notes, err := s.store.Notifications(r.Context(), ids)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	out := []map[string]any{}
	for _, run := range runs {
		out = append(out, runView(run, notes[run.ID]))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Service) runOf(r *http.Request) (store.Run, error) {
	name := chi.URLParam(r, "name")
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		return store.Run{}, errf(http.StatusBadRequest, "run id %q is not a number", chi.URLParam(r, "id"))
	}
	run, err := s.store.Run(r.Context(), id)
	if err != nil || run.Job != name {
		if err == nil || errors.Is(err, store.ErrNotFound) {
			err = errf(http.StatusNotFound, "run %d of job %q does not exist", id, name)
		}
		return store.Run{}, err
	}
	return run, nil
}

func (s *Service) getRun(w http.ResponseWriter, r *http.Request) {
	if err := s.authorize(r, acl.ViewJobs, chi.URLParam(r, "name")); err != nil {
		writeErr(w, r, err)
		return
	}
	run, err := s.runOf(r)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	notes, err := s.store.Notifications(r.Context(), []int64{run.ID})
	if err != nil {
		writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, runView(run, notes[run.ID]))
}

// queueManual records a manual run of a job for r, if r's principal may
// manage it.
func (s *Service) queueManual(r *http.Request, name string, args []string) (store.Run, error) {
	if err := s.authorize(r, acl.ManageJobs, name); err != nil {
		return store.Run{}, err
	}
	ctx := r.Context()
	rec, err := s.store.Job(ctx, name)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.Run{}, errf(http.StatusNotFound, "job %q does not exist", name)
		}
		return store.Run{}, err
	}
	var j job.Job
	_ = json.Unmarshal(rec.Spec, &j)
	run := store.Run{Job: name, Trigger: "manual", DedupKey: "manual:" + uuid.NewString(), State: stateQueued,
		MaxAttempts: j.Retries + 1, Arguments: args, QueuedAt: time.Now()}
	run, _, err = s.store.InsertRun(ctx, run)
	if err != nil {
		return store.Run{}, err
	}
	s.queued(ctx, run)
	s.bus.Publish("run_queued", runEvent(run))
	return run, nil
}

func (s *Service) triggerRun(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	body, err := readBody(r)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	var req struct {
		Arguments []string `json:"arguments"`
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			writeErr(w, r, &job.ValidationError{Message: "Invalid JSON", Details: []job.Detail{{Path: "/arguments", Errors: []string{err.Error()}}}})
			return
		}
	}
	run, err := s.queueManual(r, name, req.Arguments)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, runView(run, nil))
}

// stopRun stops a run: a queued one at once, a running one by killing its
// task. Only the leader can kill a task: with an election, writes reach
// the leader through forwardWrites, so this instance answers 503 (retry)
// only while no instance is known to lead; without one it answers 409.
func (s *Service) stopRun(w http.ResponseWriter, r *http.Request) {
	if err := s.authorize(r, acl.ManageJobs, chi.URLParam(r, "name")); err != nil {
		writeErr(w, r, err)
		return
	}
	run, err := s.runOf(r)
	if err == nil {
		err = s.stop(r.Context(), run)
	}
	if err != nil {
		writeErr(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// stop stops an active run, as stopRun describes; a run that ended is a
// 409.
func (s *Service) stop(ctx context.Context, run store.Run) error {
	if !active(run.State) {
		return errf(http.StatusConflict, "run %d already ended (%s)", run.ID, run.State)
	}
	found := false
	var durable durability
	led := s.withLeader(ctx, func(c *core) {
		if rs := c.runs[run.ID]; rs != nil {
			found = true
			c.killRun(rs, "stopped through the API", false)
			durable = after(c) // before we answer
		}
	})
	if err := durable.wait(ctx); err != nil {
		return err
	}
	if found {
		return nil
	}
	// Not (yet) in a scheduler here: a queued run is stopped in the
	// database, where any leader will see it.
	now := time.Now()
	to := run
	to.State, to.Reason, to.FinishedAt = stateKilled, "stopped through the API", &now
	_, err := s.store.TransitionRun(ctx, run.ID, []store.State{stateQueued}, to)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, store.ErrConflict):
		return err
	case led:
		// The scheduler here no longer tracks it: it ended meanwhile.
		return errf(http.StatusConflict, "run %d already ended", run.ID)
	case s.forwarding():
		return errNoLeader()
	}
	return errf(http.StatusConflict, "run %d is %s on the leading jobs instance; send the request there", run.ID, run.State)
}

// queued hands runs this process's API queued to its scheduler, if it
// leads, before the API answers: a request right after the answer (a
// stop) finds them there. Other processes' runs reach the leader through
// the watcher.
func (s *Service) queued(ctx context.Context, runs ...store.Run) {
	if len(runs) > 0 {
		s.withLeader(ctx, func(c *core) { c.learn(news{runs: runs}) })
	}
}

// durability is what an API change made on the leader's loop waits for
// before it is answered: the batch holding it stored, or the leader's
// term over.
type durability struct {
	stored <-chan error
	ended  <-chan struct{}
}

// after returns what c's changes so far wait for; on c's loop.
func after(c *core) durability { return durability{stored: c.durable(), ended: c.done} }

// wait waits until the changes are stored, for at most durableWait. A
// zero durability is nothing to wait for. If the leader's term ends first
// (a later term fenced its writes) the answer is as before this term
// ended: accepted, its successor deciding from what is stored.
func (d durability) wait(ctx context.Context) error {
	if d.stored == nil {
		return nil
	}
	t := time.NewTimer(durableWait)
	defer t.Stop()
	select {
	case err := <-d.stored:
		if err != nil {
			return fmt.Errorf("storing the change: %w", err)
		}
		return nil
	case <-d.ended:
		return nil
	case <-t.C:
		return fmt.Errorf("storing the change: %w", context.DeadlineExceeded)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// nodes describes the jobs sees allows for the graph views, with the
// parents it allows.
func (s *Service) nodes(ctx context.Context, sees func(name string) bool) ([]dag.NodeInfo, error) {
	all, err := s.loadGraph(ctx)
	if err != nil {
		return nil, err
	}
	stats, _ := s.store.Stats(ctx)
	activeRuns, _ := s.store.ActiveRuns(ctx)
	status := map[string]string{}
	for _, r := range activeRuns {
		if r.State == stateQueued && status[r.Job] == "" {
			status[r.Job] = "queued"
		} else if r.State != stateQueued {
			status[r.Job] = "running"
		}
	}
	var out []dag.NodeInfo
	for _, n := range sortedKeys(all) {
		if !sees(n) {
			continue
		}
		st := stats[n]
		last := "fresh"
		switch {
		case st.LastSuccess != nil && (st.LastError == nil || st.LastSuccess.After(*st.LastError)):
			last = "success"
		case st.LastError != nil:
			last = "failure"
		}
		stat := status[n]
		if stat == "" {
			stat = "idle"
		}
		parents := slices.DeleteFunc(slices.Clone(all[n].Parents), func(p string) bool { return !sees(p) })
		out = append(out, dag.NodeInfo{Name: n, Parents: parents, LastState: last, Status: stat})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *Service) graphJSON(w http.ResponseWriter, r *http.Request) {
	ns, err := s.graph(r)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, dag.JSON(ns))
}

// graph is nodes for what r's principal may see (viewer).
func (s *Service) graph(r *http.Request) ([]dag.NodeInfo, error) {
	sees, err := s.viewer(r)
	if err != nil {
		return nil, err
	}
	return s.nodes(r.Context(), sees)
}

// graphDot is the graph in DOT; under /v1/scheduler/ too, where errors
// are Chronos'.
func (s *Service) graphDot(w http.ResponseWriter, r *http.Request) {
	ns, err := s.graph(r)
	if err != nil {
		apiErr(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/vnd.graphviz; charset=utf-8")
	_, _ = io.WriteString(w, dag.Dot(ns))
}

// metrics serves Prometheus text.
func (s *Service) metrics(w http.ResponseWriter, r *http.Request) {
	gauges := map[string]float64{"leading": 0, "leader": 0}
	if s.Leading() {
		gauges["leading"], gauges["leader"] = 1, 1
	}
	// What waits on the leader's writer and kernel call queues.
	s.withLeader(r.Context(), func(c *core) {
		for k, v := range c.writeStats() {
			gauges[k] = v
		}
	})
	if all, err := s.loadGraph(r.Context()); err == nil {
		gauges["jobs"] = float64(len(all))
	}
	if runs, err := s.store.ActiveRuns(r.Context()); err == nil {
		for _, st := range []store.State{stateQueued, stateStarting, stateRunning} {
			gauges["runs_"+lower(string(st))] = 0
		}
		for _, run := range runs {
			gauges["runs_"+lower(string(run.State))]++
		}
	}
	if counts, err := s.store.NotificationCounts(r.Context()); err == nil {
		for _, st := range []store.DeliveryState{store.DeliveryPending, store.DeliveryFailing, store.DeliveryAbandoned} {
			gauges["notifications_"+string(st)] = float64(counts[st])
		}
	}
	if stats, err := s.store.Stats(r.Context()); err == nil {
		var ok, bad int64
		for _, st := range stats {
			ok += st.SuccessCount
			bad += st.ErrorCount
		}
		gauges["runs_succeeded_total"] = float64(ok)
		gauges["runs_failed_total"] = float64(bad)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	for _, k := range sortedKeys(gauges) {
		fmt.Fprintf(w, "# TYPE corral_jobs_%s gauge\ncorral_jobs_%s %g\n", k, k, gauges[k])
	}
}
