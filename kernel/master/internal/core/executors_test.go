package core

import (
	"strings"
	"testing"
	"time"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// TestCustomExecutors: tasks naming one executor share it, whose
// resources are charged once and given back only when the agent reports
// it ended; offers list it; messages and SHUTDOWN reach its agent; its
// end reaches the framework as FAILURE.
func TestCustomExecutors(t *testing.T) {
	s := &script{t: t, cfg: defaultConfig("m1"), now: epoch,
		reg:     fakeRegistry{agents: map[string]*AgentRecord{}, frameworks: map[string]*FrameworkRecord{}},
		streams: map[string]string{}, conns: map[string]string{}, infos: map[string]mesos.FrameworkInfo{}}
	s.core = New(s.cfg)
	run := func(cmd string, args ...string) {
		t.Helper()
		if _, err := s.run(1, cmd, args); err != nil {
			t.Fatalf("%s %v: %v", cmd, args, err)
		}
	}
	run("register", "a1.1", "agent=a1", "res=cpus:2;mem:1024")
	run("subscribe", "web.1", "id=web")

	offerOf := func() *offer {
		t.Helper()
		for _, o := range s.core.offers {
			if o.frameworkID == "web" && o.agentID == "a1" {
				return o
			}
		}
		s.core.Allocate(s.now)
		for _, o := range s.core.offers {
			if o.frameworkID == "web" && o.agentID == "a1" {
				return o
			}
		}
		t.Fatalf("no offer of a1 to web")
		return nil
	}
	execRes, _ := resource.Parse("cpus:0.1;mem:32")
	taskRes, _ := resource.Parse("cpus:0.5;mem:64")
	execInfo := func(cmd string) *mesos.ExecutorInfo {
		return &mesos.ExecutorInfo{Type: mesos.ExecutorCustom, ExecutorID: mesos.ID{Value: "e1"}, Name: "test executor",
			Command: &mesos.CommandInfo{Value: cmd}, Resources: execRes.Wire("")}
	}
	task := func(id string, ei *mesos.ExecutorInfo) mesos.TaskInfo {
		return mesos.TaskInfo{Name: id, TaskID: mesos.ID{Value: id}, AgentID: mesos.ID{Value: "a1"}, Resources: taskRes.Wire(""), Executor: ei}
	}
	accept := func(tasks ...mesos.TaskInfo) Effects {
		t.Helper()
		o := offerOf()
		fx, r := s.core.Call(&mesos.Call{Type: mesos.CallAccept, FrameworkID: &mesos.ID{Value: "web"}, Accept: &mesos.Accept{
			OfferIDs:   []mesos.ID{{Value: o.id}},
			Operations: []mesos.Operation{{Type: mesos.OpLaunch, Launch: &mesos.Launch{TaskInfos: tasks}}},
			Filters:    &mesos.Filters{RefuseSeconds: ptrFloat(0)}}}, "web.1", s.now)
		if r != nil {
			t.Fatalf("ACCEPT: %s", r.Message)
		}
		return fx
	}
	agentEvents := func(fx Effects, typ agentproto.EventType) []*agentproto.Event {
		var evs []*agentproto.Event
		for _, a := range fx.Agents {
			if a.Event != nil && a.Event.Type == typ {
				evs = append(evs, a.Event)
			}
		}
		return evs
	}
	fwEvents := func(fx Effects, typ mesos.EventType) []*mesos.Event {
		var evs []*mesos.Event
		for _, f := range fx.Frameworks {
			if f.Event != nil && f.Event.Type == typ {
				evs = append(evs, f.Event)
			}
		}
		return evs
	}
	used := func() float64 {
		t.Helper()
		var cpus float64
		for _, tk := range s.core.agents["a1"].tasks {
			if !tk.state.Terminal() {
				cpus += tk.resources.Scalar(resource.CPUs)
			}
		}
		for _, e := range s.core.agents["a1"].executors {
			cpus += e.resources.Scalar(resource.CPUs)
		}
		return cpus
	}

	// Two tasks of one new executor: its resources are charged once.
	fx := accept(task("t1", execInfo("./exec")), task("t2", execInfo("./exec")))
	launches := agentEvents(fx, agentproto.EventLaunch)
	if len(launches) != 1 || len(launches[0].Launch.Tasks) != 2 {
		t.Fatalf("LAUNCH events = %+v; want one with both tasks", launches)
	}
	for _, ti := range launches[0].Launch.Tasks {
		if ti.Executor == nil || ti.Executor.FrameworkID == nil || ti.Executor.FrameworkID.Value != "web" || ti.Executor.Resources[0].AllocationInfo == nil {
			t.Errorf("task %s's executor = %+v; want framework_id and allocation_info filled in", ti.TaskID.Value, ti.Executor)
		}
	}
	if got := used(); got < 1.09 || got > 1.11 {
		t.Errorf("cpus in use = %v; want 1.1 (two tasks and one executor)", got)
	}
	o := offerOf()
	if c := o.resources.Scalar(resource.CPUs); c < 0.89 || c > 0.91 {
		t.Errorf("offer after launch has %v cpus; want 0.9", o.resources.Scalar(resource.CPUs))
	}
	st := s.core.Snapshot(s.now)
	if fw := st.Frameworks[0]; len(fw.Executors) != 1 || fw.Executors[0].ID != "e1" || fw.Executors[0].AgentID != "a1" || fw.Executors[0].Command != "./exec" {
		t.Errorf("/state executors = %+v; want e1 on a1", fw.Executors)
	}
	if cpus := st.Agents[0].UsedResources["cpus"]; cpus != 1.1 {
		t.Errorf("/state agent used cpus = %v; want 1.1 (tasks and executor)", cpus)
	}
	wire := s.core.wireOffer(o, s.core.agents["a1"])
	if len(wire.ExecutorIDs) != 1 || wire.ExecutorIDs[0].Value != "e1" {
		t.Errorf("offer executor_ids = %v; want [e1]", wire.ExecutorIDs)
	}

	// A task of the running executor brings no executor resources; one
	// with a different ExecutorInfo is refused.
	fx = accept(task("t3", execInfo("./exec")), task("t4", execInfo("./other")))
	if n := len(agentEvents(fx, agentproto.EventLaunch)); n != 1 {
		t.Errorf("LAUNCH events = %d; want 1 (t3)", n)
	}
	updates := fwEvents(fx, mesos.EventUpdate)
	if len(updates) != 1 || updates[0].Update.Status.TaskID.Value != "t4" || updates[0].Update.Status.State != mesos.TaskError ||
		!strings.Contains(updates[0].Update.Status.Message, "differs from the ExecutorInfo of executor \"e1\"") {
		t.Errorf("updates = %+v; want t4 TASK_ERROR naming the differing executor", updates)
	}

	// Messages and SHUTDOWN go to the executor's agent.
	fx, _ = s.core.Call(&mesos.Call{Type: mesos.CallMessage, FrameworkID: &mesos.ID{Value: "web"},
		Message: &mesos.Message{AgentID: mesos.ID{Value: "a1"}, ExecutorID: mesos.ID{Value: "e1"}, Data: "aGk="}}, "web.1", s.now)
	if m := agentEvents(fx, agentproto.EventMessage); len(m) != 1 || m[0].Message.ExecutorID != "e1" || m[0].Message.Data != "aGk=" {
		t.Errorf("MESSAGE to e1 gave %+v", m)
	}
	fx, _ = s.core.Call(&mesos.Call{Type: mesos.CallMessage, FrameworkID: &mesos.ID{Value: "web"},
		Message: &mesos.Message{AgentID: mesos.ID{Value: "a1"}, ExecutorID: mesos.ID{Value: "nope"}, Data: "aGk="}}, "web.1", s.now)
	if m := agentEvents(fx, agentproto.EventMessage); len(m) != 0 {
		t.Errorf("MESSAGE to an unknown executor gave %+v; want it dropped", m)
	}
	fx, _ = s.core.Call(&mesos.Call{Type: mesos.CallShutdown, FrameworkID: &mesos.ID{Value: "web"},
		Shutdown: &mesos.Shutdown{AgentID: mesos.ID{Value: "a1"}, ExecutorID: mesos.ID{Value: "e1"}}}, "web.1", s.now)
	if m := agentEvents(fx, agentproto.EventShutdownExecutor); len(m) != 1 || m[0].ShutdownExecutor.ExecutorID != "e1" {
		t.Errorf("SHUTDOWN of e1 gave %+v", m)
	}

	// The executor's message reaches the framework.
	fx, ok := s.core.ExecutorReports("a1", "a1.1", &agentproto.Executors{Messages: []agentproto.ExecutorMessage{{FrameworkID: "web", ExecutorID: "e1", Data: "b2s="}}}, s.now)
	if m := fwEvents(fx, mesos.EventMessage); !ok || len(m) != 1 || m[0].Message.Data != "b2s=" || m[0].Message.ExecutorID.Value != "e1" || m[0].Message.AgentID.Value != "a1" {
		t.Errorf("executor MESSAGE gave %+v, %v", m, ok)
	}
	if _, ok := s.core.ExecutorReports("a1", "stale", &agentproto.Executors{}, s.now); ok {
		t.Errorf("EXECUTORS on a stale connection accepted")
	}

	// Its end frees its resources and reaches the framework.
	for _, id := range []string{"t1", "t2", "t3"} {
		run("update", "a1.1", "web", id, "TASK_FAILED", "uuid=u-"+id)
	}
	status := 9
	fx, _ = s.core.ExecutorReports("a1", "a1.1", &agentproto.Executors{Exited: []agentproto.ExecutorExited{{FrameworkID: "web", ExecutorID: "e1", Status: &status}}}, s.now)
	if f := fwEvents(fx, mesos.EventFailure); len(f) != 1 || f[0].Failure.ExecutorID.Value != "e1" || f[0].Failure.Status == nil || *f[0].Failure.Status != 9 {
		t.Errorf("executor end gave %+v; want FAILURE with executor e1 and status 9", f)
	}
	if got := used(); got != 0 {
		t.Errorf("cpus in use after the executor ended = %v; want 0", got)
	}
	s.now = s.now.Add(time.Second)
	for id, o := range s.core.offers {
		s.core.Call(&mesos.Call{Type: mesos.CallDecline, FrameworkID: &mesos.ID{Value: "web"},
			Decline: &mesos.Decline{OfferIDs: []mesos.ID{{Value: id}}, Filters: &mesos.Filters{RefuseSeconds: ptrFloat(0)}}}, "web.1", s.now)
		_ = o
	}
	if o := offerOf(); o.resources.Scalar(resource.CPUs) < 1.99 {
		t.Errorf("offer after the executor ended has %v cpus; want 2", o.resources.Scalar(resource.CPUs))
	}

	// An executor the agent no longer reports on re-registration ended.
	accept(task("t5", execInfo("./exec")))
	if s.core.agents["a1"].executors[execKey("web", "e1")] == nil {
		t.Fatalf("e1 not recorded after a new launch")
	}
	run("close", "a1.1")
	run("register", "a1.2", "agent=a1", "res=cpus:2;mem:1024", "task=web/t5/TASK_FAILED")
	if s.core.agents["a1"].executors[execKey("web", "e1")] != nil {
		t.Errorf("e1 still recorded after the agent re-registered without it")
	}
}

// TestOfferAttributesNameContainerizers: an agent's offers carry
// its containerizers as an attribute, unless it names that attribute
// itself or reports none.
func TestOfferAttributesNameContainerizers(t *testing.T) {
	own := []mesos.Attribute{{Name: "rack", Type: mesos.Text, Text: &mesos.TextValue{Value: "a"}}}
	a := &agent{attributes: own}
	a.info.Containerizers = []string{"docker", "mesos"}
	got := offerAttributes(a)
	if len(got) != 2 || got[1].Name != mesos.AttrContainerizers || got[1].Text.Value != "docker,mesos" {
		t.Errorf("offer attributes = %+v; want rack and corral.containerizers docker,mesos", got)
	}
	if len(a.attributes) != 1 {
		t.Errorf("the agent's own attributes changed: %+v", a.attributes)
	}
	a.attributes = append(own, mesos.Attribute{Name: mesos.AttrContainerizers, Type: mesos.Text, Text: &mesos.TextValue{Value: "mine"}})
	if got := offerAttributes(a); len(got) != 2 || got[1].Text.Value != "mine" {
		t.Errorf("offer attributes = %+v; want the agent's own value kept", got)
	}
	a.attributes, a.info.Containerizers = own, nil
	if got := offerAttributes(a); len(got) != 1 {
		t.Errorf("offer attributes of an agent reporting no containerizers = %+v", got)
	}
}

// TestOffersFollowReregisteredInfo: an agent's offers carry the url and
// attributes of its latest registration, not those it first came with.
func TestOffersFollowReregisteredInfo(t *testing.T) {
	s, run := newDrainScript(t)
	run("subscribe", "web.1", "id=web")
	r, err := resource.Parse("cpus:2;mem:1024")
	if err != nil {
		t.Fatal(err)
	}
	res := r.Wire("")
	offer := func(conn, endpoint, rack string) mesos.Offer {
		t.Helper()
		reg := &agentproto.Register{Info: agentproto.AgentInfo{Hostname: "h1", Endpoint: endpoint, Resources: res,
			Attributes: []mesos.Attribute{{Name: "rack", Type: mesos.Text, Text: &mesos.TextValue{Value: rack}}}}}
		id, _, refuse := s.core.RegisterCheck("a1", reg)
		if refuse != nil {
			t.Fatal(refuse)
		}
		s.core.Register(id, reg, conn, s.now)
		s.now = s.now.Add(time.Second)
		for _, send := range s.core.Allocate(s.now).Frameworks {
			if ev := send.Event; ev != nil && ev.Offers != nil && len(ev.Offers.Offers) == 1 {
				return ev.Offers.Offers[0]
			}
		}
		t.Fatalf("no offer after registering at %s", endpoint)
		return mesos.Offer{}
	}
	for _, tc := range []struct {
		conn, endpoint, rack, ip string
		port                     int
	}{
		{"a1.1", "http://10.0.0.1:5051", "r1", "10.0.0.1", 5051},
		{"a1.2", "http://10.0.0.2:5052", "r2", "10.0.0.2", 5052},
	} {
		o := offer(tc.conn, tc.endpoint, tc.rack)
		if o.URL == nil || o.URL.Address.IP != tc.ip || int(o.URL.Address.Port) != tc.port {
			t.Errorf("offer url after registering at %s = %+v", tc.endpoint, o.URL)
		}
		if len(o.Attributes) != 1 || o.Attributes[0].Text.Value != tc.rack {
			t.Errorf("offer attributes after registering with rack %s = %+v", tc.rack, o.Attributes)
		}
	}
}
