package master

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"corral/internal/testpg"
	"corral/kernel/internal/agentproto"
	"corral/kernel/master/internal/core"
	"corral/kernel/resource"
)

// get sends a GET and returns the answer with its body read.
func get(t *testing.T, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	return send(t, http.MethodGet, url, hdr, "")
}

// wantMessage checks a console error: the status, a JSON body and a
// message containing each of parts.
func wantMessage(t *testing.T, what string, resp *http.Response, body string, code int, parts ...string) {
	t.Helper()
	var m struct {
		Message string `json:"message"`
	}
	if resp.StatusCode != code || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || json.Unmarshal([]byte(body), &m) != nil {
		t.Errorf("%s = %d %q %q; want %d with a JSON message", what, resp.StatusCode, resp.Header.Get("Content-Type"), body, code)
		return
	}
	for _, p := range parts {
		if !strings.Contains(m.Message, p) {
			t.Errorf("%s message = %q; want it to mention %q", what, m.Message, p)
		}
	}
}

func TestConsoleServesItsFilesAlongsideTheAPIs(t *testing.T) {
	tm := startMaster(t, nil)
	cases := []struct {
		path, ctype, contains string
		code                  int
	}{
		{"/", "text/html", `<script type="module" src="assets/app.js">`, 200},
		{"/index.html", "text/html", "<nav", 200},
		{"/assets/app.js", "text/javascript", "import", 200},
		{"/assets/pages/cluster.js", "text/javascript", "console/state", 200},
		{"/assets/style.css", "text/css", "--accent", 200},
		{"/assets/nope.js", "text/plain", "no console file", 404},
		{"/state", "application/json", `"slaves"`, 200},
		{"/console/state", "application/json", `"slaves"`, 200},
		{"/health", "application/json", `"healthy":true`, 200},
		{"/weights", "application/json", "[", 200},
		{"/metrics", "text/plain", "corral_master_elected 1", 200},
		{"/console/nope", "application/json", "No console endpoint", 404},
	}
	for _, c := range cases {
		resp, body := get(t, tm.url+c.path, nil)
		if resp.StatusCode != c.code || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) || !strings.Contains(body, c.contains) {
			t.Errorf("GET %s = %d %q (%d bytes); want %d %s containing %q", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body), c.code, c.ctype, c.contains)
		}
	}
	// Browsers revalidate with the ETag.
	resp, _ := get(t, tm.url+"/assets/app.js", nil)
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("GET /assets/app.js: ETag %q, Cache-Control %q; want an ETag and no-cache", etag, resp.Header.Get("Cache-Control"))
	}
	resp, _ = get(t, tm.url+"/assets/app.js", map[string]string{"If-None-Match": etag})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET /assets/app.js with its ETag = %d; want 304", resp.StatusCode)
	}
	resp, _ = get(t, tm.url+"/", nil)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("GET / Content-Security-Policy = %q; want scripts limited to the console's own", csp)
	}
}

