package dnsrec

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"corral/kernel/mesos"
)

// State is what the records are made of: the leading master's view of
// the cluster, with every host already resolved to its addresses.
type State struct {
	// Leader is the leading master.
	Leader Host
	// NS are the addresses of ns1.{domain}: where this DNS server is
	// reached.
	NS         []netip.Addr
	Agents     []Agent
	Frameworks []Framework
	// Serial is the zone's SOA serial; the shell passes the time the
	// state was taken, in seconds.
	Serial uint32
}

// Host is a host's addresses and the port it serves on (0: none).
type Host struct {
	Addrs []netip.Addr
	Port  uint16
}

// Agent is one agent: its id and where it is reached (Mesos-DNS takes the
// host of the agent's pid).
type Agent struct {
	ID string
	Host
}

// Framework is one framework (connected or not: its tasks run on) with
// its tasks. Addrs are its scheduler host's.
type Framework struct {
	Name  string
	Addrs []netip.Addr
	Tasks []Task
}

// Task is one task of a framework.
type Task struct {
	ID      string
	Name    string
	AgentID string
	State   mesos.TaskState
	// Ports are the task's host ports: those of its ports resource, in
	// ascending order.
	Ports     []uint16
	Discovery *mesos.DiscoveryInfo
}

// Config is how names are made.
type Config struct {
	// Domain is the zone: lower case, without the final dot (see
	// CheckDomain), e.g. "mesos".
	Domain string
}

// SRV is the data of an SRV record: where a service is.
type SRV struct {
	Target string // a fully qualified name
	Port   uint16
}

// Table is the records of one State. It is immutable once Records returns
// it, so any number of goroutines may Lookup in it at once.
type Table struct {
	domain string // fully qualified: "mesos."
	serial uint32
	addrs  map[string][]netip.Addr
	srvs   map[string][]SRV
	// names holds every name with records and every name between those
	// and the apex (empty non-terminals exist: NODATA, not NXDOMAIN).
	names map[string]bool
}

// Records builds the table of st under cfg (see the package doc for the
// names). Only TASK_RUNNING tasks on agents st holds get records.
func Records(st State, cfg Config) *Table {
	b := builder{
		t: &Table{domain: cfg.Domain + ".", serial: st.Serial,
			addrs: map[string][]netip.Addr{}, srvs: map[string][]SRV{}, names: map[string]bool{}},
	}
	tail := "." + b.t.domain
	b.t.names[b.t.domain] = true

	b.addrs("ns1"+tail, st.NS)
	if len(st.Leader.Addrs) > 0 {
		for _, n := range []string{"leader", "master", "master0"} {
			b.addrs(n+tail, st.Leader.Addrs)
		}
		target := SRV{Target: "leader" + tail, Port: st.Leader.Port}
		b.srv("_leader._tcp"+tail, target)
		b.srv("_leader._udp"+tail, target)
	}
	agents := make(map[string][]netip.Addr, len(st.Agents))
	for _, a := range st.Agents {
		agents[a.ID] = a.Addrs
		if len(a.Addrs) == 0 {
			continue
		}
		b.addrs("slave"+tail, a.Addrs)
		b.srv("_slave._tcp"+tail, SRV{Target: "slave" + tail, Port: a.Port})
	}
	for _, f := range st.Frameworks {
		fw := Domain(f.Name)
		if fw == "" {
			continue
		}
		b.addrs(fw+tail, f.Addrs)
		for _, t := range f.Tasks {
			addrs, known := agents[t.AgentID]
			if t.State != mesos.TaskRunning || !known {
				continue
			}
			tn := taskNames{fw: fw, tail: tail, hash: TaskHash(t.ID), agent: agentTail(t.AgentID), addrs: addrs}
			if d := t.Discovery; d != nil && d.Name != "" {
				// Mesos-DNS's legacy records under the raw name, where a
				// question can name it.
				if raw := strings.ToLower(d.Name); plainName(raw) {
					tn.name = raw
					b.task(tn, t)
				}
				tn.name = Label(d.Name)
			} else {
				tn.name = Label(t.Name)
			}
			b.task(tn, t)
		}
	}
	for n, as := range b.t.addrs {
		slices.SortFunc(as, netip.Addr.Compare)
		b.t.addrs[n] = slices.Compact(as)
	}
	for n, ss := range b.t.srvs {
		slices.SortFunc(ss, func(x, y SRV) int { return cmp.Or(strings.Compare(x.Target, y.Target), cmp.Compare(x.Port, y.Port)) })
		b.t.srvs[n] = slices.Compact(ss)
	}
	return b.t
}

