package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"corral/internal/testcluster"
	"corral/kernel/mesos"
)

func roleInfo(name, role string) mesos.FrameworkInfo {
	info := plainInfo(name)
	info.Roles = []string{role}
	info.Capabilities = append(info.Capabilities, mesos.Capability{Type: mesos.CapMultiRole})
	return info
}

// TestQuotaBetweenFrameworks: on an agent of 6 cpus, role dev has a limit
// of 1 cpu and role prod a guarantee of 2. dev, which wants 3 cpus, runs
// only 1; a framework without quota that wants 5 gets 3, the 2 cpus of
// prod's unmet guarantee being held back; prod then gets its 2 although
// it came last.
func TestQuotaBetweenFrameworks(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Agents: 1, Resources: func(int) string { return "cpus:6;mem:8192;disk:1000;ports:[31000-31099]" }})
	if code := operator(t, c, `{"type":"UPDATE_QUOTA","update_quota":{"quota_configs":[`+
		`{"role":"dev","limits":{"cpus":{"value":1}}},{"role":"prod","guarantees":{"cpus":{"value":2}}}]}}`); code != http.StatusOK {
		t.Fatalf("UPDATE_QUOTA = %d", code)
	}
	start := func(name, role string, tasks int) *framework {
		f := startFramework(t, c.URL, roleInfo(name, role))
		f.mu.Lock()
		f.fit = true
		f.mu.Unlock()
		for i := range tasks {
			f.launch(shellTask(fmt.Sprintf("%s-%d", name, i), "sleep 600", 0.5, 32))
		}
		return f
	}
	settle := func(what string, f *framework, want int) {
		t.Helper()
		testcluster.Eventually(t, 30*time.Second, func() bool { return f.running() >= want }, "%s: %d tasks running", what, want)
		// Offers go round every allocation interval: more would come now.
		time.Sleep(time.Second)
		if got := f.running(); got != want {
			t.Errorf("%s: %d tasks of 0.5 cpus running; want %d", what, got, want)
		}
	}
	dev := start("dev", "dev", 6)
	settle("dev (limit 1 cpu)", dev, 2)
	other := start("other", "*", 10)
	settle("a framework without quota (prod's guarantee held back)", other, 6)
	prod := start("prod", "prod", 4)
	settle("prod (guarantee 2 cpus)", prod, 4)
	if got := dev.running(); got != 2 {
		t.Errorf("dev runs %d tasks at the end; want 2", got)
	}
}
