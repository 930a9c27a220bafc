// Package dnsrec turns the master's view of the cluster into DNS records,
// named as Mesos-DNS names them, and answers questions from them. It is
// the functional core of the master's DNS server (package dnsserver is
// its shell): no I/O, no clock, no goroutines. Host names are resolved by
// the caller, which hands in addresses.
//
//	master loop ──State──▶ Records ──*Table──▶ dnsserver ──Lookup(name, type)──▶ Result ──▶ wire
//
// Vocabulary (Mesos-DNS's, see docs/docs/naming.md and records/*.go in
// mesosphere/mesos-dns):
//
//   - label: one piece of a name, made from a task's or framework's name
//     by Label: lower case, "a-z0-9" kept, "-", "." and "_" made "-",
//     anything else dropped, leading "-" trimmed, cut at 63 characters,
//     trailing "-" trimmed (RFC 1123).
//   - {task}: the label of a task's name, or of its DiscoveryInfo name
//     when it has one. {fw}: the framework's name split at dots, each part
//     a label (Domain), so "marathon.prod" stays two labels.
//   - canonical name: {task}-{h}-{a}.{fw}, where {h} is the first five
//     characters of zbase32(sha1(task id)) and {a} the last "-"-separated
//     piece of the agent id, lower-cased: one name per task, where
//     {task}.{fw} names all tasks of that name.
//   - domain: the zone served, "mesos" by default. Names outside it are
//     refused (there is no recursion); names inside it that hold no record
//     and no record below them do not exist (NXDOMAIN).
//
// Records, for a RUNNING task on a known agent (host networking: the
// task's address is its agent's):
//
//	A     {task}.{fw}.{domain}, {canon}.{domain}              agent addresses
//	A     {task}.{fw}.slave.{domain}, {canon}.slave.{domain}  agent addresses
//	SRV   _{task}._tcp.{fw}.{domain}, _{task}._udp.{fw}.{domain}
//	      (without DiscoveryInfo) and both under .slave.{domain}
//	                                 → {canon}.slave.{domain}:{host port}, per port of the task's ports resource
//	SRV   _{task}._{proto}.{fw}.{domain}, _{name}._{task}._{proto}.{fw}.{domain}
//	      (DiscoveryInfo ports)      → {canon}.{domain}:{number}
//
// and for the cluster: leader.{domain}, master.{domain} and master0.{domain}
// (the leading master), _leader._tcp and _leader._udp SRV, slave.{domain}
// (every agent) with _slave._tcp SRV, {fw}.{domain} (a framework's
// scheduler host), ns1.{domain} (this DNS server), and SOA and NS at the
// domain's apex. A task with DiscoveryInfo also gets its records under the
// raw, unlabelled discovery name, as Mesos-DNS does for old clients.
package dnsrec
