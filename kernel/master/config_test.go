package master

import (
	"slices"
	"strings"
	"testing"
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