// fakeWebui is a framework API that says what it was asked, and streams
// events on /v2/events.
func fakeWebui(t *testing.T) *httptest.Server {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/events":
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(200)
			fmt.Fprint(w, "event: hello\ndata: {}\n\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		case "/moved":
			http.Redirect(w, r, "http://"+r.Host+"/v2/apps?from=moved", http.StatusFound)
		default:
			writeJSON(w, 200, map[string]string{"method": r.Method, "path": r.URL.EscapedPath(), "query": r.URL.RawQuery,
				"prefix": r.Header.Get("X-Forwarded-Prefix"), "forwardedFor": r.Header.Get("X-Forwarded-For")})
		}
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestConsoleProxiesToFrameworks(t *testing.T) {
	tm := startMaster(t, nil)
	web := fakeWebui(t)
	f := subscribe(t, tm.url, `{"user":"u","name":"svc","webui_url":"`+web.URL+`","failover_timeout":3600}`)

	for _, name := range []string{"svc", f.id} {
		resp, body := send(t, http.MethodPost, tm.url+"/framework/"+name+"/v2/apps/a%2Fb?embed=apps.tasks", jsonCT, "{}")
		var got map[string]string
		if err := json.Unmarshal([]byte(body), &got); err != nil || resp.StatusCode != 200 {
			t.Fatalf("POST through /framework/%s = %d %q", name, resp.StatusCode, body)
		}
		want := map[string]string{"method": "POST", "path": "/v2/apps/a%2Fb", "query": "embed=apps.tasks", "prefix": "/framework/" + name}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("through /framework/%s the API saw %s %q; want %q", name, k, got[k], v)
			}
		}
		if got["forwardedFor"] == "" {
			t.Errorf("through /framework/%s: no X-Forwarded-For", name)
		}
	}

	// A redirect into the framework's API stays behind the prefix.
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(tm.url + "/framework/svc/moved")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "/framework/svc/v2/apps?from=moved" {
		t.Errorf("redirect through the proxy: Location %q; want /framework/svc/v2/apps?from=moved", loc)
	}

	// Event streams are flushed as they come, not when they end.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tm.url+"/framework/svc/v2/events", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	resp.Body.Close()
	if err != nil || line != "event: hello\n" {
		t.Errorf("first line of the proxied event stream = %q, %v; want it before the stream ends", line, err)
	}

	resp, body := get(t, tm.url+"/framework/nosuch/v2/apps", nil)
	wantMessage(t, "GET /framework/nosuch", resp, body, http.StatusBadGateway, `"nosuch"`, "not registered")

	// A framework whose API is down.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	subscribe(t, tm.url, `{"user":"u","name":"down","webui_url":"http://`+dead+`","failover_timeout":3600}`)
	resp, body = get(t, tm.url+"/framework/down/v2/apps", nil)
	wantMessage(t, "GET /framework/down (API unreachable)", resp, body, http.StatusBadGateway, `"down"`, dead, "did not answer")

	// One that registered no webui_url.
	subscribe(t, tm.url, `{"user":"u","name":"blind","failover_timeout":3600}`)
	resp, body = get(t, tm.url+"/framework/blind/", nil)
	wantMessage(t, "GET /framework/blind (no webui_url)", resp, body, http.StatusBadGateway, "webui_url")

	// A second connected framework under the same name does not take
	// over the first's address: the name is ambiguous, the ids are not.
	other := subscribe(t, tm.url, `{"user":"u","name":"svc","webui_url":"http://`+dead+`","failover_timeout":3600}`)
	resp, body = get(t, tm.url+"/framework/svc/v2/apps", nil)
	wantMessage(t, "GET /framework/svc (two named svc)", resp, body, http.StatusConflict, f.id, other.id, "by id")
	if resp, body = get(t, tm.url+"/framework/"+f.id+"/v2/apps", nil); resp.StatusCode != 200 {
		t.Errorf("GET /framework/<id> with two named svc = %d %q; want the first's API", resp.StatusCode, body)
	}
	other.s.close()
	waitFor(t, func() bool {
		for _, fw := range getState(t, tm.url).Frameworks {
			if fw.ID == other.id {
				return fw.State == "disconnected"
			}
		}
		return false
	})
	if resp, body = get(t, tm.url+"/framework/svc/v2/apps", nil); resp.StatusCode != 200 {
		t.Errorf("GET /framework/svc once the second disconnected = %d %q; want the first's API", resp.StatusCode, body)
	}

	// A disconnected framework: 503 until it comes back.
	f.s.close()
	waitFor(t, func() bool {
		for _, fw := range getState(t, tm.url).Frameworks {
			if fw.ID == f.id {
				return fw.State == "disconnected"
			}
		}
		return false
	})
	resp, body = get(t, tm.url+"/framework/svc/v2/apps", nil)
	wantMessage(t, "GET /framework/svc (disconnected)", resp, body, http.StatusServiceUnavailable, `"svc"`, "disconnected", "re-subscribe")
	resp, body = get(t, tm.url+"/framework/"+f.id+"/v2/apps", nil)
	wantMessage(t, "GET /framework/<id> (disconnected)", resp, body, http.StatusServiceUnavailable, "disconnected", f.id)
}

