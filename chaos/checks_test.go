//go:build chaos

package chaos

import (
	"errors"
	"testing"
	"time"

	"corral/kernel/mesos"
)

// The checkers decide the verdicts; these tests make sure they can fail.

func TestCheckRuns(t *testing.T) {
	at := func(sec int) *string {
		s := time.Date(2030, 1, 1, 0, 0, sec, 0, time.UTC).Format(time.RFC3339Nano)
		return &s
	}
	run := func(id int64, sec int, state, reason string) jobRun {
		return jobRun{ID: id, Trigger: "schedule", ScheduledFor: at(sec), State: state, Reason: reason}
	}
	end := time.Date(2030, 1, 1, 0, 0, 3, 0, time.UTC)
	for _, tc := range []struct {
		name                                       string
		runs                                       []jobRun
		gaps, doubled, missed, skipped, active, ps int
	}{
		{name: "every second once", runs: []jobRun{run(1, 0, "SUCCEEDED", ""), run(2, 1, "FAILED", "exit 1"), run(3, 2, "MISSED", "down"), run(4, 3, "SKIPPED", "FORBID")},
			missed: 1, skipped: 1},
		{name: "gap", runs: []jobRun{run(1, 0, "SUCCEEDED", ""), run(3, 2, "SUCCEEDED", ""), run(4, 3, "SUCCEEDED", "")}, gaps: 1, ps: 1},
		{name: "doubled", runs: []jobRun{run(1, 0, "SUCCEEDED", ""), run(2, 1, "SUCCEEDED", ""), run(3, 1, "SUCCEEDED", ""), run(4, 2, "SUCCEEDED", ""), run(5, 3, "SUCCEEDED", "")},
			doubled: 1, ps: 1},
		{name: "missed without reason", runs: []jobRun{run(1, 0, "SUCCEEDED", ""), run(2, 1, "MISSED", ""), run(3, 2, "SUCCEEDED", ""), run(4, 3, "SUCCEEDED", "")},
			missed: 1, ps: 1},
		{name: "killed", runs: []jobRun{run(1, 0, "SUCCEEDED", ""), run(2, 1, "KILLED", "?"), run(3, 2, "SUCCEEDED", ""), run(4, 3, "SUCCEEDED", "")}, ps: 1},
		{name: "active", runs: []jobRun{run(1, 0, "SUCCEEDED", ""), run(2, 1, "QUEUED", ""), run(3, 2, "SUCCEEDED", ""), run(4, 3, "RUNNING", "")}, active: 2},
		{name: "after the window", runs: []jobRun{run(1, 0, "SUCCEEDED", ""), run(2, 1, "SUCCEEDED", ""), run(3, 2, "SUCCEEDED", ""), run(4, 3, "SUCCEEDED", ""), run(5, 4, "QUEUED", ""), run(6, 4, "QUEUED", "")}},
		{name: "no run", ps: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := checkRuns("j", tc.runs, end)
			got := []int{r.gaps, r.doubled, r.missed, r.skipped, r.active, len(r.problems)}
			want := []int{tc.gaps, tc.doubled, tc.missed, tc.skipped, tc.active, tc.ps}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("checkRuns = gaps %d doubled %d missed %d skipped %d active %d problems %d %q; want %v",
						r.gaps, r.doubled, r.missed, r.skipped, r.active, len(r.problems), r.problems, want)
				}
			}
		})
	}
}

func TestClassify(t *testing.T) {
	up := func(st mesos.TaskState, uuid string) mesos.TaskStatus { return mesos.TaskStatus{State: st, UUID: uuid} }
	for _, tc := range []struct {
		name        string
		task        probeTask
		want        probeOutcome
		redelivered int
	}{
		{name: "finished", task: probeTask{updates: []mesos.TaskStatus{up(mesos.TaskRunning, "a"), up(mesos.TaskFinished, "b")}}, want: probeFinished},
		{name: "finished, redelivered", task: probeTask{updates: []mesos.TaskStatus{up(mesos.TaskRunning, "a"), up(mesos.TaskFinished, "b"), up(mesos.TaskFinished, "b")}},
			want: probeFinished, redelivered: 1},
		{name: "finished, then reconciled the same", task: probeTask{updates: []mesos.TaskStatus{up(mesos.TaskFinished, "b"), up(mesos.TaskFinished, "")}}, want: probeFinished},
		{name: "two terminal updates", task: probeTask{updates: []mesos.TaskStatus{up(mesos.TaskFinished, "b"), up(mesos.TaskLost, "c")}}, want: probeDuplicated},
		{name: "finished, reconciled gone", task: probeTask{updates: []mesos.TaskStatus{up(mesos.TaskFinished, "b"), up(mesos.TaskGone, "")}}, want: probeDuplicated},
		{name: "running", task: probeTask{updates: []mesos.TaskStatus{up(mesos.TaskRunning, "a")}}, want: probeActive},
		{name: "silent", task: probeTask{}, want: probeActive},
		{name: "unreachable", task: probeTask{updates: []mesos.TaskStatus{up(mesos.TaskRunning, "a"), up(mesos.TaskUnreachable, "")}}, want: probeLost},
		{name: "unreachable, back, finished", task: probeTask{updates: []mesos.TaskStatus{up(mesos.TaskRunning, "a"), up(mesos.TaskUnreachable, ""), up(mesos.TaskRunning, ""), up(mesos.TaskFinished, "b")}},
			want: probeFinished},
		{name: "gone after running", task: probeTask{updates: []mesos.TaskStatus{up(mesos.TaskRunning, "a"), up(mesos.TaskGone, "")}}, want: probeLost},
		{name: "gone, accept failed", task: probeTask{launchErr: errors.New("EOF"), updates: []mesos.TaskStatus{up(mesos.TaskGone, "")}}, want: probeNeverRan},
		{name: "dropped", task: probeTask{updates: []mesos.TaskStatus{up(mesos.TaskDropped, "d")}}, want: probeNeverRan},
		{name: "failed", task: probeTask{updates: []mesos.TaskStatus{up(mesos.TaskRunning, "a"), up(mesos.TaskFailed, "b")}}, want: probeUnexpected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, red := classify(tc.task)
			if got != tc.want || red != tc.redelivered {
				t.Errorf("classify(%s) = %s, %d redelivered; want %s, %d", tc.task.history(), got, red, tc.want, tc.redelivered)
			}
		})
	}
}

func TestCheckProbeExpectsLossOnlyOnTheDeadAgent(t *testing.T) {
	launched := time.Now()
	lost := func(id, agent string) probeTask {
		return probeTask{id: id, agentID: agent, launched: launched, updates: []mesos.TaskStatus{{State: mesos.TaskUnreachable}}}
	}
	r := checkProbe([]probeTask{lost("a", "dead"), lost("b", "alive"), {id: "pending"}}, "dead")
	if r.launched != 2 || r.lostExpected != 1 || len(r.problems) != 1 || r.byOutcome[probeLost] != 2 {
		t.Errorf("checkProbe = launched %d, lost %d (%d expected), problems %q; want 2 launched, 2 lost, 1 expected, 1 problem",
			r.launched, r.byOutcome[probeLost], r.lostExpected, r.problems)
	}
}
