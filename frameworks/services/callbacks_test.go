package services

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"corral/kernel/mesos"
)

// receiver is an httptest server that records the events POSTed to it.
// fail is how many POSTs it answers 500 before it accepts them.
type callbackReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	events []map[string]any
	posts  int
	fail   int
}

func newReceiver(t *testing.T, fail int) *callbackReceiver {
	rc := &callbackReceiver{fail: fail}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.posts++
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("callback got %s with Content-Type %q; want a JSON POST", r.Method, r.Header.Get("Content-Type"))
		}
		if rc.fail > 0 {
			rc.fail--
			http.Error(w, "not now", http.StatusInternalServerError)
			return
		}
		var ev map[string]any
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Errorf("callback body %s is not a JSON object: %v", b, err)
		}
		rc.events = append(rc.events, ev)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// has reports whether the receiver got an event of type typ whose JSON
// contains text.
func (rc *callbackReceiver) has(typ, text string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, ev := range rc.events {
		b, _ := json.Marshal(ev)
		if ev["eventType"] == typ && strings.Contains(string(b), text) {
			return true
		}
	}
	return false
}

func (rc *callbackReceiver) count() (events, posts int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.events), rc.posts
}

// fastCallbacks makes retries quick.
func fastCallbacks(cfg *Config) {
	cfg.CallbackBackoff, cfg.CallbackBackoffMax, cfg.CallbackTimeout = 10*time.Millisecond, 50*time.Millisecond, 2*time.Second
}

func subscription(u string) string { return "/v2/eventSubscriptions?callbackUrl=" + url.QueryEscape(u) }

