package core

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the effects the core produces")

// TestScripts replays the traces in testdata/*.txt. A trace is a list of
// commands, one a line; the indented lines after a command are the effects
// it is expected to produce, in order (none if there are none). With
// -update the expected lines are rewritten from what the core does.
//
// Streams and connections are named by the script (web.1, a1.2); the
// framework or agent behind each is remembered. After every command the
// core allocates for the agents it marked dirty, as the master's loop
// does after every batch, and those effects are part of the command's.
//
//	config key=value...      replace the core (first command only):
//	                         ping=<d> pings=<n> reregister=<d> offer-timeout=<d>
//	at <duration>            now is the epoch plus duration
//	failover <run-id>        a new core, restored from the registry as the
//	                         effects wrote it, at now
//	registry                 print the registry
//	mark-gone <agent>        an operator marks the agent gone in the registry
//	state                    print the core's view (Snapshot)
//	tick                     the timeout checks (Tick)
//	allocate                 a batch allocation cycle over every agent
//
//	subscribe <stream> [id=<fw>] [name=<n>] [roles=a,b] [pa] [failover=<d>]
//	disconnect <stream>      the stream ends
//	teardown <stream>
//	accept <stream> <offer>[,<offer>...] [launch=<task>:<resources>]... [refuse=<d>]
//	decline <stream> <offer>[,<offer>...] [refuse=<d>]
//	kill <stream> <task> [agent=<a>]
//	ack <stream> <agent> <task> <uuid>
//	reconcile <stream> [<task>[@<agent>]]...   none: implicit
//	suppress|revive <stream> [role...]
//
//	register <conn> [agent=<id>] [host=<h>] [res=<resources>] [task=<fw>/<task>/<state>[/<resources>]]...
//	heartbeat <conn>
//	update <conn> <fw> <task> <state> [uuid=<u>] [latest=<state>]
//	close <conn>             the agent's stream ends
//
// Effects print as
//
//	write <what>                          a registry write
//	<stream> <EVENT> ...                  a framework event
//	<stream> closed                       the end of a stream
//	<conn> <EVENT> ...                    an agent event
//	count <counter> ...                   counter increments
//
// and a refused call as "refused: <message>". Times print as durations
// since the epoch.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in testdata: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			runScript(t, file)
		})
	}
}

// step is one command of a script with the lines before it (comments and
// blank lines, kept for -update) and its expected output.
type step struct {
	line int
	pre  []string
	cmd  string
	want []string
}

func readScript(t *testing.T, file string) (steps []step, tail []string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pre []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
			pre = append(pre, line)
		case line[0] == ' ' || line[0] == '\t':
			if len(steps) == 0 || len(pre) > 0 {
				t.Fatalf("%s:%d: output line not right after a command", file, n)
			}
			steps[len(steps)-1].want = append(steps[len(steps)-1].want, trimmed)
		default:
			steps = append(steps, step{line: n, pre: pre, cmd: trimmed})
			pre = nil
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return steps, pre
}

