package core

import (
	"strings"
	"testing"
	"time"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// TestMaintenance walks a machine through its modes: scheduling it puts
// the window on its agent's offers and sends inverse offers to the
// framework using it (answers show in the status); bad schedules and
// START/STOP calls are refused naming the problem; START removes the
// agent (its task TASK_GONE_BY_OPERATOR) and keeps agents from
// registering there; STOP brings the machine up and out of the schedule.
func TestMaintenance(t *testing.T) {
	s, run := newDrainScript(t)
	s.core.cfg.AgentPingInterval = time.Hour
	run("subscribe", "web.1", "id=web", "pa")
	run("register", "a1.1", "agent=a1", "res=cpus:4;mem:1024", "task=web/t1/TASK_RUNNING/cpus:1;mem:64")
	run("register", "a2.1", "agent=a2", "res=cpus:4;mem:1024")
	s.core.agents["a1"].info.Hostname = "host1"
	s.core.agents["a2"].info.Hostname = "host2"
	s.core.Allocate(s.now)

	start := s.now.Add(time.Hour)
	hour := time.Hour
	for _, tc := range []struct {
		windows []Window
		want    string
	}{
		{[]Window{{Start: start}}, "must name at least one machine"},
		{[]Window{{Machines: []MachineID{{}}, Start: start}}, "needs a hostname or an ip"},
		{[]Window{{Machines: []MachineID{{IP: "nope"}}, Start: start}}, "is not an IP address"},
		{[]Window{{Machines: []MachineID{{Hostname: "host1"}}}}, "unavailability.start' is required"},
		{[]Window{{Machines: []MachineID{{Hostname: "host1"}}, Start: start}, {Machines: []MachineID{{Hostname: "HOST1"}}, Start: start}}, "in the schedule twice"},
	} {
		if _, e := s.core.UpdateMaintenanceSchedule(tc.windows, s.now); e == nil || e.Code != 400 || !strings.Contains(e.Message, tc.want) {
			t.Errorf("schedule %+v = %v; want 400 %q", tc.windows, e, tc.want)
		}
	}
	fx, e := s.core.UpdateMaintenanceSchedule([]Window{{Machines: []MachineID{{Hostname: "host1"}}, Start: start, Duration: &hour}}, s.now)
	if e != nil {
		t.Fatal(e)
	}
	if w := writesOf(fx); len(w) != 1 || !strings.Contains(w[0], "1 window(s), 0 machine(s) down") {
		t.Errorf("writes = %v", w)
	}
	ios := eventsOf(fx, "web", mesos.EventInverseOffers)
	if len(ios) != 1 || ios[0].InverseOffers.InverseOffers[0].AgentID.Value != "a1" ||
		ios[0].InverseOffers.InverseOffers[0].Unavailability.Start.Nanoseconds != mesos.Int(start.UnixNano()) ||
		ios[0].InverseOffers.InverseOffers[0].Unavailability.Duration.Nanoseconds != mesos.Int(hour) {
		t.Fatalf("inverse offers = %+v; want one for a1 with the window", ios)
	}
	if len(eventsOf(fx, "web", mesos.EventRescind)) == 0 {
		t.Errorf("a1's outstanding offer was not rescinded to be re-sent with the window")
	}
	fx = s.core.Allocate(s.now)
	for _, ev := range eventsOf(fx, "web", mesos.EventOffers) {
		for _, o := range ev.Offers.Offers {
			if (o.AgentID.Value == "a1") != (o.Unavailability != nil) {
				t.Errorf("offer of %s has unavailability %+v", o.AgentID.Value, o.Unavailability)
			}
		}
	}
	if _, e := s.core.DrainAgent("a1", nil, false, s.now); e == nil || e.Code != 400 {
		t.Errorf("drain of a scheduled agent = %v; want 400", e)
	}
	s.core.Call(&mesos.Call{FrameworkID: &mesos.ID{Value: "web"}, Type: mesos.CallDeclineInverseOffers,
		DeclineInverseOffers: &mesos.InverseOfferReply{InverseOfferIDs: []mesos.ID{ios[0].InverseOffers.InverseOffers[0].ID}}}, "web.1", s.now)
	draining, down := s.core.MaintenanceStatus()
	if len(draining) != 1 || draining[0].ID.Hostname != "host1" || len(draining[0].Statuses) != 1 ||
		draining[0].Statuses[0].Status != InverseDecline || len(down) != 0 {
		t.Errorf("status = %+v, %+v; want host1 draining with web's DECLINE", draining, down)
	}

	if _, e := s.core.StopMaintenance([]MachineID{{Hostname: "host1"}}, s.now); e == nil || !strings.Contains(e.Message, "not in DOWN mode") {
		t.Errorf("stop of a draining machine = %v", e)
	}
	if _, e := s.core.StartMaintenance([]MachineID{{Hostname: "host2"}}, s.now); e == nil || !strings.Contains(e.Message, "not part of a maintenance schedule") {
		t.Errorf("start of an unscheduled machine = %v", e)
	}
	fx, e = s.core.StartMaintenance([]MachineID{{Hostname: "host1"}}, s.now)
	if e != nil {
		t.Fatal(e)
	}
	if ups := eventsOf(fx, "web", mesos.EventUpdate); len(ups) != 1 || ups[0].Update.Status.State != mesos.TaskGoneByOperator {
		t.Errorf("updates on START_MAINTENANCE = %+v; want t1 TASK_GONE_BY_OPERATOR", ups)
	}
	if _, e := s.core.StartMaintenance([]MachineID{{Hostname: "host1"}}, s.now); e == nil || !strings.Contains(e.Message, "not in DRAINING mode") {
		t.Errorf("start of a down machine = %v", e)
	}
	if _, e := s.core.UpdateMaintenanceSchedule(nil, s.now); e == nil || !strings.Contains(e.Message, "is DOWN") {
		t.Errorf("a schedule without the down machine = %v", e)
	}
	reg := &agentproto.Register{Info: agentproto.AgentInfo{Hostname: "host1"}}
	if _, _, err := s.core.RegisterCheck("", reg); err == nil || !strings.Contains(err.Error(), "DOWN for maintenance") {
		t.Errorf("registering on a down machine = %v", err)
	}
	if _, e := s.core.StopMaintenance([]MachineID{{Hostname: "host1"}}, s.now); e != nil {
		t.Fatal(e)
	}
	if _, _, err := s.core.RegisterCheck("", reg); err != nil {
		t.Errorf("registering after STOP_MAINTENANCE = %v", err)
	}
	if w := s.core.MaintenanceSchedule(); len(w) != 0 {
		t.Errorf("schedule after STOP_MAINTENANCE = %+v; want the machine gone from it", w)
	}
}
