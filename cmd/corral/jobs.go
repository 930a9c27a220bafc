package main

import (
	"flag"
	"fmt"
	"os"

	"corral/frameworks/jobs"
	"corral/internal/zkelect"
)

func jobsCommand() *command {
	cfg := jobs.DefaultConfig()
	masters := "http://127.0.0.1:5050"
	var logs logFlags
	var trust trustFlags
	fs := flag.NewFlagSet("jobs", flag.ContinueOnError)
	fs.StringVar(&masters, "master", masters, "master base URL(s), comma-separated, or zk://host:2181[,host:2181]/path of the masters' election")
	fs.StringVar(&cfg.DB, "db", cfg.DB, "Postgres URL (schema jobs), e.g. postgres://user@localhost:5432/corral (required)")
	fs.StringVar(&cfg.Listen, "http", cfg.Listen, "address of the jobs API (native /v1/jobs, Chronos /v1/scheduler, Metronome /metronome/v1/jobs)")
	fs.StringVar(&cfg.MetronomeListen, "metronome_http", cfg.MetronomeListen, "address of a second listener serving the Metronome API (/v1/jobs with Metronome's shapes) at its root, with the same credentials, ACLs and TLS as --http; empty: none")
	fs.StringVar(&cfg.Advertise, "advertise", cfg.Advertise, "base URL others use to reach the API (default http://<hostname>:<port>)")
	fs.StringVar(&cfg.ZK, "zk", cfg.ZK, "ZooKeeper URL of the jobs instances' election, e.g. zk://h1:2181,h2:2181,h3:2181/corral/jobs: one instance leads, the others serve reads and forward writes to it; empty: the instance holding the database lock leads")
	durationVar(fs, &cfg.ZKSessionTimeout, "zk_session_timeout", "ZooKeeper session timeout of the jobs election: how long a crashed leader keeps the other instances waiting; a leader cut off from ZooKeeper keeps leading for up to two thirds of it")
	fs.StringVar(&cfg.Name, "framework_name", cfg.Name, "framework name registered with the kernel")
	fs.StringVar(&cfg.User, "user", cfg.User, "OS user tasks run as unless a job names its own (FrameworkInfo.user); default the user running this process, or nobody when that is root: tasks as root need --user root and a run_tasks ACL that allows it")
	fs.StringVar(&cfg.Role, "role", cfg.Role, "role the framework subscribes with")
	durationVar(fs, &cfg.FailoverTimeout, "failover_timeout", "how long the kernel keeps tasks running while the framework is away")
	fs.Float64Var(&cfg.DefaultCPUs, "mesos_task_cpu", cfg.DefaultCPUs, "cpus of jobs that ask for 0")
	fs.Float64Var(&cfg.DefaultMem, "mesos_task_mem", cfg.DefaultMem, "mem (MB) of jobs that ask for 0")
	fs.Float64Var(&cfg.DefaultDisk, "mesos_task_disk", cfg.DefaultDisk, "disk (MB) of jobs that ask for 0")
	durationVar(fs, &cfg.Retention, "run_retention", "how long finished runs are kept")
	fs.IntVar(&cfg.KeepRuns, "keep_runs", cfg.KeepRuns, "newest runs kept per job regardless of age")
	durationVar(fs, &cfg.OfferHold, "offer_hold", "keep offers this long before a run is due, so it starts at once")
	durationVar(fs, &cfg.UnreachableTimeout, "task_unreachable_timeout", "give up on a run's task after it is unreachable this long: the attempt fails (retried if retries remain)")
	fs.IntVar(&cfg.EventBuffer, "event_buffer", cfg.EventBuffer, "events kept for /v1/events replay (Last-Event-ID)")
	fs.StringVar(&cfg.NotifyWebhook, "notify_webhook", cfg.NotifyWebhook, "http(s) URL POSTed a JSON notification of each FAILED run of the jobs that name no webhooks of their own; empty: none")
	durationVar(fs, &cfg.NotifyTimeout, "notify_timeout", "bound on one attempt to deliver a webhook notification (connecting, redirects, the answer)")
	durationVar(fs, &cfg.NotifyBackoff, "notify_backoff", "delay before a failed webhook notification is tried again; it doubles with each further failure, up to --notify_backoff_max")
	durationVar(fs, &cfg.NotifyBackoffMax, "notify_backoff_max", "longest delay between attempts to deliver a webhook notification")
	fs.StringVar(&cfg.SMTP, "smtp", cfg.SMTP, "host:port of a mail server: the owners of a job (its owner field, e-mail addresses as in Chronos) are mailed each FAILED run, retried like webhooks; STARTTLS is used when offered; empty: no mail")
	fs.StringVar(&cfg.SMTPFrom, "smtp_from", cfg.SMTPFrom, "sender address of the mails (required with --smtp)")
	fs.StringVar(&cfg.SMTPUser, "smtp_user", cfg.SMTPUser, "user to authenticate to --smtp as (PLAIN, over TLS or to loopback only); its password is read from $CORRAL_SMTP_PASSWORD")
	durationVar(fs, &cfg.NotifyGiveUp, "notify_give_up", "how long after a run ended its webhook notifications are still tried; then they are abandoned")
	migrateFirst := true
	fs.BoolVar(&migrateFirst, "migrate", migrateFirst, "apply database migrations at start")
	trust.registerServer(fs)
	trust.registerClient(fs)
	logs.register(fs)
	c := &command{name: "jobs", summary: "run the jobs framework: cron and dependency jobs (native, Chronos and Metronome APIs)", usage: "[flags]", fs: fs}
	c.run = func(args []string) error {
		if len(args) > 0 {
			return usageError{fmt.Sprintf("unexpected arguments %q", args)}
		}
		log, err := logs.logger()
		if err != nil {
			return err
		}
		cfg.SMTPPassword = os.Getenv("CORRAL_SMTP_PASSWORD")
		if cfg.ZK != "" {
			// Checked before --master, whose ZooKeeper URL starts a watch.
			if _, err := zkelect.ParseURL(cfg.ZK); err != nil {
				return usageError{"zk: " + err.Error()}
			}
		}
		if cfg.Trust, err = trust.load(log, cfg.Listen, cfg.Advertise); err != nil {
			return err
		}
		if cfg.MetronomeListen != "" {
			if err := trust.alsoListen(&cfg.Trust, cfg.MetronomeListen); err != nil {
				return err
			}
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
		s, err := jobs.New(cfg, log)
		if err != nil {
			return err
		}
		return s.Run(ctx)
	}
	return c
}
