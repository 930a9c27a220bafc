package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// --- maintenance ---------------------------------------------------------------

// machineID is Mesos' MachineID, as the master's maintenance endpoints
// take it.
type machineID struct {
	Hostname string `json:"hostname,omitempty"`
	IP       string `json:"ip,omitempty"`
}

func (m machineID) String() string {
	switch {
	case m.Hostname == "":
		return m.IP
	case m.IP == "":
		return m.Hostname
	}
	return m.Hostname + "/" + m.IP
}

// nanos is a TimeInfo or DurationInfo.
type nanos struct {
	Nanoseconds int64 `json:"nanoseconds"`
}

type window struct {
	MachineIDs     []machineID `json:"machine_ids"`
	Unavailability struct {
		Start    nanos  `json:"start"`
		Duration *nanos `json:"duration,omitempty"`
	} `json:"unavailability"`
}

type schedule struct {
	Windows []window `json:"windows"`
}

type maintenanceStatus struct {
	Draining []struct {
		ID       machineID `json:"id"`
		Statuses []struct {
			Status      string `json:"status"`
			FrameworkID struct {
				Value string `json:"value"`
			} `json:"framework_id"`
		} `json:"statuses"`
	} `json:"draining_machines"`
	Down []machineID `json:"down_machines"`
}

// parseMachine reads HOST, IP or HOST/IP.
func parseMachine(s string) (machineID, error) {
	host, ip, both := strings.Cut(s, "/")
	if !both {
		if _, err := netip.ParseAddr(s); err == nil {
			return machineID{IP: s}, nil
		}
		return machineID{Hostname: s}, nil
	}
	if _, err := netip.ParseAddr(ip); err != nil || host == "" {
		return machineID{}, usagef("machine %q: want HOST, IP or HOST/IP", s)
	}
	return machineID{Hostname: host, IP: ip}, nil
}

