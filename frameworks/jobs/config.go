package jobs

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"time"

	"corral/frameworks/internal/taskuser"
	"corral/frameworks/jobs/job"
	"corral/internal/edge"
	"corral/internal/zkelect"
	"corral/kernel/sched"
)

// Config configures the jobs framework. Start from DefaultConfig.
type Config struct {
	// Version is corral's version, reported by /v1/info.
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
	// DB is the Postgres URL (schema jobs).
	DB string
	// Listen is the address of the jobs API (native and Chronos).
	Listen string
	// MetronomeListen, if set, is the address of a second listener that
	// serves the Metronome API (/v1/jobs with Metronome's shapes) at its
	// root, behind the same edge as Listen (credentials, ACLs, TLS,
	// cross-site checks, body limits). Empty: none; the main listener
	// serves it under /metronome/v1/ either way.
	MetronomeListen string
	// Advertise is the base URL others use to reach the API. With ZK it
	// is also what this instance publishes in the election, so standbys
	// forward writes to it.
	Advertise string
	// ZK is the zk:// URL of the election among the jobs instances
	// (zk://h1:2181,h2:2181/corral/jobs). With it an instance leads while
	// it is elected there; standbys forward writes to the leader. Empty:
	// the instance holding the database lock leads, and nothing is
	// forwarded. Either way each term is fenced in the database.
	ZK string
	// ZKSessionTimeout is the ZooKeeper session timeout of the election:
	// how long a crashed leader keeps the standbys waiting.
	ZKSessionTimeout time.Duration
	// Name, User and Role are the framework's identity with the kernel.
	Name, User, Role string
	// FailoverTimeout is how long the kernel keeps tasks running while the
	// framework is away.
	FailoverTimeout time.Duration
	// DefaultCPUs, DefaultMem and DefaultDisk apply to jobs that ask for 0
	// (Chronos' --mesos_task_cpu/mem/disk).
	DefaultCPUs, DefaultMem, DefaultDisk float64
	// Retention is how long finished runs are kept; KeepRuns is how many
	// of each job's newest runs are kept regardless.
	Retention time.Duration
	KeepRuns  int
	// OfferHold is how far ahead of a due run the offers it would be
	// placed on are sought and kept instead of declined, so that it starts
	// without waiting for an offer. Offers no run due within it would use
	// are declined, for other frameworks; a longer hold takes agents from
	// them for longer.
	OfferHold time.Duration
	// UnreachableTimeout is how long a run's task may stay unreachable
	// (its agent cut off or dead) before the run gives up on it: the
	// attempt fails (and is retried if retries remain), and the task is
	// killed should it come back.
	UnreachableTimeout time.Duration
	// EventBuffer is how many events /v1/events can replay.
	EventBuffer int
	// NotifyWebhook, if set, is told about the FAILED runs of jobs that
	// name no webhooks of their own: an absolute http or https URL.
	NotifyWebhook string
	// NotifyTimeout bounds one attempt to deliver a notification:
	// connecting, redirects and the answer.
	NotifyTimeout time.Duration
	// NotifyBackoff is the delay before a failed notification is tried
	// again; it doubles with each further failure, up to
	// NotifyBackoffMax.
	NotifyBackoff, NotifyBackoffMax time.Duration
	// NotifyGiveUp is how long after a run ended its notifications are
	// still tried; then they are abandoned.
	NotifyGiveUp time.Duration
	// SMTP, if set (host:port), is the mail server through which the
	// owners of a job (its owner field: e-mail addresses, as in Chronos)
	// are told of its FAILED runs, as durably as webhooks. SMTPFrom is
	// the sender's address (required with SMTP); SMTPUser and
	// SMTPPassword, if set, authenticate (PLAIN, only over TLS or to
	// loopback: STARTTLS is used whenever the server offers it).
	SMTP, SMTPFrom, SMTPUser, SMTPPassword string
	// ShutdownGrace bounds graceful shutdown of the HTTP server.
	ShutdownGrace time.Duration
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Version:            "dev",
		Masters:            []string{"http://127.0.0.1:5050"},
		Listen:             ":4400",
		Name:               "jobs",
		User:               taskuser.Default(),
		Role:               "*",
		ZKSessionTimeout:   10 * time.Second,
		FailoverTimeout:    7 * 24 * time.Hour,
		DefaultCPUs:        0.1,
		DefaultMem:         128,
		DefaultDisk:        256,
		Retention:          30 * 24 * time.Hour,
		KeepRuns:           1000,
		OfferHold:          100 * time.Millisecond,
		UnreachableTimeout: 30 * time.Second,
		EventBuffer:        10000,
		NotifyTimeout:      10 * time.Second,
		NotifyBackoff:      10 * time.Second,
		NotifyBackoffMax:   15 * time.Minute,
		NotifyGiveUp:       24 * time.Hour,
		ShutdownGrace:      5 * time.Second,
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
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("http: %v", err))
	}
	if c.MetronomeListen != "" {
		if _, _, err := net.SplitHostPort(c.MetronomeListen); err != nil {
			errs = append(errs, fmt.Errorf("metronome_http: %v", err))
		} else if c.MetronomeListen == c.Listen {
			errs = append(errs, errors.New("metronome_http: must differ from http"))
		}
	}
	if c.ZK != "" {
		if _, err := zkelect.ParseURL(c.ZK); err != nil {
			errs = append(errs, fmt.Errorf("zk: %v", err))
		}
		if c.ZKSessionTimeout <= 0 {
			errs = append(errs, errors.New("zk_session_timeout: must be positive"))
		}
	}
	if c.Name == "" || c.User == "" || c.Role == "" {
		errs = append(errs, errors.New("framework_name, user and role must not be empty"))
	}
	if c.FailoverTimeout <= 0 {
		errs = append(errs, errors.New("failover_timeout: must be positive"))
	}
	if c.DefaultCPUs <= 0 || c.DefaultMem <= 0 || c.DefaultDisk < 0 {
		errs = append(errs, errors.New("default task resources must be positive"))
	}
	if c.Retention <= 0 || c.KeepRuns < 1 {
		errs = append(errs, errors.New("retention must be positive and keep_runs at least 1"))
	}
	if c.UnreachableTimeout <= 0 {
		errs = append(errs, errors.New("task_unreachable_timeout: must be positive"))
	}
	if c.OfferHold < 0 || c.EventBuffer < 1 {
		errs = append(errs, errors.New("offer_hold must not be negative and event_buffer at least 1"))
	}
	if c.NotifyWebhook != "" {
		if err := job.ValidWebhookURL(c.NotifyWebhook); err != nil {
			errs = append(errs, fmt.Errorf("notify_webhook: %v", err))
		}
	}
	if c.SMTP != "" {
		if _, _, err := net.SplitHostPort(c.SMTP); err != nil {
			errs = append(errs, fmt.Errorf("smtp: %q is not host:port", c.SMTP))
		}
		if a, err := mail.ParseAddress(c.SMTPFrom); err != nil || a.Name != "" {
			errs = append(errs, fmt.Errorf("smtp_from: %q is not an e-mail address (required with --smtp)", c.SMTPFrom))
		}
	} else if c.SMTPFrom != "" || c.SMTPUser != "" {
		errs = append(errs, errors.New("smtp_from and smtp_user need --smtp"))
	}
	if c.NotifyTimeout <= 0 || c.NotifyBackoff <= 0 || c.NotifyGiveUp <= 0 {
		errs = append(errs, errors.New("notify_timeout, notify_backoff and notify_give_up must be positive"))
	}
	if c.NotifyBackoffMax < c.NotifyBackoff {
		errs = append(errs, errors.New("notify_backoff_max must be at least notify_backoff"))
	}
	return errors.Join(errs...)
}
