package services

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"corral/frameworks/services/app"
	"corral/internal/acl"
	"corral/internal/events"
)

// HTTP callbacks: Marathon's /v2/eventSubscriptions. Every event of the
// bus (what /v2/events streams) is POSTed as its JSON to each subscribed
// callback URL, by the leading instance only: a term's callbacks start
// with the term, from the subscriptions stored in Postgres, and stop with
// it.
//
//	bus ──▶ dispatch (one goroutine, never waits) ──▶ queue of URL 1 ──▶ POST, retries
//	                                              └─▶ queue of URL 2 ──▶ POST, retries
//
// Each URL has its own bounded queue (Config.CallbackQueue) and goroutine,
// so a slow or dead receiver delays only its own events; the events that
// find its queue full are dropped for it. A POST that fails (no answer
// within Config.CallbackTimeout, a transport error, an answer other than
// 2xx, redirects included) is made again up to Config.CallbackRetries
// times with capped exponential backoff, and then the event is dropped
// for that URL, logged and counted. Marathon drops too, without retrying;
// either way a receiver learns of a gap only by re-reading the state.
//
// The POSTs are the framework's own: none of corral's credentials, no
// proxy, no redirect followed. Link-local, multicast and unspecified
// addresses (a cloud's metadata service at 169.254.169.254) are refused
// when the URL is registered and again when a connection is made, after
// name resolution; loopback and private addresses are allowed, since
// receivers usually sit in the cluster beside the framework.

// maxCallbackURL bounds a callback URL's length.
const maxCallbackURL = 2048

// callbacks delivers a term's events to the subscribed URLs. Its methods
// are safe for concurrent use; run delivers until its context ends.
type callbacks struct {
	cfg    Config
	bus    *events.Bus
	log    *slog.Logger
	client *http.Client
	agent  string

	// change serializes the API's subscription changes: the stored
	// subscriptions and the receivers change in the same order.
	change sync.Mutex

	mu        sync.Mutex
	receivers map[string]*receiver
	closed    bool
	wg        sync.WaitGroup

	delivered, failed, dropped atomic.Int64
}

// receiver is the queue and goroutine of one callback URL.
type receiver struct {
	url    string
	queue  chan events.Event
	cancel context.CancelFunc
	warned time.Time // last "queue full" warning; the dispatcher's
}

func newCallbacks(cfg Config, bus *events.Bus, log *slog.Logger) *callbacks {
	return &callbacks{
		cfg:       cfg,
		bus:       bus,
		log:       log.With("component", "services-callbacks"),
		client:    callbackClient(cfg.CallbackTimeout),
		agent:     "corral-services/" + cfg.Version,
		receivers: map[string]*receiver{},
	}
}

