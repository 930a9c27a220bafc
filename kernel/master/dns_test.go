package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"corral/internal/testpg"
	"corral/kernel/dnsrec"
	"corral/kernel/dnsserver"
	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// freeDNSAddr is a loopback address whose port is free for UDP and TCP.
func freeDNSAddr(t *testing.T) string {
	t.Helper()
	pc, ln, err := dnsserver.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	ln.Close()
	return addr
}

// answer asks server one question over network ("udp" or "tcp") and
// returns the answer as "RCODE data data…", the records' data sorted.
func answer(t *testing.T, network, server, name string, qtype uint16) string {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	in, _, err := c.Exchange(new(dns.Msg).SetQuestion(dns.Fqdn(name), qtype), server)
	if err != nil {
		t.Fatalf("%s %s %s: %v", network, dns.TypeToString[qtype], name, err)
	}
	var rrs []string
	for _, rr := range in.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			rrs = append(rrs, rr.A.String())
		case *dns.SRV:
			rrs = append(rrs, rr.Target+":"+strconv.Itoa(int(rr.Port)))
		default:
			rrs = append(rrs, rr.String())
		}
	}
	slices.Sort(rrs)
	return strings.Join(append([]string{dns.RcodeToString[in.Rcode]}, rrs...), " ")
}

// waitAnswer polls server, over UDP and TCP, until the answer to name and
// qtype (see answer) is want.
func waitAnswer(t *testing.T, server, name string, qtype uint16, want string) {
	t.Helper()
	var got string
	done := false
	defer func() {
		if !done {
			t.Logf("last answer to %s %s: %q; want %q", dns.TypeToString[qtype], name, got, want)
		}
	}()
	waitForWithin(t, 15*time.Second, "the answer to "+dns.TypeToString[qtype]+" "+name, func() bool {
		got = answer(t, "udp", server, name, qtype)
		return got == want && answer(t, "tcp", server, name, qtype) == want
	})
	done = true
}

// TestDNSFollowsTasks: the leading master's DNS names a task once it runs
// and forgets it once it ends, in Mesos-DNS's names.
func TestDNSFollowsTasks(t *testing.T) {
	addr := freeDNSAddr(t)
	tm := startMaster(t, func(c *Config) { c.DNSListen = addr })
	waitAnswer(t, addr, "leader.mesos", dns.TypeA, "NOERROR 127.0.0.1")
	waitAnswer(t, addr, "slave.mesos", dns.TypeA, "NXDOMAIN")

	a := registerAgent(t, tm.url, "", "cpus:4;mem:4096;ports:[31000-31009]", nil)
	a.keepAlive(50 * time.Millisecond)
	waitAnswer(t, addr, "slave.mesos", dns.TypeA, "NOERROR 127.0.0.1")
	f := subscribe(t, tm.url, `{"user":"u","name":"Test.Frame_work"}`)
	o := f.s.nextEvent(mesos.EventOffers).Offers.Offers[0]
	task := func(id, name string, ports, extra string) string {
		return `{"name":"` + name + `","task_id":{"value":"` + id + `"},"agent_id":{"value":"` + a.id + `"},"command":{"value":"sleep 100"},
			"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}},{"name":"ports","type":"RANGES","ranges":{"range":[` + ports + `]}}]` + extra + `}`
	}
	accept := `{"type":"ACCEPT",` + f.fid() + `,"accept":{"offer_ids":[{"value":"` + o.ID.Value + `"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[` +
		task("web-1", "web.group", `{"begin":31000,"end":31001}`, "") + `,` +
		task("db-1", "ignored", `{"begin":31005,"end":31005}`, `,"discovery":{"visibility":"FRAMEWORK","name":"db","ports":{"ports":[{"number":31005,"name":"pg","protocol":"tcp"}]}}`) +
		`]}}]}}`
	if code, msg := f.call(accept); code != 202 {
		t.Fatalf("ACCEPT: %d %s", code, msg)
	}
	a.s.nextAgentEvent(agentproto.EventLaunch)
	fw := "test.frame-work.mesos"
	tail := strings.ToLower(a.id[strings.LastIndexByte(a.id, '-')+1:])
	web := "web-group-" + dnsrec.TaskHash("web-1") + "-" + tail + ".test.frame-work"
	db := "db-" + dnsrec.TaskHash("db-1") + "-" + tail + ".test.frame-work"

	// Staging: no names yet. (The framework's own name is there: it
	// gave no hostname, so it has no address, but names exist below it.)
	waitAnswer(t, addr, "web-group."+fw, dns.TypeA, "NXDOMAIN")
	a.update(f.id, "web-1", mesos.TaskRunning)
	a.update(f.id, "db-1", mesos.TaskRunning)
	waitAnswer(t, addr, "web-group."+fw, dns.TypeA, "NOERROR 127.0.0.1")
	for name, want := range map[string]string{
		"_web-group._tcp." + fw:                       "NOERROR " + web + ".slave.mesos.:31000 " + web + ".slave.mesos.:31001",
		"_web-group._udp.test.frame-work.slave.mesos": "NOERROR " + web + ".slave.mesos.:31000 " + web + ".slave.mesos.:31001",
		// DiscoveryInfo: its name, its named port.
		"_db._tcp." + fw:                       "NOERROR " + db + ".mesos.:31005",
		"_pg._db._tcp." + fw:                   "NOERROR " + db + ".mesos.:31005",
		"_db._tcp.test.frame-work.slave.mesos": "NOERROR " + db + ".slave.mesos.:31005",
		"_ignored._tcp." + fw:                  "NXDOMAIN",
	} {
		waitAnswer(t, addr, name, dns.TypeSRV, want)
	}
	waitAnswer(t, addr, web+".slave.mesos", dns.TypeA, "NOERROR 127.0.0.1")
	checkMesosDNSState(t, tm.url, f.id, a.id)
	waitAnswer(t, addr, "_web-group._tcp."+fw, dns.TypeA, "NOERROR") // NODATA
	waitAnswer(t, addr, "example.com", dns.TypeA, "REFUSED")

	// Killed: the names go.
	a.update(f.id, "web-1", mesos.TaskKilled)
	waitAnswer(t, addr, "web-group."+fw, dns.TypeA, "NXDOMAIN")
	waitAnswer(t, addr, "_web-group._tcp."+fw, dns.TypeSRV, "NXDOMAIN")
	waitAnswer(t, addr, "db."+fw, dns.TypeA, "NOERROR 127.0.0.1")
}

