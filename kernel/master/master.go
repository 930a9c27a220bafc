package master

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"corral/internal/edge"
	"corral/internal/lead"
	"corral/kernel/allocator"
	"corral/kernel/internal/registry"
	"corral/kernel/master/internal/core"
	"corral/kernel/mesos"
)

// Store is the registry the master persists agents, frameworks and weights
// in. *registry.Store implements it against Postgres.
type Store interface {
	Ping(ctx context.Context) error
	// BeginTerm fences off earlier masters' writes (registry.Store).
	BeginTerm(ctx context.Context) (int64, error)
	// Fence is the term BeginTerm began: its Context ends at the first
	// write refused because another master began a term since.
	Fence() *lead.Fence
	Agents(ctx context.Context) ([]registry.Agent, error)
	AdmitAgent(ctx context.Context, id, hostname string, info json.RawMessage) error
	MarkAgentUnreachable(ctx context.Context, id string, at time.Time) error
	SetAgentDrain(ctx context.Context, id string, deactivated bool, drain json.RawMessage) error
	MarkAgentGone(ctx context.Context, id string) error
	Frameworks(ctx context.Context) ([]registry.Framework, error)
	PutFramework(ctx context.Context, f registry.Framework) error
	Weights(ctx context.Context) (map[string]float64, error)
	Quotas(ctx context.Context) (map[string]registry.Quota, error)
	SetQuota(ctx context.Context, role string, q registry.Quota) error
	Maintenance(ctx context.Context) (json.RawMessage, error)
	SetMaintenance(ctx context.Context, doc json.RawMessage) error
	SetWeight(ctx context.Context, role string, w float64) error
	SetMaster(ctx context.Context, info json.RawMessage, at time.Time) error
}

// Master is the leading master: it owns the cluster state in one goroutine
// (the loop) and serves the scheduler, agent and operator HTTP APIs.
// Handlers talk to the loop by sending it closures (do). The state and
// every decision about it are the core's (package core); the loop feeds
// it calls, timer ticks and the time, and applies the effects it returns
// (apply) without ever blocking on I/O: streams are fed through unbounded
// queues and registry writes go through the registrar.
type Master struct {
	cfg       Config
	log       *slog.Logger
	store     Store
	registrar *registrar
	metrics   *metrics
	info      mesos.MasterInfo
	runID     string
	startedAt time.Time
	url       string // advertised base URL
	// proxyTransport carries the console's proxied requests to
	// frameworks and agents (TLS per cfg.Trust).
	proxyTransport http.RoundTripper
	// secrets is the secret store, opened when the master leads; the
	// secret routes and the agents' SECRETS calls read it.
	secrets *secretAPI
	// dns holds the table the DNS server answers from, when
	// Config.DNSListen is set; the term's feeder fills it (feedDNS).
	dns *dnsTables

	ops  chan func(*core.Core)
	core *core.Core // touched only by the loop goroutine
	// fwStreams and agentConns are the queues of the live SUBSCRIBE and
	// REGISTER streams, by stream and connection id. Only the loop
	// goroutine touches them: it adds a stream before the core hears of
	// it and drops it when the core closes it or its handler returns.
	fwStreams  map[string]*queue
	agentConns map[string]*queue
	// opStreams are the operator API's SUBSCRIBE streams (loop only).
	opStreams map[string]*opStream

	recovered atomic.Bool // registry recovered; APIs answer 503 before
	ready     chan struct{}
	stopped   chan struct{} // closed when the loop has exited
}