// callbackClient is the HTTP client of the callbacks: its own transport
// (no client certificate, no proxy), a dialer that refuses the addresses
// refusedIP names, no cookie jar, no redirects, and timeout for the whole
// exchange.
func callbackClient(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: dialControl}
	tr := &http.Transport{
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// dialControl refuses connections to the addresses refusedIP names, once
// the name of the URL has been resolved.
func dialControl(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip != nil {
		if why := refusedIP(ip); why != "" {
			return fmt.Errorf("connecting to %s: %s", ip, why)
		}
	}
	return nil
}

// refusedIP says why callbacks may not reach ip, "" if they may.
func refusedIP(ip net.IP) string {
	switch {
	case ip.IsUnspecified():
		return "an unspecified address is not a receiver"
	case ip.IsLinkLocalUnicast():
		return "link-local addresses (such as a cloud's metadata service) are refused"
	case ip.IsMulticast():
		return "multicast addresses are refused"
	}
	return ""
}

// checkCallbackURL returns the canonical form of a callback URL, or the
// 422 naming callbackUrl that says what is wrong with it: it must be an
// absolute http or https URL with a host, without credentials, and not a
// literal address refusedIP names.
func checkCallbackURL(raw string) (string, error) {
	bad := func(msg string) (string, error) {
		return "", &app.ValidationError{Message: "Invalid callbackUrl",
			Details: []app.Detail{{Path: "/callbackUrl", Errors: []string{msg}}}}
	}
	if raw == "" {
		return bad("is required: give ?callbackUrl=http://host:port/path")
	}
	if len(raw) > maxCallbackURL {
		return bad(fmt.Sprintf("is longer than %d bytes", maxCallbackURL))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("is not a URL: " + err.Error())
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return bad(fmt.Sprintf("must be an absolute http or https URL (got scheme %q)", u.Scheme))
	case u.Host == "" || u.Hostname() == "":
		return bad("must name a host")
	case u.User != nil:
		return bad("must not carry credentials (user:password@): the subscriptions are listed to everyone who may view apps")
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil {
		if why := refusedIP(ip); why != "" {
			return bad(why)
		}
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String(), nil
}

// start subscribes to the bus and starts delivering to urls; run then
// delivers the events of the subscription it returns.
func (cb *callbacks) start(urls []string) *events.Subscription {
	sub := cb.bus.Subscribe(nil, 0)
	for _, u := range urls {
		_ = cb.add(u)
	}
	return sub
}

// run delivers sub's events (see start) to the receivers until ctx ends
// or the bus closes; then it stops every receiver, waits for them, and
// refuses later adds.
func (cb *callbacks) run(ctx context.Context, sub *events.Subscription) {
	defer cb.client.CloseIdleConnections()
	defer cb.stopAll()
	defer func() { sub.Close() }()
	var last uint64
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-sub.C():
			if !ok {
				if !errors.Is(sub.Err(), events.ErrSlowSubscriber) {
					return // the bus closed: the term ends
				}
				// The dispatcher never waits, so this takes a burst
				// beyond the bus's subscriber buffer; the bus's ring
				// replays what it still holds.
				cb.log.Warn("event callbacks fell behind the event bus; resuming from its replay buffer", "after", last)
				sub = cb.bus.Subscribe(nil, last)
				continue
			}
			last = ev.ID
			cb.dispatch(ev)
		}
	}
}

// dispatch queues ev for every receiver, dropping it for those whose
// queue is full.
func (cb *callbacks) dispatch(ev events.Event) {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	for _, r := range cb.receivers {
		select {
		case r.queue <- ev:
		default:
			cb.dropped.Add(1)
			if time.Since(r.warned) > time.Minute {
				r.warned = time.Now()
				cb.log.Warn("event callback too slow: its queue is full, events are dropped for it", "url", r.url,
					"queue", cap(r.queue), "eventType", ev.Type)
			}
		}
	}
}

// add starts delivering to url (a no-op if it is delivered to already).
// It fails once run has stopped.
func (cb *callbacks) add(url string) error {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if cb.closed {
		return errStopped
	}
	if cb.receivers[url] != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &receiver{url: url, queue: make(chan events.Event, cb.cfg.CallbackQueue), cancel: cancel}
	cb.receivers[url] = r
	cb.wg.Add(1)
	go func() {
		defer cb.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-r.queue:
				cb.deliver(ctx, url, ev)
			}
		}
	}()
	return nil
}

// remove stops delivering to url: the events queued for it are dropped
// and a POST in flight is abandoned.
func (cb *callbacks) remove(url string) {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if r := cb.receivers[url]; r != nil {
		r.cancel()
		delete(cb.receivers, url)
	}
}

// stopAll stops every receiver, waits for them and refuses later adds.
func (cb *callbacks) stopAll() {
	cb.mu.Lock()
	cb.closed = true
	for url, r := range cb.receivers {
		r.cancel()
		delete(cb.receivers, url)
	}
	cb.mu.Unlock()
	cb.wg.Wait()
}