func parseMachines(args []string) ([]machineID, error) {
	var out []machineID
	for _, a := range args {
		m, err := parseMachine(a)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func sameMachine(a, b machineID) bool {
	return strings.EqualFold(a.Hostname, b.Hostname) && a.IP == b.IP
}

// withoutMachines returns s with the machines taken out of its windows,
// and windows left empty dropped.
func withoutMachines(s schedule, ms []machineID) schedule {
	var out schedule
	for _, w := range s.Windows {
		var keep []machineID
		for _, x := range w.MachineIDs {
			gone := false
			for _, m := range ms {
				gone = gone || sameMachine(x, m)
			}
			if !gone {
				keep = append(keep, x)
			}
		}
		if len(keep) > 0 {
			w.MachineIDs = keep
			out.Windows = append(out.Windows, w)
		}
	}
	return out
}

// maintenanceVerbs are the verbs on the maintenance schedule.
func maintenanceVerbs() []*verb {
	machines := "MACHINE..."
	aboutMachine := "\n\nA MACHINE is a hostname, an IP address, or HOSTNAME/IP; an agent is on\nit when each part given matches the agent."
	change := func(name, summary, about string, act func(ctx context.Context, r *runner, ms []machineID) error) *verb {
		return &verb{group: "maintenance", name: name, args: machines, summary: summary, about: about + aboutMachine,
			uses: useMaster, minArgs: 1, maxArgs: -1,
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				return func(ctx context.Context, r *runner) error {
					ms, err := parseMachines(r.args)
					if err != nil {
						return err
					}
					return act(ctx, r, ms)
				}
			}}
	}
	post := func(path, done string) func(ctx context.Context, r *runner, ms []machineID) error {
		return func(ctx context.Context, r *runner, ms []machineID) error {
			if _, err := r.master.do(ctx, http.MethodPost, path, ms); err != nil {
				return err
			}
			for _, m := range ms {
				fmt.Fprintf(r.out, "machine %s %s\n", m, done)
			}
			return nil
		}
	}
	scheduleVerb := &verb{group: "maintenance", name: "schedule", args: machines, uses: useMaster, minArgs: 1, maxArgs: -1,
		summary: "schedule machines for maintenance: frameworks move their work off them",
		about: `Adds a maintenance window for the machines (moving them out of any
window they were in): from --start, for --duration (0: for good). The
machines are DRAINING at once: their agents' offers carry the window,
frameworks using them are asked to leave (the services framework moves
its instances elsewhere first), and nothing new is placed there. Nothing
is killed until ` + "`corral maintenance down`" + `. Needs the
update_maintenance_schedules ACL.` + aboutMachine}
	scheduleVerb.setup = func(fs *flag.FlagSet) func(context.Context, *runner) error {
		start := fs.Duration("start", 0, "when the window starts, from now (see --at)")
		at := fs.String("at", "", "when the window starts, as RFC 3339 (e.g. 2026-12-24T22:00:00Z); overrides --start")
		duration := fs.Duration("duration", time.Hour, "how long the machines are down (0: for good)")
		return func(ctx context.Context, r *runner) error {
			ms, err := parseMachines(r.args)
			if err != nil {
				return err
			}
			from := time.Now().Add(*start)
			if *at != "" {
				if from, err = time.Parse(time.RFC3339, *at); err != nil {
					return usagef("--at %q: want an RFC 3339 time such as 2026-12-24T22:00:00Z", *at)
				}
			}
			if *duration < 0 {
				return usagef("--duration must not be negative")
			}
			var s schedule
			if err := r.master.getJSON(ctx, "/maintenance/schedule", &s); err != nil {
				return err
			}
			s = withoutMachines(s, ms)
			var w window
			w.MachineIDs = ms
			w.Unavailability.Start = nanos{from.UnixNano()}
			if *duration > 0 {
				w.Unavailability.Duration = &nanos{int64(*duration)}
			}
			s.Windows = append(s.Windows, w)
			if _, err := r.master.do(ctx, http.MethodPost, "/maintenance/schedule", s); err != nil {
				return err
			}
			for _, m := range ms {
				fmt.Fprintf(r.out, "machine %s is DRAINING: down from %s%s\n", m, from.UTC().Format(time.RFC3339), untilText(*duration))
			}
			return nil
		}
	}
	return []*verb{
		{
			watchable: true, group: "maintenance", name: "status", summary: "show the maintenance schedule and each machine's mode",
			about: `One row per scheduled machine: its mode (DRAINING until it is taken
down, then DOWN), its window, and how the frameworks asked to leave it
answered (ACCEPT, DECLINE or UNKNOWN). Needs the
get_maintenance_schedules and get_maintenance_statuses ACLs.`,
			uses: useMaster, maxArgs: 0,
			jsonDoc: `print {"schedule": {"windows": [...]}, "status": {"draining_machines": [...], "down_machines": [...]}} in Mesos' shapes`,
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				return func(ctx context.Context, r *runner) error {
					var s schedule
					var st maintenanceStatus
					if err := r.master.getJSON(ctx, "/maintenance/schedule", &s); err != nil {
						return err
					}
					if err := r.master.getJSON(ctx, "/maintenance/status", &st); err != nil {
						return err
					}
					if r.json {
						return writeJSON(r.out, map[string]any{"schedule": s, "status": st})
					}
					_, err := io.WriteString(r.out, maintenanceTable(s, st))
					return err
				}
			},
		},
		scheduleVerb,
		change("unschedule", "take machines out of the maintenance schedule",
			`Removes the machines from their windows: they are no longer
DRAINING and frameworks may use them again. A machine that is DOWN must
be brought up first (`+"`corral maintenance up`"+`). Needs the
update_maintenance_schedules ACL.`, func(ctx context.Context, r *runner, ms []machineID) error {
				var s schedule
				if err := r.master.getJSON(ctx, "/maintenance/schedule", &s); err != nil {
					return err
				}
				if _, err := r.master.do(ctx, http.MethodPost, "/maintenance/schedule", withoutMachines(s, ms)); err != nil {
					return err
				}
				for _, m := range ms {
					fmt.Fprintf(r.out, "machine %s is out of the schedule\n", m)
				}
				return nil
			}),
		change("down", "take scheduled machines down: their agents and tasks go",
			`Takes DRAINING machines DOWN: each agent on them is removed and its
tasks end TASK_GONE_BY_OPERATOR (TASK_LOST for frameworks that are not
partition aware); no agent may register there until `+"`corral maintenance up`"+`.
Needs the start_maintenances ACL.`, post("/machine/down", "is DOWN")),
		change("up", "bring machines back from maintenance",
			`Brings DOWN machines UP and out of the schedule: agents may register
on them again (an agent removed by `+"`down`"+` starts with a fresh work dir).
Needs the stop_maintenances ACL.`, post("/machine/up", "is UP")),
	}
}

func untilText(d time.Duration) string {
	if d == 0 {
		return ", for good"
	}
	return " for " + d.String()
}

// maintenanceTable renders the schedule and modes (pure).
func maintenanceTable(s schedule, st maintenanceStatus) string {
	type row struct{ machine, mode, window, answers string }
	var rows []row
	for _, w := range s.Windows {
		from := time.Unix(0, w.Unavailability.Start.Nanoseconds).UTC()
		span := from.Format(time.RFC3339) + " for good"
		if d := w.Unavailability.Duration; d != nil {
			span = from.Format(time.RFC3339) + " → " + from.Add(time.Duration(d.Nanoseconds)).Format(time.RFC3339)
		}
		for _, m := range w.MachineIDs {
			r := row{machine: m.String(), mode: "DRAINING", window: span}
			for _, d := range st.Down {
				if sameMachine(d, m) {
					r.mode = "DOWN"
				}
			}
			for _, d := range st.Draining {
				if !sameMachine(d.ID, m) {
					continue
				}
				var as []string
				for _, x := range d.Statuses {
					as = append(as, x.FrameworkID.Value+": "+x.Status)
				}
				r.answers = strings.Join(as, ", ")
			}
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return "no machine is scheduled for maintenance\n"
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].machine < rows[j].machine })
	t := newTable("MACHINE", "MODE", "WINDOW", "ANSWERS")
	for _, r := range rows {
		t.add(r.machine, r.mode, r.window, r.answers)
	}
	return t.String()
}
