package master

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestConfigValidateFrameworkWebUIHosts(t *testing.T) {
	for _, tc := range []struct {
		hosts   []string
		wantErr string // "" = valid
	}{
		{nil, ""},
		{[]string{"*"}, ""},
		{[]string{"services-1", "jobs.internal.", "10.0.0.5", "::1", "[fd00::1]", "LOCALHOST"}, ""},
		{[]string{"http://services-1"}, "framework_webui_hosts"},
		{[]string{"services-1:8080"}, "framework_webui_hosts"},
		{[]string{"[::1]:8080"}, "framework_webui_hosts"},
		{[]string{"a b"}, "framework_webui_hosts"},
		{[]string{""}, "framework_webui_hosts"},
		{[]string{"host/path"}, "framework_webui_hosts"},
	} {
		cfg := DefaultConfig()
		cfg.DB = "postgres://x"
		cfg.FrameworkWebUIHosts = tc.hosts
		err := cfg.Validate()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("Validate() with FrameworkWebUIHosts %q = %v; want nil", tc.hosts, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("Validate() with FrameworkWebUIHosts %q = %v; want an error naming %s", tc.hosts, err, tc.wantErr)
		}
	}
}

func TestParseHostList(t *testing.T) {
	for in, want := range map[string][]string{
		"":                         nil,
		"*":                        {"*"},
		"a, b ,,c":                 {"a", "b", "c"},
		" services-1,jobs-1 ,":     {"services-1", "jobs-1"},
		"10.0.0.1,[::1],localhost": {"10.0.0.1", "[::1]", "localhost"},
	} {
		if got := ParseHostList(in); !slices.Equal(got, want) {
			t.Errorf("ParseHostList(%q) = %q; want %q", in, got, want)
		}
	}
}

// Offers are rescinded by default; never only when asked for.
func TestDefaultConfigBoundsOffersAndStreams(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DB = "postgres://x"
	if cfg.OfferTimeout <= 0 || cfg.OfferTimeout > time.Minute {
		t.Errorf("DefaultConfig().OfferTimeout = %v; want a bound of at most a minute", cfg.OfferTimeout)
	}
	if cfg.FrameworkStreamTimeout != 30*time.Second {
		t.Errorf("DefaultConfig().FrameworkStreamTimeout = %v; want 30s", cfg.FrameworkStreamTimeout)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("DefaultConfig().Validate() = %v", err)
	}
	never := cfg
	never.OfferTimeout = 0
	if err := never.Validate(); err != nil {
		t.Errorf("Validate() with OfferTimeout 0 (never) = %v; want nil", err)
	}
	for _, d := range []time.Duration{0, -time.Second} {
		bad := cfg
		bad.FrameworkStreamTimeout = d
		if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "framework_stream_timeout") {
			t.Errorf("Validate() with FrameworkStreamTimeout %v = %v; want an error naming framework_stream_timeout", d, err)
		}
	}
}

func TestConfigValidateDNS(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(*Config)
		wantErr string // "" = valid
	}{
		{"off", func(c *Config) {}, ""},
		{"on", func(c *Config) { c.DNSListen, c.DNSDomain = ":8053", "corral.example" }, ""},
		{"no port", func(c *Config) { c.DNSListen = "127.0.0.1" }, "dns_listen"},
		{"upper-case domain", func(c *Config) { c.DNSDomain = "Mesos" }, "dns_domain"},
		{"empty domain", func(c *Config) { c.DNSDomain = "" }, "dns_domain"},
		{"TTL under a second", func(c *Config) { c.DNSTTL = 500 * time.Millisecond }, "dns_ttl"},
	} {
		cfg := DefaultConfig()
		cfg.DB = "postgres://x"
		tc.edit(&cfg)
		err := cfg.Validate()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: Validate() = %v; want nil", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: Validate() = %v; want an error naming %s", tc.name, err, tc.wantErr)
		}
	}
}
