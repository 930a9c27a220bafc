package schedule

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var propertyZones = []string{
	"UTC",
	"America/New_York",
	"Europe/Berlin",
	"Australia/Lord_Howe", // 30-minute DST shift
	"America/Sao_Paulo",   // DST began at midnight until 2019
	"Pacific/Chatham",     // +12:45 / +13:45
	"Asia/Kolkata",        // no DST, half-hour offset
	"Pacific/Apia",        // skipped 30 December 2011 entirely
}

// randomField returns a random expression for a cron field with values
// first..last, favouring lo..hi (the hours that transitions touch).
func randomField(r *rand.Rand, first, last, lo, hi int) string {
	v := func() int {
		if r.IntN(2) == 0 {
			return lo + r.IntN(hi-lo+1)
		}
		return first + r.IntN(last-first+1)
	}
	switch r.IntN(7) {
	case 0:
		return "*"
	case 1:
		return fmt.Sprintf("*/%d", 1+r.IntN(last-first+1))
	case 2, 3:
		return fmt.Sprint(v())
	case 4:
		a, b := v(), v()
		return fmt.Sprintf("%d-%d", min(a, b), max(a, b))
	case 5:
		return fmt.Sprintf("%d,%d", v(), v())
	default:
		a, b := v(), v()
		return fmt.Sprintf("%d-%d/%d", min(a, b), max(a, b), 1+r.IntN(4))
	}
}

func randomCron(r *rand.Rand) string {
	dom, dow := "*", "*"
	switch r.IntN(4) {
	case 0:
		dom = randomField(r, 1, 31, 1, 31)
	case 1:
		dow = randomField(r, 0, 6, 0, 6)
	}
	return strings.Join([]string{
		randomField(r, 0, 59, 0, 59),
		randomField(r, 0, 23, 0, 3),
		dom, "*", dow,
	}, " ")
}

// matches reports whether wall-clock reading w satisfies s, straight from the
// bit sets, independently of any search.
func matches(s *cronSchedule, w time.Time) bool {
	sp := s.spec
	bit := func(set uint64, v int) bool { return set&(1<<uint(v)) != 0 }
	if !bit(sp.Second, w.Second()) || !bit(sp.Minute, w.Minute()) || !bit(sp.Hour, w.Hour()) || !bit(sp.Month, int(w.Month())) {
		return false
	}
	const star = 1 << 63
	dom, dow := bit(sp.Dom, w.Day()), bit(sp.Dow, int(w.Weekday()))
	if sp.Dom&star != 0 || sp.Dow&star != 0 {
		return dom && dow
	}
	return dom || dow
}

// oracle steps through real time minute by minute over [from, to] and
// returns the instants at which s should run, by the rules in doc.go:
// wildcard-hour schedules whenever the reading matches; fixed-time ones when
// the wall clock first reaches (or jumps over) a matching reading.
func oracle(s *cronSchedule, from, to time.Time) []time.Time {
	var out []time.Time
	warm := from.Add(-48 * time.Hour).Truncate(time.Minute)
	hw := wallOf(warm, s.loc)
	for u := warm; !u.After(to); u = u.Add(time.Minute) {
		w := wallOf(u, s.loc)
		fire := false
		if s.realTime {
			fire = matches(s, w)
		} else {
			for c := hw.Add(time.Minute); !c.After(w); c = c.Add(time.Minute) {
				fire = fire || matches(s, c)
			}
			if w.After(hw) {
				hw = w
			}
		}
		if fire && u.After(from) {
			out = append(out, u)
		}
	}
	return out
}

// transitionNear returns the first offset change at or after u in loc, or u
// itself for zones without one.
func transitionNear(u time.Time, loc *time.Location) time.Time {
	if _, end := u.In(loc).ZoneBounds(); !end.IsZero() {
		return end
	}
	return u
}

// TestCronMatchesOracle compares chained Next with the oracle for random
// expressions over three days around random transitions: nothing skipped,
// nothing doubled, strictly increasing.
func TestCronMatchesOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 300
	if testing.Short() {
		n = 40
	}
	base := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		expr := randomCron(r)
		zone := propertyZones[i%len(propertyZones)]
		sc, err := ParseCron(expr, zone)
		if err != nil {
			continue // e.g. "0 0 31 * *" with a day-of-week list is fine, but 30 February is not
		}
		s := sc.(*cronSchedule)
		loc := s.loc
		tr := transitionNear(base.Add(time.Duration(r.Int64N(int64(15*365*24*time.Hour)))), loc)
		from := tr.Add(-36 * time.Hour).Truncate(time.Minute).Add(time.Duration(r.IntN(60)) * time.Second)
		to := tr.Add(36 * time.Hour)
		want := oracle(s, from, to)
		var got []time.Time
		for x := from; ; {
			u, ok := s.Next(x)
			if !ok || u.After(to) {
				break
			}
			if !u.After(x) {
				t.Fatalf("%q in %s: Next(%v) = %v; not strictly after", expr, zone, x, u)
			}
			got = append(got, u)
			x = u
		}
		if !equalTimes(got, want) {
			t.Fatalf("%q in %s around %v:\n got %s\nwant %s", expr, zone, tr.In(loc),
				formatTimes(got, loc), formatTimes(want, loc))
		}
	}
}

