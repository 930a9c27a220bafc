package services

import (
	"fmt"
	"testing"
)

func TestProbe(t *testing.T) {
	s := startServer(t, newDB(t))
	show := func(method, path, body string, h ...string) response {
		r := s.do(method, path, body, h...)
		fmt.Printf("== %s %s -> %d\n%s\n", method, path, r.code, r.body)
		return r
	}
	show("POST", "/v2/apps", `{"id":"/prod/web","cmd":"sleep 100","instances":0}`)
	show("GET", "/v2/apps/a%00b/versions", ``)
	show("GET", "/v2/apps/prod/web/versions/%00", ``)
	show("GET", "/v2/apps/prod/web/versions/bogus", ``)
	show("GET", "/v2/apps/nope/*", ``)
	show("POST", "/v2/groups", `{"id":"/g","groups":[{"id":"Bad_Sub"}]}`)
	show("GET", "/v2/groups", ``)
	show("POST", "/v2/apps", `{"id":"/locked/app","cmd":"sleep 100","instances":1}`)
	show("PUT", "/v2/groups/newg", `{"apps":[{"id":"/locked/app","cmd":"sleep 2"}]}`)
	show("GET", "/v2/groups/newg", ``)
	show("POST", "/v2/apps", `{"id":"/x","cmd":"x","cpus":"lots"}`)
	show("POST", "/v2/apps", ``)
	show("POST", "/v2/apps", `[]`)
	show("GET", "/v2/apps?label=!!!", ``)
	show("GET", "/v2/events", ``, "Accept: application/json")
	show("PUT", "/v2/apps", `{}`)
	show("PUT", "/v2/apps", `[]`)
	show("POST", "/v2/tasks/delete", `{"ids":["nope"]}`)
	show("POST", "/v2/tasks/delete", `{"ids":"nope"}`)
	show("GET", "/v2/apps/prod/web/tasks/x", ``)
	show("DELETE", "/v2/deployments/nope", ``)
	show("DELETE", "/v2/queue/nope/delay", ``)
	show("DELETE", "/v2/queue/prod/web", ``)
	show("GET", "/v2/tasks?status=bogus", ``)
	show("POST", "/v2/apps", `{"id":"/a/b/c","cmd":"x"}`, "Content-Type: text/plain")
	show("PUT", "/v2/apps/%00", `{}`)
	show("GET", "/v2/groups/%00", ``)
	show("POST", "/v2/groups", `{"id":"/q\u0000"}`)
}
