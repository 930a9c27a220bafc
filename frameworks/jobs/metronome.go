package jobs

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"corral/frameworks/internal/blank"
	"corral/frameworks/jobs/dag"
	"corral/frameworks/jobs/job"
	"corral/frameworks/jobs/metronome"
	"corral/frameworks/jobs/schedule"
	"corral/frameworks/jobs/store"
	"corral/internal/acl"
)

// metronomePrefix is where the main listener serves the Metronome API;
// the Metronome listener (Config.MetronomeListen) serves it at the root
// by prefixing its requests' paths (see underPrefix).
const metronomePrefix = "/metronome"

// metronomeRoutes are Metronome's v1 job API (package metronome
// translates): jobs, their one schedule and their runs, on the native
// model. Authorization is the native API's (authz.go): manage_jobs to
// change a job, its schedule or its runs, view_jobs to see them.
// Errors are Metronome's: {"message", "details"} with a 422 for an
// invalid body (paths like /run/cpus), 404 with the id for an unknown
// job, schedule or run, 409 for a job or schedule that exists.
func (s *Service) metronomeRoutes(r chi.Router) {
	r.Get("/v1/jobs", s.metronomeJobs)
	r.Post("/v1/jobs", s.metronomeCreate)
	r.Get("/v1/jobs/{jobId}", s.metronomeJob)
	r.Put("/v1/jobs/{jobId}", s.metronomeReplace)
	r.Delete("/v1/jobs/{jobId}", s.metronomeDelete)
	r.Get("/v1/jobs/{jobId}/schedules", s.metronomeSchedules)
	r.Post("/v1/jobs/{jobId}/schedules", s.metronomeCreateSchedule)
	r.Get("/v1/jobs/{jobId}/schedules/{scheduleId}", s.metronomeSchedule)
	r.Put("/v1/jobs/{jobId}/schedules/{scheduleId}", s.metronomeReplaceSchedule)
	r.Delete("/v1/jobs/{jobId}/schedules/{scheduleId}", s.metronomeDeleteSchedule)
	r.Get("/v1/jobs/{jobId}/runs", s.metronomeRuns)
	r.Post("/v1/jobs/{jobId}/runs", s.metronomeStart)
	r.Get("/v1/jobs/{jobId}/runs/{runId}", s.metronomeRun)
	r.Post("/v1/jobs/{jobId}/runs/{runId}/actions/stop", s.metronomeStop)
}

// underPrefix serves next with metronomePrefix before every request's
// path: the Metronome listener's requests reach the same routes, guards
// and forwarding to the leader as the main listener's /metronome/…
func underPrefix(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := *r
		u := *r.URL
		u.Path = metronomePrefix + u.Path
		if u.RawPath != "" {
			u.RawPath = metronomePrefix + u.RawPath
		}
		r2.URL = &u
		next.ServeHTTP(w, &r2)
	})
}

// The 404s of Metronome, with the id of what was not found.
func jobNotFound(id string) error {
	return &apiError{code: http.StatusNotFound, msg: "Job not found", extra: map[string]any{"id": id}}
}

func scheduleNotFound(id string) error {
	return &apiError{code: http.StatusNotFound, msg: "Schedule not found", extra: map[string]any{"id": id}}
}

func runNotFound(jobID, id string) error {
	return &apiError{code: http.StatusNotFound, msg: "Job Run not found", extra: map[string]any{"jobSpec": jobID, "id": id}}
}

// metronomeErr writes err as Metronome does; the native writer's shapes
// ({"message", "details"}) are Metronome's, but for the 400 of a body
// that is not JSON.
func metronomeErr(w http.ResponseWriter, r *http.Request, err error) {
	var ij *metronome.InvalidJSON
	if errors.As(err, &ij) {
		writeJSON(w, http.StatusBadRequest, ij)
		return
	}
	writeErr(w, r, err)
}

