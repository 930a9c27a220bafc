package schedule

import (
	"fmt"
	"testing"
	"time"
)

const layout = "2006-01-02 15:04:05 MST"

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustParse(t testing.TB, expr, zone string) Schedule {
	t.Helper()
	s, err := Parse(expr, zone)
	if err != nil {
		t.Fatalf("Parse(%q, %q): %v", expr, zone, err)
	}
	return s
}

// at reads "2006-01-02 15:04:05" as a wall-clock reading in loc. Ambiguous
// readings get Go's choice, so tests give instants near transitions in UTC.
func at(t testing.TB, loc *time.Location, s string) time.Time {
	t.Helper()
	u, err := time.ParseInLocation("2006-01-02 15:04:05", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func utc(t testing.TB, s string) time.Time { return at(t, time.UTC, s) }

func show(u time.Time, ok bool, loc *time.Location) string {
	if !ok {
		return "none"
	}
	return u.In(loc).Format(layout)
}

// runs chains Next from `from` and returns the occurrences up to and
// including `to`, formatted in loc.
func runs(t testing.TB, s Schedule, from, to time.Time, loc *time.Location) []string {
	t.Helper()
	var out []string
	x := from
	for i := 0; ; i++ {
		u, ok := s.Next(x)
		if !ok || u.After(to) {
			return out
		}
		if !u.After(x) {
			t.Fatalf("%v: Next(%v) = %v; not after its argument", s, x, u)
		}
		if i > 100000 {
			t.Fatalf("%v: too many occurrences", s)
		}
		out = append(out, u.In(loc).Format(layout))
		x = u
	}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }
