package jobs

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

	"corral/frameworks/jobs/store"
	"corral/internal/apiclient"
)

// receiver is a webhook receiver: it records each request and answers
// with the statuses given, in turn, the last one for all that follow.
type receiver struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	got     []received
	answers []int
}

// received is one request a receiver got.
type received struct {
	path   string
	header http.Header
	body   map[string]any
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	r := &receiver{t: t, answers: answers}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var body map[string]any
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("%s %s: body is not a JSON object: %v\n%s", req.Method, req.URL.Path, err, b)
		}
		r.mu.Lock()
		r.got = append(r.got, received{path: req.URL.Path, header: req.Header.Clone(), body: body})
		code := r.answers[min(len(r.got), len(r.answers))-1]
		r.mu.Unlock()
		w.WriteHeader(code)
		_, _ = io.WriteString(w, http.StatusText(code))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// requests returns what the receiver got so far.
func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// typedRuns is GET /v1/jobs/{job}/runs, newest first.
func (s *server) typedRuns(job string) []apiclient.Run {
	s.t.Helper()
	var rs []apiclient.Run
	if err := json.Unmarshal(s.must(http.StatusOK, "GET", "/v1/jobs/"+job+"/runs", "").body, &rs); err != nil {
		s.t.Fatal(err)
	}
	return rs
}

// notified waits until the only run of job has notifications, all in
// state want, and returns the run.
func (s *server) notified(job, want string) apiclient.Run {
	s.t.Helper()
	var run apiclient.Run
	eventually(s.t, fmt.Sprintf("the notifications of %s's run are %s", job, want), func() bool {
		rs := s.typedRuns(job)
		if len(rs) != 1 || len(rs[0].Notifications) == 0 {
			return false
		}
		run = rs[0]
		for _, n := range run.Notifications {
			if n.State != want {
				return false
			}
		}
		return true
	})
	return run
}

// fastRetries makes failed notifications come again at once.
func fastRetries(c *Config) {
	c.NotifyBackoff, c.NotifyBackoffMax = 10*time.Millisecond, 20*time.Millisecond
}

