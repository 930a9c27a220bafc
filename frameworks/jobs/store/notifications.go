package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Target is a webhook to be told that a run ended: one of its job's, or
// the framework's default (Default). A Run carries the targets of the write
// that ends it (Run.Notify); the store records one Notification per
// target, in the same transaction as the run's final state.
type Target struct {
	URL string
	// Default marks the framework's --notify_webhook, as opposed to a
	// webhook the job names itself.
	Default bool
}

// Notifiable reports whether a run that ends in state can be notified:
// FAILED, SUCCEEDED, MISSED or SKIPPED. A KILLED run was stopped by
// someone, who knows.
func Notifiable(state State) bool {
	switch state {
	case StateFailed, StateSucceeded, StateMissed, StateSkipped:
		return true
	}
	return false
}

// DeliveryState is how the delivery of a Notification goes.
type DeliveryState string

// String is the state's name, as the API and the database show it.
func (d DeliveryState) String() string { return string(d) }

// The delivery states:
//
//	pending ──POST 2xx──▶ delivered
//	   │                      ▲
//	   └─failure─▶ failing ───┘ (retried with backoff)
//	                  └──────▶ abandoned (retried for too long)
const (
	DeliveryPending   DeliveryState = "pending"   // not attempted yet
	DeliveryDelivered DeliveryState = "delivered" // a receiver answered 2xx
	DeliveryFailing   DeliveryState = "failing"   // attempts failed; another comes at NextAttemptAt
	DeliveryAbandoned DeliveryState = "abandoned" // attempts failed for longer than the retries last
)

// Due reports whether a delivery in state d may still be attempted.
func (d DeliveryState) Due() bool { return d == DeliveryPending || d == DeliveryFailing }

// Notification is one webhook notification of a run's end and how its
// delivery goes. ID is the delivery id: stable across attempts, leaders
// and restarts, so that receivers can dedupe on it.
type Notification struct {
	ID      string
	RunID   int64
	URL     string
	Default bool  // the framework's --notify_webhook (see Target)
	Event   State // the run's final state
	State   DeliveryState
	// Attempts counts the attempts whose outcome was recorded.
	Attempts int
	// LastStatus is the HTTP status of the last attempt (0: none, or no
	// answer); LastError says why it failed ("" if it did not).
	LastStatus int
	LastError  string
	// CreatedAt is when the run ended. NextAttemptAt is when the delivery
	// is due (while pending or failing; pushed ahead while an attempt is in
	// flight).
	CreatedAt     time.Time
	NextAttemptAt time.Time
	LastAttemptAt *time.Time
	DeliveredAt   *time.Time
}

// Delivery is a notification claimed for an attempt (ClaimNotifications),
// with the run it tells about.
type Delivery struct {
	Notification
	Run Run
}

// Attempt is the outcome of one delivery attempt, as RecordDelivery
// stores it.
type Attempt struct {
	// State is DeliveryDelivered, DeliveryFailing or DeliveryAbandoned.
	State DeliveryState
	// At is when the attempt was made.
	At time.Time
	// Status is the HTTP status of the answer (0: none); Error why the
	// attempt failed ("" for a delivery).
	Status int
	Error  string
	// Next is when a failing delivery is due again.
	Next time.Time
}

// maxErrorLen bounds the last error stored with a notification.
const maxErrorLen = 1024

// validTargets checks the targets of a write that moves run r to its
// state: only a notifiable final state has any, each with a URL, none
// twice.
func validTargets(r Run) error {
	if len(r.Notify) == 0 {
		return nil
	}
	if !Notifiable(r.State) {
		return fmt.Errorf("notifications for state %s: %w", r.State, ErrInvalid)
	}
	for i, t := range r.Notify {
		if t.URL == "" {
			return fmt.Errorf("notification without a URL: %w", ErrInvalid)
		}
		if slices.ContainsFunc(r.Notify[:i], func(o Target) bool { return o.URL == t.URL }) {
			return fmt.Errorf("URL %q notified twice: %w", t.URL, ErrInvalid)
		}
	}
	return nil
}

