package mesos

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// stoutUnits are the units of Mesos' duration strings, largest first.
var stoutUnits = []struct {
	name string
	d    time.Duration
}{
	{"weeks", 7 * 24 * time.Hour}, {"days", 24 * time.Hour}, {"hrs", time.Hour}, {"mins", time.Minute},
	{"secs", time.Second}, {"ms", time.Millisecond}, {"us", time.Microsecond}, {"ns", time.Nanosecond},
}

// FormatDuration writes d as Mesos does in executor environments: a
// number directly followed by the largest unit that gives a whole number
// ("5secs", "15mins", "250ms"). Executor libraries parse only this form.
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0ns"
	}
	for _, u := range stoutUnits {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(d), 10) + "ns"
}

// ParseDuration reads a Mesos duration string: a decimal number followed
// by one of ns, us, ms, secs, mins, hrs, days or weeks.
func ParseDuration(s string) (time.Duration, error) {
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i <= 0 {
		return 0, fmt.Errorf("duration %q: want a number followed by ns, us, ms, secs, mins, hrs, days or weeks", s)
	}
	n, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, fmt.Errorf("duration %q: %v", s, err)
	}
	for _, u := range stoutUnits {
		if s[i:] == u.name {
			return time.Duration(n * float64(u.d)), nil
		}
	}
	return 0, fmt.Errorf("duration %q: unknown unit %q (want ns, us, ms, secs, mins, hrs, days or weeks)", s, s[i:])
}
