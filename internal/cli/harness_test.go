package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// golden compares got with testdata/golden/name (or rewrites it with
// -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("output differs from %s (-want +got):\n%s", path, d)
	}
}

// apiFile returns a canned API answer from testdata/api.
func apiFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "api", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fakeAPI is an httptest server answering from a route table and
// recording the requests it got.
type fakeAPI struct {
	*httptest.Server
	mu     sync.Mutex
	calls  []string // "METHOD /path?query"
	bodies map[string][]string
}

// newFake serves routes: keys are "METHOD /path" or "METHOD /path?query"
// (an exact query wins). Anything else is 404 with Marathon's body.
func newFake(t *testing.T, routes map[string]http.HandlerFunc) *fakeAPI {
	t.Helper()
	f := &fakeAPI{bodies: map[string][]string{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		key := r.Method + " " + r.URL.Path
		f.mu.Lock()
		call := key
		if r.URL.RawQuery != "" {
			call += "?" + r.URL.RawQuery
		}
		f.calls = append(f.calls, call)
		f.bodies[call] = append(f.bodies[call], string(body))
		f.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		if h, ok := routes[call]; ok {
			h(w, r)
			return
		}
		if h, ok := routes[key]; ok {
			h(w, r)
			return
		}
		answer(404, `{"message": "Not found: `+r.URL.Path+`"}`)(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// called returns the requests received so far.
func (f *fakeAPI) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// bodyOf returns the bodies sent with call.
func (f *fakeAPI) bodyOf(call string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bodies[call]
}

// count returns how many requests matched the prefix.
func (f *fakeAPI) count(prefix string) int {
	n := 0
	for _, c := range f.called() {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// answer is a handler writing a status and a JSON body.
func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// closedURL is the URL of a server that no longer listens.
func closedURL(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.NotFoundHandler())
	u := s.URL
	s.Close()
	return u
}

// result is what a verb printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// invocation describes one call of Run.
type invocation struct {
	env   map[string]string
	stdin string
	ctx   context.Context
}

// runCLI runs the verb with the given environment and a fast poll.
func runCLI(t *testing.T, inv invocation, args ...string) result {
	t.Helper()
	var out, errw syncBuffer
	ctx := inv.ctx
	if ctx == nil {
		ctx = t.Context()
	}
	code := Run(ctx, args, Env{
		Stdout: &out, Stderr: &errw, Stdin: strings.NewReader(inv.stdin),
		Getenv:       func(k string) string { return inv.env[k] },
		PollInterval: 5 * time.Millisecond,
	})
	return result{stdout: out.String(), stderr: errw.String(), code: code}
}

// addrEnv points the verbs at fakes through the environment.
func addrEnv(master, services, jobs *fakeAPI) map[string]string {
	env := map[string]string{}
	if master != nil {
		env["CORRAL_MASTER"] = master.URL
	}
	if services != nil {
		env["CORRAL_SERVICES"] = services.URL
	}
	if jobs != nil {
		env["CORRAL_JOBS"] = jobs.URL
	}
	return env
}

// syncBuffer is a bytes.Buffer safe for a writer and a concurrent reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
