package update

import (
	"testing"
	"time"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

func upd(tid string, st mesos.TaskState, uuid string) agentproto.StatusUpdate {
	return agentproto.StatusUpdate{FrameworkID: "fw", Status: mesos.TaskStatus{TaskID: mesos.ID{Value: tid}, State: st, UUID: uuid}}
}

func uuids(us []agentproto.StatusUpdate) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Status.UUID)
	}
	return out
}

func eq(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestScript replays a scripted sequence of operations and checks what Due
// returns at each step.
func TestScript(t *testing.T) {
	t0 := time.Unix(1000, 0)
	m := New(10*time.Second, 40*time.Second)
	k1 := Key{"fw", "t1"}
	m.Add(upd("t1", mesos.TaskStarting, "a1"))
	m.Add(upd("t1", mesos.TaskRunning, "a2"))
	m.Add(upd("t2", mesos.TaskStarting, "b1"))

	steps := []struct {
		name string
		do   func()
		at   time.Duration
		want []string
	}{
		{"first batch: heads only", nil, 0, []string{"a1", "b1"}},
		{"nothing before the interval", nil, 9 * time.Second, nil},
		{"resend after 10s", nil, 10 * time.Second, []string{"a1", "b1"}},
		{"interval doubled: nothing at 29s", nil, 29 * time.Second, nil},
		{"resend at 30s", nil, 30 * time.Second, []string{"a1", "b1"}},
		{"stale ack ignored", func() { m.Ack(k1, "a2") }, 31 * time.Second, nil},
		{"ack a1 makes a2 due at once", func() { m.Ack(k1, "a1") }, 31 * time.Second, []string{"a2"}},
		{"resend all after re-registration", m.ResendAll, 32 * time.Second, []string{"a2", "b1"}},
		{"backoff capped at 40s", nil, 72 * time.Second, []string{"a2", "b1"}},
	}
	for _, s := range steps {
		if s.do != nil {
			s.do()
		}
		got := uuids(m.Due(t0.Add(s.at)))
		if !eq(got, s.want) {
			t.Fatalf("%s: Due(+%v) = %v; want %v", s.name, s.at, got, s.want)
		}
	}
}

func TestLatestState(t *testing.T) {
	m := New(time.Second, time.Second)
	m.Add(upd("t1", mesos.TaskStarting, "a1"))
	m.Add(upd("t1", mesos.TaskRunning, "a2"))
	m.Add(upd("t1", mesos.TaskFinished, "a3"))
	got := m.Due(time.Unix(0, 0))
	if len(got) != 1 || got[0].Status.State != mesos.TaskStarting || got[0].LatestState != mesos.TaskFinished {
		t.Fatalf("Due() = %+v; want STARTING with latest FINISHED", got)
	}
	if m.Pending() != 3 {
		t.Errorf("Pending() = %d; want 3", m.Pending())
	}
	for i, u := range []string{"a1", "a2", "a3"} {
		r := m.Ack(Key{"fw", "t1"}, u)
		if !r.Matched || r.Drained != (i == 2) || !r.Terminal {
			t.Errorf("Ack(%s) = %+v", u, r)
		}
	}
	if m.Pending() != 0 {
		t.Errorf("Pending() = %d; want 0", m.Pending())
	}
	if _, ok := m.Next(); ok {
		t.Errorf("Next() reports something pending after all acks")
	}
}

// TestInOrderProperty: whatever the interleaving of acks, each task's
// updates leave Due in the order they were added, each exactly once per
// acknowledgement.
func TestInOrderProperty(t *testing.T) {
	m := New(time.Second, time.Second)
	const tasks, per = 20, 5
	for i := 0; i < per; i++ {
		for j := 0; j < tasks; j++ {
			m.Add(upd(string(rune('a'+j)), mesos.TaskRunning, string(rune('a'+j))+string(rune('0'+i))))
		}
	}
	seen := map[string][]string{}
	now := time.Unix(0, 0)
	for round := 0; m.Pending() > 0 && round < 1000; round++ {
		for n, u := range m.Due(now) {
			tid := u.Status.TaskID.Value
			if n%3 == round%3 { // ack only some, others are resent later
				continue
			}
			seen[tid] = append(seen[tid], u.Status.UUID)
			m.Ack(Key{"fw", tid}, u.Status.UUID)
		}
		now = now.Add(2 * time.Second)
	}
	for j := 0; j < tasks; j++ {
		tid := string(rune('a' + j))
		var want []string
		for i := 0; i < per; i++ {
			want = append(want, tid+string(rune('0'+i)))
		}
		if !eq(seen[tid], want) {
			t.Errorf("task %s acked in order %v; want %v", tid, seen[tid], want)
		}
	}
}
