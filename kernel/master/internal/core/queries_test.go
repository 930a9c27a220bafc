package core

import (
	"slices"
	"testing"
	"time"

	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// secretVar is a SECRET variable referencing the stored secret name.
func secretVar(env, name string) mesos.Variable {
	return mesos.Variable{Name: env, Type: mesos.VariableSecret,
		Secret: &mesos.Secret{Type: mesos.SecretReferenceType, Reference: &mesos.SecretReference{Name: name}}}
}

// TestTaskSecrets: the core tells the secrets a task references only to
// the connection of the agent that runs it, and only while it is not
// terminal.
func TestTaskSecrets(t *testing.T) {
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
	run("register", "a2.1", "agent=a2", "res=cpus:2;mem:1024")
	run("subscribe", "web.1", "id=web")
	run("subscribe", "db.1", "id=db")

	res, _ := resource.Parse("cpus:0.5;mem:64")
	launch := func(stream, agentID, taskID string, mutate func(*mesos.TaskInfo), vars ...mesos.Variable) {
		t.Helper()
		var offer string
		for range 20 {
			for id, o := range s.core.offers {
				if o.frameworkID == s.streams[stream] && o.agentID == agentID {
					offer = id
				}
			}
			if offer != "" {
				break
			}
			// Give back every other offer and let the allocator try again.
			for id, o := range s.core.offers {
				for st, fid := range s.streams {
					if fid == o.frameworkID {
						s.core.Call(&mesos.Call{Type: mesos.CallDecline, FrameworkID: &mesos.ID{Value: fid},
							Decline: &mesos.Decline{OfferIDs: []mesos.ID{{Value: id}}, Filters: &mesos.Filters{RefuseSeconds: ptrFloat(0)}}}, st, s.now)
					}
				}
			}
			s.now = s.now.Add(time.Second)
			s.core.Allocate(s.now)
		}
		if offer == "" {
			t.Fatalf("no offer of %s to %s", agentID, stream)
		}
		cmd := &mesos.CommandInfo{Value: "true"}
		if len(vars) > 0 {
			cmd.Environment = &mesos.Environment{Variables: vars}
		}
		ti := mesos.TaskInfo{Name: taskID, TaskID: mesos.ID{Value: taskID}, AgentID: mesos.ID{Value: agentID}, Resources: res.Wire(""), Command: cmd}
		if mutate != nil {
			mutate(&ti)
		}
		call := &mesos.Call{Type: mesos.CallAccept, FrameworkID: &mesos.ID{Value: s.streams[stream]}, Accept: &mesos.Accept{
			OfferIDs:   []mesos.ID{{Value: offer}},
			Operations: []mesos.Operation{{Type: mesos.OpLaunch, Launch: &mesos.Launch{TaskInfos: []mesos.TaskInfo{ti}}}},
			Filters:    &mesos.Filters{RefuseSeconds: ptrFloat(0)}}}
		if _, r := s.core.Call(call, stream, s.now); r != nil {
			t.Fatalf("ACCEPT: %s", r.Message)
		}
		if f := s.core.frameworks[s.streams[stream]]; f.tasks[taskID] == nil {
			t.Fatalf("task %s was not launched", taskID)
		}
	}
	launch("web.1", "a1", "t1", nil, secretVar("DB_PASSWORD", "team/db"), mesos.Variable{Name: "PLAIN", Value: "x"},
		secretVar("TOKEN", "/team/token"), secretVar("AGAIN", "team/db"),
		mesos.Variable{Name: "INLINE", Type: mesos.VariableSecret, Secret: &mesos.Secret{Type: mesos.SecretValueType, Value: &mesos.SecretValue{Data: []byte("v")}}})
	launch("web.1", "a2", "t2", nil, secretVar("X", "other"))
	launch("db.1", "a1", "plain", nil)
	launch("web.1", "a1", "done", nil, secretVar("X", "team/db"))
	launch("web.1", "a1", "files", func(ti *mesos.TaskInfo) {
		ti.HealthCheck = &mesos.HealthCheck{Type: "COMMAND", Command: &mesos.CommandInfo{Value: "true",
			Environment: &mesos.Environment{Variables: []mesos.Variable{secretVar("C", "check/token")}}}}
		ti.Container = &mesos.ContainerInfo{Type: mesos.ContainerMesos, Volumes: []mesos.Volume{{ContainerPath: "conf/db", Mode: mesos.VolumeRO,
			Source: &mesos.VolumeSource{Type: mesos.VolumeSourceSecret, Secret: &mesos.Secret{Type: mesos.SecretReferenceType, Reference: &mesos.SecretReference{Name: "team/file"}}}}}}
	}, secretVar("DB", "team/db"))
	run("update", "a1.1", "web", "done", "TASK_FINISHED", "uuid=u1")

	for _, tc := range []struct {
		name                  string
		agent, conn, fw, task string
		ok                    bool
		names                 []string
	}{
		{"its task", "a1", "a1.1", "web", "t1", true, []string{"team/db", "/team/token"}},
		{"no secrets", "a1", "a1.1", "db", "plain", true, nil},
		{"secrets of its check and its volumes", "a1", "a1.1", "web", "files", true, []string{"team/db", "check/token", "team/file"}},
		{"another agent's task", "a1", "a1.1", "web", "t2", false, nil},
		{"another agent's task on its own connection", "a2", "a1.1", "web", "t2", false, nil},
		{"the right task on another connection", "a1", "a2.1", "web", "t1", false, nil},
		{"no connection", "a1", "", "web", "t1", false, nil},
		{"another framework", "a1", "a1.1", "db", "t1", false, nil},
		{"unknown framework", "a1", "a1.1", "nope", "t1", false, nil},
		{"unknown task", "a1", "a1.1", "web", "nope", false, nil},
		{"unknown agent", "a9", "a1.1", "web", "t1", false, nil},
		{"terminal task", "a1", "a1.1", "web", "done", false, nil},
	} {
		refs, ok := s.core.TaskSecrets(tc.agent, tc.conn, tc.fw, tc.task)
		if ok != tc.ok || !slices.Equal(refs.Names, tc.names) {
			t.Errorf("%s: TaskSecrets(%s, %s, %s, %s) = %v, %v; want %v, %v", tc.name, tc.agent, tc.conn, tc.fw, tc.task, refs.Names, ok, tc.names, tc.ok)
		}
	}

	// A new connection of the agent replaces the old one.
	run("close", "a1.1")
	run("register", "a1.2", "agent=a1", "res=cpus:2;mem:1024", "task=web/t1/TASK_RUNNING")
	if _, ok := s.core.TaskSecrets("a1", "a1.1", "web", "t1"); ok {
		t.Errorf("TaskSecrets on the agent's previous connection = ok; want refused")
	}
	if refs, ok := s.core.TaskSecrets("a1", "a1.2", "web", "t1"); !ok || !slices.Equal(refs.Names, []string{"team/db", "/team/token"}) {
		t.Errorf("TaskSecrets on the agent's new connection = %v, %v; want the task's secrets", refs.Names, ok)
	}
}

func ptrFloat(v float64) *mesos.Float { f := mesos.Float(v); return &f }
