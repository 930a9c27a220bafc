package lead

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"corral/internal/edge"
)

// seen is what the echoing leader received.
type seen struct {
	Method, Path, Query, Body       string
	Auth, ForwardedBy, ForwardedFor string
	Host                            string
}

// echo starts a leader that answers 201 with what it received, and counts
// the requests.
func echo(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Leader", "yes")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(seen{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(b),
			Auth: r.Header.Get("Authorization"), ForwardedBy: r.Header.Get(ForwardedBy), ForwardedFor: r.Header.Get("X-Forwarded-For"), Host: r.Host})
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// shapeErr is an API's error shape for the tests: {"error": msg,
// "status": code}; it keeps the last error it wrote.
type shapeErr struct{ last *edge.Error }

func (s *shapeErr) write(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := edge.Fail(r, err)
	s.last = edge.As(err)
	edge.WriteJSON(w, status, map[string]any{"error": msg, "status": status})
}

func leaderIs(m Member, ok bool) func() (Member, bool) { return func() (Member, bool) { return m, ok } }

func serve(h http.Handler, method, path, body string, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	for _, kv := range headers {
		k, v, _ := strings.Cut(kv, ": ")
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestForwarderPassesTheRequestOn(t *testing.T) {
	leader, n := echo(t)
	self := Member{ID: "standby", URL: "http://standby.example:8080"}
	f := &Forwarder{Self: self, Leader: leaderIs(Member{ID: "leader", URL: leader.URL}, true), Name: "services instance"}
	rec := serve(f, "POST", "/v2/apps?force=true", `{"id": "/web"}`, "Authorization: Bearer s3cret", "Content-Type: application/json")
	if rec.Code != http.StatusCreated || rec.Header().Get("X-Leader") != "yes" {
		t.Fatalf("forwarded POST = %d %v %s; want the leader's 201", rec.Code, rec.Header(), rec.Body)
	}
	var got seen
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := seen{Method: "POST", Path: "/v2/apps", Query: "force=true", Body: `{"id": "/web"}`, Auth: "Bearer s3cret",
		ForwardedBy: self.URL, ForwardedFor: "192.0.2.1", Host: strings.TrimPrefix(leader.URL, "http://")}
	if got != want {
		t.Errorf("the leader received %+v; want %+v", got, want)
	}
	if n.Load() != 1 {
		t.Errorf("leader called %d times; want 1", n.Load())
	}
}

func TestForwarderRefusals(t *testing.T) {
	leader, n := echo(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	self := Member{ID: "me", URL: "http://me.example:4400"}
	other := Member{ID: "other", URL: leader.URL}
	for _, tc := range []struct {
		name     string
		leader   func() (Member, bool)
		headers  []string
		wantMsg  string
		wantCode int
		tried    bool // the request was sent to the leader
	}{
		{"no leader known", leaderIs(Member{}, false), nil, "no leading jobs instance is known", 503, false},
		{"leader is this instance", leaderIs(self, true), nil, "no leading jobs instance is known", 503, false},
		{"leader is this instance's address under an older id", leaderIs(Member{ID: "old", URL: self.URL + "/"}, true), nil, "no leading jobs instance is known", 503, false},
		{"already forwarded once", leaderIs(other, true), []string{ForwardedBy + ": http://third:1"}, "forwarded by http://third:1, and this jobs instance does not lead either", 503, false},
		{"unusable leader URL", leaderIs(Member{ID: "x", URL: "leader:4400"}, true), nil, "published an unusable URL", 503, false},
		{"leader does not answer", leaderIs(Member{ID: "x", URL: closed.URL}, true), nil, "the leading jobs instance at " + closed.URL + " did not answer; retry shortly", 503, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := n.Load()
			shape := &shapeErr{}
			f := &Forwarder{Self: self, Leader: tc.leader, Name: "jobs instance", Error: shape.write}
			rec := serve(f, "DELETE", "/v1/jobs/a", "", tc.headers...)
			var body struct {
				Error  string
				Status int
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != tc.wantCode || body.Status != tc.wantCode || !strings.Contains(body.Error, tc.wantMsg) {
				t.Errorf("answer = %d %s; want %d in the API's shape saying %q", rec.Code, rec.Body, tc.wantCode, tc.wantMsg)
			}
			if strings.Contains(rec.Body.String(), "refused") {
				t.Errorf("answer %s names the internal cause", rec.Body)
			}
			if tc.name == "leader does not answer" && (shape.last == nil || shape.last.Cause == nil) {
				t.Errorf("the error given to the hook = %+v; want the cause kept for the log", shape.last)
			}
			if n.Load() != before {
				t.Error("the request reached the leader")
			}

			// With a fallback, the requests that cannot go to the leader
			// are served here instead; one the leader failed to answer
			// is still a 503.
			f.Fallback = says("here")
			rec = serve(f, "DELETE", "/v1/jobs/a", "", tc.headers...)
			if fellBack := rec.Body.String() == "here"; fellBack != !tc.tried {
				t.Errorf("with a fallback: %d %s; want served here %v", rec.Code, rec.Body, !tc.tried)
			}
		})
	}
}

func TestForwarderDefaultErrorShape(t *testing.T) {
	f := &Forwarder{Leader: leaderIs(Member{}, false)}
	rec := serve(f, "GET", "/", "")
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 503 || !strings.Contains(body["message"], "no leading instance is known") {
		t.Errorf("answer = %d %s; want 503 {\"message\": \"no leading instance is known…\"}", rec.Code, rec.Body)
	}
}

func TestForwarderPredicate(t *testing.T) {
	leader, n := echo(t)
	writes := func(r *http.Request) bool { return r.Method != http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/") }
	f := &Forwarder{Self: Member{ID: "me"}, Leader: leaderIs(Member{ID: "l", URL: leader.URL}, true), Forward: writes, Next: says("local")}
	if rec := serve(f, "GET", "/v1/jobs", ""); rec.Body.String() != "local" {
		t.Errorf("GET /v1/jobs = %s; want served locally", rec.Body)
	}
	if rec := serve(f, "POST", "/health", ""); rec.Body.String() != "local" {
		t.Errorf("POST /health = %s; want served locally", rec.Body)
	}
	if rec := serve(f, "POST", "/v1/jobs", "{}"); rec.Code != http.StatusCreated {
		t.Errorf("POST /v1/jobs = %d %s; want forwarded", rec.Code, rec.Body)
	}
	if n.Load() != 1 {
		t.Errorf("leader called %d times; want 1", n.Load())
	}
}

// Two standbys that each believe the other leads pass a request on once,
// and the second answers 503 instead of passing it back.
func TestForwarderLoop(t *testing.T) {
	var a, b *Forwarder
	var hops atomic.Int32
	count := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hops.Add(1); h.ServeHTTP(w, r) })
	}
	sa := httptest.NewServer(count(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.ServeHTTP(w, r) })))
	defer sa.Close()
	sb := httptest.NewServer(count(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { b.ServeHTTP(w, r) })))
	defer sb.Close()
	ma, mb := Member{ID: "a", URL: sa.URL}, Member{ID: "b", URL: sb.URL}
	a = &Forwarder{Self: ma, Leader: leaderIs(mb, true), Name: "master"}
	b = &Forwarder{Self: mb, Leader: leaderIs(ma, true), Name: "master"}
	resp, err := http.Post(sa.URL+"/weights", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(body), "forwarded by "+sa.URL) {
		t.Errorf("answer = %d %s; want 503 naming the first standby", resp.StatusCode, body)
	}
	if hops.Load() != 2 {
		t.Errorf("the request made %d hops; want 2 (client → a → b)", hops.Load())
	}
}

// An event stream passes through as the leader writes it, not when it
// ends.
func TestForwarderStreams(t *testing.T) {
	release := make(chan struct{})
	leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
	}))
	defer leader.Close()
	defer close(release)
	f := &Forwarder{Self: Member{ID: "me"}, Leader: leaderIs(Member{ID: "l", URL: leader.URL}, true)}
	front := httptest.NewServer(f)
	defer front.Close()
	resp, err := http.Get(front.URL + "/v2/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Errorf("first line through the forwarder = %q, %v; want the event before the stream ends", line, err)
	}
}

func TestForwarderErrorIsEdgeError(t *testing.T) {
	var got error
	f := &Forwarder{Leader: leaderIs(Member{}, false), Error: func(w http.ResponseWriter, r *http.Request, err error) { got = err; w.WriteHeader(599) }}
	serve(f, "GET", "/", "")
	var ee *edge.Error
	if !errors.As(got, &ee) || ee.Status != http.StatusServiceUnavailable {
		t.Errorf("error given to the hook = %#v; want an *edge.Error with status 503", got)
	}
}
