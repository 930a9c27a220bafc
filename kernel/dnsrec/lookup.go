package dnsrec

import (
	"net/netip"
	"strconv"
	"strings"
)

// Type is a DNS record type, by its number.
type Type uint16

// The record types the table answers; other types get no records.
const (
	TypeA    Type = 1
	TypeNS   Type = 2
	TypeSOA  Type = 6
	TypeAAAA Type = 28
	TypeSRV  Type = 33
	TypeANY  Type = 255
)

// String is the type's mnemonic.
func (t Type) String() string {
	switch t {
	case TypeA:
		return "A"
	case TypeNS:
		return "NS"
	case TypeSOA:
		return "SOA"
	case TypeAAAA:
		return "AAAA"
	case TypeSRV:
		return "SRV"
	case TypeANY:
		return "ANY"
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// Rcode is the outcome of a question.
type Rcode int

// Outcomes (their numbers are the DNS RCODEs).
const (
	// NoError: the name exists; Answer may still be empty (NODATA).
	NoError Rcode = 0
	// NameError: the name is in the domain but does not exist (NXDOMAIN).
	NameError Rcode = 3
	// Refused: the name is outside the domain; nothing is recursed.
	Refused Rcode = 5
)

// String is the outcome's mnemonic.
func (r Rcode) String() string {
	switch r {
	case NoError:
		return "NOERROR"
	case NameError:
		return "NXDOMAIN"
	case Refused:
		return "REFUSED"
	}
	return "RCODE" + strconv.Itoa(int(r))
}

// Record is one resource record of an answer; Type says which fields
// hold its data: Addr for A and AAAA, SRV for SRV, Target (the name
// server) for NS. An SOA record's data is the table's SOA.
type Record struct {
	Name string // fully qualified, lower case
	Type Type
	Addr netip.Addr
	SRV  SRV
	// Target is an NS record's name server.
	Target string
}

// Result is the answer to one question.
type Result struct {
	Rcode  Rcode
	Answer []Record
	// Extra are the addresses of the SRV targets and name servers in
	// Answer (the additional section).
	Extra []Record
	// Authority says that the zone's SOA goes in the authority section:
	// the answer is empty, and a resolver may cache that for the SOA's
	// minimum TTL.
	Authority bool
}

// SOA is the data of the zone's SOA record.
type SOA struct {
	Name   string // the apex, "mesos."
	MName  string // the primary name server, "ns1.mesos."
	RName  string // the admin's mailbox, "root.ns1.mesos."
	Serial uint32
}

// SOA returns the zone's SOA data (Mesos-DNS's defaults for the names).
func (t *Table) SOA() SOA {
	return SOA{Name: t.domain, MName: "ns1." + t.domain, RName: "root.ns1." + t.domain, Serial: t.serial}
}

// InDomain reports whether name (fully qualified or not, any case) is in
// the table's zone.
func (t *Table) InDomain(name string) bool {
	n := fqdn(name)
	return n == t.domain || strings.HasSuffix(n, "."+t.domain)
}

// Lookup answers a question for name (fully qualified or not, any case)
// and qtype:
//
//   - outside the domain: Refused;
//   - A, AAAA, SRV: the records of that type, with the targets' addresses
//     as Extra for SRV; ANY: all of them;
//   - SOA and NS at the apex: the zone's (an NS answer's Extra holds
//     ns1's addresses);
//   - nothing of that type: NoError and Authority if the name exists (it
//     has records of another type, or names below it do), else NameError
//     and Authority.
//
// Records come in a fixed order; the shell shuffles them.
func (t *Table) Lookup(name string, qtype Type) Result {
	n := fqdn(name)
	if !t.InDomain(n) {
		return Result{Rcode: Refused}
	}
	var r Result
	addrs := func(want Type) {
		for _, a := range t.addrs[n] {
			if typeOf(a) == want {
				r.Answer = append(r.Answer, Record{Name: n, Type: want, Addr: a})
			}
		}
	}
	srvs := func() {
		seen := map[string]bool{}
		for _, s := range t.srvs[n] {
			r.Answer = append(r.Answer, Record{Name: n, Type: TypeSRV, SRV: s})
			if !seen[s.Target] {
				seen[s.Target] = true
				r.Extra = append(r.Extra, t.addrRecords(s.Target)...)
			}
		}
	}
	apex := n == t.domain
	switch qtype {
	case TypeA, TypeAAAA:
		addrs(qtype)
	case TypeSRV:
		srvs()
	case TypeSOA:
		if apex {
			r.Answer = append(r.Answer, Record{Name: n, Type: TypeSOA})
		}
	case TypeNS:
		if apex {
			r.Answer = append(r.Answer, Record{Name: n, Type: TypeNS, Target: "ns1." + t.domain})
			r.Extra = append(r.Extra, t.addrRecords("ns1."+t.domain)...)
		}
	case TypeANY:
		if apex {
			r.Answer = append(r.Answer, Record{Name: n, Type: TypeSOA}, Record{Name: n, Type: TypeNS, Target: "ns1." + t.domain})
		}
		addrs(TypeA)
		addrs(TypeAAAA)
		srvs()
	}
	if len(r.Answer) == 0 {
		r.Authority = true
		if !t.names[n] {
			r.Rcode = NameError
		}
	}
	return r
}

func (t *Table) addrRecords(name string) []Record {
	var out []Record
	for _, a := range t.addrs[name] {
		out = append(out, Record{Name: name, Type: typeOf(a), Addr: a})
	}
	return out
}

// fqdn is name in lower case with the final dot.
func fqdn(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

func typeOf(a netip.Addr) Type {
	if a.Is4() {
		return TypeA
	}
	return TypeAAAA
}