// A receiver that answers 500 first gets the notification again, under
// the same delivery id, and the run shows it delivered after two
// attempts. A job marked successful through the Chronos API records a
// SUCCEEDED run, told to the webhooks that want that.
func TestNotificationRetriedUntilDelivered(t *testing.T) {
	rcv := newReceiver(t, http.StatusInternalServerError, http.StatusNoContent)
	s := startServerWith(t, newDB(t), fastRetries)
	eventually(t, "the service leads", s.svc.Leading)
	sub := s.svc.bus.Subscribe([]string{"run_notified"}, 0)
	defer sub.Close()
	s.must(http.StatusCreated, "POST", "/v1/jobs", `{"name":"hooked","command":"true","schedule":"R1/2030-01-01T00:00:00Z/PT1H",
		"webhooks":[{"url":"`+rcv.srv.URL+`/hook","on":["SUCCEEDED"]}]}`)
	s.must(http.StatusOK, "PUT", "/v1/scheduler/job/success/hooked", "")
	run := s.notified("hooked", "delivered")

	n := run.Notifications[0]
	if n.URL != rcv.srv.URL+"/hook" || n.Default || n.Event != "SUCCEEDED" || n.Attempts != 2 || n.LastStatus == nil || *n.LastStatus != 204 ||
		n.LastError != "" || n.DeliveredAt == nil || n.NextAttemptAt != nil || n.LastAttemptAt == nil {
		t.Errorf("notification = %+v; want SUCCEEDED, delivered on the second attempt with 204", n)
	}
	got := rcv.requests()
	if len(got) != 2 {
		t.Fatalf("the receiver got %d requests; want 2 (a 500, then the retry)", len(got))
	}
	for i, r := range got {
		h := r.header
		if h.Get("X-Corral-Delivery") != n.ID || r.body["deliveryId"] != n.ID {
			t.Errorf("request %d: delivery id header %q, body %v; want %s in both", i, h.Get("X-Corral-Delivery"), r.body["deliveryId"], n.ID)
		}
		if h.Get("X-Corral-Attempt") != fmt.Sprint(i+1) || h.Get("X-Corral-Event") != "run_succeeded" || h.Get("Content-Type") != "application/json" ||
			!strings.HasPrefix(h.Get("User-Agent"), "corral-jobs/") {
			t.Errorf("request %d headers = %v; want attempt %d of run_succeeded, JSON, from corral-jobs", i, h, i+1)
		}
		if h.Get("Authorization") != "" || h.Get("Cookie") != "" {
			t.Errorf("request %d carries credentials: %v", i, h)
		}
		if r.path != "/hook" || r.body["job"] != "hooked" || r.body["runId"] != float64(run.ID) || r.body["state"] != "SUCCEEDED" ||
			r.body["event"] != "run_succeeded" || r.body["reason"] != "marked successful through the API" {
			t.Errorf("request %d = %s %v; want run %d of hooked, SUCCEEDED", i, r.path, r.body, run.ID)
		}
		links, _ := r.body["links"].(map[string]any)
		if want := fmt.Sprintf("%s/v1/jobs/hooked/runs/%d", s.base, run.ID); links["run"] != want {
			t.Errorf("request %d links = %v; want run %s", i, links, want)
		}
		if _, err := time.Parse(time.RFC3339, fmt.Sprint(r.body["finishedAt"])); err != nil {
			t.Errorf("request %d finishedAt = %v; want RFC 3339: %v", i, r.body["finishedAt"], err)
		}
	}
	if d := got[1].body; !jsonEqual(got[0].body, d) {
		t.Errorf("the retry's body differs from the first attempt's:\n%v\n%v", got[0].body, d)
	}
	// Each attempt is published once recorded.
	for _, want := range []string{"failing", "delivered"} {
		select {
		case ev := <-sub.C():
			var d map[string]any
			if err := json.Unmarshal(ev.Data, &d); err != nil || d["job"] != "hooked" || d["runId"] != float64(run.ID) || d["deliveryId"] != n.ID || d["state"] != want {
				t.Errorf("run_notified event %s, %v; want run %d's delivery %s %s", ev.Data, err, run.ID, n.ID, want)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("no run_notified event for the %s attempt", want)
		}
	}
	// GET of the run alone shows the same.
	var one apiclient.Run
	if err := json.Unmarshal(s.must(http.StatusOK, "GET", fmt.Sprintf("/v1/jobs/hooked/runs/%d", run.ID), "").body, &one); err != nil ||
		len(one.Notifications) != 1 || one.Notifications[0].State != "delivered" {
		t.Errorf("GET the run = %+v, %v; want its notification delivered", one, err)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// A webhook that only wants failures is not told of a success, and a job
// with webhooks of its own does not get the default one.
func TestNotificationOnlyForWantedStates(t *testing.T) {
	rcv := newReceiver(t, http.StatusOK)
	s := startServerWith(t, newDB(t), func(c *Config) { c.NotifyWebhook = rcv.srv.URL + "/default" })
	eventually(t, "the service leads", s.svc.Leading)
	s.must(http.StatusCreated, "POST", "/v1/jobs", `{"name":"quiet","command":"true","schedule":"R1/2030-01-01T00:00:00Z/PT1H",
		"webhooks":[{"url":"`+rcv.srv.URL+`/failures"}]}`)
	s.must(http.StatusCreated, "POST", "/v1/jobs", `{"name":"plain","command":"true","schedule":"R1/2030-01-01T00:00:00Z/PT1H"}`)
	s.must(http.StatusCreated, "POST", "/v1/jobs", `{"name":"loud","command":"true","schedule":"R1/2030-01-01T00:00:00Z/PT1H",
		"webhooks":[{"url":"`+rcv.srv.URL+`/all","on":["FAILED","SUCCEEDED"]}]}`)
	for _, name := range []string{"quiet", "plain", "loud"} {
		s.must(http.StatusOK, "PUT", "/v1/scheduler/job/success/"+name, "")
	}
	s.notified("loud", "delivered")
	// The notifications are stored with the run's end: a run that has
	// none now never will.
	for _, name := range []string{"quiet", "plain"} {
		rs := s.typedRuns(name)
		if len(rs) != 1 || rs[0].State != "SUCCEEDED" || len(rs[0].Notifications) != 0 {
			t.Errorf("runs of %s = %+v; want one SUCCEEDED without notifications", name, rs)
		}
	}
	if got := rcv.requests(); len(got) != 1 || got[0].path != "/all" {
		t.Errorf("the receiver got %d requests (%+v); want one, to /all", len(got), got)
	}
	metrics := string(s.must(http.StatusOK, "GET", "/metrics", "").body)
	for _, line := range []string{"corral_jobs_notifications_pending 0\n", "corral_jobs_notifications_failing 0\n", "corral_jobs_notifications_abandoned 0\n"} {
		if !strings.Contains(metrics, line) {
			t.Errorf("GET /metrics lacks %q", line)
		}
	}
}

// Notifications stored by a leader that died before delivering them, or
// while delivering them, are delivered by the next one; one its
// predecessor recorded delivered is not sent again. The default webhook's
// URL is not shown with the run.
func TestNotificationsResumeAfterFailover(t *testing.T) {
	db := newDB(t)
	rcv := newReceiver(t, http.StatusOK)
	st, err := store.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	if err := st.PutJob(ctx, "a", "v1", []byte(`{"name":"a","command":"true","parents":[]}`), nil); err != nil {
		t.Fatal(err)
	}
	// What the old leader left: three runs that ended, with their
	// notifications stored in the same transactions.
	end := time.Now().Add(-time.Minute)
	insert := func(hook string, isDefault bool) int64 {
		r, _, err := st.InsertRun(ctx, store.Run{Job: "a", Trigger: store.TriggerManual, State: store.StateFailed, FinishedAt: &end,
			Reason: "TASK_FAILED", Notify: []store.Target{{URL: rcv.srv.URL + hook, Default: isDefault}}})
		if err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	never := insert("/never-tried/token", true)
	inFlight := insert("/in-flight", false)
	done := insert("/done", false)
	// The old leader claimed two (its lease has passed since) and
	// recorded one delivered before it died.
	claimed, _, err := st.ClaimNotifications(ctx, end, time.Millisecond, 10)
	if err != nil || len(claimed) != 3 {
		t.Fatalf("ClaimNotifications = %d, %v", len(claimed), err)
	}
	for _, d := range claimed {
		if d.RunID == done {
			if err := st.RecordDelivery(ctx, d.ID, store.Attempt{State: store.DeliveryDelivered, At: end, Status: 200}); err != nil {
				t.Fatal(err)
			}
		}
	}

	s := startServerWith(t, db, fastRetries)
	eventually(t, "the service leads", s.svc.Leading)
	var notes map[int64][]store.Notification
	eventually(t, "the notifications left behind are delivered", func() bool {
		notes, err = st.Notifications(ctx, []int64{never, inFlight, done})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []int64{never, inFlight, done} {
			if len(notes[id]) != 1 || notes[id][0].State != store.DeliveryDelivered {
				return false
			}
		}
		return true
	})
	var paths []string
	for _, r := range rcv.requests() {
		paths = append(paths, r.path)
	}
	slices.Sort(paths)
	if want := []string{"/in-flight", "/never-tried/token"}; !slices.Equal(paths, want) {
		t.Errorf("the receiver got %v; want each notification not yet delivered once, the delivered one never", paths)
	}
	for _, r := range s.typedRuns("a") {
		if r.ID != never {
			continue
		}
		if n := r.Notifications; len(n) != 1 || !n[0].Default || strings.Contains(n[0].URL, "token") || n[0].URL != rcv.srv.URL+"/…" {
			t.Errorf("the default webhook's notification shows as %+v; want its scheme and host only", n)
		}
	}
}

// The notifier's HTTP client sends no credentials, stops at a redirect
// to another scheme, reads a bounded part of an answer and gives up on a
// receiver that does not answer.
func TestWebhookClient(t *testing.T) {
	hang := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/to-https", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://"+r.Host+"/ok", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/to-ok", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusPermanentRedirect)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		if b, _ := io.ReadAll(r.Body); string(b) != "{}" || r.Method != http.MethodPost {
			t.Errorf("/ok got %s %q; want the POST and its body, redirects included", r.Method, b)
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		chunk := []byte(strings.Repeat("x", 4096))
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(hang) // before the server closes, which waits for its handlers
	c := webhookClient(500 * time.Millisecond)
	post := func(path string) (int, error) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxNotifyAnswer))
		return resp.StatusCode, nil
	}
	if code, err := post("/to-ok"); err != nil || code != http.StatusOK {
		t.Errorf("POST /to-ok = %d, %v; want the redirect within http followed", code, err)
	}
	if _, err := post("/to-https"); err == nil || !strings.Contains(urlFree(err), "a redirect from http to https is not followed") || strings.Contains(urlFree(err), srv.URL) {
		t.Errorf("POST /to-https = %v (shown as %q); want the redirect to another scheme refused, without the URL", err, urlFree(err))
	}
	if _, err := post("/loop"); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("stopped after %d redirects", maxRedirects)) {
		t.Errorf("POST /loop = %v; want it stopped after %d redirects", err, maxRedirects)
	}
	if code, err := post("/endless"); err != nil || code != http.StatusBadGateway {
		t.Errorf("POST /endless = %d, %v; want the 502, its answer read only in part", code, err)
	}
	if _, err := post("/hang"); err == nil || !strings.HasPrefix(urlFree(err), "no answer in time") {
		t.Errorf("POST /hang = %v (shown as %q); want it given up on", err, urlFree(err))
	}
}

