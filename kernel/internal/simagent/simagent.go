package simagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"corral/kernel/agent/update"
	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// Detector names the masters to register with, the likely leader first.
// A detect.Source (a list of URLs or a zk:// election) is one. It may also
// have Changes() <-chan struct{}, closed at the next change of leader.
// Masters is called by every agent concurrently and must be safe for that.
type Detector interface {
	Masters(ctx context.Context) ([]string, error)
}

// Defaults applied by New to zero-valued Config fields.
const (
	DefaultResources     = "cpus:16;mem:65536;disk:100000;ports:[31000-32000]"
	DefaultTaskResources = "cpus:0.1;mem:32"
	// The same defaults as the real agent's.
	DefaultRegisterBackoffFactor = time.Second
	DefaultRegisterBackoffMax    = time.Minute
	DefaultUpdateRetryInterval   = 10 * time.Second
	DefaultUpdateRetryMax        = 10 * time.Minute
)

// Config shapes a Fleet. Only Masters is required.
type Config struct {
	// Masters finds the leading master.
	Masters Detector
	// Count is how many agents to simulate (default 1).
	Count int
	// Resources each agent has, in the --resources syntax
	// (default DefaultResources); it must include cpus and mem.
	Resources string
	// Attributes each agent has, in the --attributes syntax ("" = none).
	Attributes string
	// Hostname names agent i (0-based); nil gives "sim<i>.agents.test".
	// Each agent's endpoint is http://<hostname>:5051; nothing listens
	// there.
	Hostname func(i int) string

	// TasksPer is how many tasks each agent runs from the start (default
	// none), reported TASK_RUNNING at its first registration. They belong
	// to Framework, whose ID is then required, and are named
	// "sim<i>-<j>" with TaskResources each (default DefaultTaskResources).
	TasksPer      int
	Framework     mesos.FrameworkInfo
	TaskResources string

	// RegisterBackoffFactor and RegisterBackoffMax shape the
	// (re-)registration backoff: a random wait up to a bound that starts at
	// the factor and doubles up to the max, as the real agent's.
	RegisterBackoffFactor time.Duration
	RegisterBackoffMax    time.Duration
	// UpdateRetryInterval is how long an unacknowledged status update
	// waits before it is resent; the wait doubles up to UpdateRetryMax.
	UpdateRetryInterval time.Duration
	UpdateRetryMax      time.Duration

	// HTTPClient carries every call; nil means a client sized for Count
	// agents. Its redirects must not be followed automatically: agents
	// follow 307s themselves to learn the leader.
	HTTPClient *http.Client
}

// Validate reports every problem with c. It does not apply defaults.
func (c Config) Validate() error {
	var errs []error
	if c.Masters == nil {
		errs = append(errs, errors.New("simagent: Masters is required"))
	}
	if c.Count < 0 {
		errs = append(errs, fmt.Errorf("simagent: negative Count %d", c.Count))
	}
	if c.TasksPer < 0 {
		errs = append(errs, fmt.Errorf("simagent: negative TasksPer %d", c.TasksPer))
	}
	if c.TasksPer > 0 && (c.Framework.ID == nil || c.Framework.ID.Value == "") {
		errs = append(errs, errors.New("simagent: TasksPer needs Framework.ID"))
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"RegisterBackoffFactor", c.RegisterBackoffFactor}, {"RegisterBackoffMax", c.RegisterBackoffMax},
		{"UpdateRetryInterval", c.UpdateRetryInterval}, {"UpdateRetryMax", c.UpdateRetryMax}} {
		if d.d < 0 {
			errs = append(errs, fmt.Errorf("simagent: negative %s %v", d.name, d.d))
		}
	}
	return errors.Join(errs...)
}

