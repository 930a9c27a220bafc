// Package pg holds the Postgres plumbing every corral store shares: a lazy
// connection pool, transactions, and which errors are worth retrying. The
// stores (kernel registry, services, jobs) keep their own types and SQL;
// pgx types stay inside them and this package.
package pg

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound is returned (wrapped) by a store when a record asked for
// does not exist. Every store returns this same value.
var ErrNotFound = errors.New("not found")

// ErrInvalid is returned (wrapped) by a store when an argument cannot be
// stored. Retrying such a call cannot succeed.
var ErrInvalid = errors.New("invalid argument")

// Querier is what a store's statements need; a pool and a transaction
// both provide it.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Ping checks that the database behind pool answers; what names the store
// in the error.
func Ping(ctx context.Context, pool *pgxpool.Pool, what string) error {
	if err := pool.Ping(ctx); err != nil {
		return fmt.Errorf("pinging %s database: %w", what, err)
	}
	return nil
}

// ConnectTimeout bounds one connection attempt when the URL sets no
// connect_timeout, so that a database that is down fails a call promptly
// instead of holding it until the caller's deadline.
const ConnectTimeout = 5 * time.Second

// Open returns a pool for dbURL (postgres://…). It does not connect:
// connections are made when a call needs one, so Open fails only for a
// malformed URL and a database that is down at Open is not an error. The
// caller closes the pool.
func Open(ctx context.Context, dbURL string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		// pgx's parse errors do not echo the password.
		return nil, fmt.Errorf("parsing database URL: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = ConnectTimeout
	}
	cfg.MinConns = 0 // lazy: never connect in the background at open
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("creating database pool: %w", err)
	}
	return pool, nil
}

// InTx runs fn in one transaction (READ COMMITTED): committed when fn
// returns nil, rolled back when it returns an error or panics. It returns
// fn's error as is, or the error of beginning or committing (a failed
// commit means nothing was written). It does not retry.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	// After a commit this does nothing; otherwise it undoes fn's writes (and
	// if ctx has ended, pgx closes the connection, which rolls back too).
	defer func() { _ = tx.Rollback(ctx) }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("committing transaction: %w", err)
	}
	return nil
}

// DataError reports whether err is a data or integrity error raised by
// Postgres (SQLSTATE classes 22 and 23): the statement can never succeed
// as written, so retrying it is pointless. Connection failures, timeouts
// and a restarting server are not data errors.
func DataError(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "22") || strings.HasPrefix(pgErr.Code, "23")
	}
	return false
}