// New returns a master for cfg that persists through store. cfg must be
// valid (see Config.Validate).
func New(cfg Config, store Store, log *slog.Logger) (*Master, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "master")
	host := cfg.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	_, portStr, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen %q: %w", cfg.Listen, err)
	}
	port, _ := strconv.Atoi(portStr)
	adv := cfg.Advertise
	if adv == "" {
		adv = cfg.Trust.Scheme() + "://" + net.JoinHostPort(host, portStr)
	}
	u, err := url.Parse(adv)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("advertise %q: not a URL", adv)
	}
	if p := u.Port(); p != "" {
		port, _ = strconv.Atoi(p)
	}
	runID := cfg.ID
	if runID == "" {
		runID = uuid.NewString()
	}
	m := &Master{
		cfg:            cfg,
		proxyTransport: cfg.Trust.Transport(),
		log:            log,
		store:          store,
		registrar:      newRegistrar(log, registry.Permanent),
		metrics:        newMetrics(),
		runID:          runID,
		startedAt:      time.Now(),
		url:            adv,
		ops:            make(chan func(*core.Core), 1024),
		fwStreams:      map[string]*queue{},
		opStreams:      map[string]*opStream{},
		agentConns:     map[string]*queue{},
		ready:          make(chan struct{}),
		stopped:        make(chan struct{}),
	}
	ip := ipOf(u.Hostname())
	m.info = mesos.MasterInfo{
		ID:       runID,
		IP:       packIPv4(ip),
		Port:     mesos.Int(port),
		PID:      "master@" + u.Host,
		Hostname: u.Hostname(),
		Version:  cfg.Version,
		Address:  &mesos.Address{Hostname: u.Hostname(), IP: ip, Port: mesos.Int(port)},
	}
	m.core = core.New(core.Config{
		RunID:                         runID,
		MasterInfo:                    m.info,
		AgentPingInterval:             cfg.AgentPingInterval,
		MaxAgentPingTimeouts:          cfg.MaxAgentPingTimeouts,
		AgentReregisterTimeout:        cfg.AgentReregisterTimeout,
		FrameworkHeartbeatInterval:    cfg.FrameworkHeartbeatInterval,
		OfferTimeout:                  cfg.OfferTimeout,
		DefaultRefuseSeconds:          cfg.DefaultRefuseSeconds,
		MaxCompletedTasksPerFramework: cfg.MaxCompletedTasksPerFramework,
		Allocator:                     allocatorConfig(cfg),
		AuthorizeTask:                 authorizeTask(cfg.Trust.ACLs),
		AuthorizeSecret:               authorizeSecret(cfg.Trust.ACLs),
	})
	m.secrets = newSecretAPI(m, secretACLs{cfg.Trust.ACLs})
	return m, nil
}

// packIPv4 packs an IPv4 address the way MasterInfo.ip carries it: the
// four bytes in network order read as a little-endian uint32.
func packIPv4(s string) uint32 {
	ip := net.ParseIP(s).To4()
	if ip == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(ip)
}

func ipOf(host string) string {
	if ip := net.ParseIP(host); ip != nil {
		return ip.String()
	}
	if addrs, err := net.LookupHost(host); err == nil && len(addrs) > 0 {
		return addrs[0]
	}
	return ""
}

// URL returns the master's advertised base URL.
func (m *Master) URL() string { return m.url }

// Handler returns the master's HTTP handler (all APIs).
func (m *Master) Handler() http.Handler { return m.routes() }

// Run recovers the registry, then serves on cfg.Listen until ctx is done.
// It returns nil after a graceful shutdown, and an error wrapping
// lead.ErrFenced, after shutting down, if another master began a term
// meanwhile (see Lead): a master without an election is alone or wrong.
func (m *Master) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", m.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", m.cfg.Listen, err)
	}
	return m.Serve(ctx, ln)
}

// Serve is Run on an existing listener.
func (m *Master) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if m.cfg.DNSListen != "" {
		m.dns = &dnsTables{}
		waitDNS, err := startDNS(ctx, m.cfg, m.dns, m.log)
		if err != nil {
			ln.Close()
			return err
		}
		defer func() { cancel(); waitDNS() }()
	}
	srv := newServer(m.routes(), m.cfg, m.log)
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ctx, ln) }()
	m.log.Info("master listening", "addr", ln.Addr().String(), "url", m.url, "id", m.runID)
	m.metrics.elected.Set(1)
	var leadErr error
	led := make(chan struct{})
	go func() {
		defer close(led)
		leadErr = m.Lead(ctx)
	}()
	var err error
	select {
	case <-ctx.Done():
	case err = <-srvErr:
	case <-led:
		// Deposed: another master began a term, and nothing this one
		// does would be kept.
	}
	cancel()
	shutCtx, c2 := context.WithTimeout(context.Background(), m.cfg.ShutdownGrace)
	defer c2()
	srv.Shutdown(shutCtx)
	<-led
	if err == nil {
		err = leadErr
	}
	return err
}

