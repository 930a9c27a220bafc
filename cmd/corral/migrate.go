package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"corral/internal/migrate"
)

func migrateCommand() *command {
	var db string
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.StringVar(&db, "db", "", "Postgres URL, e.g. postgres://user@localhost:5432/corral (required)")
	c := &command{name: "migrate", summary: "apply (up), revert (down) or show (version) the database migrations", usage: "[flags] up|down|version", fs: fs}
	c.run = func(args []string) error {
		if len(args) != 1 {
			return usageError{"want exactly one of: up, down, version"}
		}
		if db == "" {
			return usageError{"db: a Postgres URL is required"}
		}
		ctx, stop := signalContext()
		defer stop()
		switch args[0] {
		case "up":
			if err := migrate.Up(ctx, db); err != nil {
				return err
			}
		case "down":
			if err := migrate.Down(ctx, db); err != nil {
				return err
			}
		case "version":
		default:
			return usageError{fmt.Sprintf("unknown migrate action %q (want up, down or version)", args[0])}
		}
		v, dirty, err := migrate.Version(ctx, db)
		if err != nil {
			return err
		}
		fmt.Printf("version %d", v)
		if dirty {
			fmt.Print(" (dirty: a migration failed half way; fix the database, then force the version)")
		}
		fmt.Println()
		return nil
	}
	return c
}

// migrateUpRetry applies migrations, retrying while the database is not
// reachable yet (a server starting beside Postgres). It gives up only when
// ctx is done.
func migrateUpRetry(ctx context.Context, db string, log *slog.Logger) error {
	backoff := 200 * time.Millisecond
	for {
		err := migrate.Up(ctx, db)
		if err == nil || ctx.Err() != nil {
			return err
		}
		log.Warn("database migrations failed; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}
