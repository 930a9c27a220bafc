package dnsserver

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"corral/kernel/dnsrec"
	"corral/kernel/mesos"
)

var quiet = slog.New(slog.DiscardHandler)

// start serves tables on a loopback port for the test and returns its
// address.
func start(t *testing.T, tables Tables) string {
	t.Helper()
	pc, ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(tables, 5*time.Second, quiet).Serve(ctx, pc, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v; want nil after its context ended", err)
		}
	})
	return pc.LocalAddr().String()
}

// table is a cluster of one agent (10.0.0.2) running task "web.group" of
// framework "services" with ports 31000 and 31001, and n more tasks
// "many" on as many agents.
func table(n int) *dnsrec.Table {
	st := dnsrec.State{
		Leader: dnsrec.Host{Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.1")}, Port: 5050},
		NS:     []netip.Addr{netip.MustParseAddr("10.0.0.1")},
		Agents: []dnsrec.Agent{{ID: "r-S1", Host: dnsrec.Host{Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, Port: 5051}}},
		Serial: 42,
	}
	f := dnsrec.Framework{Name: "services", Tasks: []dnsrec.Task{
		{ID: "t1", Name: "web.group", AgentID: "r-S1", State: mesos.TaskRunning, Ports: []uint16{31000, 31001}},
	}}
	for i := range n {
		id := fmt.Sprintf("r-S%d", 100+i)
		st.Agents = append(st.Agents, dnsrec.Agent{ID: id, Host: dnsrec.Host{Addrs: []netip.Addr{netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})}}})
		f.Tasks = append(f.Tasks, dnsrec.Task{ID: fmt.Sprint("m", i), Name: "many", AgentID: id, State: mesos.TaskRunning})
	}
	st.Frameworks = []dnsrec.Framework{f}
	return dnsrec.Records(st, dnsrec.Config{Domain: "mesos"})
}

func ask(t *testing.T, network, addr, name string, qtype uint16, edns bool) *dns.Msg {
	t.Helper()
	q := new(dns.Msg).SetQuestion(name, qtype)
	if edns {
		q.SetEdns0(4096, false)
	}
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	in, _, err := c.Exchange(q, addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", network, name, dns.TypeToString[qtype], err)
	}
	return in
}

func TestServer(t *testing.T) {
	tab := table(0)
	addr := start(t, func() *dnsrec.Table { return tab })
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			in := ask(t, network, addr, "web-group.services.mesos.", dns.TypeA, false)
			if in.Rcode != dns.RcodeSuccess || !in.Authoritative || in.RecursionAvailable || len(in.Answer) != 1 {
				t.Fatalf("A web-group.services.mesos = %v", in)
			}
			if a := in.Answer[0].(*dns.A); a.A.String() != "10.0.0.2" || a.Hdr.Ttl != 5 {
				t.Errorf("A web-group.services.mesos = %v; want 10.0.0.2 with TTL 5", a)
			}

			in = ask(t, network, addr, "_web-group._tcp.services.mesos.", dns.TypeSRV, false)
			var ports []int
			for _, rr := range in.Answer {
				srv := rr.(*dns.SRV)
				ports = append(ports, int(srv.Port))
				if !strings.HasPrefix(srv.Target, "web-group-") || !strings.HasSuffix(srv.Target, "-s1.services.slave.mesos.") || len(srv.Target) != len("web-group-12345-s1.services.slave.mesos.") {
					t.Errorf("SRV target %s; want the task's canonical name web-group-{hash}-s1.services.slave.mesos.", srv.Target)
				}
			}
			slices.Sort(ports)
			if in.Rcode != dns.RcodeSuccess || !slices.Equal(ports, []int{31000, 31001}) {
				t.Errorf("SRV _web-group._tcp.services.mesos = %v; want ports 31000 and 31001", in)
			}
			if len(in.Extra) != 1 || in.Extra[0].(*dns.A).A.String() != "10.0.0.2" {
				t.Errorf("SRV additional section = %v; want the target's A record", in.Extra)
			}

			in = ask(t, network, addr, "nope.services.mesos.", dns.TypeA, false)
			if in.Rcode != dns.RcodeNameError || len(in.Ns) != 1 || in.Ns[0].(*dns.SOA).Serial != 42 {
				t.Errorf("A nope.services.mesos = %v; want NXDOMAIN with the SOA", in)
			}
			in = ask(t, network, addr, "services.mesos.", dns.TypeA, false)
			if in.Rcode != dns.RcodeSuccess || len(in.Answer) != 0 || len(in.Ns) != 1 {
				t.Errorf("A services.mesos (an empty non-terminal) = %v; want NOERROR, no answer, the SOA", in)
			}
			in = ask(t, network, addr, "example.com.", dns.TypeA, false)
			if in.Rcode != dns.RcodeRefused || in.Authoritative || len(in.Answer)+len(in.Ns) != 0 {
				t.Errorf("A example.com = %v; want REFUSED", in)
			}
			in = ask(t, network, addr, "mesos.", dns.TypeSOA, false)
			if soa, ok := in.Answer[0].(*dns.SOA); in.Rcode != dns.RcodeSuccess || !ok || soa.Ns != "ns1.mesos." {
				t.Errorf("SOA mesos = %v", in)
			}
			in = ask(t, network, addr, "leader.mesos.", dns.TypeA, true)
			if in.Rcode != dns.RcodeSuccess || len(in.Answer) != 1 || in.IsEdns0() == nil {
				t.Errorf("A leader.mesos with EDNS(0) = %v; want one answer and an OPT record", in)
			}
		})
	}
}

