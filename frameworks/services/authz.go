package services

import (
	"encoding/json"
	"net/http"

	"corral/internal/acl"
	"corral/internal/edge"
	"corral/internal/events"
)

// Authorization of the API, as Marathon's authorizer does it: the
// principal a request authenticated as (edge.Principal; "" when the
// cluster runs without credentials) may change an app only with
// manage_apps for its absolute id, and see it only with view_apps. The
// ACLs (Config.Trust.ACLs) compare app ids by path prefix, so an entry
// for "/team-a" covers "/team-a/web"; nil ACLs allow everything.
//
//   - A change names every app it touches and is refused (403) unless
//     each is allowed: the bulk update its every app, a group change its
//     group ids and every app it creates, changes or deletes, a deployment
//     rolled back or stopped every app of the deployment, a task kill the
//     app of each task. A principal allowed no app at all is refused
//     before the request is even read.
//   - A single app, its tasks and versions are refused (403) if not
//     allowed, before looking them up: a refused principal cannot tell an
//     app that exists from one that does not.
//   - Lists (apps, tasks, deployments, the queue, groups, the event
//     stream) leave out what the principal may not see, and are refused
//     only to a principal that may see no app at all (acl.Grants). A
//     deployment, in a list or an event, is seen only by who may see every
//     app it affects; a group by who may see it or something in it.
//   - The event stream passes an event that names apps (appId, runSpecId,
//     appDefinition.id, plan.affectedApps) only if each may be seen, and
//     an event that names none (framework and group events) to everyone
//     the stream is open to.
//   - Event subscriptions (/v2/eventSubscriptions) are listed to whoever
//     may open the event stream; a callback URL receives every event,
//     naming any app, so subscribing and unsubscribing one demand both
//     view_apps and manage_apps for "/", the whole tree.
//
// Refusals are Marathon's error body, {"message": …}, whose message is the
// acl.Denied text (`principal "bob" may not manage_apps for apps
// "/team-b/web"`).

// authorize is nil if r's principal may perform act on every object, else
// the 403 (*edge.Error) for the first it may not. It is safe on the loop.
func (s *Service) authorize(r *http.Request, act acl.Action, objects ...string) error {
	for _, o := range objects {
		if err := s.cfg.Trust.Authorize(r, act, o); err != nil {
			return err
		}
	}
	return nil
}

// may is authorize that answers the refusal itself: false once it has.
func (s *Service) may(w http.ResponseWriter, r *http.Request, act acl.Action, objects ...string) bool {
	if err := s.authorize(r, act, objects...); err != nil {
		writeErr(w, r, err)
		return false
	}
	return true
}

// grants answers 403 and returns false unless r's principal may perform
// act on some app (acl.Grants). Changes whose apps are known only from
// the body or the state ask it first, so that a principal allowed no app
// learns nothing, not even how its request is invalid.
func (s *Service) grants(w http.ResponseWriter, r *http.Request, act acl.Action) bool {
	if p := edge.Principal(r.Context()); !s.cfg.Trust.ACLs.Grants(act, p) {
		writeErr(w, r, edge.Errorf(http.StatusForbidden, "%s", &acl.Denied{Action: act, Principal: p}))
		return false
	}
	return true
}

// viewer returns what r's principal may see of a list: ok is false, with
// the 403 answered, when it may see no app at all (grants); otherwise
// sees(id) tells whether it may see app (or group) id.
func (s *Service) viewer(w http.ResponseWriter, r *http.Request) (sees func(id string) bool, ok bool) {
	if !s.grants(w, r, acl.ViewApps) {
		return nil, false
	}
	a, p := s.cfg.Trust.ACLs, edge.Principal(r.Context())
	return func(id string) bool { return a.Allowed(acl.ViewApps, p, id) }, true
}

// authorizeSubscriptions answers 403 and returns false unless r's
// principal may view and manage every app (see above).
func (s *Service) authorizeSubscriptions(w http.ResponseWriter, r *http.Request) bool {
	if err := s.authorize(r, acl.ViewApps, "/"); err != nil {
		writeErr(w, r, err)
		return false
	}
	return s.may(w, r, acl.ManageApps, "/")
}

// all reports whether sees every id.
func all(sees func(string) bool, ids []string) bool {
	for _, id := range ids {
		if !sees(id) {
			return false
		}
	}
	return true
}

// eventStream is GET /v2/events: the bus's stream without the events
// naming an app r's principal may not see.
func (s *Service) eventStream(w http.ResponseWriter, r *http.Request) {
	sees, ok := s.viewer(w, r)
	if !ok {
		return
	}
	if s.cfg.Trust.ACLs == nil {
		s.bus.ServeHTTP(w, r) // everything may be seen
		return
	}
	s.bus.ServeFiltered(w, r, func(e events.Event) bool {
		data := e.Data
		var ev struct {
			AppID         string `json:"appId"`
			RunSpecID     string `json:"runSpecId"`
			AppDefinition struct {
				ID string `json:"id"`
			} `json:"appDefinition"`
			Plan struct {
				AffectedApps []string `json:"affectedApps"`
			} `json:"plan"`
		}
		if len(data) == 0 {
			return true // a keep-alive
		}
		if json.Unmarshal(data, &ev) != nil {
			return false
		}
		var ids []string
		for _, id := range []string{ev.AppID, ev.RunSpecID, ev.AppDefinition.ID} {
			if id != "" {
				ids = append(ids, id)
			}
		}
		return all(sees, append(ids, ev.Plan.AffectedApps...))
	})
}
