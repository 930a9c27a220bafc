package services

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"corral/frameworks/services/app"
)

// groupBody is a group in a request: apps and subgroups, ids relative to
// the group or absolute.
type groupBody struct {
	ID           string            `json:"id"`
	Apps         []json.RawMessage `json:"apps"`
	Groups       []groupBody       `json:"groups"`
	Dependencies []string          `json:"dependencies"`
}

// resolve makes id absolute against base, as Marathon resolves ids in a
// group body.
func resolve(base, id string) string {
	if strings.HasPrefix(id, "/") {
		return app.CanonicalID(id)
	}
	return app.CanonicalID(strings.TrimSuffix(base, "/") + "/" + id)
}

// flatten collects the apps of a group body (ids made absolute) and the
// groups it names.
func flatten(base string, g groupBody, apps map[string]json.RawMessage, groups map[string][]string) error {
	gid := base
	if g.ID != "" {
		gid = resolve(base, g.ID)
	}
	groups[gid] = g.Dependencies
	for i, raw := range g.Apps {
		var probe struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &probe); err != nil || probe.ID == "" {
			return &app.ValidationError{Message: "Object is not valid", Details: []app.Detail{{Path: fmt.Sprintf("/apps(%d)/id", i), Errors: []string{"an app id is required"}}}}
		}
		id := resolve(gid, probe.ID)
		var m map[string]json.RawMessage
		_ = json.Unmarshal(raw, &m)
		m["id"], _ = json.Marshal(id)
		b, _ := json.Marshal(m)
		apps[id] = b
	}
	for _, sub := range g.Groups {
		if err := flatten(gid, sub, apps, groups); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) groupRoute(w http.ResponseWriter, r *http.Request) {
	id := app.CanonicalID(chi.URLParam(r, "*"))
	switch r.Method {
	case http.MethodGet:
		s.getGroup(w, r, id)
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		s.putGroup(w, r, id)
	case http.MethodDelete:
		s.deleteGroup(w, r, id)
	default:
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Message: "Method " + r.Method + " is not allowed on " + r.URL.Path})
	}
}

