package testcluster

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

// TestSecureCluster starts a secured cluster and checks it is what
// Options.Secure promises: every URL https, callers without credentials
// refused, plain HTTP refused, the agent and both frameworks registered
// under their own principals, and Cluster.HTTP reading the master as the
// operator.
func TestSecureCluster(t *testing.T) {
	c := Start(t, Options{Agents: 1, Secure: true})
	services := c.StartFramework("services")
	jobs := c.StartFramework("jobs")

	for name, u := range map[string]string{"master": c.URL, "agent": c.Agents[0].URL, "services": services.URL, "jobs": jobs.URL} {
		if !strings.HasPrefix(u, "https://") {
			t.Errorf("%s URL = %q; want https", name, u)
		}
	}
	for name, u := range map[string]string{"master": c.URL + "/state", "services": services.URL + "/v2/apps", "jobs": jobs.URL + "/v1/scheduler/jobs"} {
		resp, err := c.Client("").Get(u)
		if err != nil {
			t.Fatalf("%s without credentials: %v", name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials = %s; want 401", u, resp.Status)
		}
		plain := "http://" + strings.TrimPrefix(u, "https://")
		if resp, err := http.Get(plain); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Errorf("GET %s over plain HTTP = %s; want refused", plain, resp.Status)
			}
		}
	}
	resp, err := c.HTTP.Get(services.URL + "/v2/apps")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v2/apps as ops = %s; want 200", resp.Status)
	}

	if st := c.State(); len(st.Agents) != 1 || st.Agents[0].Endpoint != c.Agents[0].URL {
		t.Errorf("/state agents = %+v; want the one agent at %s", st.Agents, c.Agents[0].URL)
	}
	Eventually(t, 60*time.Second, func() bool {
		got := map[string]bool{}
		for _, f := range c.State().Frameworks {
			if f.Active {
				got[f.Principal] = true
			}
		}
		return got["services"] && got["jobs"]
	}, "active frameworks with principals services and jobs in /state")
	if cpu := c.Master.CPUTime(); cpu <= 0 {
		t.Errorf("master CPUTime = %v after serving; want > 0", cpu)
	}
}

func TestParseCPUTime(t *testing.T) {
	for _, c := range []struct {
		name, stat string
		want       time.Duration
	}{
		{"plain", "4242 (corral) S 1 4242 4242 0 -1 4194560 1 0 0 0 150 25 0 0 20 0 9 0 100 1 1", 1750 * time.Millisecond},
		{"spaces and parentheses in the name", "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 3 4 9 9 20 0 1 0 1 1 1", 70 * time.Millisecond},
		{"short", "7 (x) R 1 2 3", 0},
		{"no name", "garbage", 0},
		{"not a number", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 u 4 0 0", 0},
	} {
		if got := parseCPUTime(c.stat); got != c.want {
			t.Errorf("%s: parseCPUTime(%q) = %v; want %v", c.name, c.stat, got, c.want)
		}
	}
	st, ok := parseProcStat("7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 3 4 9 8 20 0 1 0 1 1 1")
	if want := (ProcStat{PPID: 1, CPU: 70 * time.Millisecond, Children: 170 * time.Millisecond}); !ok || st != want {
		t.Errorf("parseProcStat = %+v, %v; want %+v", st, ok, want)
	}
}