// TestDNSOnlyTheLeaderAnswers: of two masters, the one elected answers
// and the standby SERVFAILs; when leadership moves, so do the answers.
func TestDNSOnlyTheLeaderAnswers(t *testing.T) {
	db := testpg.URL(t)
	z := newFakeElection()
	addrs := []string{freeDNSAddr(t), freeDNSAddr(t)}
	for i, addr := range addrs {
		startContender(t, z, i, db, func(c *Config) { c.DNSListen = addr })
	}
	z.elect(0)
	waitAnswer(t, addrs[0], "leader.mesos", dns.TypeA, "NOERROR 127.0.0.1")
	waitAnswer(t, addrs[1], "leader.mesos", dns.TypeA, "SERVFAIL")
	z.elect(1)
	waitAnswer(t, addrs[1], "leader.mesos", dns.TypeA, "NOERROR 127.0.0.1")
	waitAnswer(t, addrs[0], "leader.mesos", dns.TypeA, "SERVFAIL")
}

// mesosDNSState is what Mesos-DNS reads of the leader's v0 /master/state
// (records/state/state.go in mesosphere/mesos-dns).
type mesosDNSState struct {
	Leader     string `json:"leader"`
	Frameworks []struct {
		Name  string `json:"name"`
		Tasks []struct {
			ID       string `json:"id"`
			Name     string `json:"name"`
			SlaveID  string `json:"slave_id"`
			State    string `json:"state"`
			Statuses []struct {
				State string `json:"state"`
			} `json:"statuses"`
			Resources struct {
				Ports string `json:"ports"`
			} `json:"resources"`
			Discovery struct {
				Name  string `json:"name"`
				Ports struct {
					Ports []struct {
						Number   int    `json:"number"`
						Name     string `json:"name"`
						Protocol string `json:"protocol"`
					} `json:"ports"`
				} `json:"ports"`
			} `json:"discovery"`
		} `json:"tasks"`
	} `json:"frameworks"`
	Slaves []struct {
		ID  string `json:"id"`
		PID string `json:"pid"`
	} `json:"slaves"`
}

