package schedule

import (
	"errors"
	"testing"
)

func TestCronNext(t *testing.T) {
	tests := []struct {
		name, expr, zone string
		in               string // UTC
		want             string // in the schedule's zone
	}{
		{"every minute", "* * * * *", "", "2024-01-01 00:00:00", "2024-01-01 00:01:00 UTC"},
		{"every minute from mid-minute", "* * * * *", "", "2024-01-01 00:00:30", "2024-01-01 00:01:00 UTC"},
		{"daily at a fixed time, later today", "5 4 * * *", "", "2024-01-01 04:04:59", "2024-01-01 04:05:00 UTC"},
		{"daily at a fixed time, strictly after", "5 4 * * *", "", "2024-01-01 04:05:00", "2024-01-02 04:05:00 UTC"},
		{"new year", "0 0 1 1 *", "", "2024-06-01 00:00:00", "2025-01-01 00:00:00 UTC"},
		{"weekdays by name", "0 9 * * mon-fri", "", "2024-01-05 10:00:00", "2024-01-08 09:00:00 UTC"},
		{"day-of-month or day-of-week", "0 0 13 * 5", "", "2024-01-01 00:00:00", "2024-01-05 00:00:00 UTC"},
		{"day-of-month with * day-of-week", "0 0 13 * *", "", "2024-01-01 00:00:00", "2024-01-13 00:00:00 UTC"},
		{"minute step", "*/20 * * * *", "", "2024-01-01 10:41:00", "2024-01-01 11:00:00 UTC"},
		{"month list by name", "0 12 * jan,jul *", "", "2024-02-01 00:00:00", "2024-07-01 12:00:00 UTC"},
		{"range with step", "10-40/15 * * * *", "", "2024-01-01 10:26:00", "2024-01-01 10:40:00 UTC"},
		{"question mark", "0 0 ? * 0", "", "2024-01-01 00:00:00", "2024-01-07 00:00:00 UTC"},
		{"seconds field step", "*/10 * * * * *", "", "2024-01-01 00:00:05", "2024-01-01 00:00:10 UTC"},
		{"seconds field fixed", "30 0 0 * * *", "", "2024-01-01 00:00:30", "2024-01-02 00:00:30 UTC"},
		{"@yearly", "@yearly", "", "2024-01-01 00:00:00", "2025-01-01 00:00:00 UTC"},
		{"@annually", "@annually", "", "2024-03-01 00:00:00", "2025-01-01 00:00:00 UTC"},
		{"@monthly", "@monthly", "", "2024-01-31 12:00:00", "2024-02-01 00:00:00 UTC"},
		{"@weekly runs on Sunday", "@weekly", "", "2024-01-01 00:00:00", "2024-01-07 00:00:00 UTC"},
		{"@daily", "@daily", "", "2024-01-01 00:00:00", "2024-01-02 00:00:00 UTC"},
		{"@midnight", "@midnight", "", "2024-01-01 23:59:59", "2024-01-02 00:00:00 UTC"},
		{"@hourly", "@hourly", "", "2024-01-01 00:59:59", "2024-01-01 01:00:00 UTC"},
		{"descriptor in capitals", "@DAILY", "", "2024-01-01 00:00:00", "2024-01-02 00:00:00 UTC"},
		{"in a zone", "0 9 * * *", "Europe/Berlin", "2024-01-01 00:00:00", "2024-01-01 09:00:00 CET"},
		{"in a zone, summer", "0 9 * * *", "Europe/Berlin", "2024-07-01 08:00:00", "2024-07-02 09:00:00 CEST"},
		{"half-hour zone", "0 9 * * *", "Asia/Kolkata", "2024-01-01 00:00:00", "2024-01-01 09:00:00 IST"},
		{"leap day from a leap year", "0 0 29 2 *", "", "2024-03-01 00:00:00", "2028-02-29 00:00:00 UTC"},
		{"leap day skips 2100", "0 0 29 2 *", "", "2096-03-01 00:00:00", "2104-02-29 00:00:00 UTC"},
		{"leap day or a Monday in February", "0 0 29 2 1", "", "2025-02-20 00:00:00", "2025-02-24 00:00:00 UTC"},
		{"leap day or Monday, none left in February", "0 0 29 2 1", "", "2025-02-25 00:00:00", "2026-02-02 00:00:00 UTC"},
		{"31st skips short months", "0 0 31 * *", "", "2024-04-01 00:00:00", "2024-05-31 00:00:00 UTC"},
		{"@every whole seconds on the epoch grid", "@every 10s", "", "2024-01-01 00:00:05", "2024-01-01 00:00:10 UTC"},
		{"@every strictly after", "@every 10s", "", "2024-01-01 00:00:10", "2024-01-01 00:00:20 UTC"},
		{"@every 90m", "@every 90m", "", "2024-01-01 00:00:00", "2024-01-01 01:30:00 UTC"},
		{"@every 7s before 1970", "@every 7s", "", "1969-12-31 23:59:59", "1970-01-01 00:00:00 UTC"},
		{"@every is real time across fall-back", "@every 1h", "America/New_York", "2024-11-03 05:30:00", "2024-11-03 01:00:00 EST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, tt.expr, tt.zone)
			loc := mustLoc(t, tt.zone)
			in := utc(t, tt.in)
			got, ok := s.Next(in)
			if g := show(got, ok, loc); g != tt.want {
				t.Errorf("%q.Next(%s) = %s; want %s", tt.expr, tt.in, g, tt.want)
			}
		})
	}
}

