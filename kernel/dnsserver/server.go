// Package dnsserver serves a dnsrec.Table over DNS, on UDP and TCP, with
// github.com/miekg/dns: the imperative shell of package dnsrec. It asks
// for the current table on every question, so whoever owns the tables
// (the leading master) swaps them without telling the server.
package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/miekg/dns"

	"corral/kernel/dnsrec"
)

// SOA timers, Mesos-DNS's defaults (records/config.go); the SOA's minimum
// (the negative-caching TTL) is the records' TTL.
const (
	soaRefresh = 60
	soaRetry   = 600
	soaExpire  = 86400
)

// Timeouts of one TCP connection; a UDP question is one read and one write.
const (
	readTimeout  = 2 * time.Second
	writeTimeout = 2 * time.Second
	idleTimeout  = 8 * time.Second
)

// maxUDPSize bounds the UDP answers sent to a client that offers a larger
// EDNS(0) buffer: 1232 bytes fits any path's MTU (DNS flag day 2020).
const maxUDPSize = 1232

// Tables returns the table to answer from, or nil while there is none
// (this master does not lead): then every question gets SERVFAIL, which
// sends a stub resolver on to its next server. It is called once per
// question, from many goroutines.
type Tables func() *dnsrec.Table

// Server answers DNS questions from the current table. Its zero value is
// not usable; see New.
type Server struct {
	tables Tables
	ttl    uint32
	log    *slog.Logger
}

// New returns a server answering from tables with records that live ttl
// (rounded down to seconds, at least 1).
func New(tables Tables, ttl time.Duration, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{tables: tables, ttl: uint32(max(ttl/time.Second, 1)), log: log.With("component", "dns")}
}

// Listen binds addr for UDP and TCP on one port: with port 0, a free port
// both are free on.
func Listen(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dns address %q: %w", addr, err)
	}
	for try := 0; ; try++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dns: listening on udp %s: %w", addr, err)
		}
		bound := net.JoinHostPort(host, strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port))
		ln, err := net.Listen("tcp", bound)
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if port != "0" || try == 10 {
			return nil, nil, fmt.Errorf("dns: listening on tcp %s: %w", bound, err)
		}
	}
}

// Serve answers on pc (UDP) and ln (TCP) until ctx ends, then shuts both
// down and closes them. It returns nil after ctx ended, else the error
// that stopped a listener.
func (s *Server) Serve(ctx context.Context, pc net.PacketConn, ln net.Listener) error {
	servers := []*dns.Server{
		{PacketConn: pc, Handler: s, ReadTimeout: readTimeout, WriteTimeout: writeTimeout},
		{Listener: ln, Handler: s, ReadTimeout: readTimeout, WriteTimeout: writeTimeout,
			IdleTimeout: func() time.Duration { return idleTimeout }},
	}
	errs := make(chan error, len(servers))
	started := make(chan struct{}, len(servers))
	for _, srv := range servers {
		srv.NotifyStartedFunc = func() { started <- struct{}{} }
		go func() { errs <- srv.ActivateAndServe() }()
	}
	s.log.Info("dns listening", "udp", pc.LocalAddr().String(), "tcp", ln.Addr().String())
	var err error
	running := len(servers)
	for up := 0; up < len(servers) && err == nil; {
		select {
		case <-started:
			up++
		case err = <-errs:
			running--
		}
	}
	if err == nil {
		select {
		case <-ctx.Done():
		case err = <-errs:
			running--
		}
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	for _, srv := range servers {
		_ = srv.ShutdownContext(shutCtx)
	}
	pc.Close()
	ln.Close()
	for ; running > 0; running-- {
		<-errs
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("dns: %w", err)
	}
	return nil
}

// ServeDNS answers one message (dns.Handler).
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := s.answer(r)
	size := dns.MaxMsgSize
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		size = dns.MinMsgSize
		if opt := r.IsEdns0(); opt != nil {
			size = min(max(int(opt.UDPSize()), dns.MinMsgSize), maxUDPSize)
		}
	}
	if r.IsEdns0() != nil {
		m.SetEdns0(maxUDPSize, false)
	}
	m.Truncate(size)
	if err := w.WriteMsg(m); err != nil {
		s.log.Debug("dns: writing an answer", "to", w.RemoteAddr().String(), "err", err)
	}
}

// answer is the reply to r, before sizing.
func (s *Server) answer(r *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = false
	m.Compress = true
	switch {
	case r.Opcode != dns.OpcodeQuery:
		m.Rcode = dns.RcodeNotImplemented
		return m
	case len(r.Question) != 1:
		m.Rcode = dns.RcodeFormatError
		return m
	}
	q := r.Question[0]
	t := s.tables()
	switch {
	case t == nil:
		m.Rcode = dns.RcodeServerFailure
		return m
	case q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY:
		m.Rcode = dns.RcodeRefused
		return m
	}
	res := t.Lookup(q.Name, dnsrec.Type(q.Qtype))
	m.Rcode = int(res.Rcode)
	if res.Rcode == dnsrec.Refused {
		return m
	}
	m.Authoritative = true
	for _, rec := range res.Answer {
		// The owner name as asked (a resolver may randomize its case).
		m.Answer = append(m.Answer, s.rr(t, rec, q.Name))
	}
	rand.Shuffle(len(m.Answer), func(i, j int) { m.Answer[i], m.Answer[j] = m.Answer[j], m.Answer[i] })
	for _, rec := range res.Extra {
		m.Extra = append(m.Extra, s.rr(t, rec, rec.Name))
	}
	if res.Authority {
		m.Ns = append(m.Ns, s.soa(t))
	}
	return m
}

// rr is rec on the wire, owned by name.
func (s *Server) rr(t *dnsrec.Table, rec dnsrec.Record, name string) dns.RR {
	hdr := dns.RR_Header{Name: name, Rrtype: uint16(rec.Type), Class: dns.ClassINET, Ttl: s.ttl}
	switch rec.Type {
	case dnsrec.TypeA:
		return &dns.A{Hdr: hdr, A: ip(rec.Addr)}
	case dnsrec.TypeAAAA:
		return &dns.AAAA{Hdr: hdr, AAAA: ip(rec.Addr)}
	case dnsrec.TypeSRV:
		// Mesos-DNS's priority 0 and weight 1: clients pick at random.
		return &dns.SRV{Hdr: hdr, Priority: 0, Weight: 1, Port: rec.SRV.Port, Target: rec.SRV.Target}
	case dnsrec.TypeNS:
		return &dns.NS{Hdr: hdr, Ns: rec.Target}
	case dnsrec.TypeSOA:
		soa := s.soa(t)
		soa.Hdr.Name = name
		return soa
	}
	panic(errors.New("dnsserver: no wire form for record type " + rec.Type.String()))
}

func (s *Server) soa(t *dnsrec.Table) *dns.SOA {
	d := t.SOA()
	return &dns.SOA{Hdr: dns.RR_Header{Name: d.Name, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: s.ttl},
		Ns: d.MName, Mbox: d.RName, Serial: d.Serial, Refresh: soaRefresh, Retry: soaRetry, Expire: soaExpire, Minttl: s.ttl}
}

func ip(a netip.Addr) net.IP { return net.IP(a.AsSlice()) }