func writeScript(t *testing.T, file string, steps []step, tail []string) {
	t.Helper()
	var b strings.Builder
	for _, s := range steps {
		for _, l := range s.pre {
			b.WriteString(l + "\n")
		}
		b.WriteString(s.cmd + "\n")
		for _, l := range s.want {
			b.WriteString("  " + l + "\n")
		}
	}
	for _, l := range tail {
		b.WriteString(l + "\n")
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// since prints t as a duration since the epoch.
func since(t time.Time) string { return t.Sub(epoch).String() }

// fakeRegistry is the registry as the effects' writes leave it.
type fakeRegistry struct {
	agents     map[string]*AgentRecord
	frameworks map[string]*FrameworkRecord
}

func (r *fakeRegistry) apply(w Write, now time.Time) {
	switch w := w.(type) {
	case AdmitAgent:
		rec := r.agents[w.ID]
		if rec == nil {
			rec = &AgentRecord{ID: w.ID, RegisteredAt: now}
			r.agents[w.ID] = rec
		}
		rec.Info, rec.State, rec.UnreachableSince = w.Info, RecordAdmitted, nil
	case MarkAgentUnreachable:
		if rec := r.agents[w.ID]; rec != nil {
			at := w.At
			rec.State, rec.UnreachableSince = RecordUnreachable, &at
		}
	case PutFramework:
		rec := w.Framework
		r.frameworks[rec.ID] = &rec
	}
}

// script is a running trace: the core under test and what the script
// knows about the world around it.
type script struct {
	t    *testing.T
	cfg  Config
	core *Core
	now  time.Time
	reg  fakeRegistry
	// streams and conns map script names to framework and agent ids.
	streams map[string]string
	conns   map[string]string
	// infos are the FrameworkInfos frameworks subscribed with; agents
	// report them with their tasks.
	infos map[string]mesos.FrameworkInfo
}

func defaultConfig(run string) Config {
	return Config{
		RunID:                         run,
		MasterInfo:                    mesos.MasterInfo{ID: run},
		AgentPingInterval:             5 * time.Second,
		MaxAgentPingTimeouts:          3,
		AgentReregisterTimeout:        2 * time.Minute,
		FrameworkHeartbeatInterval:    15 * time.Second,
		DefaultRefuseSeconds:          5,
		MaxCompletedTasksPerFramework: 1000,
	}
}

func runScript(t *testing.T, file string) {
	steps, tail := readScript(t, file)
	s := &script{t: t, cfg: defaultConfig("m1"), now: epoch,
		reg:     fakeRegistry{agents: map[string]*AgentRecord{}, frameworks: map[string]*FrameworkRecord{}},
		streams: map[string]string{}, conns: map[string]string{}, infos: map[string]mesos.FrameworkInfo{}}
	s.core = New(s.cfg)
	failed := false
	for i := range steps {
		st := &steps[i]
		args := strings.Fields(st.cmd)
		got, err := s.run(i, args[0], args[1:])
		if err != nil {
			t.Fatalf("%s:%d: %s: %v", file, st.line, st.cmd, err)
		}
		if err := s.core.checkInvariants(); err != nil {
			t.Fatalf("%s:%d: %s: invariant broken: %v", file, st.line, st.cmd, err)
		}
		if *update {
			st.want = got
			continue
		}
		if !slices.Equal(got, st.want) {
			t.Errorf("%s:%d: %s\ngot\n\t%s\nwant\n\t%s", file, st.line, st.cmd, strings.Join(got, "\n\t"), strings.Join(st.want, "\n\t"))
			failed = true
		}
	}
	if *update && !failed {
		writeScript(t, file, steps, tail)
	}
}

// opts splits key=value options from positional arguments; a bare word in
// flags is an option with the value "true".
func opts(args []string, flags ...string) (pos []string, kv map[string][]string) {
	kv = map[string][]string{}
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok {
			kv[k] = append(kv[k], v)
		} else if slices.Contains(flags, a) {
			kv[a] = append(kv[a], "true")
		} else {
			pos = append(pos, a)
		}
	}
	return pos, kv
}

func one(kv map[string][]string, k, def string) string {
	if v := kv[k]; len(v) > 0 {
		return v[len(v)-1]
	}
	return def
}

func (s *script) run(i int, cmd string, args []string) ([]string, error) {
	var fx Effects
	var out []string
	var flags []string
	if cmd == "subscribe" {
		flags = []string{"pa"}
	}
	pos, kv := opts(args, flags...)
	need := func(n int) error {
		if len(pos) < n {
			return fmt.Errorf("want %d arguments", n)
		}
		return nil
	}
	dur := func(v string) (time.Duration, error) { return time.ParseDuration(v) }
	switch cmd {
	case "config":
		if i != 0 {
			return nil, fmt.Errorf("config must come first")
		}
		for k, vs := range kv {
			v := vs[len(vs)-1]
			var err error
			switch k {
			case "ping":
				s.cfg.AgentPingInterval, err = dur(v)
			case "pings":
				s.cfg.MaxAgentPingTimeouts, err = strconv.Atoi(v)
			case "reregister":
				s.cfg.AgentReregisterTimeout, err = dur(v)
			case "offer-timeout":
				s.cfg.OfferTimeout, err = dur(v)
			default:
				err = fmt.Errorf("unknown config %q", k)
			}
			if err != nil {
				return nil, err
			}
		}
		s.core = New(s.cfg)
		return nil, nil
	case "at":
		if err := need(1); err != nil {
			return nil, err
		}
		d, err := dur(pos[0])
		if err != nil {
			return nil, err
		}
		if t := epoch.Add(d); t.Before(s.now) {
			return nil, fmt.Errorf("time goes back from %s", since(s.now))
		} else {
			s.now = t
		}
		return nil, nil
	case "failover":
		if err := need(1); err != nil {
			return nil, err
		}
		s.cfg.RunID, s.cfg.MasterInfo = pos[0], mesos.MasterInfo{ID: pos[0]}
		s.core = New(s.cfg)
		var agents []AgentRecord
		for _, id := range sortedKeys(s.reg.agents) {
			agents = append(agents, *s.reg.agents[id])
		}
		var fws []FrameworkRecord
		for _, id := range sortedKeys(s.reg.frameworks) {
			fws = append(fws, *s.reg.frameworks[id])
		}
		s.core.Restore(agents, fws, nil, s.now)
		return nil, nil
	case "registry":
		for _, id := range sortedKeys(s.reg.agents) {
			r := s.reg.agents[id]
			l := "agent " + id + " " + r.State
			if r.UnreachableSince != nil {
				l += " since=" + since(*r.UnreachableSince)
			}
			out = append(out, l)
		}
		for _, id := range sortedKeys(s.reg.frameworks) {
			out = append(out, "framework "+s.frameworkRecord(*s.reg.frameworks[id]))
		}
		return out, nil
	case "mark-gone":
		if err := need(1); err != nil {
			return nil, err
		}
		r := s.reg.agents[pos[0]]
		if r == nil {
			return nil, fmt.Errorf("no agent %s in the registry", pos[0])
		}
		r.State = RecordGone
		return nil, nil
	case "state":
		return s.state(), nil
	case "tick":
		fx = s.core.Tick(s.now)
	case "allocate":
		fx = s.core.Allocate(s.now)

	case "subscribe":
		if err := need(1); err != nil {
			return nil, err
		}
		fi := mesos.FrameworkInfo{User: "u", Name: one(kv, "name", "fw")}
		if id := one(kv, "id", ""); id != "" {
			fi.ID = &mesos.ID{Value: id}
			fi.Name = one(kv, "name", id)
		}
		if roles := one(kv, "roles", ""); roles != "" {
			fi.Roles = strings.Split(roles, ",")
			fi.Capabilities = append(fi.Capabilities, mesos.Capability{Type: mesos.CapMultiRole})
		}
		if one(kv, "pa", "") != "" {
			fi.Capabilities = append(fi.Capabilities, mesos.Capability{Type: mesos.CapPartitionAware})
		}
		if v := one(kv, "failover", ""); v != "" {
			d, err := dur(v)
			if err != nil {
				return nil, err
			}
			f := mesos.Float(d.Seconds())
			fi.FailoverTimeout = &f
		}
		call := &mesos.Call{Type: mesos.CallSubscribe, Subscribe: &mesos.Subscribe{FrameworkInfo: fi}}
		id, refusal, sfx := s.core.Subscribe(call, pos[0], s.now)
		if refusal != "" {
			out = append(out, "refused: "+refusal)
		} else {
			s.streams[pos[0]] = id
			fi.ID = &mesos.ID{Value: id}
			s.infos[id] = fi
		}
		fx = sfx
	case "disconnect":
		if err := need(1); err != nil {
			return nil, err
		}
		fx = s.core.Disconnected(s.streams[pos[0]], pos[0], s.now)
	case "teardown", "accept", "decline", "kill", "ack", "reconcile", "suppress", "revive":
		if err := need(1); err != nil {
			return nil, err
		}
		call, err := s.call(cmd, pos, kv)
		if err != nil {
			return nil, err
		}
		var r *Refusal
		fx, r = s.core.Call(call, pos[0], s.now)
		if r != nil {
			kind := ""
			if r.NotSubscribed {
				kind = " (not subscribed)"
			}
			out = append(out, "refused"+kind+": "+r.Message)
		}

	case "register":
		if err := need(1); err != nil {
			return nil, err
		}
		reg, err := s.register(kv)
		if err != nil {
			return nil, err
		}
		id, admit, rerr := s.core.RegisterCheck(one(kv, "agent", ""), reg)
		if rerr != nil {
			return []string{"refused: " + rerr.Error()}, nil
		}
		if admit != nil {
			// The shell makes the admission durable before registering.
			out = append(out, s.write(*admit))
			s.reg.apply(*admit, s.now)
		}
		s.conns[pos[0]] = id
		fx = s.core.Register(id, reg, pos[0], s.now)
	case "heartbeat", "update":
		if err := need(1); err != nil {
			return nil, err
		}
		var ups []agentproto.StatusUpdate
		if cmd == "update" {
			if err := need(4); err != nil {
				return nil, err
			}
			st := mesos.TaskState(pos[3])
			ups = append(ups, agentproto.StatusUpdate{FrameworkID: pos[1], LatestState: mesos.TaskState(one(kv, "latest", string(st))),
				Status: mesos.TaskStatus{TaskID: mesos.ID{Value: pos[2]}, State: st, Source: mesos.SourceExecutor, UUID: one(kv, "uuid", ""),
					Timestamp: timestamp(s.now)}})
		}
		var ok bool
		fx, ok = s.core.AgentCall(s.conns[pos[0]], pos[0], ups, s.now)
		if !ok {
			out = append(out, "refused: not registered on this connection")
		}
	case "close":
		if err := need(1); err != nil {
			return nil, err
		}
		fx = s.core.AgentClosed(s.conns[pos[0]], pos[0], s.now)
	default:
		return nil, fmt.Errorf("unknown command")
	}
	out = append(out, s.print(fx)...)
	if s.core.Dirty() {
		out = append(out, s.print(s.core.AllocateDirty(s.now))...)
	}
	return out, nil
}

// call builds a scheduler call from a command.
func (s *script) call(cmd string, pos []string, kv map[string][]string) (*mesos.Call, error) {
	fid := s.streams[pos[0]]
	if fid == "" {
		return nil, fmt.Errorf("no framework subscribed on %s", pos[0])
	}
	c := &mesos.Call{FrameworkID: &mesos.ID{Value: fid}}
	var filters *mesos.Filters
	if v := one(kv, "refuse", ""); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, err
		}
		r := mesos.Float(d.Seconds())
		filters = &mesos.Filters{RefuseSeconds: &r}
	}
	var offers []mesos.ID
	if (cmd == "accept" || cmd == "decline") && len(pos) > 1 {
		for _, id := range strings.Split(pos[1], ",") {
			offers = append(offers, mesos.ID{Value: id})
		}
	}
	switch cmd {
	case "teardown":
		c.Type = mesos.CallTeardown
	case "accept":
		c.Type = mesos.CallAccept
		var tasks []mesos.TaskInfo
		for _, l := range kv["launch"] {
			tid, rs, ok := strings.Cut(l, ":")
			if !ok {
				return nil, fmt.Errorf("want launch=<task>:<resources>, got %q", l)
			}
			res, err := resource.Parse(rs)
			if err != nil {
				return nil, err
			}
			agentID := ""
			if len(offers) > 0 {
				agentID = s.offerAgent(offers[0].Value)
			}
			tasks = append(tasks, mesos.TaskInfo{Name: tid, TaskID: mesos.ID{Value: tid}, AgentID: mesos.ID{Value: agentID},
				Resources: res.Wire(""), Command: &mesos.CommandInfo{Value: "sleep 1000"}})
		}
		var ops []mesos.Operation
		if len(tasks) > 0 {
			ops = append(ops, mesos.Operation{Type: mesos.OpLaunch, Launch: &mesos.Launch{TaskInfos: tasks}})
		}
		c.Accept = &mesos.Accept{OfferIDs: offers, Operations: ops, Filters: filters}
	case "decline":
		c.Type = mesos.CallDecline
		c.Decline = &mesos.Decline{OfferIDs: offers, Filters: filters}
	case "kill":
		if len(pos) < 2 {
			return nil, fmt.Errorf("kill <stream> <task>")
		}
		c.Type = mesos.CallKill
		c.Kill = &mesos.Kill{TaskID: mesos.ID{Value: pos[1]}}
		if a := one(kv, "agent", ""); a != "" {
			c.Kill.AgentID = &mesos.ID{Value: a}
		}
	case "ack":
		if len(pos) < 4 {
			return nil, fmt.Errorf("ack <stream> <agent> <task> <uuid>")
		}
		c.Type = mesos.CallAcknowledge
		c.Acknowledge = &mesos.Acknowledge{AgentID: mesos.ID{Value: pos[1]}, TaskID: mesos.ID{Value: pos[2]}, UUID: pos[3]}
	case "reconcile":
		c.Type = mesos.CallReconcile
		c.Reconcile = &mesos.Reconcile{}
		for _, p := range pos[1:] {
			tid, aid, _ := strings.Cut(p, "@")
			rt := mesos.ReconcileTask{TaskID: mesos.ID{Value: tid}}
			if aid != "" {
				rt.AgentID = &mesos.ID{Value: aid}
			}
			c.Reconcile.Tasks = append(c.Reconcile.Tasks, rt)
		}
	case "suppress":
		c.Type = mesos.CallSuppress
		c.Suppress = &mesos.Suppress{Roles: pos[1:]}
	case "revive":
		c.Type = mesos.CallRevive
		c.Revive = &mesos.Revive{Roles: pos[1:]}
	}
	return c, nil
}

