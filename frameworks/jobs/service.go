package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"corral/frameworks/jobs/store"
	"corral/internal/edge"
	"corral/internal/events"
	"corral/internal/lead"
)

// Service is the jobs framework. Several processes may share one database:
// the leader schedules and launches; every process serves the API, whose
// writes go to Postgres, where the leader picks them up. Who leads is
// decided by the database lock, or, with Config.ZK, by a ZooKeeper
// election; then standbys also forward writes to the leader. Each term is
// fenced in the database (see lead.go).
type Service struct {
	cfg   Config
	log   *slog.Logger
	root  *slog.Logger // unscoped, for the election's own component
	store *store.Store
	bus   *events.Bus
	// self is this instance in the election: a fresh id and its URL.
	// Set before the API serves and never changed, as is el.
	self lead.Member
	// el is the election: in ZooKeeper with Config.ZK, else by the
	// database lock.
	el lead.Election

	leading atomic.Bool
	// leader receives pokes from this process's API (job changed, run
	// queued) so the leader need not wait for its next poll.
	mu     sync.Mutex
	leader *core
	url    string
	ready  chan struct{}
	// metronomeAddr is where the Metronome listener listens, set before
	// ready is closed; nil without one.
	metronomeAddr net.Addr
}

// New returns a Service for cfg; Run starts it.
func New(cfg Config, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	return &Service{
		cfg:   cfg,
		log:   log.With("component", "jobs"),
		root:  log,
		bus:   events.NewBus(cfg.EventBuffer, events.StartID(time.Now())),
		ready: make(chan struct{}),
	}, nil
}

// Ready is closed once the API serves.
func (s *Service) Ready() <-chan struct{} { return s.ready }

// MetronomeAddr is the address of the Metronome listener
// (Config.MetronomeListen) once Ready is closed; nil without one.
func (s *Service) MetronomeAddr() net.Addr { return s.metronomeAddr }

// Leading reports whether this process currently schedules: true from
// when its term began until its scheduler has stopped. Two processes
// sharing a database report true at once only while a deposed one has yet
// to notice: until its election ends its term, or its first write is
// refused.
func (s *Service) Leading() bool { return s.leading.Load() }

// Run serves on cfg.Listen until ctx is done.
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
	s.url = s.cfg.Advertise
	if s.url == "" {
		host, _ := os.Hostname()
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		s.url = s.cfg.Trust.Scheme() + "://" + net.JoinHostPort(host, port)
	}
	s.self = lead.Member{ID: uuid.NewString(), URL: s.url}
	if s.el, err = s.election(); err != nil {
		return err
	}
	ecfg := edge.DefaultConfig()
	ecfg.Name, ecfg.ShutdownGrace = "jobs", s.cfg.ShutdownGrace
	ecfg.Guards = s.cfg.Trust.Guards()
	ecfg.TLS = s.cfg.Trust.ServerTLS
	routes := s.routes()
	srv := edge.New(ecfg, routes, s.log)
	// The Metronome listener stands on an edge like the main one's, and
	// reaches the same routes under /metronome.
	var mln net.Listener
	var msrv *edge.Server
	if s.cfg.MetronomeListen != "" {
		if mln, err = net.Listen("tcp", s.cfg.MetronomeListen); err != nil {
			return fmt.Errorf("listening on %s (metronome_http): %w", s.cfg.MetronomeListen, err)
		}
		s.metronomeAddr = mln.Addr()
		mcfg := ecfg
		mcfg.Name = "jobs-metronome"
		msrv = edge.New(mcfg, underPrefix(routes), s.log)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.contend(ctx) }()
	srvErr := make(chan error, 2)
	go func() { srvErr <- srv.Serve(ctx, ln) }()
	if msrv != nil {
		go func() { srvErr <- msrv.Serve(ctx, mln) }()
		s.log.Info("Metronome API listening", "addr", mln.Addr().String())
	}
	close(s.ready)
	if s.cfg.ZK != "" {
		s.log.Info("jobs API listening; contending in ZooKeeper", "addr", ln.Addr().String(), "url", s.url, "zk", s.cfg.ZK, "id", s.self.ID)
	} else {
		s.log.Info("jobs API listening", "addr", ln.Addr().String(), "url", s.url)
	}
	select {
	case <-ctx.Done():
	case err = <-srvErr:
		cancel()
	}
	shut, c2 := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer c2()
	s.bus.Close()
	srv.Shutdown(shut)
	if msrv != nil {
		msrv.Shutdown(shut)
	}
	wg.Wait()
	return err
}

// poke tells this process's scheduler (if it leads) that jobs or runs
// changed in the database.
func (s *Service) poke() {
	s.mu.Lock()
	c := s.leader
	s.mu.Unlock()
	if c != nil {
		c.poke()
	}
}

// withLeader runs fn on the leader's loop when this process leads; it
// reports false otherwise.
func (s *Service) withLeader(ctx context.Context, fn func(*core)) bool {
	s.mu.Lock()
	c := s.leader
	s.mu.Unlock()
	if c == nil {
		return false
	}
	return c.do(ctx, fn) == nil
}
