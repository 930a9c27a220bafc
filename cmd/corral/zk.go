package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

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

// urlElection is a ZooKeeper election among framework instances whose
// members' data is {"url": "<advertised base URL>"}.
type urlElection struct{ *zkelect.Elector }

// frameworkMemberPrefix names services instances' members in ZooKeeper:
// distinct from the jobs instances' ("jobs_") and the masters'
// ("json.info_"), so that sharing a path never mixes two elections.
const frameworkMemberPrefix = "services_"

func newURLElection(u zkelect.URL, self string, session time.Duration, log *slog.Logger) urlElection {
	data, _ := json.Marshal(map[string]string{"url": self})
	return urlElection{zkelect.NewElector(u, data, zkelect.Options{SessionTimeout: session, Prefix: frameworkMemberPrefix, Logger: log})}
}

// Leader returns the leading instance's URL.
func (e urlElection) Leader() (string, bool) {
	l, ok := e.Elector.Leader()
	if !ok {
		return "", false
	}
	var m struct {
		URL string `json:"url"`
	}
	if json.Unmarshal(l.Data, &m) != nil || m.URL == "" {
		return "", false
	}
	return m.URL, true
}