// offerAgent is the agent of an outstanding offer, for the task infos of
// an ACCEPT.
func (s *script) offerAgent(id string) string {
	if o := s.core.offers[id]; o != nil {
		return o.agentID
	}
	return ""
}

// register builds an agent's registration from a command's options.
func (s *script) register(kv map[string][]string) (*agentproto.Register, error) {
	res, err := resource.Parse(one(kv, "res", "cpus:4;mem:4096"))
	if err != nil {
		return nil, err
	}
	agentID := one(kv, "agent", "")
	host := one(kv, "host", agentID)
	if host == "" {
		host = "host"
	}
	reg := &agentproto.Register{Info: agentproto.AgentInfo{Hostname: host, Resources: res.Wire("")}}
	for _, spec := range kv["task"] {
		parts := strings.SplitN(spec, "/", 4)
		if len(parts) < 3 {
			return nil, fmt.Errorf("want task=<fw>/<task>/<state>[/<resources>], got %q", spec)
		}
		tres := "cpus:1;mem:128"
		if len(parts) == 4 {
			tres = parts[3]
		}
		r, err := resource.Parse(tres)
		if err != nil {
			return nil, err
		}
		rt := agentproto.Task{FrameworkID: parts[0], State: mesos.TaskState(parts[2]),
			TaskInfo: mesos.TaskInfo{Name: parts[1], TaskID: mesos.ID{Value: parts[1]}, AgentID: mesos.ID{Value: agentID},
				Resources: r.Wire(""), Command: &mesos.CommandInfo{Value: "sleep 1000"}}}
		if fi, ok := s.infos[parts[0]]; ok {
			rt.FrameworkInfo = &fi
		}
		reg.Tasks = append(reg.Tasks, rt)
	}
	return reg, nil
}