func TestCronString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  */5   *  * * * ", "*/5 * * * *"},
		{"0 30 2 * * *", "0 30 2 * * *"},
		{"@DAILY", "@daily"},
		{"@every 90s", "@every 1m30s"},
		{"@every  2h", "@every 2h0m0s"},
	}
	for _, tt := range tests {
		if got := mustParse(t, tt.in, "").String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestCronErrors(t *testing.T) {
	tests := []struct {
		name, expr, zone string
		field, problem   string
	}{
		{"minute out of range", "61 * * * *", "", FieldSchedule, `cron expression "61 * * * *": minute value 61 out of range 0-59`},
		{"too few fields", "* * *", "", FieldSchedule, `cron expression "* * *": want 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading seconds field, found 3`},
		{"too many fields", "* * * * * * *", "", FieldSchedule, `cron expression "* * * * * * *": want 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading seconds field, found 7`},
		{"empty", "", "", FieldSchedule, "cron expression is empty"},
		{"blank", "   ", "", FieldSchedule, "cron expression is empty"},
		{"second out of range", "60 * * * * *", "", FieldSchedule, `cron expression "60 * * * * *": second value 60 out of range 0-59`},
		{"hour out of range", "0 24 * * *", "", FieldSchedule, `cron expression "0 24 * * *": hour value 24 out of range 0-23`},
		{"day-of-month zero", "0 0 0 * *", "", FieldSchedule, `cron expression "0 0 0 * *": day-of-month value 0 out of range 1-31`},
		{"month out of range", "0 0 1 13 *", "", FieldSchedule, `cron expression "0 0 1 13 *": month value 13 out of range 1-12`},
		{"day-of-week seven", "0 0 * * 7", "", FieldSchedule, `cron expression "0 0 * * 7": day-of-week value 7 out of range 0-6 (Sunday is 0)`},
		{"bad month name", "0 0 1 foo *", "", FieldSchedule, `cron expression "0 0 1 foo *": month value "foo" is neither a number nor a name (jan-dec)`},
		{"not a number", "x * * * *", "", FieldSchedule, `cron expression "x * * * *": minute value "x" is not a number`},
		{"signed number", "+5 * * * *", "", FieldSchedule, `cron expression "+5 * * * *": minute value "+5" is not a number`},
		{"zero step", "*/0 * * * *", "", FieldSchedule, `cron expression "*/0 * * * *": minute step must be at least 1`},
		{"bad step", "*/x * * * *", "", FieldSchedule, `cron expression "*/x * * * *": minute step "x" is not a number`},
		{"reversed range", "0 5-1 * * *", "", FieldSchedule, `cron expression "0 5-1 * * *": hour range 5-1 is reversed; ranges do not wrap around`},
		{"empty list element", "1,,2 * * * *", "", FieldSchedule, `cron expression "1,,2 * * * *": minute field "1,,2" has an empty list element`},
		{"never matches", "0 0 30 2 *", "", FieldSchedule, `cron expression "0 0 30 2 *": no date ever matches it`},
		{"CRON_TZ prefix", "CRON_TZ=Europe/Berlin 0 9 * * *", "", FieldSchedule, `cron expression "CRON_TZ=Europe/Berlin 0 9 * * *": a CRON_TZ= prefix is not allowed; give the zone in the timezone field`},
		{"TZ prefix", "TZ=UTC @daily", "", FieldSchedule, `cron expression "TZ=UTC @daily": a TZ= prefix is not allowed; give the zone in the timezone field`},
		{"unknown descriptor", "@fortnightly", "", FieldSchedule, `cron expression "@fortnightly": unknown descriptor "@fortnightly"; want @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every <duration>`},
		{"descriptor with arguments", "@daily 5", "", FieldSchedule, `cron expression "@daily 5": @daily takes no arguments`},
		{"@every without duration", "@every", "", FieldSchedule, `cron expression "@every": want @every <duration>, such as @every 90s or @every 1h30m`},
		{"@every bad duration", "@every soon", "", FieldSchedule, `cron expression "@every soon": duration "soon": want a Go duration such as 90s or 1h30m`},
		{"@every below a second", "@every 500ms", "", FieldSchedule, `cron expression "@every 500ms": duration 500ms: want a whole number of seconds, at least 1s`},
		{"@every fractional seconds", "@every 1.5s", "", FieldSchedule, `cron expression "@every 1.5s": duration 1.5s: want a whole number of seconds, at least 1s`},
		{"@every negative", "@every -5s", "", FieldSchedule, `cron expression "@every -5s": duration -5s: want a whole number of seconds, at least 1s`},
		{"unknown zone", "* * * * *", "Mars/Olympus", FieldTimezone, `unknown time zone "Mars/Olympus"`},
		{"Local zone", "* * * * *", "Local", FieldTimezone, `time zone "Local" depends on the host; name an IANA zone such as "Europe/Berlin"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.expr, tt.zone)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%q, %q) error = %v; want a *FieldError", tt.expr, tt.zone, err)
			}
			if fe.Field != tt.field || fe.Problem != tt.problem {
				t.Errorf("Parse(%q, %q) error = %q, %q; want %q, %q", tt.expr, tt.zone, fe.Field, fe.Problem, tt.field, tt.problem)
			}
			if want := tt.field + ": " + tt.problem; err.Error() != want {
				t.Errorf("Error() = %q; want %q", err.Error(), want)
			}
		})
	}
}

func TestLoadLocation(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "UTC"},
		{"UTC", "UTC"},
		{"America/New_York", "America/New_York"},
		{"Europe/Berlin", "Europe/Berlin"},
	}
	for _, tt := range tests {
		loc, err := LoadLocation(tt.in)
		if err != nil || loc.String() != tt.want {
			t.Errorf("LoadLocation(%q) = %v, %v; want %s", tt.in, loc, err, tt.want)
		}
	}
	_, err := LoadLocation("Mars/Olympus")
	if err == nil || err.Error() != `timezone: unknown time zone "Mars/Olympus"` {
		t.Errorf(`LoadLocation("Mars/Olympus") error = %v; want timezone: unknown time zone "Mars/Olympus"`, err)
	}
}
