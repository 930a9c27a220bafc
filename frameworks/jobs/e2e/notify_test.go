package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/internal/testcluster"
)

// hookRequest is one notification a hookReceiver got.
type hookRequest struct {
	path   string
	header http.Header
	body   map[string]any
}

// hookReceiver records the notifications POSTed to it. A path in fail
// answers 500 to its first request, 200 to the rest.
type hookReceiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []hookRequest
	fail map[string]bool
}

func newHookReceiver(t *testing.T, fail ...string) *hookReceiver {
	h := &hookReceiver{fail: map[string]bool{}}
	for _, p := range fail {
		h.fail[p] = true
	}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("%s %s: body is not a JSON object: %v\n%s", r.Method, r.URL.Path, err, b)
		}
		h.mu.Lock()
		h.got = append(h.got, hookRequest{path: r.URL.Path, header: r.Header.Clone(), body: body})
		failNow := h.fail[r.URL.Path]
		h.fail[r.URL.Path] = false
		h.mu.Unlock()
		if failNow {
			http.Error(w, "not now", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// at returns the requests to path.
func (h *hookReceiver) at(path string) []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hookRequest
	for _, r := range h.got {
		if r.path == path {
			out = append(out, r)
		}
	}
	return out
}

// paths returns the paths of every request, sorted.
func (h *hookReceiver) paths() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.got {
		out = append(out, r.path)
	}
	slices.Sort(out)
	return out
}

