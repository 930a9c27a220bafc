package schedule

import (
	"fmt"
	"strings"
	"time"
)

// Schedule yields the occurrences of a job's schedule. Implementations are
// immutable values: safe for concurrent use, and Next is a pure function of
// its argument.
type Schedule interface {
	// Next returns the first occurrence strictly after t, and false when
	// there is none (an exhausted Rn schedule). The result is located in
	// the schedule's time zone. Next is monotone: t1 < t2 implies
	// Next(t1) <= Next(t2), and chaining Next from any instant visits every
	// occurrence once.
	Next(t time.Time) (time.Time, bool)
	// String renders the schedule as it was given, normalised (single
	// spaces between cron fields, canonical ISO 8601 components). It does
	// not include the time zone, which is a separate field.
	String() string
}

// Names of the job fields that FieldError reports. API layers that call the
// time zone something else (Chronos' scheduleTimeZone) rename Field before
// answering; the Problem text does not repeat the field name.
const (
	FieldSchedule = "schedule"
	FieldTimezone = "timezone"
)

// FieldError is the error every parser in this package returns for bad input:
// Field names the offending job field (FieldSchedule or FieldTimezone) and
// Problem says what is wrong with it, in words fit for an API client. An API
// answers it with 400 or 422; it never indicates a server fault.
type FieldError struct {
	Field   string
	Problem string
}

// Error renders the error as "field: problem".
func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// LoadLocation returns the IANA time zone called name; "" and "UTC" mean UTC.
// "Local" is refused because its meaning depends on the host. An unknown
// name yields a *FieldError for FieldTimezone. The zone database comes from
// the host or from time/tzdata if the binary embeds it.
func LoadLocation(name string) (*time.Location, error) {
	switch name {
	case "", "UTC":
		return time.UTC, nil
	case "Local":
		return nil, &FieldError{Field: FieldTimezone,
			Problem: `time zone "Local" depends on the host; name an IANA zone such as "Europe/Berlin"`}
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, &FieldError{Field: FieldTimezone, Problem: fmt.Sprintf("unknown time zone %q", name)}
	}
	return loc, nil
}

// Parse parses a job schedule in the time zone named timezone: an ISO 8601
// repeating interval (see ParseISO8601) when expr starts with "R" and
// contains "/", otherwise a cron expression (see ParseCron). Errors are
// *FieldError values.
func Parse(expr, timezone string) (Schedule, error) {
	e := strings.TrimSpace(expr)
	if strings.HasPrefix(e, "R") && strings.Contains(e, "/") {
		return ParseISO8601(e, timezone)
	}
	return ParseCron(e, timezone)
}
