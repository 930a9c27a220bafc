package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"corral/internal/edge"
	"corral/kernel/agent/logrotate"
	"corral/kernel/resource"
)

// Config configures an Agent. cmd/corral fills it from flags and CORRAL_*
// environment variables; DefaultConfig holds the defaults. All durations
// must be positive.
type Config struct {
	// Masters are the base URLs of the masters ("http://10.0.0.1:5050");
	// the agent tries them in turn and follows a non-leader's redirect.
	// Required unless Detector is set.
	Masters []string
	// Detector, if set, replaces Masters as the source of master URLs
	// (for example the leader as ZooKeeper names it).
	Detector Detector
	// Trust is what this process demands of its callers (credentials,
	// allowed hosts and origins) and the credential it presents to the
	// master.
	Trust edge.Trust
	// Listen is the address of the agent's HTTP server (/files, /state,
	// /health, /metrics). Default ":5051".
	Listen string
	// Advertise is the base URL others use to reach the agent's HTTP
	// server. Default: http://<Listen host or Hostname>:<Listen port>.
	Advertise string
	// Hostname is reported to the master and to tasks (HOST). Default:
	// os.Hostname().
	Hostname string
	// WorkDir holds checkpoints (meta/) and sandboxes (sandboxes/).
	// Default "/var/lib/corral/agent".
	WorkDir string
	// Resources in text syntax ("cpus:4;mem:8192;disk:10000;
	// ports:[31000-32000]"). Names left out are detected: cpus = number
	// of CPUs, mem = total memory minus min(1 GB, half), disk = free space
	// of WorkDir minus min(5 GB, half), ports = [31000-32000].
	Resources string
	// Share is the fraction (0 < Share <= 1) of the detected cpus, mem and
	// disk this agent offers, for several agents sharing one machine
	// (`corral dev`). 0 means 1. Resources named in Resources are taken
	// as given.
	Share float64
	// Attributes in text syntax ("rack:a;zone:1").
	Attributes string
	// KillGracePeriod is the time between SIGTERM and SIGKILL when neither
	// the kill nor the task's kill policy gives one. Default 5s.
	KillGracePeriod time.Duration
	// ExecutorRegistrationTimeout is how long a new custom executor has to
	// SUBSCRIBE (fetching included) before it is killed and its tasks
	// fail. Default 1m.
	ExecutorRegistrationTimeout time.Duration
	// ExecutorReregistrationTimeout is how long the executors found
	// running when the agent starts have to SUBSCRIBE again; it is also
	// their MESOS_SUBSCRIPTION_BACKOFF_MAX. Default 2s, at most 15s.
	ExecutorReregistrationTimeout time.Duration
	// ExecutorShutdownGracePeriod is the time an executor has between
	// SHUTDOWN and being killed when its ExecutorInfo gives none.
	// Default 5s.
	ExecutorShutdownGracePeriod time.Duration
	// Cgroups is "auto" (default: use cgroups when possible), "v1", "v2"
	// or "none". An explicit version that cannot be used is an error.
	Cgroups string
	// CgroupsEnableCFS caps the cpu of a task that gives no cpu limit at
	// its request, with a CFS quota (Mesos' --cgroups_enable_cfs). Off
	// (the default, as in Mesos), such a task gets cpu shares (v2: weight)
	// in proportion to its request and may use idle cpu beyond it; a task
	// that gives a limit (TaskInfo.limits, Marathon's resourceLimits) is
	// capped at it either way.
	CgroupsEnableCFS bool
	// CgroupRoot is the cgroup under which each agent makes its own
	// sub-cgroup (named after a hash of WorkDir), holding one cgroup per
	// task. Default "corral".
	CgroupRoot string
	// RegisterBackoffFactor is the initial (re-)registration backoff; it
	// doubles (jittered) up to RegisterBackoffMax. Defaults 1s and 1m.
	RegisterBackoffFactor time.Duration
	RegisterBackoffMax    time.Duration
	// UpdateRetryInterval is how long an unacknowledged status update waits
	// before it is resent; the wait doubles up to UpdateRetryMax. Updates
	// are also resent right after every (re-)registration. Defaults 10s
	// and 10m.
	UpdateRetryInterval time.Duration
	UpdateRetryMax      time.Duration
	// SandboxMaxAge: sandboxes of finished tasks older than this (by
	// modification time) are removed, checked at start and hourly.
	// Default 7 days.
	SandboxMaxAge time.Duration
	// SecretsDir holds the files of tasks' secret volumes, one directory
	// per task, removed when the task ends. Default: DefaultSecretsDir,
	// a tmpfs when the host has one, so values never reach a disk.
	SecretsDir string
	// Containerizers are what the agent runs tasks with, as Mesos'
	// --containerizers: "mesos" (processes on the agent) and "docker"
	// (tasks with a DOCKER container, through the Docker engine at
	// DockerSocket). Default ["mesos"]. A task whose container type no
	// listed containerizer runs fails, saying so.
	Containerizers []string
	// DockerSocket is the Docker engine's API (a unix socket path, or a
	// unix:// or tcp:// URL). Default the engine's standard socket.
	DockerSocket string
	// FetcherCacheDir holds the fetcher's cache of tasks' artifacts (URIs
	// with cache: true) and the staging files of downloads; what the
	// fetcher left there is removed at start. Default: WorkDir/fetch.
	FetcherCacheDir string
	// FetcherCacheSize bounds the bytes of cached artifacts, the least
	// recently used evicted first (Mesos' --fetcher_cache_size); 0
	// disables the cache, so that every URI is downloaded for each task.
	// Default 2 GiB.
	FetcherCacheSize int64
	// TaskLogMaxSize is the size at which a task's stdout or stderr is
	// rotated (to stdout.1, ...), TaskLogMaxFiles how many files of each
	// are kept, the current one included; a task overrides them with
	// Mesos' CONTAINER_LOGGER_* variables (task.LogLimits). Defaults 10 MB
	// and 5. 0 TaskLogMaxSize writes the files unbounded.
	TaskLogMaxSize  int64
	TaskLogMaxFiles int
	// Logger is the executable that writes tasks' output (one process
	// per task user, package logd), with LoggerArgs its arguments:
	// corral-logger, or `corral logger` (cmd/corral sets them,
	// LoggerCommand); "" appends the output to the sandbox's files
	// directly, without rotation.
	Logger     string
	LoggerArgs []string
	// LaunchConcurrency bounds how many tasks are being set up (checkpoint,
	// sandbox, cgroup, spawn) at once. Default 16.
	LaunchConcurrency int
	// KillTasksOnStop makes Run kill every task when ctx ends and wait
	// (up to each task's grace period plus a few seconds) for them to
	// exit, journaling their terminal updates for the next registration.
	// By default tasks outlive the agent and a restarted agent adopts
	// them; `corral dev` sets it so that stopping the cluster leaves
	// nothing running.
	KillTasksOnStop bool
	// BootID overrides the host's boot id (/proc/sys/kernel/random/boot_id);
	// meant for tests that simulate a reboot.
	BootID string

	// EnableDebug serves Go's profiler at /debug/pprof on the agent's HTTP
	// server. Off by default (404): profiles reveal the process's
	// internals and cost CPU, and the endpoints are for operators only.
	EnableDebug bool
	// SwitchUser runs each task as its command's user, else its
	// framework's (FrameworkInfo.user), as Mesos' --switch_user: with
	// that user's uid, primary gid and supplementary groups, and HOME,
	// USER and LOGNAME set; its sandbox is given to the user first. A
	// user missing on this host, or one other than the agent's own when
	// the agent is not root, fails the task before anything starts. A
	// task naming no user runs as the agent's own user. False runs every
	// task as the agent's own user. Default true.
	SwitchUser bool
}

