package edge

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseCredentials(t *testing.T) {
	good := []struct {
		name, in string
		want     []string
	}{
		{"json", `{"credentials": [{"principal": "ops", "secret": "s1"}, {"principal": "services", "secret": "s2"}]}`, []string{"ops", "services"}},
		{"text", "ops s1\n\nservices s2\n", []string{"ops", "services"}},
		{"secret with colon", `{"credentials": [{"principal": "a", "secret": "x:y"}]}`, []string{"a"}},
	}
	for _, c := range good {
		t.Run(c.name, func(t *testing.T) {
			cs, err := ParseCredentials([]byte(c.in))
			if err != nil {
				t.Fatalf("ParseCredentials = %v", err)
			}
			if got := strings.Join(cs.Principals(), ","); got != strings.Join(c.want, ",") {
				t.Errorf("Principals() = %s; want %v", got, c.want)
			}
		})
	}
	bad := []struct{ name, in, want string }{
		{"empty", `{"credentials": []}`, "no credential"},
		{"empty text", "\n", "no credential"},
		{"duplicate", `{"credentials": [{"principal": "a", "secret": "1"}, {"principal": "a", "secret": "2"}]}`, `"a" appears twice`},
		{"shared secret", `{"credentials": [{"principal": "a", "secret": "1"}, {"principal": "b", "secret": "1"}]}`, "share a secret"},
		{"trailing newline", `{"credentials": [{"principal": "a", "secret": "s\n"}]}`, "trailing newline"},
		{"colon in principal", `{"credentials": [{"principal": "a:b", "secret": "s"}]}`, "contains ':'"},
		{"empty secret", `{"credentials": [{"principal": "a", "secret": ""}]}`, "secret of principal \"a\" is empty"},
		{"unknown field", `{"credentials": [{"principal": "a", "secret": "s", "role": "x"}]}`, "unknown field"},
		{"syntax", "{\"credentials\": [\n{\"principal\": }]}", "line 2"},
		{"three words", "a b c\n", "line 1"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseCredentials([]byte(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ParseCredentials(%q) = %v; want an error containing %q", c.in, err, c.want)
			}
		})
	}
}

func TestParseCredential(t *testing.T) {
	for _, in := range []string{`{"principal": "agent", "secret": "pw"}`, "agent pw\n"} {
		c, err := ParseCredential([]byte(in))
		if err != nil || c.Principal != "agent" || c.Secret != "pw" {
			t.Errorf("ParseCredential(%q) = %+v, %v; want agent/pw", in, c, err)
		}
	}
	if _, err := ParseCredential([]byte("a b\nc d\n")); err == nil {
		t.Error("ParseCredential of two lines = nil error; want one")
	}
	if s := (Credential{Principal: "p", Secret: "hush"}).String(); strings.Contains(s, "hush") {
		t.Errorf("Credential.String() = %q shows the secret", s)
	}
}

func TestAuthenticationGuard(t *testing.T) {
	cs, err := ParseCredentials([]byte(`{"credentials": [{"principal": "ops", "secret": "opensesame"}, {"principal": "ci", "secret": "tok-1"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	h := Authentication{Credentials: cs}.Guard()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+Principal(r.Context()))
	}))
	basic := func(p, s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(p+":"+s)) }
	cases := []struct {
		name, path, auth string
		code             int
		body             string
	}{
		{"anonymous", "/v2/apps", "", 401, "authentication required"},
		{"wrong secret", "/v2/apps", basic("ops", "nope"), 401, "invalid credentials"},
		{"unknown principal", "/v2/apps", basic("eve", "opensesame"), 401, "invalid credentials"},
		{"another's secret", "/v2/apps", basic("ops", "tok-1"), 401, "invalid credentials"},
		{"basic", "/v2/apps", basic("ops", "opensesame"), 200, "hello ops"},
		{"bearer", "/v2/apps", "Bearer tok-1", 200, "hello ci"},
		{"bad bearer", "/v2/apps", "Bearer tok-2", 401, "invalid credentials"},
		{"other scheme", "/v2/apps", "Digest x", 401, "not supported"},
		{"health is open", "/health", "", 200, "hello "},
		{"ping is open", "/ping", "", 200, "hello "},
		{"health with a wrong credential", "/health", basic("ops", "x"), 401, "invalid"},
		{"health/x is not open", "/health/x", "", 401, "authentication required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", c.path, nil)
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.body) {
				t.Fatalf("GET %s (%s) = %d %q; want %d containing %q", c.path, c.auth, rec.Code, rec.Body, c.code, c.body)
			}
			if c.code == 401 && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), `Basic realm="corral"`) {
				t.Errorf("WWW-Authenticate = %q; want a Basic challenge", rec.Header().Get("WWW-Authenticate"))
			}
			if strings.Contains(rec.Body.String(), "opensesame") {
				t.Errorf("the answer shows a secret: %s", rec.Body)
			}
		})
	}
}

func TestNoCredentialsLetsEveryoneIn(t *testing.T) {
	h := Authentication{}.Guard()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v2/apps", nil))
	if rec.Code != 200 {
		t.Fatalf("without credentials: %d; want 200", rec.Code)
	}
}

func TestCredentialRoundTripper(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, s, _ := r.BasicAuth()
		got = append(got, p+":"+s+"|"+r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	c := &http.Client{Transport: Credential{Principal: "agent", Secret: "pw"}.RoundTripper(nil)}
	if _, err := c.Get(srv.URL); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Authorization", "Bearer mine")
	if _, err := c.Do(req); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got[0], "agent:pw|Basic ") || got[1] != ":|Bearer mine" {
		t.Fatalf("requests carried %q; want the credential, then the caller's own header", got)
	}
}
