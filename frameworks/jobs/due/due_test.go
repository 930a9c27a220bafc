package due

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// t0 is the fixed clock of the tests: 09:00:00 UTC.
var t0 = time.Date(2024, 3, 10, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// every is a schedule of n occurrences (n < 0: endless) at start,
// start+period, …
func every(start time.Time, period time.Duration, n int) func(time.Time) (time.Time, bool) {
	return func(t time.Time) (time.Time, bool) {
		k := 0
		if t.Compare(start) >= 0 {
			k = int(t.Sub(start)/period) + 1
		}
		if n >= 0 && k >= n {
			return time.Time{}, false
		}
		return start.Add(time.Duration(k) * period), true
	}
}

// list is a schedule with the given occurrences (sorted, distinct).
func list(ts []time.Time) func(time.Time) (time.Time, bool) {
	return func(t time.Time) (time.Time, bool) {
		i, found := slices.BinarySearchFunc(ts, t, time.Time.Compare)
		if found {
			i++
		}
		if i == len(ts) {
			return time.Time{}, false
		}
		return ts[i], true
	}
}

func TestPlan(t *testing.T) {
	tenSec := every(t0, 10*time.Second, -1)
	tests := []struct {
		name string
		in   Input
		want []Occurrence
	}{
		{
			name: "on time",
			in:   Input{Next: tenSec, From: at(-5 * time.Second), Now: at(200 * time.Millisecond)},
			want: []Occurrence{{At: t0, Outcome: Run, Late: 200 * time.Millisecond}},
		},
		{
			name: "nothing due yet",
			in:   Input{Next: tenSec, From: t0, Now: at(9 * time.Second)},
		},
		{
			name: "occurrence at From is not repeated",
			in:   Input{Next: tenSec, From: t0, Now: at(10 * time.Second)},
			want: []Occurrence{{At: at(10 * time.Second), Outcome: Run}},
		},
		{
			name: "empty window",
			in:   Input{Next: tenSec, From: t0, Now: t0},
		},
		{
			name: "Now before From",
			in:   Input{Next: tenSec, From: at(time.Minute), Now: t0},
		},
		{
			name: "nil schedule",
			in:   Input{From: at(-time.Hour), Now: t0},
		},
		{
			name: "late past the deadline",
			in:   Input{Next: tenSec, From: at(-time.Second), Now: at(12 * time.Second), StartingDeadline: 5 * time.Second},
			want: []Occurrence{
				{At: t0, Outcome: Missed, Late: 12 * time.Second,
					Reason: "missed: framework was not running at 09:00:00Z; only the newest occurrence (09:00:10Z) may be caught up"},
				{At: at(10 * time.Second), Outcome: Run, Late: 2 * time.Second,
					Reason: "catch-up: 2s late; 1 older occurrence was missed"},
			},
		},
		{
			name: "the only occurrence is too late",
			in:   Input{Next: tenSec, From: at(-time.Second), Now: at(9500 * time.Millisecond), StartingDeadline: 5 * time.Second},
			want: []Occurrence{{At: t0, Outcome: Missed, Late: 9500 * time.Millisecond,
				Reason: "missed: framework was not running at 09:00:00Z; 9.5s late, startingDeadlineSeconds is 5"}},
		},
		{
			name: "downtime: one catch-up, the rest missed",
			in:   Input{Next: tenSec, From: t0, Now: at(32 * time.Second), StartingDeadline: 5 * time.Second},
			want: []Occurrence{
				{At: at(10 * time.Second), Outcome: Missed, Late: 22 * time.Second,
					Reason: "missed: framework was not running at 09:00:10Z; only the newest occurrence (09:00:30Z) may be caught up"},
				{At: at(20 * time.Second), Outcome: Missed, Late: 12 * time.Second,
					Reason: "missed: framework was not running at 09:00:20Z; only the newest occurrence (09:00:30Z) may be caught up"},
				{At: at(30 * time.Second), Outcome: Run, Late: 2 * time.Second,
					Reason: "catch-up: 2s late; 2 older occurrences were missed"},
			},
		},
		{
			name: "downtime past the deadline: all missed",
			in:   Input{Next: tenSec, From: t0, Now: at(29 * time.Second), StartingDeadline: 5 * time.Second},
			want: []Occurrence{
				{At: at(10 * time.Second), Outcome: Missed, Late: 19 * time.Second,
					Reason: "missed: framework was not running at 09:00:10Z; only the newest occurrence (09:00:20Z) may be caught up"},
				{At: at(20 * time.Second), Outcome: Missed, Late: 9 * time.Second,
					Reason: "missed: framework was not running at 09:00:20Z; 9s late, startingDeadlineSeconds is 5"},
			},
		},
		{
			name: "exactly at the deadline still runs",
			in:   Input{Next: tenSec, From: at(-time.Second), Now: at(5 * time.Second), StartingDeadline: 5 * time.Second},
			want: []Occurrence{{At: t0, Outcome: Run, Late: 5 * time.Second}},
		},
		{
			name: "zero deadline means the default: 59 s late runs",
			in:   Input{Next: every(t0, time.Hour, -1), From: at(-time.Second), Now: at(59 * time.Second)},
			want: []Occurrence{{At: t0, Outcome: Run, Late: 59 * time.Second}},
		},
		{
			name: "zero deadline means the default: 61 s late is missed",
			in:   Input{Next: every(t0, time.Hour, -1), From: at(-time.Second), Now: at(61 * time.Second)},
			want: []Occurrence{{At: t0, Outcome: Missed, Late: 61 * time.Second,
				Reason: "missed: framework was not running at 09:00:00Z; 1m1s late, startingDeadlineSeconds is 60"}},
		},
		{
			name: "disabled: everything skipped",
			in:   Input{Next: tenSec, From: t0, Now: at(21 * time.Second), Disabled: true, Policy: Allow},
			want: []Occurrence{
				{At: at(10 * time.Second), Outcome: Skipped, Late: 11 * time.Second, Reason: "job is disabled"},
				{At: at(20 * time.Second), Outcome: Skipped, Late: time.Second, Reason: "job is disabled"},
			},
		},
		{
			name: "disabled wins over the deadline",
			in:   Input{Next: tenSec, From: at(-time.Second), Now: at(9 * time.Second), StartingDeadline: time.Second, Disabled: true},
			want: []Occurrence{{At: t0, Outcome: Skipped, Late: 9 * time.Second, Reason: "job is disabled"}},
		},
		{
			name: "FORBID with an active run",
			in:   Input{Next: tenSec, From: at(-time.Second), Now: t0, Policy: Forbid, ActiveRuns: 1},
			want: []Occurrence{{At: t0, Outcome: Skipped, Reason: "a run is still active (concurrencyPolicy FORBID)"}},
		},
		{
			name: "FORBID without active runs",
			in:   Input{Next: tenSec, From: at(-time.Second), Now: t0, Policy: Forbid},
			want: []Occurrence{{At: t0, Outcome: Run}},
		},
		{
			name: "FORBID: the deadline decides before the policy",
			in:   Input{Next: tenSec, From: at(-time.Second), Now: at(8 * time.Second), StartingDeadline: time.Second, Policy: Forbid, ActiveRuns: 1},
			want: []Occurrence{{At: t0, Outcome: Missed, Late: 8 * time.Second,
				Reason: "missed: framework was not running at 09:00:00Z; 8s late, startingDeadlineSeconds is 1"}},
		},
		{
			name: "REPLACE with active runs",
			in:   Input{Next: tenSec, From: at(-time.Second), Now: t0, Policy: Replace, ActiveRuns: 2},
			want: []Occurrence{{At: t0, Outcome: Run, ReplaceActive: true}},
		},
		{
			name: "REPLACE without active runs",
			in:   Input{Next: tenSec, From: at(-time.Second), Now: t0, Policy: Replace},
			want: []Occurrence{{At: t0, Outcome: Run}},
		},
		{
			name: "ALLOW with active runs",
			in:   Input{Next: tenSec, From: at(-time.Second), Now: t0, Policy: Allow, ActiveRuns: 3},
			want: []Occurrence{{At: t0, Outcome: Run}},
		},
		{
			name: "schedule that ends",
			in:   Input{Next: every(t0, 10*time.Second, 2), From: at(-time.Second), Now: at(time.Hour), StartingDeadline: 2 * time.Hour},
			want: []Occurrence{
				{At: t0, Outcome: Missed, Late: time.Hour,
					Reason: "missed: framework was not running at 09:00:00Z; only the newest occurrence (09:00:10Z) may be caught up"},
				{At: at(10 * time.Second), Outcome: Run, Late: time.Hour - 10*time.Second,
					Reason: "catch-up: 59m50s late; 1 older occurrence was missed"},
			},
		},
		{
			name: "a schedule that does not advance is cut off",
			in: Input{Next: func(time.Time) (time.Time, bool) { return t0, true },
				From: at(-time.Second), Now: at(time.Second)},
			want: []Occurrence{{At: t0, Outcome: Run, Late: time.Second}},
		},
		{
			name: "an earlier day is written with its date",
			in:   Input{Next: every(t0, 24*time.Hour, -1), From: at(-time.Second), Now: at(24*time.Hour + time.Second)},
			want: []Occurrence{
				{At: t0, Outcome: Missed, Late: 24*time.Hour + time.Second,
					Reason: "missed: framework was not running at 2024-03-10T09:00:00Z; only the newest occurrence (09:00:00Z) may be caught up"},
				{At: at(24 * time.Hour), Outcome: Run, Late: time.Second,
					Reason: "catch-up: 1s late; 1 older occurrence was missed"},
			},
		},
		{
			name: "older occurrences beyond MaxMissed are summarised",
			in:   Input{Next: tenSec, From: at(-time.Second), Now: at(50 * time.Second), MaxMissed: 2},
			want: []Occurrence{
				{At: at(30 * time.Second), Outcome: Missed, Late: 20 * time.Second,
					Reason: "missed: framework was not running at 09:00:30Z; only the newest occurrence (09:00:50Z) may be caught up" +
						" (3 earlier occurrences from 09:00:00Z to 09:00:20Z were also missed and are not listed)"},
				{At: at(40 * time.Second), Outcome: Missed, Late: 10 * time.Second,
					Reason: "missed: framework was not running at 09:00:40Z; only the newest occurrence (09:00:50Z) may be caught up"},
				{At: at(50 * time.Second), Outcome: Run,
					Reason: "catch-up: 0s late; 5 older occurrences were missed"},
			},
		},
		{
			name: "summary of a disabled job says skipped",
			in:   Input{Next: tenSec, From: at(-time.Second), Now: at(20 * time.Second), MaxMissed: 1, Disabled: true},
			want: []Occurrence{
				{At: at(10 * time.Second), Outcome: Skipped, Late: 10 * time.Second,
					Reason: "job is disabled (1 earlier occurrence at 09:00:00Z was also skipped and is not listed)"},
				{At: at(20 * time.Second), Outcome: Skipped, Reason: "job is disabled"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Plan(tt.in)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Plan(%s) differs (-want +got):\n%s", tt.name, d)
			}
		})
	}
}

func TestNextDue(t *testing.T) {
	tests := []struct {
		name   string
		next   func(time.Time) (time.Time, bool)
		after  time.Time
		want   time.Time
		wantOK bool
	}{
		{"next occurrence", every(t0, time.Minute, -1), at(30 * time.Second), at(time.Minute), true},
		{"strictly after", every(t0, time.Minute, -1), t0, at(time.Minute), true},
		{"before the start", every(t0, time.Minute, -1), at(-time.Hour), t0, true},
		{"ended", every(t0, time.Minute, 1), t0, time.Time{}, false},
		{"nil schedule", nil, t0, time.Time{}, false},
		{"not advancing", func(time.Time) (time.Time, bool) { return t0, true }, t0, time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := NextDue(tt.next, tt.after)
			if !got.Equal(tt.want) || ok != tt.wantOK {
				t.Errorf("NextDue(%s, %v) = %v, %v; want %v, %v", tt.name, tt.after, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// randomSchedule returns up to 200 distinct sorted occurrences within two
// hours of t0, with gaps from 1 ms to 10 minutes.
func randomSchedule(r *rand.Rand) []time.Time {
	n := r.IntN(200)
	ts := make([]time.Time, 0, n)
	t := at(-time.Duration(r.IntN(3600)) * time.Second)
	for range n {
		t = t.Add(time.Millisecond + time.Duration(r.Int64N(int64(10*time.Minute))))
		ts = append(ts, t)
	}
	return ts
}

// randomInput fills the parts of an Input that Plan's invariants must not
// depend on.
func randomInput(r *rand.Rand, next func(time.Time) (time.Time, bool)) Input {
	return Input{
		Next:             next,
		StartingDeadline: time.Duration(r.IntN(120)) * time.Second,
		Policy:           []Policy{"", Allow, Forbid, Replace}[r.IntN(4)],
		ActiveRuns:       r.IntN(3),
		Disabled:         r.IntN(5) == 0,
		MaxMissed:        1 << 20,
	}
}

// occurrencesIn is the reference: the occurrences of ts in (from, now].
func occurrencesIn(ts []time.Time, from, now time.Time) []time.Time {
	var out []time.Time
	for _, t := range ts {
		if t.After(from) && !t.After(now) {
			out = append(out, t)
		}
	}
	return out
}

func ats(os []Occurrence) []time.Time {
	var out []time.Time
	for _, o := range os {
		out = append(out, o.At)
	}
	return out
}

// checkShape checks the invariants of one Plan result: at most one RUN,
// and only as the newest; reasons on every non-RUN; Late = Now - At.
func checkShape(t *testing.T, in Input, got []Occurrence) {
	t.Helper()
	for i, o := range got {
		if o.Outcome == Run && i != len(got)-1 {
			t.Errorf("Plan: occurrence %d of %d (%v) is RUN; only the newest may run", i, len(got), o.At)
		}
		if o.Outcome != Run && o.Reason == "" {
			t.Errorf("Plan: %s occurrence at %v has no reason", o.Outcome, o.At)
		}
		if o.Late != in.Now.Sub(o.At) {
			t.Errorf("Plan: occurrence at %v has Late %v; want %v", o.At, o.Late, in.Now.Sub(o.At))
		}
		if o.ReplaceActive && (o.Outcome != Run || in.Policy != Replace || in.ActiveRuns == 0) {
			t.Errorf("Plan: occurrence at %v asks to replace active runs with policy %q and %d active", o.At, in.Policy, in.ActiveRuns)
		}
		if in.Disabled && o.Outcome != Skipped {
			t.Errorf("Plan: disabled job has a %s occurrence at %v", o.Outcome, o.At)
		}
	}
}

// TestPlanEveryOccurrenceOnce: every occurrence in the window appears
// exactly once, in order, and at most one of them runs.
func TestPlanEveryOccurrenceOnce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		ts := randomSchedule(r)
		in := randomInput(r, list(ts))
		in.From = at(-time.Duration(r.IntN(7200)) * time.Second)
		in.Now = in.From.Add(time.Duration(r.Int64N(int64(3 * time.Hour))))
		// Window bounds that fall exactly on occurrences are the cases
		// that tell (From, Now] from [From, Now) apart.
		if len(ts) > 0 && r.IntN(2) == 0 {
			a, b := ts[r.IntN(len(ts))], ts[r.IntN(len(ts))]
			in.From, in.Now = minTime(a, b), maxTime(a, b)
		}
		got := Plan(in)
		want := occurrencesIn(ts, in.From, in.Now)
		if !slices.EqualFunc(ats(got), want, time.Time.Equal) {
			t.Fatalf("case %d: Plan(From %v, Now %v) lists %v; want %v", i, in.From, in.Now, ats(got), want)
		}
		checkShape(t, in, got)
	}
}

// TestPlanConsecutiveWindows: planning consecutive windows partitions the
// occurrences, whether the next From is the previous Now or the newest
// occurrence planned so far.
func TestPlanConsecutiveWindows(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 500 {
		ts := randomSchedule(r)
		next := list(ts)
		start := at(-time.Duration(r.IntN(3600)) * time.Second)
		for _, fromNewest := range []bool{false, true} {
			from, now := start, start
			var all []time.Time
			for range 1 + r.IntN(30) {
				now = now.Add(time.Duration(r.Int64N(int64(20 * time.Minute))))
				if rest := occurrencesIn(ts, now, now.Add(time.Hour)); len(rest) > 0 && r.IntN(2) == 0 {
					now = rest[0] // a window that ends exactly on an occurrence
				}
				in := randomInput(r, next)
				in.From, in.Now = from, now
				got := Plan(in)
				checkShape(t, in, got)
				all = append(all, ats(got)...)
				if !fromNewest {
					from = now
				} else if len(got) > 0 {
					from = got[len(got)-1].At
				}
			}
			want := occurrencesIn(ts, start, now)
			if !slices.EqualFunc(all, want, time.Time.Equal) {
				t.Fatalf("case %d (From = newest: %v): windows from %v to %v cover %v; want %v", i, fromNewest, start, now, all, want)
			}
		}
	}
}

// TestPlanMaxMissed: with a small MaxMissed, Plan lists the newest
// occurrences and counts the others in the oldest listed one's reason.
func TestPlanMaxMissed(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 1000 {
		ts := randomSchedule(r)
		in := randomInput(r, list(ts))
		in.MaxMissed = 1 + r.IntN(10)
		in.From = at(-2 * time.Hour)
		in.Now = at(time.Duration(r.IntN(7200)) * time.Second)
		got := Plan(in)
		all := occurrencesIn(ts, in.From, in.Now)
		keep := min(len(all), in.MaxMissed+1)
		if !slices.EqualFunc(ats(got), all[len(all)-keep:], time.Time.Equal) {
			t.Fatalf("case %d: Plan(MaxMissed %d) lists %v; want the newest %d of %v", i, in.MaxMissed, ats(got), keep, all)
		}
		checkShape(t, in, got)
		dropped := len(all) - keep
		if dropped == 0 {
			if len(got) > 0 && strings.Contains(got[0].Reason, "not listed") {
				t.Errorf("case %d: reason %q mentions unlisted occurrences; there are none", i, got[0].Reason)
			}
			continue
		}
		wantPart := fmt.Sprintf("(%d earlier occurrences from ", dropped)
		if dropped == 1 {
			wantPart = "(1 earlier occurrence at "
		}
		if !strings.Contains(got[0].Reason, wantPart) {
			t.Errorf("case %d: oldest reason %q; want it to contain %q", i, got[0].Reason, wantPart)
		}
	}
}

func TestStrings(t *testing.T) {
	if got := Forbid.String(); got != "FORBID" {
		t.Errorf("Forbid.String() = %q; want FORBID", got)
	}
	if got := Missed.String(); got != "MISSED" {
		t.Errorf("Missed.String() = %q; want MISSED", got)
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
