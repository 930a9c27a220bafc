package schedule

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// Transition days used below (2024):
//
//	America/New_York  spring 10 Mar 02:00 EST -> 03:00 EDT   fall 3 Nov 02:00 EDT -> 01:00 EST
//	Europe/Berlin     spring 31 Mar 02:00 CET -> 03:00 CEST  fall 27 Oct 03:00 CEST -> 02:00 CET

// TestDSTFixedTime checks daily fixed-time jobs over the days around each
// transition: one run per day, a skipped reading runs at the end of the gap,
// a repeated reading runs at its first occurrence.
func TestDSTFixedTime(t *testing.T) {
	tests := []struct {
		name, expr, zone string
		from, to         string // local dates, inclusive
		want             []string
	}{
		{"New York spring-forward, 02:30 runs at 03:00", "30 2 * * *", "America/New_York", "2024-03-09", "2024-03-11", []string{
			"2024-03-09 02:30:00 EST", "2024-03-10 03:00:00 EDT", "2024-03-11 02:30:00 EDT"}},
		{"New York spring-forward, 02:00 runs at 03:00", "0 2 * * *", "America/New_York", "2024-03-09", "2024-03-11", []string{
			"2024-03-09 02:00:00 EST", "2024-03-10 03:00:00 EDT", "2024-03-11 02:00:00 EDT"}},
		{"New York spring-forward, seconds field", "15 30 2 * * *", "America/New_York", "2024-03-09", "2024-03-11", []string{
			"2024-03-09 02:30:15 EST", "2024-03-10 03:00:00 EDT", "2024-03-11 02:30:15 EDT"}},
		{"New York spring-forward, 03:00 unaffected", "0 3 * * *", "America/New_York", "2024-03-09", "2024-03-11", []string{
			"2024-03-09 03:00:00 EST", "2024-03-10 03:00:00 EDT", "2024-03-11 03:00:00 EDT"}},
		{"New York spring-forward, a gap full of minutes runs once", "*/15 2 * * *", "America/New_York", "2024-03-10", "2024-03-10", []string{
			"2024-03-10 03:00:00 EDT"}},
		{"New York fall-back, 01:30 runs once", "30 1 * * *", "America/New_York", "2024-11-02", "2024-11-04", []string{
			"2024-11-02 01:30:00 EDT", "2024-11-03 01:30:00 EDT", "2024-11-04 01:30:00 EST"}},
		{"New York fall-back, 01:00-01:59 listed runs once each", "0,59 1 * * *", "America/New_York", "2024-11-03", "2024-11-03", []string{
			"2024-11-03 01:00:00 EDT", "2024-11-03 01:59:00 EDT"}},
		{"New York fall-back, 02:00 once", "0 2 * * *", "America/New_York", "2024-11-02", "2024-11-04", []string{
			"2024-11-02 02:00:00 EDT", "2024-11-03 02:00:00 EST", "2024-11-04 02:00:00 EST"}},
		{"New York @daily", "@daily", "America/New_York", "2024-03-09", "2024-03-11", []string{
			"2024-03-09 00:00:00 EST", "2024-03-10 00:00:00 EST", "2024-03-11 00:00:00 EDT"}},
		{"Berlin spring-forward, 02:30 runs at 03:00", "30 2 * * *", "Europe/Berlin", "2024-03-30", "2024-04-01", []string{
			"2024-03-30 02:30:00 CET", "2024-03-31 03:00:00 CEST", "2024-04-01 02:30:00 CEST"}},
		{"Berlin fall-back, 02:30 runs once", "30 2 * * *", "Europe/Berlin", "2024-10-26", "2024-10-28", []string{
			"2024-10-26 02:30:00 CEST", "2024-10-27 02:30:00 CEST", "2024-10-28 02:30:00 CET"}},
		{"Berlin fall-back, every minute of 02:xx runs once each", "*/20 2 * * *", "Europe/Berlin", "2024-10-27", "2024-10-27", []string{
			"2024-10-27 02:00:00 CEST", "2024-10-27 02:20:00 CEST", "2024-10-27 02:40:00 CEST"}},
		{"Berlin fall-back, 01:30 unaffected", "30 1 * * *", "Europe/Berlin", "2024-10-26", "2024-10-28", []string{
			"2024-10-26 01:30:00 CEST", "2024-10-27 01:30:00 CEST", "2024-10-28 01:30:00 CET"}},
		{"Berlin fall-back, 03:00 once", "0 3 * * *", "Europe/Berlin", "2024-10-26", "2024-10-28", []string{
			"2024-10-26 03:00:00 CEST", "2024-10-27 03:00:00 CET", "2024-10-28 03:00:00 CET"}},
		{"Berlin hour range is fixed-time", "0 1-3 * * *", "Europe/Berlin", "2024-10-27", "2024-10-27", []string{
			"2024-10-27 01:00:00 CEST", "2024-10-27 02:00:00 CEST", "2024-10-27 03:00:00 CET"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := mustLoc(t, tt.zone)
			s := mustParse(t, tt.expr, tt.zone)
			from := at(t, loc, tt.from+" 00:00:00").Add(-time.Nanosecond)
			to := at(t, loc, tt.to+" 00:00:00").AddDate(0, 0, 1).Add(-time.Nanosecond)
			got := runs(t, s, from, to, loc)
			if !slices.Equal(got, tt.want) {
				t.Errorf("%q in %s from %s to %s: runs\n  %s\nwant\n  %s", tt.expr, tt.zone, tt.from, tt.to,
					strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

// TestDSTFixedTimeFromInsideOverlap starts the search inside the repeated
// hour: the first pass has already shown 01:30, so it does not run again.
func TestDSTFixedTimeFromInsideOverlap(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	s := mustParse(t, "30 1 * * *", "America/New_York")
	tests := []struct{ name, in, want string }{
		{"just before the first 01:30", "2024-11-03 05:29:59", "2024-11-03 01:30:00 EDT"},
		{"at the first 01:30", "2024-11-03 05:30:00", "2024-11-04 01:30:00 EST"},
		{"second pass, before the second 01:30", "2024-11-03 06:10:00", "2024-11-04 01:30:00 EST"},
		{"second pass, after the second 01:30", "2024-11-03 06:45:00", "2024-11-04 01:30:00 EST"},
	}
	for _, tt := range tests {
		got, ok := s.Next(utc(t, tt.in))
		if g := show(got, ok, ny); g != tt.want {
			t.Errorf("%s: Next(%s UTC) = %s; want %s", tt.name, tt.in, g, tt.want)
		}
	}
	// A job at 02:00 seen from 01:10 EST (second pass) runs at 02:00 EST.
	s2 := mustParse(t, "0 2 * * *", "America/New_York")
	got, ok := s2.Next(utc(t, "2024-11-03 06:10:00"))
	if g := show(got, ok, ny); g != "2024-11-03 02:00:00 EST" {
		t.Errorf("0 2 * * *: Next(01:10 EST) = %s; want 2024-11-03 02:00:00 EST", g)
	}
}

// TestDSTWildcardHour checks jobs with a wildcard hour over the whole
// transition day: they keep their real-time rhythm, so there is no hole and
// no double.
func TestDSTWildcardHour(t *testing.T) {
	tests := []struct {
		name, expr, zone, day string
		every                 time.Duration
		count                 int
	}{
		{"New York spring hourly", "0 * * * *", "America/New_York", "2024-03-10", time.Hour, 23},
		{"New York fall hourly", "0 * * * *", "America/New_York", "2024-11-03", time.Hour, 25},
		{"New York spring @hourly", "@hourly", "America/New_York", "2024-03-10", time.Hour, 23},
		{"New York fall */15", "*/15 * * * *", "America/New_York", "2024-11-03", 15 * time.Minute, 100},
		{"New York spring */15", "*/15 * * * *", "America/New_York", "2024-03-10", 15 * time.Minute, 92},
		{"New York fall every 10 s", "*/10 * * * * *", "America/New_York", "2024-11-03", 10 * time.Second, 25 * 360},
		{"Berlin spring hourly", "0 * * * *", "Europe/Berlin", "2024-03-31", time.Hour, 23},
		{"Berlin fall hourly", "0 * * * *", "Europe/Berlin", "2024-10-27", time.Hour, 25},
		{"Berlin spring */15", "*/15 * * * *", "Europe/Berlin", "2024-03-31", 15 * time.Minute, 92},
		{"Berlin fall */15", "*/15 * * * *", "Europe/Berlin", "2024-10-27", 15 * time.Minute, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := mustLoc(t, tt.zone)
			s := mustParse(t, tt.expr, tt.zone)
			start := at(t, loc, tt.day+" 00:00:00")
			end := at(t, loc, tt.day+" 00:00:00").AddDate(0, 0, 1)
			var got []time.Time
			for x := start.Add(-time.Nanosecond); ; {
				u, ok := s.Next(x)
				if !ok {
					t.Fatalf("Next(%v) = none", x)
				}
				if !u.Before(end) {
					break
				}
				got = append(got, u)
				x = u
			}
			if len(got) != tt.count {
				t.Errorf("%q on %s: %d runs; want %d", tt.expr, tt.day, len(got), tt.count)
			}
			if len(got) == 0 || !got[0].Equal(start) {
				t.Fatalf("%q on %s: first run %v; want %v", tt.expr, tt.day, got, start)
			}
			for i := 1; i < len(got); i++ {
				if d := got[i].Sub(got[i-1]); d != tt.every {
					t.Errorf("%q: run %s follows %s after %v; want %v", tt.expr,
						got[i].Format(layout), got[i-1].Format(layout), d, tt.every)
				}
			}
			if d := end.Sub(got[len(got)-1]); d != tt.every {
				t.Errorf("%q: last run %s is %v before midnight; want %v", tt.expr, got[len(got)-1].Format(layout), d, tt.every)
			}
		})
	}
}

// TestDSTWildcardHourOverlap lists the repeated hour explicitly.
func TestDSTWildcardHourOverlap(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	s := mustParse(t, "*/30 * * * *", "America/New_York")
	got := runs(t, s, utc(t, "2024-11-03 04:59:59"), utc(t, "2024-11-03 07:30:00"), ny)
	want := []string{
		"2024-11-03 01:00:00 EDT", "2024-11-03 01:30:00 EDT",
		"2024-11-03 01:00:00 EST", "2024-11-03 01:30:00 EST",
		"2024-11-03 02:00:00 EST", "2024-11-03 02:30:00 EST",
	}
	if !slices.Equal(got, want) {
		t.Errorf("*/30 across fall-back = %v; want %v", got, want)
	}
	// Searching from inside the second pass does not go back to the first.
	u, ok := s.Next(utc(t, "2024-11-03 06:10:00"))
	if g := show(u, ok, ny); g != "2024-11-03 01:30:00 EST" {
		t.Errorf("Next(01:10 EST) = %s; want 2024-11-03 01:30:00 EST", g)
	}
	// From the end of the first pass, the next run is the second pass's 01:00.
	u, ok = s.Next(utc(t, "2024-11-03 05:45:00"))
	if g := show(u, ok, ny); g != "2024-11-03 01:00:00 EST" {
		t.Errorf("Next(01:45 EDT) = %s; want 2024-11-03 01:00:00 EST", g)
	}
}
