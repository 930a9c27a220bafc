package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// ParseCron parses a cron expression evaluated in the IANA time zone named
// timezone ("" = UTC). It accepts
//
//   - 5 fields: minute hour day-of-month month day-of-week;
//   - 6 fields: the same after a leading seconds field;
//   - @yearly (@annually), @monthly, @weekly, @daily (@midnight), @hourly;
//   - @every <duration>, a whole number of seconds, at least 1s.
//
// Field syntax is robfig/cron/v3's: *, ?, lists, ranges a-b (no wrap-around),
// steps /n, names jan-dec and sun-sat; day-of-week runs 0-6, Sunday is 0.
// A CRON_TZ= or TZ= prefix is refused: the zone is the separate timezone
// field, and two places to say it would disagree sooner or later. An
// expression that no date satisfies (such as "0 0 30 2 *") is refused.
//
// Daylight saving rules are in the package documentation. Errors are
// *FieldError values naming FieldSchedule or FieldTimezone.
func ParseCron(expr, timezone string) (Schedule, error) {
	loc, err := LoadLocation(timezone)
	if err != nil {
		return nil, err
	}
	fields := strings.Fields(expr)
	if len(fields) == 0 {
		return nil, &FieldError{Field: FieldSchedule, Problem: "cron expression is empty"}
	}
	bad := func(format string, args ...any) error {
		return &FieldError{Field: FieldSchedule,
			Problem: fmt.Sprintf("cron expression %q: ", strings.TrimSpace(expr)) + fmt.Sprintf(format, args...)}
	}
	if prefix, _, ok := strings.Cut(fields[0], "="); ok && (prefix == "TZ" || prefix == "CRON_TZ") {
		return nil, bad("a %s= prefix is not allowed; give the zone in the %s field", prefix, FieldTimezone)
	}
	if strings.HasPrefix(fields[0], "@") {
		return parseDescriptor(fields, loc, bad)
	}

	var specs []fieldSpec
	switch len(fields) {
	case 5:
		specs = cronFields[1:]
	case 6:
		specs = cronFields
	default:
		return nil, bad("want 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading seconds field, found %d", len(fields))
	}
	for i, f := range fields {
		if problem := specs[i].check(f); problem != "" {
			return nil, bad("%s", problem)
		}
	}
	norm := strings.Join(fields, " ")
	spec, err := robfigSpec(norm)
	if err != nil {
		return nil, bad("%v", err)
	}
	hour := fields[len(fields)-4]
	s := &cronSchedule{
		expr:     norm,
		spec:     spec,
		loc:      loc,
		realTime: strings.HasPrefix(hour, "*") || strings.HasPrefix(hour, "?"),
	}
	if _, ok := s.nextWall(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)); !ok {
		return nil, bad("no date ever matches it")
	}
	return s, nil
}

// robfigSpec parses an expression already checked by fieldSpec.check (or a
// plain descriptor) with robfig/cron/v3 and returns its bit sets, to be
// evaluated on wall-clock readings in UTC.
func robfigSpec(expr string) (*cron.SpecSchedule, error) {
	p := cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	parsed, err := p.Parse(expr)
	if err != nil {
		return nil, err
	}
	spec, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("unexpected schedule type %T", parsed)
	}
	spec.Location = time.UTC
	return spec, nil
}

func parseDescriptor(fields []string, loc *time.Location, bad func(string, ...any) error) (Schedule, error) {
	name := strings.ToLower(fields[0])
	switch name {
	case "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly":
		if len(fields) != 1 {
			return nil, bad("%s takes no arguments", name)
		}
		spec, err := robfigSpec(name)
		if err != nil {
			return nil, bad("%v", err)
		}
		return &cronSchedule{expr: name, spec: spec, loc: loc, realTime: name == "@hourly"}, nil
	case "@every":
		if len(fields) != 2 {
			return nil, bad("want @every <duration>, such as @every 90s or @every 1h30m")
		}
		d, err := time.ParseDuration(fields[1])
		if err != nil {
			return nil, bad("duration %q: want a Go duration such as 90s or 1h30m", fields[1])
		}
		if d < time.Second || d%time.Second != 0 {
			return nil, bad("duration %s: want a whole number of seconds, at least 1s", d)
		}
		return &everySchedule{every: d, loc: loc}, nil
	}
	return nil, bad("unknown descriptor %q; want @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every <duration>", fields[0])
}

// fieldSpec describes one cron field, for error messages that name the field
// and the value at fault.
type fieldSpec struct {
	name     string
	min, max int
	names    []string // names[i] stands for min+i
}

