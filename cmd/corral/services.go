package main

import (
	"flag"
	"fmt"

	"corral/frameworks/services"
	"corral/internal/zkelect"
)

func servicesCommand() *command {
	cfg := services.DefaultConfig()
	masters := "http://127.0.0.1:5050"
	var logs logFlags
	var trust trustFlags
	fs := flag.NewFlagSet("services", flag.ContinueOnError)
	fs.StringVar(&masters, "master", masters, "master base URL(s), comma-separated, or zk://host:2181[,host:2181]/path of the masters' election")
	fs.StringVar(&cfg.DB, "db", cfg.DB, "Postgres URL (schema services), e.g. postgres://user@localhost:5432/corral (required)")
	fs.StringVar(&cfg.Listen, "http", cfg.Listen, "address of the Marathon-compatible REST API")
	fs.StringVar(&cfg.Advertise, "advertise", cfg.Advertise, "base URL others use to reach the API (default http://<hostname>:<port>)")
	fs.StringVar(&cfg.Name, "framework_name", cfg.Name, "framework name registered with the kernel")
	fs.StringVar(&cfg.User, "user", cfg.User, "OS user tasks run as unless an app names its own (FrameworkInfo.user); default the user running this process, or nobody when that is root: tasks as root need --user root and a run_tasks ACL that allows it")
	fs.StringVar(&cfg.Role, "role", cfg.Role, "role the framework subscribes with")
	durationVar(fs, &cfg.FailoverTimeout, "failover_timeout", "how long the kernel keeps tasks running while the framework is away")
	durationVar(fs, &cfg.DeclineRefuse, "decline_offer_duration", "refuse filter for offers declined while apps wait to launch")
	durationVar(fs, &cfg.IdleRefuse, "idle_decline_duration", "refuse filter for offers declined while nothing waits")
	durationVar(fs, &cfg.ReconcileInterval, "reconciliation_interval", "period of implicit task reconciliation")
	fs.IntVar(&cfg.EventBuffer, "event_buffer", cfg.EventBuffer, "events kept for /v2/events replay (Last-Event-ID)")
	fs.IntVar(&cfg.DeploymentFailureLimit, "deployment_failure_limit", cfg.DeploymentFailureLimit,
		"new instances of a deployment that may fail in a row (crash, or killed for failing health checks) before it fails as a crash loop, without waiting for its upgradeStrategy.progressDeadlineSeconds; 0: never")
	fs.IntVar(&cfg.LocalPortMin, "local_port_min", cfg.LocalPortMin, "lowest service port given to an app port that asks for any (portDefinitions port or portMappings servicePort 0)")
	fs.IntVar(&cfg.LocalPortMax, "local_port_max", cfg.LocalPortMax, "highest service port given to an app port that asks for any (included)")
	durationVar(fs, &cfg.CallbackTimeout, "http_event_request_timeout", "bound of each POST of an event to a /v2/eventSubscriptions callback URL, connection included")
	fs.StringVar(&cfg.ZK, "zk", cfg.ZK, "ZooKeeper URL of the services instances' election, e.g. zk://h1:2181,h2:2181/corral/services: one instance leads, the others forward the API to it; empty: the instance holding the database lock leads")
	durationVar(fs, &cfg.ZKSessionTimeout, "zk_session_timeout", "ZooKeeper session timeout: how long a crashed leader keeps the other instances waiting; a leader cut off from ZooKeeper keeps leading for up to two thirds of it")
	migrateFirst := true
	fs.BoolVar(&migrateFirst, "migrate", migrateFirst, "apply database migrations at start")
	trust.registerServer(fs)
	trust.registerClient(fs)
	logs.register(fs)
	c := &command{name: "services", summary: "run the services framework: Marathon-compatible long-running apps", usage: "[flags]", fs: fs}
	c.run = func(args []string) error {
		if len(args) > 0 {
			return usageError{fmt.Sprintf("unexpected arguments %q", args)}
		}
		log, err := logs.logger()
		if err != nil {
			return err
		}
		if cfg.ZK != "" {
			// Checked before --master, whose ZooKeeper URL starts a watch.
			if _, err := zkelect.ParseURL(cfg.ZK); err != nil {
				return usageError{"zk: " + err.Error()}
			}
		}
		if cfg.Trust, err = trust.load(log, cfg.Listen, cfg.Advertise); err != nil {
			return err
		}
		ctx, stop := signalContext()
		defer stop()
		if cfg.Masters, cfg.Detector, err = resolveMasters(ctx, masters, log, cfg.Trust); err != nil {
			return err
		}
		if err := cfg.Validate(); err != nil {
			return usageError{err.Error()}
		}
		cfg.Version = version
		if migrateFirst {
			if err := migrateUpRetry(ctx, cfg.DB, log); err != nil {
				return fmt.Errorf("migrating: %w", err)
			}
		}
		s, err := services.New(cfg, log)
		if err != nil {
			return err
		}
		return s.Run(ctx)
	}
	return c
}