// metronomeJobOf reads the job named in the URL, for act; a 404 in
// Metronome's shape if there is none.
func (s *Service) metronomeJobOf(r *http.Request, act acl.Action) (job.Job, error) {
	id := chi.URLParam(r, "jobId")
	if err := s.authorize(r, act, id); err != nil {
		return job.Job{}, err
	}
	rec, err := s.store.Job(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return job.Job{}, jobNotFound(id)
	}
	if err != nil {
		return job.Job{}, err
	}
	var j job.Job
	if err := json.Unmarshal(rec.Spec, &j); err != nil {
		return job.Job{}, err
	}
	return j, nil
}

// metronomeSave stores j (see save), with the native validation's paths
// renamed by paths.
func (s *Service) metronomeSave(r *http.Request, j *job.Job, create bool, paths func(*job.ValidationError) *job.ValidationError) error {
	err := s.save(r, j, create)
	var ve *job.ValidationError
	if errors.As(err, &ve) {
		return paths(ve)
	}
	return err
}

// embeds reads ?embed=; an unknown one is a 400.
func embeds(r *http.Request) (metronome.Embed, error) {
	e, err := metronome.ParseEmbeds(r.URL.Query()["embed"])
	if err != nil {
		return 0, errf(http.StatusBadRequest, "%s", err.Error())
	}
	return e, nil
}

