package services

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"

	"corral/frameworks/services/app"
	"corral/frameworks/services/plan"
	"corral/frameworks/services/store"
	"corral/internal/edge"
	"corral/internal/events"
	"corral/internal/lead"
	"corral/kernel/mesos"
	"corral/kernel/sched"
)

// Service is the services framework: a scheduler on the kernel's scheduler
// API that keeps Marathon-style apps running, plus their REST API. One
// goroutine (the loop) owns all state; the API, the scheduler client and
// the health probers talk to it through channels.
type Service struct {
	cfg     Config
	log     *slog.Logger
	baseLog *slog.Logger // as given to New, for the next term's Service
	store   *store.Store
	bus     *events.Bus
	client  *sched.Client
	// callbacks deliver the term's events to /v2/eventSubscriptions.
	callbacks *callbacks
	// subscribed are the callback URLs loaded with the state.
	subscribed []string

	ops    chan func(*core)
	evs    chan *mesos.Event
	probes chan probeResult
	calls  chan func(context.Context)
	// acks are acknowledgements, sent by ackers of their own, several at
	// once, so that thousands of updates are not acknowledged one round
	// trip at a time behind launches and kills.
	acks chan func(context.Context)

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
		baseLog: log,
		bus:     events.NewBus(cfg.EventBuffer, events.StartID(time.Now())),
		ops:     make(chan func(*core), 256),
		evs:     make(chan *mesos.Event, 1024),
		probes:  make(chan probeResult, 1024),
		calls:   make(chan func(context.Context), 4096),
		acks:    make(chan func(context.Context), 4096),
		stopped: make(chan struct{}),
		ready:   make(chan struct{}),
		started: time.Now(),
	}
	s.core = newCore(s)
	s.callbacks = newCallbacks(cfg, s.bus, s.log)
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

// Serve is Run on an existing listener. The API serves at once; the
// instance schedules while it leads: while it is elected (in ZooKeeper
// with cfg.ZK, else by holding the database lock) and no later services
// term has begun. Each time it is elected it begins a new term in
// Postgres and starts it from there (a fresh Service; s itself serves the
// first term). While it does not lead it forwards the API to the leader
// (see standby).
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	adv := s.cfg.Advertise
	if adv == "" {
		host, _ := os.Hostname()
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		adv = s.cfg.Trust.Scheme() + "://" + net.JoinHostPort(host, port)
	}
	self := lead.Member{ID: uuid.NewString(), URL: adv}
	el, err := s.election(self)
	if err != nil {
		return err
	}
	h := lead.NewSwap((&standby{self: self, el: el, trust: s.cfg.Trust}).routes())
	ecfg := edge.DefaultConfig()
	ecfg.Name, ecfg.ShutdownGrace = "services", s.cfg.ShutdownGrace
	ecfg.Guards = s.cfg.Trust.Guards()
	ecfg.TLS = s.cfg.Trust.ServerTLS
	srv := edge.New(ecfg, h, s.baseLog)
	srvErr := make(chan error, 1)
	serve := sync.OnceFunc(func() {
		go func() { srvErr <- srv.Serve(ctx, ln) }()
		s.log.Info("services API listening", "addr", ln.Addr().String(), "url", adv, "id", self.ID)
	})
	if s.cfg.ZK != "" {
		// One of several instances: answer at once, as a standby until
		// elected.
		serve()
	}

	elDone := make(chan error, 1)
	go func() {
		first := s
		elDone <- el.Run(ctx, func(lctx context.Context) {
			t := first
			first = nil
			if t == nil {
				var err error
				if t, err = New(s.cfg, s.baseLog); err != nil {
					s.log.Error("cannot start a term", "err", err)
					return
				}
			}
			t.leaderURL = adv
			end := func() {}
			t.lead(lctx, func() {
				end = h.Serve(lctx, t.routes())
				// Alone, the API answers once the state is loaded, as
				// the leader.
				serve()
			})
			end()
		})
	}()

	select {
	case <-ctx.Done():
	case err = <-srvErr:
	case err = <-elDone:
	}
	cancel()
	if e := <-elDone; err == nil && e != nil && !errors.Is(e, context.Canceled) {
		err = e
	}
	shut, c2 := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer c2()
	srv.Shutdown(shut)
	return err
}

