package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"corral/frameworks/jobs/job"
	"corral/frameworks/jobs/notify"
	"corral/frameworks/jobs/store"
	"corral/internal/events"
)

// Webhook notifications of ended runs (decided by package notify). The
// write that ends a run records its notifications in the same
// transaction (store.Run.Notify), so that neither a crash nor a failover
// loses one. The leader's notifier, a goroutine of its term, delivers
// them:
//
//	loop ── run ends ──▶ writer ──▶ jobs.runs + jobs.notifications (pending)
//	  └── poke ──▶ notifier ── claim due ones (a lease; fenced) ──▶ Postgres
//	                  │ POST each, at most notifyParallel at once
//	                  └─ record the attempt (fenced): delivered, failing
//	                     (due again after backoff) or abandoned; publish
//	                     it (run_notified on /v1/events)
//
// Only the leader claims: a deposed leader's claims and records are
// refused (ErrFenced), which ends its term. A delivered notification is
// never claimed again; one whose attempt was in flight when its leader
// died is claimed again once its lease has passed. So each notification
// arrives at least once, and twice only when a leader dies (or loses
// Postgres) between a receiver's answer and its record: receivers dedupe
// on X-Corral-Delivery.
//
// The POSTs are the jobs framework's own: from this host, with none of
// corral's credentials (no client certificate, no cookies), bounded by
// Config.NotifyTimeout, reading at most maxNotifyAnswer bytes of an
// answer, following at most maxRedirects redirects and none to another
// scheme.

// Notifier limits.
const (
	// notifyBatch is how many notifications one round claims.
	notifyBatch = 32
	// notifyParallel bounds the POSTs in flight.
	notifyParallel = 8
	// notifyPoll is how often the notifier looks for notifications when
	// nothing pokes it: those the API of another instance recorded, or
	// those a predecessor's lease kept.
	notifyPoll = 5 * time.Second
	// notifyLeaseMargin is added to the time a round may take to make a
	// claim's lease.
	notifyLeaseMargin = 30 * time.Second
	// maxNotifyAnswer bounds what is read of a receiver's answer.
	maxNotifyAnswer = 64 << 10
	// maxRedirects bounds the redirects followed.
	maxRedirects = 5
	// recordTries is how often an attempt's outcome is offered to the
	// database before it is left to the lease (and so sent again).
	recordTries = 3
)

// notifier delivers the notifications of a term (see above). run is its
// goroutine; poke may be called from any goroutine.
type notifier struct {
	store  *store.Store // the term's fenced view
	client *http.Client
	policy notify.Policy
	lease  time.Duration
	log    *slog.Logger
	base   string // the jobs API's base URL, for the links
	agent  string // User-Agent
	bus    *events.Bus
	wake   chan struct{}
	mail   *mailer // nil without --smtp
}

// newNotifier returns the notifier of a term writing through st, which
// publishes each attempt it records on bus as run_notified.
func newNotifier(cfg Config, st *store.Store, base string, bus *events.Bus, log *slog.Logger) *notifier {
	return &notifier{
		store:  st,
		client: webhookClient(cfg.NotifyTimeout),
		policy: notify.Policy{Backoff: cfg.NotifyBackoff, MaxBackoff: cfg.NotifyBackoffMax, GiveUp: cfg.NotifyGiveUp},
		lease:  time.Duration(notifyBatch/notifyParallel)*cfg.NotifyTimeout + notifyLeaseMargin,
		log:    log.With("component", "jobs-notifier"),
		base:   base,
		agent:  "corral-jobs/" + cfg.Version,
		bus:    bus,
		wake:   make(chan struct{}, 1),
		mail:   newMailer(cfg),
	}
}

// webhookClient is the HTTP client of the notifications: its own
// transport (no client certificate: corral's credentials are for the
// master), no cookie jar, a timeout for the whole exchange, redirects
// within the scheme only.
func webhookClient(timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          notifyParallel,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: checkRedirect}
}

// checkRedirect follows at most maxRedirects redirects, none to another
// scheme (an https webhook is never downgraded, nor sent anywhere but
// http and https). The error names no URL: it is shown with the run.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if from := via[0].URL.Scheme; req.URL.Scheme != from {
		return fmt.Errorf("a redirect from %s to %s is not followed", from, req.URL.Scheme)
	}
	return nil
}

// poke makes the notifier look for due notifications now.
func (n *notifier) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// run delivers until ctx ends: a round whenever poked, when the next
// notification comes due, and every notifyPoll.
func (n *notifier) run(ctx context.Context) {
	defer n.client.CloseIdleConnections()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var warned time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.wake:
		case <-timer.C:
		}
		wait := notifyPoll
		next, more, err := n.round(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if time.Since(warned) > time.Minute {
				warned = time.Now()
				n.log.Warn("cannot claim notifications; will retry", "err", err)
			}
			wait = time.Second
		case more:
			wait = 0
		case next != nil:
			wait = min(wait, max(time.Until(*next), 0))
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// round claims the notifications due and delivers them, at most
// notifyParallel at once. It returns when the next is due (nil: none
// waits) and whether more may be due now.
func (n *notifier) round(ctx context.Context) (next *time.Time, more bool, err error) {
	ds, next, err := n.store.ClaimNotifications(ctx, time.Now(), n.lease, notifyBatch)
	if err != nil {
		return nil, false, err
	}
	slots := make(chan struct{}, notifyParallel)
	var wg sync.WaitGroup
	for _, d := range ds {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			n.deliver(ctx, d)
		}()
	}
	wg.Wait()
	return next, len(ds) == notifyBatch, nil
}

