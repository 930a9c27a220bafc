// Package store is the services framework's durable state in Postgres
// (schema services, see corral/migrations): what a restarted or failed-over
// services scheduler reads to resume where the previous one stopped.
//
// Vocabulary:
//
//   - framework id: the id the kernel assigned when the framework first
//     subscribed; stored so that a restart re-subscribes as the same
//     framework. One row.
//   - app: the current definition of a Marathon app, keyed by its path id
//     (/prod/web). Every definition ever stored for an app is kept as an app
//     version until the app is deleted.
//   - group: a group stored explicitly (one with dependencies, or an empty
//     one); groups implied by app paths have no row.
//   - deployment: a deployment in progress with its plan and progress. The
//     scheduler deletes the row when the deployment ends (EndDeployment),
//     recording it in the deployment history with its outcome: the newest
//     ended deployments, succeeded, failed or cancelled.
//   - instance: one task the framework launched and has not yet forgotten,
//     with its version, agent, host, ports, state and health.
//   - launch delay: an app's launch backoff: consecutive failures and when
//     the last one happened.
//   - subscription: a callback URL of /v2/eventSubscriptions, to which the
//     leader POSTs every event, with the address it was subscribed from.
//   - term: the services instances' leadership term, an epoch in
//     services.term. The leader begins one on taking over (BeginTerm); from
//     then on every write of its Store checks, in its transaction, that no
//     later term has begun, so a deposed leader's writes fail with
//     ErrFenced instead of landing after its successor's.
//
// Every spec is raw JSON owned by the caller; this package knows no services
// types. Postgres stores specs as jsonb, so they come back normalized: the
// same value, not necessarily the same bytes (key order and spacing change,
// and of duplicate keys only the last is kept).
//
// Store is a thin adapter: no pgx type appears in its API, and each method
// is one statement (PutApp and DeleteApp included: each touches two tables in
// one statement, hence one transaction), but EndDeployment, which deletes,
// records and trims in one transaction. Atomically groups several writes in
// one transaction:
//
//	s.Atomically(ctx, func(tx *store.Tx) error {
//		if err := tx.PutApp(ctx, id, version, spec); err != nil {
//			return err
//		}
//		return tx.PutDeployment(ctx, deploymentID, plan)
//	})
//
// Postgres being down is an ordinary error from the call that needed it;
// the pool reconnects on a later call, and retrying with backoff is the
// caller's job. Permanent tells which errors a retry cannot cure.
package store