// print renders effects in the order the shell applies them.
func (s *script) print(fx Effects) []string {
	var out []string
	for _, w := range fx.Writes {
		out = append(out, s.write(w))
		s.reg.apply(w, s.now)
	}
	for _, f := range fx.Frameworks {
		if f.Event != nil {
			out = append(out, f.Stream+" "+frameworkEvent(f.Event))
		}
		if f.Close {
			out = append(out, f.Stream+" closed")
		}
	}
	for _, a := range fx.Agents {
		if a.Event != nil {
			out = append(out, a.Conn+" "+agentEvent(a.Event))
		}
		if a.Close {
			out = append(out, a.Conn+" closed")
		}
	}
	if n := len(fx.Counts.StatusUpdates); n > 0 {
		var states []string
		for _, st := range fx.Counts.StatusUpdates {
			states = append(states, string(st))
		}
		out = append(out, "count status-updates "+strings.Join(states, " "))
	}
	if n := fx.Counts.TasksLaunched; n > 0 {
		out = append(out, fmt.Sprintf("count tasks-launched %d", n))
	}
	return out
}

func (s *script) write(w Write) string {
	switch w := w.(type) {
	case AdmitAgent:
		return "write admit-agent " + w.ID
	case MarkAgentUnreachable:
		return "write agent-unreachable " + w.ID + " at=" + since(w.At)
	case PutFramework:
		return "write framework " + s.frameworkRecord(w.Framework)
	}
	return "write " + w.String()
}