// DefaultConfig returns the defaults; Masters is empty and must be set.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		Listen:          ":5051",
		Hostname:        host,
		WorkDir:         "/var/lib/corral/agent",
		KillGracePeriod: 5 * time.Second,

		ExecutorRegistrationTimeout:   time.Minute,
		ExecutorReregistrationTimeout: 2 * time.Second,
		ExecutorShutdownGracePeriod:   5 * time.Second,
		Cgroups:                       "auto",
		CgroupRoot:                    "corral",
		RegisterBackoffFactor:         time.Second,
		RegisterBackoffMax:            time.Minute,
		UpdateRetryInterval:           10 * time.Second,
		UpdateRetryMax:                10 * time.Minute,
		SandboxMaxAge:                 7 * 24 * time.Hour,
		LaunchConcurrency:             16,
		FetcherCacheSize:              2 << 30,
		SwitchUser:                    true,
		Containerizers:                []string{"mesos"},
		TaskLogMaxSize:                logrotate.DefaultMaxSize,
		TaskLogMaxFiles:               logrotate.DefaultMaxFiles,
	}
}

// Detector finds the masters an agent may register with. Like
// sched.Detector, it may also have a method Changes() <-chan struct{}
// (closed at the next change of what Masters returns), which makes the
// agent try a new leader at once instead of waiting out its backoff.
type Detector interface {
	// Masters returns the base URLs ("http://host:5050") to try, the most
	// likely leader first. It may block until one is known and must return
	// when ctx is done.
	Masters(ctx context.Context) ([]string, error)
}

