// Package zkelect elects a leader among contenders, and tells anyone who
// asks who leads, over ZooKeeper, with the znode layout of Apache Mesos.
//
// Vocabulary:
//
//   - base path: the znode named by the zk:// URL (zk://h1:2181,h2:2181/corral).
//     Created, with its parents, by the first contender that needs it.
//   - member: an EPHEMERAL_SEQUENTIAL child of the base path named
//     <prefix><sequence>, json.info_0000000007 by default, whose data is the
//     contender's info (opaque bytes; the masters store their MasterInfo
//     JSON). It lives as long as the ZooKeeper session that created it.
//   - leader: the member with the lowest sequence number, that is the
//     oldest. Children whose names are not the prefix followed by digits
//     are not members and are ignored.
//   - keeping session: the session that holds an Elector's member. The
//     client reconnects it within the session timeout and keeps the
//     session and the member; once the session has expired, both are gone
//     and the Elector starts a new session and joins again.
//   - watch session: the session on which the members are listed and
//     watched. It holds nothing ephemeral and is replaced whenever its
//     connection drops. (Watches and reconnections are kept on separate
//     sessions to stay clear of a data race in the zk client; see
//     sessionKind.)
//
// An Elector contends; a Detector only watches. Both list the members with
// a watch, pick the lowest and read its data, again whenever the watch
// fires or the watch session is replaced, so a change is seen within one
// watch round trip.
//
// The life of an Elector (Run):
//
//	wait for a live keeping session ◄───────────────────────────────┐
//	    │  (expired: close it, dial a new one, forget our member)    │
//	    ▼                                                            │
//	join: create <base>/<prefix>N unless we have a member            │
//	    ▼                                                            │
//	observe the members ── ours was deleted: forget it ──────────────┤
//	    │             └──── another is lowest: wait for a change ────┤
//	    ▼ ours is lowest                                             │
//	probe our member on the keeping session: the lease starts        │
//	    ▼                                                            │
//	lead(leaderCtx) ── leaderCtx cancelled (lease ran out, session   │
//	    │              expired, member deleted, members unseen for   │
//	    │              a session timeout, ctx ended), then lead      │
//	    │              returns ──────────────────────────────────────┤
//	    └── lead returned by itself: delete our member, pause ───────┘
//
// Suspended is not lost. The keeping session's connection may drop while
// its session lives on: a ZooKeeper ensemble electing a leader of its own
// drops every connection for a second or two, and the client reconnects
// to the same session. As Apache Curator does, a leader distinguishes the
// connection being suspended from the session being lost, and leads on
// through a suspension for as long as its session is certainly alive:
//
//   - the rule: a ZooKeeper ensemble expires a session no earlier than
//     the session timeout after it last heard from the client. The timeout
//     is the one the server granted, when shorter than the one asked for.
//     (ZooKeeper buckets expiries and, after electing a leader of its own,
//     starts every session's timeout afresh; both only make expiry later.)
//   - the lease: the client notes the send time of every request of the
//     keeping session that gets an answer: the probes (an Exists of our
//     member, without a watch, timeout/12 apart while connected) and the
//     connect requests of reconnections to the same session. The session
//     lives until about the latest such time plus the timeout. The leader
//     holds leadership until that moment less a third of the timeout.
//   - the margin: the ensemble's leader keeps the sessions' clocks, and a
//     follower tells it of its clients' requests every half tick. A
//     follower cut off together with its client may take the last half
//     tick of requests with it, and the request before those is up to a
//     probe interval older. ZooKeeper grants no timeout under two ticks
//     (its default minSessionTimeout), so that is at most a quarter plus a
//     twelfth of the timeout: a third. The client's and the servers'
//     clocks are assumed to run at the same rate, not to agree.
//   - suspended: the connection dropped (or answers stopped coming) with
//     the lease running. leaderCtx stays live, leader and members are
//     kept as last seen, and the watch session, which dropped too, is
//     replaced; once the members are seen again, leadership ends if our
//     member is no longer the lowest.
//   - reconnected: the connection came back to the same session within
//     the lease; the connect request renewed the lease, and nothing
//     happened to leadership.
//   - lost: the lease ran out first (the session may have expired on the
//     server), the session expired, or a probe found our member gone:
//     leaderCtx is cancelled at once.
//
// The contract, then: leaderCtx is cancelled before the leader's session
// can have expired on the servers, hence before any other contender can
// see the leader's member go and be elected, provided the leader's process
// runs (a process paused, or a machine suspended, past its lease learns of
// it only when it resumes), the servers grant no timeout under two ticks
// and their clocks do not run fast. What lead does between the
// cancellation and its return is covered by what the margin has to spare
// (tick/2 is usually well under a quarter of the timeout) and, beyond
// that, by the fences on the leader's writes. It is cancelled
// at once when the session is known to have expired, when our member is
// seen deleted, or when ctx ends. Leadership thus outlives a ZooKeeper
// blip shorter than the lease with the same leaderCtx, and, as long as
// members are deleted only by their owners or by session expiry, two
// contenders never lead at once. (A member deleted by someone else reaches
// its owner and the next contender at the same moment, and nothing orders
// the one's stopping before the other's start.)
//
// A Detector likewise keeps the last leader seen while it cannot see the
// members, for up to a session timeout, the longest a leader that lost
// its connection in the same blip may lead on.
//
// The states of a leader's keeping session, with leaderCtx live in the
// first two:
//
//	connected ──── connection drops ────► suspended
//	    ▲                                     │
//	    └── same session back within lease ───┤
//	                                          ▼ lease ran out, or expired
//	                                        lost (leaderCtx cancelled)
//
// When Run's context ends, the Elector deletes its member and closes its
// sessions, so a clean shutdown hands leadership over at once instead of
// after the session timeout.
package zkelect