// deliver makes one attempt of d and records its outcome.
func (n *notifier) deliver(ctx context.Context, d store.Delivery) {
	attempt := d.Attempts + 1
	status, failure := n.post(ctx, d, attempt)
	if ctx.Err() != nil {
		// The term is over: the lease leaves d to the next leader.
		return
	}
	now := time.Now()
	verdict, next := n.policy.Decide(failure == "", attempt, d.CreatedAt, now)
	a := store.Attempt{At: now, Status: status, Error: failure, Next: next}
	log := n.log.With("job", d.Run.Job, "run", d.RunID, "delivery", d.ID, "url", notify.Shown(d.URL, d.Default), "attempt", attempt)
	switch verdict {
	case notify.Delivered:
		a.State = store.DeliveryDelivered
		log.Debug("notification delivered", "status", status)
	case notify.Retry:
		a.State = store.DeliveryFailing
		log.Warn("notification not delivered; will retry", "err", failure, "next", next.UTC().Format(time.RFC3339))
	default:
		a.State = store.DeliveryAbandoned
		log.Error("notification abandoned: not delivered within notify_give_up", "err", failure, "give_up", n.policy.GiveUp)
	}
	for try := 1; ; try++ {
		err := n.store.RecordDelivery(ctx, d.ID, a)
		if err == nil {
			n.bus.Publish("run_notified", map[string]any{"job": d.Run.Job, "runId": d.RunID, "deliveryId": d.ID,
				"state": a.State, "attempts": attempt})
			return
		}
		if store.Permanent(err) || try == recordTries || sleep(ctx, time.Duration(try)*200*time.Millisecond) != nil {
			log.Warn("cannot record a notification attempt; it is made again once its lease ends", "err", err, "lease", n.lease)
			return
		}
	}
}

// post sends d's notification (a POST, or a mail to an owner): the status of the answer (0 for none), and
// why it did not deliver ("" if it did).
func (n *notifier) post(ctx context.Context, d store.Delivery, attempt int) (int, string) {
	if strings.HasPrefix(d.URL, notify.MailScheme) {
		return n.mail.send(ctx, d, notify.Build(d.ID, runFacts(d.Run), n.base))
	}
	body, err := json.Marshal(notify.Build(d.ID, runFacts(d.Run), n.base))
	if err != nil {
		return 0, "cannot encode the notification: " + err.Error()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return 0, "cannot make the request: " + urlFree(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", n.agent)
	req.Header.Set("X-Corral-Delivery", d.ID)
	req.Header.Set("X-Corral-Event", notify.Event(string(d.Event)))
	req.Header.Set("X-Corral-Attempt", strconv.Itoa(attempt))
	resp, err := n.client.Do(req)
	if err != nil {
		status := 0
		if resp != nil { // a redirect refused: the answer that asked for it
			status = resp.StatusCode
		}
		return status, urlFree(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxNotifyAnswer))
	if notify.Succeeded(resp.StatusCode) {
		return resp.StatusCode, ""
	}
	return resp.StatusCode, notify.Failure(resp.Status, answer)
}

// urlFree is err's message without the URL that net/http puts first:
// the run's JSON shows the error to whoever may view the job, and the
// default webhook's URL is the operator's.
func urlFree(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer in time: " + err.Error()
	}
	return err.Error()
}

// runFacts is what a notification tells of r.
func runFacts(r store.Run) notify.Run {
	return notify.Run{ID: r.ID, Job: r.Job, State: string(r.State), Trigger: r.Trigger, Attempt: r.Attempt, MaxAttempts: r.MaxAttempts,
		Reason: r.Reason, ExitStatus: r.ExitStatus, AgentID: r.AgentID, Host: r.Host, TaskID: r.TaskID, Sandbox: r.Sandbox,
		ScheduledFor: r.ScheduledFor, QueuedAt: r.QueuedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
}

// notifyTargets are whom the end in state of a run of a job with webhooks
// hooks and owner is told: the webhooks (notify.Targets, with cfg's
// default webhook), and with cfg.SMTP its owners by mail
// (notify.Owners).
func notifyTargets(hooks []job.Webhook, owner string, cfg *Config, state store.State) []store.Target {
	ts := notify.Targets(hooks, cfg.NotifyWebhook, string(state))
	if cfg.SMTP != "" {
		ts = append(ts, notify.Owners(owner, string(state))...)
	}
	var out []store.Target
	for _, t := range ts {
		// The store refuses a URL twice, and with it the whole batch.
		if !slices.ContainsFunc(out, func(o store.Target) bool { return o.URL == t.URL }) {
			out = append(out, store.Target{URL: t.URL, Default: t.Default})
		}
	}
	return out
}

// notificationView is a notification as the API shows it with its run.
func notificationView(n store.Notification) map[string]any {
	v := map[string]any{
		"id": n.ID, "url": notify.Shown(n.URL, n.Default), "default": n.Default, "event": n.Event,
		"state": n.State, "attempts": n.Attempts, "lastError": n.LastError, "lastStatus": nil,
		"createdAt": n.CreatedAt.UTC().Format(time.RFC3339Nano), "lastAttemptAt": nil, "nextAttemptAt": nil, "deliveredAt": nil,
	}
	if n.LastStatus != 0 {
		v["lastStatus"] = n.LastStatus
	}
	if n.State.Due() {
		v["nextAttemptAt"] = n.NextAttemptAt.UTC().Format(time.RFC3339Nano)
	}
	for k, t := range map[string]*time.Time{"lastAttemptAt": n.LastAttemptAt, "deliveredAt": n.DeliveredAt} {
		if t != nil {
			v[k] = t.UTC().Format(time.RFC3339Nano)
		}
	}
	return v
}