func TestConfigValidateNotify(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tweak func(*Config)
		want  string // part of the error; "" for none
	}{
		{"defaults", func(*Config) {}, ""},
		{"a default webhook", func(c *Config) { c.NotifyWebhook = "https://ops.example/hook" }, ""},
		{"not http", func(c *Config) { c.NotifyWebhook = "ftp://ops.example/" }, "notify_webhook"},
		{"relative", func(c *Config) { c.NotifyWebhook = "/hook" }, "notify_webhook"},
		{"no timeout", func(c *Config) { c.NotifyTimeout = 0 }, "notify_timeout"},
		{"no give-up", func(c *Config) { c.NotifyGiveUp = 0 }, "notify_give_up"},
		{"cap below the backoff", func(c *Config) { c.NotifyBackoff, c.NotifyBackoffMax = time.Minute, time.Second }, "notify_backoff_max"},
		{"mail", func(c *Config) { c.SMTP, c.SMTPFrom = "mail.example:25", "corral@example.com" }, ""},
		{"mail without a port", func(c *Config) { c.SMTP, c.SMTPFrom = "mail.example", "corral@example.com" }, "smtp:"},
		{"mail without a sender", func(c *Config) { c.SMTP = "mail.example:25" }, "smtp_from"},
		{"a sender without a server", func(c *Config) { c.SMTPFrom = "corral@example.com" }, "need --smtp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.DB = "postgres://localhost/corral"
			tc.tweak(&c)
			err := c.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v; want an error naming %q (none if empty)", err, tc.want)
			}
		})
	}
}
