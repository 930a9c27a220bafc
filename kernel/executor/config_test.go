package executor

import (
	"encoding/pem"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// agentEnv is what a checkpointing framework's executor gets from a
// Mesos agent.
func agentEnv() map[string]string {
	return map[string]string{
		EnvFrameworkID:            "F1",
		EnvExecutorID:             "E1",
		EnvAgentEndpoint:          "10.0.0.5:5051",
		EnvDirectory:              "/var/lib/mesos/slaves/S0/frameworks/F1/executors/E1/runs/C1",
		EnvSandbox:                "/mnt/mesos/sandbox",
		EnvCheckpoint:             "1",
		EnvRecoveryTimeout:        "15mins",
		EnvSubscriptionBackoffMax: "2secs",
		EnvShutdownGracePeriod:    "5secs",
	}
}

func TestFromEnv(t *testing.T) {
	base := Config{
		FrameworkID:            "F1",
		ExecutorID:             "E1",
		AgentURL:               "http://10.0.0.5:5051",
		Directory:              "/var/lib/mesos/slaves/S0/frameworks/F1/executors/E1/runs/C1",
		Sandbox:                "/mnt/mesos/sandbox",
		Checkpoint:             true,
		RecoveryTimeout:        15 * time.Minute,
		SubscriptionBackoffMax: 2 * time.Second,
		ShutdownGracePeriod:    5 * time.Second,
	}
	for _, c := range []struct {
		name string
		set  map[string]string // "" unsets
		want func(*Config)
	}{
		{name: "mesos agent", want: func(*Config) {}},
		{
			name: "no checkpoint, no recovery variables",
			set:  map[string]string{EnvCheckpoint: "0", EnvRecoveryTimeout: "", EnvSubscriptionBackoffMax: ""},
			want: func(c *Config) { c.Checkpoint, c.RecoveryTimeout, c.SubscriptionBackoffMax = false, 0, 0 },
		},
		{
			name: "checkpoint unset",
			set:  map[string]string{EnvCheckpoint: "", EnvRecoveryTimeout: "", EnvSubscriptionBackoffMax: ""},
			want: func(c *Config) { c.Checkpoint, c.RecoveryTimeout, c.SubscriptionBackoffMax = false, 0, 0 },
		},
		{
			name: "corral agent over https",
			set:  map[string]string{EnvAgentURL: "https://127.0.0.1:5051/", EnvAgentEndpoint: "", EnvCAFile: "/etc/corral/ca.pem"},
			want: func(c *Config) { c.AgentURL, c.CAFile = "https://127.0.0.1:5051", "/etc/corral/ca.pem" },
		},
		{
			name: "CORRAL_AGENT_URL wins",
			set:  map[string]string{EnvAgentURL: "https://agent:5051"},
			want: func(c *Config) { c.AgentURL = "https://agent:5051" },
		},
		{
			name: "protobuf",
			set:  map[string]string{EnvCodec: "protobuf"},
			want: func(c *Config) { c.Protobuf = true },
		},
		{
			name: "json",
			set:  map[string]string{EnvCodec: "json"},
			want: func(*Config) {},
		},
		{
			name: "fractional duration and zero grace",
			set:  map[string]string{EnvRecoveryTimeout: "1.5mins", EnvShutdownGracePeriod: "0ns"},
			want: func(c *Config) { c.RecoveryTimeout, c.ShutdownGracePeriod = 90*time.Second, 0 },
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := agentEnv()
			maps.Copy(env, c.set)
			got, err := fromEnv(func(k string) string { return env[k] })
			if err != nil {
				t.Fatalf("fromEnv = %v", err)
			}
			want := base
			c.want(&want)
			if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Config{}, "HTTPClient", "Logger")); diff != "" {
				t.Errorf("fromEnv mismatch (-want +got):\n%s", diff)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate(fromEnv()) = %v", err)
			}
		})
	}
}

