package schedule

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// ParseISO8601 parses a Chronos schedule, an ISO 8601 repeating interval
// R[n]/<start>/<period>, in the IANA time zone named timezone.
//
//   - R repeats for ever, Rn runs n times (R1 once); R0, which would
//     never run, is refused.
//   - <start> is a date-time such as 2014-03-08T20:00:00Z, 2014-03-08T20:00:00.000+01:00,
//     2014-03-08T20:00 or 2014-03-08. When timezone is not empty its
//     wall-clock fields are read in that zone and any offset written in
//     <start> is ignored (Chronos' scheduleTimeZone rule). Otherwise a
//     written offset fixes the zone, and no offset means UTC. An empty
//     start is refused: Chronos reads it as "now", so a caller that offers
//     that substitutes the current time before parsing.
//   - <period> is P[n]Y[n]M[n]W[n]DT[n]H[n]M[n]S, at least MinPeriod (one
//     second, the shortest period of cron's @every); only seconds may
//     have a fraction (PT1.5S).
//
// Occurrence k (k = 0, 1, ...) is computed from the start, never by
// stepping, so clamping does not drift:
//
//  1. the date moves by k times the Y and M parts, keeping the day of the
//     month unless the month is shorter, then clamping to its last day (P1M
//     from January 31: February 28 or 29, then March 31; P1Y from February
//     29: February 28 in common years, February 29 in leap years);
//  2. then by k times the W and D parts in days; the time of day stays as
//     written;
//  3. that wall-clock reading is resolved in the zone as cron's fixed-time
//     jobs are (see the package documentation);
//  4. k times the T part is added in real time.
//
// Calendar periods end at the year 9999. Rn counts from the start as
// written, so a caller keeps the expression it was given rather than
// rewriting it after each run as Chronos did.
//
// Errors are *FieldError values naming FieldSchedule or FieldTimezone.
func ParseISO8601(expr, timezone string) (Schedule, error) {
	e := strings.TrimSpace(expr)
	bad := func(format string, args ...any) error {
		return &FieldError{Field: FieldSchedule,
			Problem: fmt.Sprintf("ISO 8601 schedule %q: ", e) + fmt.Sprintf(format, args...)}
	}
	parts := strings.Split(e, "/")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "R") {
		return nil, bad("want R[n]/<start>/<period>, such as R/2014-03-08T20:00:00Z/PT2H")
	}
	s := &isoSchedule{n: -1}
	if reps := parts[0][1:]; reps != "" {
		n, err := strconv.ParseUint(reps, 10, 63)
		if err != nil || strings.HasPrefix(reps, "+") {
			return nil, bad("repetitions %q: want R (for ever) or Rn with n a whole number >= 1", parts[0])
		}
		if n == 0 {
			return nil, bad("repetitions %q: a schedule repeated zero times never runs; want R (for ever) or Rn with n >= 1, and disable or delete a job to stop it", parts[0])
		}
		s.n = int64(n)
	}
	if parts[1] == "" {
		return nil, bad("start is empty; want a date-time such as 2014-03-08T20:00:00Z")
	}
	st, problem := parseDateTime(parts[1])
	if problem != "" {
		return nil, bad("start %q: %s", parts[1], problem)
	}
	p, problem := parsePeriod(parts[2])
	if problem != "" {
		return nil, bad("period %q: %s", parts[2], problem)
	}
	if p.months == 0 && p.days == 0 && p.dur < MinPeriod {
		// Each occurrence is one run: PT0.001S would start a thousand a
		// second, more than a cluster can launch or the store record.
		return nil, bad("period %q is shorter than one second; runs start at most once a second", parts[2])
	}

	switch {
	case timezone != "":
		loc, err := LoadLocation(timezone)
		if err != nil {
			return nil, err
		}
		s.loc = loc
	case st.hasZone && st.offset != 0:
		s.loc = time.FixedZone(formatOffset(st.offset), st.offset)
	default:
		s.loc = time.UTC
	}
	s.wall = st.wall
	s.months, s.days, s.dur = p.months, p.days, p.dur
	s.approx = float64(p.months)*30.436875*86400 + float64(p.days)*86400 + p.dur.Seconds()
	s.start = resolve(st.wall, s.loc)

	var b strings.Builder
	b.WriteString("R")
	if s.n >= 0 {
		b.WriteString(strconv.FormatInt(s.n, 10))
	}
	b.WriteString("/")
	b.WriteString(st.wall.Format("2006-01-02T15:04:05.999999999"))
	if st.hasZone {
		if st.offset == 0 {
			b.WriteString("Z")
		} else {
			b.WriteString(formatOffset(st.offset))
		}
	}
	b.WriteString("/")
	b.WriteString(p.text)
	s.expr = b.String()
	return s, nil
}

