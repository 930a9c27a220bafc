package executor

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"corral/kernel/mesos"
)

// Defaults applied by Run to zero-valued Config fields. The first two are
// the agent's own defaults (--recovery_timeout and
// --executor_reregistration_timeout), used when the agent did not say.
const (
	DefaultRecoveryTimeout        = 15 * time.Minute
	DefaultSubscriptionBackoffMax = 2 * time.Second
	// DefaultResendInterval is how often an update the agent has not
	// acknowledged is sent again.
	DefaultResendInterval = 10 * time.Second
)

// Environment variables FromEnv reads. The MESOS_ ones are set by every
// Mesos agent and by corral's; the CORRAL_ ones are corral's additions.
const (
	EnvFrameworkID            = "MESOS_FRAMEWORK_ID"
	EnvExecutorID             = "MESOS_EXECUTOR_ID"
	EnvAgentEndpoint          = "MESOS_AGENT_ENDPOINT"
	EnvDirectory              = "MESOS_DIRECTORY"
	EnvSandbox                = "MESOS_SANDBOX"
	EnvCheckpoint             = "MESOS_CHECKPOINT"
	EnvRecoveryTimeout        = "MESOS_RECOVERY_TIMEOUT"
	EnvSubscriptionBackoffMax = "MESOS_SUBSCRIPTION_BACKOFF_MAX"
	EnvShutdownGracePeriod    = "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"
	EnvToken                  = "MESOS_EXECUTOR_AUTHENTICATION_TOKEN"
	// EnvAgentURL is the agent's base URL with its scheme
	// ("https://10.0.0.5:5051"). Set, it wins over EnvAgentEndpoint, which
	// cannot say that the agent serves HTTPS.
	EnvAgentURL = "CORRAL_AGENT_URL"
	// EnvCAFile names a PEM bundle of the CAs that sign the agent's
	// certificate, replacing the system roots.
	EnvCAFile = "CORRAL_CA_FILE"
	// EnvCodec is "protobuf" or "json" (the default).
	EnvCodec = "CORRAL_EXECUTOR_CODEC"
)

// Config configures Run. FromEnv fills it from the environment an agent
// gives its executors; tests and embedders may fill it directly. The zero
// value of every optional field selects its documented default.
type Config struct {
	// FrameworkID and ExecutorID name the executor in every call.
	// Required.
	FrameworkID string
	ExecutorID  string

	// AgentURL is the agent's base URL ("http://10.0.0.5:5051"); calls go
	// to AgentURL + "/api/v1/executor". Required.
	AgentURL string

	// Token is presented as a bearer token on every call: the one the
	// agent gave the executor (MESOS_EXECUTOR_AUTHENTICATION_TOKEN).
	// FromEnv removes the variable from the process's environment, so
	// that the executor's tasks do not inherit it.
	Token string

	// Directory is the sandbox's path on the agent host (deprecated by
	// Mesos); Sandbox is the sandbox as the executor sees it. Run does
	// not use them; they are here for the handler.
	Directory string
	Sandbox   string

	// Checkpoint says the framework checkpoints: the agent may restart
	// and wait for the executor to re-subscribe. Without it Run returns
	// when the stream breaks.
	Checkpoint bool

	// RecoveryTimeout is how long Run keeps trying to re-subscribe after
	// a stream broke (or before the first SUBSCRIBED) before it gives up.
	// Default DefaultRecoveryTimeout.
	RecoveryTimeout time.Duration

	// SubscriptionBackoffMax caps the delay between subscription attempts,
	// which starts at 1 s and doubles. Default DefaultSubscriptionBackoffMax.
	SubscriptionBackoffMax time.Duration

	// ShutdownGracePeriod is how long the executor has, after SHUTDOWN,
	// to stop its tasks before the agent kills it. Run does not use it;
	// it is here for the handler's Shutdown.
	ShutdownGracePeriod time.Duration

	// ResendInterval is how often an update the agent has not yet
	// acknowledged is sent again while subscribed. Default
	// DefaultResendInterval.
	ResendInterval time.Duration

	// Protobuf makes Run speak application/x-protobuf, the codec of
	// Mesos' own executor libraries, instead of JSON. Agents speak both.
	Protobuf bool

	// CAFile, if set, names a PEM bundle of CAs trusted for an https
	// AgentURL, instead of the system roots. Ignored when HTTPClient is
	// set.
	CAFile string

	// HTTPClient is used for the stream and for calls; nil means a client
	// with short dial and response-header timeouts (and CAFile's roots).
	// Run uses a copy with no overall Timeout for the stream; a Timeout
	// set here still bounds the calls.
	HTTPClient *http.Client

	// Logger receives what Run does; nil discards it.
	Logger *slog.Logger
}

