package agent

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corral/kernel/mesos"
)

// artifactServer serves a tarball holding an executable script and a
// bare script, counting nothing: the fetcher's own tests cover the cache.
func artifactServer(t *testing.T) *httptest.Server {
	t.Helper()
	var buf bytes.Buffer
	z := gzip.NewWriter(&buf)
	tw := tar.NewWriter(z)
	script := "#!/bin/sh\necho from-archive\n"
	tw.WriteHeader(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "bin/hello.sh", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(script))})
	tw.Write([]byte(script))
	tw.Close()
	z.Close()
	files := map[string][]byte{
		"/app.tgz": buf.Bytes(),
		"/tool":    []byte("#!/bin/sh\necho from-tool\n"),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTaskRunsFetchedArtifacts(t *testing.T) {
	art := artifactServer(t)
	m := newFakeMaster(t)
	cfg := testConfig(t, m.srv.URL)
	startAgent(t, cfg)
	m.waitRegister(t)

	yes := true
	ti := cmdTask("fetched", "./bin/hello.sh > out && ./tool >> out")
	ti.Command.URIs = []mesos.CommandURI{
		{Value: art.URL + "/app.tgz"},
		{Value: art.URL + "/tool", Executable: &yes, Cache: &yes},
	}
	m.event(launch("fw-fetch", ti))
	m.waitState(t, "fetched", mesos.TaskFinished, 20*time.Second)
	b, err := os.ReadFile(filepath.Join(sandboxOfTask(cfg, "fw-fetch", "fetched"), "out"))
	if err != nil || string(b) != "from-archive\nfrom-tool\n" {
		t.Errorf("task output = %q, %v; want both fetched scripts' lines", b, err)
	}
}

func TestFailedFetchFailsTask(t *testing.T) {
	art := artifactServer(t)
	m := newFakeMaster(t)
	cfg := testConfig(t, m.srv.URL)
	startAgent(t, cfg)
	m.waitRegister(t)

	missing := art.URL + "/missing.tgz"
	ti := cmdTask("nofetch", "echo ran > ran")
	ti.Command.URIs = []mesos.CommandURI{{Value: missing}}
	m.event(launch("fw-fetch", ti))
	u := m.waitState(t, "nofetch", mesos.TaskFailed, 20*time.Second)
	st := u.Status
	if st.Reason != mesos.ReasonContainerLaunchFailed || st.Source != mesos.SourceAgent ||
		!strings.Contains(st.Message, missing) || !strings.Contains(st.Message, "404") {
		t.Errorf("status = %s %s %q; want REASON_CONTAINER_LAUNCH_FAILED from the agent naming %s and the 404", st.Reason, st.Source, st.Message, missing)
	}
	if _, err := os.Stat(filepath.Join(sandboxOfTask(cfg, "fw-fetch", "nofetch"), "ran")); err == nil {
		t.Errorf("the command ran although its fetch failed")
	}
}