// TestWebhooks: a failing job without webhooks is told to --notify_webhook
// exactly once, with the run's facts and working links to its logs; a
// receiver that first answers 500 gets the notification again and the
// run shows it delivered; a success is told only to a webhook that asks
// for it.
func TestWebhooks(t *testing.T) {
	h := newHookReceiver(t, "/flaky")
	c := testcluster.Start(t, testcluster.Options{Agents: 1})
	f := c.StartFramework("jobs", "--notify_webhook", h.srv.URL+"/default", "--notify_backoff", "50ms", "--notify_backoff_max", "100ms")
	a := api{t: t, url: f.URL}
	never := "R1/2030-01-01T00:00:00Z/PT1H"
	small := map[string]any{"cpus": 0.01, "mem": 16, "retries": 0, "schedule": never}
	with := func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range small {
			out[k] = v
		}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	hook := func(path string, on ...string) []map[string]any {
		w := map[string]any{"url": h.srv.URL + path}
		if on != nil {
			w["on"] = on
		}
		return []map[string]any{w}
	}
	jobs := map[string]map[string]any{
		"boom":   with(map[string]any{"command": "echo boom-on-stderr >&2; exit 3"}),
		"flaky":  with(map[string]any{"command": "exit 1", "webhooks": hook("/flaky")}),
		"fine":   with(map[string]any{"command": "true", "webhooks": hook("/fine", "SUCCEEDED", "FAILED")}),
		"quiet":  with(map[string]any{"command": "true", "webhooks": hook("/quiet")}),
		"silent": with(map[string]any{"command": "true"}),
	}
	for name, spec := range jobs {
		spec["name"] = name
		a.must("POST", "/v1/jobs", spec, 201)
		a.must("POST", "/v1/jobs/"+name+"/run", nil, 201)
	}
	wantRun := map[string]string{"boom": "FAILED", "flaky": "FAILED", "fine": "SUCCEEDED", "quiet": "SUCCEEDED", "silent": "SUCCEEDED"}
	for name, state := range wantRun {
		waitRuns(t, a, name, 60*time.Second, func(rs []run) bool { return len(rs) == 1 && rs[0].State == state })
	}
	// The notifications were stored with the runs' ends: wait for them to
	// be delivered.
	delivered := map[string]run{}
	for _, name := range []string{"boom", "flaky", "fine"} {
		rs := waitRuns(t, a, name, 30*time.Second, func(rs []run) bool {
			return len(rs) == 1 && len(rs[0].Notifications) == 1 && rs[0].Notifications[0].State == "delivered"
		})
		delivered[name] = rs[0]
	}

	// boom: the default webhook, once, with the run's facts.
	boom := delivered["boom"]
	n := boom.Notifications[0]
	if !n.Default || n.Event != "FAILED" || n.Attempts != 1 || n.URL != h.srv.URL+"/…" {
		t.Errorf("boom's notification = %+v; want the default webhook's, FAILED, delivered at once, its URL not shown", n)
	}
	got := h.at("/default")
	if len(got) != 1 {
		t.Fatalf("the default webhook got %d notifications; want exactly 1", len(got))
	}
	b, hdr := got[0].body, got[0].header
	if hdr.Get("X-Corral-Delivery") != n.ID || b["deliveryId"] != n.ID || hdr.Get("X-Corral-Event") != "run_failed" || hdr.Get("Authorization") != "" {
		t.Errorf("boom's notification headers = %v, deliveryId %v; want delivery %s of run_failed, no credentials", hdr, b["deliveryId"], n.ID)
	}
	for k, want := range map[string]any{"job": "boom", "runId": float64(boom.ID), "state": "FAILED", "event": "run_failed", "trigger": "manual",
		"attempt": 0.0, "maxAttempts": 1.0, "exitStatus": 3.0, "host": boom.Host, "agentId": boom.AgentID, "taskId": boom.TaskID,
		"reason": boom.Reason, "scheduledFor": nil} {
		if b[k] != want {
			t.Errorf("boom's notification %s = %#v; want %#v", k, b[k], want)
		}
	}
	if boom.Host == "" || boom.TaskID == "" {
		t.Errorf("boom's run = %+v; want it placed on an agent", boom)
	}
	for _, k := range []string{"queuedAt", "startedAt", "finishedAt"} {
		if _, err := time.Parse(time.RFC3339, fmt.Sprint(b[k])); err != nil {
			t.Errorf("boom's notification %s = %v; want RFC 3339", k, b[k])
		}
	}
	links, _ := b["links"].(map[string]any)
	if want := fmt.Sprintf("%s/v1/jobs/boom/runs/%d", f.URL, boom.ID); links["run"] != want || links["sandbox"] != boom.Sandbox {
		t.Errorf("boom's links = %v; want the run at %s and its sandbox %s", links, want, boom.Sandbox)
	}
	// The stderr link reads the run's stderr from its agent.
	if stderr := fetch(t, fmt.Sprint(links["stderr"])); !strings.Contains(stderr, "boom-on-stderr") {
		t.Errorf("GET %v = %q; want the run's stderr", links["stderr"], stderr)
	}

	// flaky: a 500, then the retry; one delivery id.
	fl := delivered["flaky"].Notifications[0]
	if fl.Default || fl.Attempts != 2 || fl.LastError != "" || fl.LastStatus == nil || *fl.LastStatus != 200 {
		t.Errorf("flaky's notification = %+v; want its own webhook's, delivered on the second attempt", fl)
	}
	if got := h.at("/flaky"); len(got) != 2 || got[0].header.Get("X-Corral-Delivery") != fl.ID || got[1].header.Get("X-Corral-Delivery") != fl.ID ||
		got[1].header.Get("X-Corral-Attempt") != "2" {
		t.Errorf("/flaky got %d requests; want 2 of delivery %s, the second attempt 2", len(got), fl.ID)
	}

	// fine asked for successes; quiet only for failures; silent has no
	// webhooks, and the default one hears only of failures.
	if got := h.at("/fine"); len(got) != 1 || got[0].body["state"] != "SUCCEEDED" {
		t.Errorf("/fine got %d requests; want one SUCCEEDED", len(got))
	}
	for _, name := range []string{"quiet", "silent"} {
		if rs := a.runs(name); len(rs[0].Notifications) != 0 {
			t.Errorf("%s's run notifications = %+v; want none", name, rs[0].Notifications)
		}
	}
	if want := []string{"/default", "/fine", "/flaky", "/flaky"}; !slices.Equal(h.paths(), want) {
		t.Errorf("the receiver got %v; want %v", h.paths(), want)
	}
}

// fetch returns the body of GET u.
func fetch(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s = %d %s", u, resp.StatusCode, b)
	}
	return string(b)
}
