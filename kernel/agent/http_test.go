package agent

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"corral/kernel/agent/checkpoint"
	"corral/kernel/agent/files"
)

// TestDebugEndpoints: the profiler and expvars are served only with
// Config.EnableDebug.
func TestDebugEndpoints(t *testing.T) {
	for _, tt := range []struct {
		name   string
		enable bool
		want   int
	}{
		{"default", false, http.StatusNotFound},
		{"enabled", true, http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, "http://127.0.0.1:1")
			cfg.EnableDebug = tt.enable
			a, err := New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(a.runner.Close)
			srv := httptest.NewServer(a.routes())
			t.Cleanup(srv.Close)
			for _, p := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/goroutine?debug=1", "/debug/vars"} {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+p, nil)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.want {
					t.Errorf("GET %s with EnableDebug=%v = %d; want %d", p, tt.enable, resp.StatusCode, tt.want)
				}
			}
		})
	}
}

// TestSandboxDepth: the files server confines paths to the sandbox they
// name, so its idea of where a sandbox lies must match the checkpoint's.
func TestSandboxDepth(t *testing.T) {
	st, err := checkpoint.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(st.SandboxRoot(), st.SandboxDir("fw", "task"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Split(rel, string(filepath.Separator))); n != files.SandboxDepth {
		t.Errorf("sandboxes lie %d levels below the root (%s); files.SandboxDepth = %d", n, rel, files.SandboxDepth)
	}
}