func (c *Config) applyDefaults() {
	if c.Count == 0 {
		c.Count = 1
	}
	if c.Resources == "" {
		c.Resources = DefaultResources
	}
	if c.TaskResources == "" {
		c.TaskResources = DefaultTaskResources
	}
	if c.Hostname == nil {
		c.Hostname = func(i int) string { return fmt.Sprintf("sim%d.agents.test", i) }
	}
	if c.RegisterBackoffFactor == 0 {
		c.RegisterBackoffFactor = DefaultRegisterBackoffFactor
	}
	if c.RegisterBackoffMax == 0 {
		c.RegisterBackoffMax = DefaultRegisterBackoffMax
	}
	if c.UpdateRetryInterval == 0 {
		c.UpdateRetryInterval = DefaultUpdateRetryInterval
	}
	if c.UpdateRetryMax == 0 {
		c.UpdateRetryMax = DefaultUpdateRetryMax
	}
}

// Fleet is a set of simulated agents. New builds it, Run runs it; Status
// and Agents may be called at any time from any goroutine.
type Fleet struct {
	cfg       Config
	log       *slog.Logger
	client    *http.Client
	transport *http.Transport // ours to close; nil with Config.HTTPClient
	conns     conns           // the connections transport dialed
	agents    []*agent
	running   atomic.Bool
	// registrations counts REGISTERED events of all agents.
	registrations atomic.Int64
}

// New checks cfg, applies its defaults and builds the agents (with their
// initial tasks); nothing connects before Run. log may be nil; agents log
// at debug level only, so that a failover of a thousand agents stays
// readable.
func New(cfg Config, log *slog.Logger) (*Fleet, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.applyDefaults()
	total, err := resource.Parse(cfg.Resources)
	if err != nil {
		return nil, fmt.Errorf("simagent: resources: %w", err)
	}
	if total.Scalar(resource.CPUs) <= 0 || total.Scalar(resource.Mem) <= 0 {
		return nil, fmt.Errorf("simagent: resources %q must include cpus and mem", cfg.Resources)
	}
	attrs, err := resource.ParseAttributes(cfg.Attributes)
	if err != nil {
		return nil, fmt.Errorf("simagent: attributes: %w", err)
	}
	perTask, err := resource.Parse(cfg.TaskResources)
	if err != nil {
		return nil, fmt.Errorf("simagent: task resources: %w", err)
	}
	var used resource.Resources
	for range cfg.TasksPer {
		used = used.Add(perTask)
	}
	if !total.Contains(used) {
		return nil, fmt.Errorf("simagent: %d tasks of %s do not fit in %s", cfg.TasksPer, cfg.TaskResources, cfg.Resources)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Fleet{cfg: cfg, log: log.With("component", "simagent"), client: cfg.HTTPClient}
	if f.client == nil {
		f.transport = &http.Transport{
			DialContext: f.conns.dial,
			// Every agent holds its stream and, between calls, one idle
			// connection of its own.
			MaxIdleConnsPerHost:   cfg.Count + 4,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
		}
		f.client = &http.Client{
			Transport:     f.transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	role := "*"
	if rs := cfg.Framework.EffectiveRoles(); len(rs) > 0 {
		role = rs[0]
	}
	wire := total.Wire("")
	for i := range cfg.Count {
		host := cfg.Hostname(i)
		a := newAgent(f, i, agentproto.AgentInfo{
			Hostname:      host,
			Endpoint:      "http://" + net.JoinHostPort(host, "5051"),
			Resources:     wire,
			Attributes:    attrs,
			Cgroups:       agentproto.CgroupsNone,
			CgroupsReason: "simulated agent: runs nothing",
			Version:       "simagent",
		})
		for j := range cfg.TasksPer {
			a.preload(&cfg.Framework, mesos.TaskInfo{
				Name:      fmt.Sprintf("sim%d-%d", i, j),
				TaskID:    mesos.ID{Value: fmt.Sprintf("sim%d-%d", i, j)},
				Resources: perTask.Wire(role),
				Command:   &mesos.CommandInfo{Value: "true"},
			})
		}
		f.agents = append(f.agents, a)
	}
	return f, nil
}

// Run runs every agent until ctx ends, then waits for all of their
// goroutines and returns nil. Tasks are not killed: they simply stop being
// reported, as when agent processes die. Run may be called once.
func (f *Fleet) Run(ctx context.Context) error {
	if !f.running.CompareAndSwap(false, true) {
		return errors.New("simagent: Run called twice")
	}
	var wg sync.WaitGroup
	for _, a := range f.agents {
		wg.Go(func() { a.run(ctx) })
	}
	wg.Wait()
	if f.transport != nil {
		f.transport.CloseIdleConnections()
		// A dial still under way when the agents stopped ends in the idle
		// pool, where a server would count it as a client that has yet to
		// send its first request: close everything the fleet dialed.
		f.conns.closeAll()
	}
	return nil
}

// errClosed refuses dials after Run has returned.
var errClosed = errors.New("simagent: fleet stopped")

// conns tracks the connections of the fleet's own transport so that Run
// can close every one of them when it returns.
type conns struct {
	mu     sync.Mutex
	open   map[*trackedConn]struct{}
	closed bool
}

type trackedConn struct {
	net.Conn
	owner *conns
	once  sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.owner.mu.Lock()
		delete(c.owner.open, c)
		c.owner.mu.Unlock()
	})
	return c.Conn.Close()
}

var dialer = &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}