func (s *script) frameworkRecord(r FrameworkRecord) string {
	l := r.ID + " " + r.State
	if r.FailoverTimeout > 0 {
		l += " failover=" + r.FailoverTimeout.String()
	}
	if r.DisconnectedAt != nil {
		l += " disconnected=" + since(*r.DisconnectedAt)
	}
	if r.RemovedAt != nil {
		l += " removed=" + since(*r.RemovedAt)
	}
	return l
}

func frameworkEvent(ev *mesos.Event) string {
	l := string(ev.Type)
	switch ev.Type {
	case mesos.EventSubscribed:
		l += " " + ev.Subscribed.FrameworkID.Value
	case mesos.EventOffers:
		for i, o := range ev.Offers.Offers {
			if i > 0 {
				l += ","
			}
			res, _ := resource.FromWire(o.Resources)
			role := "*"
			if o.AllocationInfo != nil {
				role = o.AllocationInfo.Role
			}
			l += fmt.Sprintf(" %s agent=%s role=%s %s", o.ID.Value, o.AgentID.Value, role, res)
		}
	case mesos.EventRescind:
		l += " " + ev.Rescind.OfferID.Value
	case mesos.EventUpdate:
		st := ev.Update.Status
		l += " " + st.TaskID.Value + " " + string(st.State)
		if st.AgentID != nil {
			l += " agent=" + st.AgentID.Value
		}
		if st.Source != "" {
			l += " source=" + strings.TrimPrefix(st.Source, "SOURCE_")
		}
		if st.Reason != "" {
			l += " reason=" + strings.TrimPrefix(st.Reason, "REASON_")
		}
		if st.UUID != "" {
			l += " uuid=" + st.UUID
		}
		if st.UnreachableTime != nil {
			l += " unreachable=" + since(time.Unix(0, int64(st.UnreachableTime.Nanoseconds)))
		}
		if st.Message != "" {
			l += fmt.Sprintf(" %q", st.Message)
		}
	case mesos.EventFailure:
		if ev.Failure.AgentID != nil {
			l += " agent=" + ev.Failure.AgentID.Value
		}
	case mesos.EventError:
		l += fmt.Sprintf(" %q", ev.Error.Message)
	}
	return l
}

