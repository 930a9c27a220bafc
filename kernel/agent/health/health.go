package health

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"corral/internal/healthcheck"
	"corral/kernel/mesos"
)

// Kind is the kind of a health check.
type Kind int

// Health check kinds, named as in mesos.HealthCheck.Type.
const (
	Command Kind = iota + 1
	HTTP
	TCP
)

// String returns the wire name of k.
func (k Kind) String() string {
	switch k {
	case Command:
		return "COMMAND"
	case HTTP:
		return "HTTP"
	case TCP:
		return "TCP"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Defaults of mesos.HealthCheck, as in Mesos.
const (
	DefaultDelay       = 15 * time.Second
	DefaultInterval    = 10 * time.Second
	DefaultTimeout     = 20 * time.Second
	DefaultMaxFailures = 3
	DefaultGrace       = 10 * time.Second
)

// Check is a validated health check with its defaults applied. It is a
// value; Parse is the only way to make one from the wire.
type Check struct {
	Kind Kind

	// Command is the command of a Command check (shell or argv, and extra
	// environment variables), as on the wire.
	Command *mesos.CommandInfo

	// Scheme ("http" or "https"), Path (starting with "/") and Statuses
	// (nil: 200-399 pass) are for HTTP checks; Port for HTTP and TCP.
	Scheme   string
	Path     string
	Port     int
	Statuses []int

	// Delay is the wait between the task running and the first probe;
	// Interval the wait between the end of a probe and the next one.
	Delay, Interval time.Duration
	// Timeout bounds one probe; a probe that runs longer fails.
	Timeout time.Duration
	// Grace is how long after the task's start failures are ignored, until
	// the first success.
	Grace time.Duration
	// MaxFailures consecutive counted failures kill the task; 0 never does.
	MaxFailures int
}

// Parse validates hc and applies the defaults. Its error names the field at
// fault (relative to health_check) and is meant for the framework.
func Parse(hc *mesos.HealthCheck) (Check, error) {
	c := Check{MaxFailures: DefaultMaxFailures}
	var err error
	if c.Delay, err = seconds("delay_seconds", hc.DelaySeconds, DefaultDelay, false); err != nil {
		return Check{}, err
	}
	if c.Interval, err = seconds("interval_seconds", hc.IntervalSeconds, DefaultInterval, true); err != nil {
		return Check{}, err
	}
	if c.Timeout, err = seconds("timeout_seconds", hc.TimeoutSeconds, DefaultTimeout, true); err != nil {
		return Check{}, err
	}
	if c.Grace, err = seconds("grace_period_seconds", hc.GracePeriodSeconds, DefaultGrace, false); err != nil {
		return Check{}, err
	}
	if hc.ConsecutiveFailures != nil {
		n := int64(*hc.ConsecutiveFailures)
		if n < 0 || n > math.MaxInt32 {
			return Check{}, fmt.Errorf("consecutive_failures must be between 0 and %d, got %d", math.MaxInt32, n)
		}
		c.MaxFailures = int(n)
	}
	switch strings.ToUpper(hc.Type) {
	case "COMMAND":
		c.Kind = Command
		if err := validCommand(hc.Command); err != nil {
			return Check{}, err
		}
		c.Command = hc.Command
	case "HTTP":
		c.Kind = HTTP
		if hc.HTTP == nil {
			return Check{}, errors.New("http is required for an HTTP check")
		}
		if c.Port, err = port("http.port", hc.HTTP.Port); err != nil {
			return Check{}, err
		}
		switch c.Scheme = strings.ToLower(hc.HTTP.Scheme); c.Scheme {
		case "":
			c.Scheme = "http"
		case "http", "https":
		default:
			return Check{}, fmt.Errorf("http.scheme must be http or https, got %q", hc.HTTP.Scheme)
		}
		c.Path = hc.HTTP.Path
		if c.Path == "" {
			c.Path = "/"
		}
		if !strings.HasPrefix(c.Path, "/") {
			c.Path = "/" + c.Path
		}
		if strings.ContainsFunc(c.Path, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return Check{}, fmt.Errorf("http.path %q contains spaces or control characters", hc.HTTP.Path)
		}
		for _, s := range hc.HTTP.Statuses {
			if s < 100 || s > 599 {
				return Check{}, fmt.Errorf("http.statuses: %d is not an HTTP status code", s)
			}
			c.Statuses = append(c.Statuses, int(s))
		}
	case "TCP":
		c.Kind = TCP
		if hc.TCP == nil {
			return Check{}, errors.New("tcp is required for a TCP check")
		}
		if c.Port, err = port("tcp.port", hc.TCP.Port); err != nil {
			return Check{}, err
		}
	case "":
		return Check{}, errors.New("type is required (COMMAND, HTTP or TCP)")
	default:
		return Check{}, fmt.Errorf("type %q is not supported (want COMMAND, HTTP or TCP)", hc.Type)
	}
	return c, nil
}

// seconds converts a wire duration; positive requires it above zero.
func seconds(field string, v *mesos.Float, def time.Duration, positive bool) (time.Duration, error) {
	if v == nil {
		return def, nil
	}
	f := float64(*v)
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return 0, fmt.Errorf("%s must be a finite number", field)
	case f < 0:
		return 0, fmt.Errorf("%s must not be negative, got %v", field, f)
	case positive && f == 0:
		return 0, fmt.Errorf("%s must be positive, got 0", field)
	case f*float64(time.Second) >= math.MaxInt64:
		return 0, fmt.Errorf("%s is too large: %v", field, f)
	}
	return time.Duration(f * float64(time.Second)), nil
}

func port(field string, p mesos.Int) (int, error) {
	if p < 1 || p > 65535 {
		return 0, fmt.Errorf("%s must be between 1 and 65535, got %d", field, p)
	}
	return int(p), nil
}

// validCommand applies the rules of a task's command to a check's.
func validCommand(c *mesos.CommandInfo) error {
	switch {
	case c == nil:
		return errors.New("command is required for a COMMAND check")
	case len(c.URIs) > 0:
		return errors.New("command.uris (fetching) is not supported")
	case c.User != "":
		return errors.New("command.user is not supported")
	case strings.ContainsRune(c.Value, 0):
		return errors.New("command.value contains a NUL byte")
	case strings.TrimSpace(c.Value) == "":
		return errors.New("command.value is empty")
	}
	return nil
}

// Argv returns the command line of a Command check: /bin/sh -c value for a
// shell command, otherwise value followed by arguments[1:], as for a task.
func (c Check) Argv() []string {
	if c.Command == nil {
		return nil
	}
	if c.Command.IsShell() {
		return []string{"/bin/sh", "-c", c.Command.Value}
	}
	return append([]string{c.Command.Value}, c.Command.Arguments[min(1, len(c.Command.Arguments)):]...)
}

// Passes reports whether an HTTP response status passes the check: one of
// Statuses when given, otherwise 200-399.
func (c Check) Passes(code int) bool {
	if len(c.Statuses) == 0 {
		return code >= 200 && code < 400
	}
	for _, s := range c.Statuses {
		if s == code {
			return true
		}
	}
	return false
}

// Result is the outcome of one probe. Detail says what happened in a few
// lowercase words ("command exited with status 1"); it is set for failures
// and may be set for successes.
type Result struct {
	OK     bool
	Detail string
}

// Status is a task's health as far as its checks tell (see healthcheck).
type Status = healthcheck.Status

// Health statuses.
const (
	Unknown   = healthcheck.Unknown
	Healthy   = healthcheck.Healthy
	Unhealthy = healthcheck.Unhealthy
)

// StatusOf maps the healthy field of a TaskStatus to a Status.
func StatusOf(healthy *bool) Status { return healthcheck.StatusOf(healthy) }

// Decision is what one Observe asks of the caller.
type Decision = healthcheck.Decision

// KillMessage is the message of the terminal update of a task killed after
// n consecutive failed checks, the last with the given detail.
func KillMessage(n int, detail string) string { return healthcheck.KillMessage(n, detail) }

// Tracker counts a task's probe results with the shared health state
// machine (healthcheck). It is not safe for concurrent use; one goroutine
// owns it.
type Tracker struct {
	policy healthcheck.Policy
	start  time.Time
	state  healthcheck.State
}

// NewTracker returns the tracker of a task started at start (the beginning
// of its grace period) whose health is initially status: Unknown for a new
// task, or the last reported status of a task recovered after an agent
// restart, so that a restart alone reports no change.
func NewTracker(c Check, start time.Time, status Status) *Tracker {
	return &Tracker{policy: healthcheck.Policy{Grace: c.Grace, MaxFailures: c.MaxFailures}, start: start,
		state: healthcheck.State{Status: status}}
}

// Status returns the current health.
func (t *Tracker) Status() Status { return t.state.Status }

// Failures returns the number of consecutive counted failures.
func (t *Tracker) Failures() int { return t.state.Failures }

// Last returns the Detail of the last result observed.
func (t *Tracker) Last() string { return t.state.Last }

// Observe counts the result r of a probe that ended at now. After a Kill
// decision the tracker ignores further results.
func (t *Tracker) Observe(r Result, now time.Time) Decision {
	var d Decision
	t.state, d = t.state.Observe(t.policy, t.start, now, r.OK, r.Detail)
	return d
}
