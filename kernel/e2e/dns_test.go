package e2e

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"corral/internal/testcluster"
	"corral/kernel/dnsserver"
	"corral/kernel/mesos"
)

// freeDNSAddr is a loopback address whose port is free for UDP and TCP.
func freeDNSAddr(tb testing.TB) string {
	tb.Helper()
	pc, ln, err := dnsserver.Listen("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	ln.Close()
	return addr
}

// dnsAnswer asks server one question over network and returns the answer
// as "RCODE data data…", the data sorted ("" when nothing answered).
func dnsAnswer(network, server, name string, qtype uint16) string {
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	in, _, err := c.Exchange(new(dns.Msg).SetQuestion(dns.Fqdn(name), qtype), server)
	if err != nil {
		return ""
	}
	var data []string
	for _, rr := range in.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			data = append(data, rr.A.String())
		case *dns.SRV:
			data = append(data, rr.Target+":"+strconv.Itoa(int(rr.Port)))
		}
	}
	slices.Sort(data)
	return strings.Join(append([]string{dns.RcodeToString[in.Rcode]}, data...), " ")
}

// waitDNS polls the master's DNS over UDP and TCP until the answer to
// name and qtype satisfies ok.
func waitDNS(tb testing.TB, server, name string, qtype uint16, ok func(string) bool, want string) string {
	tb.Helper()
	var got string
	testcluster.Eventually(tb, 30*time.Second, func() bool {
		got = dnsAnswer("udp", server, name, qtype)
		return ok(got) && ok(dnsAnswer("tcp", server, name, qtype))
	}, "%s %s to be %s (last: %q)", dns.TypeToString[qtype], name, want, lazyString(func() string { return got }))
	return got
}

// lazyString formats as what f returns when the message is made.
type lazyString func() string

func (f lazyString) String() string { return f() }

func is(want string) func(string) bool { return func(got string) bool { return got == want } }

// portTask is a `sleep 600` task named name with host port port.
func portTask(id, name string, port uint64) mesos.TaskInfo {
	ti := shellTask(id, "sleep 600", 0.1, 32)
	ti.Name = name
	ti.Resources = append(ti.Resources, mesos.Resource{Name: "ports", Type: mesos.Ranges,
		Ranges: &mesos.RangesValue{Range: []mesos.Range{{Begin: mesos.Uint(port), End: mesos.Uint(port)}}}})
	return ti
}

// TestDNSFollowsTasks runs a master with --dns_listen and a framework
// whose tasks have Marathon-style names: a task's names answer once it
// runs, in Mesos-DNS's form, and stop once it is killed.
func TestDNSFollowsTasks(t *testing.T) {
	addr := freeDNSAddr(t)
	c := testcluster.Start(t, testcluster.Options{Agents: 1, MasterArgs: []string{"--dns_listen", addr}})
	waitDNS(t, addr, "leader.mesos", dns.TypeA, is("NOERROR 127.0.0.1"), "the master")
	// The agent advertises 127.0.0.1 (its hostname, agent0.test, does not
	// resolve; Mesos-DNS takes the agent's address from its pid too).
	waitDNS(t, addr, "slave.mesos", dns.TypeA, is("NOERROR 127.0.0.1"), "the agent")

	f := startFramework(t, c.URL, plainInfo("Web.Frontends"))
	fw := "web.frontends.mesos"
	waitDNS(t, addr, "web-group."+fw, dns.TypeA, is("NXDOMAIN"), "no task yet")

	web := portTask("web-1", "web.group", 31010)
	db := portTask("db-1", "database", 31011)
	db.Discovery = &mesos.DiscoveryInfo{Visibility: mesos.VisibilityFramework, Name: "db.primary",
		Ports: &mesos.DiscoveryPorts{Ports: []mesos.DiscoveryPort{{Number: 31011, Name: "pg", Protocol: "tcp"}}}}
	f.launch(web, db)
	f.waitState("web-1", 30*time.Second, mesos.TaskRunning)
	f.waitState("db-1", 30*time.Second, mesos.TaskRunning)

	waitDNS(t, addr, "web-group."+fw, dns.TypeA, is("NOERROR 127.0.0.1"), "the running task's address")
	srv := waitDNS(t, addr, "_web-group._tcp."+fw, dns.TypeSRV, func(s string) bool { return strings.HasPrefix(s, "NOERROR ") }, "its SRV")
	if !strings.HasSuffix(srv, ".web.frontends.slave.mesos.:31010") || !strings.Contains(srv, " web-group-") {
		t.Errorf("SRV _web-group._tcp.%s = %q; want web-group-{hash}-{agent}.web.frontends.slave.mesos.:31010", fw, srv)
	}
	// DiscoveryInfo: its name and its named port, targets without .slave.
	named := waitDNS(t, addr, "_pg._db-primary._tcp."+fw, dns.TypeSRV, func(s string) bool { return strings.HasPrefix(s, "NOERROR ") }, "the named port's SRV")
	if !strings.HasSuffix(named, ".web.frontends.mesos.:31011") || !strings.Contains(named, " db-primary-") {
		t.Errorf("SRV _pg._db-primary._tcp.%s = %q; want db-primary-{hash}-{agent}.web.frontends.mesos.:31011", fw, named)
	}
	if got := dnsAnswer("udp", addr, "database."+fw, dns.TypeA); got != "NXDOMAIN" {
		t.Errorf("A database.%s = %q; want NXDOMAIN (DiscoveryInfo's name replaces the task's)", fw, got)
	}
	if got := dnsAnswer("udp", addr, "example.com", dns.TypeA); got != "REFUSED" {
		t.Errorf("A example.com = %q; want REFUSED", got)
	}

	if err := f.client.Kill(t.Context(), "web-1", ""); err != nil {
		t.Fatal(err)
	}
	f.waitState("web-1", 30*time.Second, mesos.TaskKilled)
	waitDNS(t, addr, "web-group."+fw, dns.TypeA, is("NXDOMAIN"), "the killed task gone")
	waitDNS(t, addr, "_web-group._tcp."+fw, dns.TypeSRV, is("NXDOMAIN"), "its SRV gone")
	waitDNS(t, addr, "db-primary."+fw, dns.TypeA, is("NOERROR 127.0.0.1"), "the other task still there")
}
