// Package notify decides the webhook notifications of ended runs: which
// URLs a run's end is told to, the JSON they are told, and what becomes of
// a delivery after each attempt. It is pure: the jobs framework's
// notifier (the shell) stores, claims and POSTs; this package takes the
// facts and the time from it and returns decisions.
//
// # Vocabulary
//
//   - target: a URL to tell, with whether it is the framework's default
//     webhook (--notify_webhook) or one of the job's own.
//   - notification: one run's end told to one target; delivered at least
//     once, under a delivery id that stays the same across attempts, so
//     receivers can dedupe.
//   - attempt: one POST. It succeeds when the receiver answers 2xx.
//
// # Who is told
//
// A job's webhooks are told about the states their "on" lists; a job
// with none has the default webhook, if configured, told about its FAILED
// runs. KILLED runs are told to nobody: someone asked for them.
//
// # Retries
//
//	ended ──▶ pending ──2xx──▶ delivered
//	             │
//	             └─ failure ─▶ failing ──2xx──▶ delivered
//	                  (Backoff · 2ⁿ⁻¹,  │
//	                  at most MaxBackoff)└─ next attempt after GiveUp ─▶ abandoned
//
// A failure is an answer other than 2xx, or none (a refused connection,
// a timeout, a redirect to another scheme). A notification is retried for
// GiveUp after the run ended, then abandoned.
package notify
