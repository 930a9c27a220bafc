// Package executor is the executor SDK: a client of the Mesos v1 executor
// HTTP API (POST /api/v1/executor on the executor's agent) for writing a
// framework's own executor in Go. It works against corral's agent and
// against Apache Mesos' and speaks JSON or protobuf.
//
// An executor's main is typically:
//
//	cfg, err := executor.FromEnv()
//	...
//	err = executor.Run(ctx, cfg, myHandler{})
//
// Vocabulary:
//
//   - subscription: the long-lived SUBSCRIBE response, a RecordIO stream
//     of events that starts with SUBSCRIBED.
//   - call: UPDATE or MESSAGE, each on its own connection, answered 202.
//   - update: a TaskStatus the executor sends with a random 16-byte UUID.
//     It is pending until the agent answers with ACKNOWLEDGED (task id,
//     UUID); pending updates are resent every ResendInterval and listed
//     in every re-subscription.
//   - unacknowledged task: a task received in LAUNCH none of whose
//     updates the agent has acknowledged. A re-subscription lists it, so
//     that the agent knows the executor has it and does not mark it lost.
//   - checkpointing: the framework lets the agent restart without killing
//     its executors. Then a broken stream is re-subscribed; without it,
//     a broken stream ends the executor.
//
// Run drives this state machine:
//
//	        Run(ctx)
//	           |
//	           v
//	   +---------------+  4xx other than 408 and 429
//	+->|  subscribing  |-----------------------------> Run returns *CallError
//	|  +---------------+
//	|     |        | connection error, 5xx, stream ends before SUBSCRIBED
//	|     |        v
//	|     |    +---------------------------+  not checkpointing (and no
//	|     |    | backoff 1 s x 2^n, capped |  ERROR event), or no
//	+-----|----| at SubscriptionBackoffMax |--> subscription for
//	      |    +---------------------------+    RecoveryTimeout: Run
//	      |                 ^                   returns ErrDisconnected
//	      | SUBSCRIBED      | EOF, read or decode error, ERROR event
//	      v                 |
//	   +------------+       |
//	   | subscribed |-------+
//	   +------------+
//	      |   LAUNCH, KILL, MESSAGE: to the handler
//	      |   ACKNOWLEDGED: forget the update, and its task
//	      |   HEARTBEAT, LAUNCH_GROUP, unknown events: skipped
//	      | SHUTDOWN
//	      v
//	   h.Shutdown, then Run returns nil     ctx done: Run returns ctx.Err()
//
// Every SUBSCRIBE lists the unacknowledged tasks and updates; while
// subscribed, pending updates are resent every ResendInterval.
//
// Goroutines: Run's caller reads the stream and calls the handler; while
// subscribed one more goroutine resends pending updates. Run joins it
// before it returns. The Driver is safe for concurrent use, so handlers
// may report from goroutines of their own.
package executor
