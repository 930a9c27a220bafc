package services

import (
	"corral/frameworks/internal/taskuser"
	"corral/internal/edge"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"corral/internal/zkelect"
	"corral/kernel/sched"
)

// Config configures the services framework. Start from DefaultConfig.
type Config struct {
	// Version is corral's version, reported by /v2/info.
	Version string
	// Masters are the base URLs of the kernel's masters. Required unless
	// Detector is set.
	Masters []string
	// Detector, if set, replaces Masters as the source of master URLs
	// (for example the leader as ZooKeeper names it).
	Detector sched.Detector
	// Trust is what this process demands of its callers (credentials,
	// allowed hosts and origins) and the credential it presents to the
	// master.
	Trust edge.Trust
	// ZK is the zk:// URL of the election among the services instances
	// (zk://h1:2181,h2:2181/corral/services): one leads, the others
	// forward the API to it. Empty: the instance holding the database's
	// services lock leads, and another waits for the lock.
	ZK string
	// ZKSessionTimeout is the ZooKeeper session timeout of the election:
	// how long a crashed leader keeps the standbys waiting.
	ZKSessionTimeout time.Duration
	// DB is the Postgres URL (schema services).
	DB string
	// Listen is the address of the Marathon-compatible REST API.
	Listen string
	// Advertise is the base URL others use to reach the API (webui_url).
	Advertise string
	// Name, User and Role are the framework's identity with the kernel.
	Name, User, Role string
	// FailoverTimeout is how long the kernel keeps the framework's tasks
	// running while it is disconnected.
	FailoverTimeout time.Duration
	// DeclineRefuse is the refuse filter of declined offers while something
	// is waiting to launch; IdleRefuse when nothing is.
	DeclineRefuse, IdleRefuse time.Duration
	// ReconcileInterval is the period of implicit reconciliation.
	ReconcileInterval time.Duration
	// EventBuffer is how many events /v2/events can replay.
	EventBuffer int
	// ShutdownGrace bounds graceful shutdown of the HTTP server.
	ShutdownGrace time.Duration
	// DeploymentFailureLimit is how many new instances of a deployment
	// may fail in a row (exit, get lost, or be killed for failing their
	// health checks) before the deployment fails as a crash loop,
	// without waiting for its progressDeadlineSeconds. A new instance
	// becoming ready starts the count again. 0: never.
	DeploymentFailureLimit int

	// CallbackTimeout bounds each POST of an event to a callback URL of
	// /v2/eventSubscriptions, connection included (Marathon's
	// http_event_request_timeout).
	CallbackTimeout time.Duration
	// CallbackRetries is how many times a POST that failed (no answer in
	// time, or an answer other than 2xx) is made again before the event
	// is dropped for that callback. The first retry waits CallbackBackoff;
	// each next one twice as long, up to CallbackBackoffMax.
	CallbackRetries                     int
	CallbackBackoff, CallbackBackoffMax time.Duration
	// CallbackQueue is how many events wait for each callback URL while it
	// is slow; the events that find its queue full are dropped for it.
	CallbackQueue int

	// LocalPortMin and LocalPortMax bound the service ports given to the
	// ports that ask for any (port or servicePort 0), both included
	// (Marathon's local_port_min and local_port_max). A port asked for by
	// number may lie outside.
	LocalPortMin, LocalPortMax int
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Version:           "dev",
		Masters:           []string{"http://127.0.0.1:5050"},
		Listen:            ":8080",
		Name:              "services",
		User:              taskuser.Default(),
		Role:              "*",
		FailoverTimeout:   7 * 24 * time.Hour,
		DeclineRefuse:     5 * time.Second,
		IdleRefuse:        120 * time.Second,
		ReconcileInterval: 15 * time.Minute,
		EventBuffer:       10000,
		ShutdownGrace:     5 * time.Second,
		ZKSessionTimeout:  10 * time.Second,

		DeploymentFailureLimit: 3,

		CallbackTimeout:    10 * time.Second,
		CallbackRetries:    3,
		CallbackBackoff:    time.Second,
		CallbackBackoffMax: 30 * time.Second,
		CallbackQueue:      1024,

		LocalPortMin: 10000,
		LocalPortMax: 20000,
	}
}

// Validate reports every invalid field by its flag name.
func (c Config) Validate() error {
	var errs []error
	if len(c.Masters) == 0 && c.Detector == nil {
		errs = append(errs, errors.New("master: at least one master URL is required"))
	}
	for _, m := range c.Masters {
		if u, err := url.Parse(m); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			errs = append(errs, fmt.Errorf("master: %q is not a base URL like http://host:5050", m))
		}
	}
	if c.DB == "" {
		errs = append(errs, errors.New("db: a Postgres URL is required"))
	}
	if c.ZK != "" {
		if _, err := zkelect.ParseURL(c.ZK); err != nil {
			errs = append(errs, fmt.Errorf("zk: %v", err))
		}
		if c.ZKSessionTimeout <= 0 {
			errs = append(errs, errors.New("zk_session_timeout: must be positive"))
		}
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("http: %v", err))
	}
	if c.Name == "" || c.User == "" {
		errs = append(errs, errors.New("name and user must not be empty"))
	}
	if c.Role == "" {
		errs = append(errs, errors.New("role: must not be empty"))
	}
	if c.FailoverTimeout <= 0 {
		errs = append(errs, errors.New("failover_timeout: must be positive"))
	}
	if c.DeclineRefuse <= 0 || c.IdleRefuse <= 0 || c.ReconcileInterval <= 0 {
		errs = append(errs, errors.New("refuse and reconcile intervals must be positive"))
	}
	if c.EventBuffer < 1 {
		errs = append(errs, errors.New("event_buffer: must be at least 1"))
	}
	if c.DeploymentFailureLimit < 0 {
		errs = append(errs, errors.New("deployment_failure_limit: must not be negative"))
	}
	if c.CallbackTimeout <= 0 {
		errs = append(errs, errors.New("http_event_request_timeout: must be positive"))
	}
	if c.CallbackRetries < 0 || c.CallbackBackoff <= 0 || c.CallbackBackoffMax < c.CallbackBackoff || c.CallbackQueue < 1 {
		errs = append(errs, errors.New("event callbacks: retries must not be negative, backoff must be positive and at most its cap, the queue at least 1"))
	}
	if c.LocalPortMin < 1 || c.LocalPortMin > 65535 {
		errs = append(errs, fmt.Errorf("local_port_min: must be between 1 and 65535 (got %d)", c.LocalPortMin))
	}
	if c.LocalPortMax < 1 || c.LocalPortMax > 65535 {
		errs = append(errs, fmt.Errorf("local_port_max: must be between 1 and 65535 (got %d)", c.LocalPortMax))
	} else if c.LocalPortMax < c.LocalPortMin {
		errs = append(errs, fmt.Errorf("local_port_max: must not be below local_port_min (%d < %d)", c.LocalPortMax, c.LocalPortMin))
	}
	return errors.Join(errs...)
}
