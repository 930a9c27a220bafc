package master

import (
	"fmt"
	"net/http"

	"corral/internal/acl"
	"corral/internal/edge"
)

// authorizeTask is the core's AuthorizeTask: the run_tasks ACL decides
// which OS users a framework's principal may run tasks as, and root needs
// an entry that allows it explicitly, whether or not an ACL file is given
// and whatever its permissive says.
func authorizeTask(a *acl.ACLs) func(principal, user string) error {
	return func(principal, user string) error {
		if user == "root" && !a.Explicit(acl.RunTasks, principal, "root") {
			who := fmt.Sprintf("principal %q", principal)
			if principal == "" {
				who = "a framework without a principal"
			}
			return fmt.Errorf("tasks may not run as root: %s has no run_tasks ACL entry that allows user root (--acls); run the task as another user", who)
		}
		return a.Check(acl.RunTasks, principal, user)
	}
}

// authorize answers 403 in the master's error shape and returns false
// unless r's principal may perform act on object.
func (m *Master) authorize(w http.ResponseWriter, r *http.Request, act acl.Action, object string) bool {
	if err := m.cfg.Trust.Authorize(r, act, object); err != nil {
		status, msg := edge.Fail(r, err)
		writeError(w, r, errorf(status, "%s", msg))
		return false
	}
	return true
}

// visible keeps of st what r's principal may see: frameworks by
// view_frameworks, their tasks by view_tasks, each for the OS user it
// runs as (Mesos' filters; nothing is refused, entries are left out).
func (m *Master) visible(r *http.Request, st *State) {
	a := m.cfg.Trust.ACLs
	if a == nil {
		return
	}
	p := edge.Principal(r.Context())
	frameworks := func(fws []FrameworkState) []FrameworkState {
		out := fws[:0]
		for _, f := range fws {
			if !a.Allowed(acl.ViewFrameworks, p, f.User) {
				continue
			}
			f.Tasks = tasks(a, p, f.Tasks)
			f.UnreachableTask = tasks(a, p, f.UnreachableTask)
			f.CompletedTasks = tasks(a, p, f.CompletedTasks)
			out = append(out, f)
		}
		return out
	}
	st.Frameworks = frameworks(st.Frameworks)
	st.CompletedFrameworks = frameworks(st.CompletedFrameworks)
	quotas := st.Quotas[:0]
	for _, q := range st.Quotas {
		if a.Allowed(acl.GetQuotas, p, q.Role) {
			quotas = append(quotas, q)
		}
	}
	st.Quotas = quotas
}

func tasks(a *acl.ACLs, principal string, ts []TaskState) []TaskState {
	out := ts[:0]
	for _, t := range ts {
		if a.Allowed(acl.ViewTasks, principal, t.User) {
			out = append(out, t)
		}
	}
	return out
}

// endpoint guards h with get_endpoints for path (Mesos' ACL for
// endpoints such as /metrics that reveal the process rather than a
// framework's objects).
func (m *Master) endpoint(path string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.authorize(w, r, acl.GetEndpoints, path) {
			h.ServeHTTP(w, r)
		}
	})
}
