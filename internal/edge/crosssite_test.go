package edge

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCrossSiteGuard(t *testing.T) {
	h := CrossSite{Hosts: []string{"localhost", "master.internal"}, Origins: []string{"https://ui.example"}}.Guard()(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	cases := []struct {
		name, method, host, origin, ctype, body string
		preflight                               bool
		code                                    int
		want                                    string
	}{
		{name: "curl json", method: "POST", host: "127.0.0.1:8080", ctype: "application/json", body: "{}", code: 201},
		{name: "json with charset", method: "POST", host: "localhost:8080", ctype: "application/json; charset=utf-8", body: "{}", code: 201},
		{name: "text/plain body", method: "POST", host: "localhost:8080", ctype: "text/plain", body: "{}", code: 415, want: "application/json"},
		{name: "form body", method: "POST", host: "localhost:8080", ctype: "application/x-www-form-urlencoded", body: "a=b", code: 415},
		{name: "no type", method: "PUT", host: "localhost:8080", body: "{}", code: 415},
		{name: "empty post", method: "POST", host: "localhost:8080", code: 201},
		{name: "foreign origin", method: "POST", host: "localhost:8080", origin: "http://evil.example", ctype: "application/json", body: "{}", code: 403, want: "evil.example"},
		{name: "foreign origin get", method: "GET", host: "localhost:8080", origin: "http://evil.example", code: 403},
		{name: "null origin", method: "POST", host: "localhost:8080", origin: "null", code: 403},
		{name: "same origin", method: "POST", host: "localhost:8080", origin: "http://localhost:8080", ctype: "application/json", body: "{}", code: 201},
		{name: "same host other port", method: "POST", host: "localhost:8080", origin: "http://localhost:9999", code: 403},
		{name: "listed origin", method: "POST", host: "localhost:8080", origin: "https://ui.example", ctype: "application/json", body: "{}", code: 201},
		{name: "rebinding", method: "GET", host: "evil.example:8080", code: 421, want: "allowed_hosts"},
		{name: "ip literal", method: "GET", host: "10.1.2.3:8080", code: 201},
		{name: "ipv6 literal", method: "GET", host: "[::1]:8080", code: 201},
		{name: "named host", method: "GET", host: "Master.Internal", code: 201},
		{name: "preflight foreign", method: "OPTIONS", host: "localhost:8080", origin: "http://evil.example", preflight: true, code: 403},
		{name: "preflight listed", method: "OPTIONS", host: "localhost:8080", origin: "https://ui.example", preflight: true, code: 204},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, "/v2/apps", strings.NewReader(c.body))
			if c.body == "" {
				req = httptest.NewRequest(c.method, "/v2/apps", nil)
			}
			req.Host = c.host
			if c.origin != "" {
				req.Header.Set("Origin", c.origin)
			}
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			if c.preflight {
				req.Header.Set("Access-Control-Request-Method", "POST")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.want) {
				t.Fatalf("%s %s Host %s Origin %s = %d %q; want %d containing %q", c.method, c.ctype, c.host, c.origin, rec.Code, rec.Body, c.code, c.want)
			}
			if c.name == "listed origin" || c.name == "preflight listed" {
				if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "https://ui.example" {
					t.Errorf("Access-Control-Allow-Origin = %q; want the listed origin", got)
				}
			}
			if c.code == 403 && rec.Header().Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("a refused origin got CORS headers")
			}
		})
	}
}

func TestCrossSiteAnyHost(t *testing.T) {
	h := CrossSite{Hosts: []string{"*"}}.Guard()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Host = "whatever.example"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("Hosts * : %d; want 200", rec.Code)
	}
}

func TestLoopback(t *testing.T) {
	for in, want := range map[string]bool{
		"127.0.0.1:5050": true, "[::1]:1": true, "localhost:80": true, "127.0.0.2:1": true,
		":5050": false, "0.0.0.0:5050": false, "10.0.0.1:5050": false, "[::]:1": false, "example.com:80": false,
	} {
		if got := Loopback(in); got != want {
			t.Errorf("Loopback(%q) = %v; want %v", in, got, want)
		}
	}
}

func TestDefaultHosts(t *testing.T) {
	got := strings.Join(DefaultHosts("master1:5050", "http://10.0.0.1:5050", "https://Corral.Example:443"), ",")
	for _, want := range []string{"localhost", "master1", "corral.example"} {
		if !strings.Contains(got, want) {
			t.Errorf("DefaultHosts = %s; want it to hold %s", got, want)
		}
	}
	if strings.Contains(got, "10.0.0.1") {
		t.Errorf("DefaultHosts = %s; IP literals need no listing", got)
	}
}
