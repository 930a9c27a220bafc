package main

import (
	"context"
	"corral/internal/edge"
	"log/slog"

	"corral/internal/zkelect"
	"corral/kernel/detect"
)

// resolveMasters reads a --master value: a comma-separated list of master
// URLs (returned as urls), or a zk:// URL whose election is watched until
// ctx ends (returned as d).
//
// A process that trusts a CA or has a certificate (--tls_ca, --tls_cert)
// reaches the masters it finds in ZooKeeper over https.
func resolveMasters(ctx context.Context, flag string, log *slog.Logger, trust edge.Trust) (urls []string, d detect.Source, err error) {
	if zkelect.IsURL(flag) {
		scheme := "http"
		if trust.ClientTLS != nil {
			scheme = "https"
		}
		d, err = detect.New(ctx, flag, detect.Options{Logger: log.With("component", "detector"), Scheme: scheme})
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
