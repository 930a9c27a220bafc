// Package probe runs single health check probes for the agent, the
// imperative shell around package health:
//
//	COMMAND  the check's command (/bin/sh -c value, or argv) in the task's
//	         sandbox with the task's environment, in its own process group;
//	         exit status 0 passes
//	HTTP     GET scheme://127.0.0.1:port/path (TLS not verified); a status
//	         the check accepts passes
//	TCP      a connection to 127.0.0.1:port is accepted
//
// Each probe is bounded by the check's timeout and by the caller's context:
// when either ends, a command's whole process group is killed, so no probe
// outlives its task's checker.
package probe
