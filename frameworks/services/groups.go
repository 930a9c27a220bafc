package services

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"corral/frameworks/services/app"
	"corral/frameworks/services/store"
	"corral/internal/acl"
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

// flatten collects the apps of a group body (ids made absolute) with
// where the body has them ("/groups(0)/apps(1)"), and the groups it
// names. path is where the body has g ("" for the whole body).
func flatten(base, path string, g groupBody, apps map[string]json.RawMessage, paths map[string]string, groups map[string][]string) error {
	gid := base
	if g.ID != "" {
		gid = resolve(base, g.ID)
	}
	groups[gid] = g.Dependencies
	for i, raw := range g.Apps {
		at := fmt.Sprintf("%s/apps(%d)", path, i)
		var probe struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &probe); err != nil || probe.ID == "" {
			return &app.ValidationError{Message: "Object is not valid", Details: []app.Detail{{Path: at + "/id", Errors: []string{"an app id is required"}}}}
		}
		id := resolve(gid, probe.ID)
		var m map[string]json.RawMessage
		_ = json.Unmarshal(raw, &m)
		m["id"], _ = json.Marshal(id)
		b, _ := json.Marshal(m)
		apps[id] = b
		paths[id] = at
	}
	for i, sub := range g.Groups {
		if err := flatten(gid, fmt.Sprintf("%s/groups(%d)", path, i), sub, apps, paths, groups); err != nil {
			return err
		}
	}
	return nil
}

// groupFields are the fields of a Marathon group; "version" is read-only.
var groupFields = []string{"apps", "dependencies", "enforceRole", "groups", "id", "pods", "version"}

// checkGroup looks at the fields of a group body and of its subgroups
// (path is where the body has it): it returns a warning for each field a
// Marathon group does not have, and the refusals of the group fields
// corral does not implement, pods and enforceRole, unless they are empty.
// The body's types were checked already.
func checkGroup(path string, raw json.RawMessage) ([]app.Warning, []app.Detail) {
	var g map[string]json.RawMessage
	if json.Unmarshal(raw, &g) != nil {
		return nil, nil
	}
	var (
		ws []app.Warning
		ds []app.Detail
	)
	for _, k := range sortedKeys(g) {
		if !slices.Contains(groupFields, k) {
			ws = append(ws, app.Warning{Path: path + "/" + k})
		}
	}
	var pods []json.RawMessage
	_ = json.Unmarshal(g["pods"], &pods)
	if len(pods) > 0 {
		ds = append(ds, app.Detail{Path: path + "/pods", Errors: []string{"pods are not supported by corral yet; give [] and use apps"}})
	}
	var enforce bool
	_ = json.Unmarshal(g["enforceRole"], &enforce)
	if enforce {
		ds = append(ds, app.Detail{Path: path + "/enforceRole", Errors: []string{"a role per group (enforceRole) is not supported by corral yet: apps use the framework's role; give false or leave it out"}})
	}
	var subs []json.RawMessage
	_ = json.Unmarshal(g["groups"], &subs)
	for i, sub := range subs {
		sw, sd := checkGroup(fmt.Sprintf("%s/groups(%d)", path, i), sub)
		ws, ds = append(ws, sw...), append(ds, sd...)
	}
	return ws, ds
}

