// Package detect finds the leading master for agents and frameworks, from
// a --master flag value: either a comma-separated list of master URLs
// (tried in turn; a standby redirects to the leader), or a ZooKeeper URL
// (zk://h1:2181,h2:2181/corral) naming the masters' election, which is
// watched so that a new leader is known within a watch round trip.
package detect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"corral/internal/zkelect"
	"corral/kernel/mesos"
)

// Source returns the master URLs to try, the most likely leader first. It
// satisfies both agent.Detector and sched.Detector. A ZooKeeper source also
// has Changes() <-chan struct{}, closed at the next change of leader.
type Source interface {
	Masters(ctx context.Context) ([]string, error)
}

// Options tune a ZooKeeper source.
type Options struct {
	// SessionTimeout of the ZooKeeper session; zero means zkelect's default.
	SessionTimeout time.Duration
	Logger         *slog.Logger
	// Scheme of the leaders' URLs: "https" for a cluster that speaks
	// TLS; empty means "http". (The MasterInfo a master publishes does
	// not say.)
	Scheme string
}

// New returns the Source that flag names. A list is checked and returned
// as is. A zk:// URL starts watching the election in a goroutine that
// lives until ctx ends; its Masters blocks until a leader is known.
func New(ctx context.Context, flag string, o Options) (Source, error) {
	if zkelect.IsURL(flag) {
		u, err := zkelect.ParseURL(flag)
		if err != nil {
			return nil, err
		}
		d := zkelect.NewDetector(u, zkelect.Options{SessionTimeout: o.SessionTimeout, Logger: o.Logger})
		go func() { _ = d.Run(ctx) }()
		scheme := o.Scheme
		if scheme == "" {
			scheme = "http"
		}
		return zkSource{d: d, scheme: scheme}, nil
	}
	list, err := ParseList(flag)
	if err != nil {
		return nil, err
	}
	return Static(list), nil
}

// ParseList splits a comma-separated list of master base URLs and checks
// each.
func ParseList(s string) ([]string, error) {
	var out []string
	for _, m := range strings.Split(s, ",") {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		u, err := url.Parse(m)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("master %q: want a base URL like http://host:5050 or zk://host:2181/corral", m)
		}
		out = append(out, strings.TrimRight(m, "/"))
	}
	if len(out) == 0 {
		return nil, errors.New("no master given: want http://host:5050[,http://host2:5050] or zk://host:2181/corral")
	}
	return out, nil
}

// Static is a fixed list of masters.
type Static []string

// Masters returns the list.
func (s Static) Masters(context.Context) ([]string, error) { return s, nil }

type zkSource struct {
	d      *zkelect.Detector
	scheme string
}

// Changes returns a channel closed at the next change of leader.
func (z zkSource) Changes() <-chan struct{} { return z.d.Changes() }

// Masters waits for a leader and returns its URL from its MasterInfo.
func (z zkSource) Masters(ctx context.Context) ([]string, error) {
	l, err := z.d.Wait(ctx)
	if err != nil {
		return nil, err
	}
	u, err := baseURL(l, z.scheme)
	if err != nil {
		return nil, err
	}
	return []string{u}, nil
}

// Leader returns the URL of the leader known now, without waiting.
func (z zkSource) Leader() (string, bool) {
	l, ok := z.d.Leader()
	if !ok {
		return "", false
	}
	u, err := baseURL(l, z.scheme)
	return u, err == nil
}

// baseURL reads a leader's URL from its MasterInfo.
func baseURL(l zkelect.Leader, scheme string) (string, error) {
	var mi mesos.MasterInfo
	if err := json.Unmarshal(l.Data, &mi); err != nil {
		return "", fmt.Errorf("leading master's info in %s: %w", l.Node, err)
	}
	return mi.BaseURLScheme(scheme)
}
