package dnsrec

import (
	"strings"
	"testing"
	"testing/quick"
)

func TestLabel(t *testing.T) {
	for in, want := range map[string]string{
		"":                   "",
		"a":                  "a",
		"-":                  "",
		"a---":               "a",
		"---a---":            "a",
		"---a---b":           "a---b",
		"a.b.c.d.e":          "a-b-c-d-e",
		"a.c.d_de.":          "a-c-d-de",
		"abc123":             "abc123",
		"-abc123":            "abc123",
		"abc--123":           "abc--123",
		"4abc123":            "4abc123", // RFC 1123 keeps leading digits
		"r29f.dev.angrypigs": "r29f-dev-angrypigs",
		"web.group":          "web-group", // a Marathon task name
		"group/web":          "groupweb",  // "/" is dropped, not a dash
		"Web_Group":          "web-group",
		"chronos with a space AND MIXED CASE-2.0.1": "chronoswithaspaceandmixedcase-2-0-1",
		"fd%gsf---gs7-f$gs--d7fddg-123":             "fdgsf---gs7-fgs--d7fddg-123",
		// Cut at 63; dashes at the cut are trimmed and the cut refilled
		// from what follows.
		"fd%gsf---gs7-f$gs--d7fddg123456789012345678901234567890123456789-123":   "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891",
		"%%fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789---123": "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891",
		"##fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789-":      "fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789",
		"hello----------------------------------------------------------f":       "hellof",
		"hello--------------------------------------------------------f":         "hello--------------------------------------------------------f",
	} {
		if got := Label(in); got != want {
			t.Errorf("Label(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestLabelProperties(t *testing.T) {
	for name, prop := range map[string]func(string) bool{
		"only a-z, 0-9 and -":    func(s string) bool { return strings.Trim(Label(s), "abcdefghijklmnopqrstuvwxyz0123456789-") == "" },
		"no leading dash":        func(s string) bool { return !strings.HasPrefix(Label(s), "-") },
		"at most 63 characters":  func(s string) bool { return len(Label(s)) <= 63 },
		"a label is its own one": func(s string) bool { l := Label(s); return Label(l) == l },
	} {
		if err := quick.Check(prop, &quick.Config{MaxCount: 20000}); err != nil {
			t.Errorf("Label: %s: %v", name, err)
		}
	}
}

func TestDomain(t *testing.T) {
	for in, want := range map[string]string{
		"":                                     "",
		"...":                                  "",
		"a..c.e":                               "a.c.e",
		".abc":                                 "abc",
		"marathon.prod":                        "marathon.prod",
		"space space.com":                      "spacespace.com",
		"(@ host . com":                        "host.com",
		"MiXeDcase.CoM":                        "mixedcase.com",
		"pod_123$abc.marathon-0.6.0-dev.mesos": "pod-123abc.marathon-0.6.0-dev.mesos",
	} {
		if got := Domain(in); got != want {
			t.Errorf("Domain(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestTaskHash(t *testing.T) {
	// mesos-dns's own vector (records/generator_test.go).
	if got := TaskHash("test"); got != "iffe9" {
		t.Errorf("TaskHash(%q) = %q; want %q", "test", got, "iffe9")
	}
}

func TestAgentTail(t *testing.T) {
	for in, want := range map[string]string{
		"20150921-151229-16777343-5050-1000-S3": "s3",
		"0f3b-run-S0002":                        "s0002",
		"plain":                                 "plain",
	} {
		if got := agentTail(in); got != want {
			t.Errorf("agentTail(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestCheckDomain(t *testing.T) {
	for _, ok := range []string{"mesos", "corral.example", "a-b.c1"} {
		if err := CheckDomain(ok); err != nil {
			t.Errorf("CheckDomain(%q) = %v; want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "Mesos", "a..b", "-a", "a-", "a_b", strings.Repeat("x", 64), "mesos."} {
		if err := CheckDomain(bad); err == nil {
			t.Errorf("CheckDomain(%q) = nil; want an error", bad)
		}
	}
}
