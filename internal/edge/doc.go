// Package edge is the HTTP edge every corral server stands on: the
// master, the agent, services, jobs, the console and its proxies.
//
// A request passes, outermost first:
//
//	recovery + logging   a panic becomes a 500; one log line per request,
//	                     5xx at error level with their cause
//	body limit           Config.MaxBodyBytes (413) and Config.BodyTimeout
//	                     (408) on reading the body
//	guards               Config.Guards: authentication, authorization,
//	                     cross-site checks
//	the API's handler
//
// The server has explicit timeouts (headers, body, idle; on writing only
// where no response is a long-lived stream), speaks TLS when Config.TLS is set,
// and shuts down gracefully within Config.ShutdownGrace.
//
// Errors keep the client's message apart from the cause: an *Error's
// Message is what the client reads, its Cause goes only to the log line
// of the request. APIs keep their own wire shapes (Mesos' text, Marathon's
// and Chronos' JSON): they map their domain errors themselves and pass
// anything else to Fail, which notes the cause for the log and gives them
// a status and a message that reveal nothing of it.
package edge
