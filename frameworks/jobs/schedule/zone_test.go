package schedule

import (
	"testing"
	"time"
)

func TestResolve(t *testing.T) {
	tests := []struct {
		name, zone, wall, want string
	}{
		{"ordinary reading", "America/New_York", "2024-03-09 02:30:00", "2024-03-09 02:30:00 EST"},
		{"gap resolves to its end", "America/New_York", "2024-03-10 02:30:00", "2024-03-10 03:00:00 EDT"},
		{"start of gap", "America/New_York", "2024-03-10 02:00:00", "2024-03-10 03:00:00 EDT"},
		{"repeated reading resolves to the first", "America/New_York", "2024-11-03 01:30:00", "2024-11-03 01:30:00 EDT"},
		{"just after the overlap", "America/New_York", "2024-11-03 02:00:00", "2024-11-03 02:00:00 EST"},
		{"Berlin gap", "Europe/Berlin", "2024-03-31 02:59:59", "2024-03-31 03:00:00 CEST"},
		{"Berlin overlap", "Europe/Berlin", "2024-10-27 02:00:00", "2024-10-27 02:00:00 CEST"},
		{"Lord Howe half-hour gap", "Australia/Lord_Howe", "2024-10-06 02:15:00", "2024-10-06 02:30:00 +11"},
		{"Sao Paulo midnight gap", "America/Sao_Paulo", "2018-11-04 00:00:00", "2018-11-04 01:00:00 -02"},
		{"Apia's missing day", "Pacific/Apia", "2011-12-30 12:00:00", "2011-12-31 00:00:00 +14"},
	}
	for _, tt := range tests {
		loc := mustLoc(t, tt.zone)
		if got := resolve(utc(t, tt.wall), loc).Format(layout); got != tt.want {
			t.Errorf("%s: resolve(%s) = %s; want %s", tt.name, tt.wall, got, tt.want)
		}
	}
}

func TestHighWater(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	tests := []struct {
		name, in, want string // in: UTC; want: wall reading
	}{
		{"ordinary instant", "2024-11-02 12:00:00", "2024-11-02 08:00:00"},
		{"first pass of the overlap", "2024-11-03 05:10:00", "2024-11-03 01:10:00"},
		{"second pass of the overlap", "2024-11-03 06:10:00", "2024-11-03 01:59:59.999999999"},
		{"after the overlap", "2024-11-03 07:10:00", "2024-11-03 02:10:00"},
	}
	for _, tt := range tests {
		want, err := time.Parse("2006-01-02 15:04:05.999999999", tt.want)
		if err != nil {
			t.Fatal(err)
		}
		if got := highWater(utc(t, tt.in), ny); !got.Equal(want) {
			t.Errorf("%s: highWater(%s UTC) = %v; want %v", tt.name, tt.in, got, want)
		}
	}
}

// TestSegmentAtLeapYearEnd covers Go reporting a zone segment that ends
// before the instant asked about, on 31 December of leap years past the
// zone's listed transitions; walking segments must still move forward.
func TestSegmentAtLeapYearEnd(t *testing.T) {
	for _, zone := range []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe"} {
		loc := mustLoc(t, zone)
		for _, s := range []string{"2040-12-31 00:00:00", "2040-12-31 12:00:00", "2044-12-31 23:59:59", "2096-12-31 06:00:00"} {
			u := utc(t, s)
			seg := segmentAt(u, loc)
			if !seg.end.IsZero() && !seg.end.After(u) {
				t.Errorf("%s: segmentAt(%s UTC).end = %v; not after it", zone, s, seg.end)
			}
			if _, off := seg.end.Add(-time.Nanosecond).In(loc).Zone(); time.Duration(off)*time.Second != seg.off {
				t.Errorf("%s: segmentAt(%s UTC) offset %v changes before its end %v", zone, s, seg.off, seg.end)
			}
		}
	}
	// A monthly schedule walks through many such year ends.
	s := mustParse(t, "R/2030-12-31T12:00:00/P1M", "Europe/Berlin")
	u, ok := s.Next(time.Date(2096, 12, 1, 0, 0, 0, 0, time.UTC))
	if got := show(u, ok, mustLoc(t, "Europe/Berlin")); got != "2096-12-31 12:00:00 CET" {
		t.Errorf("P1M: Next(2096-12-01) = %s; want 2096-12-31 12:00:00 CET", got)
	}
	c := mustParse(t, "0 12 31 12 *", "America/New_York")
	u, ok = c.Next(time.Date(2040, 12, 1, 0, 0, 0, 0, time.UTC))
	if got := show(u, ok, mustLoc(t, "America/New_York")); got != "2040-12-31 12:00:00 EST" {
		t.Errorf("0 12 31 12 *: Next(2040-12-01) = %s; want 2040-12-31 12:00:00 EST", got)
	}
}