// insertNotificationSQL records one notification of a run's end,
// idempotently (one per run and URL), and only while the run exists, so
// that a batch naming a run deleted meanwhile still commits. It is due at
// once: at the run's end, else now.
const insertNotificationSQL = `
	INSERT INTO jobs.notifications (id, run_id, url, is_default, event, created_at, next_attempt_at)
	SELECT $1::uuid, r.id, $3, $4, $5, coalesce($6, now()), coalesce($6, now())
	FROM jobs.runs AS r WHERE r.id = $2
	ON CONFLICT (run_id, url) DO NOTHING`

// notificationArgs are the arguments of insertNotificationSQL for each of
// r's targets.
func notificationArgs(r Run) [][]any {
	out := make([][]any, len(r.Notify))
	for i, t := range r.Notify {
		out[i] = []any{uuid.NewString(), r.ID, t.URL, t.Default, string(r.State), tsPtr(r.FinishedAt)}
	}
	return out
}

// insertNotifications records r's notifications (validTargets first).
func insertNotifications(ctx context.Context, q querier, r Run) error {
	for _, args := range notificationArgs(r) {
		if _, err := q.Exec(ctx, insertNotificationSQL, args...); err != nil {
			return fmt.Errorf("recording notifications of run %d: %w", r.ID, err)
		}
	}
	return nil
}

const notificationColumns = `id::text, run_id, url, is_default, event, state, attempts,
	coalesce(last_status, 0), coalesce(last_error, ''), created_at, next_attempt_at,
	last_attempt_at, delivered_at`

func scanNotification(row pgx.CollectableRow) (Notification, error) {
	var n Notification
	err := row.Scan(&n.ID, &n.RunID, &n.URL, &n.Default, &n.Event, &n.State, &n.Attempts,
		&n.LastStatus, &n.LastError, &n.CreatedAt, &n.NextAttemptAt,
		&n.LastAttemptAt, &n.DeliveredAt)
	if err != nil {
		return Notification{}, err
	}
	n.CreatedAt, n.NextAttemptAt = n.CreatedAt.UTC(), n.NextAttemptAt.UTC()
	n.LastAttemptAt, n.DeliveredAt = tsPtr(n.LastAttemptAt), tsPtr(n.DeliveredAt)
	return n, nil
}

// Notifications returns the notifications of the runs ids, by run, each
// run's in the order they were recorded (by URL for one write). Runs
// without any are absent from the map.
func (s *Store) Notifications(ctx context.Context, ids []int64) (map[int64][]Notification, error) {
	out := map[int64][]Notification{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+notificationColumns+` FROM jobs.notifications
		WHERE run_id = ANY($1::bigint[]) ORDER BY run_id, created_at, url`, ids)
	if err != nil {
		return nil, fmt.Errorf("listing notifications of %d runs: %w", len(ids), err)
	}
	ns, err := pgx.CollectRows(rows, scanNotification)
	if err != nil {
		return nil, fmt.Errorf("listing notifications of %d runs: %w", len(ids), err)
	}
	for _, n := range ns {
		out[n.RunID] = append(out[n.RunID], n)
	}
	return out, nil
}

