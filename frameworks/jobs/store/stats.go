package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Stats are a job's run counters, as Chronos reports them.
type Stats struct {
	SuccessCount           int64
	ErrorCount             int64
	ErrorsSinceLastSuccess int64
	LastSuccess            *time.Time // nil: never
	LastError              *time.Time // nil: never
}

// Stats returns the stats of every job, keyed by job name; a job with no
// recorded result has zero Stats.
func (s *Store) Stats(ctx context.Context) (map[string]Stats, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT j.name, coalesce(st.success_count, 0), coalesce(st.error_count, 0),
			coalesce(st.errors_since_last_success, 0), st.last_success, st.last_error
		FROM jobs.jobs AS j LEFT JOIN jobs.stats AS st ON st.job = j.name`)
	if err != nil {
		return nil, fmt.Errorf("listing job stats: %w", err)
	}
	defer rows.Close()
	stats := map[string]Stats{}
	for rows.Next() {
		var name string
		var st Stats
		if err := rows.Scan(&name, &st.SuccessCount, &st.ErrorCount, &st.ErrorsSinceLastSuccess, &st.LastSuccess, &st.LastError); err != nil {
			return nil, fmt.Errorf("listing job stats: %w", err)
		}
		st.LastSuccess, st.LastError = tsPtr(st.LastSuccess), tsPtr(st.LastError)
		stats[name] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing job stats: %w", err)
	}
	return stats, nil
}

// RecordResult counts one finished run of job, at time at: a success adds
// to SuccessCount and resets ErrorsSinceLastSuccess; a failure adds to
// ErrorCount and ErrorsSinceLastSuccess. LastSuccess or LastError becomes
// at unless it is already later. It is not idempotent: call it in the same
// transaction as the TransitionRun that finishes the run, which happens
// once. An unknown job is ErrNotFound.
func (s *Store) RecordResult(ctx context.Context, job string, success bool, at time.Time) error {
	return s.write(ctx, func(q querier) error { return recordResult(ctx, q, job, success, at) })
}

// RecordResult is Store.RecordResult within the transaction.
func (t *Tx) RecordResult(ctx context.Context, job string, success bool, at time.Time) error {
	return recordResult(ctx, t.tx, job, success, at)
}

const recordResultSQL = `
		INSERT INTO jobs.stats AS st (job, success_count, error_count, errors_since_last_success, last_success, last_error)
		SELECT $1,
			CASE WHEN $2::boolean THEN 1 ELSE 0 END,
			CASE WHEN $2::boolean THEN 0 ELSE 1 END,
			CASE WHEN $2::boolean THEN 0 ELSE 1 END,
			CASE WHEN $2::boolean THEN $3::timestamptz END,
			CASE WHEN $2::boolean THEN NULL ELSE $3::timestamptz END
		WHERE EXISTS (SELECT 1 FROM jobs.jobs WHERE name = $1)
		ON CONFLICT (job) DO UPDATE SET
			success_count = st.success_count + excluded.success_count,
			error_count = st.error_count + excluded.error_count,
			errors_since_last_success = CASE WHEN $2::boolean THEN 0 ELSE st.errors_since_last_success + 1 END,
			last_success = greatest(st.last_success, excluded.last_success),
			last_error = greatest(st.last_error, excluded.last_error)`

func recordResult(ctx context.Context, q querier, job string, success bool, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("recording result of job %q: zero time: %w", job, ErrInvalid)
	}
	tag, err := q.Exec(ctx, recordResultSQL, job, success, ts(at))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		// The job was deleted by a concurrent transaction.
		return fmt.Errorf("recording result of job %q: %w", job, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("recording result of job %q: %w", job, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("recording result of job %q: %w", job, ErrNotFound)
	}
	return nil
}
