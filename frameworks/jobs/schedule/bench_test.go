package schedule

import (
	"testing"
	"time"
)

func benchmarkNext(b *testing.B, expr, zone string, from time.Time) {
	s := mustParse(b, expr, zone)
	x := from
	for b.Loop() {
		u, ok := s.Next(x)
		if !ok {
			b.Fatal("no occurrence")
		}
		// Walk forward so calls search from fresh instants, but stay within
		// a year: far-future zone lookups are slower and not what runs.
		x = u.Add(333 * time.Millisecond)
		if x.Sub(from) > 365*24*time.Hour {
			x = from
		}
	}
}

// BenchmarkNextISO8601PT1S is a per-second schedule started ten years
// before the instant searched from.
func BenchmarkNextISO8601PT1S(b *testing.B) {
	benchmarkNext(b, "R/2014-06-01T00:00:00Z/PT1S", "", time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC))
}

func BenchmarkNextISO8601P1M(b *testing.B) {
	benchmarkNext(b, "R/1994-01-31T09:00:00/P1M", "Europe/Berlin", time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC))
}

func BenchmarkNextCronEvery15Min(b *testing.B) {
	benchmarkNext(b, "*/15 * * * *", "America/New_York", time.Date(2024, 11, 3, 0, 0, 0, 0, time.UTC))
}

func BenchmarkNextCronDaily(b *testing.B) {
	benchmarkNext(b, "30 2 * * *", "Europe/Berlin", time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC))
}

func BenchmarkNextEvery(b *testing.B) {
	benchmarkNext(b, "@every 10s", "", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
}