// ClaimNotifications claims up to limit notifications due at now (pending
// or failing, NextAttemptAt not after now), oldest due first, for an
// attempt each: their NextAttemptAt moves to now+lease, so that nobody
// claims them again while the attempt is in flight, and a leader that dies
// during it leaves them due again once the lease has passed. It returns
// them with their runs, oldest first, and next, the earliest NextAttemptAt
// of those still to be delivered after the claim, leases included (nil:
// none). Rows locked by another claim are skipped.
//
// The claim is a write: through a fenced view it fails with ErrFenced once
// a later term has begun, so a deposed leader claims nothing.
func (s *Store) ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Delivery, *time.Time, error) {
	if limit < 1 || lease <= 0 {
		return nil, nil, fmt.Errorf("claiming notifications: limit %d, lease %s: %w", limit, lease, ErrInvalid)
	}
	var out []Delivery
	var next *time.Time
	err := s.Atomically(ctx, func(tx *Tx) error {
		q := tx.tx
		rows, err := q.Query(ctx, `
			UPDATE jobs.notifications SET next_attempt_at = $2
			WHERE id IN (
				SELECT id FROM jobs.notifications
				WHERE state IN ('pending', 'failing') AND next_attempt_at <= $1
				ORDER BY next_attempt_at, id
				LIMIT $3
				FOR UPDATE SKIP LOCKED)
			RETURNING `+notificationColumns,
			ts(now), ts(now.Add(lease)), limit)
		if err != nil {
			return err
		}
		ns, err := pgx.CollectRows(rows, scanNotification)
		if err != nil {
			return err
		}
		ids := make([]int64, 0, len(ns))
		for _, n := range ns {
			ids = append(ids, n.RunID)
		}
		runs := map[int64]Run{}
		if len(ids) > 0 {
			rows, err := q.Query(ctx, `SELECT `+runColumns+` FROM jobs.runs WHERE id = ANY($1::bigint[])`, ids)
			if err != nil {
				return err
			}
			rs, err := pgx.CollectRows(rows, scanRun)
			if err != nil {
				return err
			}
			for _, r := range rs {
				runs[r.ID] = r
			}
		}
		for _, n := range ns {
			// The foreign key keeps every run.
			out = append(out, Delivery{Notification: n, Run: runs[n.RunID]})
		}
		slices.SortFunc(out, func(a, b Delivery) int {
			if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		return q.QueryRow(ctx, `
			SELECT min(next_attempt_at) FROM jobs.notifications WHERE state IN ('pending', 'failing')`).Scan(&next)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("claiming notifications: %w", err)
	}
	return out, tsPtr(next), nil
}

// RecordDelivery stores the outcome of an attempt to deliver notification
// id: its state becomes a.State, Attempts counts one more, and the status,
// error and time are kept; a delivered one records when, a failing one
// when it is due again. Only a notification still pending or failing is
// changed: recording an attempt on one already delivered or abandoned is
// ErrConflict, an unknown id ErrNotFound.
func (s *Store) RecordDelivery(ctx context.Context, id string, a Attempt) error {
	switch {
	case a.State != DeliveryDelivered && a.State != DeliveryFailing && a.State != DeliveryAbandoned:
		return fmt.Errorf("recording delivery %s: state %q: %w", id, a.State, ErrInvalid)
	case a.At.IsZero() || a.State == DeliveryFailing && a.Next.IsZero():
		return fmt.Errorf("recording delivery %s: missing time: %w", id, ErrInvalid)
	case uuid.Validate(id) != nil:
		return fmt.Errorf("recording delivery %q: not a delivery id: %w", id, ErrInvalid)
	}
	msg := a.Error
	if len(msg) > maxErrorLen {
		msg = msg[:maxErrorLen]
	}
	var status *int
	if a.Status != 0 {
		status = &a.Status
	}
	next := a.Next
	if next.IsZero() {
		next = a.At
	}
	var delivered *time.Time
	if a.State == DeliveryDelivered {
		delivered = &a.At
	}
	return s.write(ctx, func(q querier) error {
		tag, err := q.Exec(ctx, `
			UPDATE jobs.notifications SET state = $2, attempts = attempts + 1, last_status = $3,
				last_error = $4, last_attempt_at = $5, next_attempt_at = $6, delivered_at = $7
			WHERE id = $1::uuid AND state IN ('pending', 'failing')`,
			id, string(a.State), status, nullIfEmpty(msg), ts(a.At), ts(next), tsPtr(delivered))
		if err != nil {
			return fmt.Errorf("recording delivery %s: %w", id, err)
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		var state string
		err = q.QueryRow(ctx, `SELECT state FROM jobs.notifications WHERE id = $1::uuid`, id).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("recording delivery %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("recording delivery %s: %w", id, err)
		}
		return fmt.Errorf("recording delivery %s: it is %s already: %w", id, state, ErrConflict)
	})
}

// NotificationCounts returns how many notifications are in each delivery
// state; states with none are absent.
func (s *Store) NotificationCounts(ctx context.Context) (map[DeliveryState]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT state, count(*) FROM jobs.notifications GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("counting notifications: %w", err)
	}
	defer rows.Close()
	out := map[DeliveryState]int64{}
	for rows.Next() {
		var st DeliveryState
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("counting notifications: %w", err)
		}
		out[st] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting notifications: %w", err)
	}
	return out, nil
}