// Validate reports every problem with c, joined.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Masters) == 0 && c.Detector == nil {
		bad("at least one master URL is required")
	}
	for _, m := range c.Masters {
		u, err := url.Parse(m)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("master %q: want a base URL like http://host:5050", m)
		}
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen address %q: %v", c.Listen, err)
	}
	if c.Advertise != "" {
		if u, err := url.Parse(c.Advertise); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("advertise %q: want a base URL like http://host:5051", c.Advertise)
		}
	}
	if c.WorkDir == "" {
		bad("work dir is required")
	}
	if _, err := resource.Parse(c.Resources); err != nil {
		bad("resources: %v", err)
	}
	if c.Share < 0 || c.Share > 1 {
		bad("share %v: want a fraction in (0, 1]", c.Share)
	}
	if _, err := resource.ParseAttributes(c.Attributes); err != nil {
		bad("attributes: %v", err)
	}
	switch c.Cgroups {
	case "auto", "v1", "v2", "none":
	default:
		bad("cgroups %q: want auto, v1, v2 or none", c.Cgroups)
	}
	if strings.Trim(c.CgroupRoot, "/") == "" || strings.Contains(c.CgroupRoot, "..") {
		bad("cgroup root %q: want a cgroup name such as corral", c.CgroupRoot)
	}
	for name, d := range map[string]time.Duration{
		"kill grace period": c.KillGracePeriod, "register backoff factor": c.RegisterBackoffFactor,
		"register backoff max": c.RegisterBackoffMax, "update retry interval": c.UpdateRetryInterval,
		"update retry max": c.UpdateRetryMax, "sandbox max age": c.SandboxMaxAge,
		"executor registration timeout": c.ExecutorRegistrationTimeout, "executor reregistration timeout": c.ExecutorReregistrationTimeout,
		"executor shutdown grace period": c.ExecutorShutdownGracePeriod,
	} {
		if d <= 0 {
			bad("%s must be positive, got %v", name, d)
		}
	}
	if c.ExecutorReregistrationTimeout > 15*time.Second {
		bad("executor reregistration timeout must be at most 15s, got %v", c.ExecutorReregistrationTimeout)
	}
	if c.FetcherCacheSize < 0 {
		bad("fetcher cache size must not be negative, got %d", c.FetcherCacheSize)
	}
	if c.LaunchConcurrency <= 0 {
		bad("launch concurrency must be positive, got %d", c.LaunchConcurrency)
	}
	if c.TaskLogMaxSize < 0 {
		bad("task log max size must be 0 (no rotation) or more, got %d", c.TaskLogMaxSize)
	}
	if c.TaskLogMaxFiles < 1 {
		bad("task log max files must be at least 1, got %d", c.TaskLogMaxFiles)
	}
	if len(c.Containerizers) == 0 {
		bad("containerizers: name at least one of mesos and docker")
	}
	for _, z := range c.Containerizers {
		if z != "mesos" && z != "docker" {
			bad("containerizers: unknown containerizer %q (want mesos or docker)", z)
		}
	}
	return errors.Join(errs...)
}

// Runs reports whether containerizer z ("mesos" or "docker") is among
// Containerizers.
func (c Config) Runs(z string) bool {
	for _, have := range c.Containerizers {
		if have == z {
			return true
		}
	}
	return false
}

// LoggerCommand returns the task logger that goes with the corral binary
// exe: corral-logger beside it when there is one (small, so cheap to
// start), else exe itself with the logger subcommand.
func LoggerCommand(exe string) (string, []string) {
	small := filepath.Join(filepath.Dir(exe), "corral-logger")
	if fi, err := os.Stat(small); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
		return small, nil
	}
	return exe, []string{"logger"}
}
