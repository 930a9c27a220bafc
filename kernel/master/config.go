package master

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"corral/internal/edge"
	"corral/kernel/dnsrec"
)

// Config is the master's configuration. The zero value is not usable; start
// from DefaultConfig and override, then call Validate.
type Config struct {
	// Version is corral's version, reported in MasterInfo and /state.
	Version string
	// Flags are the master's flags and their values, as the operator
	// API's GET_FLAGS shows them (credentials in values already
	// redacted).
	Flags []Flag
	// Listen is the HTTP listen address (scheduler, agent and operator APIs).
	Listen string
	// Advertise is the base URL agents and frameworks should use to reach
	// this master, e.g. "http://10.0.0.1:5050". Empty derives it from
	// Hostname and the listen port.
	Advertise string
	// Hostname reported in MasterInfo; empty means os.Hostname.
	Hostname string
	// ID is the master's id in MasterInfo; empty means a new UUID. A
	// master that is elected several times keeps one id.
	ID string
	// DB is the Postgres URL holding the registry (schema kernel).
	DB string
	// AgentPingInterval is how often agents must heartbeat.
	AgentPingInterval time.Duration
	// MaxAgentPingTimeouts is how many missed heartbeats make an agent
	// unreachable.
	MaxAgentPingTimeouts int
	// AgentReregisterTimeout is how long, after this master starts, agents
	// known to the registry have to re-register before they are marked
	// unreachable.
	AgentReregisterTimeout time.Duration
	// FrameworkHeartbeatInterval is the HEARTBEAT period on SUBSCRIBE streams.
	FrameworkHeartbeatInterval time.Duration
	// FrameworkStreamTimeout bounds how long a write to a framework's
	// SUBSCRIBE stream may block. A framework that stops reading its
	// stream is disconnected once a write has been stuck this long: its
	// offers go back to the allocator (for other frameworks) and its
	// failover timeout starts, instead of it holding them, and an ever
	// longer queue of events, for as long as its connection stays open.
	// Writes block only once the connection's buffers (often megabytes)
	// are full, so a framework that reads slowly but steadily is not cut
	// off; one that stops reading altogether loses its offers to
	// OfferTimeout first.
	FrameworkStreamTimeout time.Duration
	// FrameworkStreamQueueBytes bounds the events queued for a framework's
	// SUBSCRIBE stream and not yet written. A framework whose queue would
	// grow past it (it reads more slowly than events come, e.g. in a storm
	// of status updates) is disconnected at once, its queued events
	// dropped: as when its stream times out, its offers go back to the
	// allocator and its failover timeout starts; once it subscribes again
	// the master resends the updates it has not acknowledged, and it
	// reconciles the rest. Default 64 MiB.
	FrameworkStreamQueueBytes int
	// AllocationInterval is the period of batch allocation cycles.
	AllocationInterval time.Duration
	// OfferTimeout rescinds offers outstanding longer than this and gives
	// their resources back to the allocator. Mesos documents its
	// --offer_timeout as keeping the cluster fair when frameworks hold on
	// to offers or drop them by accident, but sets none by default; corral
	// defaults to 30s. Frameworks decide on an offer within milliseconds
	// (the bundled jobs framework keeps offers only while it has runs to
	// launch, from a few seconds before they are due), so half a minute
	// rescinds almost only offers that were dropped, forgotten or are of
	// no use, and those are lost to other frameworks for no longer than
	// that. 0 never rescinds; it must be set explicitly.
	OfferTimeout time.Duration
	// DefaultRefuseSeconds applies when ACCEPT/DECLINE carry no filters.
	DefaultRefuseSeconds float64
	// Weights are initial role weights ("role=2,other=0.5"); weights stored
	// in the registry win.
	Weights string
	// MinAllocatableCPUs / MinAllocatableMem: free resources smaller than both
	// are not offered.
	MinAllocatableCPUs float64
	MinAllocatableMem  float64
	// MaxCompletedTasksPerFramework bounds the terminal tasks kept for /state.
	MaxCompletedTasksPerFramework int
	// ShutdownGrace bounds graceful shutdown of the HTTP server.
	ShutdownGrace time.Duration
	// Trust is what the master demands of its callers (credentials,
	// allowed hosts and origins). With credentials, every endpoint but
	// /health needs them, agents included, and a framework id belongs to
	// the principal that registered it.
	Trust edge.Trust
	// FrameworkWebUIHosts are the hosts (names or IP addresses, without
	// scheme or port) that the console's /framework/<name>/ proxy may
	// reach: a framework chooses its webui_url itself, so without a list
	// the master would send requests wherever any framework points it.
	// "*" allows any host. Empty allows loopback addresses, "localhost"
	// and the host of Advertise (by name and address) only; a non-empty
	// list replaces that default. Flag --framework_webui_hosts, a comma
	// list (ParseHostList).
	FrameworkWebUIHosts []string

	// SecretsKey is the file of the key that seals the secret store's
	// values (--secrets_key): 32 random bytes as 64 hex digits or base64
	// on one line. Empty leaves the store off, and the /secrets endpoints
	// say so. SecretsPreviousKeys are the files of earlier keys
	// (--secrets_previous_keys): they only open values sealed before a
	// rotation, and while they are given the leading master re-encrypts
	// every such value under SecretsKey when its term starts.
	SecretsKey          string
	SecretsPreviousKeys []string

	// DNSListen is the address (host:port, UDP and TCP) the master serves
	// DNS on, in Mesos-DNS's names (see package dnsrec); empty serves
	// none. Only the leading master answers; a standby answers SERVFAIL,
	// so resolvers should list every master.
	DNSListen string
	// DNSDomain is the zone DNS serves: lower case, without the final
	// dot. Questions outside it are refused.
	DNSDomain string
	// DNSTTL is the records' time to live. The records follow the
	// cluster within a second; the TTL is how long resolvers may keep
	// an old answer after that (Mesos-DNS's 60s suits its 60s refresh).
	DNSTTL time.Duration
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Version:                       "dev",
		Listen:                        ":5050",
		AgentPingInterval:             5 * time.Second,
		MaxAgentPingTimeouts:          3,
		AgentReregisterTimeout:        2 * time.Minute,
		FrameworkHeartbeatInterval:    15 * time.Second,
		FrameworkStreamTimeout:        streamWriteTimeout,
		FrameworkStreamQueueBytes:     64 << 20,
		AllocationInterval:            time.Second,
		OfferTimeout:                  30 * time.Second,
		DefaultRefuseSeconds:          5,
		MinAllocatableCPUs:            0.01,
		MinAllocatableMem:             32,
		MaxCompletedTasksPerFramework: 1000,
		ShutdownGrace:                 5 * time.Second,
		DNSDomain:                     "mesos",
		DNSTTL:                        5 * time.Second,
	}
}

