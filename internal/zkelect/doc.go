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
//	lead(leaderCtx) ── leaderCtx cancelled (connection dropped,      │
//	    │              session expired, member deleted, watch lost,  │
//	    │              ctx ended), then lead returns ────────────────┤
//	    └── lead returned by itself: delete our member, pause ───────┘
//
// leaderCtx is cancelled the moment leadership may be lost. A dropped
// connection counts: the session may already have expired and another
// contender be leading, so the leader stops rather than risk two leaders.
// Leadership is thus never held without a live connection, and, as long as
// members are deleted only by their owners or by session expiry, two
// contenders never lead at once. (A member deleted by someone else reaches
// its owner and the next contender at the same moment, and nothing orders
// the one's stopping before the other's start.)
//
// When Run's context ends, the Elector deletes its member and closes its
// sessions, so a clean shutdown hands leadership over at once instead of
// after the session timeout.
package zkelect