// TestTruncation: an answer too big for 512 bytes of UDP is truncated
// (TC), and whole over TCP or with a larger EDNS(0) buffer.
func TestTruncation(t *testing.T) {
	tab := table(60)
	addr := start(t, func() *dnsrec.Table { return tab })
	udp := ask(t, "udp", addr, "many.services.mesos.", dns.TypeA, false)
	if !udp.Truncated || len(udp.Answer) >= 60 {
		t.Errorf("A many.services.mesos over UDP: TC=%v with %d answers; want TC and fewer than 60", udp.Truncated, len(udp.Answer))
	}
	tcp := ask(t, "tcp", addr, "many.services.mesos.", dns.TypeA, false)
	if tcp.Truncated || len(tcp.Answer) != 60 {
		t.Errorf("A many.services.mesos over TCP: TC=%v with %d answers; want all 60", tcp.Truncated, len(tcp.Answer))
	}
	edns := ask(t, "udp", addr, "many.services.mesos.", dns.TypeA, true)
	if edns.Truncated || len(edns.Answer) != 60 {
		t.Errorf("A many.services.mesos over UDP with EDNS(0): TC=%v with %d answers; want all 60", edns.Truncated, len(edns.Answer))
	}
}

// TestNoTable: without a table (a standby master) every question gets
// SERVFAIL; once there is one, answers.
func TestNoTable(t *testing.T) {
	var cur atomic.Pointer[dnsrec.Table]
	addr := start(t, cur.Load)
	if in := ask(t, "udp", addr, "leader.mesos.", dns.TypeA, false); in.Rcode != dns.RcodeServerFailure {
		t.Errorf("A leader.mesos without a table = %s; want SERVFAIL", dns.RcodeToString[in.Rcode])
	}
	cur.Store(table(0))
	if in := ask(t, "udp", addr, "leader.mesos.", dns.TypeA, false); in.Rcode != dns.RcodeSuccess || len(in.Answer) != 1 {
		t.Errorf("A leader.mesos with a table = %v; want one answer", in)
	}
}

// BenchmarkQuery is questions answered per second by one server on
// loopback, over UDP, from as many clients as GOMAXPROCS.
func BenchmarkQuery(b *testing.B) {
	tab := table(10)
	pc, ln, err := Listen("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(func() *dnsrec.Table { return tab }, time.Second, quiet).Serve(ctx, pc, ln) }()
	defer func() { cancel(); <-done }()
	addr := pc.LocalAddr().String()
	b.RunParallel(func(pb *testing.PB) {
		c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
		conn, err := c.Dial(addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		q := new(dns.Msg).SetQuestion("_web-group._tcp.services.mesos.", dns.TypeSRV)
		for pb.Next() {
			in, _, err := c.ExchangeWithConn(q, conn)
			if err != nil || len(in.Answer) != 2 {
				b.Errorf("SRV: %v %v", in, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}
