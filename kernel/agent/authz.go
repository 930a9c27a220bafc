package agent

import (
	"context"
	"net/http"
	"time"

	"corral/internal/acl"
	"corral/internal/edge"
	"corral/kernel/agent/task"
	"corral/kernel/agent/update"
)

// authorizeSandbox is the files server's Authorize: access_sandboxes,
// for the OS user the task runs as (its command's, else its framework's),
// decides who reads a sandbox. Above the sandboxes (listing frameworks or
// a framework's tasks) the principal needs the action for some user. A
// sandbox whose task the agent no longer knows is judged as naming no
// user (only entries for ANY user match it).
func (a *Agent) authorizeSandbox(r *http.Request, framework, taskID string) error {
	acls := a.cfg.Trust.ACLs
	if acls == nil {
		return nil
	}
	p := edge.Principal(r.Context())
	if taskID == "" {
		if !acls.Grants(acl.AccessSandboxes, p) {
			return &acl.Denied{Action: acl.AccessSandboxes, Principal: p}
		}
		return nil
	}
	user := ""
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	_ = a.ask(ctx, func(l *loop) {
		if e := l.tasks[update.Key{FrameworkID: framework, TaskID: taskID}]; e != nil && e.info != nil {
			user = task.User(e.info, e.framework)
		}
	})
	return acls.Check(acl.AccessSandboxes, p, user)
}

// guardEndpoint guards h with get_endpoints for path (Mesos' ACL for
// endpoints that reveal the process, such as /metrics).
func (a *Agent) guardEndpoint(path string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.cfg.Trust.Authorize(r, acl.GetEndpoints, path); err != nil {
			edge.Write(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}