func TestFromEnvErrors(t *testing.T) {
	for _, c := range []struct {
		name    string
		set     map[string]string // "" unsets
		varName string            // the error names it
		problem string            // and says this
	}{
		{"no framework id", map[string]string{EnvFrameworkID: ""}, EnvFrameworkID, "not set"},
		{"no executor id", map[string]string{EnvExecutorID: ""}, EnvExecutorID, "not set"},
		{"no directory", map[string]string{EnvDirectory: ""}, EnvDirectory, "not set"},
		{"no sandbox", map[string]string{EnvSandbox: ""}, EnvSandbox, "not set"},
		{"no endpoint", map[string]string{EnvAgentEndpoint: ""}, EnvAgentEndpoint, "not set"},
		{"endpoint without port", map[string]string{EnvAgentEndpoint: "10.0.0.5"}, EnvAgentEndpoint, "not host:port"},
		{"endpoint as URL", map[string]string{EnvAgentEndpoint: "http://10.0.0.5:5051"}, EnvAgentEndpoint, "not host:port"},
		{"agent URL without scheme", map[string]string{EnvAgentURL: "10.0.0.5:5051"}, EnvAgentURL, "want http(s)://host:port"},
		{"agent URL with path", map[string]string{EnvAgentURL: "http://10.0.0.5:5051/api/v1/executor"}, EnvAgentURL, "without path"},
		{"checkpoint not a bool", map[string]string{EnvCheckpoint: "yes"}, EnvCheckpoint, "not 1 or 0"},
		{"no recovery timeout", map[string]string{EnvRecoveryTimeout: ""}, EnvRecoveryTimeout, "required when MESOS_CHECKPOINT is 1"},
		{"no backoff max", map[string]string{EnvSubscriptionBackoffMax: ""}, EnvSubscriptionBackoffMax, "required when MESOS_CHECKPOINT is 1"},
		{"no grace period", map[string]string{EnvShutdownGracePeriod: ""}, EnvShutdownGracePeriod, "not set"},
		{"go duration", map[string]string{EnvRecoveryTimeout: "15m"}, EnvRecoveryTimeout, "unknown unit"},
		{"go duration grace", map[string]string{EnvShutdownGracePeriod: "5s"}, EnvShutdownGracePeriod, "unknown unit"},
		{"no number", map[string]string{EnvSubscriptionBackoffMax: "secs"}, EnvSubscriptionBackoffMax, "want a number"},
		{"zero backoff", map[string]string{EnvSubscriptionBackoffMax: "0secs"}, EnvSubscriptionBackoffMax, "not positive"},
		{"zero recovery", map[string]string{EnvRecoveryTimeout: "0ns"}, EnvRecoveryTimeout, "not positive"},
		{"unknown codec", map[string]string{EnvCodec: "xml"}, EnvCodec, "neither json nor protobuf"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := agentEnv()
			maps.Copy(env, c.set)
			_, err := fromEnv(func(k string) string { return env[k] })
			if err == nil || !strings.Contains(err.Error(), c.varName+":") || !strings.Contains(err.Error(), c.problem) {
				t.Errorf("fromEnv = %v; want an error naming %s and saying %q", err, c.varName, c.problem)
			}
		})
	}
}

// TestFromEnvProcess reads the real environment, and the CA file.
func TestFromEnvProcess(t *testing.T) {
	srv := httptest.NewTLSServer(nil)
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range agentEnv() {
		t.Setenv(k, v)
	}
	t.Setenv(EnvCodec, "")
	t.Setenv(EnvAgentURL, "")

	t.Setenv(EnvCAFile, ca)
	cfg, err := FromEnv()
	if err != nil {
		t.Fatalf("FromEnv = %v", err)
	}
	if cfg.CAFile != ca || cfg.ExecutorID != "E1" || cfg.RecoveryTimeout != 15*time.Minute {
		t.Errorf("FromEnv = %+v; want CAFile %s, executor E1, recovery 15m", cfg, ca)
	}

	for _, bad := range []string{notPEM, filepath.Join(dir, "missing.pem")} {
		t.Setenv(EnvCAFile, bad)
		if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), EnvCAFile+":") {
			t.Errorf("FromEnv with CA file %s = %v; want an error naming %s", bad, err, EnvCAFile)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := Config{FrameworkID: "F", ExecutorID: "E", AgentURL: "http://127.0.0.1:5051"}
	for _, c := range []struct {
		name string
		mod  func(*Config)
		want string // "" means valid
	}{
		{"ok", func(*Config) {}, ""},
		{"no framework", func(c *Config) { c.FrameworkID = "" }, "FrameworkID"},
		{"no executor", func(c *Config) { c.ExecutorID = "" }, "ExecutorID"},
		{"no agent", func(c *Config) { c.AgentURL = "" }, "AgentURL"},
		{"ftp agent", func(c *Config) { c.AgentURL = "ftp://h:1" }, "AgentURL"},
		{"negative backoff", func(c *Config) { c.SubscriptionBackoffMax = -1 }, "SubscriptionBackoffMax"},
		{"negative resend", func(c *Config) { c.ResendInterval = -1 }, "ResendInterval"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := ok
			c.mod(&cfg)
			err := cfg.Validate()
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Errorf("Validate() = %v; want %q", err, c.want)
			}
		})
	}
}
