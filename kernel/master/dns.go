package master

import (
	"context"
	"hash/maphash"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"corral/kernel/dnsrec"
	"corral/kernel/dnsserver"
	"corral/kernel/master/internal/core"
)

// The master's DNS (Config.DNSListen): the leading master's loop hands a
// view of the cluster to a feeder goroutine of its term, which resolves
// the hosts in it and builds a dnsrec.Table; the DNS server, which lives
// as long as the process, answers from the latest table. A standby (and
// a leader before its registry is recovered) has no table and answers
// SERVFAIL, which sends a stub resolver on to the next master it knows.
//
//	loop ──Fingerprint, Discovery──▶ feeder ──resolve, Records──▶ dnsTables ◀── dnsserver
const (
	// dnsRefresh is how often the feeder checks for changes: an answer
	// follows a task within about this long (plus a build).
	dnsRefresh = 250 * time.Millisecond
	// dnsMaxAge rebuilds the table this long after the last build even
	// when the cluster looks the same, so that host names are resolved
	// again and what the fingerprint does not cover shows.
	dnsMaxAge = 5 * time.Second
	// hostTTL and hostNegativeTTL are how long a resolved host name, or
	// a failure to resolve one, is kept.
	hostTTL         = time.Minute
	hostNegativeTTL = 5 * time.Second
	// hostLookupTimeout bounds one resolution of a host name.
	hostLookupTimeout = 2 * time.Second
)

// dnsTables holds the table the DNS server answers from; nil while this
// master has none to give.
type dnsTables struct{ cur atomic.Pointer[dnsrec.Table] }

func (d *dnsTables) load() *dnsrec.Table { return d.cur.Load() }

// startDNS binds cfg.DNSListen and serves DNS from tables until ctx
// ends; wait returns once the server has stopped.
func startDNS(ctx context.Context, cfg Config, tables *dnsTables, log *slog.Logger) (wait func(), err error) {
	pc, ln, err := dnsserver.Listen(cfg.DNSListen)
	if err != nil {
		return nil, err
	}
	srv := dnsserver.New(tables.load, cfg.DNSTTL, log)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx, pc, ln); err != nil {
			log.Error("dns server stopped", "err", err)
		}
	}()
	return func() { <-done }, nil
}

// feedDNS keeps m.dns's table up to date with the cluster while the term
// lasts (ctx), then takes it away. It builds at most every dnsRefresh,
// and waits twice as long as the last build took before the next, so
// that a huge, busy cluster cannot keep a core building tables.
func (m *Master) feedDNS(ctx context.Context) {
	defer m.dns.cur.Store(nil)
	select {
	case <-m.ready:
	case <-ctx.Done():
		return
	}
	hosts := newHostCache(nil)
	seed := maphash.MakeSeed()
	var last core.Fingerprint
	var built time.Time
	wait := time.NewTimer(0)
	defer wait.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wait.C:
		}
		// The closure may outlive do when the term ends; it only writes
		// to the buffered channel.
		got := make(chan *core.Discovery, 1)
		var fp core.Fingerprint
		if err := m.do(ctx, func(c *core.Core) {
			fp = c.Fingerprint(seed)
			if fp != last || time.Since(built) >= dnsMaxAge {
				d := c.Discovery()
				got <- &d
				return
			}
			got <- nil
		}); err != nil {
			return
		}
		start := time.Now()
		if d := <-got; d != nil {
			m.dns.cur.Store(dnsrec.Records(m.dnsState(ctx, hosts, *d, start), dnsrec.Config{Domain: m.cfg.DNSDomain}))
			last, built = fp, start
		}
		wait.Reset(max(dnsRefresh, 2*time.Since(start)))
	}
}

// dnsState is d with every host resolved, and this master as the leader.
func (m *Master) dnsState(ctx context.Context, hosts *hostCache, d core.Discovery, now time.Time) dnsrec.State {
	st := dnsrec.State{Serial: uint32(now.Unix()), Agents: make([]dnsrec.Agent, 0, len(d.Agents)),
		Frameworks: make([]dnsrec.Framework, 0, len(d.Frameworks))}
	// The address New found for the advertised host, else the host.
	leader := m.info.Address.IP
	if leader == "" {
		u, _ := url.Parse(m.url)
		leader = u.Hostname()
	}
	st.Leader = dnsrec.Host{Addrs: hosts.addrs(ctx, leader, now), Port: uint16(m.info.Port)}
	// ns1 is where this server listens, or, listening on every address,
	// the master's own.
	st.NS = st.Leader.Addrs
	if h, _, err := net.SplitHostPort(m.cfg.DNSListen); err == nil {
		if a, err := netip.ParseAddr(h); err == nil && !a.IsUnspecified() {
			st.NS = []netip.Addr{a}
		}
	}
	for _, a := range d.Agents {
		ag := dnsrec.Agent{ID: a.ID}
		if eu, err := url.Parse(a.Endpoint); err == nil && eu.Hostname() != "" {
			ag.Addrs = hosts.addrs(ctx, eu.Hostname(), now)
			p, _ := strconv.ParseUint(eu.Port(), 10, 16)
			ag.Port = uint16(p)
		}
		if len(ag.Addrs) == 0 && a.Hostname != "" {
			ag.Addrs = hosts.addrs(ctx, a.Hostname, now)
		}
		st.Agents = append(st.Agents, ag)
	}
	for _, f := range d.Frameworks {
		df := dnsrec.Framework{Name: f.Name, Tasks: make([]dnsrec.Task, 0, len(f.Tasks))}
		if f.Hostname != "" {
			df.Addrs = hosts.addrs(ctx, f.Hostname, now)
		}
		for _, t := range f.Tasks {
			dt := dnsrec.Task{ID: t.ID, Name: t.Name, AgentID: t.AgentID, State: t.State, Discovery: t.Discovery}
			for _, r := range t.Ports {
				for p := r.Begin; p <= r.End && p <= 65535; p++ {
					dt.Ports = append(dt.Ports, uint16(p))
				}
			}
			df.Tasks = append(df.Tasks, dt)
		}
		st.Frameworks = append(st.Frameworks, df)
	}
	return st
}

// hostCache resolves host names for the DNS feeder, which owns it: an IP
// address is itself; a name is looked up with lookup and kept hostTTL
// (hostNegativeTTL when it does not resolve).
type hostCache struct {
	lookup  func(ctx context.Context, host string) ([]netip.Addr, error)
	entries map[string]hostEntry
}

type hostEntry struct {
	addrs []netip.Addr
	until time.Time
}

// newHostCache returns a cache over lookup (nil: the Go resolver).
func newHostCache(lookup func(ctx context.Context, host string) ([]netip.Addr, error)) *hostCache {
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	return &hostCache{lookup: lookup, entries: map[string]hostEntry{}}
}

func (h *hostCache) addrs(ctx context.Context, host string, now time.Time) []netip.Addr {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}
	}
	if e, ok := h.entries[host]; ok && now.Before(e.until) {
		return e.addrs
	}
	lctx, cancel := context.WithTimeout(ctx, hostLookupTimeout)
	defer cancel()
	addrs, err := h.lookup(lctx, host)
	e := hostEntry{addrs: addrs, until: now.Add(hostTTL)}
	if err != nil || len(addrs) == 0 {
		e = hostEntry{until: now.Add(hostNegativeTTL)}
	}
	if len(h.entries) > 10000 {
		clear(h.entries) // hosts come and go; never grow without bound
	}
	h.entries[host] = e
	return e.addrs
}