// Validate reports the first invalid field, by its flag name.
func (c Config) Validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("listen: must not be empty"))
	}
	if c.DB == "" {
		errs = append(errs, errors.New("db: a Postgres URL is required (the registry lives there)"))
	}
	if c.AgentPingInterval <= 0 {
		errs = append(errs, errors.New("agent_ping_interval: must be positive"))
	}
	if c.MaxAgentPingTimeouts < 1 {
		errs = append(errs, errors.New("max_agent_ping_timeouts: must be at least 1"))
	}
	if c.AgentReregisterTimeout <= 0 {
		errs = append(errs, errors.New("agent_reregister_timeout: must be positive"))
	}
	if c.FrameworkHeartbeatInterval <= 0 {
		errs = append(errs, errors.New("framework_heartbeat_interval: must be positive"))
	}
	if c.FrameworkStreamTimeout <= 0 {
		errs = append(errs, errors.New("framework_stream_timeout: must be positive"))
	}
	if c.FrameworkStreamQueueBytes <= 0 {
		errs = append(errs, errors.New("framework_stream_queue_bytes: must be positive"))
	}
	if c.AllocationInterval <= 0 {
		errs = append(errs, errors.New("allocation_interval: must be positive"))
	}
	if c.OfferTimeout < 0 {
		errs = append(errs, errors.New("offer_timeout: must not be negative"))
	}
	if c.DefaultRefuseSeconds < 0 {
		errs = append(errs, errors.New("default_refuse_seconds: must not be negative"))
	}
	if _, err := ParseWeights(c.Weights); err != nil {
		errs = append(errs, fmt.Errorf("weights: %w", err))
	}
	if c.DNSListen != "" {
		if _, _, err := net.SplitHostPort(c.DNSListen); err != nil {
			errs = append(errs, fmt.Errorf("dns_listen: want host:port, got %q", c.DNSListen))
		}
	}
	if err := dnsrec.CheckDomain(c.DNSDomain); err != nil {
		errs = append(errs, fmt.Errorf("dns_domain: %w", err))
	}
	if c.DNSTTL < time.Second {
		errs = append(errs, errors.New("dns_ttl: must be at least 1s"))
	}
	for _, h := range c.FrameworkWebUIHosts {
		if err := validateHostEntry(h); err != nil {
			errs = append(errs, fmt.Errorf("framework_webui_hosts: %w", err))
		}
	}
	return errors.Join(errs...)
}

// ParseHostList splits a comma-separated list of hosts, as
// --framework_webui_hosts takes it, dropping spaces and empty entries.
func ParseHostList(s string) []string {
	var out []string
	for _, h := range strings.Split(s, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

// validateHostEntry checks one entry of FrameworkWebUIHosts: "*", an IP
// address (an IPv6 one may be bracketed) or a host name; no scheme, port,
// path or spaces.
func validateHostEntry(h string) error {
	if h == "*" {
		return nil
	}
	bad := fmt.Errorf("%q: want a host name or an IP address, without scheme or port (or * for any host)", h)
	if h == "" || strings.ContainsAny(h, "/@?# \t\n\r") {
		return bad
	}
	if _, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")); err == nil {
		return nil
	}
	if strings.ContainsAny(h, ":[]") {
		return bad
	}
	return nil
}

// ParseWeights parses "role=weight,role=weight". Weights must be positive.
func ParseWeights(s string) (map[string]float64, error) {
	out := map[string]float64{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		role, w, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("%q: want role=weight", part)
		}
		if err := validateRole(role); err != nil {
			return nil, err
		}
		v, err := strconv.ParseFloat(w, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q: weight must be a positive number", part)
		}
		out[role] = v
	}
	return out, nil
}

// Flag is one of the master's flags and its value; in the operator API
// it is Mesos' Flag message (the pb tags are its field numbers).
type Flag struct {
	Name  string `json:"name" pb:"1,req"`
	Value string `json:"value" pb:"2"`
}