func (s *Service) getGroup(w http.ResponseWriter, r *http.Request, id string) {
	var out map[string]any
	withTasks := embeds(r, "group.")["apps.tasks"]
	err := s.do(r.Context(), func(c *core) {
		if c.groupExists(id) {
			out = c.groupJSON(id, withTasks)
		}
	})
	if err == nil && out == nil {
		err = &errNotFound{fmt.Sprintf("Group '%s' does not exist", id)}
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// putGroup creates (POST) or updates (PUT, PATCH) a group and its apps in
// one deployment. PUT makes the group hold exactly the apps given (others
// under it are deleted); PATCH and POST only add or change.
func (s *Service) putGroup(w http.ResponseWriter, r *http.Request, id string) {
	body, err := readBody(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	var g groupBody
	if err := json.Unmarshal(body, &g); err != nil {
		writeErr(w, &app.InvalidJSON{Message: "Invalid JSON", Details: []app.Detail{{Path: "/", Errors: []string{err.Error()}}}})
		return
	}
	base := id
	if r.Method == http.MethodPost && g.ID != "" {
		base = resolve(id, g.ID)
		g.ID = ""
	}
	if base != "/" {
		if err := app.ValidID(base); err != nil {
			writeErr(w, &app.ValidationError{Message: "Object is not valid", Details: []app.Detail{{Path: "/id", Errors: []string{err.Error()}}}})
			return
		}
	}
	apps := map[string]json.RawMessage{}
	groups := map[string][]string{}
	if err := flatten(base, g, apps, groups); err != nil {
		writeErr(w, err)
		return
	}
	for _, gid := range sortedKeys(groups) {
		if gid == "/" {
			continue
		}
		if err := app.ValidID(gid); err != nil {
			writeErr(w, &app.ValidationError{Message: "Object is not valid", Details: []app.Detail{{Path: "/groups", Errors: []string{err.Error()}}}})
			return
		}
	}
	defs := map[string]app.App{}
	for appID, raw := range apps {
		a, err := app.Decode(raw)
		if err != nil {
			writeErr(w, err)
			return
		}
		a.ID = appID
		a.Normalize()
		if ve := app.Validate(a); ve != nil {
			writeErr(w, ve)
			return
		}
		defs[appID] = a
	}
	force := boolParam(r, "force", false)
	var (
		dep     *deployment
		oerr    error
		created bool
	)
	err = s.do(r.Context(), func(c *core) {
		if r.Method == http.MethodPost && c.groupExists(base) && base != "/" {
			oerr = &errConflict{fmt.Sprintf("Group %s is already created. Use PUT to change this group.", base)}
			return
		}
		created = !c.groupExists(base)
		var changes []change
		for _, appID := range sortedKeys(defs) {
			if ch, changed := c.updateOf(appID, defs[appID]); changed {
				changes = append(changes, ch)
			}
		}
		if r.Method == http.MethodPut {
			for appID, as := range c.apps {
				if !as.deleting && app.InGroup(base, appID) && defs[appID].ID == "" {
					changes = append(changes, change{id: appID, action: actionStop})
				}
			}
		}
		now := time.Now()
		version := nextVersion(now)
		if len(changes) == 0 {
			// Nothing to deploy: an empty deployment finishes at once.
			dep = &deployment{ID: "", Version: version}
		} else if dep, oerr = c.deploy(r.Context(), changes, force, now); oerr != nil {
			return // a refused change (locked) must not leave the groups behind
		}
		for gid, deps := range groups {
			gr := &group{ID: gid, Dependencies: deps, Version: version}
			if gr.Dependencies == nil {
				gr.Dependencies = []string{}
			}
			b, _ := json.Marshal(gr)
			if err := c.s.store.PutGroup(r.Context(), gid, version, b); err != nil {
				oerr = &errUnavailable{err}
				return
			}
			c.groups[gid] = gr
		}
	})
	if err == nil {
		err = oerr
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	code := http.StatusOK
	if r.Method == http.MethodPost || created {
		code = http.StatusCreated
		w.Header().Set("Location", base)
	}
	if dep.ID == "" {
		writeJSON(w, code, map[string]string{"version": dep.Version})
		return
	}
	deploymentResult(w, code, dep)
}

// deleteGroup deletes a group and every app under it.
func (s *Service) deleteGroup(w http.ResponseWriter, r *http.Request, id string) {
	force := boolParam(r, "force", false)
	var (
		dep  *deployment
		oerr error
	)
	err := s.do(r.Context(), func(c *core) {
		if !c.groupExists(id) {
			oerr = &errNotFound{fmt.Sprintf("Group '%s' does not exist", id)}
			return
		}
		var changes []change
		for _, appID := range sortedKeys(c.apps) {
			if as := c.apps[appID]; !as.deleting && app.InGroup(id, appID) {
				changes = append(changes, change{id: appID, action: actionStop})
			}
		}
		if len(changes) == 0 {
			dep = &deployment{Version: nextVersion(time.Now())}
		} else if dep, oerr = c.deploy(r.Context(), changes, force, time.Now()); oerr != nil {
			return // a refused delete (locked) keeps the groups
		}
		for gid := range c.groups {
			if app.InGroup(id, gid) || gid == id {
				if err := c.s.store.DeleteGroup(r.Context(), gid); err != nil && !isNotFound(err) {
					oerr = &errUnavailable{err}
					return
				}
				delete(c.groups, gid)
			}
		}
	})
	if err == nil {
		err = oerr
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	if dep.ID == "" {
		writeJSON(w, http.StatusOK, map[string]string{"version": dep.Version})
		return
	}
	deploymentResult(w, http.StatusOK, dep)
}
