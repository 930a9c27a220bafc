package services

import (
	"net/http"
	"strings"
	"testing"

	"corral/internal/edge"
)

// TestCrossSiteRequestsRefused: what a web page on another site could
// make a developer's browser send to the services API is refused, and
// nothing is stored; the same request from a client (curl, the CLI) works.
func TestCrossSiteRequestsRefused(t *testing.T) {
	s := startTrusted(t, func(listen string) edge.Trust { return edge.Trust{Hosts: edge.DefaultHosts(listen)} })
	app := `{"id": "/pwned", "cmd": "id", "instances": 0}`
	for _, c := range []struct {
		name, ctype, origin, host string
		want                      int
	}{
		{"text/plain body", "text/plain", "", "", http.StatusUnsupportedMediaType},
		{"form body", "application/x-www-form-urlencoded", "", "", http.StatusUnsupportedMediaType},
		{"foreign Origin", "application/json", "http://evil.example", "", http.StatusForbidden},
		{"null Origin", "application/json", "null", "", http.StatusForbidden},
		{"foreign Host (DNS rebinding)", "application/json", "", "evil.example", http.StatusMisdirectedRequest},
	} {
		req, _ := http.NewRequest(http.MethodPost, s.base+"/v2/apps", strings.NewReader(app))
		req.Header.Set("Content-Type", c.ctype)
		if c.origin != "" {
			req.Header.Set("Origin", c.origin)
		}
		if c.host != "" {
			req.Host = c.host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: POST /v2/apps = %d; want %d", c.name, resp.StatusCode, c.want)
		}
	}
	if apps, err := s.store.Apps(t.Context()); err != nil || len(apps) != 0 {
		t.Fatalf("stored apps after refused requests = %v, %v; want none", apps, err)
	}
	req, _ := http.NewRequest(http.MethodPost, s.base+"/v2/apps", strings.NewReader(app))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("the same POST from a client = %d; want 201", resp.StatusCode)
	}
}
