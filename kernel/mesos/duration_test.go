package mesos

import (
	"testing"
	"time"
)

func TestDurationStoutForm(t *testing.T) {
	for _, c := range []struct {
		d time.Duration
		s string
	}{
		{5 * time.Second, "5secs"}, {90 * time.Second, "90secs"}, {15 * time.Minute, "15mins"},
		{250 * time.Millisecond, "250ms"}, {2 * time.Hour, "2hrs"}, {0, "0ns"}, {1500 * time.Microsecond, "1500us"},
	} {
		if got := FormatDuration(c.d); got != c.s {
			t.Errorf("FormatDuration(%v) = %q, want %q", c.d, got, c.s)
		}
		if got, err := ParseDuration(c.s); err != nil || got != c.d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", c.s, got, err, c.d)
		}
	}
	for _, bad := range []string{"", "5s", "1m30s", "secs", "5 secs"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}
