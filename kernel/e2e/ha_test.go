package e2e

import (
	"encoding/json"
	"net/http"
	"syscall"
	"testing"
	"time"

	"corral/internal/testcluster"
	"corral/internal/testzk"
	"corral/kernel/master"
	"corral/kernel/mesos"
)

// masterIndex is the index of the master at url in c.
func masterIndex(t *testing.T, c *testcluster.Cluster, url string) int {
	t.Helper()
	for i, u := range c.MasterURLs {
		if u == url {
			return i
		}
	}
	t.Fatalf("no master at %s", url)
	return -1
}

func health(url string) (master.Health, bool) {
	var h master.Health
	resp, err := http.Get(url + "/health")
	if err != nil {
		return h, false
	}
	defer resp.Body.Close()
	return h, json.NewDecoder(resp.Body).Decode(&h) == nil
}

// Two masters elect through ZooKeeper; agents and a framework find the
// leader there. kill -9 of the leader: the standby takes over, agents
// re-register, the framework re-subscribes with its id, no task is lost,
// and the new leader launches and kills. The old master comes back as a
// standby that names the new leader.
func TestMasterFailoverThroughZooKeeper(t *testing.T) {
	zk := testzk.Start(t, 1)
	c := testcluster.Start(t, testcluster.Options{Agents: 2, Masters: 2, ZK: zk.URL("/corral")})
	f := startFramework(t, c.MasterFlag, plainInfo("ha"))
	f.launch(shellTask("a", "sleep 600", 0.1, 32), shellTask("b", "sleep 600", 0.1, 32))
	f.waitState("a", 30*time.Second, mesos.TaskRunning)
	f.waitState("b", 30*time.Second, mesos.TaskRunning)
	fid := f.client.FrameworkID()

	old := c.LeaderURL()
	oi := masterIndex(t, c, old)
	killed := time.Now()
	c.Masters[oi].Kill(syscall.SIGKILL)
	var leader string
	testcluster.Eventually(t, 60*time.Second, func() bool {
		leader = c.LeaderURL()
		return leader != old
	}, "a new leader")
	elected := time.Since(killed)
	testcluster.Eventually(t, 60*time.Second, func() bool {
		st := c.State()
		if st.ActivatedAgents != 2 || len(st.Frameworks) != 1 {
			return false
		}
		fw := st.Frameworks[0]
		if fw.ID != fid || !fw.Connected || len(fw.Tasks) != 2 {
			return false
		}
		for _, tk := range fw.Tasks {
			if tk.State != string(mesos.TaskRunning) {
				return false
			}
		}
		return true
	}, "agents and framework with the new leader, both tasks running")
	t.Logf("leader killed → new leader %v; → agents and framework back %v", elected, time.Since(killed))

	f.launch(shellTask("c", "sleep 600", 0.1, 32))
	f.waitState("c", 30*time.Second, mesos.TaskRunning)
	if err := f.client.Kill(t.Context(), "a", ""); err != nil {
		t.Fatal(err)
	}
	f.waitState("a", 30*time.Second, mesos.TaskKilled)
	for _, id := range []string{"a", "b", "c"} {
		if d, total := countTerminal(f.history(id)); total > 1 || d > 1 {
			t.Errorf("task %s: %d terminal updates (%v); want at most one", id, total, statesOf(f.history(id)))
		}
	}

	// The killed master returns as a standby naming the leader.
	c.Masters[oi].Start()
	testcluster.Eventually(t, 60*time.Second, func() bool {
		h, ok := health(old)
		return ok && !h.Leader && h.LeaderURL == leader
	}, "the restarted master standing by for %s", leader)
}

// ZooKeeper goes away: the leader stops leading before its session can
// expire (nobody leads without ZooKeeper for longer), tasks keep running; when ZooKeeper returns a leader
// is elected again without anyone stepping in, and agents and the
// framework come back to it.
func TestMastersRideOutZooKeeperOutage(t *testing.T) {
	zk := testzk.Start(t, 1)
	c := testcluster.Start(t, testcluster.Options{Agents: 1, Masters: 2, ZK: zk.URL("/corral")})
	f := startFramework(t, c.MasterFlag, plainInfo("zk-outage"))
	f.launch(shellTask("a", "sleep 600", 0.1, 32))
	f.waitState("a", 30*time.Second, mesos.TaskRunning)
	fid := f.client.FrameworkID()

	zk.Kill(0)
	testcluster.Eventually(t, 30*time.Second, func() bool {
		for _, u := range c.MasterURLs {
			if h, ok := health(u); ok && h.Leader {
				return false
			}
		}
		return true
	}, "no master leading while ZooKeeper is down")

	zk.Start(0)
	testcluster.Eventually(t, 60*time.Second, func() bool {
		st := c.State()
		if st.ActivatedAgents != 1 || len(st.Frameworks) != 1 {
			return false
		}
		fw := st.Frameworks[0]
		return fw.ID == fid && fw.Connected && len(fw.Tasks) == 1 && fw.Tasks[0].State == string(mesos.TaskRunning)
	}, "a leader again, with the agent, the framework and its running task")
	if _, total := countTerminal(f.history("a")); total != 0 {
		t.Errorf("task a got a terminal update (%v); it never stopped running", statesOf(f.history("a")))
	}
}
