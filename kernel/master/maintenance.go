package master

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"corral/internal/acl"
	"corral/internal/edge"
	"corral/kernel/master/internal/core"
	"corral/kernel/mesos"
)

// The maintenance calls of the operator API, in Mesos' shapes
// (include/mesos/v1/maintenance/maintenance.proto), JSON or protobuf (the
// pb tags are the field numbers).

// opSchedule is Call.UpdateMaintenanceSchedule.
type opSchedule struct {
	Schedule *opScheduleBody `json:"schedule" pb:"1"`
}

// opScheduleBody is maintenance.Schedule, also the body of
// GET and POST /maintenance/schedule.
type opScheduleBody struct {
	Windows []opWindow `json:"windows" pb:"1"`
}

// opWindow is maintenance.Window.
type opWindow struct {
	MachineIDs     []core.MachineID  `json:"machine_ids" pb:"1"`
	Unavailability *opUnavailability `json:"unavailability" pb:"2"`
}

// opUnavailability is Unavailability; its fields are declared in the
// order of their JSON names, as the JSON form has always been written.
type opUnavailability struct {
	Duration *mesos.DurationInfo `json:"duration,omitempty" pb:"2"`
	Start    *mesos.TimeInfo     `json:"start" pb:"1"`
}

// opMachines is Call.StartMaintenance and Call.StopMaintenance.
type opMachines struct {
	Machines []core.MachineID `json:"machines" pb:"1"`
}

// opMaintenanceChange serves UPDATE_MAINTENANCE_SCHEDULE,
// START_MAINTENANCE and STOP_MAINTENANCE, each under its ACL.
func (m *Master) opMaintenanceChange(w http.ResponseWriter, r *http.Request, call *opCall) {
	if call.Type == "UPDATE_MAINTENANCE_SCHEDULE" {
		if call.UpdateMaintenanceSchedule == nil || call.UpdateMaintenanceSchedule.Schedule == nil {
			writeError(w, r, errorf(http.StatusBadRequest, "Failed to validate master::Call: Expecting 'update_maintenance_schedule.schedule' to be present"))
			return
		}
		m.updateSchedule(w, r, call.UpdateMaintenanceSchedule.Schedule.Windows)
		return
	}
	body := call.StartMaintenance
	if call.Type == "STOP_MAINTENANCE" {
		body = call.StopMaintenance
	}
	if body == nil {
		writeError(w, r, errorf(http.StatusBadRequest, "Failed to validate master::Call: Expecting '%s' to be present", strings.ToLower(call.Type)))
		return
	}
	m.machinesChange(w, r, call.Type == "START_MAINTENANCE", body.Machines)
}

// maintenanceSchedule reads the schedule in Mesos' shape; false means it
// answered an error.
func (m *Master) maintenanceSchedule(w http.ResponseWriter, r *http.Request) (opScheduleBody, bool) {
	if !m.authorize(w, r, acl.GetMaintenanceSchedules, "") {
		return opScheduleBody{}, false
	}
	var windows []core.Window
	if !m.opRead(w, r, func(c *core.Core) { windows = c.MaintenanceSchedule() }) {
		return opScheduleBody{}, false
	}
	return scheduleOf(windows), true
}

// maintenanceStatus reads the maintenance status (ClusterStatus) in
// Mesos' shape; false means it answered an error.
func (m *Master) maintenanceStatus(w http.ResponseWriter, r *http.Request) (opClusterStatus, bool) {
	if !m.authorize(w, r, acl.GetMaintenanceStatuses, "") {
		return opClusterStatus{}, false
	}
	var draining []core.DrainingMachine
	var down []core.MachineID
	if !m.opRead(w, r, func(c *core.Core) { draining, down = c.MaintenanceStatus() }) {
		return opClusterStatus{}, false
	}
	return clusterStatusOf(draining, down), true
}