func (cs *conns) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, owner: cs}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		c.Close()
		return nil, errClosed
	}
	if cs.open == nil {
		cs.open = map[*trackedConn]struct{}{}
	}
	cs.open[tc] = struct{}{}
	return tc, nil
}

func (cs *conns) closeAll() {
	cs.mu.Lock()
	cs.closed = true
	open := cs.open
	cs.open = nil
	cs.mu.Unlock()
	for c := range open {
		c.Conn.Close()
	}
}

// AgentStatus is a snapshot of one simulated agent.
type AgentStatus struct {
	Index    int
	Hostname string
	// ID is the agent id the master assigned ("" before the first
	// registration).
	ID string
	// Registered is true while the agent holds a stream on which
	// REGISTERED arrived; Master is that master's base URL and
	// RegisteredAt when REGISTERED arrived.
	Registered   bool
	Master       string
	RegisteredAt time.Time
	// Registrations counts the REGISTERED events the agent received.
	Registrations int
	// Tasks counts the tasks that are not terminal; Pending the status
	// updates not yet acknowledged.
	Tasks   int
	Pending int
}

// Agents returns a snapshot of every agent, in index order.
func (f *Fleet) Agents() []AgentStatus {
	out := make([]AgentStatus, len(f.agents))
	for i, a := range f.agents {
		out[i] = a.snapshot()
	}
	return out
}

// Status sums up the fleet.
type Status struct {
	// Agents is how many agents the fleet simulates, Registered how many
	// of them hold a stream, ByMaster those by master base URL.
	Agents     int
	Registered int
	ByMaster   map[string]int
	// FirstRegistered and LastRegistered bound the RegisteredAt of the
	// agents that are registered (zero when none is).
	FirstRegistered time.Time
	LastRegistered  time.Time
	// Registrations counts every REGISTERED event so far.
	Registrations int64
	Tasks         int
	Pending       int
}

// Status returns the fleet's current summary.
func (f *Fleet) Status() Status {
	st := Status{Agents: len(f.agents), ByMaster: map[string]int{}, Registrations: f.registrations.Load()}
	for _, a := range f.agents {
		s := a.snapshot()
		st.Tasks += s.Tasks
		st.Pending += s.Pending
		if !s.Registered {
			continue
		}
		st.Registered++
		st.ByMaster[s.Master]++
		if st.FirstRegistered.IsZero() || s.RegisteredAt.Before(st.FirstRegistered) {
			st.FirstRegistered = s.RegisteredAt
		}
		if s.RegisteredAt.After(st.LastRegistered) {
			st.LastRegistered = s.RegisteredAt
		}
	}
	return st
}

// newUpdates returns a status update manager with the fleet's retry times.
func (f *Fleet) newUpdates() *update.Manager {
	return update.New(f.cfg.UpdateRetryInterval, f.cfg.UpdateRetryMax)
}