var cronFields = []fieldSpec{
	{name: "second", min: 0, max: 59},
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day-of-month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{name: "day-of-week", min: 0, max: 6, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// check returns what is wrong with field f, or "".
func (fs fieldSpec) check(f string) string {
	for _, part := range strings.Split(f, ",") {
		if part == "" {
			return fmt.Sprintf("%s field %q has an empty list element", fs.name, f)
		}
		rng, step, hasStep := strings.Cut(part, "/")
		if hasStep {
			n, ok := atoi(step)
			if !ok {
				return fmt.Sprintf("%s step %q is not a number", fs.name, step)
			}
			if n == 0 {
				return fmt.Sprintf("%s step must be at least 1", fs.name)
			}
		}
		if rng == "*" || rng == "?" {
			continue
		}
		lo, hi, isRange := strings.Cut(rng, "-")
		a, problem := fs.value(lo)
		if problem != "" {
			return problem
		}
		if isRange {
			b, problem := fs.value(hi)
			if problem != "" {
				return problem
			}
			if a > b {
				return fmt.Sprintf("%s range %s is reversed; ranges do not wrap around", fs.name, rng)
			}
		}
	}
	return ""
}

func (fs fieldSpec) value(s string) (int, string) {
	for i, n := range fs.names {
		if strings.EqualFold(s, n) {
			return fs.min + i, ""
		}
	}
	v, ok := atoi(s)
	if !ok {
		if fs.names != nil {
			return 0, fmt.Sprintf("%s value %q is neither a number nor a name (%s-%s)", fs.name, s, fs.names[0], fs.names[len(fs.names)-1])
		}
		return 0, fmt.Sprintf("%s value %q is not a number", fs.name, s)
	}
	if v < fs.min || v > fs.max {
		hint := ""
		if fs.name == "day-of-week" && v == 7 {
			hint = " (Sunday is 0)"
		}
		return 0, fmt.Sprintf("%s value %d out of range %d-%d%s", fs.name, v, fs.min, fs.max, hint)
	}
	return v, ""
}

// atoi parses a short unsigned decimal number.
func atoi(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// cronSchedule is a field-based cron schedule. spec holds robfig's bit sets;
// it is only ever evaluated on wall-clock readings in UTC, where it is exact,
// and this type maps readings to instants in loc.
type cronSchedule struct {
	expr string
	spec *cron.SpecSchedule
	loc  *time.Location
	// realTime is set when the hour field is a wildcard ("*", "*/n", "?"):
	// the job runs at every instant whose reading matches, so it runs twice
	// in a repeated hour and not at all in a skipped one. Otherwise each
	// matching reading yields one run, at resolve(reading).
	realTime bool
}

func (s *cronSchedule) String() string { return s.expr }

// Next implements Schedule.
func (s *cronSchedule) Next(t time.Time) (time.Time, bool) {
	if s.realTime {
		return s.nextRealTime(t)
	}
	return s.nextFixed(t)
}

// nextFixed returns resolve(w) for the first matching reading w that the wall
// clock has not yet shown by t. resolve is monotone in w, and resolve(w) > t
// exactly when w is later than every reading shown up to t.
func (s *cronSchedule) nextFixed(t time.Time) (time.Time, bool) {
	x := highWater(t, s.loc)
	for range 8 { // one pass suffices; the bound is a guard
		w, ok := s.nextWall(x)
		if !ok {
			return time.Time{}, false
		}
		if u := resolve(w, s.loc); u.After(t) {
			return u, true
		}
		x = w
	}
	return time.Time{}, false
}

// nextRealTime walks the zone's constant-offset segments from t, where the
// wall clock is a plain translation of real time, and returns the first
// instant after t whose reading matches.
func (s *cronSchedule) nextRealTime(t time.Time) (time.Time, bool) {
	x := t
	seg := segmentAt(t, s.loc)
	for range 4096 { // about two transitions a year for the 480 years nextWall searches
		w, ok := s.nextWall(x.UTC().Add(seg.off))
		if !ok {
			return time.Time{}, false
		}
		u := w.Add(-seg.off)
		if seg.end.IsZero() || u.Before(seg.end) {
			return u.In(s.loc), true
		}
		x = seg.end.Add(-time.Nanosecond)
		seg = segmentAt(seg.end, s.loc)
	}
	return time.Time{}, false
}

// nextWall returns the first reading strictly after reading x that matches.
// robfig gives up after five years (a February 29 can be eight years
// away), so keep asking from where it stopped, for a few centuries.
func (s *cronSchedule) nextWall(x time.Time) (time.Time, bool) {
	for range 80 {
		if w := s.spec.Next(x); !w.IsZero() {
			return w, true
		}
		x = time.Date(x.Year()+5, time.December, 31, 23, 59, 59, 0, time.UTC)
	}
	return time.Time{}, false
}

// everySchedule runs every `every` of real time, on the grid anchored at the
// Unix epoch, so that its occurrences depend on nothing but the expression.
type everySchedule struct {
	every time.Duration // a whole number of seconds
	loc   *time.Location
}

func (e *everySchedule) String() string { return "@every " + e.every.String() }

// Next implements Schedule.
func (e *everySchedule) Next(t time.Time) (time.Time, bool) {
	d := int64(e.every / time.Second)
	s := t.Unix()
	k := s / d
	if s%d < 0 {
		k-- // floor division for instants before 1970
	}
	return time.Unix((k+1)*d, 0).In(e.loc), true
}
