package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"corral/internal/dockertest"
	"corral/internal/testcluster"
)

// sandboxFile returns the content of a file in a run's sandbox, read
// through its agent's /files/read (the run's sandbox link names the
// agent and the sandbox's path).
func sandboxFile(t *testing.T, r run, name string) string {
	t.Helper()
	u, err := url.Parse(r.Sandbox)
	if err != nil || r.Sandbox == "" {
		t.Fatalf("run %d has no sandbox link: %q", r.ID, r.Sandbox)
	}
	q := url.Values{"path": {u.Query().Get("path") + "/" + name}, "offset": {"0"}}
	resp, err := http.Get(u.Scheme + "://" + u.Host + "/files/read?" + q.Encode())
	if err != nil {
		t.Fatalf("reading %s of run %d: %v", name, r.ID, err)
	}
	defer resp.Body.Close()
	var read struct {
		Data string `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&read); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("reading %s of run %d: %s %v", name, r.ID, resp.Status, err)
	}
	return read.Data
}

// TestDockerJobs: Chronos jobs with a container of the test image run on
// an agent with the docker containerizer: a command that succeeds in the
// image (not on the host: the image has no /etc/debian_version) and
// writes to $MESOS_SANDBOX, where the sandbox is mounted, ends
// SUCCEEDED; one that exits 3 ends FAILED; a job fetching an executable
// script from an HTTP server runs it in the image. A job's uris are
// fetched into the sandbox of a plain (container-less) run too.
func TestDockerJobs(t *testing.T) {
	cli := dockertest.Engine(t)
	c := testcluster.Start(t, testcluster.Options{Agents: 1, AgentArgs: []string{"--containerizers", "docker,mesos"},
		Resources: func(int) string { return "cpus:4;mem:4096;disk:10000;ports:[31000-31099]" }})
	f := c.StartFramework("jobs")
	a := api{t: t, url: f.URL}
	fwID := c.FrameworkIDByName("jobs")
	t.Cleanup(func() {
		list, err := cli.ContainerList(context.Background(), container.ListOptions{All: true,
			Filters: filters.NewArgs(filters.Arg("label", "corral.framework="+fwID))})
		if err != nil {
			return
		}
		for _, ctr := range list {
			_ = cli.ContainerRemove(context.Background(), ctr.ID, container.RemoveOptions{Force: true})
		}
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/tool.sh" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, "#!/bin/sh\necho \"fetched $1\" > \"${MESOS_SANDBOX:-.}/fetched\"\n")
	}))
	t.Cleanup(srv.Close)

	const later = "R1/2030-01-01T00:00:00.000Z/PT1H"
	boxed := map[string]any{"type": "DOCKER", "image": dockertest.Image}
	jobs := []map[string]any{
		{"name": "boxed", "command": `test ! -e /etc/debian_version && echo "in $MESOS_SANDBOX" > "$MESOS_SANDBOX/out"`,
			"schedule": later, "cpus": 0.05, "mem": 32, "retries": 0, "container": boxed},
		{"name": "boxed-fails", "command": "exit 3", "schedule": later, "cpus": 0.05, "mem": 32, "retries": 0, "container": boxed},
		{"name": "boxed-fetch", "command": `"$MESOS_SANDBOX/tool.sh" boxed`, "schedule": later, "cpus": 0.05, "mem": 32, "retries": 0,
			"container": boxed, "fetch": []any{map[string]any{"uri": srv.URL + "/tool.sh", "executable": true}}},
		{"name": "plain-uris", "command": "sh tool.sh plain", "schedule": later, "cpus": 0.05, "mem": 32, "retries": 0,
			"uris": []string{srv.URL + "/tool.sh"}},
	}
	for _, j := range jobs {
		a.must("POST", "/v1/scheduler/iso8601", j, 204)
		a.must("PUT", "/v1/scheduler/job/"+j["name"].(string), nil, 204)
	}
	want := map[string]string{"boxed": "SUCCEEDED", "boxed-fails": "FAILED", "boxed-fetch": "SUCCEEDED", "plain-uris": "SUCCEEDED"}
	ended := map[string]run{}
	for name, state := range want {
		rs := waitRuns(t, a, name, 120*time.Second, func(rs []run) bool { return len(rs) == 1 && active(rs) == 0 })
		if rs[0].State != state {
			t.Errorf("run of %s ended %s (%s); want %s", name, rs[0].State, rs[0].Reason, state)
		}
		ended[name] = rs[0]
	}
	if t.Failed() {
		return
	}
	if got := sandboxFile(t, ended["boxed"], "out"); got != "in /mnt/mesos/sandbox\n" {
		t.Errorf("boxed's sandbox file out = %q; want the container's view of its sandbox", got)
	}
	if got := sandboxFile(t, ended["boxed-fetch"], "fetched"); got != "fetched boxed\n" {
		t.Errorf("boxed-fetch's sandbox file fetched = %q; want the fetched script's output", got)
	}
	if got := sandboxFile(t, ended["plain-uris"], "fetched"); got != "fetched plain\n" {
		t.Errorf("plain-uris's sandbox file fetched = %q; want the fetched script's output", got)
	}
	if r := ended["boxed-fails"]; !strings.Contains(r.Reason, "3") {
		t.Errorf("boxed-fails reason = %q; want it to carry the exit status 3", r.Reason)
	}

	// The job's container reads back from both APIs.
	var view map[string]any
	if err := json.Unmarshal(a.must("GET", "/v1/scheduler/job/boxed", nil, 200), &view); err != nil {
		t.Fatal(err)
	}
	if ctr, _ := view["container"].(map[string]any); ctr["image"] != dockertest.Image || ctr["type"] != "DOCKER" {
		t.Errorf("GET /v1/scheduler/job/boxed container = %v; want the test image as DOCKER", view["container"])
	}
}