// lead runs one term: it opens the store, begins a services term in it
// (from then on the previous leader's writes are refused), loads the
// state, subscribes to the kernel and schedules until ctx ends or a write
// of this term is refused because a later term began. ready is called
// once the term serves the API. A Service leads at most once.
func (s *Service) lead(ctx context.Context, ready func()) {
	st := retry(ctx, s.log, "cannot open the database yet", func() (*store.Store, error) { return store.Open(ctx, s.cfg.DB) })
	if st == nil {
		return
	}
	defer st.Close()
	s.store = st
	epoch := retry(ctx, s.log, "cannot begin a term in the database yet", func() (int64, error) { return st.BeginTerm(ctx) })
	if epoch == 0 {
		return
	}
	ctx, stop := st.Fence().Context(ctx)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := s.load(ctx); err != nil {
		return
	}

	info := mesos.FrameworkInfo{
		User: s.cfg.User, Name: s.cfg.Name, Roles: []string{s.cfg.Role}, WebuiURL: s.leaderURL,
		Principal:    s.cfg.Trust.Credential.Principal,
		Capabilities: []mesos.Capability{{Type: mesos.CapMultiRole}, {Type: mesos.CapPartitionAware}},
	}
	ft := mesos.Float(s.cfg.FailoverTimeout.Seconds())
	info.FailoverTimeout = &ft
	cp := true
	info.Checkpoint = &cp
	if id := s.FrameworkID(); id != "" {
		info.ID = &mesos.ID{Value: id}
	}
	client, err := sched.New(sched.Config{Masters: s.cfg.Masters, Detector: s.cfg.Detector, Framework: info, BackoffMax: 5 * time.Second,
		HTTPClient: s.cfg.Trust.Client()},
		sched.HandlerFunc(func(ctx context.Context, _ *sched.Client, ev *mesos.Event) {
			select {
			case s.evs <- ev:
			case <-ctx.Done():
			}
		}), s.log)
	if err != nil {
		s.log.Error("cannot create the scheduler client", "err", err)
		return
	}
	s.client = client

	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); s.loop(ctx) }()
	cbSub := s.callbacks.start(s.subscribed)
	go func() { defer wg.Done(); s.callbacks.run(ctx, cbSub) }()
	go func() { defer wg.Done(); s.caller(ctx) }()
	for range ackers {
		wg.Go(func() { s.acker(ctx) })
	}
	go func() {
		defer wg.Done()
		for {
			err := client.Run(ctx)
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, sched.ErrRemoved) {
				// Terminal: the kernel killed the framework's tasks and
				// refuses its id for good. Registering anew on our own
				// would hide a teardown nobody here asked for (and any
				// client could send); stay up, say so on /health (503)
				// and here, and let an operator decide.
				s.log.Error("framework removed by the kernel: its tasks were killed and the kernel refuses its id for good; "+
					"this instance schedules nothing more and /health answers 503. Find out who tore it down (the master's log), "+
					"then delete the stored id (DELETE FROM services.framework) and restart the services instances: "+
					"they register a new framework and launch the apps again",
					"framework_id", client.FrameworkID(), "err", err)
				return
			}
			// Another refused subscription is logged; try again later
			// rather than dying.
			s.log.Error("scheduler client stopped; retrying", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Second):
			}
		}
	}()
	s.log.Info("leading: scheduling apps", "epoch", epoch)
	ready()
	close(s.ready)
	<-ctx.Done()
	if cause := context.Cause(ctx); errors.Is(cause, lead.ErrFenced) {
		s.log.Warn("deposed: another services instance began a term; standing by", "cause", cause)
	}
	s.bus.Close() // event streams of this term end with it
	wg.Wait()
	s.log.Info("term ended")
}

// retry calls fn until it succeeds or ctx ends (then it returns the zero
// value), logging failures, with backoff.
func retry[T any](ctx context.Context, log *slog.Logger, msg string, fn func() (T, error)) T {
	backoff := 200 * time.Millisecond
	for {
		v, err := fn()
		if err == nil {
			return v
		}
		var zero T
		if ctx.Err() != nil {
			return zero
		}
		log.Warn(msg+"; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return zero
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
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
	subs, err := s.store.Subscriptions(ctx)
	if err != nil {
		return err
	}
	s.subscribed = nil
	for _, sub := range subs {
		s.subscribed = append(s.subscribed, sub.CallbackURL)
	}
	history, err := s.store.DeploymentHistory(ctx, historyKeep)
	if err != nil {
		return err
	}
	c.history = nil
	for _, r := range history {
		c.history = append(c.history, endedOf(r))
	}
	for _, r := range apps {
		var a app.App
		if err := json.Unmarshal(r.Spec, &a); err != nil {
			return fmt.Errorf("app %s: stored definition unreadable: %w", r.ID, err)
		}
		// Stored apps were normalized; this gives the fields added to the
		// format since (upgradeStrategy.progressDeadlineSeconds...) their
		// defaults, so that the app compares equal to itself sent again.
		a.Normalize()
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
		for appID, act := range d.Actions {
			if as := c.apps[appID]; as != nil && act == actionStop {
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
	s.log.Info("state loaded", "apps", len(apps), "deployments", len(deps), "instances", len(insts), "event_subscriptions", len(subs),
		"framework", fid)
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
	// The loop is the only sender and checks for room first (core.call,
	// core.moveCalls), so this never blocks.
	s.calls <- fn
}

// ackers is how many acknowledgements are in flight at once. The agent
// sends a task's next update only once its last is acknowledged, so
// acknowledgements of one task never race each other.
const ackers = 4

// acker sends queued acknowledgements until ctx ends.
func (s *Service) acker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case fn := <-s.acks:
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			fn(cctx)
			cancel()
		}
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
