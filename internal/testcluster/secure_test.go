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
}