// facts are the facts of a stored run that the Metronome views need.
func facts(r store.Run) metronome.Facts {
	return metronome.Facts{ID: r.ID, Job: r.Job, Trigger: r.Trigger, State: string(r.State), Reason: r.Reason,
		TaskID: r.TaskID, Attempt: r.Attempt, ExitStatus: r.ExitStatus, QueuedAt: r.QueuedAt,
		ScheduledFor: r.ScheduledFor, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
}

// scheduleView is j's schedule with its next run, if it has one.
func scheduleView(j job.Job, now time.Time) (metronome.Schedule, bool) {
	sc, ok := metronome.ScheduleOf(j)
	if !ok {
		return sc, false
	}
	if sch, err := schedule.Parse(j.Schedule, j.Timezone); err == nil && sc.Enabled {
		if next, ok := sch.Next(now); ok {
			sc.NextRunAt = *metronome.Time(&next)
		}
	}
	return sc, true
}

// metronomeView is j as a job spec with the embeds e asks for; active
// are the active runs of every job (read once for a list).
func (s *Service) metronomeView(r *http.Request, j job.Job, e metronome.Embed, active []store.Run, stats map[string]store.Stats) (metronome.JobSpec, error) {
	v := metronome.View(j)
	if e&metronome.EmbedSchedules != 0 {
		scs := []metronome.Schedule{}
		if sc, ok := scheduleView(j, time.Now()); ok {
			scs = append(scs, sc)
		}
		v.Schedules = &scs
	}
	if e&metronome.EmbedActiveRuns != 0 {
		runs := runsOf(j.Name, active)
		v.ActiveRuns = &runs
	}
	st := stats[j.Name]
	counters := metronome.Stats{SuccessCount: st.SuccessCount, FailureCount: st.ErrorCount, LastSuccess: st.LastSuccess, LastFailure: st.LastError}
	if e&metronome.EmbedHistorySummary != 0 {
		sum := metronome.Summary(counters)
		v.HistorySummary = &sum
	}
	if e&metronome.EmbedHistory != 0 {
		runs, err := s.store.Runs(r.Context(), j.Name, s.cfg.KeepRuns, 0)
		if err != nil {
			return v, err
		}
		fs := make([]metronome.Facts, len(runs))
		for i, run := range runs {
			fs[i] = facts(run)
		}
		h := metronome.NewHistory(counters, fs)
		v.History = &h
	}
	return v, nil
}

// embedded reads what the embeds e need of every job: active runs and
// statistics.
func (s *Service) embedded(r *http.Request, e metronome.Embed) ([]store.Run, map[string]store.Stats, error) {
	var active []store.Run
	var stats map[string]store.Stats
	var err error
	if e&metronome.EmbedActiveRuns != 0 {
		if active, err = s.store.ActiveRuns(r.Context()); err != nil {
			return nil, nil, err
		}
	}
	if e&(metronome.EmbedHistory|metronome.EmbedHistorySummary) != 0 {
		if stats, err = s.store.Stats(r.Context()); err != nil {
			return nil, nil, err
		}
	}
	return active, stats, nil
}

// metronomeJobs is GET /v1/jobs: the jobs r's principal may see.
func (s *Service) metronomeJobs(w http.ResponseWriter, r *http.Request) {
	sees, err := s.viewer(r)
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	e, err := embeds(r)
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	all, err := s.loadGraph(r.Context())
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	active, stats, err := s.embedded(r, e)
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	out := []metronome.JobSpec{}
	for _, n := range sortedKeys(all) {
		if !sees(n) {
			continue
		}
		v, err := s.metronomeView(r, all[n], e, active, stats)
		if err != nil {
			metronomeErr(w, r, err)
			return
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, out)
}

// metronomeJob is GET /v1/jobs/{jobId}.
func (s *Service) metronomeJob(w http.ResponseWriter, r *http.Request) {
	j, err := s.metronomeJobOf(r, acl.ViewJobs)
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	e, err := embeds(r)
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	active, stats, err := s.embedded(r, e)
	if err == nil {
		var v metronome.JobSpec
		if v, err = s.metronomeView(r, j, e, active, stats); err == nil {
			writeJSON(w, http.StatusOK, v)
			return
		}
	}
	metronomeErr(w, r, err)
}

// metronomeCreate is POST /v1/jobs: 201 with the job, 409 if its id is
// taken.
func (s *Service) metronomeCreate(w http.ResponseWriter, r *http.Request) {
	if err := s.grants(r, acl.ManageJobs); err != nil {
		metronomeErr(w, r, err)
		return
	}
	body, err := readBody(r)
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	j, err := metronome.DecodeJob(body)
	if err == nil {
		err = s.metronomeSave(r, &j, true, metronome.JobPaths)
	}
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, metronome.View(j))
}

// metronomeReplace is PUT /v1/jobs/{jobId}: the spec replaced, the
// schedule and what a spec cannot say kept (metronome.Replace).
func (s *Service) metronomeReplace(w http.ResponseWriter, r *http.Request) {
	old, err := s.metronomeJobOf(r, acl.ManageJobs)
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	body, err := readBody(r)
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	next, err := metronome.DecodeJob(body)
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	if next.Name != old.Name {
		metronomeErr(w, r, &job.ValidationError{Message: "Object is not valid", Details: []job.Detail{{Path: "/id",
			Errors: []string{"id " + strconv.Quote(next.Name) + " does not match " + strconv.Quote(old.Name) + " in the URL"}}}})
		return
	}
	j := metronome.Replace(old, next)
	if err := s.metronomeSave(r, &j, false, metronome.JobPaths); err != nil {
		metronomeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, metronome.View(j))
}

// metronomeDelete is DELETE /v1/jobs/{jobId}: 200 with the job deleted;
// 409 while it has active runs, unless ?stopCurrentJobRuns=true stops
// them first, or while other jobs depend on it.
func (s *Service) metronomeDelete(w http.ResponseWriter, r *http.Request) {
	j, err := s.metronomeJobOf(r, acl.ManageJobs)
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	stopRuns, _ := strconv.ParseBool(r.URL.Query().Get("stopCurrentJobRuns"))
	ctx := r.Context()
	active, err := s.store.ActiveRuns(ctx)
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	running := 0
	for _, run := range active {
		if run.Job == j.Name {
			running++
		}
	}
	if running > 0 {
		if !stopRuns {
			metronomeErr(w, r, errf(http.StatusConflict, "job %q has %d active runs; delete with stopCurrentJobRuns=true to stop them", j.Name, running))
			return
		}
		// Children are refused before runs are stopped for nothing.
		if all, err := s.loadGraph(ctx); err == nil && len(dag.Children(parentsOf(all), j.Name)) > 0 {
			_, err = s.remove(r, j.Name, false)
			metronomeErr(w, r, err)
			return
		}
		if err := s.killAll(ctx, j.Name, "stopped: the job is being deleted"); err != nil {
			metronomeErr(w, r, err)
			return
		}
	}
	if _, err := s.remove(r, j.Name, false); err != nil {
		metronomeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, metronome.View(j))
}

// metronomeSchedules is GET /v1/jobs/{jobId}/schedules: [] or the one.
func (s *Service) metronomeSchedules(w http.ResponseWriter, r *http.Request) {
	j, err := s.metronomeJobOf(r, acl.ViewJobs)
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	out := []metronome.Schedule{}
	if sc, ok := scheduleView(j, time.Now()); ok {
		out = append(out, sc)
	}
	writeJSON(w, http.StatusOK, out)
}

// decodeSchedule reads a schedule spec from r's body.
func decodeSchedule(r *http.Request) (metronome.Schedule, error) {
	body, err := readBody(r)
	if err != nil {
		return metronome.Schedule{}, err
	}
	return metronome.DecodeSchedule(body, parseSchedule)
}

// metronomeCreateSchedule is POST /v1/jobs/{jobId}/schedules: 201 with
// the schedule; 409 when the job has one already (one per job, as in
// Metronome).
func (s *Service) metronomeCreateSchedule(w http.ResponseWriter, r *http.Request) {
	j, err := s.metronomeJobOf(r, acl.ManageJobs)
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	sc, err := decodeSchedule(r)
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	if old, ok := metronome.ScheduleOf(j); ok {
		msg := "job " + strconv.Quote(j.Name) + " has a schedule already (" + strconv.Quote(old.ID) + "); a job has one: replace it with PUT"
		if old.ID == sc.ID {
			msg = "schedule " + strconv.Quote(sc.ID) + " of job " + strconv.Quote(j.Name) + " exists; replace it with PUT"
		}
		metronomeErr(w, r, &apiError{code: http.StatusConflict, msg: msg, extra: map[string]any{"id": sc.ID}})
		return
	}
	s.storeSchedule(w, r, j, sc, http.StatusCreated)
}

// storeSchedule makes sc j's schedule, stores j and answers code with
// the schedule.
func (s *Service) storeSchedule(w http.ResponseWriter, r *http.Request, j job.Job, sc metronome.Schedule, code int) {
	err := metronome.Apply(&j, sc)
	if err == nil {
		j.Normalize()
		err = s.metronomeSave(r, &j, false, metronome.SchedulePaths)
	}
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	view, _ := scheduleView(j, time.Now())
	writeJSON(w, code, view)
}

// scheduleOf is the job named in the URL, for act, and its schedule
// named there; a 404 for either that does not exist.
func (s *Service) scheduleOf(r *http.Request, act acl.Action) (job.Job, error) {
	j, err := s.metronomeJobOf(r, act)
	if err != nil {
		return j, err
	}
	id := chi.URLParam(r, "scheduleId")
	if sc, ok := metronome.ScheduleOf(j); !ok || sc.ID != id {
		return j, scheduleNotFound(id)
	}
	return j, nil
}

// metronomeSchedule is GET /v1/jobs/{jobId}/schedules/{scheduleId}.
func (s *Service) metronomeSchedule(w http.ResponseWriter, r *http.Request) {
	j, err := s.scheduleOf(r, acl.ViewJobs)
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	view, _ := scheduleView(j, time.Now())
	writeJSON(w, http.StatusOK, view)
}

// metronomeReplaceSchedule is PUT /v1/jobs/{jobId}/schedules/{scheduleId}:
// 200 with the schedule; the body's id must be the URL's.
func (s *Service) metronomeReplaceSchedule(w http.ResponseWriter, r *http.Request) {
	j, err := s.scheduleOf(r, acl.ManageJobs)
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	sc, err := decodeSchedule(r)
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	if id := chi.URLParam(r, "scheduleId"); sc.ID != id {
		metronomeErr(w, r, &job.ValidationError{Message: "Object is not valid", Details: []job.Detail{{Path: "/id",
			Errors: []string{"id " + strconv.Quote(sc.ID) + " does not match " + strconv.Quote(id) + " in the URL"}}}})
		return
	}
	s.storeSchedule(w, r, j, sc, http.StatusOK)
}

// metronomeDeleteSchedule is DELETE /v1/jobs/{jobId}/schedules/{scheduleId}:
// the job keeps running only when started. 200, no body.
func (s *Service) metronomeDeleteSchedule(w http.ResponseWriter, r *http.Request) {
	j, err := s.scheduleOf(r, acl.ManageJobs)
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	metronome.Clear(&j)
	if err := s.metronomeSave(r, &j, false, metronome.SchedulePaths); err != nil {
		metronomeErr(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// metronomeRuns is GET /v1/jobs/{jobId}/runs: the active runs, as in
// Metronome (finished ones are in ?embed=history of the job, and each
// stays readable by its id).
func (s *Service) metronomeRuns(w http.ResponseWriter, r *http.Request) {
	j, err := s.metronomeJobOf(r, acl.ViewJobs)
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	active, err := s.store.ActiveRuns(r.Context())
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, runsOf(j.Name, active))
}

// runsOf are the runs of the job name among runs, as Metronome runs.
func runsOf(name string, runs []store.Run) []metronome.Run {
	out := []metronome.Run{}
	for _, run := range runs {
		if rv, ok := metronome.RunView(facts(run)); ok && run.Job == name {
			out = append(out, rv)
		}
	}
	return out
}

// metronomeStart is POST /v1/jobs/{jobId}/runs: a run now, whatever the
// schedule; 201 with the run. The request has no body.
func (s *Service) metronomeStart(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "jobId")
	body, err := readBody(r)
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	if !blank.JSON(body) {
		metronomeErr(w, r, &job.ValidationError{Message: "Object is not valid", Details: []job.Detail{{Path: "/",
			Errors: []string{"starting a run takes no body"}}}})
		return
	}
	run, err := s.queueManual(r, id, nil)
	var ae *apiError
	if errors.As(err, &ae) && ae.code == http.StatusNotFound {
		err = jobNotFound(id)
	}
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	rv, _ := metronome.RunView(facts(run))
	writeJSON(w, http.StatusCreated, rv)
}

// metronomeRunOf is the run named in the URL, of the job named there,
// for act; a 404 in Metronome's shape for either that does not exist,
// and for a skipped occurrence, which is no Metronome run.
func (s *Service) metronomeRunOf(r *http.Request, act acl.Action) (store.Run, error) {
	j, err := s.metronomeJobOf(r, act)
	if err != nil {
		return store.Run{}, err
	}
	rid := chi.URLParam(r, "runId")
	id, err := strconv.ParseInt(rid, 10, 64)
	if err != nil {
		return store.Run{}, runNotFound(j.Name, rid)
	}
	run, err := s.store.Run(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Run{}, runNotFound(j.Name, rid)
	case err != nil:
		return store.Run{}, err
	}
	if _, ok := metronome.RunView(facts(run)); !ok || run.Job != j.Name {
		return store.Run{}, runNotFound(j.Name, rid)
	}
	return run, nil
}

// metronomeRun is GET /v1/jobs/{jobId}/runs/{runId}, active or not.
func (s *Service) metronomeRun(w http.ResponseWriter, r *http.Request) {
	run, err := s.metronomeRunOf(r, acl.ViewJobs)
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	rv, _ := metronome.RunView(facts(run))
	writeJSON(w, http.StatusOK, rv)
}

// metronomeStop is POST /v1/jobs/{jobId}/runs/{runId}/actions/stop: the
// run stopped as the native stop does (a queued run at once, a running
// one by killing its task); 200 with the run as it is then. A run that
// ended is a 409.
func (s *Service) metronomeStop(w http.ResponseWriter, r *http.Request) {
	run, err := s.metronomeRunOf(r, acl.ManageJobs)
	if err == nil {
		err = s.stop(r.Context(), run)
	}
	if err == nil {
		run, err = s.store.Run(r.Context(), run.ID)
	}
	if err != nil {
		metronomeErr(w, r, err)
		return
	}
	rv, _ := metronome.RunView(facts(run))
	writeJSON(w, http.StatusOK, rv)
}
