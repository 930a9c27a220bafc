package jobs

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"corral/frameworks/internal/place"
	"corral/frameworks/jobs/job"
	"corral/frameworks/jobs/store"
	"corral/kernel/mesos"
	"corral/kernel/resource"
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
		{"work coming that the offers held fit: keep them", offerState{soon: true, held: 2, revivedAt: ago(time.Minute)}, offerMove{}},
		{"work coming that fits some of the offers: decline the others",
			offerState{soon: true, held: 3, spare: 2, next: now.Add(time.Second), revivedAt: ago(time.Minute)},
			offerMove{decline: true, spare: true, refuse: spareRefuse}},
		{"work coming, none held, revived long ago: revive", offerState{soon: true, short: true, revivedAt: ago(2 * time.Second)}, offerMove{revive: true}},
		{"work coming, the offers held too small, revived long ago: revive, keep them",
			offerState{soon: true, short: true, held: 1, revivedAt: ago(2 * time.Second)}, offerMove{revive: true}},
		{"work coming, none held, revived a moment ago: wait", offerState{soon: true, short: true, revivedAt: ago(100 * time.Millisecond)}, offerMove{}},
		// A parent's children become ready right after its offers went
		// back with a long refuse filter: revive at once, not a second on.
		{"work coming, offers declined since the last revive: revive at once",
			offerState{soon: true, short: true, revivedAt: ago(100 * time.Millisecond), declinedAt: ago(50 * time.Millisecond)}, offerMove{revive: true}},
		{"work coming while suppressed: revive", offerState{soon: true, suppressed: true, held: 1, revivedAt: ago(10 * time.Millisecond)}, offerMove{revive: true}},
		{"resubscribed with work coming: revive", offerState{soon: true, restate: true, held: 1}, offerMove{revive: true}},
		{"nothing soon, next run in a minute: decline until shortly before it",
			offerState{held: 1, next: now.Add(time.Minute)}, offerMove{decline: true, refuse: 58}},
		{"nothing soon, next run in a moment: decline for half a second",
			offerState{held: 1, next: now.Add(2100 * time.Millisecond)}, offerMove{decline: true, refuse: 0.5}},
		{"nothing scheduled: decline and suppress", offerState{held: 1}, offerMove{decline: true, refuse: 60, suppress: true}},
		{"nothing scheduled, already suppressed: nothing more", offerState{suppressed: true}, offerMove{refuse: 60}},
		{"resubscribed, nothing scheduled: suppress again", offerState{suppressed: true, restate: true}, offerMove{refuse: 60, suppress: true}},
	} {
		if got := decideOffers(tc.s, hold, now); got != tc.want {
			t.Errorf("%s: decideOffers(%+v) = %+v; want %+v", tc.name, tc.s, got, tc.want)
		}
	}
}

