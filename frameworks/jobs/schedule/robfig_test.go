package schedule

import (
	"testing"

	"github.com/robfig/cron/v3"
)

// TestRobfigDST records what robfig/cron/v3's own Next does at transitions,
// which is why this package evaluates robfig's bit sets itself. If it fails,
// robfig changed its behaviour; re-check the reasoning in doc.go.
func TestRobfigDST(t *testing.T) {
	p := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)
	tests := []struct {
		name, spec, zone string
		from             string // UTC
		want             []string
	}{
		{"spring-forward skips the 02:30 run", "30 2 * * *", "America/New_York", "2024-03-09 12:00:00",
			[]string{"2024-03-11 02:30:00 EDT"}},
		{"fall-back doubles the 01:30 run", "30 1 * * *", "America/New_York", "2024-11-02 12:00:00",
			[]string{"2024-11-03 01:30:00 EDT", "2024-11-03 01:30:00 EST"}},
		{"Berlin fall-back doubles the 02:30 run", "30 2 * * *", "Europe/Berlin", "2024-10-26 12:00:00",
			[]string{"2024-10-27 02:30:00 CEST", "2024-10-27 02:30:00 CET"}},
		{"hourly runs both repeated hours", "0 * * * *", "America/New_York", "2024-11-03 04:30:00",
			[]string{"2024-11-03 01:00:00 EDT", "2024-11-03 01:00:00 EST", "2024-11-03 02:00:00 EST"}},
		{"gives up on a February 29 eight years away", "0 0 29 2 *", "UTC", "2097-01-01 00:00:00",
			[]string{"0001-01-01 00:00:00 UTC"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := mustLoc(t, tt.zone)
			s, err := p.Parse(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			s.(*cron.SpecSchedule).Location = loc
			x := utc(t, tt.from)
			for i, want := range tt.want {
				got := s.Next(x)
				if g := got.In(loc).Format(layout); g != want {
					t.Fatalf("robfig Next #%d(%v) = %s; want %s", i, x, g, want)
				}
				x = got
			}
		})
	}
}
