package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// changesChannel is where the database announces, at commit, the changes
// a scheduler must learn of (migration 000006): a job created, redefined
// or deleted, and a manual or dependency run queued, by any process.
const changesChannel = "jobs_changed"

// Change is one announced change.
type Change struct {
	// Job names a job that was created, redefined or deleted.
	Job string
	// Run is a manual or dependency run that was queued.
	Run int64
	// All says that what changed could not be named: read every job.
	All bool
}

// Listener is a connection of its own on which the database announces
// changes. It is not safe for concurrent use.
type Listener struct {
	conn *pgx.Conn
}

// Listen connects and listens for changes: every change committed after
// Listen returns is announced, in commit order, while the connection
// lasts. The caller must Close the Listener.
func (s *Store) Listen(ctx context.Context) (*Listener, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("connecting to listen for changes: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+changesChannel); err != nil {
		_ = conn.Close(context.Background())
		return nil, fmt.Errorf("listening for changes: %w", err)
	}
	return &Listener{conn: conn}, nil
}

// Next waits until a change is announced or ctx ends. When ctx ends the
// Listener stays usable and Next returns ctx's error; any other error
// means the connection is lost and changes may have been missed: Close
// the Listener, Listen again and read everything again.
func (l *Listener) Next(ctx context.Context) (Change, error) {
	n, err := l.conn.WaitForNotification(ctx)
	if err != nil {
		if ctx.Err() != nil && !l.conn.IsClosed() {
			return Change{}, ctx.Err()
		}
		return Change{}, fmt.Errorf("waiting for changes: %w", err)
	}
	return parseChange(n.Payload), nil
}

// parseChange reads a payload; one it cannot read asks for everything.
func parseChange(payload string) Change {
	kind, arg, _ := strings.Cut(payload, ":")
	switch kind {
	case "job":
		if arg != "" {
			return Change{Job: arg}
		}
	case "run":
		if id, err := strconv.ParseInt(arg, 10, 64); err == nil {
			return Change{Run: id}
		}
	}
	return Change{All: true}
}

// Ping checks the Listener's connection.
func (l *Listener) Ping(ctx context.Context) error {
	if err := l.conn.Ping(ctx); err != nil {
		return fmt.Errorf("checking the changes connection: %w", err)
	}
	return nil
}

// Close closes the Listener's connection, waiting at most until ctx ends.
func (l *Listener) Close(ctx context.Context) {
	_ = l.conn.Close(ctx)
}

// JobsNamed returns those of the named jobs that exist, ordered by name.
func (s *Store) JobsNamed(ctx context.Context, names []string) ([]JobRecord, error) {
	if len(names) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+jobColumns+` FROM jobs.jobs WHERE name = ANY($1::text[]) ORDER BY name`, names)
	if err != nil {
		return nil, fmt.Errorf("reading %d jobs: %w", len(names), err)
	}
	jobs, err := pgx.CollectRows(rows, scanJob)
	if err != nil {
		return nil, fmt.Errorf("reading %d jobs: %w", len(names), err)
	}
	return jobs, nil
}

// QueuedRuns returns those of runs ids that are QUEUED, ordered by id.
func (s *Store) QueuedRuns(ctx context.Context, ids []int64) ([]Run, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+runColumns+` FROM jobs.runs WHERE id = ANY($1::bigint[]) AND state = 'QUEUED' ORDER BY id`, ids)
	if err != nil {
		return nil, fmt.Errorf("reading %d runs: %w", len(ids), err)
	}
	runs, err := pgx.CollectRows(rows, scanRun)
	if err != nil {
		return nil, fmt.Errorf("reading %d runs: %w", len(ids), err)
	}
	return runs, nil
}
