package executor

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"corral/kernel/mesos"
)

const (
	// executorPath is appended to the agent's base URL.
	executorPath = "/api/v1/executor"
	// backoffMin is the first re-subscription delay; it doubles up to
	// SubscriptionBackoffMax.
	backoffMin = time.Second
	// dialTimeout and headerTimeout bound connecting to the agent and
	// waiting for its answer with the default client, as in mesos-go's
	// executor.
	dialTimeout   = 10 * time.Second
	headerTimeout = 10 * time.Second
	// callTimeout bounds a call whose context has no deadline.
	callTimeout = 30 * time.Second
)

// applyDefaults fills the zero optional fields of c (see Config).
func (c *Config) applyDefaults() {
	if c.RecoveryTimeout == 0 {
		c.RecoveryTimeout = DefaultRecoveryTimeout
	}
	if c.SubscriptionBackoffMax == 0 {
		c.SubscriptionBackoffMax = DefaultSubscriptionBackoffMax
	}
	if c.ResendInterval == 0 {
		c.ResendInterval = DefaultResendInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.AgentURL = strings.TrimSuffix(c.AgentURL, "/")
}

// Handler receives the events of an executor's subscription.
//
// Its methods are called from Run's goroutine, one at a time, in stream
// order; ctx is Run's context. While one runs the stream is not read, so
// a method with long work (running a task) starts a goroutine for it and
// returns. Methods may call the Driver synchronously: calls use their own
// connections.
type Handler interface {
	// Subscribed is called at every SUBSCRIBED: the first subscription
	// and each re-subscription.
	Subscribed(ctx context.Context, d *Driver, info mesos.ExecutorSubscribed)
	// Launch is called for each LAUNCH. The executor runs task and
	// reports its states with d.Update, up to a terminal one.
	Launch(ctx context.Context, d *Driver, task mesos.TaskInfo)
	// Kill is called when the framework killed a task. The executor
	// stops it (within policy's grace period, if policy is not nil) and
	// sends a terminal update, usually TASK_KILLED.
	Kill(ctx context.Context, d *Driver, taskID mesos.ID, policy *mesos.KillPolicy)
	// Message is called with the bytes of a message from the framework.
	Message(ctx context.Context, d *Driver, data []byte)
	// Shutdown is called when the agent sends SHUTDOWN: the executor
	// kills its tasks, sends their terminal updates and exits within
	// Config.ShutdownGracePeriod. Run returns when Shutdown returns, so
	// Shutdown sends those updates (d.Update) before returning.
	Shutdown(ctx context.Context, d *Driver)
}

// ErrDisconnected is returned (wrapped) by Run when it lost the agent for
// good: a stream ended while not checkpointing, or no subscription
// succeeded within RecoveryTimeout while checkpointing.
var ErrDisconnected = errors.New("executor: disconnected from the agent")

// Stream end causes.
var (
	errShutdown     = errors.New("agent sent SHUTDOWN")
	errAgentError   = errors.New("agent sent ERROR")
	errStreamClosed = errors.New("stream closed by the agent")
)

// Run subscribes to the agent at cfg.AgentURL and dispatches the events
// of the stream to h until one of these ends it:
//
//   - SHUTDOWN: Run calls h.Shutdown and returns nil;
//   - ctx is done: Run returns ctx.Err();
//   - the agent refuses SUBSCRIBE with a 4xx other than 408 and 429: Run
//     returns the *CallError, since asking again cannot help;
//   - the stream breaks (or the first SUBSCRIBE fails) without
//     cfg.Checkpoint: Run returns an error wrapping ErrDisconnected;
//   - with cfg.Checkpoint, no subscription succeeded for
//     cfg.RecoveryTimeout: Run returns an error wrapping ErrDisconnected.
//
// With cfg.Checkpoint a broken stream is re-subscribed after a backoff of
// 1 s, doubling up to cfg.SubscriptionBackoffMax; each SUBSCRIBE lists
// the launched tasks none of whose updates the agent acknowledged and the
// updates it has not acknowledged. An ERROR event drops the stream and
// re-subscribes the same way, checkpointing or not. HEARTBEAT, and events
// this package does not know (LAUNCH_GROUP among them), are logged and
// skipped.
//
// Run validates cfg and applies its defaults first. Every goroutine it
// starts has ended when it returns.
func Run(ctx context.Context, cfg Config, h Handler) error {
	if h == nil {
		return errors.New("executor: nil handler")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg.applyDefaults()
	streamHC, callHC, err := httpClients(cfg)
	if err != nil {
		return err
	}
	log := cfg.Logger.With("component", "executor", "executor_id", cfg.ExecutorID, "framework_id", cfg.FrameworkID)
	r := &runner{
		cfg:      cfg,
		h:        h,
		streamHC: streamHC,
		d:        &Driver{cfg: cfg, log: log, callHC: callHC},
	}

	lost := time.Now() // since when no stream has been subscribed
	failures := 0
	for {
		subscribed, err := r.serve(ctx)
		switch {
		case errors.Is(err, errShutdown):
			log.Info("shut down by the agent")
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		}
		if subscribed {
			lost, failures = time.Now(), 0
		}
		var ce *CallError
		if errors.As(err, &ce) && ce.permanent() {
			log.Error("agent refused subscription", "err", err)
			return err
		}
		if !cfg.Checkpoint && !errors.Is(err, errAgentError) {
			return fmt.Errorf("%w (not checkpointing): %w", ErrDisconnected, err)
		}
		failures++
		elapsed := time.Since(lost)
		if elapsed >= cfg.RecoveryTimeout {
			return fmt.Errorf("%w: not subscribed for %v: %w", ErrDisconnected, cfg.RecoveryTimeout, err)
		}
		delay := min(backoff(failures, cfg.SubscriptionBackoffMax), cfg.RecoveryTimeout-elapsed)
		log.Warn("subscription lost; subscribing again", "err", err, "failures", failures, "in", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// backoff returns the delay before attempt failures+1 (failures >= 1):
// 1 s doubling per failure, capped at limit.
func backoff(failures int, limit time.Duration) time.Duration {
	d := backoffMin
	for i := 1; i < failures && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// httpClients returns the clients of the stream (no overall timeout: it
// lives as long as the executor) and of the calls.
func httpClients(cfg Config) (stream, call *http.Client, err error) {
	base := cfg.HTTPClient
	if base == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
		tr.ResponseHeaderTimeout = headerTimeout
		if cfg.CAFile != "" {
			pool, err := loadCAs(cfg.CAFile)
			if err != nil {
				return nil, nil, fmt.Errorf("executor: CAFile: %w", err)
			}
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		base = &http.Client{Transport: tr}
	}
	s, c := *base, *base
	s.Timeout = 0
	return &s, &c, nil
}

// runner is one Run: the configuration, the handler and the Driver that
// outlives each stream.
type runner struct {
	cfg      Config
	h        Handler
	streamHC *http.Client
	d        *Driver
}

// serve opens one subscription and dispatches its events until it ends.
// It reports whether a SUBSCRIBED arrived and why the stream ended
// (errShutdown after the handler's Shutdown returned).
func (r *runner) serve(ctx context.Context) (subscribed bool, err error) {
	call := &mesos.ExecutorCall{Type: mesos.ExecCallSubscribe, Subscribe: r.d.unacknowledged(time.Now())}
	req, err := newRequest(ctx, r.cfg, call)
	if err != nil {
		return false, err
	}
	resp, err := r.streamHC.Do(req)
	if err != nil {
		return false, fmt.Errorf("executor: SUBSCRIBE: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, newCallError(mesos.ExecCallSubscribe, resp)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != mediaType(r.cfg.Protobuf) {
			return false, fmt.Errorf("executor: SUBSCRIBE: stream has Content-Type %q, want %q", ct, mediaType(r.cfg.Protobuf))
		}
	}
	r.d.log.Debug("stream open", "agent", r.cfg.AgentURL,
		"unacknowledged_tasks", len(call.Subscribe.UnacknowledgedTasks),
		"unacknowledged_updates", len(call.Subscribe.UnacknowledgedUpdates))

	// The resender runs while the stream is subscribed; it is stopped and
	// joined before serve returns, and Driver calls fail from then on.
	resendCtx, stopResend := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		r.d.setSubscribed(false)
		stopResend()
		wg.Wait()
	}()

	rd := mesos.NewReader(resp.Body)
	for {
		rec, err := rd.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errStreamClosed
			}
			return subscribed, fmt.Errorf("executor: reading the stream: %w", err)
		}
		var ev mesos.ExecutorEvent
		if err := decodeEvent(r.cfg.Protobuf, rec, &ev); err != nil {
			return subscribed, fmt.Errorf("executor: decoding an event: %w", err)
		}
		if ev.Type == mesos.ExecEventSubscribed && ev.Subscribed != nil && !subscribed {
			subscribed = true
			r.d.setSubscribed(true)
			wg.Go(func() { r.d.resend(resendCtx, r.cfg.ResendInterval) })
		}
		if err := r.dispatch(ctx, &ev); err != nil {
			return subscribed, err
		}
	}
}

// dispatch hands one event to the handler. It returns the cause that
// ends the stream for SHUTDOWN and ERROR, and nil otherwise.
func (r *runner) dispatch(ctx context.Context, ev *mesos.ExecutorEvent) error {
	d, log := r.d, r.d.log
	malformed := func() error {
		log.Warn("event without its payload; skipped", "type", ev.Type)
		return nil
	}
	switch ev.Type {
	case mesos.ExecEventSubscribed:
		if ev.Subscribed == nil {
			return malformed()
		}
		log.Info("subscribed", "agent", r.cfg.AgentURL)
		r.h.Subscribed(ctx, d, *ev.Subscribed)
	case mesos.ExecEventLaunch:
		if ev.Launch == nil {
			return malformed()
		}
		d.launched(ev.Launch.Task)
		r.h.Launch(ctx, d, ev.Launch.Task)
	case mesos.ExecEventKill:
		if ev.Kill == nil {
			return malformed()
		}
		r.h.Kill(ctx, d, ev.Kill.TaskID, ev.Kill.KillPolicy)
	case mesos.ExecEventAcknowledged:
		if ev.Acknowledged == nil {
			return malformed()
		}
		if !d.acknowledged(ev.Acknowledged.TaskID.Value, ev.Acknowledged.UUID) {
			log.Debug("acknowledgement of no pending update", "task_id", ev.Acknowledged.TaskID.Value)
		}
	case mesos.ExecEventMessage:
		if ev.Message == nil {
			return malformed()
		}
		data, err := base64.StdEncoding.DecodeString(ev.Message.Data)
		if err != nil {
			log.Warn("message with invalid data; skipped", "err", err)
			return nil
		}
		r.h.Message(ctx, d, data)
	case mesos.ExecEventShutdown:
		r.h.Shutdown(ctx, d)
		return errShutdown
	case mesos.ExecEventError:
		msg := ""
		if ev.Error != nil {
			msg = ev.Error.Message
		}
		return fmt.Errorf("%w: %q", errAgentError, msg)
	case mesos.ExecEventHeartbeat:
		log.Debug("heartbeat")
	default:
		log.Warn("event not handled; skipped", "type", ev.Type)
	}
	return nil
}