// registerAgentAt registers a fake agent whose endpoint is url.
func registerAgentAt(t *testing.T, master, endpoint string) *fakeAgent {
	t.Helper()
	r, _ := resource.Parse("cpus:1;mem:128")
	call := agentproto.Call{Type: agentproto.CallRegister, Register: &agentproto.Register{
		Info: agentproto.AgentInfo{Hostname: "filehost", Endpoint: endpoint, Resources: r.Wire(""), Cgroups: agentproto.CgroupsNone},
	}}
	s := openStream(t, master+agentproto.Path, call)
	ev := s.nextAgentEvent(agentproto.EventRegistered)
	a := &fakeAgent{t: t, master: master, id: ev.Registered.AgentID, conn: ev.Registered.ConnectionID, s: s}
	a.keepAlive(50 * time.Millisecond)
	return a
}

func TestConsoleProxiesAgentFiles(t *testing.T) {
	tm := startMaster(t, nil)
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/files/") {
			http.Error(w, "not a files path: "+r.URL.Path, http.StatusTeapot)
			return
		}
		writeJSON(w, 200, map[string]any{"data": r.URL.Path + "?" + r.URL.RawQuery, "offset": 0})
	}))
	defer files.Close()
	a := registerAgentAt(t, tm.url, files.URL)

	resp, body := get(t, tm.url+"/agent/"+a.id+"/files/read?path=%2Fw%2Fstdout&offset=10&length=5", nil)
	var rr struct{ Data string }
	if err := json.Unmarshal([]byte(body), &rr); err != nil || resp.StatusCode != 200 || rr.Data != "/files/read?path=%2Fw%2Fstdout&offset=10&length=5" {
		t.Errorf("GET /agent/<id>/files/read = %d %q; want the agent's /files/read with the same query", resp.StatusCode, body)
	}
	resp, body = get(t, tm.url+"/agent/nosuch/files/read?path=x", nil)
	wantMessage(t, "GET /agent/nosuch/files/read", resp, body, http.StatusNotFound, `"nosuch"`)
	resp, body = send(t, http.MethodPost, tm.url+"/agent/"+a.id+"/files/read?path=x", nil, "")
	wantMessage(t, "POST /agent/<id>/files/read", resp, body, http.StatusMethodNotAllowed, "GET")
	// Only the agent's files are reachable through the master.
	resp, body = get(t, tm.url+"/agent/"+a.id+"/state", nil)
	wantMessage(t, "GET /agent/<id>/state", resp, body, http.StatusNotFound, "files")
}

// sseReader reads Server-Sent Events frames.
type sseReader struct {
	events chan sseEvent
}

type sseEvent struct {
	typ, data string
}

func openSSE(t *testing.T, url string) *sseReader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s = %d %q %q", url, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	r := &sseReader{events: make(chan sseEvent, 64)}
	go func() {
		defer resp.Body.Close()
		defer close(r.events)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.typ != "" {
					r.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.typ = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return r
}

// next returns the next event, or fails after d.
func (r *sseReader) next(t *testing.T, d time.Duration, what string) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-r.events:
		if !ok {
			t.Fatalf("the event stream ended while waiting for %s", what)
		}
		return ev
	case <-time.After(d):
		t.Fatalf("no event within %s while waiting for %s", d, what)
	}
	return sseEvent{}
}

// quiet returns the first event that arrives within d, if any.
func (r *sseReader) quiet(d time.Duration) (sseEvent, bool) {
	select {
	case ev := <-r.events:
		return ev, true
	case <-time.After(d):
		return sseEvent{}, false
	}
}