// plainName reports whether s is made of a-z, 0-9, "-", "_" and "." only:
// characters a question carries as they are.
func plainName(s string) bool {
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-_.") == ""
}

// taskNames is what a task's names are made of.
type taskNames struct {
	name, fw, tail string
	hash, agent    string
	addrs          []netip.Addr
}

// builder fills a Table; Records then sorts each name's records and
// drops duplicates.
type builder struct {
	t *Table
}

// name records that n and the names between it and the apex exist.
func (b *builder) name(n string) {
	for n != b.t.domain && !b.t.names[n] {
		b.t.names[n] = true
		_, n, _ = strings.Cut(n, ".")
	}
}

func (b *builder) addrs(name string, addrs []netip.Addr) {
	if len(addrs) == 0 {
		return
	}
	have := b.t.addrs[name]
	if len(have) == 0 {
		b.name(name)
	}
	for _, a := range addrs {
		have = append(have, a.Unmap())
	}
	b.t.addrs[name] = have
}

func (b *builder) srv(name string, s SRV) {
	have := b.t.srvs[name]
	if len(have) == 0 {
		b.name(name)
	}
	b.t.srvs[name] = append(have, s)
}

// task adds the records of one task under tn.name (taskContextRecord in
// mesos-dns).
func (b *builder) task(tn taskNames, t Task) {
	if tn.name == "" {
		return
	}
	canonical := tn.name + "-" + tn.hash + "-" + tn.agent + "." + tn.fw
	short := tn.name + "." + tn.fw
	for _, n := range []string{short, canonical, short + ".slave", canonical + ".slave"} {
		b.addrs(n+tn.tail, tn.addrs)
	}
	// Host ports: under .slave always, and without it too unless the
	// task has DiscoveryInfo (whose ports then name the service).
	withDiscovery := t.Discovery != nil && t.Discovery.Name != ""
	if len(t.Ports) > 0 {
		slaveTarget := canonical + ".slave" + tn.tail
		names := make([]string, 0, 4)
		for _, proto := range []string{"._tcp.", "._udp."} {
			names = append(names, "_"+tn.name+proto+tn.fw+".slave"+tn.tail)
			if !withDiscovery {
				names = append(names, "_"+tn.name+proto+tn.fw+tn.tail)
			}
		}
		for _, p := range t.Ports {
			for _, n := range names {
				b.srv(n, SRV{Target: slaveTarget, Port: p})
			}
		}
	}
	if !withDiscovery || t.Discovery.Ports == nil {
		return
	}
	for _, p := range t.Discovery.Ports.Ports {
		if p.Number < 0 || p.Number > 65535 {
			continue
		}
		target := SRV{Target: canonical + tn.tail, Port: uint16(p.Number)}
		protos := []string{"tcp", "udp"}
		if proto := Label(p.Protocol); proto != "" {
			protos = []string{proto}
		}
		portName := Label(p.Name)
		for _, proto := range protos {
			n := "_" + tn.name + "._" + proto + "." + tn.fw + tn.tail
			b.srv(n, target)
			if portName != "" {
				b.srv("_"+portName+"."+n, target)
			}
		}
	}
}

// Domain is the table's zone, fully qualified ("mesos.").
func (t *Table) Domain() string { return t.domain }

// Len is the number of names with records.
func (t *Table) Len() int { return len(t.addrs) + len(t.srvs) }

// String lists the table, one record a line, sorted: for tests and
// debugging.
func (t *Table) String() string {
	var lines []string
	for n, as := range t.addrs {
		for _, a := range as {
			lines = append(lines, n+" "+typeOf(a).String()+" "+a.String())
		}
	}
	for n, ss := range t.srvs {
		for _, s := range ss {
			lines = append(lines, n+" SRV "+s.Target+":"+strconv.Itoa(int(s.Port)))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
