package main

import (
	"context"
	"log/slog"

	"corral/internal/zkelect"
	"corral/kernel/detect"
)

// resolveMasters reads a --master value: a comma-separated list of master
// URLs (returned as urls), or a zk:// URL whose election is watched until
// ctx ends (returned as d).
func resolveMasters(ctx context.Context, flag string, log *slog.Logger) (urls []string, d detect.Source, err error) {
	if zkelect.IsURL(flag) {
		d, err = detect.New(ctx, flag, detect.Options{Logger: log.With("component", "detector")})
		if err != nil {
			return nil, nil, usageError{"master: " + err.Error()}
		}
		return nil, d, nil
	}
	urls, err = detect.ParseList(flag)
	if err != nil {
		return nil, nil, usageError{err.Error()}
	}
	return urls, nil, nil
}