func agentEvent(ev *agentproto.Event) string {
	l := string(ev.Type)
	switch ev.Type {
	case agentproto.EventRegistered:
		l += " " + ev.Registered.AgentID
	case agentproto.EventLaunch:
		var ids []string
		for _, t := range ev.Launch.Tasks {
			res, _ := resource.FromWire(t.Resources)
			ids = append(ids, t.TaskID.Value+":"+res.String())
		}
		l += " " + ev.Launch.FrameworkID + " " + strings.Join(ids, " ")
	case agentproto.EventKill:
		l += " " + ev.Kill.FrameworkID + " " + ev.Kill.TaskID
		if g := ev.Kill.GracePeriodSeconds; g > 0 {
			l += fmt.Sprintf(" grace=%gs", g)
		}
	case agentproto.EventAcknowledge:
		l += " " + ev.Acknowledge.FrameworkID + " " + ev.Acknowledge.TaskID + " " + ev.Acknowledge.UUID
	case agentproto.EventReconcile:
		for _, t := range ev.Reconcile.Tasks {
			l += " " + t.FrameworkID + "/" + t.TaskID
		}
	case agentproto.EventShutdownFramework:
		l += " " + ev.ShutdownFramework.FrameworkID
	}
	return l
}

// state prints the core's view: agents, then frameworks with their tasks,
// then completed frameworks.
func (s *script) state() []string {
	st := s.core.Snapshot(s.now)
	var out []string
	for _, a := range st.Agents {
		l := fmt.Sprintf("agent %s %s", a.ID, a.State)
		if a.Connected {
			l += " connected"
		}
		if a.UnreachableTime != 0 {
			l += " unreachable=" + since(time.Unix(0, int64(a.UnreachableTime*1e9)).Round(time.Millisecond))
		}
		l += fmt.Sprintf(" tasks=%d", a.TaskCount)
		out = append(out, l)
	}
	tasks := func(ts []TaskState) string {
		var ss []string
		for _, t := range ts {
			ss = append(ss, t.ID+"@"+t.AgentID+":"+t.State)
		}
		slices.Sort(ss)
		return strings.Join(ss, ",")
	}
	for _, f := range st.Frameworks {
		l := "framework " + f.ID + " " + f.State
		if ts := tasks(f.Tasks); ts != "" {
			l += " tasks=" + ts
		}
		if ts := tasks(f.UnreachableTask); ts != "" {
			l += " unreachable=" + ts
		}
		if ts := tasks(f.CompletedTasks); ts != "" {
			l += " completed=" + ts
		}
		if len(f.Offers) > 0 {
			l += fmt.Sprintf(" offers=%d", len(f.Offers))
		}
		out = append(out, l)
	}
	for _, f := range st.CompletedFrameworks {
		out = append(out, "completed framework "+f.ID)
	}
	return out
}

