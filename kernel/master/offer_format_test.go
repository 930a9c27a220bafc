package master

import (
	"encoding/json"
	"testing"
	"time"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// A v1 framework that subscribes with the legacy role and only the
// RESERVATION_REFINEMENT capability, as mesos-go's example scheduler does,
// gets offers without allocation_info (it compares whole Resource messages
// with its wants), launches a task with the offered resources copied
// verbatim, and the master fills the offer's role back in.
func TestLegacyRoleFrameworkLaunchesWithOfferedResources(t *testing.T) {
	tm := startMaster(t, nil)
	a := registerAgent(t, tm.url, "", "cpus:2;mem:1024", nil)
	a.keepAlive(50 * time.Millisecond)
	f := subscribe(t, tm.url, `{"user":"u","name":"example","role":"eng","capabilities":[{"type":"RESERVATION_REFINEMENT"}]}`)

	// Read the offer as raw JSON: what matters is the wire, not how
	// corral's own types decode it.
	var ev struct {
		Type   mesos.EventType `json:"type"`
		Offers struct {
			Offers []map[string]json.RawMessage `json:"offers"`
		} `json:"offers"`
	}
	f.s.next(func(b []byte) bool {
		ev.Type = ""
		_ = json.Unmarshal(b, &ev)
		return ev.Type == mesos.EventOffers
	})
	o := ev.Offers.Offers[0]
	if _, ok := o["allocation_info"]; ok {
		t.Errorf("offer has allocation_info %s; want none without MULTI_ROLE", o["allocation_info"])
	}
	var offered []map[string]json.RawMessage
	if err := json.Unmarshal(o["resources"], &offered); err != nil || len(offered) != 2 {
		t.Fatalf("offered resources %s (%v); want cpus and mem", o["resources"], err)
	}
	for _, r := range offered {
		for _, k := range []string{"allocation_info", "role", "reservation", "reservations"} {
			if v, ok := r[k]; ok {
				t.Errorf("offered %s has %q: %s; want an unreserved resource in the post-refinement format without allocation_info", r["name"], k, v)
			}
		}
	}
	var offerID mesos.ID
	_ = json.Unmarshal(o["id"], &offerID)

	accept := `{"type":"ACCEPT",` + f.fid() + `,"accept":{"offer_ids":[{"value":"` + offerID.Value + `"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[
	 {"name":"Task 1","task_id":{"value":"1"},"agent_id":{"value":"` + a.id + `"},"resources":` + string(o["resources"]) + `,"command":{"value":"sleep 100"}}]}}]}}`
	if code, msg := f.call(accept); code != 202 {
		t.Fatalf("ACCEPT: %d %s", code, msg)
	}
	launch := a.s.nextAgentEvent(agentproto.EventLaunch).Launch
	if len(launch.Tasks) != 1 || launch.Tasks[0].TaskID.Value != "1" {
		t.Fatalf("LAUNCH = %+v", launch)
	}
	for _, r := range launch.Tasks[0].Resources {
		if r.AllocationInfo == nil || r.AllocationInfo.Role != "eng" {
			t.Errorf("launched %s with allocation_info %+v; want the offer's role eng filled in", r.Name, r.AllocationInfo)
		}
	}
	u := a.update(f.id, "1", mesos.TaskRunning)
	if st := f.s.nextEvent(mesos.EventUpdate).Update.Status; st.TaskID.Value != "1" || st.State != mesos.TaskRunning || st.UUID != u {
		t.Errorf("update = %+v; want TASK_RUNNING for task 1", st)
	}
}
