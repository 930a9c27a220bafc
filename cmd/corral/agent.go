package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"corral/kernel/agent"
)

func agentCommand() *command {
	cfg := agent.DefaultConfig()
	var masters string
	var logs logFlags
	var trust trustFlags
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.StringVar(&masters, "master", "http://127.0.0.1:5050", "master base URL(s), comma-separated (the agent finds the leader among them), or zk://host:2181[,host:2181]/path of the masters' election")
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "address of the agent's HTTP server (/files, /state, /health, /metrics)")
	fs.StringVar(&cfg.Advertise, "advertise", cfg.Advertise, "base URL others use to reach this agent (default http://<hostname>:<port>)")
	fs.StringVar(&cfg.Hostname, "hostname", cfg.Hostname, "hostname reported to the master and to tasks")
	fs.StringVar(&cfg.WorkDir, "work_dir", cfg.WorkDir, "directory for checkpoints (meta/) and task sandboxes (sandboxes/)")
	fs.StringVar(&cfg.Resources, "resources", cfg.Resources, "resources to offer, e.g. 'cpus:4;mem:8192;disk:10000;ports:[31000-32000]'; names left out are detected")
	fs.StringVar(&cfg.Attributes, "attributes", cfg.Attributes, "attributes passed in offers, e.g. 'rack:a;zone:1'")
	durationVar(fs, &cfg.KillGracePeriod, "kill_grace_period", "time between SIGTERM and SIGKILL when a kill gives none")
	durationVar(fs, &cfg.ExecutorRegistrationTimeout, "executor_registration_timeout", "time a new custom executor has to subscribe (fetching included) before its tasks fail")
	durationVar(fs, &cfg.ExecutorReregistrationTimeout, "executor_reregistration_timeout", "time executors found running at start have to subscribe again (at most 15s)")
	durationVar(fs, &cfg.ExecutorShutdownGracePeriod, "executor_shutdown_grace_period", "time an executor has between SHUTDOWN and being killed, unless its ExecutorInfo gives one")
	fs.StringVar(&cfg.Cgroups, "cgroups", cfg.Cgroups, "cgroups use: auto, v1, v2 or none")
	fs.BoolVar(&cfg.CgroupsEnableCFS, "cgroups_enable_cfs", cfg.CgroupsEnableCFS, "cap a task that gives no cpu limit at its cpus request with a CFS quota (off: cpu shares by the request, idle cpu usable beyond it; a task's own limit caps it either way)")
	fs.StringVar(&cfg.CgroupRoot, "cgroup_root", cfg.CgroupRoot, "parent cgroup of the agent's task cgroups")
	durationVar(fs, &cfg.RegisterBackoffFactor, "registration_backoff_factor", "initial backoff when (re-)registering; doubles up to --registration_backoff_max")
	durationVar(fs, &cfg.RegisterBackoffMax, "registration_backoff_max", "maximum backoff between registration attempts")
	durationVar(fs, &cfg.UpdateRetryInterval, "status_update_retry_interval", "first resend interval of an unacknowledged status update; doubles up to --status_update_retry_max")
	durationVar(fs, &cfg.UpdateRetryMax, "status_update_retry_max", "maximum resend interval of an unacknowledged status update")
	durationVar(fs, &cfg.SandboxMaxAge, "sandbox_max_age", "remove sandboxes of finished tasks older than this")
	fs.StringVar(&cfg.SecretsDir, "secrets_dir", cfg.SecretsDir, "directory for the files of tasks' secret volumes, best a tmpfs (default: under /dev/shm when it is a tmpfs, else work_dir/secrets)")
	containerizers := strings.Join(cfg.Containerizers, ",")
	fs.StringVar(&containerizers, "containerizers", containerizers, "what runs tasks, comma-separated: mesos (processes on the agent) and docker (tasks with a DOCKER container, through the Docker engine)")
	fs.StringVar(&cfg.DockerSocket, "docker_socket", cfg.DockerSocket, "the Docker engine's API socket (default /var/run/docker.sock), or a unix:// or tcp:// URL")
	fs.StringVar(&cfg.FetcherCacheDir, "fetcher_cache_dir", cfg.FetcherCacheDir, "directory of the cache of tasks' artifacts (URIs with cache: true), cleared at start (default work_dir/fetch)")
	fs.Int64Var(&cfg.FetcherCacheSize, "fetcher_cache_size", cfg.FetcherCacheSize, "bytes of artifacts the fetcher cache keeps, least recently used evicted first; 0 disables the cache")
	fs.Int64Var(&cfg.TaskLogMaxSize, "task_log_max_size", cfg.TaskLogMaxSize, "bytes at which a task's stdout or stderr is rotated to stdout.1, ... (0: never; a task may set CONTAINER_LOGGER_MAX_STDOUT_SIZE)")
	fs.IntVar(&cfg.TaskLogMaxFiles, "task_log_max_files", cfg.TaskLogMaxFiles, "files of each of a task's output streams kept, the current one included (a task may set CONTAINER_LOGGER_LOGROTATE_STDOUT_OPTIONS=\"rotate N\")")
	fs.IntVar(&cfg.LaunchConcurrency, "launch_concurrency", cfg.LaunchConcurrency, "how many tasks are set up at once")
	fs.BoolVar(&cfg.SwitchUser, "switch_user", cfg.SwitchUser, "run each task as its command's user, else its framework's (needs the agent to run as root); false runs every task as the agent's own user")
	fs.BoolVar(&cfg.EnableDebug, "enable_debug", cfg.EnableDebug, "serve Go's profiler and expvars at /debug/pprof and /debug/vars (behind authentication like every endpoint; off by default: profiles reveal the process's internals and cost CPU)")
	trust.registerServer(fs)
	trust.registerClient(fs)
	logs.register(fs)
	c := &command{name: "agent", summary: "run an agent: register with the master and run tasks in sandboxes", usage: "[flags]", fs: fs}
	c.run = func(args []string) error {
		if len(args) > 0 {
			return usageError{fmt.Sprintf("unexpected arguments %q", args)}
		}
		log, err := logs.logger()
		if err != nil {
			return err
		}
		if cfg.Trust, err = trust.load(log, cfg.Listen, cfg.Advertise); err != nil {
			return err
		}
		ctx, stop := signalContext()
		defer stop()
		if cfg.Masters, cfg.Detector, err = resolveMasters(ctx, masters, log, cfg.Trust); err != nil {
			return err
		}
		cfg.Containerizers = splitList(containerizers)
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding this executable, the tasks' logger: %w", err)
		}
		cfg.Logger, cfg.LoggerArgs = agent.LoggerCommand(exe)
		if err := cfg.Validate(); err != nil {
			return usageError{err.Error()}
		}
		a, err := agent.New(cfg, log)
		if err != nil {
			return err
		}
		return a.Run(ctx)
	}
	return c
}