// Validate reports the first problem with c, or nil. It does not apply
// defaults and does no I/O.
func (c *Config) Validate() error {
	switch {
	case c.FrameworkID == "":
		return errors.New("executor: FrameworkID is empty")
	case c.ExecutorID == "":
		return errors.New("executor: ExecutorID is empty")
	}
	if _, err := parseAgentURL(c.AgentURL); err != nil {
		return fmt.Errorf("executor: AgentURL: %w", err)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"RecoveryTimeout", c.RecoveryTimeout},
		{"SubscriptionBackoffMax", c.SubscriptionBackoffMax},
		{"ShutdownGracePeriod", c.ShutdownGracePeriod},
		{"ResendInterval", c.ResendInterval},
	} {
		if d.v < 0 {
			return fmt.Errorf("executor: negative %s %v", d.name, d.v)
		}
	}
	return nil
}

// FromEnv reads the Config an agent gives its executor through the
// environment (the Env* variables), as mesos-go's executor does:
// MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID, MESOS_AGENT_ENDPOINT (unless
// CORRAL_AGENT_URL is set), MESOS_DIRECTORY, MESOS_SANDBOX and
// MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD are required; with
// MESOS_CHECKPOINT true, so are MESOS_RECOVERY_TIMEOUT and
// MESOS_SUBSCRIPTION_BACKOFF_MAX. Durations are Mesos' ("5secs",
// "15mins"), not Go's. An error names the variable and what is wrong
// with it. CORRAL_CA_FILE is read to check that it holds certificates.
func FromEnv() (Config, error) {
	cfg, err := fromEnv(os.Getenv)
	if err != nil {
		return Config{}, err
	}
	os.Unsetenv(EnvToken)
	if cfg.CAFile != "" {
		if _, err := loadCAs(cfg.CAFile); err != nil {
			return Config{}, fmt.Errorf("executor: %s: %w", EnvCAFile, err)
		}
	}
	return cfg, nil
}

// fromEnv is FromEnv over getenv, without the file check. An empty
// variable counts as unset.
func fromEnv(getenv func(string) string) (Config, error) {
	fail := func(name, format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("executor: %s: %s", name, fmt.Sprintf(format, args...))
	}
	var cfg Config
	for _, v := range []struct {
		name string
		dst  *string
	}{
		{EnvFrameworkID, &cfg.FrameworkID},
		{EnvExecutorID, &cfg.ExecutorID},
		{EnvDirectory, &cfg.Directory},
		{EnvSandbox, &cfg.Sandbox},
	} {
		if *v.dst = getenv(v.name); *v.dst == "" {
			return fail(v.name, "not set")
		}
	}

	cfg.Token = getenv(EnvToken)

	if u := getenv(EnvAgentURL); u != "" {
		base, err := parseAgentURL(u)
		if err != nil {
			return fail(EnvAgentURL, "%v", err)
		}
		cfg.AgentURL = base
	} else {
		ep := getenv(EnvAgentEndpoint)
		if ep == "" {
			return fail(EnvAgentEndpoint, "not set")
		}
		host, port, err := net.SplitHostPort(ep)
		if err != nil || host == "" || port == "" {
			return fail(EnvAgentEndpoint, "%q is not host:port", ep)
		}
		cfg.AgentURL = "http://" + ep
	}

	if s := getenv(EnvCheckpoint); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fail(EnvCheckpoint, "%q is not 1 or 0", s)
		}
		cfg.Checkpoint = b
	}

	// missing is the complaint about an unset variable; "" means optional.
	// A zero recovery timeout or backoff cap would mean no recovery at
	// all, so they must be positive; a zero grace period is the agent's
	// to choose.
	ifCheckpoint := ""
	if cfg.Checkpoint {
		ifCheckpoint = "not set (required when " + EnvCheckpoint + " is 1)"
	}
	for _, v := range []struct {
		name     string
		dst      *time.Duration
		missing  string
		positive bool
	}{
		{EnvShutdownGracePeriod, &cfg.ShutdownGracePeriod, "not set", false},
		{EnvRecoveryTimeout, &cfg.RecoveryTimeout, ifCheckpoint, true},
		{EnvSubscriptionBackoffMax, &cfg.SubscriptionBackoffMax, ifCheckpoint, true},
	} {
		s := getenv(v.name)
		if s == "" {
			if v.missing != "" {
				return fail(v.name, "%s", v.missing)
			}
			continue
		}
		d, err := mesos.ParseDuration(s)
		if err != nil {
			return fail(v.name, "%v", err)
		}
		if v.positive && d <= 0 {
			return fail(v.name, "%q is not positive", s)
		}
		*v.dst = d
	}

	switch s := getenv(EnvCodec); s {
	case "", "json":
	case "protobuf":
		cfg.Protobuf = true
	default:
		return fail(EnvCodec, "%q is neither json nor protobuf", s)
	}
	cfg.CAFile = getenv(EnvCAFile)
	return cfg, nil
}

// parseAgentURL checks an agent base URL and returns it without a
// trailing slash.
func parseAgentURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q: want http(s)://host:port", s)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q: want a base URL without path or query", s)
	}
	return strings.TrimSuffix(s, "/"), nil
}

// loadCAs reads a PEM bundle into a pool.
func loadCAs(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