// newServer is the HTTP server for the master's APIs, on the edge; its
// requests' contexts end with the ctx given to Serve.
func newServer(h http.Handler, mc Config, log *slog.Logger) *edge.Server {
	cfg := edge.DefaultConfig()
	cfg.Name, cfg.ShutdownGrace = "master", mc.ShutdownGrace
	cfg.Guards = mc.Trust.Guards()
	cfg.TLS = mc.Trust.ServerTLS
	// A framework's ACCEPT may launch many tasks in one call.
	cfg.MaxBodyBytes = maxCallBytes
	return edge.New(cfg, h, log)
}

// Lead runs one term of leadership: it begins a kernel term in the
// registry (from then on earlier masters' writes are refused), recovers
// the registry, then owns the cluster state until ctx ends or a registry
// write of the term is refused because another master began a term since.
// Then it closes every scheduler and agent stream (so their clients look
// for the leader again) and returns: nil once ctx has ended, an error
// wrapping lead.ErrFenced if the term was deposed. The master's HTTP
// handler (Handler) serves the term; a Master leads at most once.
func (m *Master) Lead(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.registrar.run(ctx)
	}()
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		defer close(m.stopped)
		m.loop(ctx)
	}()
	if m.dns != nil {
		fed := make(chan struct{})
		go func() {
			defer close(fed)
			m.feedDNS(ctx)
		}()
		defer func() { cancel(); <-fed }()
	}
	term := ctx
	if err := m.recover(ctx); err != nil {
		if ctx.Err() == nil {
			m.log.Error("registry recovery failed", "err", err)
		}
	} else {
		// The term began in recover; a write refused from then on ends
		// it (one refused before, at once).
		var stop context.CancelFunc
		term, stop = m.store.Fence().Context(ctx)
		defer stop()
	}
	<-term.Done()
	cancel()
	<-loopDone
	<-done
	if cause := context.Cause(term); errors.Is(cause, lead.ErrFenced) {
		return cause
	}
	return nil
}