// MinPeriod is the shortest period of an ISO 8601 schedule.
const MinPeriod = time.Second

// isoSchedule is a parsed R[n]/<start>/<period>.
type isoSchedule struct {
	expr   string
	n      int64 // repetitions; < 0 for ever
	loc    *time.Location
	wall   time.Time // the start's wall-clock reading, as written
	start  time.Time // occurrence 0
	months int64     // calendar part of the period
	days   int64
	dur    time.Duration // time part of the period, in real time
	approx float64       // rough period length in seconds, to estimate k
}

func (s *isoSchedule) String() string { return s.expr }

// Next implements Schedule. It finds the first k with occurrence(k) > t
// arithmetically for time-only periods, and by an estimate corrected with a
// galloping binary search for calendar periods.
func (s *isoSchedule) Next(t time.Time) (time.Time, bool) {
	if s.n == 0 {
		return time.Time{}, false
	}
	if t.Before(s.start) {
		return s.start, true
	}
	if s.n > 0 && !s.after(s.n-1, t) {
		return time.Time{}, false // exhausted
	}
	var k int64
	if s.months == 0 && s.days == 0 {
		var ok bool
		if k, ok = quotient(s.start, t, s.dur); !ok {
			return time.Time{}, false
		}
		k++
	} else {
		k = s.search(t)
	}
	if s.n > 0 && k >= s.n {
		return time.Time{}, false
	}
	return s.occurrence(k)
}

// after reports whether occurrence k is later than t; occurrences beyond the
// representable range count as later.
func (s *isoSchedule) after(k int64, t time.Time) bool {
	u, ok := s.occurrence(k)
	return !ok || u.After(t)
}

