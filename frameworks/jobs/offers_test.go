package jobs

import (
	"testing"
	"time"
)

func TestDecideOffers(t *testing.T) {
	now := time.Unix(10000, 0)
	hold := 2 * time.Second
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	for _, tc := range []struct {
		name string
		s    offerState
		want offerMove
	}{
		{"work coming with offers held: keep them", offerState{soon: true, held: 2, revivedAt: ago(time.Minute)}, offerMove{}},
		{"work coming, none held, revived long ago: revive", offerState{soon: true, revivedAt: ago(2 * time.Second)}, offerMove{revive: true}},
		{"work coming, none held, revived a moment ago: wait", offerState{soon: true, revivedAt: ago(100 * time.Millisecond)}, offerMove{}},
		// A parent's children become ready right after its offers went
		// back with a long refuse filter: revive at once, not a second on.
		{"work coming, offers declined since the last revive: revive at once",
			offerState{soon: true, revivedAt: ago(100 * time.Millisecond), declinedAt: ago(50 * time.Millisecond)}, offerMove{revive: true}},
		{"work coming while suppressed: revive", offerState{soon: true, suppressed: true, held: 1, revivedAt: ago(10 * time.Millisecond)}, offerMove{revive: true}},
		{"resubscribed with work coming: revive", offerState{soon: true, restate: true, held: 1}, offerMove{revive: true}},
		{"nothing soon, next run in a minute: decline until shortly before it",
			offerState{held: 1, next: now.Add(time.Minute)}, offerMove{decline: true, refuse: 58}},
		{"nothing scheduled: decline and suppress", offerState{held: 1}, offerMove{decline: true, refuse: 60, suppress: true}},
		{"nothing scheduled, already suppressed: nothing more", offerState{suppressed: true}, offerMove{refuse: 60}},
		{"resubscribed, nothing scheduled: suppress again", offerState{suppressed: true, restate: true}, offerMove{refuse: 60, suppress: true}},
	} {
		if got := decideOffers(tc.s, hold, now); got != tc.want {
			t.Errorf("%s: decideOffers(%+v) = %+v; want %+v", tc.name, tc.s, got, tc.want)
		}
	}
}

// A finished run whose children are still to be fired (in the next batch
// or with the writer) counts as work coming.
func TestChildrenComingKeepOffers(t *testing.T) {
	c := &core{}
	if c.childrenComing() {
		t.Fatal("childrenComing() with nothing finished = true")
	}
	c.pendParents = []parentDone{{job: "a", run: 1}}
	if !c.childrenComing() {
		t.Error("childrenComing() with a parent waiting for the next batch = false")
	}
	c.pendParents, c.firing = nil, 1
	if !c.childrenComing() {
		t.Error("childrenComing() with a parent's batch at the writer = false")
	}
}