// updateSchedule validates, authorizes and records a new schedule.
func (m *Master) updateSchedule(w http.ResponseWriter, r *http.Request, in []opWindow) {
	windows, err := windowsOf(in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if !m.authorize(w, r, acl.UpdateMaintenanceSchedules, "") {
		return
	}
	m.opChange(w, r, func(c *core.Core) (core.Effects, *core.OpError) {
		return c.UpdateMaintenanceSchedule(windows, time.Now())
	})
}

// machinesChange takes machines DOWN (start) or UP.
func (m *Master) machinesChange(w http.ResponseWriter, r *http.Request, start bool, machines []core.MachineID) {
	act, f := acl.StopMaintenances, (*core.Core).StopMaintenance
	if start {
		act, f = acl.StartMaintenances, (*core.Core).StartMaintenance
	}
	if !m.authorize(w, r, act, "") {
		return
	}
	m.opChange(w, r, func(c *core.Core) (core.Effects, *core.OpError) { return f(c, machines, time.Now()) })
}

// maintenanceRoutes serves Mesos' older maintenance endpoints, which old
// tooling still calls: GET/POST /maintenance/schedule (a Schedule),
// GET /maintenance/status (a ClusterStatus), POST /machine/down and
// /machine/up (a list of MachineIDs); also under /master/.
func (m *Master) maintenanceRoutes(r chi.Router) {
	// Like /api/v1, they wait for the registry: before it is recovered
	// the core holds no schedule to read or to check a change against.
	recovered := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if m.awaitRecovery(w, r) {
				h(w, r)
			}
		}
	}
	for _, prefix := range []string{"", "/master"} {
		r.Get(prefix+"/maintenance/schedule", recovered(func(w http.ResponseWriter, r *http.Request) {
			if s, ok := m.maintenanceSchedule(w, r); ok {
				writeJSON(w, http.StatusOK, s)
			}
		}))
		r.Post(prefix+"/maintenance/schedule", recovered(func(w http.ResponseWriter, r *http.Request) {
			var s opScheduleBody
			if decodeBody(w, r, &s, "a maintenance schedule") {
				m.updateSchedule(w, r, s.Windows)
			}
		}))
		r.Get(prefix+"/maintenance/status", recovered(func(w http.ResponseWriter, r *http.Request) {
			if s, ok := m.maintenanceStatus(w, r); ok {
				writeJSON(w, http.StatusOK, s)
			}
		}))
		for _, way := range []string{"down", "up"} {
			start := way == "down"
			r.Post(prefix+"/machine/"+way, recovered(func(w http.ResponseWriter, r *http.Request) {
				var machines []core.MachineID
				if decodeBody(w, r, &machines, "a list of machine ids") {
					m.machinesChange(w, r, start, machines)
				}
			}))
		}
	}
}

// decodeBody decodes a JSON request body (read within the edge's limit)
// into v, refusing unknown fields and trailing data and naming what was
// expected; false means it answered an error.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, what string) bool {
	body, err := edge.ReadBody(r)
	if err != nil {
		writeError(w, r, err)
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("data after the JSON value")
	}
	if err != nil {
		writeError(w, r, errorf(http.StatusBadRequest, "Failed to parse body into %s: %v", what, err))
		return false
	}
	return true
}

// windowsOf converts the schedule's windows, refusing one without an
// unavailability start.
func windowsOf(in []opWindow) ([]core.Window, error) {
	out := make([]core.Window, 0, len(in))
	for i, w := range in {
		if w.Unavailability == nil || w.Unavailability.Start == nil {
			return nil, errorf(http.StatusBadRequest, "Failed to validate master::Call: 'schedule.windows[%d].unavailability.start' is required", i)
		}
		cw := core.Window{Machines: w.MachineIDs, Start: time.Unix(0, int64(w.Unavailability.Start.Nanoseconds)).UTC()}
		if d := w.Unavailability.Duration; d != nil {
			x := time.Duration(d.Nanoseconds)
			cw.Duration = &x
		}
		out = append(out, cw)
	}
	return out, nil
}

// scheduleOf is a schedule in Mesos' shape.
func scheduleOf(windows []core.Window) opScheduleBody {
	ws := []opWindow{}
	for _, w := range windows {
		u := &opUnavailability{Start: &mesos.TimeInfo{Nanoseconds: mesos.Int(w.Start.UnixNano())}}
		if w.Duration != nil {
			u.Duration = &mesos.DurationInfo{Nanoseconds: mesos.Int(*w.Duration)}
		}
		ws = append(ws, opWindow{MachineIDs: w.Machines, Unavailability: u})
	}
	return opScheduleBody{Windows: ws}
}

// clusterStatusOf is a ClusterStatus in Mesos' shape.
func clusterStatusOf(draining []core.DrainingMachine, down []core.MachineID) opClusterStatus {
	dms := []opDrainingMachine{}
	for _, d := range draining {
		sts := []opInverseOfferStatus{}
		for _, s := range d.Statuses {
			sts = append(sts, opInverseOfferStatus{Status: s.Status, FrameworkID: mesos.ID{Value: s.FrameworkID},
				Timestamp: mesos.TimeInfo{Nanoseconds: mesos.Int(s.Timestamp.UnixNano())}})
		}
		dms = append(dms, opDrainingMachine{ID: d.ID, Statuses: sts})
	}
	if down == nil {
		down = []core.MachineID{}
	}
	return opClusterStatus{DrainingMachines: dms, DownMachines: down}
}
