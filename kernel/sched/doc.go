// Package sched is the framework SDK: a client of the Mesos v1 scheduler
// HTTP API (POST /api/v1/scheduler, JSON) that corral's frameworks use to
// talk to a master exactly as a third-party framework would. It works
// against corral's master and against Apache Mesos.
//
// Vocabulary:
//
//   - subscription: the long-lived SUBSCRIBE response, a RecordIO stream
//     of events identified by its Mesos-Stream-Id.
//   - call: any other request; it travels on its own connection, carries
//     the framework id and the current stream id, and is answered 202
//     (UPDATE_FRAMEWORK: 200). Its effects arrive later as events.
//   - leader: the master that accepted the last SUBSCRIBE, possibly after
//     a 307 redirect. Calls go to it.
//   - silence allowance: HeartbeatMisses x the heartbeat interval from the
//     last SUBSCRIBED; a stream quiet for longer is considered dead.
//   - offer wish: per role, whether the framework wants offers. Suppress
//     and Revive change it at once, connected or not; every SUBSCRIBE
//     lists the roles wished suppressed at that moment, and after
//     SUBSCRIBED the Client sends what the master still lacks (a wish
//     changed while the SUBSCRIBE was in flight, a REVIVE that reached no
//     master, whose refuse filters may stand), retrying with backoff.
//   - removed: the master removed the framework (a TEARDOWN from anyone
//     holding its id, an operator, the failover timeout) and refuses
//     its id for good. Masters say so with the ERROR "Framework has been
//     removed": Mesos on a stream, corral's master as a lone record with
//     no Mesos-Stream-Id; or a 4xx with those words. The Client then
//     never subscribes again: Run returns a *RemovedError.
//   - status: Status() says subscribed, disconnected or removed, since
//     when, and the last error; Status.Check judges it for a health
//     report, forgiving GraceHeartbeats heartbeat intervals without a
//     subscription.
//
// A Client owns one subscription at a time. Run drives this state machine
// until its context is done:
//
//	        Run(ctx)
//	           |
//	           v
//	   +--------------+   307: follow Location with the redirecting
//	+->|  connecting  |<-+  master's scheme, at most 3 hops
//	|  +--------------+--+
//	|     |    |    |
//	|     |    |    +- connection error, 5xx, 408, 429: try the next
//	|     |    |       master, last leader first; when all failed --+
//	|     |    | 4xx, or 200 with a lone ERROR                      |
//	|     |    +--> removal: Run returns *RemovedError (terminal)   |
//	|     |         other 4xx: Run returns *CallError               v
//	|     | 200 with Mesos-Stream-Id                        +-------------+
//	|     v                                                 |   backoff   |
//	|  +-----------+  EOF, read or decode error,            | 100 ms x 2^n|
//	|  | streaming |-- silence > HeartbeatMisses x -------->| jittered,   |
//	|  +-----------+   heartbeat interval                   | capped at   |
//	|     | SUBSCRIBED (ERROR and other events              | BackoffMax  |
//	|     |            go to the handler in order; an       +-------------+
//	|     v            ERROR saying removed ends Run: *RemovedError)
//	|  +------------+                                          ^       |
//	|  | subscribed |-- same causes (n starts again at 0) -----+       |
//	|  +------------+                                                  |
//	|   Connected() is true; calls are sent to the leader              |
//	+------------------------------------------------------------------+
//
//	ctx done: Run returns ctx.Err()          Teardown: Run returns nil
//	removed (by a master or Teardown): every later Run returns at once
//
// The first SUBSCRIBE carries no framework id unless Config.Framework.ID
// is set (failover); once SUBSCRIBED names the id, every re-subscription
// sends it as framework_id and framework_info.id. Offers do not survive a
// disconnection; handlers typically reconcile when they see SUBSCRIBED.
//
// Goroutines: Run's caller dispatches events; a reader goroutine per
// stream decodes records ahead of a busy handler; one goroutine brings
// each subscription's master to the offer wish; and with
// AutoAcknowledge a few more send acknowledgements, several at once,
// those of one task in order. Run starts and joins them all before it
// returns.
package sched
