package schedule

import "time"

// A wall-clock reading is represented as a time.Time in UTC whose fields are
// the reading: UTC has no transitions, so calendar arithmetic on such values
// is plain arithmetic.

// wallOf returns the wall-clock reading of instant u in loc.
func wallOf(u time.Time, loc *time.Location) time.Time {
	_, off := u.In(loc).Zone()
	return u.UTC().Add(time.Duration(off) * time.Second)
}

// segment is a maximal run of instants [start, end) during which a zone's
// offset from UTC is constant. A zero start means since the beginning of
// time, a zero end means for ever.
type segment struct {
	start, end time.Time
	off        time.Duration
}

func segmentAt(u time.Time, loc *time.Location) segment {
	l := u.In(loc)
	_, off := l.Zone()
	start, end := l.ZoneBounds()
	if !end.IsZero() && !end.After(u) {
		// Beyond a zone's listed transitions Go derives them from the zone's
		// rule and splits segments at each new year in UTC; for 31 December
		// of a leap year it reports an end 24 hours early, not after u (seen
		// in Go 1.26). The offset is right and holds until that split unless
		// a transition falls on 31 December, which no current rule has.
		// Either way the walk must move forward.
		end = time.Date(u.UTC().Year()+1, time.January, 1, 0, 0, 0, 0, time.UTC)
		if _, o := end.Add(-time.Nanosecond).In(loc).Zone(); o != off {
			end = u.Truncate(time.Second).Add(time.Second) // transitions fall on whole seconds
		}
	}
	return segment{start: start, end: end, off: time.Duration(off) * time.Second}
}

// resolve returns the first instant at which loc's wall clock reads w or
// later. That is the single instant reading w when there is one, the first
// of the two when the reading happens twice (fall-back), and the first
// instant after the gap when it never happens (spring-forward).
func resolve(w time.Time, loc *time.Location) time.Time {
	// No zone is more than 14 hours from UTC, so 30 hours before w (taken as
	// a UTC instant) every wall clock still reads well before w.
	a := w.Add(-30 * time.Hour)
	for {
		seg := segmentAt(a, loc)
		// The segment's readings are [start+off, end+off): does it reach w?
		if seg.end.IsZero() || seg.end.Add(seg.off).After(w) {
			u := w.Add(-seg.off)
			if !seg.start.IsZero() && u.Before(seg.start) {
				u = seg.start // w falls in the gap before this segment
			}
			return u.In(loc)
		}
		a = seg.end
	}
}

// highWater returns the latest wall-clock reading in loc at or before t.
// It is later than wallOf(t) just after a fall-back transition, while the
// clock repeats readings it has already shown.
func highWater(t time.Time, loc *time.Location) time.Time {
	hw := wallOf(t, loc)
	seg := segmentAt(t, loc)
	// Fall-backs are at most a few hours; looking two days back is ample.
	for i := 0; i < 4 && !seg.start.IsZero() && t.Sub(seg.start) < 48*time.Hour; i++ {
		last := seg.start.Add(-time.Nanosecond)
		if w := wallOf(last, loc); w.After(hw) {
			hw = w
		}
		seg = segmentAt(last, loc)
	}
	return hw
}
