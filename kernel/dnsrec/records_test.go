package dnsrec

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"corral/internal/purity"
	"corral/kernel/mesos"
)

func TestPure(t *testing.T) {
	purity.Check(t, "bytes", "cmp", "crypto/sha1", "encoding/base32", "fmt", "net/netip", "slices", "strconv", "strings",
		"corral/kernel/mesos")
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

// lines is the table as sorted lines, without the domain's records that
// every table has.
func lines(t *Table) []string {
	var out []string
	for _, l := range strings.Split(t.String(), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestWorkedExample is the reference's worked example: Marathon's app
// /group/web, task web.group with DiscoveryInfo naming port 31005 "http"
// (tcp), on agent …-S3 at 10.0.1.7.
func TestWorkedExample(t *testing.T) {
	h := TaskHash("web.group.1")
	st := State{
		Agents: []Agent{{ID: "20150921-151229-S3", Host: Host{Addrs: addrs("10.0.1.7"), Port: 5051}}},
		Frameworks: []Framework{{Name: "marathon", Tasks: []Task{{
			ID: "web.group.1", Name: "web.group", AgentID: "20150921-151229-S3", State: mesos.TaskRunning, Ports: []uint16{31005},
			Discovery: &mesos.DiscoveryInfo{Visibility: mesos.VisibilityFramework, Name: "web.group",
				Ports: &mesos.DiscoveryPorts{Ports: []mesos.DiscoveryPort{{Number: 31005, Name: "http", Protocol: "tcp"}}}},
		}}}},
	}
	canon := "web-group-" + h + "-s3.marathon"
	raw := "web.group-" + h + "-s3.marathon"
	want := []string{
		"_http._web-group._tcp.marathon.mesos. SRV " + canon + ".mesos.:31005",
		"_http._web.group._tcp.marathon.mesos. SRV " + raw + ".mesos.:31005",
		"_slave._tcp.mesos. SRV slave.mesos.:5051",
		"_web-group._tcp.marathon.mesos. SRV " + canon + ".mesos.:31005",
		"_web-group._tcp.marathon.slave.mesos. SRV " + canon + ".slave.mesos.:31005",
		"_web-group._udp.marathon.slave.mesos. SRV " + canon + ".slave.mesos.:31005",
		"_web.group._tcp.marathon.mesos. SRV " + raw + ".mesos.:31005",
		"_web.group._tcp.marathon.slave.mesos. SRV " + raw + ".slave.mesos.:31005",
		"_web.group._udp.marathon.slave.mesos. SRV " + raw + ".slave.mesos.:31005",
		"slave.mesos. A 10.0.1.7",
		canon + ".mesos. A 10.0.1.7",
		canon + ".slave.mesos. A 10.0.1.7",
		"web-group.marathon.mesos. A 10.0.1.7",
		"web-group.marathon.slave.mesos. A 10.0.1.7",
		raw + ".mesos. A 10.0.1.7",
		raw + ".slave.mesos. A 10.0.1.7",
		"web.group.marathon.mesos. A 10.0.1.7",
		"web.group.marathon.slave.mesos. A 10.0.1.7",
	}
	got := lines(Records(st, Config{Domain: "mesos"}))
	if d := cmp.Diff(sorted(want), got); d != "" {
		t.Errorf("Records(worked example) differs (-want +got):\n%s", d)
	}
}

func sorted(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}

// TestRecords covers the records without DiscoveryInfo (corral's own
// frameworks): one SRV per port and protocol, only RUNNING tasks on known
// agents, the cluster's own names.
func TestRecords(t *testing.T) {
	agentA, agentB := "run-S0001", "run-S0002"
	task := func(id, name, agent string, s mesos.TaskState, ports ...uint16) Task {
		return Task{ID: id, Name: name, AgentID: agent, State: s, Ports: ports}
	}
	st := State{
		Leader: Host{Addrs: addrs("10.0.0.1"), Port: 5050},
		NS:     addrs("10.0.0.1"),
		Agents: []Agent{
			{ID: agentA, Host: Host{Addrs: addrs("10.0.0.2", "fd00::2"), Port: 5051}},
			{ID: agentB, Host: Host{Addrs: addrs("::ffff:10.0.0.3"), Port: 5052}},
			{ID: "run-S0003"}, // unresolved: no agent records
		},
		Frameworks: []Framework{
			{Name: "Services", Addrs: addrs("10.0.0.9"), Tasks: []Task{
				task("w1", "web.group", agentA, mesos.TaskRunning, 31000, 31001),
				task("w2", "web.group", agentB, mesos.TaskRunning, 31500),
				task("staging", "starting", agentA, mesos.TaskStaging, 31002),
				task("killing", "dying", agentA, mesos.TaskKilling, 31003),
				task("lost", "elsewhere", "run-S0099", mesos.TaskRunning, 31004),
				task("n", "noports", agentB, mesos.TaskRunning),
				task("bad", "$$$", agentB, mesos.TaskRunning), // no label: no records
			}},
			{Name: "!!!", Tasks: []Task{task("x", "x", agentA, mesos.TaskRunning)}}, // no label: no records
		},
	}
	c1, c2 := "web-group-"+TaskHash("w1")+"-s0001.services", "web-group-"+TaskHash("w2")+"-s0002.services"
	cn := "noports-" + TaskHash("n") + "-s0002.services"
	want := []string{
		"_leader._tcp.mesos. SRV leader.mesos.:5050",
		"_leader._udp.mesos. SRV leader.mesos.:5050",
		"_slave._tcp.mesos. SRV slave.mesos.:5051",
		"_slave._tcp.mesos. SRV slave.mesos.:5052",
		"leader.mesos. A 10.0.0.1",
		"master.mesos. A 10.0.0.1",
		"master0.mesos. A 10.0.0.1",
		"ns1.mesos. A 10.0.0.1",
		"services.mesos. A 10.0.0.9",
		"slave.mesos. A 10.0.0.2",
		"slave.mesos. A 10.0.0.3",
		"slave.mesos. AAAA fd00::2",
		"web-group.services.mesos. A 10.0.0.2",
		"web-group.services.mesos. A 10.0.0.3",
		"web-group.services.mesos. AAAA fd00::2",
		"web-group.services.slave.mesos. A 10.0.0.2",
		"web-group.services.slave.mesos. A 10.0.0.3",
		"web-group.services.slave.mesos. AAAA fd00::2",
		c1 + ".mesos. A 10.0.0.2",
		c1 + ".mesos. AAAA fd00::2",
		c1 + ".slave.mesos. A 10.0.0.2",
		c1 + ".slave.mesos. AAAA fd00::2",
		c2 + ".mesos. A 10.0.0.3",
		c2 + ".slave.mesos. A 10.0.0.3",
		"noports.services.mesos. A 10.0.0.3",
		"noports.services.slave.mesos. A 10.0.0.3",
		cn + ".mesos. A 10.0.0.3",
		cn + ".slave.mesos. A 10.0.0.3",
	}
	for _, name := range []string{"_web-group._tcp.services", "_web-group._udp.services", "_web-group._tcp.services.slave", "_web-group._udp.services.slave"} {
		want = append(want,
			name+".mesos. SRV "+c1+".slave.mesos.:31000",
			name+".mesos. SRV "+c1+".slave.mesos.:31001",
			name+".mesos. SRV "+c2+".slave.mesos.:31500")
	}
	got := lines(Records(st, Config{Domain: "mesos"}))
	if d := cmp.Diff(sorted(want), got); d != "" {
		t.Errorf("Records differs (-want +got):\n%s", d)
	}
}

// TestDiscoveryPorts: a discovery port without a protocol is both tcp
// and udp; one with a protocol only that; a named port adds the
// _{name}. form; host ports then only go under .slave.
func TestDiscoveryPorts(t *testing.T) {
	st := State{
		Agents: []Agent{{ID: "a-S1", Host: Host{Addrs: addrs("10.0.0.2")}}},
		Frameworks: []Framework{{Name: "fw", Tasks: []Task{{ID: "t", Name: "ignored", AgentID: "a-S1", State: mesos.TaskRunning,
			Ports: []uint16{31000},
			Discovery: &mesos.DiscoveryInfo{Name: "db", Ports: &mesos.DiscoveryPorts{Ports: []mesos.DiscoveryPort{
				{Number: 5432, Name: "PG_main", Protocol: "TCP"}, {Number: 53}, {Number: 70000, Name: "huge"}}}}}}}},
	}
	tab := Records(st, Config{Domain: "corral.test"})
	canon := "db-" + TaskHash("t") + "-s1.fw.corral.test."
	for name, want := range map[string][]SRV{
		"_db._tcp.fw.corral.test":          {{canon, 53}, {canon, 5432}},
		"_pg-main._db._tcp.fw.corral.test": {{canon, 5432}},
		"_db._udp.fw.corral.test":          {{canon, 53}},
		"_db._tcp.fw.slave.corral.test":    {{"db-" + TaskHash("t") + "-s1.fw.slave.corral.test.", 31000}},
		"_huge._db._tcp.fw.corral.test":    nil,
		"_ignored._tcp.fw.corral.test":     nil,
	} {
		var got []SRV
		for _, r := range tab.Lookup(name, TypeSRV).Answer {
			got = append(got, r.SRV)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("Lookup(%s, SRV) differs (-want +got):\n%s", name, d)
		}
	}
}

func TestLookup(t *testing.T) {
	st := State{
		Leader: Host{Addrs: addrs("10.0.0.1"), Port: 5050},
		NS:     addrs("10.0.0.1"),
		Agents: []Agent{{ID: "r-S1", Host: Host{Addrs: addrs("10.0.0.2", "fd00::2"), Port: 5051}}},
		Frameworks: []Framework{{Name: "services", Tasks: []Task{
			{ID: "t1", Name: "web", AgentID: "r-S1", State: mesos.TaskRunning, Ports: []uint16{31000}},
		}}},
	}
	tab := Records(st, Config{Domain: "mesos"})
	canon := "web-" + TaskHash("t1") + "-s1.services.slave.mesos."
	a := func(name, ip string) Record {
		p := netip.MustParseAddr(ip)
		return Record{Name: name, Type: typeOf(p), Addr: p}
	}
	for _, c := range []struct {
		name  string
		qname string
		qtype Type
		want  Result
	}{
		{"A", "web.services.mesos.", TypeA, Result{Answer: []Record{a("web.services.mesos.", "10.0.0.2")}}},
		{"AAAA", "web.services.mesos", TypeAAAA, Result{Answer: []Record{a("web.services.mesos.", "fd00::2")}}},
		{"any case", "WEB.Services.MESOS.", TypeA, Result{Answer: []Record{a("web.services.mesos.", "10.0.0.2")}}},
		{"SRV with the target's addresses", "_web._tcp.services.mesos.", TypeSRV, Result{
			Answer: []Record{{Name: "_web._tcp.services.mesos.", Type: TypeSRV, SRV: SRV{canon, 31000}}},
			Extra:  []Record{a(canon, "10.0.0.2"), a(canon, "fd00::2")}}},
		{"ANY", "leader.mesos.", TypeANY, Result{Answer: []Record{a("leader.mesos.", "10.0.0.1")}}},
		{"SOA at the apex", "mesos.", TypeSOA, Result{Answer: []Record{{Name: "mesos.", Type: TypeSOA}}}},
		{"NS at the apex", "mesos.", TypeNS, Result{Answer: []Record{{Name: "mesos.", Type: TypeNS, Target: "ns1.mesos."}},
			Extra: []Record{a("ns1.mesos.", "10.0.0.1")}}},
		{"SOA below the apex: NODATA", "leader.mesos.", TypeSOA, Result{Authority: true}},
		{"A of an SRV name: NODATA", "_web._tcp.services.mesos.", TypeA, Result{Authority: true}},
		{"other type: NODATA", "web.services.mesos.", Type(16), Result{Authority: true}},
		{"empty non-terminal: NODATA", "services.mesos.", TypeA, Result{Authority: true}},
		{"unknown name: NXDOMAIN", "db.services.mesos.", TypeA, Result{Rcode: NameError, Authority: true}},
		{"unknown SRV: NXDOMAIN", "_db._tcp.services.mesos.", TypeSRV, Result{Rcode: NameError, Authority: true}},
		{"below a leaf: NXDOMAIN", "x.web.services.mesos.", TypeA, Result{Rcode: NameError, Authority: true}},
		{"outside: REFUSED", "example.com.", TypeA, Result{Rcode: Refused}},
		{"suffix but not below: REFUSED", "notmesos.", TypeA, Result{Rcode: Refused}},
		{"root: REFUSED", ".", TypeNS, Result{Rcode: Refused}},
	} {
		if d := cmp.Diff(c.want, tab.Lookup(c.qname, c.qtype), cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); d != "" {
			t.Errorf("%s: Lookup(%s, %s) differs (-want +got):\n%s", c.name, c.qname, c.qtype, d)
		}
	}
	if soa := tab.SOA(); soa.MName != "ns1.mesos." || soa.RName != "root.ns1.mesos." || soa.Name != "mesos." {
		t.Errorf("SOA() = %+v; want ns1.mesos., root.ns1.mesos. at mesos.", soa)
	}
}

// TestNamesAreLowerCase: whatever the names in the state, every name in
// the table is lower case and fully qualified in the domain.
func TestNamesAreLowerCase(t *testing.T) {
	st := State{Agents: []Agent{{ID: "A-S1", Host: Host{Addrs: addrs("10.0.0.2")}}},
		Frameworks: []Framework{{Name: "My.Framework", Tasks: []Task{
			{ID: "T", Name: "Web.Group", AgentID: "A-S1", State: mesos.TaskRunning, Ports: []uint16{1},
				Discovery: &mesos.DiscoveryInfo{Name: "Raw.Name", Ports: &mesos.DiscoveryPorts{Ports: []mesos.DiscoveryPort{{Number: 2, Name: "HTTP"}}}}}}}}}
	ls := lines(Records(st, Config{Domain: "mesos"}))
	for _, l := range ls {
		name, _, _ := strings.Cut(l, " ")
		if name != strings.ToLower(name) || !strings.HasSuffix(name, ".mesos.") {
			t.Errorf("record %q: name not lower case or not in mesos.", l)
		}
	}
	if !slices.Contains(ls, "raw.name.my.framework.mesos. A 10.0.0.2") || !slices.Contains(ls, "raw-name.my.framework.mesos. A 10.0.0.2") {
		t.Errorf("records lack the raw and the labelled discovery name:\n%s", strings.Join(ls, "\n"))
	}
	// A raw name no question can carry as it is gets no records.
	st.Frameworks[0].Tasks[0].Discovery.Name = "raw name"
	for _, l := range lines(Records(st, Config{Domain: "mesos"})) {
		if strings.Contains(l, " name") {
			t.Errorf("record %q under a raw name with a space", l)
		}
	}
}

// BenchmarkRecords builds the table of 1,000 agents and 10,000 running
// tasks with two ports each.
func BenchmarkRecords(b *testing.B) {
	var st State
	for i := range 1000 {
		st.Agents = append(st.Agents, Agent{ID: fmt.Sprintf("run-S%04d", i), Host: Host{Addrs: []netip.Addr{netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})}, Port: 5051}})
	}
	f := Framework{Name: "services"}
	for i := range 10000 {
		f.Tasks = append(f.Tasks, Task{ID: fmt.Sprintf("app%d.%d", i%500, i), Name: fmt.Sprintf("app%d.group", i%500),
			AgentID: st.Agents[i%1000].ID, State: mesos.TaskRunning, Ports: []uint16{uint16(31000 + i%1000), uint16(32000 + i%1000)}})
	}
	st.Frameworks = []Framework{f}
	for b.Loop() {
		Records(st, Config{Domain: "mesos"})
	}
}