// checkMesosDNSState reads each of the master's Mesos-DNS endpoints as
// Mesos-DNS does and checks that they hold what it needs for framework
// fid's tasks web-1 (ports 31000-31001) and db-1 (DiscoveryInfo "db") on
// agent aid.
func checkMesosDNSState(t *testing.T, url, fid, aid string) {
	t.Helper()
	for _, path := range []string{"/master/state", "/master/state.json", "/state.json", "/state"} {
		resp, body := as(t, "", "", "GET", url+path, nil, "")
		var st mesosDNSState
		if err := json.Unmarshal([]byte(body), &st); resp.StatusCode != 200 || err != nil {
			t.Fatalf("GET %s = %d %v", path, resp.StatusCode, err)
		}
		// Mesos-DNS takes the leader's IP address from its pid, and
		// panics on a host name.
		if pid, ok := strings.CutPrefix(st.Leader, "master@"); !ok || !isIPPort(pid) {
			t.Errorf("%s: leader %q; want master@<ip>:<port>", path, st.Leader)
		}
		if len(st.Slaves) != 1 || st.Slaves[0].ID != aid || !isIPPort(strings.TrimPrefix(st.Slaves[0].PID, "slave(1)@")) {
			t.Errorf("%s: slaves %+v; want agent %s with pid slave(1)@<ip>:<port>", path, st.Slaves, aid)
		}
		if len(st.Frameworks) != 1 || st.Frameworks[0].Name != "Test.Frame_work" || len(st.Frameworks[0].Tasks) != 2 {
			t.Fatalf("%s: frameworks %+v; want Test.Frame_work with 2 tasks", path, st.Frameworks)
		}
		for _, tk := range st.Frameworks[0].Tasks {
			if tk.SlaveID != aid || tk.State != "TASK_RUNNING" || len(tk.Statuses) == 0 || tk.Statuses[0].State != "TASK_RUNNING" {
				t.Errorf("%s: task %+v; want TASK_RUNNING on %s with a TASK_RUNNING status", path, tk, aid)
			}
			switch tk.ID {
			case "web-1":
				if tk.Name != "web.group" || !slices.Equal(mesosDNSPorts(tk.Resources.Ports), []string{"31000", "31001"}) || tk.Discovery.Name != "" {
					t.Errorf("%s: task web-1 %+v; want name web.group, ports [31000-31001], no discovery", path, tk)
				}
			case "db-1":
				d := tk.Discovery
				if d.Name != "db" || len(d.Ports.Ports) != 1 || d.Ports.Ports[0].Number != 31005 || d.Ports.Ports[0].Name != "pg" || d.Ports.Ports[0].Protocol != "tcp" {
					t.Errorf("%s: task db-1 discovery %+v; want db with port 31005 pg tcp", path, d)
				}
			}
		}
	}
}

// mesosDNSPorts expands a v0 ports string, "[31000-31001, 31005-31005]",
// as Mesos-DNS does (state.Resources.Ports).
func mesosDNSPorts(s string) []string {
	var out []string
	inner, _, _ := strings.Cut(strings.TrimPrefix(s, "["), "]")
	for _, r := range strings.Split(inner, ",") {
		lo, hi, _ := strings.Cut(strings.TrimSpace(r), "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil {
			return append(out, "unparsable: "+r)
		}
		for p := a; p <= b; p++ {
			out = append(out, strconv.Itoa(p))
		}
	}
	return out
}

func isIPPort(s string) bool {
	_, err := netip.ParseAddrPort(s)
	return err == nil
}

// TestHostCache: IP addresses are themselves; names are looked up once
// per hostTTL, failures once per hostNegativeTTL.
func TestHostCache(t *testing.T) {
	calls := map[string]int{}
	h := newHostCache(func(_ context.Context, host string) ([]netip.Addr, error) {
		calls[host]++
		if host == "agent.example" {
			return []netip.Addr{netip.MustParseAddr("::ffff:10.0.0.7")}, nil
		}
		return nil, errors.New("no such host")
	})
	now := time.Unix(1_000_000, 0)
	for _, c := range []struct {
		host  string
		at    time.Duration
		want  string
		calls int
	}{
		{"10.0.0.9", 0, "[10.0.0.9]", 0},
		{"agent.example", 0, "[::ffff:10.0.0.7]", 1},
		{"agent.example", hostTTL - time.Second, "[::ffff:10.0.0.7]", 1},
		{"agent.example", hostTTL, "[::ffff:10.0.0.7]", 2},
		{"gone.example", 0, "[]", 1},
		{"gone.example", hostNegativeTTL - time.Second, "[]", 1},
		{"gone.example", hostNegativeTTL, "[]", 2},
	} {
		got := fmt.Sprint(h.addrs(t.Context(), c.host, now.Add(c.at)))
		if got != c.want || calls[c.host] != c.calls {
			t.Errorf("addrs(%s) at +%v = %s after %d lookups; want %s after %d", c.host, c.at, got, calls[c.host], c.want, c.calls)
		}
	}
}
