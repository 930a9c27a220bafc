package services

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"corral/frameworks/services/app"
	"corral/frameworks/services/plan"
	"corral/frameworks/services/store"
	"corral/internal/events"
	"corral/kernel/mesos"
	"corral/kernel/sched"
)

// Version is reported by /v2/info.
var Version = "0.1.0"

// Service is the services framework: a scheduler on the kernel's scheduler
// API that keeps Marathon-style apps running, plus their REST API. One
// goroutine (the loop) owns all state; the API, the scheduler client and
// the health probers talk to it through channels.
type Service struct {
	cfg    Config
	log    *slog.Logger
	store  *store.Store
	bus    *events.Bus
	client *sched.Client

	ops    chan func(*core)
	evs    chan *mesos.Event
	probes chan probeResult
	calls  chan func(context.Context)

	stopped chan struct{}
	ready   chan struct{}
	core    *core

	mu          sync.Mutex
	frameworkID string
	leaderURL   string
	started     time.Time
}

// New returns a Service for cfg; Run starts it.
func New(cfg Config, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Service{
		cfg:     cfg,
		log:     log.With("component", "services"),
		bus:     events.NewBus(cfg.EventBuffer, events.StartID(time.Now())),
		ops:     make(chan func(*core), 256),
		evs:     make(chan *mesos.Event, 1024),
		probes:  make(chan probeResult, 1024),
		calls:   make(chan func(context.Context), 4096),
		stopped: make(chan struct{}),
		ready:   make(chan struct{}),
		started: time.Now(),
	}
	s.core = newCore(s)
	return s, nil
}

// Ready is closed once state is loaded from Postgres and the API serves.
func (s *Service) Ready() <-chan struct{} { return s.ready }

// Run loads state, subscribes to the kernel and serves the API on
// cfg.Listen until ctx is done.
func (s *Service) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on an existing listener.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := store.Open(ctx, s.cfg.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	s.store = st

	if err := s.load(ctx); err != nil {
		return err
	}
	adv := s.cfg.Advertise
	if adv == "" {
		host, _ := os.Hostname()
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		adv = "http://" + net.JoinHostPort(host, port)
	}
	s.leaderURL = adv

	info := mesos.FrameworkInfo{
		User: s.cfg.User, Name: s.cfg.Name, Roles: []string{s.cfg.Role}, WebuiURL: adv,
		Capabilities: []mesos.Capability{{Type: mesos.CapMultiRole}, {Type: mesos.CapPartitionAware}},
	}
	ft := mesos.Float(s.cfg.FailoverTimeout.Seconds())
	info.FailoverTimeout = &ft
	cp := true
	info.Checkpoint = &cp
	if id := s.FrameworkID(); id != "" {
		info.ID = &mesos.ID{Value: id}
	}
	client, err := sched.New(sched.Config{Masters: s.cfg.Masters, Detector: s.cfg.Detector, Framework: info, BackoffMax: 5 * time.Second},
		sched.HandlerFunc(func(ctx context.Context, _ *sched.Client, ev *mesos.Event) {
			select {
			case s.evs <- ev:
			case <-ctx.Done():
			}
		}), s.log)
	if err != nil {
		return err
	}
	s.client = client

	srv := &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); s.loop(ctx) }()
	go func() { defer wg.Done(); s.caller(ctx) }()
	go func() {
		defer wg.Done()
		for {
			err := client.Run(ctx)
			if ctx.Err() != nil {
				return
			}
			// A refused subscription (say the kernel removed us) is logged;
			// try again later rather than dying.
			s.log.Error("scheduler client stopped; retrying", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Second):
			}
		}
	}()
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()
	close(s.ready)
	s.log.Info("services API listening", "addr", ln.Addr().String(), "url", adv)

	select {
	case <-ctx.Done():
	case err = <-srvErr:
		cancel()
	}
	shut, c2 := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer c2()
	s.bus.Close() // event streams would hold Shutdown open
	_ = srv.Shutdown(shut)
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// FrameworkID is the framework's id with the kernel ("" before the first
// subscription).
func (s *Service) FrameworkID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frameworkID
}

// load reads the durable state, retrying while Postgres is unreachable.
func (s *Service) load(ctx context.Context) error {
	backoff := 200 * time.Millisecond
	for {
		err := s.loadOnce(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.log.Warn("cannot load state from Postgres yet; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (s *Service) loadOnce(ctx context.Context) error {
	c := s.core
	fid, err := s.store.FrameworkID(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.frameworkID = fid
	s.mu.Unlock()
	apps, err := s.store.Apps(ctx)
	if err != nil {
		return err
	}
	deps, err := s.store.Deployments(ctx)
	if err != nil {
		return err
	}
	insts, err := s.store.Instances(ctx)
	if err != nil {
		return err
	}
	delays, err := s.store.LaunchDelays(ctx)
	if err != nil {
		return err
	}
	groups, err := s.store.Groups(ctx)
	if err != nil {
		return err
	}
	for _, r := range apps {
		var a app.App
		if err := json.Unmarshal(r.Spec, &a); err != nil {
			return fmt.Errorf("app %s: stored definition unreadable: %w", r.ID, err)
		}
		as := &appState{app: a, rejections: map[string]rejection{}}
		if d, ok := delays[r.ID]; ok {
			as.backoff = plan.Backoff{Failures: d.Failures, LastFailure: d.LastFailure}
		}
		c.apps[r.ID] = as
	}
	for _, r := range deps {
		var d deployment
		if err := json.Unmarshal(r.Spec, &d); err != nil {
			return fmt.Errorf("deployment %s: unreadable: %w", r.ID, err)
		}
		c.deployments[d.ID] = &d
		for appID, action := range d.Actions {
			if as := c.apps[appID]; as != nil && action == actionStop {
				as.deleting = true
			}
		}
	}
	for _, r := range insts {
		var in instance
		if err := json.Unmarshal(r.Spec, &in); err != nil {
			return fmt.Errorf("instance %s: unreadable: %w", r.TaskID, err)
		}
		c.addInstance(&in)
	}
	for _, r := range groups {
		var g group
		if err := json.Unmarshal(r.Spec, &g); err == nil {
			c.groups[g.ID] = &g
		}
	}
	s.log.Info("state loaded", "apps", len(apps), "deployments", len(deps), "instances", len(insts), "framework", fid)
	return nil
}

// do runs fn on the loop and waits for it.
func (s *Service) do(ctx context.Context, fn func(*core)) error {
	done := make(chan struct{})
	select {
	case s.ops <- func(c *core) { fn(c); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stopped:
		return errStopped
	}
	select {
	case <-done:
		return nil
	case <-s.stopped:
		return errStopped
	}
}

var errStopped = errors.New("services is stopping")

// call queues a kernel call; the caller goroutine makes them in order so
// the loop never waits on HTTP.
func (s *Service) call(fn func(ctx context.Context)) {
	select {
	case s.calls <- fn:
	default:
		// The queue is full: run it in its own goroutine rather than block.
		go fn(context.Background())
	}
}

func (s *Service) caller(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case fn := <-s.calls:
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			fn(cctx)
			cancel()
		}
	}
}
