// Package update is the agent's status update manager: the pure core that
// decides which reliable status updates to send to the master, and when.
//
// Vocabulary: every task has a stream, the ordered list of its updates not
// yet acknowledged. Only the head of a stream is ever in flight; the next
// update is sent after the head's ACKNOWLEDGE arrives (as Mesos does, so a
// framework sees each task's updates in order). A head that is not
// acknowledged is resent after a retry interval that doubles from Min to Max,
// and at once after every (re-)registration (ResendAll).
//
//	Add ──▶ [u1 u2 u3]   Due(now): u1 (+LatestState of u3)
//	Ack(u1) ──▶ [u2 u3]  Due(now): u2 at once
//	no ack  ──▶ resend u1 at now+interval, interval doubles up to Max
//
// The manager holds no clock and does no I/O: the caller passes now, writes
// the checkpoint before calling Add and Ack, and sends what Due returns.
// A Manager is not safe for concurrent use; one goroutine owns it.
package update
