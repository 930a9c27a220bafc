package checkpoint

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

func status(tid string, st mesos.TaskState, uuid string) *agentproto.StatusUpdate {
	return &agentproto.StatusUpdate{FrameworkID: "fw", Status: mesos.TaskStatus{TaskID: mesos.ID{Value: tid}, State: st, UUID: uuid}}
}

func TestRoundTripAndTornLine(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ti := &mesos.TaskInfo{TaskID: mesos.ID{Value: "t1"}, Name: "one"}
	if err := s.CreateTask(Task{FrameworkID: "fw", TaskInfo: ti}, Record{Update: status("t1", mesos.TaskStarting, "u1")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Append("fw", "t1", Record{Spawned: &Spawned{PID: 42, StartTime: 7}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Append("fw", "t1", Record{Ack: "u1"}); err != nil {
		t.Fatal(err)
	}
	// A crash in the middle of a write leaves a torn last line.
	j := filepath.Join(s.TaskDir("fw", "t1"), JournalFile)
	f, _ := os.OpenFile(j, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"update":{"framework_id":"fw","sta`)
	f.Close()
	// A ghost task (never launched) with only an update.
	if err := s.Append("fw", "ghost/1", Record{Update: status("ghost/1", mesos.TaskDropped, "g1")}); err != nil {
		t.Fatal(err)
	}

	got, errs := s.Load()
	if len(errs) > 0 {
		t.Fatalf("Load() errs = %v", errs)
	}
	if len(got) != 2 {
		t.Fatalf("Load() = %d tasks; want 2", len(got))
	}
	byID := map[string]Recovered{}
	for _, r := range got {
		byID[r.TaskID] = r
	}
	r := byID["t1"]
	if r.Task == nil || r.Task.TaskInfo.Name != "one" || len(r.Records) != 3 || r.Dropped != 1 {
		t.Fatalf("Load() t1 = %+v; want the task, 3 records, 1 dropped", r)
	}
	if r.Records[1].Spawned.PID != 42 || r.Records[2].Ack != "u1" {
		t.Errorf("records = %+v", r.Records)
	}
	g := byID["ghost/1"]
	if g.Task != nil || g.FrameworkID != "fw" || len(g.Records) != 1 {
		t.Errorf("Load() ghost = %+v", g)
	}
	// After recovery, appends land on a clean line.
	if err := s.Append("fw", "t1", Record{Ack: "u2"}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Load()
	for _, r := range got {
		if r.TaskID == "t1" && (len(r.Records) != 4 || r.Dropped != 0) {
			t.Errorf("after append: %d records, %d dropped; want 4, 0", len(r.Records), r.Dropped)
		}
	}
	if err := s.RemoveTask("fw", "t1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Reset(time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Load(); len(got) != 0 {
		t.Errorf("Load() after Reset = %d tasks; want 0", len(got))
	}
}

func TestAgent(t *testing.T) {
	s, _ := Open(t.TempDir())
	if _, ok, err := s.LoadAgent(); ok || err != nil {
		t.Fatalf("LoadAgent() on empty = %v, %v", ok, err)
	}
	want := Agent{AgentID: "a1", BootID: "b"}
	if err := s.SaveAgent(want); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := s.LoadAgent(); !ok || err != nil || got != want {
		t.Fatalf("LoadAgent() = %+v, %v, %v; want %+v", got, ok, err, want)
	}
}

// Removing a framework's last task (which drops its empty directories)
// while another task of it is being created never fails the creation.
func TestCreateRacesRemoveOfLastTask(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		old, next := fmt.Sprintf("t%d", i), fmt.Sprintf("t%d", i+1)
		if i == 0 {
			if err := s.CreateTask(Task{FrameworkID: "fw", TaskInfo: &mesos.TaskInfo{TaskID: mesos.ID{Value: old}}}); err != nil {
				t.Fatal(err)
			}
		}
		done := make(chan error, 1)
		go func() { done <- s.RemoveTask("fw", old) }()
		if err := s.CreateTask(Task{FrameworkID: "fw", TaskInfo: &mesos.TaskInfo{TaskID: mesos.ID{Value: next}}}); err != nil {
			t.Fatalf("CreateTask(%s) while %s is removed: %v", next, old, err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