// within returns the error of an app found at prefix of a group body with
// its details' paths under prefix: "/cpus" of the first app becomes
// "/apps(0)/cpus".
func within(prefix string, err error) error {
	under := func(ds []app.Detail) []app.Detail {
		out := make([]app.Detail, len(ds))
		for i, d := range ds {
			out[i] = app.Detail{Path: prefix + strings.TrimSuffix(d.Path, "/"), Errors: d.Errors}
			if out[i].Path == "" {
				out[i].Path = "/"
			}
		}
		return out
	}
	var ij *app.InvalidJSON
	var ve *app.ValidationError
	switch {
	case errors.As(err, &ij):
		return &app.InvalidJSON{Message: ij.Message, Details: under(ij.Details)}
	case errors.As(err, &ve):
		return &app.ValidationError{Message: ve.Message, Details: under(ve.Details)}
	}
	return err
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

// getGroup is GET /v2/groups[/<id>]: the group tree without what r's
// principal may not see; 403 if it may see neither the group nor anything
// in it.
func (s *Service) getGroup(w http.ResponseWriter, r *http.Request, id string) {
	sees, ok := s.viewer(w, r)
	if !ok {
		return
	}
	var (
		out   map[string]any
		empty bool
	)
	withTasks := embeds(r, "group.")["apps.tasks"]
	err := s.do(r.Context(), func(c *core) {
		if c.groupExists(id) {
			out, empty = c.groupJSON(id, withTasks, sees)
		}
	})
	if err == nil && (out == nil || empty) && id != "/" {
		err = s.authorize(r, acl.ViewApps, id)
	}
	if err == nil && out == nil {
		err = &errNotFound{fmt.Sprintf("Group '%s' does not exist", id)}
	}
	if err != nil {
		writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// putGroup creates (POST) or updates (PUT, PATCH) a group and its apps in
// one deployment. PUT makes the group hold exactly the apps given (others
// under it are deleted); PATCH and POST only add or change.
func (s *Service) putGroup(w http.ResponseWriter, r *http.Request, id string) {
	if !s.grants(w, r, acl.ManageApps) {
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	var g groupBody
	if err := json.Unmarshal(body, &g); err != nil {
		writeErr(w, r, &app.InvalidJSON{Message: "Invalid JSON", Details: []app.Detail{{Path: "/", Errors: []string{err.Error()}}}})
		return
	}
	base := id
	if r.Method == http.MethodPost && g.ID != "" {
		base = resolve(id, g.ID)
		g.ID = ""
	}
	if base != "/" {
		if err := app.ValidID(base); err != nil {
			writeErr(w, r, &app.ValidationError{Message: "Object is not valid", Details: []app.Detail{{Path: "/id", Errors: []string{err.Error()}}}})
			return
		}
	}
	warnings, refused := checkGroup("", body)
	if len(refused) > 0 {
		writeErr(w, r, &app.ValidationError{Message: "Object is not valid", Details: refused})
		return
	}
	apps := map[string]json.RawMessage{}
	paths := map[string]string{}
	groups := map[string][]string{}
	if err := flatten(base, "", g, apps, paths, groups); err != nil {
		writeErr(w, r, err)
		return
	}
	for _, gid := range sortedKeys(groups) {
		if gid == "/" {
			continue
		}
		if err := app.ValidID(gid); err != nil {
			writeErr(w, r, &app.ValidationError{Message: "Object is not valid", Details: []app.Detail{{Path: "/groups", Errors: []string{err.Error()}}}})
			return
		}
	}
	// The change touches its groups and apps, and with PUT the apps it
	// deletes (decided on the loop).
	if !s.may(w, r, acl.ManageApps, append(sortedKeys(groups), sortedKeys(apps)...)...) { // groups hold base
		return
	}
	defs := map[string]app.App{}
	for _, appID := range sortedKeys(apps) {
		a, ws, err := app.DecodeRequest(apps[appID], s.framework())
		if err != nil {
			writeErr(w, r, within(paths[appID], err))
			return
		}
		for _, w := range ws {
			warnings = append(warnings, w.In(paths[appID]))
		}
		a.ID = appID
		a.Normalize()
		if ve := app.Validate(a); ve != nil {
			writeErr(w, r, within(paths[appID], ve))
			return
		}
		defs[appID] = a
	}
	force := boolParam(r, "force", false)
	var (
		dep     *deployment
		created bool
	)
	err = s.mutate(r.Context(), func(c *core) (cm *commit, oerr error) {
		if r.Method == http.MethodPost && c.groupExists(base) && base != "/" {
			return nil, &errConflict{fmt.Sprintf("Group %s is already created. Use PUT to change this group.", base)}
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
					if err := s.authorize(r, acl.ManageApps, appID); err != nil {
						return nil, err
					}
					changes = append(changes, change{id: appID, action: actionStop})
				}
			}
		}
		now := time.Now()
		version := nextVersion(now)
		if len(changes) == 0 {
			// Nothing to deploy: an empty deployment finishes at once.
			dep = &deployment{ID: "", Version: version}
			cm = &commit{what: "groups under " + base}
		} else if cm, dep, oerr = c.deploy(changes, force, now); oerr != nil {
			return nil, oerr // a refused change (locked) must not leave the groups behind
		}
		// The groups go in the same transaction as their apps.
		for _, gid := range sortedKeys(groups) {
			gr := &group{ID: gid, Dependencies: groups[gid], Version: version}
			if gr.Dependencies == nil {
				gr.Dependencies = []string{}
			}
			b, _ := json.Marshal(gr)
			cm.write(func(ctx context.Context, tx *store.Tx) error { return tx.PutGroup(ctx, gid, version, b) })
			cm.apply(func(c *core) { c.groups[gid] = gr })
		}
		return cm, nil
	})
	if err != nil {
		writeErr(w, r, err)
		return
	}
	code := http.StatusOK
	if r.Method == http.MethodPost || created {
		code = http.StatusCreated
		w.Header().Set("Location", base)
	}
	slices.SortFunc(warnings, func(a, b app.Warning) int { return strings.Compare(a.Path, b.Path) })
	if dep.ID == "" {
		body := map[string]any{"version": dep.Version}
		if ws := warningTexts(warnings); len(ws) > 0 {
			body["warnings"] = ws
		}
		writeJSON(w, code, body)
		return
	}
	deploymentResult(w, code, dep, warnings...)
}

// deleteGroup deletes a group and every app under it.
func (s *Service) deleteGroup(w http.ResponseWriter, r *http.Request, id string) {
	if !s.may(w, r, acl.ManageApps, id) {
		return
	}
	force := boolParam(r, "force", false)
	var dep *deployment
	err := s.mutate(r.Context(), func(c *core) (cm *commit, oerr error) {
		if !c.groupExists(id) {
			return nil, &errNotFound{fmt.Sprintf("Group '%s' does not exist", id)}
		}
		var changes []change
		for _, appID := range sortedKeys(c.apps) {
			if as := c.apps[appID]; !as.deleting && app.InGroup(id, appID) {
				if err := s.authorize(r, acl.ManageApps, appID); err != nil {
					return nil, err
				}
				changes = append(changes, change{id: appID, action: actionStop})
			}
		}
		for _, gid := range sortedKeys(c.groups) {
			if app.InGroup(id, gid) {
				if err := s.authorize(r, acl.ManageApps, gid); err != nil {
					return nil, err
				}
			}
		}
		if len(changes) == 0 {
			dep = &deployment{Version: nextVersion(time.Now())}
			cm = &commit{what: "deleting group " + id}
		} else if cm, dep, oerr = c.deploy(changes, force, time.Now()); oerr != nil {
			return nil, oerr // a refused delete (locked) keeps the groups
		}
		for _, gid := range sortedKeys(c.groups) {
			if app.InGroup(id, gid) || gid == id {
				cm.write(func(ctx context.Context, tx *store.Tx) error { return tx.DeleteGroup(ctx, gid) })
				cm.apply(func(c *core) { delete(c.groups, gid) })
			}
		}
		return cm, nil
	})
	if err != nil {
		writeErr(w, r, err)
		return
	}
	if dep.ID == "" {
		writeJSON(w, http.StatusOK, map[string]string{"version": dep.Version})
		return
	}
	deploymentResult(w, http.StatusOK, dep)
}