// checkInvariants cross-checks the core's records after a step.
func (c *Core) checkInvariants() error {
	if len(c.fx.Writes)+len(c.fx.Frameworks)+len(c.fx.Agents)+len(c.fx.Logs) > 0 {
		return fmt.Errorf("effects left behind: %+v", c.fx)
	}
	for id, o := range c.offers {
		f, a := c.frameworks[o.frameworkID], c.agents[o.agentID]
		switch {
		case o.id != id:
			return fmt.Errorf("offer %s stored as %s", o.id, id)
		case f == nil || f.offers[id] != o:
			return fmt.Errorf("offer %s: framework %s does not hold it", id, o.frameworkID)
		case f.state != fwConnected:
			return fmt.Errorf("offer %s to %s framework %s", id, f.state, f.id)
		case a == nil || a.status != agentRegistered || a.conn == "":
			return fmt.Errorf("offer %s on agent %s, which is not registered and connected", id, o.agentID)
		}
	}
	for id, f := range c.frameworks {
		if (f.state == fwConnected) != (f.stream != "") {
			return fmt.Errorf("framework %s is %s with stream %q", id, f.state, f.stream)
		}
		if f.state == fwRemoved || c.removedIDs[id] {
			return fmt.Errorf("removed framework %s still kept", id)
		}
		for oid, o := range f.offers {
			if c.offers[oid] != o {
				return fmt.Errorf("framework %s holds offer %s the core does not know", id, oid)
			}
		}
		for tid, t := range f.tasks {
			if t.frameworkID != id || t.info.TaskID.Value != tid {
				return fmt.Errorf("framework %s: task %s filed wrong", id, tid)
			}
		}
	}
	for id, a := range c.agents {
		if a.conn != "" && a.status != agentRegistered {
			return fmt.Errorf("agent %s is %s but connected", id, a.status)
		}
		for tid, t := range a.tasks {
			if t.agentID != id || t.info.TaskID.Value != tid {
				return fmt.Errorf("agent %s: task %s filed wrong", id, tid)
			}
		}
	}
	return nil
}