// recover loads the registry (retrying until Postgres answers), then lets
// the APIs in.
func (m *Master) recover(ctx context.Context) error {
	var (
		agents   []registry.Agent
		fws      []registry.Framework
		weights  map[string]float64
		quotas   map[string]registry.Quota
		maintDoc json.RawMessage
	)
	backoff := 200 * time.Millisecond
	for {
		err := func() error {
			c, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			// From here on a deposed master's late writes are refused.
			epoch, err := m.store.BeginTerm(c)
			if err != nil {
				return err
			}
			m.log.Info("term begun", "epoch", epoch)
			if agents, err = m.store.Agents(c); err != nil {
				return err
			}
			if fws, err = m.store.Frameworks(c); err != nil {
				return err
			}
			if weights, err = m.store.Weights(c); err != nil {
				return err
			}
			if quotas, err = m.store.Quotas(c); err != nil {
				return err
			}
			maintDoc, err = m.store.Maintenance(c)
			return err
		}()
		m.registrar.setResult(err)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		m.log.Warn("cannot read the registry yet; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
	initial, _ := ParseWeights(m.cfg.Weights)
	for r, w := range weights {
		initial[r] = w
	}
	infoJSON, _ := json.Marshal(m.info)
	now := time.Now()
	m.registrar.enqueue("master info", func(ctx context.Context) error { return m.store.SetMaster(ctx, infoJSON, now) })
	ras := make([]core.AgentRecord, len(agents))
	for i, a := range agents {
		ras[i] = core.AgentRecord{ID: a.ID, Info: a.Info, State: string(a.State), RegisteredAt: a.RegisteredAt, UnreachableSince: a.UnreachableSince,
			Deactivated: a.Deactivated}
		if a.Drain != nil {
			var d core.DrainInfo
			if json.Unmarshal(a.Drain, &d) == nil {
				ras[i].Drain = &d
			}
		}
	}
	var maint core.Maintenance
	if maintDoc != nil {
		if err := json.Unmarshal(maintDoc, &maint); err != nil {
			return fmt.Errorf("the registry's maintenance schedule: %w", err)
		}
	}
	rfs := make([]core.FrameworkRecord, len(fws))
	for i, f := range fws {
		rfs[i] = core.FrameworkRecord{ID: f.ID, Info: f.Info, State: string(f.State), FailoverTimeout: f.FailoverTimeout,
			RegisteredAt: f.RegisteredAt, DisconnectedAt: f.DisconnectedAt, RemovedAt: f.RemovedAt}
	}
	if err := m.do(ctx, func(c *core.Core) {
		c.Restore(ras, rfs, initial, time.Now())
		c.RestoreMaintenance(maint)
		for role, q := range quotas {
			m.apply(c.SetQuota(role, q.Guarantees, q.Limits, time.Now()))
		}
	}); err != nil {
		return err
	}
	m.secrets.lead()
	m.recovered.Store(true)
	close(m.ready)
	m.log.Info("registry recovered", "agents", len(agents), "frameworks", len(fws))
	return nil
}

// Ready is closed once the registry has been recovered.
func (m *Master) Ready() <-chan struct{} { return m.ready }

// errStopped is returned by do when the master is shutting down.
var errStopped = errors.New("master is stopping")

// do runs fn on the loop goroutine and waits for it. fn applies the
// effects of the core's steps it takes (apply) before it returns.
func (m *Master) do(ctx context.Context, fn func(*core.Core)) error {
	done := make(chan struct{})
	select {
	case m.ops <- func(c *core.Core) { fn(c); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-m.stopped:
		return errStopped
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		// fn may still run; callers only pass closures that are safe then.
		return ctx.Err()
	case <-m.stopped:
		return errStopped
	}
}

// post runs fn on the loop without waiting; it is dropped if the master
// has stopped.
func (m *Master) post(fn func(*core.Core)) {
	select {
	case m.ops <- fn:
	case <-m.stopped:
	}
}

// loop owns the core: it runs closures from handlers and timers.
func (m *Master) loop(ctx context.Context) {
	c := m.core
	alloc := time.NewTicker(m.cfg.AllocationInterval)
	defer alloc.Stop()
	check := time.NewTicker(min(m.cfg.AgentPingInterval/2, time.Second))
	defer check.Stop()
	fwBeat := time.NewTicker(m.cfg.FrameworkHeartbeatInterval)
	defer fwBeat.Stop()
	agBeat := time.NewTicker(m.cfg.AgentPingInterval)
	defer agBeat.Stop()
	stats := time.NewTicker(time.Second)
	defer stats.Stop()
	for {
		select {
		case <-ctx.Done():
			m.closeStreams()
			return
		case fn := <-m.ops:
			fn(c)
			// Batch whatever else is already waiting before allocating.
			for i := 0; i < 256; i++ {
				select {
				case fn := <-m.ops:
					fn(c)
					continue
				default:
				}
				break
			}
		case <-alloc.C:
			if m.recovered.Load() {
				m.allocate(c.Allocate)
			}
		case <-check.C:
			m.apply(c.Tick(time.Now()))
		case <-fwBeat.C:
			m.apply(c.HeartbeatFrameworks())
		case <-agBeat.C:
			m.apply(c.HeartbeatAgents())
		case <-stats.C:
			m.metrics.set(c.Gauges())
		}
		if c.Dirty() && m.recovered.Load() {
			m.allocate(c.AllocateDirty)
		}
	}
}

// allocate runs an allocation cycle, records how long it took, and
// applies its effects.
func (m *Master) allocate(cycle func(now time.Time) core.Effects) {
	start := time.Now()
	fx := cycle(start)
	m.metrics.allocationSeconds.Observe(time.Since(start).Seconds())
	m.apply(fx)
}

// allocatorConfig maps the master's config to the allocator's.
func allocatorConfig(cfg Config) allocator.Config {
	return allocator.Config{MinCPUs: cfg.MinAllocatableCPUs, MinMem: cfg.MinAllocatableMem}
}

// OpenStore opens the Postgres registry at dbURL for New. Connections are
// made lazily; Close the store after the master has stopped.
func OpenStore(ctx context.Context, dbURL string) (*registry.Store, error) {
	return registry.Open(ctx, dbURL)
}
