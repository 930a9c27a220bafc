package sched

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"corral/kernel/mesos"
)

// Defaults applied by New to zero-valued Config fields.
const (
	DefaultBackoffMax      = 15 * time.Second
	DefaultHeartbeatMisses = 5
	// DefaultCallTimeout bounds a call whose context has no deadline; Mesos
	// recommends about 75 s as a scheduler's HTTP request timeout.
	DefaultCallTimeout = 75 * time.Second
)

const (
	// schedulerPath is appended to a master's base URL.
	schedulerPath = "/api/v1/scheduler"
	// backoffMin is the first reconnect delay; it doubles up to BackoffMax.
	backoffMin = 100 * time.Millisecond
	// dialTimeout bounds connecting to a master with the default client.
	dialTimeout = 5 * time.Second
	// defaultHeartbeat is assumed until a SUBSCRIBED event names the
	// master's interval (Mesos' DEFAULT_HEARTBEAT_INTERVAL).
	defaultHeartbeat = 15 * time.Second
	// maxRedirects bounds the 307 hops followed for one SUBSCRIBE.
	maxRedirects = 3
)

// Detector finds the masters a Client may subscribe to. A ZooKeeper-backed
// detector implements it; without one the Client uses Config.Masters.
//
// A Detector may also have a method Changes() <-chan struct{} returning a
// channel closed at the next change of what Masters returns: the Client
// then tries a new leader at once instead of waiting out its backoff, and
// abandons an attempt still dialing another master. With a method
// Leader() (string, bool) that names the leader known now without
// blocking (safe to call from any goroutine), a change that still names
// the master being dialed does not abandon its attempt.
type Detector interface {
	// Masters returns the base URLs ("http://host:5050") to try, the most
	// likely leader first. It may block until one is known and must return
	// when ctx is done. It is called before every connection round, from
	// one goroutine at a time.
	Masters(ctx context.Context) ([]string, error)
}

// Config configures a Client. The zero value of every optional field
// selects its documented default.
type Config struct {
	// Masters are base URLs of masters ("http://h:5050"), tried in turn.
	// Required unless Detector is set.
	Masters []string

	// Detector, if set, replaces Masters as the source of candidates.
	Detector Detector

	// Framework is sent with every SUBSCRIBE. Leave ID nil for a new
	// framework; set it to a persisted id to fail over. After SUBSCRIBED
	// the Client keeps its own copy with the assigned ID; this struct is
	// not modified.
	Framework mesos.FrameworkInfo

	// SuppressedRoles are the framework's roles it wants no offers for at
	// first; the first SUBSCRIBE lists them. Afterwards the Client keeps
	// the wish as Suppress, Revive and UpdateFramework change it, whether
	// or not their calls reach a master, and every re-subscription lists
	// the roles the framework wants suppressed at that moment.
	SuppressedRoles []string

	// HTTPClient is used for the stream and for calls; nil means a new
	// client on http.DefaultTransport. The Client makes its own copies
	// with redirects disabled (it follows 307 itself) and no overall
	// Timeout on the stream. The transport must allow at least two
	// connections per master: the stream holds one for its lifetime.
	HTTPClient *http.Client

	// BackoffMax caps the reconnect backoff, which starts near 100 ms and
	// doubles with jitter. Default DefaultBackoffMax.
	BackoffMax time.Duration

	// HeartbeatMisses is how many heartbeat intervals may pass without a
	// record on the stream before the Client drops it and re-subscribes.
	// Default DefaultHeartbeatMisses.
	HeartbeatMisses int

	// CallTimeout bounds each call whose context has no deadline.
	// Default DefaultCallTimeout.
	CallTimeout time.Duration

	// AutoAcknowledge makes the Client send ACKNOWLEDGE for every UPDATE
	// that carries a status uuid, after the handler has returned from
	// that event. Updates without a uuid are never acknowledged. Leave it
	// false (the Mesos default) when the handler must persist state
	// before acknowledging, and call Acknowledge yourself.
	AutoAcknowledge bool

	// Protobuf makes the Client speak application/x-protobuf, the
	// default of Mesos' own v1 libraries, instead of JSON: calls are
	// serialized Calls and the SUBSCRIBE stream carries serialized
	// Events. Corral's master speaks both; a Mesos master does too.
	Protobuf bool
}

// Validate reports the first problem with c, or nil. It does not apply
// defaults.
func (c *Config) Validate() error {
	if len(c.Masters) == 0 && c.Detector == nil {
		return errors.New("sched: no masters and no detector")
	}
	for _, m := range c.Masters {
		if _, err := parseMaster(m); err != nil {
			return err
		}
	}
	if c.Framework.Name == "" {
		return errors.New("sched: framework name is empty")
	}
	if c.Framework.ID != nil && c.Framework.ID.Value == "" {
		return errors.New("sched: framework id is set but empty")
	}
	if c.BackoffMax < 0 {
		return fmt.Errorf("sched: negative backoff cap %v", c.BackoffMax)
	}
	if c.HeartbeatMisses < 0 {
		return fmt.Errorf("sched: negative heartbeat misses %d", c.HeartbeatMisses)
	}
	if c.CallTimeout < 0 {
		return fmt.Errorf("sched: negative call timeout %v", c.CallTimeout)
	}
	return nil
}

func (c *Config) applyDefaults() {
	if c.BackoffMax == 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	if c.HeartbeatMisses == 0 {
		c.HeartbeatMisses = DefaultHeartbeatMisses
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = DefaultCallTimeout
	}
}

// parseMaster checks a master base URL and returns it without a trailing
// slash.
func parseMaster(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("sched: master %q: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("sched: master %q: want http(s)://host:port", s)
	}
	return strings.TrimSuffix(s, "/"), nil
}

// staticMasters is the Detector over Config.Masters.
type staticMasters []string

func (s staticMasters) Masters(context.Context) ([]string, error) { return s, nil }
