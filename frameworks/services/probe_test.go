package services

import (
	"fmt"
	"testing"
)

func TestProbe(t *testing.T) {
	s := startServer(t, newDB(t))
	show := func(method, path, body string, h ...string) response {
		r := s.do(method, path, body, h...)
		fmt.Printf("== %s %s -> %d %v\n%s\n", method, path, r.code, r.header, r.body)
		return r
	}
	show("POST", "/v2/apps", `{"id":"/prod/web/frontend","cmd":"sleep 100","instances":2,"labels":{"a":"b"}}`)
	show("POST", "/v2/apps", `{"id":"zero","cmd":"sleep 100","instances":0}`)
	show("GET", "/v2/apps/prod/web/frontend", ``)
	show("GET", "/v2/apps//prod/web/frontend", ``)
	show("GET", "/v2/deployments", ``)
	show("GET", "/v2/groups", ``)
	show("GET", "/v2/queue", ``)
	show("PUT", "/v2/apps/zero", `{"instances":3,"cmd":null}`)
	show("GET", "/v2/deployments", ``)
	show("GET", "/v2/apps/zero", ``)
	show("PUT", "/v2/apps/zero", `{"cmd":"sleep 5"}`)
	show("GET", "/v2/info", ``)
	show("GET", "/ping", ``, "Accept: image/png")
	show("DELETE", "/v2/info", ``)
	show("GET", "/nope", ``)
	show("POST", "/v2/apps/zero", ``)
	show("GET", "/metrics", ``)
	show("GET", "/metrics/prometheus", ``)
}
