package files

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

func setup(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "sandboxes")
	sb := filepath.Join(root, "fw", "t1")
	os.MkdirAll(sb, 0o755)
	os.WriteFile(filepath.Join(sb, "stdout"), []byte("hello world\n"), 0o644)
	os.WriteFile(filepath.Join(base, "secret"), []byte("s3cret"), 0o644)
	os.Symlink(filepath.Join(base, "secret"), filepath.Join(sb, "evil"))
	os.Symlink("stdout", filepath.Join(sb, "good"))
	s, err := New(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Routes())
	t.Cleanup(srv.Close)
	return srv, root
}

func get(t *testing.T, srv *httptest.Server, path string, q url.Values) (int, []byte) {
	t.Helper()
	resp, err := http.Get(srv.URL + path + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestBrowse(t *testing.T) {
	srv, root := setup(t)
	code, body := get(t, srv, "/files/browse", url.Values{"path": {filepath.Join(root, "fw", "t1")}})
	if code != 200 {
		t.Fatalf("browse = %d %s", code, body)
	}
	var ents []Entry
	if err := json.Unmarshal(body, &ents); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range ents {
		if e.Path == filepath.Join(root, "fw", "t1", "stdout") {
			found = true
			if e.Size != 12 || e.Mode != "-rw-r--r--" || e.Nlink != 1 || e.UID == "" || e.Mtime == 0 {
				t.Errorf("entry = %+v", e)
			}
		}
	}
	if !found || len(ents) != 3 {
		t.Errorf("browse listed %+v; want stdout, evil, good", ents)
	}
	// Relative paths work too.
	if code, _ := get(t, srv, "/files/browse", url.Values{"path": {"fw"}}); code != 200 {
		t.Errorf("browse relative = %d", code)
	}
}

func TestRead(t *testing.T) {
	srv, root := setup(t)
	p := filepath.Join(root, "fw", "t1", "stdout")
	tests := []struct {
		name   string
		q      url.Values
		code   int
		data   string
		offset int64
	}{
		{"length query", url.Values{"path": {p}, "offset": {"-1"}}, 200, "", 12},
		{"default offset is length", url.Values{"path": {p}}, 200, "", 12},
		{"whole", url.Values{"path": {p}, "offset": {"0"}}, 200, "hello world\n", 0},
		{"slice", url.Values{"path": {p}, "offset": {"6"}, "length": {"5"}}, 200, "world", 6},
		{"past end", url.Values{"path": {p}, "offset": {"100"}}, 200, "", 12},
		{"symlink inside", url.Values{"path": {"fw/t1/good"}, "offset": {"0"}, "length": {"5"}}, 200, "hello", 0},
		{"bad offset", url.Values{"path": {p}, "offset": {"x"}}, 400, "", 0},
		{"negative length", url.Values{"path": {p}, "offset": {"0"}, "length": {"-2"}}, 400, "", 0},
		{"directory", url.Values{"path": {"fw"}, "offset": {"0"}}, 400, "", 0},
		{"missing path", url.Values{}, 400, "", 0},
		{"not found", url.Values{"path": {"fw/t1/nope"}, "offset": {"0"}}, 404, "", 0},
		{"dotdot escape", url.Values{"path": {"fw/../../secret"}, "offset": {"0"}}, 403, "", 0},
		{"absolute outside", url.Values{"path": {filepath.Join(filepath.Dir(root), "secret")}, "offset": {"0"}}, 403, "", 0},
		{"symlink outside", url.Values{"path": {"fw/t1/evil"}, "offset": {"0"}}, 403, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := get(t, srv, "/files/read", tt.q)
			if code != tt.code {
				t.Fatalf("read(%v) = %d %s; want %d", tt.q, code, body, tt.code)
			}
			if code != 200 {
				return
			}
			var res ReadResult
			if err := json.Unmarshal(body, &res); err != nil {
				t.Fatal(err)
			}
			if res.Data != tt.data || res.Offset != tt.offset {
				t.Errorf("read(%v) = %+v; want data %q offset %d", tt.q, res, tt.data, tt.offset)
			}
		})
	}
}

func TestDownload(t *testing.T) {
	srv, _ := setup(t)
	code, body := get(t, srv, "/files/download", url.Values{"path": {"fw/t1/stdout"}})
	if code != 200 || string(body) != "hello world\n" {
		t.Errorf("download = %d %q", code, body)
	}
	if code, _ := get(t, srv, "/files/download", url.Values{"path": {"fw/t1/evil"}}); code != 403 {
		t.Errorf("download via outside symlink = %d; want 403", code)
	}
	if code, _ := get(t, srv, "/files/browse", url.Values{"path": {"../"}}); code != 403 {
		t.Errorf("browse ../ = %d; want 403", code)
	}
}
