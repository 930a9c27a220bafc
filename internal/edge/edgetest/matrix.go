// Package edgetest checks a server's routes against the edge's promise:
// every route of its route table either is open (liveness probes) or
// answers an anonymous caller and a wrong secret 401, a principal without
// the ACL 403 (or a list filtered for it), and a principal with it
// neither. The table a test gives must name every route the router has,
// so that a new route cannot escape the matrix.
package edgetest

import (
	"corral/internal/acl"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

// Access is what a route demands.
type Access int

const (
	// Open routes answer anyone (liveness probes).
	Open Access = iota
	// Authenticated routes answer any authenticated principal; no ACL
	// decides (what they show is not anyone's in particular).
	Authenticated
	// Filtered routes answer any authenticated principal with what its
	// ACLs let it see.
	Filtered
	// Guarded routes answer 403 to a principal whose ACLs do not allow
	// the action.
	Guarded
	// Proxied routes pass the caller's credential to another server,
	// which decides: here only authentication is checked.
	Proxied
	// Token routes authenticate their callers with tokens of their own
	// (the executor API): every principal's credential is refused 401.
	Token
)

func (a Access) String() string {
	return [...]string{"open", "authenticated", "filtered", "guarded", "proxied", "token"}[a]
}

// Case is how a route is exercised and what it demands.
type Case struct {
	Access Access
	// Path is the concrete path to request; empty derives it from the
	// pattern, each {param} and * becoming "x".
	Path string
	// Body is sent (as JSON) with methods that take one; empty sends
	// "{}".
	Body string
}

// Route is one method and pattern of a router.
type Route struct{ Method, Pattern string }

func (r Route) String() string { return r.Method + " " + r.Pattern }

// Routes walks a chi router's table. Methods registered for every method
// (HandleFunc) come as each of GET, POST, PUT, PATCH, DELETE, as chi
// lists them.
func Routes(t testing.TB, h http.Handler) []Route {
	t.Helper()
	rs, ok := h.(chi.Routes)
	if !ok {
		t.Fatalf("edgetest: %T is not a chi router", h)
	}
	seen := map[Route]bool{}
	var out []Route
	err := chi.Walk(rs, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		switch method {
		case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			return nil // not API methods; HEAD goes with GET
		}
		r := Route{method, strings.TrimSuffix(route, "/*") + suffix(route)}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func suffix(route string) string {
	if strings.HasSuffix(route, "/*") {
		return "/*"
	}
	return ""
}

// Who are the callers of the matrix.
type Who struct {
	// Allowed may do everything (its ACLs allow every action).
	Allowed [2]string
	// Denied is authenticated but allowed nothing.
	Denied [2]string
}

var param = regexp.MustCompile(`\{[^}]*\}|\*`)

// Check requests every route at base as an anonymous caller, with a wrong
// secret, as who.Denied and as who.Allowed, and checks the answers
// against table, keyed by Route.String(). Routes missing from table, and
// table entries for routes the router does not have, fail the test.
func Check(t *testing.T, base string, client *http.Client, routes []Route, table map[string]Case, who Who) {
	t.Helper()
	have := map[string]bool{}
	for _, r := range routes {
		have[r.String()] = true
		c, ok := table[r.String()]
		if !ok {
			t.Errorf("route %s is not in the matrix: say what it demands (open, authenticated, filtered, guarded or proxied)", r)
			continue
		}
		path := c.Path
		if path == "" {
			path = param.ReplaceAllString(r.Pattern, "x")
		}
		do := func(principal, secret string) (int, string) {
			var body io.Reader
			if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
				b := c.Body
				if b == "" {
					b = "{}"
				}
				body = strings.NewReader(b)
			}
			req, err := http.NewRequest(r.Method, base+path, body)
			if err != nil {
				t.Fatal(err)
			}
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			req.Header.Set("Accept", "application/json")
			if principal != "" {
				req.SetBasicAuth(principal, secret)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", r.Method, path, err)
			}
			defer resp.Body.Close()
			if resp.StatusCode < 300 {
				// Perhaps a stream: its body is not needed.
				return resp.StatusCode, ""
			}
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return resp.StatusCode, string(b)
		}
		name := r.String() + " (" + c.Access.String() + ")"
		code, body := do("", "")
		switch {
		case c.Access == Open && code == http.StatusUnauthorized:
			t.Errorf("%s anonymous = %d %s; want it open", name, code, body)
		case c.Access != Open && code != http.StatusUnauthorized:
			t.Errorf("%s anonymous = %d %s; want 401", name, code, body)
		}
		if code, body := do(who.Allowed[0], "not-the-secret"); code != http.StatusUnauthorized {
			t.Errorf("%s with a wrong secret = %d %s; want 401", name, code, body)
		}
		code, body = do(who.Denied[0], who.Denied[1])
		switch {
		case c.Access == Token && code != http.StatusUnauthorized:
			t.Errorf("%s as %s = %d %s; want 401 (only its own tokens are taken)", name, who.Denied[0], code, body)
		case c.Access == Token:
		case c.Access == Guarded && code != http.StatusForbidden:
			t.Errorf("%s as %s, who may do nothing = %d %s; want 403", name, who.Denied[0], code, body)
		case c.Access != Guarded && c.Access != Proxied && (code == http.StatusUnauthorized || code == http.StatusForbidden):
			t.Errorf("%s as %s = %d %s; want neither 401 nor 403", name, who.Denied[0], code, body)
		case c.Access == Proxied && code == http.StatusUnauthorized:
			t.Errorf("%s as %s = %d %s; want it authenticated", name, who.Denied[0], code, body)
		}
		if code, body := do(who.Allowed[0], who.Allowed[1]); c.Access == Token && code != http.StatusUnauthorized {
			t.Errorf("%s as %s = %d %s; want 401 (only its own tokens are taken)", name, who.Allowed[0], code, body)
		} else if c.Access != Token && (code == http.StatusUnauthorized || code == http.StatusForbidden) {
			t.Errorf("%s as %s, who may do everything = %d %s; want neither 401 nor 403", name, who.Allowed[0], code, body)
		}
	}
	for k := range table {
		if !have[k] {
			t.Errorf("the matrix names %s, which the router does not have", k)
		}
	}
}

// ACLs returns ACLs that allow principal every action and anyone else
// nothing (permissive false).
func ACLs(t testing.TB, principal string) *acl.ACLs {
	t.Helper()
	doc := map[string]any{"permissive": false}
	for _, a := range acl.Actions() {
		doc[a.String()] = []map[string]any{{
			"principals":  map[string]any{"values": []string{principal}},
			a.ObjectKey(): map[string]any{"type": "ANY"},
		}}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	a, err := acl.Parse(b)
	if err != nil {
		t.Fatalf("edgetest.ACLs: %v", err)
	}
	return a
}