// deliver POSTs ev to url, retrying with backoff (see above), until it is
// delivered, the retries are spent, or ctx ends.
func (cb *callbacks) deliver(ctx context.Context, url string, ev events.Event) {
	wait := cb.cfg.CallbackBackoff
	for attempt := 1; ; attempt++ {
		err := cb.post(ctx, url, ev)
		if err == nil {
			cb.delivered.Add(1)
			return
		}
		if ctx.Err() != nil {
			return // unsubscribed, or the term ended
		}
		if attempt > cb.cfg.CallbackRetries {
			cb.failed.Add(1)
			cb.log.Warn("event not delivered to its callback; dropped", "url", url, "eventType", ev.Type, "id", ev.ID,
				"attempts", attempt, "err", err)
			return
		}
		cb.log.Debug("event callback failed; retrying", "url", url, "eventType", ev.Type, "attempt", attempt, "in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, cb.cfg.CallbackBackoffMax)
	}
}

// post makes one POST of ev to url: nil for a 2xx answer.
func (cb *callbacks) post(ctx context.Context, url string, ev events.Event) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(ev.Data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", cb.agent)
	resp, err := cb.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

// counts are the figures /metrics reports.
func (cb *callbacks) counts() map[string]float64 {
	cb.mu.Lock()
	n := len(cb.receivers)
	cb.mu.Unlock()
	return map[string]float64{
		"event_callbacks":                 float64(n),
		"event_callback_delivered_total":  float64(cb.delivered.Load()),
		"event_callback_failed_total":     float64(cb.failed.Load()),
		"event_callback_queue_full_total": float64(cb.dropped.Load()),
	}
}

// listSubscriptions is GET /v2/eventSubscriptions: {"callbackUrls": […]}.
// It asks what /v2/events asks: view_apps for some app.
func (s *Service) listSubscriptions(w http.ResponseWriter, r *http.Request) {
	if !s.grants(w, r, acl.ViewApps) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	subs, err := s.store.Subscriptions(ctx)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	urls := make([]string, 0, len(subs))
	for _, sub := range subs {
		urls = append(urls, sub.CallbackURL)
	}
	writeJSON(w, http.StatusOK, map[string]any{"callbackUrls": urls})
}

// subscribe is POST /v2/eventSubscriptions?callbackUrl=URL: it stores the
// subscription, starts delivering to URL and answers with the
// subscribe_event it publishes (to every subscriber, URL included).
// Subscribing again is not an error. See authorizeSubscriptions.
func (s *Service) subscribe(w http.ResponseWriter, r *http.Request) {
	s.changeSubscription(w, r, true)
}

// unsubscribe is DELETE /v2/eventSubscriptions?callbackUrl=URL: it
// removes the subscription, stops delivering to URL (dropping what is
// queued for it) and answers with the unsubscribe_event it publishes. A
// URL that is not subscribed is a 404.
func (s *Service) unsubscribe(w http.ResponseWriter, r *http.Request) {
	s.changeSubscription(w, r, false)
}

func (s *Service) changeSubscription(w http.ResponseWriter, r *http.Request, on bool) {
	if !s.authorizeSubscriptions(w, r) {
		return
	}
	u, err := checkCallbackURL(r.URL.Query().Get("callbackUrl"))
	if err != nil {
		writeErr(w, r, err)
		return
	}
	client, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		client = r.RemoteAddr
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	cb := s.callbacks
	cb.change.Lock()
	defer cb.change.Unlock()
	typ := "subscribe_event"
	if on {
		if err := s.store.Subscribe(ctx, u, client); err != nil {
			writeErr(w, r, &errUnavailable{err})
			return
		}
		if err := cb.add(u); err != nil {
			writeErr(w, r, err)
			return
		}
	} else {
		typ = "unsubscribe_event"
		removed, err := s.store.Unsubscribe(ctx, u)
		if err != nil {
			writeErr(w, r, &errUnavailable{err})
			return
		}
		if !removed {
			writeErr(w, r, &errNotFound{fmt.Sprintf("callbackUrl %s is not subscribed", u)})
			return
		}
		cb.remove(u)
	}
	ev := s.bus.Publish(typ, map[string]any{"callbackUrl": u, "clientIp": client})
	writeJSON(w, http.StatusOK, ev.Data)
}