func TestConsoleEventsFollowStateChanges(t *testing.T) {
	tm := startMaster(t, nil)
	s := openSSE(t, tm.url+"/console/events")
	if ev := s.next(t, 5*time.Second, "the attach frame"); ev.typ != "event_stream_attached" {
		t.Fatalf("first event = %s; want event_stream_attached", ev.typ)
	}
	registerAgentAt(t, tm.url, "http://127.0.0.1:1")
	ev := s.next(t, 5*time.Second, "an event after an agent registered")
	var fp core.Fingerprint
	if err := json.Unmarshal([]byte(ev.data), &fp); ev.typ != consoleEventType || err != nil || fp.Agents != 1 {
		t.Fatalf("after an agent registered: %s %s; want %s with 1 agent", ev.typ, ev.data, consoleEventType)
	}
	// Heartbeats change nothing the console shows.
	if ev, ok := s.quiet(time.Second); ok {
		// Unless the agent missed them on a loaded machine and was marked
		// unreachable, which is a change.
		if st := getState(t, tm.url); len(st.Agents) == 1 && st.Agents[0].State == "registered" {
			t.Errorf("got %s %s while the agent only heartbeated; want no event", ev.typ, ev.data)
		}
	}

	// A framework subscribes: an event (several changes may coalesce).
	subscribe(t, tm.url, `{"user":"u","name":"ev","failover_timeout":3600}`)
	for {
		ev = s.next(t, 5*time.Second, "an event after a framework subscribed")
		_ = json.Unmarshal([]byte(ev.data), &fp)
		if fp.Frameworks == 1 {
			break
		}
	}
}

func TestStandbyServesTheConsoleThroughTheLeader(t *testing.T) {
	z := newFakeElection()
	db := testpg.URL(t)
	a := startContender(t, z, 0, db)
	b := startContender(t, z, 1, db)

	// No leader yet: the pages load, what they read says why it cannot.
	resp, body := get(t, b+"/", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "assets/app.js") {
		t.Errorf("GET / on a standby without leader = %d; want the console", resp.StatusCode)
	}
	resp, body = get(t, b+"/console/state", nil)
	wantMessage(t, "GET /console/state without leader", resp, body, http.StatusServiceUnavailable, "no leading master")

	z.elect(0)
	waitLeading(t, a)
	for _, p := range []string{"/", "/assets/app.js", "/assets/pages/jobs.js"} {
		resp, _ := get(t, b+p, nil)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s on the standby = %d; want 200 from its own files", p, resp.StatusCode)
		}
	}
	resp, body = get(t, b+"/console/state", nil)
	var st State
	if err := json.Unmarshal([]byte(body), &st); err != nil || resp.StatusCode != 200 || st.Leader != "master@"+strings.TrimPrefix(a, "http://") {
		t.Errorf("GET /console/state on the standby = %d %.200q; want the leader's /state", resp.StatusCode, body)
	}
	resp, body = get(t, b+"/framework/nosuch/v2/apps", nil)
	wantMessage(t, "GET /framework/nosuch on the standby", resp, body, http.StatusBadGateway, "not registered")

	s := openSSE(t, b+"/console/events")
	if ev := s.next(t, 5*time.Second, "the attach frame through the standby"); ev.typ != "event_stream_attached" {
		t.Errorf("first event through the standby = %s; want event_stream_attached", ev.typ)
	}
	// The standby's own answers are unchanged.
	resp, body = get(t, b+"/state", nil)
	var sst StandbyState
	if err := json.Unmarshal([]byte(body), &sst); err != nil || sst.LeaderURL != a {
		t.Errorf("GET /state on the standby = %d %q; want its standby state naming %s", resp.StatusCode, body, a)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(b + "/elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("GET /elsewhere on the standby = %d; want 307 to the leader", resp.StatusCode)
	}
}
