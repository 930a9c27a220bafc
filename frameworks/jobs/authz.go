package jobs

import (
	"encoding/json"
	"net/http"

	"corral/frameworks/jobs/job"
	"corral/internal/acl"
	"corral/internal/edge"
	"corral/internal/events"
)

// Authorization of the native and the Chronos API: the principal a
// request authenticated as (edge.Principal; "" when the cluster runs
// without credentials) may change a job only with manage_jobs for its
// name, and see it only with view_jobs. The ACLs (Config.Trust.ACLs)
// compare job names by plain prefix, so an entry for "team-a-" covers
// "team-a-nightly"; nil ACLs allow everything.
//
//   - Changes: creating, replacing (Chronos iso8601 and dependency jobs
//     too), deleting, running now, stopping and killing runs, marking a
//     job successful. Each is refused (403) unless the job is allowed. A
//     job named in the URL is checked before it is looked up, so that a
//     refused principal cannot tell a job that exists from one that does
//     not; one named in the body once the body is valid, and a principal
//     allowed no job at all is refused before the body is read. A job's
//     parents must be jobs the principal may see (a dependency is a
//     window on its parent's runs); deleting a job that others depend on
//     needs manage_jobs for each child it rewires. Marking a job
//     successful starts its children, as a finished run would: they are
//     not checked.
//   - A single job, its runs and a run are refused (403) if not allowed.
//   - Lists (jobs, Chronos search and summary, the graph, the event
//     stream) leave out what the principal may not see (the graph also
//     the edges from parents it may not see), and are refused only to a
//     principal that may see no job at all (acl.Grants). An event naming
//     jobs (job, rewired[].job) passes only if each may be seen; one
//     naming none passes to everyone the stream is open to.
//
// Refusals are in the shape of the API asked: the native {"message": …}
// or Chronos' {"message": …, "status": "Forbidden"}, whose message is the
// acl.Denied text (`principal "bob" may not manage_jobs for jobs
// "team-b-nightly"`).

// authorize is nil if r's principal may perform act on every job named,
// else the 403 (*edge.Error) for the first it may not.
func (s *Service) authorize(r *http.Request, act acl.Action, names ...string) error {
	for _, n := range names {
		if err := s.cfg.Trust.Authorize(r, act, n); err != nil {
			return err
		}
	}
	return nil
}

// authorizeJob is authorize for storing j: manage_jobs for its name and
// view_jobs for each of its parents.
func (s *Service) authorizeJob(r *http.Request, j job.Job) error {
	if err := s.authorize(r, acl.ManageJobs, j.Name); err != nil {
		return err
	}
	return s.authorize(r, acl.ViewJobs, j.Parents...)
}

// sees reports whether r's principal may see the job name.
func (s *Service) sees(r *http.Request) func(name string) bool {
	a, p := s.cfg.Trust.ACLs, edge.Principal(r.Context())
	return func(name string) bool { return a.Allowed(acl.ViewJobs, p, name) }
}

// grants is nil if r's principal may perform act on some job
// (acl.Grants), else the 403. Changes whose job is named only in the body
// ask it first, so that a principal allowed no job learns nothing, not
// even how its request is invalid.
func (s *Service) grants(r *http.Request, act acl.Action) error {
	if p := edge.Principal(r.Context()); !s.cfg.Trust.ACLs.Grants(act, p) {
		return edge.Errorf(http.StatusForbidden, "%s", &acl.Denied{Action: act, Principal: p})
	}
	return nil
}

// viewer is sees for a list: the 403 when r's principal may see no job at
// all (grants).
func (s *Service) viewer(r *http.Request) (func(name string) bool, error) {
	if err := s.grants(r, acl.ViewJobs); err != nil {
		return nil, err
	}
	return s.sees(r), nil
}

// eventStream is GET /v1/events: the bus's stream without the events
// naming a job r's principal may not see.
func (s *Service) eventStream(w http.ResponseWriter, r *http.Request) {
	sees, err := s.viewer(r)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	if s.cfg.Trust.ACLs == nil {
		s.bus.ServeHTTP(w, r) // everything may be seen
		return
	}
	s.bus.ServeFiltered(w, r, func(e events.Event) bool {
		data := e.Data
		var ev struct {
			Job     string `json:"job"`
			Rewired []struct {
				Job string `json:"job"`
			} `json:"rewired"`
		}
		if len(data) == 0 {
			return true // a keep-alive
		}
		if json.Unmarshal(data, &ev) != nil || ev.Job != "" && !sees(ev.Job) {
			return false
		}
		for _, ch := range ev.Rewired {
			if !sees(ch.Job) {
				return false
			}
		}
		return true
	})
}
