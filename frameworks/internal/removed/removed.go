// Package removed keeps a framework the master removed from accepting
// changes it would never carry out. Once removed (sched.StateRemoved: a
// teardown, by anyone holding the id, or the failover timeout) a
// framework launches nothing more; an API that still answered 201 to a
// new app or job would have its caller wait for tasks that never come.
package removed

import (
	"encoding/json"
	"fmt"
	"net/http"

	"corral/kernel/sched"
)

// Guard returns middleware that answers a request that would change
// state (any method but GET, HEAD and OPTIONS) with 503 and a JSON
// {"message": …} while status reports the framework removed, saying so
// and what the operator must do: remove the stored framework id (the
// SQL statement given as reset) and restart the framework's instances.
// status's false (not leading, or no scheduler client yet) lets every
// request through; reads are always let through.
func Guard(framework, reset string, status func() (sched.Status, bool)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
				next.ServeHTTP(w, r)
				return
			}
			st, ok := status()
			if !ok || st.State != sched.StateRemoved {
				next.ServeHTTP(w, r)
				return
			}
			_, why := st.Check(st.Since)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]string{"message": Message(framework, reset, why)})
		})
	}
}

// Message is the refusal of a change to the removed framework: what
// happened (why, from sched.Status.Check) and what to do.
func Message(framework, reset, why string) string {
	return fmt.Sprintf("The %s framework can take no changes: %s. It launches nothing, so this change would never run. "+
		"Find out who removed it (the master's log), then delete the stored framework id (%s) and restart the %s instances: "+
		"they register a new framework and run what is stored.", framework, why, reset, framework)
}
