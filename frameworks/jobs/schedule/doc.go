// Package schedule computes when a job's schedule comes due. It is pure: no
// clock, no I/O, no goroutines. Callers pass the instant to search from and
// get back the next occurrence, so the planner that owns "now" decides
// everything else (catch-up, deadlines, concurrency).
//
// # Vocabulary
//
//   - occurrence: an instant at which the schedule wants a run. Each
//     occurrence is meant to produce exactly one run; it is the scheduled
//     time that keys that run.
//   - wall clock: the local date and time shown in the schedule's zone.
//   - spring-forward gap: readings the wall clock skips (02:00-02:59 in
//     America/New_York on 10 March 2024).
//   - fall-back overlap: readings the wall clock shows twice (01:00-01:59 in
//     America/New_York on 3 November 2024, first EDT then EST).
//
// Two formats are accepted, each with an IANA time zone given separately
// (default UTC): cron expressions (ParseCron) and Chronos' ISO 8601 repeating
// intervals R[n]/<start>/<period> (ParseISO8601). Parse picks one.
//
// # Daylight saving time
//
// A schedule neither skips nor doubles a run across a transition. Cron
// schedules fall into two kinds, following Vixie cron's convention:
//
// Fixed-time schedules (the hour field is a number, list or range, even
// 0-23; and @daily, @weekly, @monthly, @yearly) run once for every matching
// wall-clock reading:
//
//   - A reading in a spring-forward gap runs at the first instant after the
//     gap: a daily 02:30 job in America/New_York runs at 03:00 EDT on 10 March
//     2024 (not 03:30). Several readings in one gap ("*/15 2 * * *") give a
//     single run at that instant.
//   - A reading in a fall-back overlap runs once, at its first occurrence: a
//     daily 01:30 job in America/New_York runs at 01:30 EDT on 3 November
//     2024 and not again at 01:30 EST.
//
// Put differently, the run for reading w happens at the first instant at
// which the wall clock reads w or later.
//
// Wildcard-hour schedules (the hour field is "*", "*/n" or "?"; and @hourly)
// follow the wall clock in real time: they run at every instant whose local
// reading matches. A spring-forward gap holds no such instant and a fall-back
// overlap holds each twice, so "0 * * * *" runs every real hour and
// "*/15 * * * *" every real 15 minutes straight through both transitions:
// 23 hourly runs on the spring-forward day, 25 on the fall-back day.
//
// @every <duration> is real time and ignores the zone: occurrences are the
// multiples of the duration since the Unix epoch (1970-01-01T00:00:00Z), so
// they depend on nothing but the expression.
//
// ISO 8601 periods move the calendar part (Y, M, W, D) on the wall clock of
// the zone, so P1D keeps 09:00 across transitions, and resolve the reading
// as fixed-time cron schedules do; the time part (H, M, S) is real time, so
// PT24H drifts by an hour across a transition.
//
// # Cron details
//
// Fields follow robfig/cron/v3, whose parser this package uses; its own
// evaluation is bypassed because it skips the 02:30 run on spring-forward
// days, runs 01:30 twice on fall-back days, and gives up on a February 29
// eight years away. A CRON_TZ= or TZ= prefix is refused: the zone is its own
// field. Day-of-month and day-of-week combine as in robfig: if either is "*"
// or "?" (a step such as "*/2" does not count) both must match, otherwise
// either may.
//
// # Guarantees
//
// For every Schedule s and instants t1 < t2:
//
//	s.Next(t1) > t1                                 strictly later
//	s.Next(t1) <= s.Next(t2)                        monotone
//	t, s.Next(t), s.Next(s.Next(t)), ...            every occurrence once
//
// Next takes constant time for @every and ISO 8601 time-only periods (a
// PT1S schedule started years ago costs the same as one started now), a
// logarithmic number of calendar steps for ISO 8601 calendar periods, and a
// bounded scan of fields for cron.
package schedule
