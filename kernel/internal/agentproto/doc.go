// Package agentproto holds the wire types of corral's own master⇄agent
// protocol (HTTP + JSON + RecordIO), shared by the master and the agent.
//
// The agent opens one long-lived stream and sends everything else as short
// calls, all to the master's POST /internal/v1/agent:
//
//	agent                                  master
//	  │ Call{REGISTER, agent info, tasks}  │
//	  │──────────────────────────────────▶│  admits (or re-admits) the agent
//	  │◀──── 200, RecordIO stream ────────│  Event{REGISTERED, agent_id, connection_id}
//	  │◀──── Event{LAUNCH|KILL|ACK|…} ────│  commands, in order, plus HEARTBEAT
//	  │ Call{UPDATE, status updates}      │  202: forwarded to frameworks
//	  │ Call{HEARTBEAT}  every interval   │  202: keeps the agent reachable
//	  │ Call{SECRETS, framework, task}    │  200: the values of the stored
//	  │                                   │  secrets the task references
//
// Every call but REGISTER carries agent_id and the connection_id from the
// REGISTERED event; a call from a stale connection is answered 409 and the
// agent must register again (SECRETS: 404, as for a task the connection
// does not run; see SecretsRequest). A master that is not leading answers 307 with a
// Location, or 503 when it knows no leader.
//
// Status updates are reliable: the agent checkpoints each one, sends the
// oldest unacknowledged update of every task (with the task's latest state
// alongside), and resends until an ACKNOWLEDGE event for that uuid arrives.
// The master updates its view of the task from LatestState and forwards the
// update itself to the framework, which acknowledges it through the master.
//
// Secrets: a LAUNCH carries a task's environment as the framework gave it,
// with stored secrets by reference only. The launch worker of an agent
// that has such a task asks for their values with SECRETS just before it
// starts the task, and only the task's process environment holds them.
package agentproto
