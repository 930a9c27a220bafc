package schedule

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestISO8601Next(t *testing.T) {
	const ts = "2006-01-02T15:04:05.999999999Z07:00"
	tests := []struct {
		name, expr, zone string
		in               string // RFC 3339
		want             string // RFC 3339 in the schedule's zone, or "none"
	}{
		{"before the start", "R/2014-03-08T20:00:00.000Z/PT2H", "", "2014-03-08T19:00:00Z", "2014-03-08T20:00:00Z"},
		{"at the start", "R/2014-03-08T20:00:00.000Z/PT2H", "", "2014-03-08T20:00:00Z", "2014-03-08T22:00:00Z"},
		{"years later", "R/2014-03-08T20:00:00.000Z/PT2H", "", "2024-01-01T00:00:01Z", "2024-01-01T02:00:00Z"},
		{"PT1S ten years later", "R/2014-01-01T00:00:00Z/PT1S", "", "2024-06-01T12:34:56.7Z", "2024-06-01T12:34:57Z"},
		{"fractional period", "R/2024-01-01T00:00:00Z/PT1.5S", "", "2024-01-01T00:00:01.2Z", "2024-01-01T00:00:01.5Z"},
		{"fractional start", "R/2024-01-01T00:00:00.25Z/PT1S", "", "2024-01-01T00:00:03Z", "2024-01-01T00:00:03.25Z"},
		{"start four centuries back", "R/1700-01-01T00:00:00Z/PT1H", "", "2024-01-01T00:30:00Z", "2024-01-01T01:00:00Z"},
		{"Rn before exhaustion", "R5/2024-01-01T00:00:00Z/P1D", "", "2024-01-04T12:00:00Z", "2024-01-05T00:00:00Z"},
		{"Rn exhausted", "R5/2024-01-01T00:00:00Z/P1D", "", "2024-01-05T00:00:00Z", "none"},
		{"Rn time period exhausted", "R3/2024-01-01T00:00:00Z/PT1H", "", "2024-01-01T02:00:00Z", "none"},
		{"R1 runs once", "R1/2024-01-01T00:00:00Z/P1D", "", "2023-12-31T00:00:00Z", "2024-01-01T00:00:00Z"},
		{"R1 then none", "R1/2024-01-01T00:00:00Z/P1D", "", "2024-01-01T00:00:00Z", "none"},
		{"offset without zone keeps the offset", "R/2024-01-01T09:00:00+01:00/P1D", "", "2024-07-01T00:00:00Z", "2024-07-01T09:00:00+01:00"},
		{"no offset, no zone: UTC", "R/2024-01-01T09:00:00/P1D", "", "2024-07-01T00:00:00Z", "2024-07-01T09:00:00Z"},
		{"zone re-reads the wall clock, ignoring Z", "R/2024-01-01T09:00:00Z/P1D", "Europe/Berlin", "2024-01-01T07:00:00Z", "2024-01-01T09:00:00+01:00"},
		{"zone re-reads the wall clock, ignoring an offset", "R/2024-01-01T09:00:00-05:00/P1D", "Europe/Berlin", "2024-01-01T07:00:00Z", "2024-01-01T09:00:00+01:00"},
		{"P1D keeps the wall clock into summer", "R/2024-01-01T09:00:00/P1D", "Europe/Berlin", "2024-07-01T00:00:00Z", "2024-07-01T09:00:00+02:00"},
		{"PT24H is real time across spring-forward", "R/2024-03-09T09:00:00/PT24H", "America/New_York", "2024-03-09T15:00:00Z", "2024-03-10T10:00:00-04:00"},
		{"P1D across spring-forward", "R/2024-03-09T09:00:00/P1D", "America/New_York", "2024-03-09T15:00:00Z", "2024-03-10T09:00:00-04:00"},
		{"P1D start in the gap runs at its end", "R/2024-03-09T02:30:00/P1D", "America/New_York", "2024-03-09T08:00:00Z", "2024-03-10T03:00:00-04:00"},
		{"P1D after the gap day is back to 02:30", "R/2024-03-09T02:30:00/P1D", "America/New_York", "2024-03-10T07:00:00Z", "2024-03-11T02:30:00-04:00"},
		{"P1D in the overlap runs at the first 01:30", "R/2024-11-02T01:30:00/P1D", "America/New_York", "2024-11-02T12:00:00Z", "2024-11-03T01:30:00-04:00"},
		{"P1D in the overlap runs once", "R/2024-11-02T01:30:00/P1D", "America/New_York", "2024-11-03T05:30:00Z", "2024-11-04T01:30:00-05:00"},
		{"start inside a gap", "R/2024-03-10T02:30:00/PT1H", "America/New_York", "2024-03-01T00:00:00Z", "2024-03-10T03:00:00-04:00"},
		{"Berlin P1D through fall-back", "R/2024-10-26T02:30:00/P1D", "Europe/Berlin", "2024-10-26T12:00:00Z", "2024-10-27T02:30:00+02:00"},
		{"Berlin P1D after fall-back", "R/2024-10-26T02:30:00/P1D", "Europe/Berlin", "2024-10-27T00:30:00Z", "2024-10-28T02:30:00+01:00"},
		{"leap day P1Y clamps to 28 February", "R/2024-02-29T00:00:00Z/P1Y", "", "2024-02-29T00:00:00Z", "2025-02-28T00:00:00Z"},
		{"leap day P1Y is back on 29 February", "R/2024-02-29T00:00:00Z/P1Y", "", "2027-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
		{"end of month P1M to February", "R/2024-01-31T00:00:00Z/P1M", "", "2024-01-31T00:00:00Z", "2024-02-29T00:00:00Z"},
		{"end of month P1M to March, no drift", "R/2024-01-31T00:00:00Z/P1M", "", "2024-02-29T00:00:00Z", "2024-03-31T00:00:00Z"},
		{"end of month P1M to April", "R/2024-01-31T00:00:00Z/P1M", "", "2024-03-31T00:00:00Z", "2024-04-30T00:00:00Z"},
		{"end of month P1M non-leap", "R/2023-01-31T00:00:00Z/P1M", "", "2023-01-31T00:00:00Z", "2023-02-28T00:00:00Z"},
		{"P1M from 1970, fifty years on", "R/1970-01-31T12:00:00Z/P1M", "", "2024-02-15T00:00:00Z", "2024-02-29T12:00:00Z"},
		{"P1Y2M", "R/2024-01-15T00:00:00Z/P1Y2M", "", "2025-03-15T00:00:00Z", "2026-05-15T00:00:00Z"},
		{"P2W", "R/2024-01-01T00:00:00Z/P2W", "", "2024-01-01T00:00:00Z", "2024-01-15T00:00:00Z"},
		{"P1DT1H mixes calendar and real time", "R/2024-01-01T00:00:00Z/P1DT1H", "", "2024-01-02T01:00:00Z", "2024-01-03T02:00:00Z"},
		{"date-only start", "R/2024-01-01/P1D", "Asia/Kolkata", "2024-01-10T00:00:00Z", "2024-01-11T00:00:00+05:30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, tt.expr, tt.zone)
			in, err := time.Parse(time.RFC3339Nano, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			u, ok := s.Next(in)
			got := "none"
			if ok {
				got = u.Format(ts)
			}
			if got != tt.want {
				t.Errorf("%q.Next(%s) = %s; want %s", tt.expr, tt.in, got, tt.want)
			}
		})
	}
}

func TestISO8601Runs(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	s := mustParse(t, "R3/2024-03-09T02:30:00/P1D", "America/New_York")
	got := runs(t, s, utc(t, "2024-01-01 00:00:00"), utc(t, "2030-01-01 00:00:00"), ny)
	want := []string{"2024-03-09 02:30:00 EST", "2024-03-10 03:00:00 EDT", "2024-03-11 02:30:00 EDT"}
	if !slices.Equal(got, want) {
		t.Errorf("R3 runs = %v; want %v", got, want)
	}
}

func TestISO8601String(t *testing.T) {
	tests := []struct{ in, want string }{
		{"R/2014-03-08T20:00:00.000Z/PT2H", "R/2014-03-08T20:00:00Z/PT2H"},
		{"R05/2014-03-08T20:00:00+0100/P0Y1DT0H", "R5/2014-03-08T20:00:00+01:00/P1D"},
		{"R/2014-03-08T20:00/PT1.50S", "R/2014-03-08T20:00:00/PT1.5S"},
		{"R/2014-03-08/P1W", "R/2014-03-08T00:00:00/P1W"},
		{"R01/2014-03-08T20:00:00.25-05:00/PT36H", "R1/2014-03-08T20:00:00.25-05:00/PT36H"},
		{"R/2014-03-08T20:00:00+00:00/P1Y2M3W4DT5H6M7,5S", "R/2014-03-08T20:00:00Z/P1Y2M3W4DT5H6M7.5S"},
		{"  R/2014-03-08T20:00:00Z/P1D  ", "R/2014-03-08T20:00:00Z/P1D"},
	}
	for _, tt := range tests {
		if got := mustParse(t, tt.in, "").String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestISO8601Errors(t *testing.T) {
	tests := []struct {
		name, expr, zone string
		field, problem   string
	}{
		{"month 13", "R/2014-13-01T00:00:00Z/PT1H", "", FieldSchedule, `start "2014-13-01T00:00:00Z": month 13 out of range 1-12`},
		{"not a date", "R/x/PT1H", "", FieldSchedule, `start "x": want an ISO 8601 date-time such as 2014-03-08T20:00:00Z`},
		{"zero period", "R/2014-01-01T00:00:00Z/P0D", "", FieldSchedule, `period "P0D": must be longer than zero`},
		{"zero time period", "R/2014-01-01T00:00:00Z/PT0.0S", "", FieldSchedule, `period "PT0.0S": must be longer than zero`},
		{"zero repetitions", "R0/2014-01-01T00:00:00Z/PT1H", "", FieldSchedule, `repetitions "R0": a schedule repeated zero times never runs; want R (for ever) or Rn with n >= 1, and disable or delete a job to stop it`},
		{"zero repetitions with leading zeros", "R00/2014-01-01T00:00:00Z/P1D", "", FieldSchedule, `repetitions "R00": a schedule repeated zero times never runs; want R (for ever) or Rn with n >= 1, and disable or delete a job to stop it`},
		{"millisecond period", "R/2026-01-01T00:00:00Z/PT0.001S", "", FieldSchedule, `period "PT0.001S" is shorter than one second; runs start at most once a second`},
		{"period just under a second", "R/2026-01-01T00:00:00Z/PT0.999999999S", "", FieldSchedule, `period "PT0.999999999S" is shorter than one second; runs start at most once a second`},
		{"sub-second period with zero calendar parts", "R5/2026-01-01T00:00:00Z/P0DT0M0.5S", "", FieldSchedule, `period "P0DT0M0.5S" is shorter than one second; runs start at most once a second`},
		{"negative repetitions", "R-1/2014-01-01T00:00:00Z/PT1H", "", FieldSchedule, `repetitions "R-1": want R (for ever) or Rn with n a whole number >= 1`},
		{"repetitions not a number", "Rx/2014-01-01T00:00:00Z/PT1H", "", FieldSchedule, `repetitions "Rx": want R (for ever) or Rn with n a whole number >= 1`},
		{"repetitions too large", "R99999999999999999999/2014-01-01T00:00:00Z/PT1H", "", FieldSchedule, `repetitions "R99999999999999999999": want R (for ever) or Rn with n a whole number >= 1`},
		{"empty start", "R//PT1H", "", FieldSchedule, `start is empty; want a date-time such as 2014-03-08T20:00:00Z`},
		{"missing period", "R/2014-01-01T00:00:00Z", "", FieldSchedule, `want R[n]/<start>/<period>, such as R/2014-03-08T20:00:00Z/PT2H`},
		{"too many parts", "R/2014-01-01T00:00:00Z/PT1H/x", "", FieldSchedule, `want R[n]/<start>/<period>, such as R/2014-03-08T20:00:00Z/PT2H`},
		{"30 February", "R/2014-02-30T00:00:00Z/P1D", "", FieldSchedule, `start "2014-02-30T00:00:00Z": day 30 out of range 1-28 for 2014-02`},
		{"hour 24", "R/2014-01-01T24:00:00Z/P1D", "", FieldSchedule, `start "2014-01-01T24:00:00Z": hour 24 out of range 0-23`},
		{"minute 60", "R/2014-01-01T00:60:00Z/P1D", "", FieldSchedule, `start "2014-01-01T00:60:00Z": minute 60 out of range 0-59`},
		{"leap second", "R/2016-12-31T23:59:60Z/P1D", "", FieldSchedule, `start "2016-12-31T23:59:60Z": second 60 out of range 0-59`},
		{"bad offset", "R/2014-01-01T00:00:00+25:00/P1D", "", FieldSchedule, `start "2014-01-01T00:00:00+25:00": offset 25:00 out of range`},
		{"trailing junk", "R/2014-01-01T00:00:00Zulu/P1D", "", FieldSchedule, `start "2014-01-01T00:00:00Zulu": want an ISO 8601 date-time such as 2014-03-08T20:00:00Z`},
		{"too many fraction digits", "R/2014-01-01T00:00:00.1234567891Z/P1D", "", FieldSchedule, `start "2014-01-01T00:00:00.1234567891Z": want 1 to 9 digits of fractional seconds`},
		{"period without P", "R/2014-01-01T00:00:00Z/1D", "", FieldSchedule, `period "1D": want an ISO 8601 period such as P1D, PT2H or P1Y2M3DT4H5M6.5S`},
		{"hours before T", "R/2014-01-01T00:00:00Z/P1H", "", FieldSchedule, `period "P1H": want an ISO 8601 period such as P1D, PT2H or P1Y2M3DT4H5M6.5S`},
		{"empty time part", "R/2014-01-01T00:00:00Z/P1DT", "", FieldSchedule, `period "P1DT": want an ISO 8601 period such as P1D, PT2H or P1Y2M3DT4H5M6.5S`},
		{"bare P", "R/2014-01-01T00:00:00Z/P", "", FieldSchedule, `period "P": want an ISO 8601 period such as P1D, PT2H or P1Y2M3DT4H5M6.5S`},
		{"components out of order", "R/2014-01-01T00:00:00Z/PT1M1H", "", FieldSchedule, `period "PT1M1H": want an ISO 8601 period such as P1D, PT2H or P1Y2M3DT4H5M6.5S`},
		{"repeated component", "R/2014-01-01T00:00:00Z/P1D1D", "", FieldSchedule, `period "P1D1D": want an ISO 8601 period such as P1D, PT2H or P1Y2M3DT4H5M6.5S`},
		{"fractional days", "R/2014-01-01T00:00:00Z/P1.5D", "", FieldSchedule, `period "P1.5D": only seconds may have a fraction`},
		{"negative period", "R/2014-01-01T00:00:00Z/P-1D", "", FieldSchedule, `period "P-1D": want an ISO 8601 period such as P1D, PT2H or P1Y2M3DT4H5M6.5S`},
		{"absurd calendar period", "R/2014-01-01T00:00:00Z/P20000Y", "", FieldSchedule, `period "P20000Y": calendar part longer than 10000 years`},
		{"absurd time period", "R/2014-01-01T00:00:00Z/PT9999999999H", "", FieldSchedule, `period "PT9999999999H": time part longer than 292 years`},
		{"unknown zone", "R/2014-01-01T00:00:00Z/PT1H", "Mars/Olympus", FieldTimezone, `unknown time zone "Mars/Olympus"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.expr, tt.zone)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%q, %q) error = %v; want a *FieldError", tt.expr, tt.zone, err)
			}
			want := tt.problem
			if tt.field == FieldSchedule {
				want = `ISO 8601 schedule "` + strings.TrimSpace(tt.expr) + `": ` + tt.problem
			}
			if fe.Field != tt.field || fe.Problem != want {
				t.Errorf("Parse(%q, %q) error = %q, %q; want %q, %q", tt.expr, tt.zone, fe.Field, fe.Problem, tt.field, want)
			}
		})
	}
}

func TestParseDispatch(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"R/2014-01-01T00:00:00Z/PT1H", "*schedule.isoSchedule"},
		{"0 * * * *", "*schedule.cronSchedule"},
		{"@every 1m", "*schedule.everySchedule"},
	}
	for _, tt := range tests {
		s := mustParse(t, tt.expr, "")
		if got := strings.TrimSpace(typeName(s)); got != tt.want {
			t.Errorf("Parse(%q) is a %s; want %s", tt.expr, got, tt.want)
		}
	}
}
