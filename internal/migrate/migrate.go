// Package migrate applies corral's embedded schema migrations
// (corral/migrations) to a Postgres database with golang-migrate.
//
// Every function takes a postgres:// (or postgresql://) URL and opens its own
// short-lived connection. golang-migrate holds a Postgres advisory lock while
// it reads or changes the schema, so several processes may call Up on the same
// database at once: one applies the pending migrations, the others wait and
// then find nothing to do.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/golang-migrate/migrate/v4"
	// Registers the "pgx5" database driver.
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"

	"corral/migrations"
)

// Up applies every migration not yet applied. It is idempotent: on an
// up-to-date database it does nothing and returns nil. If ctx ends, Up stops
// after the migration in progress and returns ctx's error.
func Up(ctx context.Context, dbURL string) error {
	return run(ctx, dbURL, "up", (*migrate.Migrate).Up)
}

// Down reverts every applied migration, leaving no corral schema behind
// (golang-migrate's own version table stays). It is idempotent. If ctx ends,
// Down stops after the migration in progress and returns ctx's error.
func Down(ctx context.Context, dbURL string) error {
	return run(ctx, dbURL, "down", (*migrate.Migrate).Down)
}

// Version returns the version of the last migration applied (0 if none), and
// whether that migration failed halfway (dirty), which needs an operator.
func Version(ctx context.Context, dbURL string) (version uint, dirty bool, err error) {
	m, err := open(ctx, dbURL)
	if err != nil {
		return 0, false, err
	}
	defer closeQuietly(m)
	version, dirty, err = m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("reading migration version: %w", err)
	}
	return version, dirty, nil
}

func run(ctx context.Context, dbURL, what string, step func(*migrate.Migrate) error) error {
	m, err := open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer closeQuietly(m)

	// golang-migrate takes no context; GracefulStop makes it stop between
	// migrations.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			select {
			case m.GracefulStop <- true:
			default:
			}
		case <-done:
		}
	}()

	err = step(m)
	if errors.Is(err, migrate.ErrNoChange) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("migrating %s: %w", what, err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("migrating %s: %w", what, context.Cause(ctx))
	}
	return nil
}

// open connects golang-migrate to the embedded migrations and the database.
func open(ctx context.Context, dbURL string) (*migrate.Migrate, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	driverURL, err := pgx5URL(dbURL)
	if err != nil {
		return nil, err
	}
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("reading embedded migrations: %w", err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, driverURL)
	if err != nil {
		return nil, fmt.Errorf("opening database for migrations: %w", err)
	}
	return m, nil
}

// pgx5URL turns a postgres:// URL into the pgx5:// form that selects
// golang-migrate's pgx v5 driver.
func pgx5URL(dbURL string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", fmt.Errorf("parsing database URL: %w", redact(err))
	}
	switch u.Scheme {
	case "postgres", "postgresql", "pgx5":
	default:
		return "", fmt.Errorf("database URL must start with postgres://, got scheme %q", u.Scheme)
	}
	u.Scheme = "pgx5"
	return u.String(), nil
}

// redact drops the URL itself from url.Parse's error, since it may hold a
// password.
func redact(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

func closeQuietly(m *migrate.Migrate) {
	// Close errors come after the work is done or failed; nothing to add.
	_, _ = m.Close()
}