// TestCronSecondsMatchesOracle does the same at one-second resolution for a
// few six-field expressions over the hours around transitions.
func TestCronSecondsMatchesOracle(t *testing.T) {
	exprs := []string{"*/7 * * * * *", "30 */5 * * * *", "0 30 2 * * *", "*/20 * 2 * * *", "15 59 1 * * *"}
	for _, zone := range []string{"America/New_York", "Europe/Berlin", "Australia/Lord_Howe"} {
		for _, expr := range exprs {
			sc, err := ParseCron(expr, zone)
			if err != nil {
				t.Fatal(err)
			}
			s := sc.(*cronSchedule)
			for _, day := range []time.Time{time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 9, 15, 0, 0, 0, 0, time.UTC)} {
				tr := transitionNear(day, s.loc)
				from, to := tr.Add(-3*time.Hour), tr.Add(3*time.Hour)
				var want []time.Time
				hw := highWater(from, s.loc)
				for u := from.Add(time.Second); !u.After(to); u = u.Add(time.Second) {
					w := wallOf(u, s.loc)
					fire := false
					if s.realTime {
						fire = matches(s, w)
					} else {
						for c := hw.Add(time.Second); !c.After(w); c = c.Add(time.Second) {
							fire = fire || matches(s, c)
						}
						hw = maxTime(hw, w)
					}
					if fire {
						want = append(want, u)
					}
				}
				var got []time.Time
				for x := from; ; {
					u, ok := s.Next(x)
					if !ok || u.After(to) {
						break
					}
					got = append(got, u)
					x = u
				}
				if !equalTimes(got, want) {
					t.Errorf("%q in %s around %v:\n got %s\nwant %s", expr, zone, tr.In(s.loc),
						formatTimes(got, s.loc), formatTimes(want, s.loc))
				}
			}
		}
	}
}

// TestNextMonotone checks t1 < t2 => Next(t1) <= Next(t2) and Next(t) > t
// for random schedules of every kind and random instants near transitions.
func TestNextMonotone(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	isos := []string{
		"R/2024-01-31T02:30:00/P1M", "R/2011-12-29T10:00:00/P1D", "R/2024-03-09T02:30:00/PT25M",
		"R7/2024-10-26T01:30:00/P1DT30M", "R/2000-02-29T00:00:00/P1Y", "R/2024-11-02T01:15:00/PT1.5S",
	}
	base := time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 2000 {
		zone := propertyZones[i%len(propertyZones)]
		var expr string
		switch i % 4 {
		case 0, 1:
			expr = randomCron(r)
		case 2:
			expr = isos[r.IntN(len(isos))]
		default:
			expr = fmt.Sprintf("@every %ds", 1+r.IntN(7200))
		}
		s, err := Parse(expr, zone)
		if err != nil {
			continue
		}
		loc := mustLoc(t, zone)
		tr := transitionNear(base.Add(time.Duration(r.Int64N(int64(14*365*24*time.Hour)))), loc)
		t1 := tr.Add(time.Duration(r.Int64N(int64(6*time.Hour))) - 3*time.Hour)
		t2 := t1.Add(time.Duration(r.Int64N(int64(2 * time.Hour))))
		u1, ok1 := s.Next(t1)
		u2, ok2 := s.Next(t2)
		if ok1 && !u1.After(t1) {
			t.Fatalf("%q in %s: Next(%v) = %v; not after", expr, zone, t1, u1)
		}
		if ok2 && !u2.After(t2) {
			t.Fatalf("%q in %s: Next(%v) = %v; not after", expr, zone, t2, u2)
		}
		if ok1 && ok2 && u2.Before(u1) {
			t.Fatalf("%q in %s: Next(%v) = %v > Next(%v) = %v", expr, zone, t1, u1, t2, u2)
		}
		if !ok1 && ok2 {
			t.Fatalf("%q in %s: Next(%v) = none but Next(%v) = %v", expr, zone, t1, t2, u2)
		}
	}
}

// TestISO8601MatchesEnumeration compares Next, which computes k, with a
// plain walk over occurrence(0), occurrence(1), ... for random periods,
// zones and instants, including starts decades back.
func TestISO8601MatchesEnumeration(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	periods := []string{"PT1S", "PT7M", "PT1H", "PT90M", "PT1.25S", "P1D", "P1W", "P1M", "P1Y",
		"P1M1D", "P1DT1H", "PT24H", "P3DT2H30M", "P2M", "P13M"}
	for i := range 400 {
		zone := propertyZones[i%len(propertyZones)]
		if r.IntN(4) == 0 {
			zone = ""
		}
		per := periods[r.IntN(len(periods))]
		start := time.Date(1990+r.IntN(35), time.Month(1+r.IntN(12)), 1+r.IntN(31), r.IntN(24), r.IntN(60), r.IntN(60), 0, time.UTC)
		reps := ""
		if r.IntN(3) == 0 {
			reps = fmt.Sprint(1 + r.IntN(49))
		}
		expr := fmt.Sprintf("R%s/%s/%s", reps, start.Format("2006-01-02T15:04:05"), per)
		sc, err := ParseISO8601(expr, zone)
		if err != nil {
			t.Fatal(err)
		}
		s := sc.(*isoSchedule)
		// An instant no more than a few hundred periods past the start,
		// so the plain walk stays short.
		span := time.Duration(min(s.approx*float64(1+r.IntN(300)), 100*365*86400) * float64(time.Second))
		in := s.start.Add(time.Duration(r.Int64N(int64(span))) - span/10)
		want, wok := time.Time{}, false
		for k := int64(0); s.n < 0 || k < s.n; k++ {
			u, ok := s.occurrence(k)
			if !ok {
				break
			}
			if u.After(in) {
				want, wok = u, true
				break
			}
		}
		got, gok := s.Next(in)
		if gok != wok || !got.Equal(want) {
			t.Fatalf("%q in %q: Next(%v) = %v, %v; want %v, %v", expr, zone, in, got, gok, want, wok)
		}
	}
}

func equalTimes(a, b []time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

func formatTimes(ts []time.Time, loc *time.Location) string {
	var b strings.Builder
	for _, u := range ts {
		b.WriteString("\n  " + u.In(loc).Format(layout))
	}
	return b.String()
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