// TestSpareOffers keeps the offers the work coming would be placed on, as
// launch places it (lowest agent first, filling one before the next), and
// gives back the rest.
func TestSpareOffers(t *testing.T) {
	offer := func(id, agent string, cpus float64) place.Offer {
		return place.Offer{ID: id, AgentID: agent, Resources: resource.Scalar("cpus", cpus).Add(resource.Scalar("mem", 1024))}
	}
	pool := []place.Offer{offer("O1", "A1", 1), offer("O2", "A2", 1), offer("O3", "A3", 1)}
	small := place.Demand{CPUs: 0.5, Mem: 64}
	for _, tc := range []struct {
		name      string
		needs     []need
		spare     []string
		wantShort int // runs placed on no offer
	}{
		{"nothing coming: all spare", nil, []string{"O1", "O2", "O3"}, 0},
		{"two small runs share the first agent", []need{{small, 2}}, []string{"O2", "O3"}, 0},
		{"three spill onto the second", []need{{small, 1}, {small, 2}}, []string{"O3"}, 0},
		{"one too big for any: short, all spare", []need{{place.Demand{CPUs: 2, Mem: 64}, 1}}, []string{"O1", "O2", "O3"}, 1},
		{"seven need more than is held: short by one, none spare", []need{{small, 7}}, nil, 1},
	} {
		spare, short := spareOffers(tc.needs, pool)
		n := 0
		for _, d := range short {
			n += d.n
		}
		if !slices.Equal(spare, tc.spare) || n != tc.wantShort {
			t.Errorf("%s: spareOffers = %v, %v; want %v, %d short", tc.name, spare, short, tc.spare, tc.wantShort)
		}
	}
	if pool[0].Resources.Scalar("cpus") != 1 {
		t.Error("spareOffers changed the caller's offers")
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

// An update that changes nothing to record (TASK_STARTING) is
// acknowledged at once, not after the next batch of run changes, so the
// agent can send the task's next update without waiting for a commit.
func TestStartingAckedAtOnce(t *testing.T) {
	c := &core{runs: map[int64]*runState{7: {run: store.Run{ID: 7, Job: "a", State: stateStarting, TaskID: "t7"}}},
		byTask: map[string]int64{"t7": 7}, pendRuns: map[int64]store.Run{}, acks: make(chan func(context.Context), 4)}
	c.update(mesos.TaskStatus{TaskID: mesos.ID{Value: "t7"}, State: mesos.TaskStarting, UUID: "u1", AgentID: &mesos.ID{Value: "A"}})
	if len(c.acks) != 1 {
		t.Errorf("acknowledgements queued at once = %d; want 1", len(c.acks))
	}
	if len(c.pendAcks) != 0 || len(c.pendRuns) != 0 {
		t.Errorf("a TASK_STARTING left %d acknowledgements and %d run changes for the next batch; want none", len(c.pendAcks), len(c.pendRuns))
	}
}

// Jobs asking for the same plain resources share one need; a job with
// constraints keeps its own.
func TestNeedsOf(t *testing.T) {
	small := place.Demand{CPUs: 0.1, Mem: 32}
	pinned := place.Demand{CPUs: 0.1, Mem: 32, Constraints: []place.Constraint{{Field: "rack", Operator: "IS", Value: "r1"}}}
	jobs := map[string]*jobState{"a": {spec: small}, "b": {spec: pinned}, "c": {spec: small}, "d": {spec: place.Demand{CPUs: 1, Mem: 32}}}
	got := needsOf(map[string]int{"a": 2, "b": 1, "c": 3, "d": 1}, jobs)
	if len(got) != 3 || got[0].n != 5 || got[0].CPUs != 0.1 || got[1].n != 1 || len(got[1].Constraints) != 1 || got[2].n != 1 || got[2].CPUs != 1 {
		t.Errorf("needsOf = %+v; want a and c together (5), then b (1), then d (1)", got)
	}
}

// A run that fits none of the offers held makes the loop revive at most
// once a second, however often it wakes, even though it declines the
// spare offers each time: they would otherwise come straight back.
func TestUnplaceableRunRevivesOncePerSecond(t *testing.T) {
	now := time.Unix(10000, 0)
	s := &Service{cfg: Config{OfferHold: 100 * time.Millisecond, Role: "*"}}
	c := &core{s: s, subscribed: true, calls: make(chan func(context.Context), 64),
		jobs: map[string]*jobState{"big": {job: job.Job{Name: "big"}, spec: place.Demand{CPUs: 64, Mem: 32}, next: now.Add(50 * time.Millisecond)}},
		runs: map[int64]*runState{}, offers: map[string]*mesos.Offer{}}
	offer := func(id string) *mesos.Offer {
		return &mesos.Offer{ID: mesos.ID{Value: id}, AgentID: mesos.ID{Value: "A" + id}, Resources: resource.Scalar("cpus", 1).Add(resource.Scalar("mem", 1024)).Wire("*")}
	}
	revives := 0
	for i := range 10 {
		at := now.Add(time.Duration(i) * 50 * time.Millisecond)
		c.offers["O1"], c.offers["O2"] = offer("O1"), offer("O2") // back after each revive
		before := c.revivedAt
		c.manageOffers(false, at)
		if c.revivedAt != before {
			revives++
		}
	}
	if revives != 1 {
		t.Errorf("revives over half a second with a run that fits nowhere = %d; want 1", revives)
	}
}

// Work that would fit an offer declined as spare since the last revive
// revives at once: the offer left over from a parent's launch, declined
// while the parent ran, is what its child needs a moment later (a chain
// waited a second a hop before).
func TestWorkFittingASpareDeclineRevivesAtOnce(t *testing.T) {
	now := time.Unix(10000, 0)
	s := &Service{cfg: Config{OfferHold: 100 * time.Millisecond, Role: "*"}}
	small := place.Demand{CPUs: 0.1, Mem: 32}
	c := &core{s: s, subscribed: true, calls: make(chan func(context.Context), 64), revivedAt: now,
		jobs: map[string]*jobState{"parent": {job: job.Job{Name: "parent"}, spec: small, next: now.Add(50 * time.Millisecond)}},
		runs: map[int64]*runState{}, offers: map[string]*mesos.Offer{}}
	offer := func(id string) *mesos.Offer {
		return &mesos.Offer{ID: mesos.ID{Value: id}, AgentID: mesos.ID{Value: "A" + id}, Resources: resource.Scalar("cpus", 1).Add(resource.Scalar("mem", 1024)).Wire("*")}
	}
	// The parent is coming: O1 is kept for it, O2 declined as spare.
	c.offers["O1"], c.offers["O2"] = offer("O1"), offer("O2")
	c.manageOffers(false, now.Add(10*time.Millisecond))
	if _, ok := c.offers["O2"]; ok || c.offers["O1"] == nil {
		t.Fatalf("held after the parent's round: %v; want O1 only", slices.Sorted(maps.Keys(c.offers)))
	}
	// The parent took O1; its child, which fits O2, is coming now.
	delete(c.offers, "O1")
	c.jobs["parent"].next = time.Time{}
	c.jobs["child"] = &jobState{job: job.Job{Name: "child"}, spec: small, next: now.Add(100 * time.Millisecond)}
	c.manageOffers(false, now.Add(60*time.Millisecond))
	if c.revivedAt != now.Add(60*time.Millisecond) {
		t.Errorf("the child fits the offer declined as spare, yet the loop did not revive at once (last revive %v)", c.revivedAt.Sub(now))
	}
}