// search returns the least k with occurrence(k) > t, given start <= t.
// Occurrences are non-decreasing in k, and the estimate is off by a few
// periods at most (month lengths, clamping, DST), so this takes a handful of
// evaluations.
func (s *isoSchedule) search(t time.Time) int64 {
	est := t.Sub(s.start).Seconds() / s.approx // t.Sub saturates; galloping makes up
	k := int64(1)
	if est > 1 && est < 1<<52 {
		k = int64(est)
	}
	lo, hi := int64(0), int64(0) // after(lo) is false, after(hi) is true
	if s.after(k, t) {
		hi = k
		for step := int64(1); ; step *= 2 {
			c := hi - step
			if c <= lo {
				break
			}
			if !s.after(c, t) {
				lo = c
				break
			}
			hi = c
		}
	} else {
		lo = k
		for step := int64(1); ; step *= 2 {
			c := lo + step
			if s.after(c, t) {
				hi = c
				break
			}
			lo = c
		}
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if s.after(mid, t) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// maxYear bounds calendar periods, keeping all arithmetic far from overflow.
const maxYear = 9999

// occurrence returns occurrence k, or false if it lies beyond the range this
// package computes.
func (s *isoSchedule) occurrence(k int64) (time.Time, bool) {
	if s.months == 0 && s.days == 0 {
		return addMul(s.start, k, s.dur, s.loc)
	}
	// Both parts are bounded at parse time, so these products only overflow
	// for a k far beyond maxYear; refuse such a k first.
	if k > (maxYear+1)*366 || (s.months > 0 && k > (maxYear+1)*12/s.months) {
		return time.Time{}, false
	}
	y, m, d := s.wall.Date()
	mi := int64(y)*12 + int64(m-1) + k*s.months
	yy, mm := int(mi/12), time.Month(mi%12+1)
	d = min(d, daysIn(yy, mm))
	hh, mn, ss := s.wall.Clock()
	w := time.Date(yy, mm, d, hh, mn, ss, s.wall.Nanosecond(), time.UTC).AddDate(0, 0, int(k*s.days))
	if w.Year() > maxYear {
		return time.Time{}, false
	}
	return addMul(resolve(w, s.loc), k, s.dur, s.loc)
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// quotient returns floor((t - from) / d) for t >= from and d > 0, without
// the 292-year limit of time.Duration.
func quotient(from, t time.Time, d time.Duration) (int64, bool) {
	ds := t.Unix() - from.Unix()
	dn := int64(t.Nanosecond()) - int64(from.Nanosecond())
	if dn < 0 {
		ds--
		dn += 1e9
	}
	if ds < 0 {
		return 0, false // overflowed: the instants are absurdly far apart
	}
	hi, lo := bits.Mul64(uint64(ds), 1e9)
	lo, carry := bits.Add64(lo, uint64(dn), 0)
	hi += carry
	if hi >= uint64(d) {
		return 0, false
	}
	q, _ := bits.Div64(hi, lo, uint64(d))
	if q >= math.MaxInt64 {
		return 0, false
	}
	return int64(q), true
}

// addMul returns u + k*d in loc, without the 292-year limit of
// time.Duration, for k >= 0 and d >= 0.
func addMul(u time.Time, k int64, d time.Duration, loc *time.Location) (time.Time, bool) {
	hi, lo := bits.Mul64(uint64(k), uint64(d))
	if hi >= 1e9 {
		return time.Time{}, false
	}
	q, r := bits.Div64(hi, lo, 1e9)
	sec := u.Unix()
	if q > math.MaxInt64/2 || sec > math.MaxInt64/2 {
		return time.Time{}, false
	}
	return time.Unix(sec+int64(q), int64(u.Nanosecond())+int64(r)).In(loc), true
}

// dateTime is a parsed ISO 8601 date-time.
type dateTime struct {
	wall    time.Time // the written fields, in UTC
	hasZone bool
	offset  int // seconds east of UTC
}

const dateTimeHint = "want an ISO 8601 date-time such as 2014-03-08T20:00:00Z"

// parseDateTime parses YYYY-MM-DD[Thh:mm[:ss[.fff]]][Z|±hh[:mm]] and returns
// a problem description when s is not one.
func parseDateTime(s string) (dateTime, string) {
	p := s
	num := func(width int) (int, bool) {
		if len(p) < width {
			return 0, false
		}
		v, ok := atoi(p[:width])
		p = p[width:]
		return v, ok
	}
	lit := func(c byte) bool {
		if len(p) > 0 && p[0] == c {
			p = p[1:]
			return true
		}
		return false
	}
	var hh, mi, ss, ns int
	year, ok1 := num(4)
	ok2 := lit('-')
	month, ok3 := num(2)
	ok4 := lit('-')
	day, ok5 := num(2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return dateTime{}, dateTimeHint
	}
	if lit('T') {
		var okH, okM bool
		hh, okH = num(2)
		okC := lit(':')
		mi, okM = num(2)
		if !(okH && okC && okM) {
			return dateTime{}, dateTimeHint
		}
		if lit(':') {
			var okS bool
			if ss, okS = num(2); !okS {
				return dateTime{}, dateTimeHint
			}
			if lit('.') || lit(',') {
				n := 0
				for n < len(p) && p[n] >= '0' && p[n] <= '9' {
					n++
				}
				if n == 0 || n > 9 {
					return dateTime{}, "want 1 to 9 digits of fractional seconds"
				}
				f, _ := atoi(p[:n])
				for i := n; i < 9; i++ {
					f *= 10
				}
				ns = f
				p = p[n:]
			}
		}
	}
	dt := dateTime{}
	switch {
	case p == "":
	case p == "Z":
		dt.hasZone = true
	case p[0] == '+' || p[0] == '-':
		sign := 1
		if p[0] == '-' {
			sign = -1
		}
		p = p[1:]
		oh, ok := num(2)
		if !ok {
			return dateTime{}, dateTimeHint
		}
		om := 0
		if p != "" {
			lit(':')
			if om, ok = num(2); !ok || p != "" {
				return dateTime{}, dateTimeHint
			}
		}
		if oh > 23 || om > 59 {
			return dateTime{}, fmt.Sprintf("offset %02d:%02d out of range", oh, om)
		}
		dt.hasZone, dt.offset = true, sign*(oh*3600+om*60)
	default:
		return dateTime{}, dateTimeHint
	}
	switch {
	case month < 1 || month > 12:
		return dateTime{}, fmt.Sprintf("month %d out of range 1-12", month)
	case day < 1 || day > daysIn(year, time.Month(month)):
		return dateTime{}, fmt.Sprintf("day %d out of range 1-%d for %04d-%02d", day, daysIn(year, time.Month(month)), year, month)
	case hh > 23:
		return dateTime{}, fmt.Sprintf("hour %d out of range 0-23", hh)
	case mi > 59:
		return dateTime{}, fmt.Sprintf("minute %d out of range 0-59", mi)
	case ss > 59:
		return dateTime{}, fmt.Sprintf("second %d out of range 0-59", ss)
	}
	dt.wall = time.Date(year, time.Month(month), day, hh, mi, ss, ns, time.UTC)
	return dt, ""
}

func formatOffset(sec int) string {
	sign := '+'
	if sec < 0 {
		sign, sec = '-', -sec
	}
	return fmt.Sprintf("%c%02d:%02d", sign, sec/3600, sec%3600/60)
}

// period is a parsed ISO 8601 duration.
type period struct {
	months, days int64
	dur          time.Duration
	text         string // normalised
}

// Bounds on the calendar parts: ten thousand years.
const (
	maxMonths = 12 * 10000
	maxDays   = 366 * 10000
)

// parsePeriod parses P[n]Y[n]M[n]W[n]DT[n]H[n]M[n]S and returns a problem
// description when s is not one. The normalised text drops zero components
// and leading zeros and keeps the others as written (PT36H stays PT36H).
func parsePeriod(s string) (period, string) {
	const hint = "want an ISO 8601 period such as P1D, PT2H or P1Y2M3DT4H5M6.5S"
	if !strings.HasPrefix(s, "P") || len(s) == 1 {
		return period{}, hint
	}
	var (
		p        = s[1:]
		out      period
		dateText strings.Builder
		timeText strings.Builder
		inTime   bool
		order    = "YMWD" // designators still allowed, in order
	)
	for p != "" {
		if p[0] == 'T' {
			if inTime || len(p) == 1 {
				return period{}, hint
			}
			inTime, order, p = true, "HMS", p[1:]
			continue
		}
		n := 0
		for n < len(p) && p[n] >= '0' && p[n] <= '9' {
			n++
		}
		intPart := p[:n]
		frac := ""
		if n < len(p) && (p[n] == '.' || p[n] == ',') {
			m := n + 1
			for m < len(p) && p[m] >= '0' && p[m] <= '9' {
				m++
			}
			frac = p[n+1 : m]
			if frac == "" || len(frac) > 9 {
				return period{}, "want 1 to 9 digits of fractional seconds"
			}
			n = m
		}
		if intPart == "" || n == len(p) {
			return period{}, hint
		}
		unit := p[n]
		p = p[n+1:]
		i := strings.IndexByte(order, unit)
		if i < 0 {
			return period{}, hint
		}
		order = order[i+1:]
		if frac != "" && (!inTime || unit != 'S') {
			return period{}, "only seconds may have a fraction"
		}
		v, err := strconv.ParseInt(intPart, 10, 64)
		if err != nil {
			return period{}, "number too large"
		}
		frac = strings.TrimRight(frac, "0")
		var fns int64
		if frac != "" {
			f, _ := atoi(frac)
			for range 9 - len(frac) {
				f *= 10
			}
			fns = int64(f)
		}
		if v == 0 && fns == 0 {
			continue // a zero component adds nothing
		}
		num := strconv.FormatInt(v, 10)
		if frac != "" {
			num += "." + frac
		}
		if !inTime {
			const tooLong = "calendar part longer than 10000 years"
			perUnit := map[byte]int64{'Y': 12, 'M': 1, 'W': 7, 'D': 1}[unit]
			total, limit := &out.months, int64(maxMonths)
			if unit == 'W' || unit == 'D' {
				total, limit = &out.days, maxDays
			}
			if v > limit/perUnit || *total+v*perUnit > limit {
				return period{}, tooLong
			}
			*total += v * perUnit
			dateText.WriteString(num)
			dateText.WriteByte(unit)
			continue
		}
		scale := map[byte]time.Duration{'H': time.Hour, 'M': time.Minute, 'S': time.Second}[unit]
		add := time.Duration(fns)
		if v > int64(math.MaxInt64/scale) || time.Duration(v)*scale > math.MaxInt64-out.dur-add {
			return period{}, "time part longer than 292 years"
		}
		out.dur += time.Duration(v)*scale + add
		timeText.WriteString(num)
		timeText.WriteByte(unit)
	}
	if out.months == 0 && out.days == 0 && out.dur == 0 {
		return period{}, "must be longer than zero"
	}
	out.text = "P" + dateText.String()
	if timeText.Len() > 0 {
		out.text += "T" + timeText.String()
	}
	return out, ""
}