// TestEventSubscriptions subscribes a receiver, checks that it gets the
// app-change and status events the event stream shows, that the list
// names it, that unsubscribing stops the delivery, and that a
// subscription outlives a restart.
func TestEventSubscriptions(t *testing.T) {
	db := newDB(t)
	s := startServer(t, db, fastCallbacks)
	rc := newReceiver(t, 0)

	r := s.must(http.StatusOK, "POST", subscription(rc.URL+"/events"), "")
	got := r.object(t)
	if got["eventType"] != "subscribe_event" || got["callbackUrl"] != rc.URL+"/events" || got["clientIp"] != "127.0.0.1" || got["timestamp"] == nil {
		t.Errorf("POST answer = %v; want the subscribe_event with callbackUrl, clientIp 127.0.0.1 and a timestamp", got)
	}
	// Subscribing again is not an error, and lists the URL once.
	s.must(http.StatusOK, "POST", subscription(rc.URL+"/events"), "")
	want := map[string]any{"callbackUrls": []any{rc.URL + "/events"}}
	if diff := cmp.Diff(want, s.must(http.StatusOK, "GET", "/v2/eventSubscriptions", "").json(t)); diff != "" {
		t.Errorf("GET /v2/eventSubscriptions (-want +got):\n%s", diff)
	}

	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/cb/web","cmd":"sleep 1","instances":1}`)
	tid := s.seedTask("/cb/web", "h1", mesos.TaskStaging)
	if err := s.svc.do(t.Context(), func(c *core) {
		c.update(mesos.TaskStatus{TaskID: mesos.ID{Value: tid}, State: mesos.TaskRunning}, time.Now())
	}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct{ typ, text string }{
		{"subscribe_event", rc.URL},
		{"api_post_event", `"id":"/cb/web"`},
		{"deployment_info", "/cb/web"},
		{"status_update_event", tid},
		{"instance_changed_event", tid},
	} {
		eventually(t, "the receiver gets a "+w.typ+" naming "+w.text, func() bool { return rc.has(w.typ, w.text) })
	}

	// A restart finds the subscription and delivers to it.
	s.stop()
	s = startServer(t, db, fastCallbacks)
	if diff := cmp.Diff(want, s.must(http.StatusOK, "GET", "/v2/eventSubscriptions", "").json(t)); diff != "" {
		t.Errorf("GET /v2/eventSubscriptions after a restart (-want +got):\n%s", diff)
	}
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/cb/after-restart","cmd":"sleep 1","instances":0}`)
	eventually(t, "the receiver gets the events of the restarted framework", func() bool {
		return rc.has("api_post_event", "/cb/after-restart")
	})

	r = s.must(http.StatusOK, "DELETE", subscription(rc.URL+"/events"), "")
	if got := r.object(t); got["eventType"] != "unsubscribe_event" || got["callbackUrl"] != rc.URL+"/events" {
		t.Errorf("DELETE answer = %v; want the unsubscribe_event of the URL", got)
	}
	want = map[string]any{"callbackUrls": []any{}}
	if diff := cmp.Diff(want, s.must(http.StatusOK, "GET", "/v2/eventSubscriptions", "").json(t)); diff != "" {
		t.Errorf("GET /v2/eventSubscriptions after DELETE (-want +got):\n%s", diff)
	}
	wantError(t, s.do("DELETE", subscription(rc.URL+"/events"), ""), http.StatusNotFound, "callbackUrl "+rc.URL+"/events is not subscribed")

	// Nothing reaches the receiver once it is unsubscribed. A second
	// receiver, subscribed after, shows when the events were published.
	_, before := rc.count()
	rc2 := newReceiver(t, 0)
	s.must(http.StatusOK, "POST", subscription(rc2.URL), "")
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/cb/unseen","cmd":"sleep 1","instances":0}`)
	eventually(t, "the second receiver gets the app's events", func() bool { return rc2.has("deployment_success", "/cb/unseen") })
	if _, after := rc.count(); after != before {
		t.Errorf("the unsubscribed receiver got %d more POSTs; want none", after-before)
	}
}

// TestEventSubscriptionRetries checks that a receiver that fails is
// retried until it accepts, and that a receiver that never does costs
// the others nothing.
func TestEventSubscriptionRetries(t *testing.T) {
	s := startServer(t, newDB(t), fastCallbacks)
	flaky := newReceiver(t, 2) // fails twice, then accepts: within the 3 retries
	dead := newReceiver(t, 1<<30)
	healthy := newReceiver(t, 0)
	for _, rc := range []*callbackReceiver{flaky, dead, healthy} {
		s.must(http.StatusOK, "POST", subscription(rc.URL), "")
	}
	s.must(http.StatusCreated, "POST", "/v2/apps", `{"id":"/retry/app","cmd":"sleep 1","instances":0}`)
	eventually(t, "the healthy receiver gets the app's events", func() bool { return healthy.has("deployment_success", "/retry/app") })
	eventually(t, "the flaky receiver gets them after its failures", func() bool { return flaky.has("deployment_success", "/retry/app") })
	if _, posts := flaky.count(); posts < 3 {
		t.Errorf("the flaky receiver got %d POSTs; want its 2 failures retried", posts)
	}
	eventually(t, "events are dropped for the dead receiver after its retries", func() bool {
		m := s.must(http.StatusOK, "GET", "/metrics/prometheus", "")
		return strings.Contains(string(m.body), "corral_services_event_callback_failed_total ") &&
			!strings.Contains(string(m.body), "corral_services_event_callback_failed_total 0\n")
	})
	if _, posts := dead.count(); posts < 4 {
		t.Errorf("the dead receiver got %d POSTs before an event was dropped; want it tried 4 times", posts)
	}
}

// TestEventSubscriptionBadInput checks the 422s naming callbackUrl.
func TestEventSubscriptionBadInput(t *testing.T) {
	s := startServer(t, newDB(t))
	for _, c := range []struct{ name, query, msg string }{
		{"missing", "", "is required"},
		{"relative", "?callbackUrl=/events", "must be an absolute http or https URL"},
		{"other scheme", "?callbackUrl=" + url.QueryEscape("ftp://h/x"), `(got scheme "ftp")`},
		{"no host", "?callbackUrl=" + url.QueryEscape("http:///x"), "must name a host"},
		{"credentials", "?callbackUrl=" + url.QueryEscape("http://u:p@h/x"), "must not carry credentials"},
		{"metadata service", "?callbackUrl=" + url.QueryEscape("http://169.254.169.254/latest"), "link-local"},
		{"unspecified", "?callbackUrl=" + url.QueryEscape("http://0.0.0.0:80/"), "unspecified"},
		{"too long", "?callbackUrl=" + url.QueryEscape("http://h/"+strings.Repeat("x", maxCallbackURL)), "longer than"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, method := range []string{"POST", "DELETE"} {
				r := s.do(method, "/v2/eventSubscriptions"+c.query, "")
				body := wantError(t, r, http.StatusUnprocessableEntity, "Invalid callbackUrl")
				if d := get(body, "details", 0, "path"); d != "/callbackUrl" || !strings.Contains(anyString(get(body, "details", 0, "errors", 0)), c.msg) {
					t.Errorf("%s %s details = %v; want /callbackUrl: …%s…", method, c.query, body["details"], c.msg)
				}
			}
		})
	}
	if got := s.must(http.StatusOK, "GET", "/v2/eventSubscriptions", "").json(t); !cmp.Equal(got, map[string]any{"callbackUrls": []any{}}) {
		t.Errorf("subscriptions after refusals = %v; want none", got)
	}
}

// TestDialRefusesLinkLocal checks that a name resolving to a refused
// address is not connected to: the check is made on the address dialed.
func TestDialRefusesLinkLocal(t *testing.T) {
	for _, c := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:80", true}, {"[::1]:80", true}, {"10.1.2.3:80", true},
		{"169.254.169.254:80", false}, {"[fe80::1]:80", false}, {"0.0.0.0:80", false}, {"224.0.0.1:80", false},
	} {
		if err := dialControl("tcp", c.addr, nil); (err == nil) != c.ok {
			t.Errorf("dialControl(%s) = %v; want allowed %v", c.addr, err, c.ok)
		}
	}
	// And through a client, by name.
	_, err := callbackClient(time.Second).Get("http://" + net.JoinHostPort("169.254.169.254", "80") + "/")
	if err == nil || !strings.Contains(err.Error(), "link-local") {
		t.Errorf("GET of the metadata address = %v; want refused as link-local", err)
	}
}
