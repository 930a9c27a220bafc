package main

import (
	"flag"
	"fmt"
	"net"
	"strings"
	"time"

	"corral/internal/lead"
	"corral/internal/zkelect"
	"corral/kernel/dnsrec"
	"corral/kernel/master"
)

func masterCommand() *command {
	cfg := master.DefaultConfig()
	var logs logFlags
	var trust trustFlags
	fs := flag.NewFlagSet("master", flag.ContinueOnError)
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "address to serve the scheduler, agent and operator APIs on")
	fs.StringVar(&cfg.Advertise, "advertise", cfg.Advertise, "base URL agents and frameworks use to reach this master (default http://<hostname>:<port>)")
	fs.StringVar(&cfg.Hostname, "hostname", cfg.Hostname, "hostname to report (default: the machine's)")
	fs.StringVar(&cfg.DB, "db", cfg.DB, "Postgres URL of the registry, e.g. postgres://user@localhost:5432/corral (required)")
	durationVar(fs, &cfg.AgentPingInterval, "agent_ping_interval", "how often agents heartbeat")
	fs.IntVar(&cfg.MaxAgentPingTimeouts, "max_agent_ping_timeouts", cfg.MaxAgentPingTimeouts, "missed heartbeats after which an agent is unreachable")
	durationVar(fs, &cfg.AgentReregisterTimeout, "agent_reregister_timeout", "time agents have to re-register after this master starts")
	durationVar(fs, &cfg.FrameworkHeartbeatInterval, "framework_heartbeat_interval", "HEARTBEAT period on scheduler streams")
	durationVar(fs, &cfg.AllocationInterval, "allocation_interval", "period of batch allocation cycles")
	durationVar(fs, &cfg.OfferTimeout, "offer_timeout", "rescind offers outstanding longer than this, so a framework that never answers cannot hold resources (0 = never)")
	durationVar(fs, &cfg.FrameworkStreamTimeout, "framework_stream_timeout", "disconnect a framework whose SUBSCRIBE stream cannot be written to for this long (it stopped reading); its offers go back to the allocator")
	fs.IntVar(&cfg.FrameworkStreamQueueBytes, "framework_stream_queue_bytes", cfg.FrameworkStreamQueueBytes, "disconnect a framework once the events queued for its SUBSCRIBE stream and not yet written would pass this many bytes (it reads too slowly); its offers go back to the allocator")
	fs.StringVar(&cfg.SecretsKey, "secrets_key", "", "file of the key that seals secrets at rest: 32 random bytes as 64 hex digits or base64 on one line (openssl rand -hex 32); without it the master keeps no secrets and /secrets answers 501")
	fs.Func("secrets_previous_keys", "comma-separated files of earlier --secrets_key keys: they only decrypt, and the leading master re-encrypts every secret under --secrets_key when its term starts (logged); drop them once that is done", func(v string) error {
		cfg.SecretsPreviousKeys = splitList(v)
		return nil
	})
	var webuiHosts string
	fs.StringVar(&webuiHosts, "framework_webui_hosts", "", "hosts (names or IP addresses, comma-separated) whose webui_url the console's /framework/<name>/ proxy may reach; * = any (default: loopback addresses, localhost and this master's advertised host)")
	fs.Float64Var(&cfg.DefaultRefuseSeconds, "default_refuse_seconds", cfg.DefaultRefuseSeconds, "refuse filter for ACCEPT/DECLINE calls without filters")
	fs.StringVar(&cfg.Weights, "weights", cfg.Weights, "initial role weights, e.g. 'prod=2,dev=0.5'")
	fs.Float64Var(&cfg.MinAllocatableCPUs, "min_allocatable_cpus", cfg.MinAllocatableCPUs, "offer an agent only with at least this many free cpus (or min mem)")
	fs.Float64Var(&cfg.MinAllocatableMem, "min_allocatable_mem", cfg.MinAllocatableMem, "offer an agent only with at least this much free mem in MB (or min cpus)")
	fs.StringVar(&cfg.DNSListen, "dns_listen", cfg.DNSListen, "address (host:port) to serve DNS on, UDP and TCP, in Mesos-DNS's names (web-group.services.mesos); empty serves none. Only the leading master answers, a standby says SERVFAIL: give resolvers every master")
	fs.Var(domainFlag{&cfg.DNSDomain}, "dns_domain", "the zone DNS serves (any case, final dot optional); names outside it are refused")
	durationVar(fs, &cfg.DNSTTL, "dns_ttl", "time to live of DNS records: how long resolvers may keep an answer (records follow the cluster within a second)")
	var zkURL string
	fs.StringVar(&zkURL, "zk", "", "ZooKeeper URL of the masters' election, e.g. zk://h1:2181,h2:2181,h3:2181/corral; empty: this master always leads")
	zkSession := 10 * time.Second
	durationVar(fs, &zkSession, "zk_session_timeout", "ZooKeeper session timeout: how long a crashed leader keeps the others waiting; a leader cut off from ZooKeeper keeps leading for up to two thirds of it")
	migrateFirst := true
	fs.BoolVar(&migrateFirst, "migrate", migrateFirst, "apply database migrations at start")
	trust.registerServer(fs)
	logs.register(fs)
	c := &command{name: "master", summary: "run a master: agents, frameworks, offers, the scheduler and operator APIs", usage: "[flags]", fs: fs}
	c.run = func(args []string) error {
		if len(args) > 0 {
			return usageError{fmt.Sprintf("unexpected arguments %q", args)}
		}
		log, err := logs.logger()
		if err != nil {
			return err
		}
		cfg.FrameworkWebUIHosts = master.ParseHostList(webuiHosts)
		if err := cfg.Validate(); err != nil {
			return usageError{err.Error()}
		}
		if err := cfg.ValidateSecrets(); err != nil {
			return usageError{err.Error()}
		}
		if cfg.Trust, err = trust.load(log, cfg.Listen, cfg.Advertise); err != nil {
			return err
		}
		if zkURL != "" {
			if _, err := zkelect.ParseURL(zkURL); err != nil {
				return usageError{"zk: " + err.Error()}
			}
		}
		cfg.Version = version
		cfg.Flags = flagValues(fs)
		ctx, stop := signalContext()
		defer stop()
		if migrateFirst {
			if err := migrateUpRetry(ctx, cfg.DB, log); err != nil {
				return fmt.Errorf("migrating: %w", err)
			}
		}
		store, err := master.OpenStore(ctx, cfg.DB)
		if err != nil {
			return err
		}
		defer store.Close()
		if zkURL != "" {
			ln, err := net.Listen("tcp", cfg.Listen)
			if err != nil {
				return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
			}
			return master.Contend(ctx, cfg, store, log, ln, func(self lead.Member) (lead.Election, error) {
				// No prefix: the members stay json.info_<seq>, where agents
				// and frameworks look for the leading master.
				return lead.NewZK(zkURL, self, lead.ZKOptions{Data: self.Data, Parse: master.MemberParser(cfg.Trust.Scheme()),
					SessionTimeout: zkSession, Logger: log.With("component", "election")})
			})
		}
		m, err := master.New(cfg, store, log)
		if err != nil {
			return err
		}
		return m.Run(ctx)
	}
	return c
}

// domainFlag is a DNS domain flag: lower-cased, without the final dot.
type domainFlag struct{ d *string }

func (f domainFlag) String() string {
	if f.d == nil {
		return ""
	}
	return *f.d
}

func (f domainFlag) Set(s string) error {
	d := strings.TrimSuffix(strings.ToLower(s), ".")
	if err := dnsrec.CheckDomain(d); err != nil {
		return err
	}
	*f.d = d
	return nil
}
